//! The bits of HTTP/1.1 both sides share: finding the end of a header block,
//! checking tokens and header fields before they are written, and reason
//! phrases.

use super::{HandshakeError, Headers, Limits};

/// Whether `s` is an HTTP token (RFC 9110 section 5.6.2): not empty, only
/// letters, digits, the backtick and `!#$%&'*+-.^_|~`. Header names and
/// subprotocols are tokens.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether a header value may be written as is: no control character other
/// than horizontal tab (so no CR, LF or NUL).
pub fn is_safe_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Checks a header given by the application before it is written: the name
/// an HTTP token ([`is_token`]), the value free of control characters
/// ([`is_safe_value`]).
pub fn check_header(name: &str, value: &str) -> Result<(), HandshakeError> {
    if !is_token(name) {
        return Err(HandshakeError::InvalidHeaderName(name.to_owned()));
    }
    if !is_safe_value(value) {
        return Err(HandshakeError::InvalidHeaderValue(name.to_owned()));
    }
    Ok(())
}

/// Checks an extra header given by the application: valid, and not one of
/// the handshake's own (`reserved`).
pub(super) fn check_extra_header(
    name: &str,
    value: &str,
    reserved: &[&str],
) -> Result<(), HandshakeError> {
    check_header(name, value)?;
    match reserved.iter().find(|r| r.eq_ignore_ascii_case(name)) {
        Some(r) => Err(HandshakeError::ReservedHeader((*r).to_owned())),
        None => Ok(()),
    }
}

/// Checks the extensions a server chose against the names offered: each
/// offered (case-insensitive) and none twice.
pub(super) fn check_chosen_extensions<'a>(
    chosen: impl IntoIterator<Item = &'a str>,
    offered: &[&str],
) -> Result<Vec<String>, HandshakeError> {
    let mut accepted: Vec<String> = Vec::new();
    for ext in chosen {
        let name = extension_name(ext);
        if !offered.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return Err(HandshakeError::ExtensionNotOffered(name.to_owned()));
        }
        if accepted
            .iter()
            .any(|a| extension_name(a).eq_ignore_ascii_case(name))
        {
            return Err(HandshakeError::DuplicateExtension(name.to_owned()));
        }
        accepted.push(ext.to_owned());
    }
    Ok(accepted)
}

/// Checks an extension offer or answer: a safe value whose first element
/// (before `;`) is a token.
pub(super) fn check_extension(ext: &str) -> Result<&str, HandshakeError> {
    let name = extension_name(ext);
    if !is_token(name) || !is_safe_value(ext) || ext.contains(',') {
        return Err(HandshakeError::InvalidExtension(ext.to_owned()));
    }
    Ok(name)
}

/// The name of an extension offer: what precedes the first `;`, trimmed.
pub(super) fn extension_name(ext: &str) -> &str {
    ext.split(';').next().unwrap_or("").trim()
}

/// Appends `name: value\r\n`.
pub(super) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Collects a header block's bytes until its blank line, within [`Limits`].
#[derive(Debug)]
pub(super) struct HeadReader {
    limits: Limits,
    buf: Vec<u8>,
}

/// What a [`HeadReader`] found after a feed.
pub(super) enum Head {
    /// More bytes are needed.
    Partial,
    /// The header block is complete: `buf[..end]` is the head, the rest (and
    /// the bytes of the feed that were not copied) follow it.
    Complete { end: usize },
    /// The head is longer than the limit.
    TooLarge,
}

impl HeadReader {
    pub(super) fn new(limits: Limits) -> HeadReader {
        HeadReader {
            limits,
            buf: Vec::new(),
        }
    }

    pub(super) fn limits(&self) -> Limits {
        self.limits
    }

    /// Copies at most what the limit allows from `data` and looks for the
    /// blank line. Returns how many bytes of `data` were taken and what was
    /// found.
    pub(super) fn feed(&mut self, data: &[u8]) -> (usize, Head) {
        let room = (self.limits.max_header_bytes + 1).saturating_sub(self.buf.len());
        let taken = data.len().min(room);
        let from = self.buf.len().saturating_sub(2);
        self.buf.extend_from_slice(&data[..taken]);
        match find_head_end(&self.buf, from) {
            Some(end) if end <= self.limits.max_header_bytes => (taken, Head::Complete { end }),
            Some(_) => (taken, Head::TooLarge),
            None if self.buf.len() > self.limits.max_header_bytes => (taken, Head::TooLarge),
            None => (taken, Head::Partial),
        }
    }

    /// The bytes collected so far.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Room for httparse's header array: the limit, but never more than the
    /// head could hold (each header line takes at least three bytes).
    pub(super) fn header_slots<'h>(&self) -> Vec<httparse::Header<'h>> {
        let slots = self
            .limits
            .max_headers
            .min(self.limits.max_header_bytes / 3 + 1);
        vec![httparse::EMPTY_HEADER; slots]
    }

    /// Bytes that followed the head: the rest of the buffer and what was not
    /// copied from the last feed.
    pub(super) fn leftover(&self, end: usize, rest_of_feed: &[u8]) -> Vec<u8> {
        let mut out = self.buf[end..].to_vec();
        out.extend_from_slice(rest_of_feed);
        out
    }
}

/// The index just past the blank line ending a header block, searching line
/// ends at or after `from`. Lines may end in CRLF or a bare LF.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(pos) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + pos;
        let blank = (nl >= 1 && buf[nl - 1] == b'\n')
            || (nl >= 2 && buf[nl - 1] == b'\r' && buf[nl - 2] == b'\n');
        if blank {
            return Some(nl + 1);
        }
        i = nl + 1;
    }
    None
}

/// Converts httparse's headers, decoding values as UTF-8 (invalid bytes
/// become U+FFFD).
pub(super) fn to_headers(raw: &[httparse::Header<'_>]) -> Headers {
    Headers(
        raw.iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).trim().to_owned(),
                )
            })
            .collect(),
    )
}

/// The standard reason phrase of an HTTP status, empty when unknown.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Cuts `data` at `points` (each taken modulo `data.len() + 1`), for tests
/// that feed the same bytes in any split.
#[cfg(test)]
pub(super) fn split_at_points<'a>(data: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = points.iter().map(|p| p % (data.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for p in points.into_iter().chain([data.len()]) {
        chunks.push(&data[start..p]);
        start = p;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_crlf_and_lf() {
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest", 0),
            Some(24)
        );
        assert_eq!(find_head_end(b"GET / HTTP/1.1\nA: b\n\nrest", 0), Some(21));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0), None);
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r", 0), None);
    }

    #[test]
    fn tokens_and_values() {
        assert!(is_token("Sec-WebSocket-Key"));
        assert!(is_token("chat.v2+json"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a,b"));
        assert!(!is_token("a:b"));
        assert!(!is_token("caf\u{e9}"));
        assert!(is_safe_value("Bearer abc\tdef"));
        assert!(!is_safe_value("a\r\nb"));
        assert!(!is_safe_value("a\0b"));
        assert!(!is_safe_value("a\x7fb"));
    }

    #[test]
    fn reader_respects_the_limit() {
        let limits = Limits {
            max_header_bytes: 16,
            max_headers: 4,
        };
        let mut r = HeadReader::new(limits);
        let (taken, found) = r.feed(&[b'a'; 100]);
        assert_eq!(taken, 17);
        assert!(matches!(found, Head::TooLarge));
        let mut r = HeadReader::new(limits);
        let (taken, found) = r.feed(b"GET / HTTP/1.1\r\n\r\nxyz0123456789");
        assert_eq!(taken, 17);
        assert!(matches!(found, Head::TooLarge));
        let mut r = HeadReader::new(limits);
        let data = b"HTTP/1.1 101\r\n\r\nframes after it";
        let (taken, found) = r.feed(data);
        let Head::Complete { end } = found else {
            panic!("head not found")
        };
        assert_eq!(end, 16);
        assert_eq!(r.leftover(end, &data[taken..]), b"frames after it");
    }
}
