//! What makes a client survive real networks, for C: reconnecting with
//! backoff, proxies, and the hooks around each connect attempt.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use wsx_core::net::{DEFAULT_RETRY_CODES, ProxyConfig, ReconnectPolicy};

use crate::boundary::{arg_mut, arg_str, ffi_call, opt_str};
use crate::conn::wsx_conn;
use crate::events::wsx_close;
use crate::options::{edit, header, wsx_client_options};
use crate::result::wsx_result;

/// When and how often a client reconnects. Get the defaults from
/// `wsx_reconnect_options_default()` and change what you need.
///
/// The wait before reconnect attempt n (1, 2, ...) is drawn at random from
/// [0, min(max_delay_ms, initial_delay_ms * factor^(n-1))] ("full jitter").
/// Reconnects follow network errors, timeouts (keepalive included) and, by
/// default, the close codes 1001 (going away: a server's graceful shutdown
/// or restart), 1006 (dropped), 1011, 1012 (service restart), 1013 and 1014
/// (`wsx_client_options_set_reconnect_codes` changes the set); never a
/// close the application asked for, nor a handshake refused with a 4xx
/// status (unless `retry_on_4xx`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct wsx_reconnect_options {
    /// Ceiling of the first wait, in ms (default 500).
    pub initial_delay_ms: u32,
    /// Growth of the ceiling per attempt (default 2.0): a finite number of at
    /// least 1.0, or `wsx_client_options_set_reconnect` refuses it.
    pub factor: f64,
    /// Largest ceiling, in ms (default 30000).
    pub max_delay_ms: u32,
    /// Most reconnect attempts in a row without a lasting connection; 0
    /// (the default) tries forever.
    pub max_attempts: u32,
    /// A connection open this long (ms) starts the backoff afresh (default 10000).
    pub reset_after_ms: u32,
    /// Retry after the server refused the handshake with a 4xx status (default false).
    pub retry_on_4xx: bool,
    /// Bytes `wsx_conn_send` may queue while disconnected, sent once the next
    /// connection opens; 0 (the default) refuses such sends with
    /// `WSX_ERR_NOT_CONNECTED`.
    pub queue_while_disconnected: usize,
    /// Draw each wait at random below its ceiling (default true); false
    /// waits exactly the ceiling.
    pub jitter: bool,
}

impl wsx_reconnect_options {
    fn to_core(self, retry_codes: Option<&[u16]>) -> ReconnectPolicy {
        let ms = |ms: u32| Duration::from_millis(u64::from(ms));
        ReconnectPolicy {
            initial_delay: ms(self.initial_delay_ms),
            factor: self.factor,
            max_delay: ms(self.max_delay_ms),
            max_attempts: (self.max_attempts > 0).then_some(self.max_attempts),
            reset_after: ms(self.reset_after_ms),
            retry_on_4xx: self.retry_on_4xx,
            queue_while_disconnected: self.queue_while_disconnected,
            jitter: self.jitter,
            retry_codes: retry_codes.map_or_else(|| DEFAULT_RETRY_CODES.to_vec(), <[u16]>::to_vec),
        }
    }
}

/// The default reconnect options (see `wsx_reconnect_options`).
#[unsafe(no_mangle)]
pub extern "C" fn wsx_reconnect_options_default() -> wsx_reconnect_options {
    let d = ReconnectPolicy::default();
    let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
    wsx_reconnect_options {
        initial_delay_ms: ms(d.initial_delay),
        factor: d.factor,
        max_delay_ms: ms(d.max_delay),
        max_attempts: d.max_attempts.unwrap_or(0),
        reset_after_ms: ms(d.reset_after),
        retry_on_4xx: d.retry_on_4xx,
        queue_while_disconnected: d.queue_while_disconnected,
        jitter: d.jitter,
    }
}

/// Reconnects with `reconnect`'s policy (copied); NULL turns reconnecting
/// off (the default). With it on, one `wsx_conn` outlives its transports:
/// the hooks' `on_disconnect` marks each drop and `on_connecting` each
/// attempt (`wsx_client_options_set_hooks`), `is_reconnect` the opens after
/// the first, and `on_close` runs once, at the very end.
///
/// # Safety
/// `options` is NULL or live; `reconnect` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_reconnect(
    options: *mut wsx_client_options,
    reconnect: *const wsx_reconnect_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    let policy = unsafe { reconnect.as_ref() }.copied();
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.reconnect = policy.map(|p| p.to_core(o.retry_codes.as_deref()));
            Ok(())
        })
    }
}

/// The close codes after which a reconnecting client tries again (`count`
/// codes at `codes`, copied), in place of the default set 1001, 1006, 1011,
/// 1012, 1013 and 1014. A close the application asked for is never retried,
/// and failures without a close (network errors, timeouts, refused
/// handshakes) follow `wsx_reconnect_options` whatever the set. `codes`
/// NULL restores the default set; `count` 0 with a non-NULL `codes` retries
/// after no close code. Each code must be within 1000 to 4999, or the call
/// returns `WSX_ERR_INVALID_ARGUMENT` and changes nothing. Applies to the
/// reconnect policy set before or after this call.
///
/// # Safety
/// `options` is NULL or live; `codes` is NULL or points to `count` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_reconnect_codes(
    options: *mut wsx_client_options,
    codes: *const u16,
    count: usize,
) -> wsx_result {
    // SAFETY: the caller's promise: `count` values at `codes` unless NULL.
    let codes = (!codes.is_null()).then(|| unsafe { std::slice::from_raw_parts(codes, count) });
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            if let Some(codes) = codes {
                ReconnectPolicy::check_retry_codes(codes)?;
            }
            let codes = codes.map(<[u16]>::to_vec);
            if let Some(policy) = o.config.reconnect.as_mut() {
                policy.retry_codes = codes
                    .clone()
                    .unwrap_or_else(|| DEFAULT_RETRY_CODES.to_vec());
            }
            o.retry_codes = codes;
            Ok(())
        })
    }
}

/// Connects through a proxy (copied; NULL: none, the default):
/// `http://[user:password@]host[:port]` (HTTP CONNECT, Basic
/// authentication), `https://...` (the same over TLS to the proxy, checked
/// with the client's TLS options) or `socks5://...` / `socks5h://...`
/// (SOCKS5; the proxy resolves the target's name). An invalid URL returns
/// `WSX_ERR_INVALID_ARGUMENT`. Failures of the proxy hop are reported as
/// `WSX_ERR_PROXY` (`http_status` 407 for credentials, 502 or the SOCKS5
/// reply code for an unreachable target).
///
/// # Safety
/// `options` is NULL or live; `url` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_proxy(
    options: *mut wsx_client_options,
    url: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.proxy = opt_str(url, "url")?.map(ProxyConfig::parse).transpose()?;
            Ok(())
        })
    }
}

/// With no proxy set, use the one the environment names when connecting
/// (`https_proxy` for `wss://`, `http_proxy` for `ws://`, then `all_proxy`;
/// lower case first; `no_proxy` lists exempt hosts, domain suffixes, IPs,
/// CIDR blocks, optional `:port`, or `*`). Default false.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_proxy_from_env(
    options: *mut wsx_client_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.proxy_from_env = on;
            Ok(())
        })
    }
}

/// A connect attempt about to start.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct wsx_connecting {
    /// 0 for the first connection; then the reconnect attempts in a row
    /// (1, 2, ...; back to 1 after a connection that lasted).
    pub attempt: u32,
    /// The wait before the attempt starts, in ms (0 for the first).
    pub delay_ms: u64,
}

/// Client: an attempt to connect starts after `connecting->delay_ms`.
pub type wsx_on_connecting = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        conn: *mut wsx_conn,
        connecting: *const wsx_connecting,
    ),
>;
/// Client with reconnecting on: this connection or attempt ended and another
/// attempt follows (`on_close` is not called for it).
pub type wsx_on_disconnect = Option<
    unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn, close: *const wsx_close),
>;
/// Client: an attempt starts now. `headers` holds the extra request headers
/// of the options, for this attempt only: change them with
/// `wsx_request_headers_set` (refresh a token, set cookies). `headers` is
/// valid during the call only.
pub type wsx_on_before_connect = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        conn: *mut wsx_conn,
        headers: *mut wsx_request_headers,
    ),
>;

/// The client callbacks around connect attempts, each called with the
/// connection's `user_data` (from its `wsx_conn_callbacks`). Every pointer
/// may be NULL.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct wsx_client_hooks {
    /// An attempt to connect is about to start (also the first one).
    pub on_connecting: wsx_on_connecting,
    /// With reconnecting on: a connection or attempt ended, another follows.
    pub on_disconnect: wsx_on_disconnect,
    /// An attempt starts now; its request headers may be changed.
    pub on_before_connect: wsx_on_before_connect,
}

/// Sets the callbacks around connect attempts of the connections made with
/// these options (copied; NULL removes them).
///
/// # Safety
/// `options` is NULL or live; `hooks` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_hooks(
    options: *mut wsx_client_options,
    hooks: *const wsx_client_hooks,
) -> wsx_result {
    // SAFETY: the caller's promise.
    let hooks = unsafe { hooks.as_ref() }.copied().unwrap_or_default();
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.hooks = hooks;
            Ok(())
        })
    }
}

/// The extra request headers of one connect attempt, passed to
/// `on_before_connect` and valid only during it.
pub struct wsx_request_headers {
    pub(crate) headers: *mut Vec<(String, String)>,
}

/// Sets a request header of this attempt: replaces every header of that
/// name (compared without case) or adds it. Both strings are copied.
///
/// # Safety
/// `headers` is NULL or the pointer `on_before_connect` got, during that
/// call; the strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_request_headers_set(
    headers: *mut wsx_request_headers,
    name: *const c_char,
    value: *const c_char,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer below.
        let headers = unsafe { arg_mut(headers, "headers") }?;
        let (name, value) = header(unsafe { arg_str(name, "name") }?, unsafe {
            arg_str(value, "value")
        }?)?;
        // SAFETY: set by the library for the duration of the callback.
        let list = unsafe { &mut *headers.headers };
        list.retain(|(field, _)| !field.eq_ignore_ascii_case(&name));
        list.push((name, value));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{wsx_client_options_free, wsx_client_options_new};

    fn codes(options: *mut wsx_client_options) -> Option<Vec<u16>> {
        // SAFETY: live options from the test.
        let o = unsafe { &*options };
        o.config.reconnect.as_ref().map(|p| p.retry_codes.clone())
    }

    #[test]
    fn reconnect_codes_apply_before_or_after_the_policy() {
        let mut options = std::ptr::null_mut();
        let policy = wsx_reconnect_options_default();
        let restart = [1001u16, 1012];
        // SAFETY: valid pointers throughout; `options` is freed at the end.
        unsafe {
            assert_eq!(wsx_client_options_new(&mut options), wsx_result::WSX_OK);
            let ok = wsx_result::WSX_OK;
            assert_eq!(wsx_client_options_set_reconnect(options, &policy), ok);
            assert_eq!(codes(options), Some(DEFAULT_RETRY_CODES.to_vec()));
            let set = |p: *const u16, n| wsx_client_options_set_reconnect_codes(options, p, n);
            assert_eq!(set(restart.as_ptr(), 2), ok);
            assert_eq!(codes(options), Some(vec![1001, 1012]));
            // A new policy keeps the codes set before it.
            assert_eq!(wsx_client_options_set_reconnect(options, &policy), ok);
            assert_eq!(codes(options), Some(vec![1001, 1012]));
            assert_eq!(set(restart.as_ptr(), 0), ok);
            assert_eq!(codes(options), Some(vec![]));
            let bad = [5000u16];
            assert_eq!(set(bad.as_ptr(), 1), wsx_result::WSX_ERR_INVALID_ARGUMENT);
            assert_eq!(codes(options), Some(vec![]));
            assert_eq!(set(std::ptr::null(), 0), ok);
            assert_eq!(codes(options), Some(DEFAULT_RETRY_CODES.to_vec()));
            wsx_client_options_free(options);
        }
    }
}
