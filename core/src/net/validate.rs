//! Every range and text rule of the options, written once: `connect` and
//! `listen` call [`ClientConfig::validate`] and [`ServerConfig::validate`],
//! and the bindings report what they return instead of checking themselves.
//!
//! Each error is an [`ErrorKind::InvalidArgument`] whose message names the
//! option by its path in the configuration (`keepalive.interval`,
//! `backpressure.low_water`, `reconnect.factor`, ...).

use std::path::Path;
use std::time::Duration;

use super::config::{
    Backpressure, Balance, ClientConfig, InboxLimits, Keepalive, MAX_SERVER_LOOPS, ServerConfig,
};
use super::error::{Error, ErrorKind};
use super::reconnect::ReconnectPolicy;
use crate::proto;
use crate::proto::DeflateConfig;
use crate::proto::engine::EngineConfig;
use crate::proto::handshake::{Limits, check_header, is_safe_value, is_token};

fn invalid(message: String) -> Result<(), Error> {
    Err(Error::new(ErrorKind::InvalidArgument, message))
}

/// A duration that must be more than zero.
fn positive_duration(name: &str, value: Duration) -> Result<(), Error> {
    match value.is_zero() {
        true => invalid(format!("{name} must be more than 0 ms")),
        false => Ok(()),
    }
}

/// A count or size that must be more than zero.
fn positive(name: &str, value: usize) -> Result<(), Error> {
    match value {
        0 => invalid(format!("{name} must be more than 0")),
        _ => Ok(()),
    }
}

/// Text that goes into a header value: not empty, no control character.
fn header_text(name: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return invalid(format!("{name} must not be empty"));
    }
    if !is_safe_value(value) {
        return invalid(format!(
            "{name} \"{}\" contains CR, LF, NUL or another control character",
            value.escape_debug()
        ));
    }
    Ok(())
}

fn protocol(p: &proto::Config) -> Result<(), Error> {
    positive("protocol.max_message_size", p.max_message_size)?;
    positive("protocol.max_frame_size", p.max_frame_size)
}

fn limits(l: &Limits) -> Result<(), Error> {
    positive("limits.max_header_bytes", l.max_header_bytes)?;
    positive("limits.max_headers", l.max_headers)
}

fn subprotocols(list: &[String]) -> Result<(), Error> {
    match list.iter().find(|p| !is_token(p)) {
        Some(bad) => invalid(format!(
            "subprotocols: \"{}\" is not an HTTP token",
            bad.escape_debug()
        )),
        None => Ok(()),
    }
}

/// Extra headers of a request or response: names HTTP tokens, values free of
/// control characters. `option` names where they were given.
fn headers(option: &str, list: &[(String, String)]) -> Result<(), Error> {
    for (name, value) in list {
        check_header(name, value)
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("{option}: {e}")))?;
    }
    Ok(())
}

fn keepalive(k: &Option<Keepalive>) -> Result<(), Error> {
    match k {
        Some(k) => {
            positive_duration("keepalive.interval", k.interval)?;
            positive_duration("keepalive.timeout", k.timeout)
        }
        None => Ok(()),
    }
}

fn idle_timeout(t: Option<Duration>) -> Result<(), Error> {
    t.map_or(Ok(()), |t| positive_duration("idle_timeout", t))
}

fn backpressure(b: &Backpressure) -> Result<(), Error> {
    positive("backpressure.high_water", b.high_water)?;
    if b.low_water > b.high_water {
        return invalid(format!(
            "backpressure.low_water ({}) must not exceed backpressure.high_water ({})",
            b.low_water, b.high_water
        ));
    }
    Ok(())
}

fn inbox(i: &Option<InboxLimits>, p: &proto::Config) -> Result<(), Error> {
    let Some(i) = i else { return Ok(()) };
    positive("inbox.high_messages", i.high_messages)?;
    positive("inbox.high_bytes", i.high_bytes)?;
    if i.low_messages >= i.high_messages || i.low_bytes >= i.high_bytes {
        return invalid(format!(
            "inbox low marks ({} messages, {} bytes) must be below the high marks ({}, {})",
            i.low_messages, i.low_bytes, i.high_messages, i.high_bytes
        ));
    }
    if p.streaming {
        return invalid(
            "inbox (pull mode) takes whole messages: it cannot be combined with protocol.streaming"
                .to_owned(),
        );
    }
    Ok(())
}

fn compression(c: &Option<DeflateConfig>) -> Result<(), Error> {
    match c.as_ref().map(DeflateConfig::check) {
        Some(Err(e)) => invalid(format!("compression: {e}")),
        _ => Ok(()),
    }
}

/// A Unix domain socket path: not empty, on a system that has them.
fn unix_socket_path(path: Option<&Path>) -> Result<(), Error> {
    match path {
        Some(_) if !cfg!(unix) => invalid(
            "unix_socket_path: Unix domain sockets are not supported on this platform".to_owned(),
        ),
        Some(path) if path.as_os_str().is_empty() => {
            invalid("unix_socket_path must not be empty".to_owned())
        }
        _ => Ok(()),
    }
}

impl ReconnectPolicy {
    /// Checks the policy: `factor` a finite number of at least 1,
    /// `initial_delay` at most `max_delay`, `retry_codes` close codes.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return invalid(format!(
                "reconnect.factor must be a finite number of at least 1, not {}",
                self.factor
            ));
        }
        if self.initial_delay > self.max_delay {
            return invalid(format!(
                "reconnect.initial_delay ({} ms) must not exceed reconnect.max_delay ({} ms)",
                self.initial_delay.as_millis(),
                self.max_delay.as_millis()
            ));
        }
        ReconnectPolicy::check_retry_codes(&self.retry_codes)
    }
}

impl ClientConfig {
    /// Checks every option; [`super::LoopHandle::connect`] calls it and
    /// returns its error. The first broken rule is reported, naming the option.
    pub fn validate(&self) -> Result<(), Error> {
        protocol(&self.protocol)?;
        limits(&self.limits)?;
        subprotocols(&self.subprotocols)?;
        headers("headers", &self.headers)?;
        if let Some(origin) = &self.origin {
            header_text("origin", origin)?;
        }
        positive_duration("connect_timeout", self.connect_timeout)?;
        positive_duration("handshake_timeout", self.handshake_timeout)?;
        positive_duration("close_timeout", self.close_timeout)?;
        keepalive(&self.keepalive)?;
        idle_timeout(self.idle_timeout)?;
        backpressure(&self.backpressure)?;
        inbox(&self.inbox, &self.protocol)?;
        compression(&self.compression)?;
        if self
            .compression
            .as_ref()
            .is_some_and(|c| c.shared_compressor)
        {
            return invalid(
                "compression.shared_compressor is a server setting: a client compresses for its own connection"
                    .to_owned(),
            );
        }
        unix_socket_path(self.unix_socket_path.as_deref())?;
        if self.unix_socket_path.is_some() && self.proxy.is_some() {
            return invalid(
                "proxy cannot be combined with unix_socket_path: the socket is reached directly"
                    .to_owned(),
            );
        }
        self.reconnect
            .as_ref()
            .map_or(Ok(()), ReconnectPolicy::validate)
    }
}

impl EngineConfig {
    /// Checks the options of a sans-I/O engine by the rules `connect` and
    /// `listen` apply to the same settings (a binding that builds an engine
    /// configuration itself calls it). The first broken rule is reported.
    pub fn validate(&self) -> Result<(), Error> {
        let ms = |name: &str, t: u64| positive_duration(name, Duration::from_millis(t));
        protocol(&self.protocol)?;
        limits(&self.limits)?;
        subprotocols(&self.subprotocols)?;
        headers("headers", &self.headers)?;
        if let Some(origin) = &self.origin {
            header_text("origin", origin)?;
        }
        for origin in self.origins.iter().flatten() {
            header_text("origins", origin)?;
        }
        if let Some(t) = self.handshake_timeout_ms {
            ms("handshake_timeout", t)?;
        }
        ms("close_timeout", self.close_timeout_ms)?;
        if let Some((interval, timeout)) = self.keepalive_ms {
            ms("keepalive.interval", interval)?;
            ms("keepalive.timeout", timeout)?;
        }
        compression(&self.compression)
    }
}

impl ServerConfig {
    /// Checks every option; [`super::LoopHandle::listen`] calls it and
    /// returns its error. The first broken rule is reported, naming the option.
    pub fn validate(&self) -> Result<(), Error> {
        if self.host.is_empty() {
            return invalid("host must not be empty".to_owned());
        }
        protocol(&self.protocol)?;
        limits(&self.limits)?;
        subprotocols(&self.subprotocols)?;
        for origin in self.origins.iter().flatten() {
            header_text("origins", origin)?;
        }
        positive("max_connections", self.max_connections)?;
        positive("max_pending_handshakes", self.max_pending_handshakes)?;
        positive_duration("handshake_timeout", self.handshake_timeout)?;
        positive_duration("close_timeout", self.close_timeout)?;
        keepalive(&self.keepalive)?;
        idle_timeout(self.idle_timeout)?;
        backpressure(&self.backpressure)?;
        inbox(&self.inbox, &self.protocol)?;
        compression(&self.compression)?;
        unix_socket_path(self.unix_socket_path.as_deref())?;
        reuse_port(self)?;
        loops(self)
    }
}

/// The loop count and how connections reach the loops.
fn loops(config: &ServerConfig) -> Result<(), Error> {
    if config.loops == 0 {
        invalid("loops must be at least 1 (the loop the server is created on)".to_owned())
    } else if config.loops > MAX_SERVER_LOOPS {
        invalid(format!(
            "loops must be at most {MAX_SERVER_LOOPS} (got {})",
            config.loops
        ))
    } else if config.balance != Balance::Kernel {
        Ok(())
    } else if !super::reuse_port::BALANCES {
        invalid("balance Kernel: SO_REUSEPORT does not balance connections on this platform (use RoundRobin)".to_owned())
    } else if config.unix_socket_path.is_some() {
        invalid(
            "balance Kernel applies to TCP ports, not to unix_socket_path (use RoundRobin)"
                .to_owned(),
        )
    } else {
        Ok(())
    }
}

/// `SO_REUSEPORT`: a TCP option, on a system that has it.
fn reuse_port(config: &ServerConfig) -> Result<(), Error> {
    if !config.reuse_port {
        Ok(())
    } else if !super::reuse_port::SUPPORTED {
        invalid("reuse_port: SO_REUSEPORT is not supported on this platform".to_owned())
    } else if config.unix_socket_path.is_some() {
        invalid("reuse_port applies to TCP ports, not to unix_socket_path".to_owned())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that `result` is an invalid-argument error saying `words`.
    fn expect_refused(result: Result<(), Error>, words: &str) {
        let error = result.expect_err(words);
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{words}");
        assert!(error.message().contains(words), "{error} lacks {words:?}");
    }

    /// Every rule of the client, each bound: a change to the defaults and the
    /// words the error must contain.
    #[test]
    fn each_client_rule_names_its_option() {
        type Edit = fn(&mut ClientConfig);
        let cases: &[(Edit, &str)] = &[
            (
                |c| c.protocol.max_message_size = 0,
                "protocol.max_message_size must be more than 0",
            ),
            (
                |c| c.protocol.max_frame_size = 0,
                "protocol.max_frame_size must be more than 0",
            ),
            (
                |c| c.limits.max_header_bytes = 0,
                "limits.max_header_bytes must be more than 0",
            ),
            (
                |c| c.limits.max_headers = 0,
                "limits.max_headers must be more than 0",
            ),
            (
                |c| c.subprotocols = vec!["chat".into(), "a b".into()],
                "subprotocols: \"a b\" is not an HTTP token",
            ),
            (
                |c| {
                    c.inbox = Some(InboxLimits {
                        high_messages: 0,
                        ..InboxLimits::default()
                    })
                },
                "inbox.high_messages must be more than 0",
            ),
            (
                |c| {
                    c.inbox = Some(InboxLimits {
                        low_messages: 16,
                        ..InboxLimits::default()
                    })
                },
                "inbox low marks (16 messages, 8388608 bytes) must be below the high marks (16, 33554432)",
            ),
            (
                |c| {
                    c.inbox = Some(InboxLimits::default());
                    c.protocol.streaming = true;
                },
                "cannot be combined with protocol.streaming",
            ),
            (
                |c| c.subprotocols = vec![String::new()],
                "subprotocols: \"\" is not an HTTP token",
            ),
            (
                |c| c.headers = vec![("X Bad".into(), "1".into())],
                "headers: header name \"X Bad\" is not an HTTP token",
            ),
            (
                |c| c.headers = vec![(String::new(), "1".into())],
                "headers: header name \"\" is not an HTTP token",
            ),
            (
                |c| c.headers = vec![("X-A".into(), "1\r\nX-B: 2".into())],
                "headers: the value of header \"X-A\" contains CR, LF, NUL",
            ),
            (
                |c| c.headers = vec![("X-A".into(), "nul\0".into())],
                "headers: the value of header \"X-A\" contains",
            ),
            (
                |c| c.origin = Some(String::new()),
                "origin must not be empty",
            ),
            (
                |c| c.origin = Some("https://a\n".into()),
                "origin \"https://a\\n\" contains CR, LF",
            ),
            (
                |c| c.connect_timeout = Duration::ZERO,
                "connect_timeout must be more than 0 ms",
            ),
            (
                |c| c.handshake_timeout = Duration::ZERO,
                "handshake_timeout must be more than 0 ms",
            ),
            (
                |c| c.close_timeout = Duration::ZERO,
                "close_timeout must be more than 0 ms",
            ),
            (
                |c| c.keepalive.as_mut().unwrap().interval = Duration::ZERO,
                "keepalive.interval must be more than 0 ms",
            ),
            (
                |c| c.keepalive.as_mut().unwrap().timeout = Duration::ZERO,
                "keepalive.timeout must be more than 0 ms",
            ),
            (
                |c| c.idle_timeout = Some(Duration::ZERO),
                "idle_timeout must be more than 0 ms",
            ),
            (
                |c| c.backpressure.high_water = 0,
                "backpressure.high_water must be more than 0",
            ),
            (
                |c| {
                    c.backpressure = Backpressure {
                        high_water: 10,
                        low_water: 11,
                    }
                },
                "backpressure.low_water (11) must not exceed backpressure.high_water (10)",
            ),
            (
                |c| c.compression.as_mut().unwrap().client_max_window_bits = 7,
                "compression: client_max_window_bits must be 8 to 15, not 7",
            ),
            (
                |c| c.compression.as_mut().unwrap().server_max_window_bits = 16,
                "compression: server_max_window_bits must be 8 to 15, not 16",
            ),
            (
                |c| c.compression.as_mut().unwrap().level = 10,
                "compression: compression level must be 0 to 9, not 10",
            ),
            (
                |c| c.compression.as_mut().unwrap().shared_compressor = true,
                "compression.shared_compressor is a server setting",
            ),
            (
                |c| {
                    c.reconnect = Some(ReconnectPolicy {
                        factor: f64::NAN,
                        ..Default::default()
                    })
                },
                "reconnect.factor must be a finite number of at least 1, not NaN",
            ),
            (
                |c| {
                    c.reconnect = Some(ReconnectPolicy {
                        factor: f64::INFINITY,
                        ..Default::default()
                    })
                },
                "reconnect.factor must be a finite number of at least 1, not inf",
            ),
            (
                |c| {
                    c.reconnect = Some(ReconnectPolicy {
                        factor: 0.99,
                        ..Default::default()
                    })
                },
                "reconnect.factor must be a finite number of at least 1, not 0.99",
            ),
            (
                |c| {
                    c.reconnect = Some(ReconnectPolicy {
                        initial_delay: Duration::from_millis(2001),
                        max_delay: Duration::from_millis(2000),
                        ..Default::default()
                    })
                },
                "reconnect.initial_delay (2001 ms) must not exceed reconnect.max_delay (2000 ms)",
            ),
        ];
        for (edit, words) in cases {
            let mut config = ClientConfig::default();
            edit(&mut config);
            expect_refused(config.validate(), words);
        }
    }

    /// The bounds themselves pass: the smallest valid values and the edges.
    #[test]
    fn the_edges_of_each_client_rule_pass() {
        let one_ms = Duration::from_millis(1);
        let config = ClientConfig {
            protocol: proto::Config {
                max_message_size: 1,
                max_frame_size: 1,
                ..Default::default()
            },
            limits: Limits {
                max_header_bytes: 1,
                max_headers: 1,
            },
            subprotocols: vec!["!#$%&'*+-.^_`|~09azAZ".into()],
            headers: vec![("X-A".into(), String::new()), ("X-B".into(), "a\tb".into())],
            origin: Some("https://example.com".into()),
            connect_timeout: one_ms,
            handshake_timeout: one_ms,
            close_timeout: one_ms,
            keepalive: Some(Keepalive {
                interval: one_ms,
                timeout: one_ms,
            }),
            idle_timeout: Some(one_ms),
            backpressure: Backpressure {
                high_water: 1,
                low_water: 1,
            },
            reconnect: Some(ReconnectPolicy {
                factor: 1.0,
                initial_delay: Duration::ZERO,
                max_delay: Duration::ZERO,
                ..Default::default()
            }),
            ..Default::default()
        };
        config.validate().unwrap();
        let off = ClientConfig {
            keepalive: None,
            idle_timeout: None,
            compression: None,
            ..Default::default()
        };
        off.validate().unwrap();
    }

    #[test]
    fn each_server_rule_names_its_option() {
        type Edit = fn(&mut ServerConfig);
        let cases: &[(Edit, &str)] = &[
            (|s| s.host = String::new(), "host must not be empty"),
            (
                |s| s.protocol.max_message_size = 0,
                "protocol.max_message_size must be more than 0",
            ),
            (
                |s| s.limits.max_headers = 0,
                "limits.max_headers must be more than 0",
            ),
            (
                |s| s.subprotocols = vec!["a,b".into()],
                "subprotocols: \"a,b\" is not an HTTP token",
            ),
            (
                |s| s.origins = Some(vec![String::new()]),
                "origins must not be empty",
            ),
            (
                |s| s.origins = Some(vec!["http://a\r\n".into()]),
                "origins \"http://a\\r\\n\" contains CR, LF",
            ),
            (
                |s| s.max_connections = 0,
                "max_connections must be more than 0",
            ),
            (
                |s| s.max_pending_handshakes = 0,
                "max_pending_handshakes must be more than 0",
            ),
            (|s| s.loops = 0, "loops must be at least 1"),
            (|s| s.loops = 257, "loops must be at most 256 (got 257)"),
            (
                |s| s.handshake_timeout = Duration::ZERO,
                "handshake_timeout must be more than 0 ms",
            ),
            (
                |s| s.close_timeout = Duration::ZERO,
                "close_timeout must be more than 0 ms",
            ),
            (
                |s| s.keepalive.as_mut().unwrap().interval = Duration::ZERO,
                "keepalive.interval must be more than 0 ms",
            ),
            (
                |s| s.idle_timeout = Some(Duration::ZERO),
                "idle_timeout must be more than 0 ms",
            ),
            (
                |s| s.backpressure.low_water = s.backpressure.high_water + 1,
                "backpressure.low_water",
            ),
            (
                |s| {
                    s.compression = Some(DeflateConfig {
                        level: 11,
                        ..Default::default()
                    })
                },
                "compression: compression level must be 0 to 9, not 11",
            ),
            (
                |s| {
                    s.compression = Some(DeflateConfig {
                        shared_compressor: true,
                        server_max_window_bits: 8,
                        ..Default::default()
                    })
                },
                "compression: shared_compressor needs server_max_window_bits of 9 or more",
            ),
        ];
        for (edit, words) in cases {
            let mut config = ServerConfig::default();
            edit(&mut config);
            expect_refused(config.validate(), words);
        }
    }

    struct Quiet;
    impl super::super::Handler for Quiet {}
    impl super::super::ServerHandler for Quiet {
        fn on_upgrade(
            &mut self,
            _: &mut super::super::Upgrade<'_>,
        ) -> Result<Box<dyn super::super::Handler>, super::super::Refusal> {
            Ok(Box::new(Quiet))
        }
    }

    /// `connect` and `listen` return the validation error, before any I/O.
    #[test]
    fn connect_and_listen_return_the_validation_error() {
        let event_loop = super::super::EventLoop::new().unwrap();
        let bad_client = ClientConfig {
            close_timeout: Duration::ZERO,
            ..Default::default()
        };
        let error = event_loop
            .handle()
            .connect("ws://127.0.0.1:9/", bad_client, Box::new(Quiet))
            .err()
            .unwrap();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        assert_eq!(error.message(), "close_timeout must be more than 0 ms");
        let bad_server = ServerConfig {
            max_connections: 0,
            ..Default::default()
        };
        let error = event_loop
            .handle()
            .listen(bad_server, Box::new(Quiet))
            .err()
            .unwrap();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        assert_eq!(error.message(), "max_connections must be more than 0");
    }

    /// An engine's options follow the same rules.
    #[test]
    fn each_engine_rule_names_its_option() {
        type Edit = fn(&mut EngineConfig);
        let cases: &[(Edit, &str)] = &[
            (
                |e| e.protocol.max_message_size = 0,
                "protocol.max_message_size must be more than 0",
            ),
            (
                |e| e.limits.max_headers = 0,
                "limits.max_headers must be more than 0",
            ),
            (
                |e| e.subprotocols = vec!["bad proto".into()],
                "subprotocols: \"bad proto\" is not an HTTP token",
            ),
            (
                |e| e.headers = vec![("Bad Name".into(), "v".into())],
                "headers: header name \"Bad Name\" is not an HTTP token",
            ),
            (
                |e| e.origin = Some("https://a\r\nX: 1".into()),
                "origin \"https://a\\r\\nX: 1\" contains CR, LF",
            ),
            (
                |e| e.origins = Some(vec![String::new()]),
                "origins must not be empty",
            ),
            (
                |e| e.handshake_timeout_ms = Some(0),
                "handshake_timeout must be more than 0 ms",
            ),
            (
                |e| e.close_timeout_ms = 0,
                "close_timeout must be more than 0 ms",
            ),
            (
                |e| e.keepalive_ms = Some((0, 1)),
                "keepalive.interval must be more than 0 ms",
            ),
            (
                |e| e.keepalive_ms = Some((1, 0)),
                "keepalive.timeout must be more than 0 ms",
            ),
            (
                |e| {
                    e.compression = Some(DeflateConfig {
                        level: 10,
                        ..Default::default()
                    })
                },
                "compression: compression level must be 0 to 9, not 10",
            ),
        ];
        for (edit, words) in cases {
            let mut config = EngineConfig::default();
            edit(&mut config);
            expect_refused(config.validate(), words);
        }
        let edges = EngineConfig {
            handshake_timeout_ms: None,
            close_timeout_ms: 1,
            keepalive_ms: Some((1, 1)),
            ..Default::default()
        };
        edges.validate().unwrap();
    }

    #[test]
    fn the_defaults_are_valid() {
        EngineConfig::default().validate().unwrap();
        ClientConfig::default().validate().unwrap();
        ServerConfig::default().validate().unwrap();
        ReconnectPolicy::default().validate().unwrap();
    }

    #[test]
    fn a_unix_socket_path_is_checked_where_the_system_has_none() {
        let client = ClientConfig {
            unix_socket_path: Some("/run/app.sock".into()),
            ..Default::default()
        };
        let server = ServerConfig {
            unix_socket_path: Some("/run/app.sock".into()),
            ..Default::default()
        };
        if cfg!(unix) {
            client.validate().unwrap();
            server.validate().unwrap();
        } else {
            expect_refused(client.validate(), "not supported on this platform");
            expect_refused(server.validate(), "not supported on this platform");
        }
        let empty = ServerConfig {
            unix_socket_path: Some("".into()),
            ..Default::default()
        };
        expect_refused(empty.validate(), "unix_socket_path");
    }

    #[test]
    fn reuse_port_is_checked_where_the_system_has_none_and_with_a_unix_socket() {
        let tcp = ServerConfig {
            reuse_port: true,
            ..Default::default()
        };
        if super::super::reuse_port::SUPPORTED {
            tcp.validate().unwrap();
        } else {
            expect_refused(tcp.validate(), "not supported on this platform");
        }
        if cfg!(unix) {
            let unix = ServerConfig {
                unix_socket_path: Some("/run/app.sock".into()),
                ..tcp
            };
            expect_refused(unix.validate(), "reuse_port");
        }
    }
}
