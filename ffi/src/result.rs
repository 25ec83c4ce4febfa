//! Result codes, their static text, the per-thread last error and the version.

use std::ffi::c_char;

use wsx_core::net::ErrorKind;

use crate::boundary::{ffi_value, last_error_ptr};

/// The result of every fallible function. `WSX_OK` is 0; every other value
/// names what went wrong, with detail in `wsx_last_error_message()`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsx_result {
    /// Success.
    WSX_OK = 0,
    /// A required pointer argument was NULL.
    WSX_ERR_NULL = 1,
    /// An argument was invalid: a bad URL, option value, code or kind.
    WSX_ERR_INVALID_ARGUMENT = 2,
    /// The connection is closing or closed.
    WSX_ERR_CLOSED = 3,
    /// The send queue is past its high-water mark; wait for the writable callback.
    WSX_ERR_WOULD_BLOCK = 4,
    /// The host name could not be resolved.
    WSX_ERR_DNS = 5,
    /// The TCP connection failed (refused, unreachable).
    WSX_ERR_CONNECT = 6,
    /// A connect, handshake, keepalive, idle or close timeout passed.
    WSX_ERR_TIMEOUT = 7,
    /// The TLS handshake failed or a certificate was refused.
    WSX_ERR_TLS = 8,
    /// The WebSocket handshake was refused or answered wrongly.
    WSX_ERR_HANDSHAKE = 9,
    /// The peer broke the WebSocket protocol.
    WSX_ERR_PROTOCOL = 10,
    /// Another I/O error.
    WSX_ERR_IO = 11,
    /// The handle is in the wrong state for this call (for example polling a
    /// loop that runs on its own thread, or from inside one of its callbacks).
    WSX_ERR_STATE = 12,
    /// An internal error (a bug in wsx); the loop that hit it is unusable.
    WSX_ERR_PANIC = 13,
    /// A proxy failed: unreachable, refused the tunnel, asked for other
    /// credentials (`http_status` 407), or could not reach the target
    /// (`http_status` 502, or the SOCKS5 reply code).
    WSX_ERR_PROXY = 14,
    /// A reconnecting client is between connections and does not queue
    /// sends (or its queue is full).
    WSX_ERR_NOT_CONNECTED = 15,
}

impl wsx_result {
    /// The code for an error kind of the networking layer.
    pub(crate) fn from_kind(kind: ErrorKind) -> wsx_result {
        match kind {
            ErrorKind::InvalidArgument => wsx_result::WSX_ERR_INVALID_ARGUMENT,
            ErrorKind::Dns => wsx_result::WSX_ERR_DNS,
            ErrorKind::Connect => wsx_result::WSX_ERR_CONNECT,
            ErrorKind::Timeout => wsx_result::WSX_ERR_TIMEOUT,
            ErrorKind::Tls => wsx_result::WSX_ERR_TLS,
            ErrorKind::Handshake => wsx_result::WSX_ERR_HANDSHAKE,
            ErrorKind::Protocol => wsx_result::WSX_ERR_PROTOCOL,
            ErrorKind::Closed => wsx_result::WSX_ERR_CLOSED,
            ErrorKind::WouldBlock => wsx_result::WSX_ERR_WOULD_BLOCK,
            ErrorKind::Io => wsx_result::WSX_ERR_IO,
            ErrorKind::Proxy => wsx_result::WSX_ERR_PROXY,
            ErrorKind::NotConnected => wsx_result::WSX_ERR_NOT_CONNECTED,
        }
    }

    fn text(code: i32) -> &'static std::ffi::CStr {
        match code {
            0 => c"success",
            1 => c"a required pointer argument was NULL",
            2 => c"invalid argument",
            3 => c"the connection is closed",
            4 => c"the send queue is full",
            5 => c"name resolution failed",
            6 => c"connection failed",
            7 => c"timed out",
            8 => c"TLS error",
            9 => c"WebSocket handshake failed",
            10 => c"WebSocket protocol error",
            11 => c"I/O error",
            12 => c"the handle is in the wrong state for this call",
            13 => c"internal error (panic)",
            14 => c"proxy error",
            15 => c"not connected (reconnecting)",
            _ => c"unknown result code",
        }
    }
}

/// The major version of the library this header belongs to.
pub const WSX_VERSION_MAJOR: u32 = 0;
/// The minor version of the library this header belongs to.
pub const WSX_VERSION_MINOR: u32 = 2;
/// The patch version of the library this header belongs to.
pub const WSX_VERSION_PATCH: u32 = 0;

const fn parse_u32(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut value = 0;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

// The macros above must follow Cargo.toml: a version bump that forgets them
// does not compile.
const _: () = assert!(WSX_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")));
const _: () = assert!(WSX_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")));
const _: () = assert!(WSX_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")));

/// A `wsx_result` as C passes it (the header names it `wsx_result`): any
/// integer reaches Rust soundly.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct ResultArg(pub i32);

/// Static text describing a result code (any value; unknown codes get a
/// generic text). Never NULL; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn wsx_result_str(result: ResultArg) -> *const c_char {
    ffi_value(wsx_result::text(-1).as_ptr(), || {
        wsx_result::text(result.0).as_ptr()
    })
}

/// The message of the last failed call on the calling thread ("" if none).
/// Owned by the library and valid until the next failing call on this thread;
/// copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn wsx_last_error_message() -> *const c_char {
    ffi_value(c"".as_ptr(), last_error_ptr)
}

/// The library's version as static text, e.g. "0.2.0". Compare with the
/// `WSX_VERSION_*` macros to detect a header/library mismatch.
#[unsafe(no_mangle)]
pub extern "C" fn wsx_version() -> *const c_char {
    const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(version) => version,
        Err(_) => panic!("the version contains a NUL"),
    };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    #[test]
    fn every_code_has_its_own_text() {
        let texts: Vec<&CStr> = (0..=15).map(wsx_result::text).collect();
        for (i, text) in texts.iter().enumerate() {
            assert_ne!(*text, wsx_result::text(-1), "code {i}");
            assert!(!texts[..i].contains(text), "code {i} repeats a text");
        }
        assert_eq!(wsx_result::text(99), wsx_result::text(-1));
    }

    #[test]
    fn version_matches_the_crate() {
        // SAFETY: wsx_version returns a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(wsx_version()) }.to_str().unwrap();
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            version,
            format!("{WSX_VERSION_MAJOR}.{WSX_VERSION_MINOR}.{WSX_VERSION_PATCH}")
        );
    }
}
