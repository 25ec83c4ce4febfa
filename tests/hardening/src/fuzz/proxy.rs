//! Fuzz bodies: the proxy handshakes' reply parsers (HTTP CONNECT, RFC 9110
//! section 9.3.6; SOCKS5, RFC 1928 and 1929) fed arbitrary replies.
//!
//! The oracles: the outcome does not depend on how the reply is cut (whole,
//! byte at a time, or at the fuzzer's cut); a tunnel that stands hands back
//! exactly the bytes after the proxy's answer; a proxy that never finishes
//! its answer is refused within a bounded number of bytes.

use wsx_core::net::fuzzing::proxy_handshake;
use wsx_core::net::{ProxyConfig, ProxyKind};

/// Most bytes an HTTP CONNECT answer head may take before it is refused
/// (the parser's limit, 16 KiB).
const HTTP_HEAD_LIMIT: usize = 16 * 1024;
/// The longest SOCKS5 message a client waits for: a reply with a 255-byte
/// domain name (4 + 1 + 255 + 2).
const SOCKS5_LONGEST: usize = 262;

/// What a handshake came to, comparable across cuts.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Tunnel(Vec<u8>),
    Pending,
    Failed(String),
}

/// Runs one handshake on `chunks`: its outcome and what the client sent.
fn handshake(proxy: &ProxyConfig, host: &str, chunks: &[&[u8]]) -> (Outcome, Vec<u8>) {
    let mut sent = Vec::new();
    let outcome = match proxy_handshake(proxy, host, 443, chunks, &mut sent) {
        Ok(Some(rest)) => Outcome::Tunnel(rest),
        Ok(None) => Outcome::Pending,
        Err(e) => {
            assert!(!e.message().is_empty(), "an error without a message");
            Outcome::Failed(e.message().to_owned())
        }
    };
    (outcome, sent)
}

/// The handshake on `data` whole, cut in two at `cut`, and byte at a time:
/// the same outcome and the same bytes sent each time.
fn outcome(proxy: &ProxyConfig, host: &str, data: &[u8], cut: usize) -> Outcome {
    let whole = handshake(proxy, host, &[data]);
    let (a, b) = data.split_at(cut.min(data.len()));
    assert_eq!(whole, handshake(proxy, host, &[a, b]), "cut at {cut}");
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(whole, handshake(proxy, host, &bytes), "byte at a time");
    whole.0
}

/// The first byte: the proxy's credentials (or none) and the target's kind
/// (name, IPv4, IPv6); the second: where the reply is cut; the rest: what
/// the proxy answers.
fn setup(kind: &str, data: &[u8]) -> Option<(ProxyConfig, &'static str, usize, Vec<u8>)> {
    let [settings, cut, reply @ ..] = data else {
        return None;
    };
    let credentials = match settings & 1 {
        0 => "",
        _ => "user:p%40ss@",
    };
    let proxy = ProxyConfig::parse(&format!("{kind}://{credentials}proxy.test:3128"))
        .expect("a valid proxy URL");
    let host = match (settings >> 1) % 3 {
        0 => "example.com",
        1 => "127.0.0.1",
        _ => "::1",
    };
    Some((proxy, host, usize::from(*cut), reply.to_vec()))
}

/// HTTP CONNECT: a tunnel stands only on a complete 2xx answer head; a head
/// that never ends is refused past its limit.
pub fn http_connect(data: &[u8]) {
    let Some((proxy, host, cut, reply)) = setup("http", data) else {
        return;
    };
    assert_eq!(proxy.kind, ProxyKind::Http);
    match outcome(&proxy, host, &reply, cut) {
        Outcome::Tunnel(rest) => {
            assert!(reply.ends_with(&rest));
            let mut head = &reply[..reply.len() - rest.len()];
            // Empty lines before the status line are skipped (RFC 9112
            // section 2.2), as httparse does.
            while let Some(after) = head.strip_prefix(b"\r\n").or(head.strip_prefix(b"\n")) {
                head = after;
            }
            assert!(
                head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"),
                "a tunnel after a head that does not end with an empty line: {head:02x?}"
            );
            let status = head.get(9..12).and_then(|s| std::str::from_utf8(s).ok());
            assert!(
                head.starts_with(b"HTTP/1.") && status.is_some_and(|s| s.starts_with('2')),
                "a tunnel on a non-2xx answer: {head:02x?}"
            );
        }
        Outcome::Pending => assert!(
            reply.len() <= HTTP_HEAD_LIMIT,
            "{} bytes of answer head still pending",
            reply.len()
        ),
        Outcome::Failed(_) => {}
    }
}

/// SOCKS5: a tunnel stands only after the proxy chose a method we offered,
/// accepted the credentials when asked, and answered CONNECT with success.
pub fn socks5(data: &[u8]) {
    let Some((proxy, host, cut, reply)) = setup("socks5", data) else {
        return;
    };
    let with_credentials = proxy.credentials.is_some();
    match outcome(&proxy, host, &reply, cut) {
        Outcome::Tunnel(rest) => {
            assert_eq!(
                reply[0], 5,
                "a tunnel after a method choice of version {}",
                reply[0]
            );
            let reply_at = match reply[1] {
                0 => 2,
                2 => {
                    assert!(with_credentials, "a tunnel after an unoffered method 2");
                    assert_eq!(reply[3], 0, "a tunnel after refused credentials");
                    4
                }
                m => panic!("a tunnel after method {m}"),
            };
            assert_eq!(
                &reply[reply_at..reply_at + 2],
                &[5, 0],
                "a tunnel on a failed reply"
            );
            assert!(reply.ends_with(&rest));
        }
        // A pending handshake waits for one message at a time.
        Outcome::Pending => assert!(
            reply.len() < 4 + 2 * SOCKS5_LONGEST,
            "{} bytes pending",
            reply.len()
        ),
        Outcome::Failed(_) => {}
    }
}
