//! The server side of the opening handshake.
//!
//! ```text
//! let mut hs = ServerHandshake::new(limits);
//! let (request, leftover) = loop {
//!     match hs.feed(&bytes_from_socket) {
//!         Ok(Some(done)) => break done,
//!         Ok(None) => continue,                       // need more bytes
//!         Err(rejection) => { write_all(&rejection.to_response()); return close() }
//!     }
//! };
//! check_origin(&request, &allowed)?;                  // 403 when refused
//! let accept = Accept { subprotocol: select_subprotocol(&request.subprotocols(), &supported), ..Accept::default() };
//! write_all(&accept_response(&request, &accept)?);   // then feed leftover to the Connection
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::http::{self, Head, HeadReader, reason_phrase};
use super::{HandshakeError, Limits, Request, accept_key};

/// Headers the 101 response writes itself: extra headers may not repeat them.
const RESERVED_ACCEPT: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

/// Headers a refusal writes itself: extra headers may not repeat them.
const RESERVED_REFUSAL: &[&str] = &[
    "Content-Type",
    "Content-Length",
    "Connection",
    "Transfer-Encoding",
];

/// The server's handshake: a request parsed from bytes fed in any pieces,
/// checked against RFC 6455 section 4.2.1.
#[derive(Debug)]
pub struct ServerHandshake {
    head: HeadReader,
    done: bool,
    /// A plain HTTP request (a valid GET HTTP/1.1 without `Upgrade:
    /// websocket`) refused with 426, kept for a server that answers such
    /// requests itself (a load balancer's health check).
    plain: Option<Request>,
}

/// The statuses a refusal may have: client and server errors. Anything else
/// is refused by [`Rejection::new`] (never silently changed into another).
pub const REFUSAL_STATUSES: std::ops::RangeInclusive<u16> = 400..=599;

/// The statuses of a [`Rejection::response`]: every final status.
pub const RESPONSE_STATUSES: std::ops::RangeInclusive<u16> = 200..=599;

/// A refused handshake: the HTTP status, a short reason sent as a plain-text
/// body, and extra response headers. Only valid refusals can be built: a
/// status in [`REFUSAL_STATUSES`], headers with token names and values free
/// of control characters, none of those the refusal writes itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status} {}: {reason}", reason_phrase(*.status))]
pub struct Rejection {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    /// The body of a [`Rejection::response`] (its own `Content-Type` among
    /// the headers); `None`: the reason as plain text.
    body: Option<Vec<u8>>,
}

/// The server's decision to accept a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    /// The subprotocol chosen: one the client offered.
    pub subprotocol: Option<String>,
    /// The extensions accepted, each with its parameters; each was offered by name.
    pub extensions: Vec<String>,
    /// Extra response headers (`Set-Cookie`, ...).
    pub headers: Vec<(String, String)>,
}

impl ServerHandshake {
    /// A handshake waiting for its request, within `limits`.
    pub fn new(limits: Limits) -> ServerHandshake {
        ServerHandshake {
            head: HeadReader::new(limits),
            done: false,
            plain: None,
        }
    }

    /// Feeds bytes from the client. `Ok(None)`: more are needed. `Ok(Some)`:
    /// a valid handshake request and the bytes that followed it (frames, to
    /// feed to the connection engine once accepted). `Err`: write
    /// [`Rejection::to_response`] and close the connection.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<(Request, Vec<u8>)>, Rejection> {
        if self.done {
            return Err(Rejection::protocol(500, "the handshake already finished"));
        }
        let (taken, head) = self.head.feed(data);
        let limits = self.head.limits();
        let end = match head {
            Head::Partial => return Ok(None),
            Head::TooLarge => {
                self.done = true;
                // The request line alone does not fit: its target is too long.
                if !self.head.bytes().contains(&b'\n') {
                    let reason = format!(
                        "the request line (its target) exceeds {} bytes",
                        limits.max_header_bytes
                    );
                    return Err(Rejection::protocol(414, reason));
                }
                let reason = format!("request headers exceed {} bytes", limits.max_header_bytes);
                return Err(Rejection::protocol(431, reason));
            }
            Head::Complete { end } => end,
        };
        self.done = true;
        let request = parse_request(
            &self.head.bytes()[..end],
            &mut self.head.header_slots(),
            limits,
        )?;
        if let Err(rejection) = check_request(&request) {
            if !request.headers.has_token("Upgrade", "websocket") {
                self.plain = Some(request);
            }
            return Err(rejection);
        }
        Ok(Some((request, self.head.leftover(end, &data[taken..]))))
    }

    /// After [`ServerHandshake::feed`] refused a plain HTTP request (a valid
    /// GET HTTP/1.1 without `Upgrade: websocket`) with 426: that request,
    /// for a server that answers it itself instead (see
    /// [`Rejection::response`]). `None` after any other refusal.
    pub fn take_plain_request(&mut self) -> Option<Request> {
        self.plain.take()
    }
}

/// Parses and checks a complete request head.
fn parse_request<'h>(
    head: &'h [u8],
    slots: &mut [httparse::Header<'h>],
    limits: Limits,
) -> Result<Request, Rejection> {
    let mut parsed = httparse::Request::new(slots);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Rejection::protocol(400, "incomplete request head"));
        }
        Err(httparse::Error::TooManyHeaders) => {
            let reason = format!("more than {} header lines", limits.max_headers);
            return Err(Rejection::protocol(431, reason));
        }
        Err(httparse::Error::Version) if names_a_version(head) => {
            return Err(version_not_supported());
        }
        Err(e) => {
            return Err(Rejection::protocol(
                400,
                format!("malformed HTTP request: {e}"),
            ));
        }
    }
    if parsed.version != Some(1) {
        return Err(version_not_supported());
    }
    let method = parsed.method.unwrap_or_default();
    if method != "GET" {
        let mut rejection = Rejection::protocol(
            405,
            format!("method {method} not allowed: the WebSocket handshake is a GET"),
        );
        rejection.headers.push(("Allow".into(), "GET".into()));
        return Err(rejection);
    }
    let path = parsed.path.unwrap_or_default();
    if !path.starts_with('/') {
        return Err(Rejection::protocol(
            400,
            "the request target must be a path starting with /",
        ));
    }
    Ok(Request {
        path: path.to_owned(),
        headers: http::to_headers(parsed.headers),
    })
}

/// A 505: the request is HTTP, but not HTTP/1.1 (HTTP/1.0, HTTP/2.0).
fn version_not_supported() -> Rejection {
    Rejection::protocol(
        505,
        "the WebSocket handshake needs HTTP/1.1 (RFC 6455 section 4.1)",
    )
}

/// Whether a request line httparse refused for its version is otherwise
/// well formed and names an HTTP version (`PRI * HTTP/2.0`, `GET / HTTP/3`):
/// a 505 rather than a 400 for garbage.
fn names_a_version(head: &[u8]) -> bool {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let version = version.strip_prefix(b"HTTP/").unwrap_or_default();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let known = match version.iter().position(|&b| b == b'.') {
        Some(dot) => digits(&version[..dot]) && digits(&version[dot + 1..]),
        None => digits(version),
    };
    known && !target.is_empty() && std::str::from_utf8(method).is_ok_and(http::is_token)
}

/// Checks the headers of a GET HTTP/1.1 request.
fn check_request(request: &Request) -> Result<(), Rejection> {
    let headers = &request.headers;
    if !headers.has_token("Upgrade", "websocket") {
        let mut rejection =
            upgrade_required("this endpoint only speaks WebSocket: send Upgrade: websocket");
        rejection
            .headers
            .push(("Upgrade".into(), "websocket".into()));
        return Err(rejection);
    }
    if !headers.has_token("Connection", "Upgrade") {
        return Err(Rejection::protocol(
            400,
            "the Connection header must include Upgrade",
        ));
    }
    match headers.get_all("Host").count() {
        0 => return Err(Rejection::protocol(400, "missing Host header")),
        1 => {}
        _ => return Err(Rejection::protocol(400, "more than one Host header")),
    }
    let versions: Vec<&str> = headers.get_all("Sec-WebSocket-Version").collect();
    match versions[..] {
        ["13"] => {}
        [] => {
            return Err(upgrade_required(
                "missing Sec-WebSocket-Version: only version 13 is supported",
            ));
        }
        _ => {
            let reason = format!(
                "unsupported WebSocket version \"{}\": only 13 is supported",
                versions.join(", ")
            );
            return Err(upgrade_required(&reason));
        }
    }
    let keys: Vec<&str> = headers.get_all("Sec-WebSocket-Key").collect();
    match keys[..] {
        [key] if BASE64.decode(key).is_ok_and(|k| k.len() == 16) => {}
        [] => return Err(Rejection::protocol(400, "missing Sec-WebSocket-Key header")),
        [_] => {
            return Err(Rejection::protocol(
                400,
                "Sec-WebSocket-Key must be 16 bytes encoded in base64",
            ));
        }
        _ => {
            return Err(Rejection::protocol(
                400,
                "more than one Sec-WebSocket-Key header",
            ));
        }
    }
    if let Some(bad) = request
        .subprotocols()
        .into_iter()
        .find(|p| !http::is_token(p))
    {
        return Err(Rejection::protocol(
            400,
            format!("invalid subprotocol \"{}\"", bad.escape_debug()),
        ));
    }
    let has_body = headers.get("Transfer-Encoding").is_some()
        || headers.get_all("Content-Length").any(|n| n != "0");
    if has_body {
        return Err(Rejection::protocol(
            400,
            "a handshake request cannot have a body",
        ));
    }
    Ok(())
}

/// A 426 naming the version this server speaks.
fn upgrade_required(reason: &str) -> Rejection {
    let mut rejection = Rejection::protocol(426, reason);
    rejection
        .headers
        .push(("Sec-WebSocket-Version".into(), "13".into()));
    rejection
}

impl Rejection {
    /// A refusal with `status` and `reason` (sent as the body) and no extra
    /// header. A status outside [`REFUSAL_STATUSES`] is an error.
    pub fn new(status: u16, reason: impl Into<String>) -> Result<Rejection, HandshakeError> {
        if !REFUSAL_STATUSES.contains(&status) {
            return Err(HandshakeError::InvalidRefusalStatus(status));
        }
        Ok(Rejection::protocol(status, reason))
    }

    /// A 500 refusal, for a server that failed to decide (its hook raised).
    pub fn internal_error(reason: impl Into<String>) -> Rejection {
        Rejection::protocol(500, reason)
    }

    /// The protocol's own refusals, whose statuses are known to be valid.
    pub(crate) fn protocol(status: u16, reason: impl Into<String>) -> Rejection {
        debug_assert!(REFUSAL_STATUSES.contains(&status), "{status}");
        Rejection {
            status,
            reason: reason.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// An HTTP response of the server's own instead of the handshake: any
    /// final status 200-599 (a health check's `200 OK`), these headers
    /// (`Content-Type` included, or `text/plain; charset=utf-8` is sent) and
    /// this body. Checked as [`Rejection::add_header`] checks, except that
    /// `Content-Type` is allowed; a status outside 200-599 is an error.
    pub fn response(
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Rejection, HandshakeError> {
        if !RESPONSE_STATUSES.contains(&status) {
            return Err(HandshakeError::InvalidResponseStatus(status));
        }
        for (name, value) in &headers {
            http::check_extra_header(name, value, &RESERVED_REFUSAL[1..])?;
        }
        Ok(Rejection {
            status,
            reason: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            headers,
            body: Some(body),
        })
    }

    /// Adds a response header: its name must be an HTTP token, its value
    /// free of control characters, and it must not be one the refusal writes
    /// itself (`Content-Type`, `Content-Length`, `Connection`,
    /// `Transfer-Encoding`); otherwise it is an error and nothing is added.
    pub fn add_header(
        &mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), HandshakeError> {
        let (name, value) = (name.into(), value.into());
        http::check_extra_header(&name, &value, RESERVED_REFUSAL)?;
        self.headers.push((name, value));
        Ok(())
    }

    /// [`Rejection::add_header`], for chaining.
    pub fn with_header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Rejection, HandshakeError> {
        self.add_header(name, value)?;
        Ok(self)
    }

    /// The HTTP status (400, 401, 403, 426, 431, ...).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason, sent as the body (of a [`Rejection::response`]: the
    /// start of its body, as text).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The body sent: the reason, or a [`Rejection::response`]'s body.
    pub fn body(&self) -> &[u8] {
        self.body.as_deref().unwrap_or(self.reason.as_bytes())
    }

    /// Extra response headers (`Sec-WebSocket-Version`, `WWW-Authenticate`, ...).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The HTTP response: status line with the standard reason phrase,
    /// `Content-Type: text/plain`, `Content-Length`, `Connection: close`, the
    /// extra headers and the reason as the body.
    pub fn to_response(&self) -> Vec<u8> {
        let status = self.status;
        let mut out = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).into_bytes();
        let extra = self.headers.iter();
        let upgrade = extra
            .clone()
            .any(|(name, _)| name.eq_ignore_ascii_case("Upgrade"));
        let typed = extra
            .clone()
            .any(|(name, _)| name.eq_ignore_ascii_case("Content-Type"));
        if !typed {
            http::write_header(&mut out, "Content-Type", "text/plain; charset=utf-8");
        }
        let body = self.body();
        http::write_header(&mut out, "Content-Length", &body.len().to_string());
        http::write_header(
            &mut out,
            "Connection",
            if upgrade { "Upgrade, close" } else { "close" },
        );
        for (name, value) in extra {
            http::write_header(&mut out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }
}

/// The 101 response accepting `request`. Fails if `accept` names a
/// subprotocol or extension the client did not offer, or an extra header that
/// is invalid or one of the handshake's own.
pub fn accept_response(request: &Request, accept: &Accept) -> Result<Vec<u8>, HandshakeError> {
    if let Some(p) = &accept.subprotocol {
        if !http::is_token(p) {
            return Err(HandshakeError::InvalidSubprotocol(p.clone()));
        }
        if !request.subprotocols().contains(&p.as_str()) {
            return Err(HandshakeError::SubprotocolNotOffered(p.clone()));
        }
    }
    for ext in &accept.extensions {
        http::check_extension(ext)?;
    }
    let offered: Vec<&str> = request
        .extensions()
        .into_iter()
        .map(http::extension_name)
        .collect();
    http::check_chosen_extensions(accept.extensions.iter().map(String::as_str), &offered)?;
    for (name, value) in &accept.headers {
        http::check_extra_header(name, value, RESERVED_ACCEPT)?;
    }

    let mut out = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    http::write_header(&mut out, "Upgrade", "websocket");
    http::write_header(&mut out, "Connection", "Upgrade");
    http::write_header(&mut out, "Sec-WebSocket-Accept", &accept_key(request.key()));
    if let Some(p) = &accept.subprotocol {
        http::write_header(&mut out, "Sec-WebSocket-Protocol", p);
    }
    if !accept.extensions.is_empty() {
        http::write_header(
            &mut out,
            "Sec-WebSocket-Extensions",
            &accept.extensions.join(", "),
        );
    }
    for (name, value) in &accept.headers {
        http::write_header(&mut out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// The first of the server's `supported` subprotocols (its order of
/// preference) that the client `offered`.
pub fn select_subprotocol<A: AsRef<str>, B: AsRef<str>>(
    offered: &[A],
    supported: &[B],
) -> Option<String> {
    supported
        .iter()
        .map(AsRef::as_ref)
        .find(|s| offered.iter().any(|o| o.as_ref() == *s))
        .map(str::to_owned)
}

/// Checks the request's `Origin` against an allow-list (`https://example.com`,
/// compared as origins: scheme and host case-insensitive, default ports
/// implied). A missing or unlisted Origin is refused with 403.
pub fn check_origin(request: &Request, allowed: &[String]) -> Result<(), Rejection> {
    let Some(origin) = request.origin() else {
        return Err(Rejection::protocol(403, "missing Origin header"));
    };
    let origin_key = normalize_origin(origin);
    if allowed.iter().any(|a| normalize_origin(a) == origin_key) {
        return Ok(());
    }
    Err(Rejection::protocol(
        403,
        format!("origin \"{}\" is not allowed", origin.escape_debug()),
    ))
}

/// An origin's ASCII serialisation (`https://example.com`, no default port),
/// or the lowercased text when it is not a URL (`null`).
fn normalize_origin(origin: &str) -> String {
    let origin = origin.trim();
    url::Url::parse(origin)
        .ok()
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
        .map(|o| o.ascii_serialization())
        .unwrap_or_else(|| origin.to_ascii_lowercase())
}

#[cfg(test)]
mod tests;
