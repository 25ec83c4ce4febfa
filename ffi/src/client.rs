//! Clients: `wsx_loop_connect`, and the connect attempts a client makes
//! (`on_connecting`, `on_before_connect` with its `wsx_attempt`, and the
//! attempt decided later through `wsx_pending_attempt`).

use std::ffi::c_char;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use wsx_core::net::{Attempt, PendingAttempt};

use crate::boundary::{Failure, arg, arg_mut, arg_str, ffi_call, ffi_value, read_sized};
use crate::callbacks::{ConnAdapter, UserData, slot_handle, wsx_conn_callbacks};
use crate::conn::wsx_conn;
use crate::event_loop::wsx_loop;
use crate::events::wsx_header;
use crate::options::{header, wsx_client_options};
use crate::result::wsx_result;

/// Starts a client connection to a `ws://` or `wss://` URL on `loop`, or,
/// over a Unix domain socket, to a `ws+unix:` or `wss+unix:` URL as Node's
/// ws writes them: `ws+unix:///run/app.sock:/chat` is the socket
/// `/run/app.sock` and the resource `/chat`, with `Host: localhost` (see
/// `wsx_client_options_set_unix_socket_path`).
///
/// `options` may be NULL (defaults) and is copied: free it whenever you like.
/// `callbacks` is copied; from this call on, the library owns
/// `callbacks->user_data` and calls `free_user_data` exactly once, also when
/// this call fails (but not when `callbacks` itself is refused: NULL, or a
/// bad `struct_size`). A bad URL or option fails here; everything later
/// (DNS, connect, handshake errors) reaches `on_error` then `on_close`.
///
/// On success `*out_conn` is a new reference owned by the caller: release it
/// with `wsx_conn_release` (before or after the connection closes). Callable
/// from any thread, also from inside a callback.
///
/// # Safety
/// Pointers are NULL or valid; `url` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_loop_connect(
    r#loop: *const wsx_loop,
    url: *const c_char,
    options: *const wsx_client_options,
    callbacks: *const wsx_conn_callbacks,
    out_conn: *mut *mut wsx_conn,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer below.
        let callbacks = unsafe { read_sized(callbacks, "callbacks") }?;
        let user = UserData::new(callbacks.user_data, callbacks.free_user_data);
        let slot = Arc::new(OnceLock::new());
        let adapter = ConnAdapter::new(user, callbacks.events(), slot.clone());
        // SAFETY: as above.
        let event_loop = unsafe { arg(r#loop, "loop") }?;
        // SAFETY: as above.
        let url = unsafe { arg_str(url, "url") }?;
        // SAFETY: as above.
        let out = unsafe { arg_mut(out_conn, "out_conn") }?;
        // SAFETY: as above.
        let config = unsafe { options.as_ref() }
            .map(|o| o.conn.client().clone())
            .unwrap_or_default();
        let conn = event_loop
            .handle()
            .connect(url, config, Box::new(adapter))?;
        *out = Arc::into_raw(slot_handle(&slot, &conn)).cast_mut();
        Ok(())
    })
}

/// A connect attempt about to start (`on_connecting`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct wsx_connecting {
    /// 0 for the first connection; then the reconnect attempts in a row
    /// (1, 2, ...; back to 1 after a connection that lasted).
    pub attempt: u32,
    /// The wait before the attempt starts, in ms (0 for the first).
    pub delay_ms: u64,
}

/// A client's connect attempt that starts now, passed to `on_before_connect`
/// and valid only during that call.
pub struct wsx_attempt {
    attempt: *mut Attempt<'static>,
    deferred: bool,
}

impl wsx_attempt {
    /// Wraps the core's attempt for the duration of one callback.
    pub(crate) fn new(attempt: &mut Attempt<'_>) -> wsx_attempt {
        wsx_attempt {
            attempt: (attempt as *mut Attempt<'_>).cast::<Attempt<'static>>(),
            deferred: false,
        }
    }

    /// The core's attempt.
    ///
    /// # Safety
    /// Only during the `on_before_connect` call that received `self`.
    unsafe fn core(&mut self) -> &mut Attempt<'static> {
        // SAFETY: set from a live `&mut Attempt` by the callback frame below
        // us, which outlives the C callback (the caller's promise).
        unsafe { &mut *self.attempt }
    }
}

/// 0 for the first connection, then the number of the reconnect attempt in a
/// row (as `on_connecting` counted it); 0 for NULL.
///
/// # Safety
/// `attempt` is NULL or the pointer `on_before_connect` got, during that call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_attempt_number(attempt: *mut wsx_attempt) -> u32 {
    ffi_value(0, || {
        // SAFETY: the caller's promise.
        match unsafe { attempt.as_mut() } {
            // SAFETY: during the callback (the caller's promise).
            Some(attempt) => unsafe { attempt.core() }.number(),
            None => 0,
        }
    })
}

/// Sets a request header of this attempt: replaces every header of that
/// name (compared without case) or adds it. Both strings are copied. The
/// name must be an HTTP token and the value free of control characters, or
/// `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `attempt` is NULL or the pointer `on_before_connect` got, during that
/// call; the strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_attempt_set_header(
    attempt: *mut wsx_attempt,
    name: *const c_char,
    value: *const c_char,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer below.
        let attempt = unsafe { arg_mut(attempt, "attempt") }?;
        // SAFETY: as above.
        let name = unsafe { arg_str(name, "name") }?;
        // SAFETY: as above.
        let value = unsafe { arg_str(value, "value") }?;
        let (name, value) = header(name, value)?;
        // SAFETY: during the callback (the caller's promise).
        let list = &mut *unsafe { attempt.core() }.headers;
        list.retain(|(field, _)| !field.eq_ignore_ascii_case(&name));
        list.push((name, value));
        Ok(())
    })
}

/// A client attempt postponed by `wsx_attempt_defer`: start it with
/// `wsx_pending_attempt_proceed` from any thread, then free it with
/// `wsx_pending_attempt_free` (freeing it undecided proceeds with the headers
/// as they are). Thread-safe.
pub struct wsx_pending_attempt {
    pending: Mutex<Option<PendingAttempt>>,
}

/// Postpones the attempt until `wsx_pending_attempt_proceed` (from any
/// thread), so slow work such as fetching a token does not stall the loop;
/// the connect timeout runs from now. On success `*out_pending` is owned by
/// the caller: free it with `wsx_pending_attempt_free`. At most once per
/// attempt (`WSX_ERR_STATE` after).
///
/// # Safety
/// `attempt` is NULL or the pointer `on_before_connect` got, during that
/// call; `out_pending` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_attempt_defer(
    attempt: *mut wsx_attempt,
    out_pending: *mut *mut wsx_pending_attempt,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for both pointers.
        let attempt = unsafe { arg_mut(attempt, "attempt") }?;
        // SAFETY: as above.
        let out = unsafe { arg_mut(out_pending, "out_pending") }?;
        if std::mem::replace(&mut attempt.deferred, true) {
            return Err(Failure::state("this attempt was deferred already"));
        }
        // SAFETY: during the callback (the caller's promise).
        let pending = unsafe { attempt.core() }.defer();
        *out = Box::into_raw(Box::new(wsx_pending_attempt {
            pending: Mutex::new(Some(pending)),
        }));
        Ok(())
    })
}

/// Starts the postponed attempt. `headers` (`headers_len` entries, copied)
/// replaces the attempt's extra request headers; NULL keeps those it had when
/// `on_before_connect` returned. `WSX_ERR_STATE` if it proceeded already,
/// `WSX_ERR_CLOSED` if the connection ended meanwhile (its connect timeout
/// passed, or it was closed), `WSX_ERR_INVALID_ARGUMENT` for a bad header.
/// Callable from any thread.
///
/// # Safety
/// `pending` is NULL or live; `headers` is NULL or points to `headers_len`
/// entries whose strings are NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_pending_attempt_proceed(
    pending: *const wsx_pending_attempt,
    headers: *const wsx_header,
    headers_len: usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for both pointers.
        let pending = unsafe { arg(pending, "pending") }?;
        // SAFETY: as above.
        let headers = unsafe { crate::events::read_headers(headers, headers_len) }?;
        let taken = pending
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| Failure::state("this attempt proceeded already"))?;
        taken.proceed(headers)?;
        Ok(())
    })
}

/// Frees a pending attempt; if it has not proceeded, it proceeds now with the
/// headers as they are. NULL is a no-op. Callable from any thread.
///
/// # Safety
/// `pending` is NULL or from `wsx_attempt_defer`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_pending_attempt_free(pending: *mut wsx_pending_attempt) {
    if !pending.is_null() {
        // SAFETY: the caller gives up its handle.
        ffi_value((), || drop(unsafe { Box::from_raw(pending) }));
    }
}
