//! The HTTP CONNECT handshake (RFC 9110 section 9.3.6): one request, one
//! response; a 2xx status means the tunnel stands.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Progress, ProxyConfig, authority};
use crate::net::error::{Error, ErrorKind};

/// Most bytes of the proxy's response head.
const MAX_HEAD: usize = 16 * 1024;
/// Most header lines of the proxy's response.
const MAX_HEADERS: usize = 64;

/// A CONNECT request sent, its response being read.
pub(in crate::net) struct HttpConnect {
    proxy: String,
    target: String,
    head: Vec<u8>,
}

impl HttpConnect {
    /// The handshake to `host:port` and its request, with Basic authentication
    /// when the proxy has credentials.
    pub fn start(proxy: &ProxyConfig, host: &str, port: u16) -> (HttpConnect, Vec<u8>) {
        let target = authority(host, port);
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some((user, password)) = &proxy.credentials {
            let token = STANDARD.encode(format!("{user}:{password}"));
            request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        let tunnel = HttpConnect {
            proxy: proxy.authority(),
            target,
            head: Vec::new(),
        };
        (tunnel, request.into_bytes())
    }

    /// Takes response bytes: done on a 2xx status; an error naming the hop
    /// that failed otherwise.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, Error> {
        self.head.extend_from_slice(data);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let parsed = response.parse(&self.head).map_err(|e| {
            Error::new(
                ErrorKind::Proxy,
                format!("the proxy {} sent an invalid response: {e}", self.proxy),
            )
        })?;
        let httparse::Status::Complete(len) = parsed else {
            if self.head.len() > MAX_HEAD {
                return Err(Error::new(
                    ErrorKind::Proxy,
                    format!(
                        "the proxy {}'s response head passed {MAX_HEAD} bytes",
                        self.proxy
                    ),
                ));
            }
            return Ok(Progress::Pending);
        };
        let status = response.code.unwrap_or(0);
        let reason = response.reason.unwrap_or("").to_owned();
        if (200..300).contains(&status) {
            return Ok(Progress::Done(self.head[len..].to_vec()));
        }
        Err(refusal(&self.proxy, &self.target, status, &reason))
    }
}

/// The error for a CONNECT answered with `status`.
fn refusal(proxy: &str, target: &str, status: u16, reason: &str) -> Error {
    let what = match status {
        407 => format!("the proxy {proxy} requires authentication (HTTP 407 {reason})"),
        502..=504 => format!(
            "the proxy {proxy} could not reach the target {target} (HTTP {status} {reason})"
        ),
        _ => format!("the proxy {proxy} refused to connect to {target} (HTTP {status} {reason})"),
    };
    Error::with_status(ErrorKind::Proxy, status, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(url: &str) -> ProxyConfig {
        ProxyConfig::parse(url).unwrap()
    }

    #[test]
    fn request_names_the_target_and_authenticates() {
        let (_, request) = HttpConnect::start(&proxy("http://alice:s3cret@p:3128"), "::1", 443);
        let request = String::from_utf8(request).unwrap();
        assert_eq!(
            request,
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\
             Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n"
        );
        let (_, request) = HttpConnect::start(&proxy("http://p:3128"), "example.com", 80);
        assert!(
            !String::from_utf8(request)
                .unwrap()
                .contains("Authorization")
        );
    }

    #[test]
    fn a_2xx_in_pieces_opens_the_tunnel_with_the_leftover() {
        let (mut t, _) = HttpConnect::start(&proxy("http://p:1"), "h", 1);
        assert_eq!(
            t.feed(b"HTTP/1.1 200 Connection est").unwrap(),
            Progress::Pending
        );
        let done = t.feed(b"ablished\r\nVia: test\r\n\r\nextra").unwrap();
        assert_eq!(done, Progress::Done(b"extra".to_vec()));
    }

    #[test]
    fn refusals_say_which_hop_failed() {
        for (status, words) in [
            (407, "requires authentication"),
            (502, "could not reach the target h:1"),
            (403, "refused to connect to h:1"),
        ] {
            let (mut t, _) = HttpConnect::start(&proxy("http://p:1"), "h", 1);
            let response = format!("HTTP/1.1 {status} No\r\nContent-Length: 0\r\n\r\n");
            let error = t.feed(response.as_bytes()).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Proxy);
            assert_eq!(error.status(), Some(status));
            assert!(error.message().contains(words), "{error}");
        }
    }

    #[test]
    fn garbage_and_endless_heads_fail() {
        let (mut t, _) = HttpConnect::start(&proxy("http://p:1"), "h", 1);
        assert_eq!(
            t.feed(b"SSH-2.0\r\n\r\n").unwrap_err().kind(),
            ErrorKind::Proxy
        );
        let (mut t, _) = HttpConnect::start(&proxy("http://p:1"), "h", 1);
        t.feed(b"HTTP/1.1 200 OK\r\n").unwrap();
        let line = b"X-Filler: 0123456789012345678901234567890123456789\r\n";
        let error = (0..400).find_map(|_| t.feed(line).err()).unwrap();
        assert_eq!(error.kind(), ErrorKind::Proxy);
    }
}
