//! What makes a client survive real networks, for C: reconnecting with
//! backoff, and proxies. (The callbacks around each connect attempt are in
//! `wsx_conn_callbacks`.)

use std::ffi::c_char;
use std::time::Duration;

use wsx_core::net::{DEFAULT_RETRY_CODES, ProxyConfig, ReconnectPolicy};

use crate::boundary::{Extensible, ffi_call, opt_str, read_sized, write_sized};
use crate::options::{edit, wsx_client_options};
use crate::result::wsx_result;

/// When and how often a client reconnects. Extensible: fill it with
/// `wsx_reconnect_options_default` (after setting `struct_size`) and change
/// what you need; fields past the caller's `struct_size` take their defaults.
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
    /// `sizeof(wsx_reconnect_options)` as the caller was compiled with.
    pub struct_size: usize,
    /// Growth of the ceiling per attempt (default 2.0): a finite number of at
    /// least 1.0, or `wsx_client_options_set_reconnect` refuses it.
    pub factor: f64,
    /// Bytes `wsx_conn_send` may queue while disconnected, sent once the next
    /// connection opens; 0 (the default) refuses such sends with
    /// `WSX_ERR_NOT_CONNECTED`.
    pub queue_while_disconnected: usize,
    /// Ceiling of the first wait, in ms (default 500).
    pub initial_delay_ms: u32,
    /// Largest ceiling, in ms (default 30000).
    pub max_delay_ms: u32,
    /// Most reconnect attempts in a row without a lasting connection; 0
    /// (the default) tries forever.
    pub max_attempts: u32,
    /// A connection open this long (ms) starts the backoff afresh (default 10000).
    pub reset_after_ms: u32,
    /// Retry after the server refused the handshake with a 4xx status (default false).
    pub retry_on_4xx: bool,
    /// Draw each wait at random below its ceiling (default true); false
    /// waits exactly the ceiling.
    pub jitter: bool,
}

// SAFETY: repr(C), `struct_size` first; numbers and C bools.
unsafe impl Extensible for wsx_reconnect_options {
    const NAME: &'static str = "wsx_reconnect_options";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_reconnect_options, queue_while_disconnected);
    fn base() -> Self {
        let d = ReconnectPolicy::default();
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        wsx_reconnect_options {
            struct_size: 0,
            factor: d.factor,
            queue_while_disconnected: d.queue_while_disconnected,
            initial_delay_ms: ms(d.initial_delay),
            max_delay_ms: ms(d.max_delay),
            max_attempts: d.max_attempts.unwrap_or(0),
            reset_after_ms: ms(d.reset_after),
            retry_on_4xx: d.retry_on_4xx,
            jitter: d.jitter,
        }
    }
}

impl wsx_reconnect_options {
    pub(crate) fn to_core(self, retry_codes: Option<&[u16]>) -> ReconnectPolicy {
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

/// Writes the default reconnect options (see `wsx_reconnect_options`) to
/// `*out`, whose `struct_size` the caller set.
///
/// # Safety
/// `out` is NULL or has `out->struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_reconnect_options_default(
    out: *mut wsx_reconnect_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    ffi_call(|| unsafe { write_sized(out, wsx_reconnect_options::base(), "out") })
}

/// Reconnects with `reconnect`'s policy (copied); NULL turns reconnecting
/// off (the default). With it on, one `wsx_conn` outlives its transports:
/// `on_disconnect` marks each drop and `on_connecting` each attempt (both
/// in `wsx_conn_callbacks`), `is_reconnect` the opens after the first, and
/// `on_close` runs once, at the very end. A bad `struct_size` or value gives
/// `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `options` is NULL or live; `reconnect` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_reconnect(
    options: *mut wsx_client_options,
    reconnect: *const wsx_reconnect_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            let policy = match reconnect.is_null() {
                true => None,
                false => Some(read_sized(reconnect, "reconnect")?),
            };
            let codes = o.retry_codes.clone();
            o.conn.client_mut().reconnect = policy.map(|p| p.to_core(codes.as_deref()));
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
            if let Some(policy) = o.conn.client_mut().reconnect.as_mut() {
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
            o.conn.client_mut().proxy = opt_str(url, "url")?.map(ProxyConfig::parse).transpose()?;
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
            o.conn.client_mut().proxy_from_env = on;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{wsx_client_options_free, wsx_client_options_new};

    fn codes(options: *mut wsx_client_options) -> Option<Vec<u16>> {
        // SAFETY: live options from the test.
        let o = unsafe { &*options };
        o.conn
            .client()
            .reconnect
            .as_ref()
            .map(|p| p.retry_codes.clone())
    }

    #[test]
    fn reconnect_codes_apply_before_or_after_the_policy() {
        let mut options = std::ptr::null_mut();
        let mut policy = wsx_reconnect_options::base();
        policy.struct_size = size_of::<wsx_reconnect_options>();
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
