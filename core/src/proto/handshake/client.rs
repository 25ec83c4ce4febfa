//! The client side of the opening handshake.
//!
//! ```text
//! let mut hs = ClientHandshake::new(&url, &options)?;
//! write_all(hs.request());
//! loop {
//!     match hs.feed(&bytes_from_socket)? {   // Err: refused; Status carries the body
//!         Some(accepted) => break,          // feed accepted.leftover to the Connection
//!         None => continue,                 // need more bytes
//!     }
//! }
//! // peer closed first: report hs.feed_eof()
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::http::{self, Head, HeadReader};
use super::{HandshakeError, Headers, Limits, Response, accept_key};
use crate::proto::extension::deflate::{Agreement, DeflateConfig, accept_answer};
use crate::proto::url::WsUrl;

/// The most body bytes kept from a refusal (a non-101 response).
pub const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// Headers the handshake writes itself: extra headers may not repeat them.
/// (`Host` may be given once, to replace the URL's.)
const RESERVED: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Origin",
    "Content-Length",
    "Transfer-Encoding",
];

/// What a client asks for in its handshake request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// Subprotocols offered, in order of preference (each an HTTP token).
    pub subprotocols: Vec<String>,
    /// Extension offers, each with its parameters, as sent
    /// (`permessage-deflate; client_max_window_bits`).
    pub extensions: Vec<String>,
    /// The `Origin` header, if any.
    pub origin: Option<String>,
    /// Extra headers (Authorization, Cookie, ...). A `Host` header here
    /// replaces the one made from the URL; the handshake's own headers are refused.
    pub headers: Vec<(String, String)>,
    /// Limits on the response's header block.
    pub limits: Limits,
    /// permessage-deflate to offer (after `extensions`, which should then
    /// not offer it too), and to check the server's answer against; `None`
    /// offers no compression.
    pub deflate: Option<DeflateConfig>,
}

/// A successful handshake: the server answered a valid 101.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The server's 101 response.
    pub response: Response,
    /// The subprotocol the server chose (one of those offered).
    pub subprotocol: Option<String>,
    /// The extensions the server accepted, each with its parameters, in the
    /// server's order (each was offered, by name).
    pub extensions: Vec<String>,
    /// The permessage-deflate agreement, when the server accepted the offer
    /// of [`ClientOptions::deflate`]: pass it to
    /// [`Connection::enable_deflate`](crate::proto::Connection::enable_deflate).
    pub deflate: Option<Agreement>,
    /// Bytes that followed the response (the first frames): feed them to the
    /// connection engine.
    pub leftover: Vec<u8>,
}

/// The client's handshake: the request to write, then the response parsed
/// from bytes fed in any pieces.
#[derive(Debug)]
pub struct ClientHandshake {
    key: String,
    request: Vec<u8>,
    subprotocols: Vec<String>,
    extension_names: Vec<String>,
    deflate: Option<DeflateConfig>,
    head: HeadReader,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Reading the status line and headers.
    Head,
    /// Reading the body of a refusal, up to `need` bytes.
    Body { response: Response, need: usize },
    /// Accepted or failed.
    Done,
}

impl ClientHandshake {
    /// Builds the request for `url` with a fresh random key. Fails on an
    /// option that would break or inject into the request.
    pub fn new(url: &WsUrl, options: &ClientOptions) -> Result<ClientHandshake, HandshakeError> {
        let mut nonce = [0u8; 16];
        crate::proto::random::fill(&mut nonce)
            .map_err(|e| HandshakeError::Random(e.to_string()))?;
        ClientHandshake::with_nonce(url, options, nonce)
    }

    fn with_nonce(
        url: &WsUrl,
        options: &ClientOptions,
        nonce: [u8; 16],
    ) -> Result<ClientHandshake, HandshakeError> {
        let key = BASE64.encode(nonce);
        let host = host_header(url, options)?;
        if !url.resource.starts_with('/') || !is_visible_ascii(&url.resource) {
            return Err(HandshakeError::InvalidUrl(url.resource.clone()));
        }
        check_subprotocols(&options.subprotocols)?;
        let mut extensions = options.extensions.clone();
        if let Some(deflate) = &options.deflate {
            deflate
                .check()
                .map_err(HandshakeError::InvalidDeflateConfig)?;
            extensions.push(deflate.offer());
        }
        let extension_names = extensions
            .iter()
            .map(|e| http::check_extension(e).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(origin) = &options.origin {
            http::check_header("Origin", origin)?;
        }

        let mut request = Vec::with_capacity(256);
        request.extend_from_slice(b"GET ");
        request.extend_from_slice(url.resource.as_bytes());
        request.extend_from_slice(b" HTTP/1.1\r\n");
        http::write_header(&mut request, "Host", &host);
        http::write_header(&mut request, "Upgrade", "websocket");
        http::write_header(&mut request, "Connection", "Upgrade");
        http::write_header(&mut request, "Sec-WebSocket-Key", &key);
        http::write_header(&mut request, "Sec-WebSocket-Version", "13");
        if let Some(origin) = &options.origin {
            http::write_header(&mut request, "Origin", origin);
        }
        if !options.subprotocols.is_empty() {
            http::write_header(
                &mut request,
                "Sec-WebSocket-Protocol",
                &options.subprotocols.join(", "),
            );
        }
        if !extensions.is_empty() {
            http::write_header(
                &mut request,
                "Sec-WebSocket-Extensions",
                &extensions.join(", "),
            );
        }
        for (name, value) in &options.headers {
            if !name.eq_ignore_ascii_case("Host") {
                http::write_header(&mut request, name, value);
            }
        }
        request.extend_from_slice(b"\r\n");

        Ok(ClientHandshake {
            key,
            request,
            subprotocols: options.subprotocols.clone(),
            extension_names,
            deflate: options.deflate.clone(),
            head: HeadReader::new(options.limits),
            state: State::Head,
        })
    }

    /// The request bytes to write to the server.
    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Feeds bytes from the server. `Ok(None)`: more are needed. `Ok(Some)`:
    /// the server accepted; later bytes are in [`Accepted::leftover`]. `Err`:
    /// the handshake failed and the connection should be closed; a refusal
    /// ([`HandshakeError::Status`]) carries the status, headers and body.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<Accepted>, HandshakeError> {
        match &mut self.state {
            State::Done => Err(HandshakeError::Finished),
            State::Body { response, need } => {
                let take = (*need - response.body.len()).min(data.len());
                response.body.extend_from_slice(&data[..take]);
                if response.body.len() < *need {
                    return Ok(None);
                }
                Err(self.feed_eof())
            }
            State::Head => self.feed_head(data),
        }
    }

    /// What to report when the server closed the connection before the
    /// handshake finished (or the handshake timed out): the refusal with the
    /// body so far if a non-101 status line arrived, else
    /// [`HandshakeError::ConnectionClosed`].
    pub fn feed_eof(&mut self) -> HandshakeError {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Done => HandshakeError::Finished,
            State::Body { response, .. } => refused(response),
            State::Head => match self.partial_refusal() {
                Some(response) => refused(response),
                None => HandshakeError::ConnectionClosed,
            },
        }
    }

    fn feed_head(&mut self, data: &[u8]) -> Result<Option<Accepted>, HandshakeError> {
        let (taken, head) = self.head.feed(data);
        let end = match head {
            Head::Partial => return Ok(None),
            Head::TooLarge => {
                self.state = State::Done;
                return Err(HandshakeError::HeadersTooLarge {
                    limit: self.head.limits().max_header_bytes,
                });
            }
            Head::Complete { end } => end,
        };
        self.state = State::Done;
        let response = parse_response(
            &self.head.bytes()[..end],
            &mut self.head.header_slots(),
            self.head.limits(),
        )?;
        let leftover = self.head.leftover(end, &data[taken..]);
        if response.status == 101 {
            return self.accept(response, leftover).map(Some);
        }
        let need = body_length(&response)
            .unwrap_or(leftover.len())
            .min(MAX_REFUSAL_BODY);
        let mut response = response;
        response.body = leftover;
        response.body.truncate(need);
        if response.body.len() < need {
            self.state = State::Body { response, need };
            return Ok(None);
        }
        Err(refused(response))
    }

    /// The status line of an unfinished head, when it is a refusal.
    fn partial_refusal(&self) -> Option<Response> {
        let bytes = self.head.bytes();
        let line = &bytes[..bytes.iter().position(|&b| b == b'\n')?];
        let mut head = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
        head.extend_from_slice(b"\r\n\r\n");
        let response = parse_response(&head, &mut [], self.head.limits()).ok()?;
        (response.status != 101).then_some(response)
    }

    /// Checks a 101 response against RFC 6455 section 4.2.2.
    fn accept(&self, response: Response, leftover: Vec<u8>) -> Result<Accepted, HandshakeError> {
        let headers = &response.headers;
        if !headers.has_token("Upgrade", "websocket") {
            return Err(HandshakeError::UpgradeMismatch {
                found: headers.get("Upgrade").map(str::to_owned),
            });
        }
        if !headers.has_token("Connection", "Upgrade") {
            return Err(HandshakeError::ConnectionMismatch {
                found: headers.get("Connection").map(str::to_owned),
            });
        }
        let expected = accept_key(&self.key);
        let found = headers.get("Sec-WebSocket-Accept");
        if found != Some(expected.as_str()) {
            return Err(HandshakeError::AcceptMismatch {
                expected,
                found: found.map(str::to_owned),
            });
        }
        let subprotocol = self.chosen_subprotocol(headers)?;
        let extensions = self.accepted_extensions(headers)?;
        let deflate = match &self.deflate {
            Some(config) => accept_answer(config, extensions.iter().map(String::as_str))?,
            None => None,
        };
        Ok(Accepted {
            response,
            subprotocol,
            extensions,
            deflate,
            leftover,
        })
    }

    fn chosen_subprotocol(&self, headers: &Headers) -> Result<Option<String>, HandshakeError> {
        let chosen: Vec<&str> = headers.list("Sec-WebSocket-Protocol").collect();
        match chosen[..] {
            [] => Ok(None),
            [one] if self.subprotocols.iter().any(|p| p == one) => Ok(Some(one.to_owned())),
            [one] => Err(HandshakeError::SubprotocolNotOffered(one.to_owned())),
            _ => Err(HandshakeError::MultipleSubprotocols(chosen.join(", "))),
        }
    }

    fn accepted_extensions(&self, headers: &Headers) -> Result<Vec<String>, HandshakeError> {
        let offered: Vec<&str> = self.extension_names.iter().map(String::as_str).collect();
        http::check_chosen_extensions(headers.list("Sec-WebSocket-Extensions"), &offered)
    }
}

/// The `Host` header: the application's if it gave one, else the URL's.
fn host_header(url: &WsUrl, options: &ClientOptions) -> Result<String, HandshakeError> {
    let mut host = None;
    for (name, value) in &options.headers {
        http::check_extra_header(name, value, RESERVED)?;
        if name.eq_ignore_ascii_case("Host") {
            if host.is_some() {
                return Err(HandshakeError::DuplicateHeader("Host".to_owned()));
            }
            host = Some(value.clone());
        }
    }
    let host = host.unwrap_or_else(|| url.host_header());
    if host.is_empty() || !is_visible_ascii(&host) || host.contains(['/', '?', '#', '@']) {
        return Err(HandshakeError::InvalidUrl(host));
    }
    Ok(host)
}

fn check_subprotocols(subprotocols: &[String]) -> Result<(), HandshakeError> {
    for (i, p) in subprotocols.iter().enumerate() {
        if !http::is_token(p) {
            return Err(HandshakeError::InvalidSubprotocol(p.clone()));
        }
        if subprotocols[..i].contains(p) {
            return Err(HandshakeError::DuplicateSubprotocol(p.clone()));
        }
    }
    Ok(())
}

fn is_visible_ascii(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic())
}

/// Parses a complete response head.
fn parse_response<'h>(
    head: &'h [u8],
    slots: &mut [httparse::Header<'h>],
    limits: Limits,
) -> Result<Response, HandshakeError> {
    let mut parsed = httparse::Response::new(slots);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HandshakeError::Malformed("incomplete header block".into()));
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HandshakeError::TooManyHeaders {
                limit: limits.max_headers,
            });
        }
        Err(e) => return Err(HandshakeError::Malformed(e.to_string())),
    }
    Ok(Response {
        status: parsed.code.unwrap_or_default(),
        reason: parsed.reason.unwrap_or_default().to_owned(),
        headers: http::to_headers(parsed.headers),
        body: Vec::new(),
    })
}

/// The length of a refusal's body when the headers tell it: none for 1xx,
/// 204 and 304, else `Content-Length` unless the body is chunked.
fn body_length(response: &Response) -> Option<usize> {
    if matches!(response.status, 100..=199 | 204 | 304) {
        return Some(0);
    }
    if response.headers.get("Transfer-Encoding").is_some() {
        return None;
    }
    response.headers.get("Content-Length")?.parse().ok()
}

fn refused(response: Response) -> HandshakeError {
    HandshakeError::Status {
        status: response.status,
        response,
    }
}

#[cfg(test)]
mod tests;
