//! The scenarios, written once and run against each kind of peer by the test
//! files. Each one asserts both what the peer reported and what wsx saw.

use serde_json::{Value, json};
use std::thread;
use std::time::Duration;
use wsx_core::net::{
    Backpressure, ClientConfig, ErrorKind, Keepalive, PeerAddr, ServerConfig, TlsClientConfig,
    TlsServerConfig,
};
use wsx_core::proto::MessageKind::{self, Binary, Text};

use crate::certs::{HOST, TestCerts};
use crate::nginx::Nginx;
use crate::payload::{assert_peer_got, assert_wsx_got, generate, hex, send_command};
use crate::peer::{Kind, Peer, header};
use crate::wsx::{Endpoint, Event, Opened, Polled, Reply, Wsx, WsxServer};

/// Sizes exchanged both ways: empty, both edges of the 7-bit, 16-bit and
/// 64-bit length encodings, and 1 MiB.
const SIZES: [(MessageKind, usize); 7] = [
    (Text, 0),
    (Binary, 0),
    (Text, 125),
    (Binary, 126),
    (Text, 65_535),
    (Binary, 65_536),
    (Text, 1 << 20),
];
/// The largest message wsx accepts by default (16 MiB).
pub const MAX_MESSAGE: usize = 16 << 20;

/// How a client peer reaches the wsx server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Straight to wsx.
    Direct,
    /// Through an nginx reverse proxy.
    Nginx,
    /// Straight to wsx listening on a Unix domain socket, by a `ws+unix:`
    /// URL (Node's ws spelling).
    Unix,
    /// Through nginx to wsx listening on a Unix domain socket
    /// (`proxy_pass http://unix:/path:`).
    NginxUnix,
}

impl Route {
    fn through_nginx(self) -> bool {
        matches!(self, Route::Nginx | Route::NginxUnix)
    }

    fn to_unix_socket(self) -> bool {
        matches!(self, Route::Unix | Route::NginxUnix)
    }
}

/// What a [`Link`] reconnects to.
enum Target {
    /// A wsx client connecting to a peer server.
    WsxClient {
        url: String,
        config: Box<ClientConfig>,
    },
    /// A peer client connecting to a wsx server.
    WsxServer {
        server: WsxServer,
        url: String,
        options: Value,
    },
}

/// A peer and wsx connected to each other, with everything that keeps them up.
pub struct Link {
    // Field order is drop order: the peer goes first and closes gracefully
    // while wsx (and nginx) still run.
    /// The third-party peer.
    pub peer: Peer,
    /// Which peer it is.
    pub kind: Kind,
    /// wsx's end of the connection.
    pub wsx: Endpoint,
    /// wsx's open event.
    pub opened: Opened,
    /// The peer's open event.
    pub seen: Value,
    target: Target,
    _nginx: Option<Nginx>,
    event_loop: Wsx,
    /// Holds wsx's Unix domain socket, if it listens on one.
    _socket_dir: Option<tempfile::TempDir>,
}

impl Link {
    /// wsx's client connected to a `kind` server peer started with `args`;
    /// `url` makes the URL from the peer's port.
    pub fn wsx_client(
        kind: Kind,
        args: &[&str],
        url: impl Fn(u16) -> String,
        config: ClientConfig,
    ) -> Link {
        let (peer, port) = kind.server(args);
        let target = Target::WsxClient {
            url: url(port),
            config: Box::new(config),
        };
        Link::open(peer, kind, target, None, Wsx::new())
    }

    /// A directory for wsx's Unix domain socket when `route` asks for one,
    /// with `config` set to listen there.
    fn socket_for(route: Route, config: &mut ServerConfig) -> Option<tempfile::TempDir> {
        let dir = route.to_unix_socket().then(|| {
            tempfile::Builder::new()
                .prefix("wsx-unix-")
                .tempdir()
                .expect("socket directory")
        })?;
        config.unix_socket_path = Some(dir.path().join("wsx.sock"));
        Some(dir)
    }

    /// A `kind` client peer connected to a wsx server made from `config`,
    /// at `path` over `route`; `options` go into the peer's connect command.
    pub fn wsx_server(
        kind: Kind,
        route: Route,
        mut config: ServerConfig,
        reply: Reply,
        path: &str,
        options: Value,
    ) -> Link {
        let scheme = if config.tls.is_some() { "wss" } else { "ws" };
        let host = if config.tls.is_some() {
            HOST
        } else {
            "127.0.0.1"
        };
        let dir = Link::socket_for(route, &mut config);
        let socket = config.unix_socket_path.clone();
        let wsx = Wsx::new();
        let server = wsx.listen(config, reply, &[("X-Wsx-Server", "yes")]);
        let upstream = match &socket {
            Some(socket) => format!("unix:{}:", socket.display()),
            None => format!("127.0.0.1:{}", server.port()),
        };
        let nginx = route.through_nginx().then(|| Nginx::proxy_to(&upstream));
        let port = nginx.as_ref().map_or(server.port(), Nginx::port);
        let url = match (&socket, route) {
            (Some(socket), Route::Unix) => format!("{scheme}+unix://{}:{path}", socket.display()),
            _ => format!("{scheme}://{host}:{port}{path}"),
        };
        let target = Target::WsxServer {
            server,
            url,
            options,
        };
        let mut link = Link::open(kind.client(), kind, target, nginx, wsx);
        link._socket_dir = dir;
        link
    }

    fn open(mut peer: Peer, kind: Kind, target: Target, nginx: Option<Nginx>, wsx: Wsx) -> Link {
        let (end, opened, seen) = connect(&mut peer, &target, &wsx);
        Link {
            peer,
            kind,
            wsx: end,
            opened,
            seen,
            target,
            _nginx: nginx,
            event_loop: wsx,
            _socket_dir: None,
        }
    }

    /// A new connection between the same two programs, replacing the current one.
    pub fn reconnect(&mut self) {
        (self.wsx, self.opened, self.seen) =
            connect(&mut self.peer, &self.target, &self.event_loop);
    }

    /// wsx sends a generated message; the peer must receive exactly it.
    pub fn wsx_sends(&mut self, kind: MessageKind, len: usize) {
        let data = generate(kind, len);
        self.wsx.send(kind, &data);
        assert_peer_got(&self.peer.expect("message"), kind, &data);
    }

    /// The peer sends a generated message, in `fragments` frames if given;
    /// wsx must receive exactly it (and, with `echo`, the peer its echo).
    pub fn peer_sends(
        &mut self,
        kind: MessageKind,
        len: usize,
        fragments: Option<usize>,
        echo: bool,
    ) {
        self.peer.command(send_command(kind, len, fragments));
        let data = generate(kind, len);
        assert_wsx_got(&self.wsx.expect_message(), kind, &data);
        if echo {
            assert_peer_got(&self.peer.expect("message"), kind, &data);
        }
    }

    /// 100 small messages each way, sent back to back without waiting for
    /// the other side: they arrive whole and in order (many frames per read
    /// and per write). With `echo`, the peer also gets its own back.
    pub fn burst(&mut self, echo: bool) {
        let kinds = [Text, Binary];
        for len in 0..100 {
            self.peer.command(send_command(kinds[len % 2], len, None));
        }
        for len in 0..100 {
            let kind = kinds[len % 2];
            assert_wsx_got(&self.wsx.expect_message(), kind, &generate(kind, len));
        }
        for len in 0..100 {
            let kind = kinds[len % 2];
            if echo {
                assert_peer_got(&self.peer.expect("message"), kind, &generate(kind, len));
            }
        }
        for len in 0..100 {
            let kind = kinds[len % 2];
            self.wsx.send(kind, &generate(kind, len));
        }
        for len in 0..100 {
            let kind = kinds[len % 2];
            assert_peer_got(&self.peer.expect("message"), kind, &generate(kind, len));
        }
    }

    /// wsx closes with `code` and `reason`: the peer sees both, and wsx's
    /// close event is clean with the code the peer echoed.
    pub fn wsx_closes(&mut self, code: u16, reason: &str) {
        self.wsx.close(code, reason);
        let seen = self.peer.expect("close");
        assert_eq!(
            (seen["code"].as_u64(), seen["reason"].as_str()),
            (Some(code.into()), Some(reason)),
            "{seen}"
        );
        if self.kind == Kind::Python {
            assert_eq!(
                seen["rcvd"],
                json!([code, reason]),
                "the close frame the peer received: {seen}"
            );
        }
        let closed = self.wsx.expect_closed();
        assert!(
            closed.clean,
            "wsx's close after its own close frame was answered: {closed:?}"
        );
        assert_eq!(
            closed.code, code,
            "the code of wsx's close event: {closed:?}"
        );
    }

    /// The peer closes with `code` and `reason`: wsx's close event has both
    /// and is clean, and the peer gets the same code back.
    pub fn peer_closes(&mut self, code: u16, reason: &str) {
        self.peer
            .command(json!({"op": "close", "code": code, "reason": reason}));
        let closed = self.wsx.expect_closed();
        assert_eq!(
            (closed.code, closed.reason.as_str(), closed.clean),
            (code, reason, true),
            "wsx's close event"
        );
        let seen = self.peer.expect("close");
        assert_eq!(
            seen["code"], code,
            "the code of wsx's answering close frame: {seen}"
        );
        if self.kind == Kind::Python {
            assert_eq!(
                seen["rcvd"][0], code,
                "the close frame the peer received: {seen}"
            );
        }
    }
}

/// Opens one connection of `target` and returns both sides' open events.
fn connect(peer: &mut Peer, target: &Target, wsx: &Wsx) -> (Endpoint, Opened, Value) {
    match target {
        Target::WsxClient { url, config } => {
            let end = wsx.connect(url, ClientConfig::clone(config));
            let opened = end.expect_open();
            (end, opened, peer.expect("open"))
        }
        Target::WsxServer {
            server,
            url,
            options,
        } => {
            peer.connect(url, options.clone());
            let (end, opened) = server.accept();
            (end, opened, peer.expect("open"))
        }
    }
}

/// A client configuration with test headers and two subprotocols offered.
fn client_config() -> ClientConfig {
    ClientConfig {
        subprotocols: vec!["v2.wsx".into(), "v1.wsx".into()],
        headers: vec![
            ("Authorization".into(), "Bearer wsx-token".into()),
            ("Cookie".into(), "session=abc; theme=dark".into()),
            ("X-Wsx-Test".into(), "from wsx".into()),
        ],
        ..ClientConfig::default()
    }
}

/// wsx's client against a `kind` server: request path, custom headers and
/// subprotocol seen by the server, then every size both ways up to 16 MiB.
pub fn client_messages(kind: Kind) {
    let url = |port| format!("ws://127.0.0.1:{port}/chat/room?id=7");
    let mut link = Link::wsx_client(kind, &["--subprotocol", "v1.wsx"], url, client_config());
    assert_eq!(link.opened.status, Some(101));
    assert_eq!(
        link.opened.subprotocol.as_deref(),
        Some("v1.wsx"),
        "subprotocol wsx negotiated"
    );
    assert_eq!(link.opened.header("Sec-WebSocket-Protocol"), Some("v1.wsx"));
    let seen = &link.seen;
    assert_eq!(seen["path"], "/chat/room?id=7", "{seen}");
    assert_eq!(seen["subprotocol"], "v1.wsx", "{seen}");
    assert_eq!(
        header(seen, "Authorization"),
        Some("Bearer wsx-token"),
        "{seen}"
    );
    assert_eq!(
        header(seen, "Cookie"),
        Some("session=abc; theme=dark"),
        "{seen}"
    );
    assert_eq!(header(seen, "X-Wsx-Test"), Some("from wsx"), "{seen}");
    assert_eq!(
        header(seen, "Host"),
        Some(format!("127.0.0.1:{}", link.opened.ip_port()).as_str())
    );
    for (kind, len) in SIZES.into_iter().chain([(Binary, MAX_MESSAGE)]) {
        link.wsx_sends(kind, len);
        link.peer_sends(kind, len, None, false);
    }
    link.burst(false);
    link.wsx_closes(1000, "");
}

/// A `kind` client (through `route`) against wsx's echo server: path,
/// custom headers, Origin and subprotocol seen by wsx, the 101's extra
/// header seen by the peer, then every size (up to 16 MiB when direct) sent
/// by the peer and echoed, and a message wsx sends on its own.
pub fn server_messages(kind: Kind, route: Route) {
    let config = ServerConfig {
        subprotocols: vec!["superchat".into()],
        ..ServerConfig::default()
    };
    let mut options = json!({"subprotocols": ["chat", "superchat"]});
    if kind.is_scriptable() {
        options["headers"] = json!([
            ["X-Wsx-Test", "from the peer"],
            ["Authorization", "Basic d3N4OnRlc3Q="]
        ]);
        options["origin"] = json!("http://peer.example");
    }
    let mut link = Link::wsx_server(kind, route, config, Reply::Echo, "/echo?x=1", options);
    let opened = &link.opened;
    assert_eq!(
        opened.subprotocol.as_deref(),
        Some("superchat"),
        "subprotocol wsx chose"
    );
    assert_eq!(
        link.seen["subprotocol"], "superchat",
        "subprotocol the peer got: {}",
        link.seen
    );
    assert_eq!(opened.path.as_deref(), Some("/echo?x=1"));
    if kind.is_scriptable() {
        assert_eq!(
            opened.header("X-Wsx-Test"),
            Some("from the peer"),
            "{opened:?}"
        );
        assert_eq!(
            opened.header("Authorization"),
            Some("Basic d3N4OnRlc3Q="),
            "{opened:?}"
        );
        assert_eq!(
            opened.header("Origin"),
            Some("http://peer.example"),
            "{opened:?}"
        );
        assert_eq!(
            header(&link.seen, "X-Wsx-Server"),
            Some("yes"),
            "extra 101 header: {}",
            link.seen
        );
    } else {
        let origin = opened.header("Origin").unwrap_or_default();
        assert!(
            origin.starts_with("http://127.0.0.1:"),
            "the page's Origin: {opened:?}"
        );
    }
    if route.through_nginx() {
        assert_eq!(
            opened.header("X-Forwarded-For"),
            Some("127.0.0.1"),
            "nginx's header: {opened:?}"
        );
    }
    if route.to_unix_socket() {
        // A client's (or nginx's) socket has no name: no IP address to report.
        assert_eq!(opened.peer_addr, PeerAddr::Unix(None), "{opened:?}");
    }
    if route == Route::Unix {
        assert_eq!(
            opened.header("Host"),
            Some("localhost"),
            "ws+unix: sends Host: localhost"
        );
    }
    let largest = if route == Route::Direct {
        MAX_MESSAGE
    } else {
        1 << 20
    };
    for (kind, len) in SIZES.into_iter().chain([(Binary, largest)]) {
        link.peer_sends(kind, len, None, true);
    }
    link.wsx_sends(Text, 300);
    link.wsx_sends(Binary, 70_000);
    link.burst(true);
    link.wsx_closes(1000, "done");
}

/// Which end wsx plays against the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// wsx's client against a server peer.
    Client,
    /// wsx's echo server against a client peer reaching it by a route.
    Server(Route),
}

impl Link {
    /// A link with default configurations, at `/`.
    pub fn plain(kind: Kind, side: Side) -> Link {
        match side {
            Side::Client => {
                let url = |port| format!("ws://127.0.0.1:{port}/");
                Link::wsx_client(kind, &[], url, ClientConfig::default())
            }
            Side::Server(route) => {
                let config = ServerConfig::default();
                Link::wsx_server(kind, route, config, Reply::Echo, "/", json!({}))
            }
        }
    }
}

/// Messages sent by the peer in several frames (text split inside
/// characters where the peer splits bytes) reach wsx whole; wsx's server
/// echoes them whole.
pub fn fragments(kind: Kind, side: Side) {
    let mut link = Link::plain(kind, side);
    let echo = side != Side::Client;
    for (kind, len, frames) in [
        (Text, 1000, 7),
        (Binary, 100_000, 5),
        (Text, 3 << 20, 3),
        (Binary, 2, 2),
    ] {
        link.peer_sends(kind, len, Some(frames), echo);
    }
    link.wsx_closes(1000, "");
}

/// Pings both ways: each side's ping is seen by the other (where the peer
/// reports pings) and answered with a pong carrying the same data; messages
/// still flow afterwards.
pub fn ping_pong(kind: Kind, side: Side) {
    let mut link = Link::plain(kind, side);
    for data in [&b"wsx ping"[..], b""] {
        link.wsx.ping(data);
        if link.kind.reports_pings() {
            assert_eq!(link.peer.expect("ping")["hex"], hex(data));
        }
        assert_eq!(link.wsx.expect_pong(), data, "the pong wsx got");
    }
    link.peer
        .command(json!({"op": "ping", "hex": hex(b"peer ping")}));
    assert_eq!(link.wsx.expect_ping(), b"peer ping", "the ping wsx got");
    assert_eq!(
        link.peer.expect("pong")["hex"],
        hex(b"peer ping"),
        "the pong the peer got"
    );
    link.wsx_sends(Text, 10);
    link.wsx_closes(1000, "");
}

/// Close codes and reasons (with UTF-8) both ways, over successive
/// connections between the same two programs.
pub fn close_both_ways(kind: Kind, side: Side) {
    let mut link = Link::plain(kind, side);
    link.peer_closes(4001, "peer says bye \u{2713}");
    link.reconnect();
    link.wsx_closes(4002, "wsx says bye \u{2713}");
    link.reconnect();
    link.wsx_closes(1001, "going away");
    if kind.is_scriptable() {
        // A peer that drops the TCP connection without a close frame.
        link.reconnect();
        link.peer.command(json!({"op": "abort"}));
        let closed = link.wsx.expect_dropped();
        assert_eq!(
            (closed.code, closed.clean),
            (1006, false),
            "an aborted connection: {closed:?}"
        );
        assert_eq!(link.peer.expect("close")["code"], 1006);
    }
    if kind != Kind::Python {
        // `websockets` always sends a code; `ws` and browsers can send none.
        link.reconnect();
        link.peer.command(json!({"op": "close"}));
        let closed = link.wsx.expect_closed();
        assert_eq!(
            (closed.code, closed.clean),
            (1005, true),
            "no status code: {closed:?}"
        );
        let seen = link.peer.expect("close");
        assert_eq!(
            seen["code"], 1005,
            "wsx answered with an empty close frame: {seen}"
        );
    }
}

/// A few messages both ways and a close, over an established TLS link.
fn tls_traffic(link: &mut Link, echo: bool) {
    link.peer_sends(Text, 5, None, echo);
    link.peer_sends(Binary, 1 << 20, None, echo);
    link.wsx_sends(Text, 70_000);
    link.wsx_sends(Binary, 1 << 20);
    link.wsx_closes(1000, "tls done");
}

/// The trusted CA of `certs`, for wsx's client.
fn trusting(certs: &TestCerts) -> ClientConfig {
    let tls = TlsClientConfig {
        ca_file: Some(certs.ca.clone()),
        ..TlsClientConfig::default()
    };
    ClientConfig {
        tls,
        ..ClientConfig::default()
    }
}

/// wsx's client over `wss://localhost` to a `kind` TLS server whose
/// certificate the test CA signed.
pub fn wss_client(kind: Kind) {
    let certs = TestCerts::new();
    let (cert, key) = (certs.cert.to_str().unwrap(), certs.key.to_str().unwrap());
    let url = |port| format!("wss://{HOST}:{port}/tls");
    let mut link = Link::wsx_client(kind, &["--cert", cert, "--key", key], url, trusting(&certs));
    assert_eq!(link.seen["path"], "/tls");
    tls_traffic(&mut link, false);
}

/// A `kind` client trusting the test CA over `wss://localhost` to wsx's TLS server.
pub fn wss_server(kind: Kind) {
    let certs = TestCerts::new();
    let tls = TlsServerConfig {
        cert_file: certs.cert.clone(),
        key_file: certs.key.clone(),
        client_auth: None,
    };
    let config = ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    };
    let options = json!({"ca": certs.ca});
    let mut link = Link::wsx_server(kind, Route::Direct, config, Reply::Echo, "/tls", options);
    assert_eq!(link.opened.path.as_deref(), Some("/tls"));
    tls_traffic(&mut link, true);
}

/// The error, then the close event, of a connection that never opened.
pub fn expect_failure(end: &Endpoint) -> (ErrorKind, String, Option<u16>) {
    let error = end.expect_error();
    let closed = end.expect_closed();
    assert!(
        !closed.clean,
        "a connection that never opened cannot close cleanly: {closed:?}"
    );
    error
}

/// wsx's client refuses a Python TLS server whose certificate does not name
/// the host in the URL, and one signed by a CA it does not trust; with
/// verification explicitly off it talks to the latter.
pub fn wss_refusals() {
    let certs = TestCerts::new();
    let wsx = Wsx::new();
    let trusted = [certs.cert.to_str().unwrap(), certs.key.to_str().unwrap()];
    let (_good, good_port) = Kind::Python.server(&["--cert", trusted[0], "--key", trusted[1]]);
    // The certificate names `localhost`, not the address.
    let end = wsx.connect(&format!("wss://127.0.0.1:{good_port}/"), trusting(&certs));
    let (kind, message, _) = expect_failure(&end);
    assert_eq!(kind, ErrorKind::Tls, "wrong host name: {message}");
    assert!(
        message.contains("127.0.0.1"),
        "the message names the host: {message}"
    );

    let untrusted = [
        certs.untrusted_cert.to_str().unwrap(),
        certs.untrusted_key.to_str().unwrap(),
    ];
    let (mut bad, bad_port) = Kind::Python.server(&["--cert", untrusted[0], "--key", untrusted[1]]);
    let url = format!("wss://{HOST}:{bad_port}/");
    let (kind, message, _) = expect_failure(&wsx.connect(&url, trusting(&certs)));
    assert_eq!(kind, ErrorKind::Tls, "untrusted CA: {message}");

    let mut config = trusting(&certs);
    config.tls.danger_disable_verification = true;
    let end = wsx.connect(&url, config);
    end.expect_open();
    assert_eq!(bad.expect("open")["path"], "/");
    end.send(Text, b"unverified");
    assert_peer_got(&bad.expect("message"), Text, b"unverified");
}

/// A `kind` client with an Origin outside wsx's allow-list gets 403 and
/// reaches no handler; with an allowed Origin it connects.
pub fn origin_policy(kind: Kind) {
    let allowed = "http://allowed.example";
    let wsx = Wsx::new();
    let config = ServerConfig {
        origins: Some(vec![allowed.into()]),
        ..ServerConfig::default()
    };
    let server = wsx.listen(config, Reply::Nothing, &[]);
    let url = format!("ws://127.0.0.1:{}/", server.port());
    let mut peer = kind.client();
    peer.connect(&url, json!({"origin": "http://evil.example"}));
    let refused = peer.expect("refused");
    assert_eq!(refused["status"], 403, "{refused}");
    // The refusal was written after the decision: no handler was made for it.
    assert!(
        !server.accepted_within(Duration::ZERO),
        "a refused Origin reached on_upgrade"
    );
    peer.connect(&url, json!({"origin": allowed}));
    let (end, opened) = server.accept();
    assert_eq!(opened.header("Origin"), Some(allowed));
    peer.expect("open");
    end.send(Text, b"welcome");
    assert_peer_got(&peer.expect("message"), Text, b"welcome");
}

/// A plain HTTP GET (Python's urllib) to wsx's server gets 426 and reaches no handler.
pub fn plain_get_426() {
    let wsx = Wsx::new();
    let server = wsx.listen(ServerConfig::default(), Reply::Nothing, &[]);
    let mut get = Peer::python(
        "http_get.py",
        &[&format!("http://127.0.0.1:{}/", server.port())],
    );
    let response = get.expect("response");
    assert_eq!(response["status"], 426, "{response}");
    // RFC 9110 section 15.5.22: a 426 must name the protocol to upgrade to.
    assert_eq!(
        header(&response, "Upgrade")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("websocket"),
        "{response}"
    );
    assert!(
        !server.accepted_within(Duration::ZERO),
        "a plain GET reached on_upgrade"
    );
}

/// wsx's client against a `kind` server that refuses with 403: an error
/// with the status, then the close event.
pub fn client_sees_refusal(kind: Kind) {
    let (_peer, port) = kind.server(&["--refuse", "403"]);
    let wsx = Wsx::new();
    let end = wsx.connect(&format!("ws://127.0.0.1:{port}/"), ClientConfig::default());
    let (kind, message, status) = expect_failure(&end);
    assert_eq!(
        (kind, status),
        (ErrorKind::Handshake, Some(403)),
        "{message}"
    );
    assert!(
        message.contains("403"),
        "the message names the status: {message}"
    );
    assert!(
        message.contains("refused by the test peer"),
        "the message quotes the body: {message}"
    );
}

/// A peer sending a message over wsx's limit gets close 1009, after a
/// message of exactly the limit passed.
pub fn oversized_message(kind: Kind) {
    let limit = 1 << 20;
    let mut config = ServerConfig::default();
    config.protocol.max_message_size = limit;
    let mut link = Link::wsx_server(kind, Route::Direct, config, Reply::Nothing, "/", json!({}));
    link.peer_sends(Binary, limit, None, false);
    link.peer.command(send_command(Binary, limit + 1, None));
    expect_failed_with(&mut link, 1009);
}

/// A Node peer sending text that is not UTF-8 gets close 1007, whole or
/// split across frames.
pub fn invalid_utf8() {
    // "κόσμε" then the UTF-16 surrogate U+D800, which UTF-8 forbids, then "edited".
    let bad = "cebae1bdb9cf83cebcceb5eda080656469746564";
    for fragments in [1, 3] {
        let mut link = Link::plain(Kind::Node, Side::Server(Route::Direct));
        let command = json!({"op": "send", "kind": "text", "hex": bad, "fragments": fragments});
        link.peer.command(command);
        expect_failed_with(&mut link, 1007);
    }
}

/// wsx failed the connection with `code`: an error event, then a close
/// event with that code, and the peer got a close frame with it.
fn expect_failed_with(link: &mut Link, code: u16) {
    let (kind, message, _) = link.wsx.expect_error();
    assert_eq!(kind, ErrorKind::Protocol, "{message}");
    let closed = link.wsx.expect_closed();
    assert_eq!(closed.code, code, "wsx's close event: {closed:?}");
    let seen = link.peer.expect("close");
    assert_eq!(seen["code"], code, "the close the peer got: {seen}");
}

/// wsx's client keepalive against a Python server that stops reading: pongs
/// come back (and give a round trip) while it reads; once it stops, wsx drops
/// the connection with a timeout error and 1006, and the peer sees it gone.
pub fn keepalive_timeout() {
    let keepalive = Keepalive {
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(400),
    };
    let config = ClientConfig {
        keepalive: Some(keepalive),
        ..ClientConfig::default()
    };
    let url = |port| format!("ws://127.0.0.1:{port}/");
    let mut link = Link::wsx_client(Kind::Python, &[], url, config);
    link.wsx.expect_pong();
    assert!(
        link.wsx.conn.rtt().is_some(),
        "the round trip of an answered keepalive ping"
    );
    link.peer.command(json!({"op": "pause"}));
    link.peer.expect("paused");
    let (kind, message) = loop {
        match link.wsx.next() {
            Event::Pong(_) => continue,
            Event::Error(kind, message, _) => break (kind, message),
            other => panic!("expected the keepalive timeout, got {other:?}"),
        }
    };
    assert_eq!(kind, ErrorKind::Timeout, "{message}");
    let closed = link.wsx.expect_closed();
    assert_eq!((closed.code, closed.clean), (1006, false), "{closed:?}");
    link.peer.command(json!({"op": "resume"}));
    let seen = link.peer.expect("close");
    assert_eq!(
        seen["code"], 1006,
        "the peer's connection was dropped: {seen}"
    );
}

/// A Python client that stops reading holds wsx's server back: `send`
/// reports would-block with the queue bounded by the high-water mark; once
/// the client reads again, the writable event fires and every queued
/// message arrives intact.
pub fn slow_reader_backpressure() {
    let marks = Backpressure {
        high_water: 4 << 20,
        low_water: 1 << 20,
    };
    let config = ServerConfig {
        backpressure: marks,
        ..ServerConfig::default()
    };
    let mut link = Link::wsx_server(
        Kind::Python,
        Route::Direct,
        config,
        Reply::Nothing,
        "/",
        json!({}),
    );
    link.peer.command(json!({"op": "pause"}));
    link.peer.expect("paused");
    let message = generate(Binary, 1 << 20);
    let mut queued = 0;
    loop {
        match link.wsx.conn.send(Binary, &message) {
            Ok(()) => queued += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("send to a slow reader: {e}"),
        }
        let buffered = link.wsx.conn.buffered_amount();
        assert!(
            buffered <= marks.high_water + message.len(),
            "{buffered} bytes queued"
        );
        assert!(queued < 64, "64 MiB accepted for a peer that reads nothing");
    }
    assert!(
        link.wsx.conn.buffered_amount() > marks.low_water,
        "the queue at would-block"
    );
    link.peer.command(json!({"op": "resume"}));
    link.wsx.expect_writable();
    for _ in 0..queued {
        assert_peer_got(&link.peer.expect("message"), Binary, &message);
    }
    link.wsx_sends(Text, 10);
    link.wsx_closes(1000, "");
}

/// wsx's client in poll mode, driven from this thread only, against a
/// Python server: callbacks run on this thread, inside `poll`.
pub fn poll_mode() {
    let (mut peer, port) = Kind::Python.server(&[]);
    let mut polled = Polled::new();
    let end = polled.connect(
        &format!("ws://127.0.0.1:{port}/polled"),
        ClientConfig::default(),
    );
    let opened = match polled.poll_until(|| end.try_next()) {
        Event::Open(opened) => opened,
        other => panic!("expected the open event, got {other:?}"),
    };
    assert_eq!(
        opened.thread,
        thread::current().id(),
        "the thread the open callback ran on"
    );
    assert_eq!(
        polled.poll_until(|| peer.try_expect("open"))["path"],
        "/polled"
    );
    end.send(Text, b"polled");
    assert_peer_got(
        &polled.poll_until(|| peer.try_expect("message")),
        Text,
        b"polled",
    );
    peer.command(send_command(Binary, 100_000, None));
    match polled.poll_until(|| end.try_next()) {
        Event::Message(kind, data) => {
            assert_wsx_got(&(kind, data), Binary, &generate(Binary, 100_000))
        }
        other => panic!("expected a message, got {other:?}"),
    }
    end.close(4000, "polled");
    assert_eq!(polled.poll_until(|| peer.try_expect("close"))["code"], 4000);
    match polled.poll_until(|| end.try_next()) {
        Event::Closed(closed) => assert!(closed.clean && closed.code == 4000, "{closed:?}"),
        other => panic!("expected the close event, got {other:?}"),
    }
}

/// 1,000 Node `ws` connections at once to wsx's echo server: every one
/// opens and gets its own message back, then closes cleanly on both sides.
pub fn thousand_connections() {
    const COUNT: usize = 1000;
    let wsx = Wsx::new();
    let server = wsx.listen(ServerConfig::default(), Reply::Echo, &[]);
    let mut peer = Kind::Node.client();
    let url = format!("ws://127.0.0.1:{}/", server.port());
    peer.command(json!({"op": "swarm", "url": url, "count": COUNT}));
    let report = peer.expect("swarm");
    assert_eq!(
        report["echoed"], COUNT,
        "the peer's connections that got their echo: {report}"
    );
    let ends: Vec<Endpoint> = (0..COUNT).map(|_| server.accept().0).collect();
    let closed = peer.expect("swarm_closed");
    assert_eq!(
        closed["clean"], COUNT,
        "connections the peer saw closed with 1000: {closed}"
    );
    let mut numbers: Vec<usize> = ends
        .iter()
        .map(|end| {
            let (kind, data) = end.expect_message();
            assert_eq!(kind, Text);
            let closed = end.expect_closed();
            assert!(closed.clean && closed.code == 1000, "{closed:?}");
            String::from_utf8(data).unwrap().parse().unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert!(
        numbers.into_iter().eq(0..COUNT),
        "every connection's own message reached wsx"
    );
}

/// Graceful shutdown of wsx's server with two `kind` clients connected:
/// both get close 1001, wsx's close events are clean, the shutdown event
/// follows, and a new connection is refused.
pub fn shutdown(kind: Kind) {
    let wsx = Wsx::new();
    let server = wsx.listen(ServerConfig::default(), Reply::Nothing, &[]);
    let url = format!("ws://127.0.0.1:{}/", server.port());
    let mut peers = [kind.client(), kind.client()];
    let ends = peers.each_mut().map(|peer| {
        peer.connect(&url, json!({}));
        peer.expect("open");
        server.accept().0
    });
    server.server.shutdown(Duration::from_secs(5));
    for (peer, end) in peers.iter_mut().zip(&ends) {
        assert_eq!(
            peer.expect("close")["code"],
            1001,
            "the close a client got at shutdown"
        );
        let closed = end.expect_closed();
        assert_eq!((closed.code, closed.clean), (1001, true), "{closed:?}");
    }
    server.expect_shutdown();
    peers[0].connect(&url, json!({}));
    peers[0].expect("error");
}

/// wsx over IPv6 loopback both ways: its server on `::1` with a `kind`
/// client, and its client to a `kind` server on `::1`.
pub fn ipv6(kind: Kind) {
    let config = ServerConfig {
        host: "::1".into(),
        ..ServerConfig::default()
    };
    let wsx = Wsx::new();
    let server = wsx.listen(config, Reply::Echo, &[]);
    assert!(server.server.local_addr().is_ipv6());
    let mut peer = kind.client();
    peer.connect(&format!("ws://[::1]:{}/v6", server.port()), json!({}));
    let (end, opened) = server.accept();
    assert!(
        opened
            .peer_addr
            .ip()
            .is_some_and(|a| a.ip().is_loopback() && a.is_ipv6()),
        "{opened:?}"
    );
    peer.expect("open");
    peer.command(send_command(Text, 20, None));
    assert_wsx_got(&end.expect_message(), Text, &generate(Text, 20));
    assert_peer_got(&peer.expect("message"), Text, &generate(Text, 20));

    let url = |port| format!("ws://[::1]:{port}/v6");
    let mut link = Link::wsx_client(kind, &["--host", "::1"], url, ClientConfig::default());
    let host = header(&link.seen, "Host").unwrap_or_default().to_owned();
    assert_eq!(
        host,
        format!("[::1]:{}", link.opened.ip_port()),
        "{}",
        link.seen
    );
    link.wsx_sends(Binary, 1000);
    link.wsx_closes(1000, "");
}

/// The tests of wsx against one scriptable peer kind, both ways: one
/// `#[test]` per scenario. Use in a test file: `peer_suite!(Kind::Python);`.
#[macro_export]
macro_rules! peer_suite {
    ($kind:expr) => {
        use $crate::scenarios::{self as s, Route::Direct, Side};

        #[test]
        fn wsx_client_messages_headers_subprotocol() {
            s::client_messages($kind);
        }
        #[test]
        fn wsx_client_receives_fragmented_messages() {
            s::fragments($kind, Side::Client);
        }
        #[test]
        fn wsx_client_ping_pong() {
            s::ping_pong($kind, Side::Client);
        }
        #[test]
        fn wsx_client_close_codes_both_ways() {
            s::close_both_ways($kind, Side::Client);
        }
        #[test]
        fn wsx_client_sees_handshake_refusal() {
            s::client_sees_refusal($kind);
        }
        #[test]
        fn wsx_server_messages_headers_subprotocol() {
            s::server_messages($kind, Direct);
        }
        #[test]
        fn wsx_server_receives_fragmented_messages() {
            s::fragments($kind, Side::Server(Direct));
        }
        #[test]
        fn wsx_server_ping_pong() {
            s::ping_pong($kind, Side::Server(Direct));
        }
        #[test]
        fn wsx_server_close_codes_both_ways() {
            s::close_both_ways($kind, Side::Server(Direct));
        }
        #[test]
        fn wsx_server_refuses_origin_with_403() {
            s::origin_policy($kind);
        }
        #[test]
        fn wsx_client_to_tls_server() {
            s::wss_client($kind);
        }
        #[test]
        fn tls_client_to_wsx_server() {
            s::wss_server($kind);
        }
        #[test]
        fn wsx_server_closes_1009_on_oversized_message() {
            s::oversized_message($kind);
        }
        #[test]
        fn wsx_server_graceful_shutdown() {
            s::shutdown($kind);
        }
        #[test]
        fn wsx_over_ipv6_both_ways() {
            s::ipv6($kind);
        }
    };
}
