//! The structs callbacks receive, and their conversion from the core's events.
//! Everything here is borrowed by the callback for the duration of the call.

use std::ffi::{CString, c_char};
use std::time::Duration;

use wsx_core::net::{Close, CloseOrigin, ConnState, Error, Open, Timeout, Upgrade};
use wsx_core::proto::MessageKind;
use wsx_core::proto::handshake::Headers;

use crate::result::wsx_result;

/// The kind of a data message.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsx_msg_kind {
    /// A text message: its bytes are valid UTF-8 (not NUL-terminated).
    WSX_MSG_KIND_TEXT = 1,
    /// A binary message.
    WSX_MSG_KIND_BINARY = 2,
}

impl wsx_msg_kind {
    pub(crate) fn from_core(kind: MessageKind) -> wsx_msg_kind {
        match kind {
            MessageKind::Text => wsx_msg_kind::WSX_MSG_KIND_TEXT,
            MessageKind::Binary => wsx_msg_kind::WSX_MSG_KIND_BINARY,
        }
    }
}

/// A `wsx_msg_kind` as C passes it (the header names it `wsx_msg_kind`): any
/// integer reaches Rust soundly and is checked before use.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct MsgKindArg(pub u32);

impl MsgKindArg {
    /// The core's kind, or `WSX_ERR_INVALID_ARGUMENT` for a value outside the enum.
    pub(crate) fn to_core(self) -> Result<MessageKind, crate::boundary::Failure> {
        match self.0 {
            1 => Ok(MessageKind::Text),
            2 => Ok(MessageKind::Binary),
            other => Err(crate::boundary::Failure::invalid(format!(
                "unknown message kind {other}"
            ))),
        }
    }
}

/// The state of a connection (`wsx_conn_state`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsx_state {
    /// Resolving, connecting, or in the TLS or WebSocket handshake (also a
    /// reconnecting client between connections).
    WSX_STATE_CONNECTING = 0,
    /// Open for messages.
    WSX_STATE_OPEN = 1,
    /// The close handshake is under way.
    WSX_STATE_CLOSING = 2,
    /// Closed.
    WSX_STATE_CLOSED = 3,
}

impl wsx_state {
    pub(crate) fn from_core(state: ConnState) -> wsx_state {
        match state {
            ConnState::Connecting => wsx_state::WSX_STATE_CONNECTING,
            ConnState::Open => wsx_state::WSX_STATE_OPEN,
            ConnState::Closing => wsx_state::WSX_STATE_CLOSING,
            ConnState::Closed => wsx_state::WSX_STATE_CLOSED,
        }
    }
}

/// Which side began the close of a connection.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsx_close_origin {
    /// This side sent the first close frame: the application closed, a
    /// server shut down, or the library failed the connection.
    WSX_CLOSE_ORIGIN_LOCAL = 1,
    /// The peer's close frame came first.
    WSX_CLOSE_ORIGIN_REMOTE = 2,
    /// No close frame passed: the transport dropped, a timeout passed, or
    /// the connection never opened (code 1006).
    WSX_CLOSE_ORIGIN_TRANSPORT = 3,
}

impl wsx_close_origin {
    pub(crate) fn from_core(origin: CloseOrigin) -> wsx_close_origin {
        match origin {
            CloseOrigin::Local => wsx_close_origin::WSX_CLOSE_ORIGIN_LOCAL,
            CloseOrigin::Remote => wsx_close_origin::WSX_CLOSE_ORIGIN_REMOTE,
            CloseOrigin::Transport => wsx_close_origin::WSX_CLOSE_ORIGIN_TRANSPORT,
        }
    }
}

/// A received message (or, in streaming mode, a piece of one).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wsx_message {
    /// Text or binary.
    pub kind: wsx_msg_kind,
    /// The payload, borrowed for the callback only (not NUL-terminated).
    pub data: *const u8,
    /// The payload's length in bytes.
    pub len: usize,
    /// Whether this is the last piece of the message (always true unless
    /// streaming is on).
    pub fin: bool,
}

/// One HTTP header field, as NUL-terminated strings.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wsx_header {
    /// The field name, as received.
    pub name: *const c_char,
    /// The field value.
    pub value: *const c_char,
}

/// A certificate, DER encoded (of a client's chain, mutual TLS). A frozen
/// pair, like `wsx_header`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wsx_cert {
    /// The certificate's DER bytes.
    pub der: *const u8,
    /// Their length.
    pub len: usize,
}

/// The open event: the handshake succeeded.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wsx_open {
    /// The negotiated subprotocol, or NULL.
    pub subprotocol: *const c_char,
    /// Client side: the response status (101). Server side: 0.
    pub status: u16,
    /// Server side: the request target (path and query). Client side: NULL.
    pub path: *const c_char,
    /// The response headers (client side) or request headers (server side).
    pub headers: *const wsx_header,
    /// The number of entries in `headers`.
    pub headers_len: usize,
    /// The peer's address as text, `ip:port` (`[ip]:port` for IPv6); the
    /// proxy's when connected through one. Over a Unix domain socket, which
    /// has no IP address, "unix:" and the socket's path (a client sees the
    /// server's path; a server sees "unix:" alone, as a client's socket is
    /// unnamed), as nginx's `$remote_addr` writes it.
    pub peer_addr: *const c_char,
    /// Client side: whether this open follows an earlier attempt of the same
    /// connection (a reconnect): the time to re-subscribe. Server side: false.
    pub is_reconnect: bool,
}

/// The close event: the last event of a connection.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wsx_close {
    /// The peer's close code, ours if we failed the connection, or 1006 when
    /// the transport dropped without a close handshake.
    pub code: u16,
    /// The reason, UTF-8, NUL-terminated (it may also contain NULs: use `reason_len`).
    pub reason: *const c_char,
    /// The reason's length in bytes, without the terminating NUL.
    pub reason_len: usize,
    /// Whether both close frames passed before the transport closed.
    pub clean: bool,
    /// Who began the close.
    pub origin: wsx_close_origin,
    /// Whether both sides closed with 1000, 1001 or 1005.
    pub normal: bool,
}

/// An error event.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wsx_error {
    /// What kind of failure.
    pub code: wsx_result,
    /// A message a person understands, NUL-terminated.
    pub message: *const c_char,
    /// The HTTP status of a refused handshake, 0 otherwise.
    pub http_status: u16,
    /// Which timeout passed, when `code` is `WSX_ERR_TIMEOUT`.
    pub timeout: wsx_timeout,
    /// The operating system's error number behind the failure (errno, or
    /// the WSA code on Windows; ECONNREFUSED for a refused connect), 0 when
    /// none.
    pub os_error: i32,
    /// A refused handshake's response headers (`WWW-Authenticate`,
    /// `Retry-After`, ...); NULL and 0 otherwise.
    pub headers: *const wsx_header,
    /// The number of entries in `headers`.
    pub headers_len: usize,
    /// A refused handshake's response body (not NUL-terminated); NULL and 0
    /// otherwise.
    pub body: *const u8,
    /// The body's length in bytes.
    pub body_len: usize,
}

/// Which timeout ended an attempt or a connection (`wsx_error.timeout`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsx_timeout {
    /// Not a timeout.
    WSX_TIMEOUT_NONE = 0,
    /// Opening: resolving, connecting, the before-connect decision, the TLS
    /// or WebSocket handshake (the connect and handshake timeouts).
    WSX_TIMEOUT_OPEN = 1,
    /// A keepalive ping got no pong in time.
    WSX_TIMEOUT_KEEPALIVE = 2,
    /// Nothing was received for the idle timeout.
    WSX_TIMEOUT_IDLE = 3,
    /// The peer did not finish the close handshake in time.
    WSX_TIMEOUT_CLOSE = 4,
}

impl wsx_timeout {
    fn from_core(timeout: Option<Timeout>) -> wsx_timeout {
        match timeout {
            None => wsx_timeout::WSX_TIMEOUT_NONE,
            Some(Timeout::Open) => wsx_timeout::WSX_TIMEOUT_OPEN,
            Some(Timeout::Keepalive) => wsx_timeout::WSX_TIMEOUT_KEEPALIVE,
            Some(Timeout::Idle) => wsx_timeout::WSX_TIMEOUT_IDLE,
            Some(Timeout::Close) => wsx_timeout::WSX_TIMEOUT_CLOSE,
        }
    }
}

/// A received ping.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wsx_ping {
    /// The ping's payload (up to 125 bytes).
    pub data: *const u8,
    /// The payload's length.
    pub len: usize,
}

/// A received pong.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wsx_pong {
    /// The pong's payload (up to 125 bytes).
    pub data: *const u8,
    /// The payload's length.
    pub len: usize,
    /// The round trip of the ping it answers in microseconds, or -1 when it
    /// answers none of ours.
    pub rtt_us: i64,
}

/// A handshake request under decision on the server.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wsx_request {
    /// The request target: path and query.
    pub path: *const c_char,
    /// Every request header.
    pub headers: *const wsx_header,
    /// The number of entries in `headers`.
    pub headers_len: usize,
    /// The `Origin` header, or NULL.
    pub origin: *const c_char,
    /// The peer's address as text, as in `wsx_open` ("unix:" for a client
    /// of a server on a Unix domain socket).
    pub peer_addr: *const c_char,
    /// The subprotocol the server will answer with unless changed: the first
    /// of its list that the client offered, or NULL.
    pub subprotocol: *const c_char,
    /// A plain HTTP request (no `Upgrade: websocket`; only with
    /// `wsx_server_options_set_plain_http`): answer it with
    /// `wsx_upgrade_respond`; accepted, it gets `426 Upgrade Required`.
    pub plain_http: bool,
    /// Mutual TLS: the subject of the client's verified certificate, RFC 4514
    /// text, most specific first (`CN=alice,O=Example`), or NULL when the
    /// client sent none (or without TLS). An empty string if it could not be
    /// read.
    pub peer_subject: *const c_char,
    /// Mutual TLS: the client's certificate chain as sent, leaf first
    /// (`peer_certs_len` entries; NULL when none).
    pub peer_certs: *const wsx_cert,
    /// The number of entries in `peer_certs`.
    pub peer_certs_len: usize,
}

/// A C string from Rust text; NULs (impossible in parsed HTTP) become spaces.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

fn opt_ptr(text: &Option<CString>) -> *const c_char {
    text.as_ref().map_or(std::ptr::null(), |text| text.as_ptr())
}

/// Header fields converted for C, owning their strings.
pub(crate) struct CHeaders {
    _strings: Vec<(CString, CString)>,
    fields: Vec<wsx_header>,
}

impl CHeaders {
    pub(crate) fn new(headers: &Headers) -> CHeaders {
        let strings: Vec<(CString, CString)> = headers
            .0
            .iter()
            .map(|(name, value)| (c_string(name), c_string(value)))
            .collect();
        let fields = strings
            .iter()
            .map(|(name, value)| wsx_header {
                name: name.as_ptr(),
                value: value.as_ptr(),
            })
            .collect();
        CHeaders {
            _strings: strings,
            fields,
        }
    }

    pub(crate) fn ptr(&self) -> *const wsx_header {
        self.fields.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }
}

/// The value of the first header named `name` (ASCII case-insensitive).
pub(crate) fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .0
        .iter()
        .find(|(field, _)| field.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// An open event converted for C, owning its strings.
pub(crate) struct COpen {
    _subprotocol: Option<CString>,
    _path: Option<CString>,
    _headers: CHeaders,
    _peer: CString,
    pub(crate) event: wsx_open,
}

impl COpen {
    pub(crate) fn new(open: &Open<'_>) -> COpen {
        let subprotocol = open.subprotocol.map(c_string);
        let path = open.request.map(|request| c_string(&request.path));
        let empty = Headers::default();
        let headers = match (open.response, open.request) {
            (Some(response), _) => &response.headers,
            (None, Some(request)) => &request.headers,
            (None, None) => &empty,
        };
        let headers = CHeaders::new(headers);
        let peer = c_string(&open.peer_addr.to_string());
        let event = wsx_open {
            subprotocol: opt_ptr(&subprotocol),
            status: open.response.map_or(0, |response| response.status),
            path: opt_ptr(&path),
            headers: headers.ptr(),
            headers_len: headers.len(),
            peer_addr: peer.as_ptr(),
            is_reconnect: open.reconnect,
        };
        COpen {
            _subprotocol: subprotocol,
            _path: path,
            _headers: headers,
            _peer: peer,
            event,
        }
    }
}

/// A close event converted for C, owning its reason.
pub(crate) struct CClose {
    _reason: Vec<u8>,
    pub(crate) event: wsx_close,
}

impl CClose {
    pub(crate) fn new(close: &Close<'_>) -> CClose {
        let mut reason = Vec::with_capacity(close.reason.len() + 1);
        reason.extend_from_slice(close.reason.as_bytes());
        reason.push(0);
        let event = wsx_close {
            code: close.code.0,
            reason: reason.as_ptr().cast(),
            reason_len: close.reason.len(),
            clean: close.clean,
            origin: wsx_close_origin::from_core(close.origin),
            normal: close.normal,
        };
        CClose {
            _reason: reason,
            event,
        }
    }
}

/// An error event converted for C, owning its message and a refused
/// handshake's headers.
pub(crate) struct CError {
    _message: CString,
    _headers: Option<CHeaders>,
    _body: Vec<u8>,
    pub(crate) event: wsx_error,
}

impl CError {
    pub(crate) fn new(error: &Error) -> CError {
        let message = c_string(&error.to_string());
        let response = error.response();
        let headers = response.map(|response| CHeaders::new(&response.headers));
        let body = response.map_or_else(Vec::new, |response| response.body.clone());
        let event = wsx_error {
            code: wsx_result::from_kind(error.kind()),
            message: message.as_ptr(),
            http_status: error.status().unwrap_or(0),
            timeout: wsx_timeout::from_core(error.which_timeout()),
            os_error: error.os_error().unwrap_or(0),
            headers: headers.as_ref().map_or(std::ptr::null(), CHeaders::ptr),
            headers_len: headers.as_ref().map_or(0, CHeaders::len),
            body: match body.is_empty() {
                true => std::ptr::null(),
                false => body.as_ptr(),
            },
            body_len: body.len(),
        };
        CError {
            _message: message,
            _headers: headers,
            _body: body,
            event,
        }
    }
}

/// A request under decision converted for C, owning its strings.
pub(crate) struct CRequest {
    _strings: [Option<CString>; 5],
    _headers: CHeaders,
    _certs: Vec<wsx_cert>,
    pub(crate) event: wsx_request,
}

impl CRequest {
    /// The request of `upgrade`; certificates are borrowed from its
    /// connection, which outlives the callback.
    pub(crate) fn new(upgrade: &Upgrade<'_>) -> CRequest {
        let request = upgrade.request;
        let identity = upgrade.peer_identity();
        let strings = [
            Some(c_string(&request.path)),
            header(&request.headers, "origin").map(c_string),
            Some(c_string(&upgrade.peer_addr.to_string())),
            upgrade.subprotocol.as_deref().map(c_string),
            identity.map(|i| c_string(&i.subject)),
        ];
        let headers = CHeaders::new(&request.headers);
        let certs = identity.map_or_else(Vec::new, |i| c_certs(&i.chain));
        let event = wsx_request {
            path: opt_ptr(&strings[0]),
            headers: headers.ptr(),
            headers_len: headers.len(),
            origin: opt_ptr(&strings[1]),
            peer_addr: opt_ptr(&strings[2]),
            subprotocol: opt_ptr(&strings[3]),
            plain_http: upgrade.is_plain_http(),
            peer_subject: opt_ptr(&strings[4]),
            peer_certs: if certs.is_empty() {
                std::ptr::null()
            } else {
                certs.as_ptr()
            },
            peer_certs_len: certs.len(),
        };
        CRequest {
            _strings: strings,
            _headers: headers,
            _certs: certs,
            event,
        }
    }
}

/// A chain of DER certificates as `wsx_cert`s pointing into it.
pub(crate) fn c_certs(chain: &[Vec<u8>]) -> Vec<wsx_cert> {
    chain
        .iter()
        .map(|der| wsx_cert {
            der: der.as_ptr(),
            len: der.len(),
        })
        .collect()
}

/// A round trip in microseconds, -1 for none.
pub(crate) fn micros(rtt: Option<Duration>) -> i64 {
    rtt.map_or(-1, |rtt| i64::try_from(rtt.as_micros()).unwrap_or(i64::MAX))
}

/// Header fields a caller passes as an array (NULL: `None`), each checked
/// by the core's rule.
///
/// # Safety
/// `headers` is NULL or points to `len` entries whose strings are NULL or
/// NUL-terminated.
pub(crate) unsafe fn read_headers(
    headers: *const wsx_header,
    len: usize,
) -> crate::boundary::Outcome<Option<Vec<(String, String)>>> {
    if headers.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's promise: `len` entries at `headers`.
    let fields = unsafe { std::slice::from_raw_parts(headers, len) };
    let mut out = Vec::with_capacity(len);
    for field in fields {
        // SAFETY: the caller's promise, for both strings.
        let name = unsafe { crate::boundary::arg_str(field.name, "header name") }?;
        // SAFETY: as above.
        let value = unsafe { crate::boundary::arg_str(field.value, "header value") }?;
        out.push(crate::options::header(name, value)?);
    }
    Ok(Some(out))
}
