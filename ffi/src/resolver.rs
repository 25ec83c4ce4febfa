//! Name resolution by the application (`wsx_client_options_set_resolver`):
//! the library asks a callback on the loop thread, which answers the
//! `wsx_resolution` at once or later, from any thread.

use std::ffi::{CString, c_char, c_void};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};

use wsx_core::net::{PendingLookup, Resolver};

use crate::boundary::{Failure, Outcome, arg, arg_str, ffi_call, ffi_value, opt_str};
use crate::callbacks::{UserData, calling, wsx_free_user_data};
use crate::options::{edit, wsx_client_options};
use crate::result::wsx_result;

/// A client's name lookup, handed to the resolver callback
/// (`wsx_client_options_set_resolver`), owned by the application from then
/// on. Answer it once, from any thread, at once or later
/// (`wsx_resolution_answer`, `wsx_resolution_fail`), then free it with
/// `wsx_resolution_free` (freeing it unanswered fails the lookup).
/// Thread-safe.
pub struct wsx_resolution {
    /// The host name, NUL-terminated for `wsx_resolution_host`.
    host: CString,
    port: u16,
    pending: Mutex<Option<PendingLookup>>,
}

impl wsx_resolution {
    fn answer(&self, found: io::Result<Vec<SocketAddr>>) -> Outcome {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| Failure::state("this lookup was answered already"))?;
        pending.answer(found);
        Ok(())
    }
}

/// Resolves a host name for a client's connect attempt, in place of the
/// system resolver: a service directory, DNS over HTTPS, a console's own
/// resolver, a test. IP address literals never reach it. It runs on the
/// loop thread (in poll mode, inside `wsx_loop_poll`), so it must not
/// block: answer `resolution` before returning, or keep it and answer it
/// later from any thread (a lookup of your own, a job on another thread).
/// The connect timeout runs meanwhile. `resolution` is owned by the
/// callee: free it with `wsx_resolution_free` once answered.
pub type wsx_on_resolve =
    Option<unsafe extern "C" fn(user_data: *mut c_void, resolution: *mut wsx_resolution)>;

/// Resolves host names with `resolve` instead of the system resolver (and
/// its helper threads: see HELPER THREADS). The addresses it gives are raced
/// as any lookup's are: IPv6 first, IPv4 250 ms later or as soon as the
/// IPv6 attempt fails (RFC 8305, Happy Eyeballs). With a proxy, the name
/// resolved is the proxy's. `resolve` NULL goes back to the system
/// resolver. From this call on (also when it fails) the library owns
/// `user_data`: `free_user_data` runs once, when neither these options nor
/// any connection made with them uses it.
///
/// # Safety
/// `options` is NULL or live; `resolve` and `free_user_data` are NULL or
/// valid functions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_resolver(
    options: *mut wsx_client_options,
    resolve: wsx_on_resolve,
    user_data: *mut c_void,
    free_user_data: wsx_free_user_data,
) -> wsx_result {
    let user = UserData::new(user_data, free_user_data);
    let resolver = resolve.map(|resolve| {
        Resolver::on_loop(move |lookup| {
            let resolution = Box::into_raw(Box::new(wsx_resolution {
                host: CString::new(lookup.host()).unwrap_or_default(),
                port: lookup.port(),
                pending: Mutex::new(Some(lookup)),
            }));
            // SAFETY: C gave this function for this user data; the
            // resolution is the callee's from now on.
            calling(|| unsafe { resolve(user.ptr(), resolution) });
        })
    });
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.conn.client_mut().resolver = resolver;
            Ok(())
        })
    }
}

/// The host name to resolve (UTF-8, NUL-terminated), valid until
/// `resolution` is freed; NULL for NULL.
///
/// # Safety
/// `resolution` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_resolution_host(resolution: *const wsx_resolution) -> *const c_char {
    ffi_value(std::ptr::null(), || {
        // SAFETY: the caller's promise.
        unsafe { resolution.as_ref() }.map_or(std::ptr::null(), |r| r.host.as_ptr())
    })
}

/// The port the client connects to (the URL's, or the proxy's), which
/// addresses answered without a port get; 0 for NULL.
///
/// # Safety
/// `resolution` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_resolution_port(resolution: *const wsx_resolution) -> u16 {
    // SAFETY: the caller's promise.
    ffi_value(0, || unsafe { resolution.as_ref() }.map_or(0, |r| r.port))
}

/// Answers the lookup with `count` addresses (copied): each an IP address
/// (`"127.0.0.1"`, `"::1"`), connected to on `wsx_resolution_port`, or an
/// address and port (`"127.0.0.1:9001"`, `"[::1]:9001"`). No address
/// (`count` 0) fails the attempt as a name that did not resolve
/// (`WSX_ERR_DNS`). An address that does not parse is
/// `WSX_ERR_INVALID_ARGUMENT` and answers nothing (answer again);
/// `WSX_ERR_STATE` if the lookup was answered already. An answer after the
/// attempt ended (its connect timeout passed, the connection was closed) is
/// ignored. Callable from any thread, also inside the resolver callback.
///
/// # Safety
/// `resolution` is NULL or live; `addresses` is NULL (only with `count` 0)
/// or points to `count` NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_resolution_answer(
    resolution: *const wsx_resolution,
    addresses: *const *const c_char,
    count: usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let resolution = unsafe { arg(resolution, "resolution") }?;
        let list: &[*const c_char] = match count {
            0 => &[],
            // SAFETY: the caller's promise: `count` pointers at `addresses`.
            _ => unsafe { std::slice::from_raw_parts(arg(addresses, "addresses")?, count) },
        };
        let addrs = list
            .iter()
            .enumerate()
            .map(|(i, &text)| {
                // SAFETY: the caller's promise.
                let text = unsafe { arg_str(text, "an address") }?;
                socket_addr(text, resolution.port).ok_or_else(|| {
                    Failure::invalid(format!(
                        "address {i} ({text:?}) is neither an IP address nor an IP address and port"
                    ))
                })
            })
            .collect::<Outcome<Vec<_>>>()?;
        resolution.answer(Ok(addrs))
    })
}

/// Fails the lookup: the attempt ends with `WSX_ERR_DNS`, its message
/// naming the host and `reason` (copied; NULL: none given).
/// `WSX_ERR_STATE` if the lookup was answered already. Callable from any
/// thread, also inside the resolver callback.
///
/// # Safety
/// `resolution` is NULL or live; `reason` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_resolution_fail(
    resolution: *const wsx_resolution,
    reason: *const c_char,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for both pointers.
        let resolution = unsafe { arg(resolution, "resolution") }?;
        // SAFETY: as above.
        let reason = unsafe { opt_str(reason, "reason") }?.unwrap_or("the resolver gave no reason");
        resolution.answer(Err(io::Error::other(reason.to_owned())))
    })
}

/// Frees a resolution; unanswered, its lookup fails (`WSX_ERR_DNS`). NULL
/// is a no-op. Callable from any thread.
///
/// # Safety
/// `resolution` is NULL or one the resolver callback got, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_resolution_free(resolution: *mut wsx_resolution) {
    if !resolution.is_null() {
        // SAFETY: the caller gives up its handle.
        ffi_value((), || drop(unsafe { Box::from_raw(resolution) }));
    }
}

/// `text` as an address and port: `ip:port`, `[ipv6]:port`, or a bare IP
/// address with `port`.
fn socket_addr(text: &str, port: u16) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, port))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_with_and_without_ports() {
        let at = |text| socket_addr(text, 80).map(|a| a.to_string());
        assert_eq!(at("127.0.0.1").as_deref(), Some("127.0.0.1:80"));
        assert_eq!(at("::1").as_deref(), Some("[::1]:80"));
        assert_eq!(at("127.0.0.1:9001").as_deref(), Some("127.0.0.1:9001"));
        assert_eq!(at("[::1]:9001").as_deref(), Some("[::1]:9001"));
        assert_eq!(at("localhost"), None);
        assert_eq!(at("[::1]"), None);
        assert_eq!(at("127.0.0.1:99999"), None);
    }
}
