//! The SOCKS5 handshake (RFC 1928) with no authentication or with
//! username/password (RFC 1929). The target goes to the proxy by name
//! (address type 3), so the proxy resolves it.

use std::net::IpAddr;

use super::{Progress, ProxyConfig};
use crate::net::error::{Error, ErrorKind};

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const USER_PASS: u8 = 2;
const NO_ACCEPTABLE: u8 = 0xFF;
const CONNECT: u8 = 1;

/// Where the handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Waiting for the chosen method.
    Method,
    /// Waiting for the username/password verdict.
    Auth,
    /// Waiting for the reply to CONNECT.
    Reply,
}

/// A SOCKS5 handshake under way.
pub(in crate::net) struct Socks5 {
    proxy: String,
    target: String,
    credentials: Option<(String, String)>,
    connect: Vec<u8>,
    step: Step,
    input: Vec<u8>,
}

impl Socks5 {
    /// The handshake to `host:port` and its greeting.
    pub fn start(proxy: &ProxyConfig, host: &str, port: u16) -> Result<(Socks5, Vec<u8>), Error> {
        let mut connect = vec![VERSION, CONNECT, 0];
        match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => {
                connect.push(1);
                connect.extend_from_slice(&ip.octets());
            }
            Ok(IpAddr::V6(ip)) => {
                connect.push(4);
                connect.extend_from_slice(&ip.octets());
            }
            Err(_) => {
                let len = u8::try_from(host.len()).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        "a host name sent to a SOCKS5 proxy is at most 255 bytes",
                    )
                })?;
                connect.extend_from_slice(&[3, len]);
                connect.extend_from_slice(host.as_bytes());
            }
        }
        connect.extend_from_slice(&port.to_be_bytes());
        if let Some((user, password)) = &proxy.credentials
            && (user.len() > 255 || password.len() > 255)
        {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a SOCKS5 user name or password is at most 255 bytes",
            ));
        }
        let greeting = match proxy.credentials {
            Some(_) => vec![VERSION, 2, NO_AUTH, USER_PASS],
            None => vec![VERSION, 1, NO_AUTH],
        };
        let socks = Socks5 {
            proxy: proxy.authority(),
            target: super::authority(host, port),
            credentials: proxy.credentials.clone(),
            connect,
            step: Step::Method,
            input: Vec::new(),
        };
        Ok((socks, greeting))
    }

    /// Takes bytes from the proxy; what to send next goes to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<Progress, Error> {
        self.input.extend_from_slice(data);
        loop {
            let need = self.needed()?;
            if self.input.len() < need {
                return Ok(Progress::Pending);
            }
            let message: Vec<u8> = self.input.drain(..need).collect();
            match self.step {
                Step::Method => self.on_method(&message, out)?,
                Step::Auth => {
                    if message[1] != 0 {
                        return Err(self.error(
                            None,
                            format!(
                                "the SOCKS5 proxy {} refused the user name or password",
                                self.proxy
                            ),
                        ));
                    }
                    out.extend_from_slice(&self.connect);
                    self.step = Step::Reply;
                }
                Step::Reply => {
                    return match message[1] {
                        0 => Ok(Progress::Done(std::mem::take(&mut self.input))),
                        code => Err(self.error(
                            Some(code),
                            format!(
                                "the SOCKS5 proxy {} could not connect to {}: {} (reply {code})",
                                self.proxy,
                                self.target,
                                reply_text(code)
                            ),
                        )),
                    };
                }
            }
        }
    }

    /// Bytes of the next message from the proxy, once enough of it is known.
    fn needed(&self) -> Result<usize, Error> {
        let version = match self.step {
            Step::Auth => 1,
            Step::Method | Step::Reply => VERSION,
        };
        if let Some(&v) = self.input.first()
            && v != version
        {
            return Err(self.error(
                None,
                format!(
                    "{} did not answer as a SOCKS5 proxy (version byte {v})",
                    self.proxy
                ),
            ));
        }
        Ok(match self.step {
            Step::Method | Step::Auth => 2,
            // A failure's address does not matter: its code is enough.
            Step::Reply if self.input.get(1).is_some_and(|&code| code != 0) => 2,
            Step::Reply => match self.input.get(3) {
                Some(1) => 4 + 4 + 2,
                Some(4) => 4 + 16 + 2,
                Some(3) => 4 + 1 + usize::from(self.input.get(4).copied().unwrap_or(255)) + 2,
                Some(&atyp) => {
                    return Err(self.error(
                        None,
                        format!("the SOCKS5 proxy {} sent address type {atyp}", self.proxy),
                    ));
                }
                None => 4,
            },
        })
    }

    fn on_method(&mut self, message: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        match (message[1], &self.credentials) {
            (NO_AUTH, _) => {
                out.extend_from_slice(&self.connect);
                self.step = Step::Reply;
            }
            (USER_PASS, Some((user, password))) => {
                out.extend_from_slice(&[1, user.len() as u8]);
                out.extend_from_slice(user.as_bytes());
                out.push(password.len() as u8);
                out.extend_from_slice(password.as_bytes());
                self.step = Step::Auth;
            }
            (NO_ACCEPTABLE, _) => {
                let why = match self.credentials {
                    Some(_) => "accepts none of the offered authentication methods",
                    None => "requires authentication",
                };
                return Err(self.error(None, format!("the SOCKS5 proxy {} {why}", self.proxy)));
            }
            (method, _) => {
                return Err(self.error(
                    None,
                    format!(
                        "the SOCKS5 proxy {} chose method {method}, which was not offered",
                        self.proxy
                    ),
                ));
            }
        }
        Ok(())
    }

    fn error(&self, code: Option<u8>, message: String) -> Error {
        match code {
            Some(code) => Error::with_status(ErrorKind::Proxy, u16::from(code), message),
            None => Error::new(ErrorKind::Proxy, message),
        }
    }
}

/// RFC 1928 section 6's words for a reply code.
fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown reply code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(url: &str, host: &str) -> (Socks5, Vec<u8>) {
        Socks5::start(&ProxyConfig::parse(url).unwrap(), host, 443).unwrap()
    }

    #[test]
    fn no_auth_sends_the_host_name() {
        let (mut s, greeting) = start("socks5://p", "example.com");
        assert_eq!(greeting, [5, 1, 0]);
        let mut out = Vec::new();
        assert_eq!(s.feed(&[5, 0], &mut out).unwrap(), Progress::Pending);
        let mut expected = vec![5, 1, 0, 3, 11];
        expected.extend_from_slice(b"example.com");
        expected.extend_from_slice(&[1, 187]);
        assert_eq!(out, expected);
        // A reply with a domain address, in two pieces, then early data.
        assert_eq!(
            s.feed(&[5, 0, 0, 3, 3, b'a'], &mut out).unwrap(),
            Progress::Pending
        );
        let done = s.feed(&[b'b', b'c', 0, 80, 42], &mut out).unwrap();
        assert_eq!(done, Progress::Done(vec![42]));
    }

    #[test]
    fn user_pass_and_ip_targets() {
        let (mut s, greeting) = start("socks5://bob:pw@p", "10.1.2.3");
        assert_eq!(greeting, [5, 2, 0, 2]);
        let mut out = Vec::new();
        s.feed(&[5, 2], &mut out).unwrap();
        assert_eq!(out, [1, 3, b'b', b'o', b'b', 2, b'p', b'w']);
        out.clear();
        s.feed(&[1, 0], &mut out).unwrap();
        assert_eq!(out, [5, 1, 0, 1, 10, 1, 2, 3, 1, 187]);
        let reply = [
            5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1,
        ];
        assert_eq!(s.feed(&reply, &mut out).unwrap(), Progress::Done(vec![]));
    }

    #[test]
    fn failures_name_the_hop_and_code() {
        let mut out = Vec::new();
        let (mut s, _) = start("socks5://bob:pw@p", "h");
        s.feed(&[5, 2], &mut out).unwrap();
        let error = s.feed(&[1, 1], &mut out).unwrap_err();
        assert!(error.message().contains("refused the user name"), "{error}");
        assert_eq!(error.kind(), ErrorKind::Proxy);

        let (mut s, _) = start("socks5://p", "h");
        let error = s.feed(&[5, 0xFF], &mut out).unwrap_err();
        assert!(
            error.message().contains("requires authentication"),
            "{error}"
        );

        let (mut s, _) = start("socks5://p", "h");
        s.feed(&[5, 0], &mut out).unwrap();
        let error = s.feed(&[5, 5, 0, 1], &mut out).unwrap_err();
        assert_eq!(error.status(), Some(5));
        assert!(
            error.message().contains("connection refused (reply 5)"),
            "{error}"
        );

        let (mut s, _) = start("socks5://p", "h");
        let error = s.feed(b"HTTP/1.1 400", &mut out).unwrap_err();
        assert!(
            error.message().contains("did not answer as a SOCKS5 proxy"),
            "{error}"
        );
        let (mut s, _) = start("socks5://p", "h");
        assert!(s.feed(&[5, 2], &mut out).is_err(), "a method not offered");
    }
}
