//! The opening handshake (RFC 6455 section 4), client and server side.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

pub mod client;
mod error;
mod http;
pub mod server;

pub use client::{Accepted, ClientHandshake, ClientOptions};
pub use error::HandshakeError;
pub use http::{check_header, is_safe_value, is_token, reason_phrase};
pub use server::{
    Accept, REFUSAL_STATUSES, Rejection, ServerHandshake, accept_response, check_origin,
    select_subprotocol,
};

/// The GUID appended to the key before hashing (RFC 6455 section 1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// Splits a comma-separated header value into its trimmed, non-empty
/// elements. Commas inside double-quoted strings do not split.
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        loop {
            let s = rest?;
            let mut quoted = false;
            let mut escaped = false;
            let cut = s.char_indices().find(|&(_, c)| {
                if escaped {
                    escaped = false;
                } else if quoted && c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    quoted = !quoted;
                } else if c == ',' && !quoted {
                    return true;
                }
                false
            });
            let item = match cut {
                Some((i, _)) => {
                    rest = Some(&s[i + 1..]);
                    &s[..i]
                }
                None => {
                    rest = None;
                    s
                }
            };
            let item = item.trim();
            if !item.is_empty() {
                return Some(item);
            }
        }
    })
}

/// HTTP header fields in arrival order, looked up case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The value of the first header named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of every header named `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The elements of every header named `name`, each value split as a comma
    /// list ([`split_list`]).
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name).flat_map(split_list)
    }

    /// Whether a header named `name` lists `token` (both case-insensitive), as
    /// in `Connection: keep-alive, Upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// Every header as `(name, value)`, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.into_iter()
    }

    /// The number of header lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a str, &'a str),
    >;

    /// Every header as `(name, value)`, in arrival order.
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Limits on the size of a handshake's header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum bytes of the request or status line and headers (default 8 KiB).
    pub max_header_bytes: usize,
    /// Maximum number of header lines (default 64).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: crate::defaults::MAX_HEADER_BYTES,
            max_headers: crate::defaults::MAX_HEADERS,
        }
    }
}

/// A parsed handshake request, as a server sees it. Only requests that passed
/// every check of RFC 6455 section 4.2.1 are built, so `Host` and
/// `Sec-WebSocket-Key` are always present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request target: path and query.
    pub path: String,
    /// Every header of the request.
    pub headers: Headers,
}

impl Request {
    /// The method: always `GET`, as any other is refused before a request is built.
    pub fn method(&self) -> &str {
        "GET"
    }

    /// The request target: path and query (`/chat?room=1`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path without the query (`/chat`).
    pub fn path_only(&self) -> &str {
        self.path
            .split_once('?')
            .map_or(self.path.as_str(), |(p, _)| p)
    }

    /// The query, without its `?` (`room=1`), if the target has one.
    pub fn query(&self) -> Option<&str> {
        self.path.split_once('?').map(|(_, q)| q)
    }

    /// Every header of the request.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The `Host` header.
    pub fn host(&self) -> &str {
        self.headers.get("Host").unwrap_or("")
    }

    /// The `Origin` header, sent by browsers.
    pub fn origin(&self) -> Option<&str> {
        self.headers.get("Origin")
    }

    /// The `Sec-WebSocket-Key` header.
    pub fn key(&self) -> &str {
        self.headers.get("Sec-WebSocket-Key").unwrap_or("")
    }

    /// The subprotocols offered, in the client's order of preference, from
    /// every `Sec-WebSocket-Protocol` header.
    pub fn subprotocols(&self) -> Vec<&str> {
        self.headers.list("Sec-WebSocket-Protocol").collect()
    }

    /// The extensions offered, each with its parameters
    /// (`permessage-deflate; client_max_window_bits`), in order.
    pub fn extensions(&self) -> Vec<&str> {
        self.headers.list("Sec-WebSocket-Extensions").collect()
    }
}

/// A parsed handshake response, as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Every header of the response.
    pub headers: Headers,
    /// The body, for a refusal (empty for a 101).
    pub body: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_accept_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn comma_lists() {
        let split = |s| split_list(s).collect::<Vec<_>>();
        assert_eq!(split("a, b,,c ,"), ["a", "b", "c"]);
        assert_eq!(split(""), Vec::<&str>::new());
        assert_eq!(split(" , "), Vec::<&str>::new());
        assert_eq!(split("x; p=\"1,2\", y"), ["x; p=\"1,2\"", "y"]);
        assert_eq!(split("x; p=\"a\\\",b\", y"), ["x; p=\"a\\\",b\"", "y"]);
    }

    #[test]
    fn headers_lookup() {
        let h = Headers(vec![
            ("Connection".into(), "keep-alive, Upgrade".into()),
            ("X-A".into(), "1".into()),
            ("x-a".into(), "2, 3".into()),
        ]);
        assert_eq!(h.get("CONNECTION"), Some("keep-alive, Upgrade"));
        assert_eq!(h.get("missing"), None);
        assert_eq!(h.get_all("x-A").collect::<Vec<_>>(), ["1", "2, 3"]);
        assert_eq!(h.list("X-A").collect::<Vec<_>>(), ["1", "2", "3"]);
        assert!(h.has_token("connection", "upgrade"));
        assert!(!h.has_token("connection", "close"));
        assert!(!h.has_token("upgrade", "websocket"));
        assert_eq!(h.iter().count(), 3);
        let names: Vec<&str> = (&h).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Connection", "X-A", "x-a"]);
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn request_accessors() {
        let r = Request {
            path: "/chat?room=1".into(),
            headers: Headers(vec![
                ("Host".into(), "example.com".into()),
                ("Origin".into(), "https://example.com".into()),
                (
                    "Sec-WebSocket-Key".into(),
                    "dGhlIHNhbXBsZSBub25jZQ==".into(),
                ),
                ("Sec-WebSocket-Protocol".into(), "chat, superchat".into()),
                ("Sec-WebSocket-Protocol".into(), "v3".into()),
                (
                    "Sec-WebSocket-Extensions".into(),
                    "permessage-deflate; client_max_window_bits, x-y".into(),
                ),
            ]),
        };
        assert_eq!(r.method(), "GET");
        assert_eq!(r.path(), "/chat?room=1");
        assert_eq!(r.path_only(), "/chat");
        assert_eq!(r.query(), Some("room=1"));
        assert_eq!(r.host(), "example.com");
        assert_eq!(r.origin(), Some("https://example.com"));
        assert_eq!(r.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(r.subprotocols(), ["chat", "superchat", "v3"]);
        assert_eq!(
            r.extensions(),
            ["permessage-deflate; client_max_window_bits", "x-y"]
        );
        assert_eq!(r.headers().len(), 6);
    }
}
