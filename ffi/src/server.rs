//! Servers: `wsx_listen`, the upgrade decision, and shutdown.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wsx_core::net::{
    Conn, Error, Handler, Refusal, Server, ServerHandler, SlowSubscriber, Upgrade,
};
use wsx_core::proto::HandshakeError;

use crate::boundary::{
    Failure, Outcome, arg, arg_mut, arg_str, ffi_call, ffi_value, opt_str, write_c_string,
};
use crate::callbacks::{
    ConnAdapter, ConnEvents, UserData, wsx_conn_callbacks, wsx_free_user_data, wsx_on_close,
    wsx_on_error, wsx_on_message, wsx_on_open, wsx_on_ping, wsx_on_pong, wsx_on_writable,
};
use crate::event_loop::wsx_loop;
use crate::events::{CError, CRequest, wsx_error, wsx_request};
use crate::options::{header, wsx_server_options};
use crate::pubsub::{notify_slow_subscriber, wsx_on_slow_subscriber};
use crate::result::wsx_result;

/// A listening server. Every function on it may be called from any thread.
pub struct wsx_server {
    pub(crate) server: Server,
}

/// A handshake under decision, passed to the upgrade callback and valid only
/// during it. Left alone, the connection is accepted.
pub struct wsx_upgrade {
    subprotocol: Option<String>,
    headers: Vec<(String, String)>,
    refusal: Option<Refusal>,
    handler: Option<ConnAdapter>,
}

/// Decides on a handshake request: call `wsx_upgrade_*` on `upgrade` to
/// refuse it, pick a subprotocol, add response headers or give the
/// connection callbacks of its own.
pub type wsx_on_upgrade = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        upgrade: *mut wsx_upgrade,
        request: *const wsx_request,
    ),
>;
/// A failure that belongs to no accepted connection (accept error, TLS or
/// handshake failure of an incoming connection).
pub type wsx_on_server_error =
    Option<unsafe extern "C" fn(user_data: *mut c_void, error: *const wsx_error)>;
/// The server stopped after `wsx_server_shutdown`: every connection has
/// closed or been dropped.
pub type wsx_on_shutdown = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The callbacks of a server. Every function pointer may be NULL. The
/// per-connection ones serve every accepted connection unless the upgrade
/// callback gave it callbacks of its own.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy)]
pub struct wsx_server_callbacks {
    /// Passed first to every callback below.
    pub user_data: *mut c_void,
    /// Decides on each handshake request (NULL: accept all that passed the
    /// Origin allow-list).
    pub on_upgrade: wsx_on_upgrade,
    /// A connection opened.
    pub on_open: wsx_on_open,
    /// A message arrived on a connection.
    pub on_message: wsx_on_message,
    /// A ping arrived on a connection.
    pub on_ping: wsx_on_ping,
    /// A pong arrived on a connection.
    pub on_pong: wsx_on_pong,
    /// A connection's send queue drained.
    pub on_writable: wsx_on_writable,
    /// A connection failed; its `on_close` follows.
    pub on_error: wsx_on_error,
    /// A connection is over.
    pub on_close: wsx_on_close,
    /// A failure outside any accepted connection.
    pub on_server_error: wsx_on_server_error,
    /// The server stopped.
    pub on_shutdown: wsx_on_shutdown,
    /// Releases `user_data` once the server and every connection using these
    /// callbacks are gone (also when `wsx_listen` fails).
    pub free_user_data: wsx_free_user_data,
}

/// Turns a server's events into calls of its C callbacks.
struct ServerAdapter {
    user: Arc<UserData>,
    on_upgrade: wsx_on_upgrade,
    conn_events: ConnEvents,
    on_server_error: wsx_on_server_error,
    on_shutdown: wsx_on_shutdown,
    /// From the server options.
    on_slow_subscriber: wsx_on_slow_subscriber,
}

impl ServerAdapter {
    fn new(c: &wsx_server_callbacks) -> ServerAdapter {
        ServerAdapter {
            user: UserData::new(c.user_data, c.free_user_data),
            on_upgrade: c.on_upgrade,
            conn_events: ConnEvents {
                on_open: c.on_open,
                on_message: c.on_message,
                on_ping: c.on_ping,
                on_pong: c.on_pong,
                on_writable: c.on_writable,
                on_error: c.on_error,
                on_close: c.on_close,
            },
            on_server_error: c.on_server_error,
            on_shutdown: c.on_shutdown,
            on_slow_subscriber: None,
        }
    }
}

impl ServerHandler for ServerAdapter {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let mut decision = wsx_upgrade {
            subprotocol: upgrade.subprotocol.clone(),
            headers: Vec::new(),
            refusal: None,
            handler: None,
        };
        if let Some(callback) = self.on_upgrade {
            let request = CRequest::new(
                upgrade.request,
                upgrade.peer_addr,
                upgrade.subprotocol.as_deref(),
            );
            // SAFETY: a C callback called with the pointers it was documented to get.
            unsafe { callback(self.user.ptr(), &mut decision, &request.event) };
        }
        if let Some(refusal) = decision.refusal {
            return Err(refusal);
        }
        upgrade.subprotocol = decision.subprotocol;
        upgrade.response_headers.extend(decision.headers);
        let handler = decision.handler.unwrap_or_else(|| {
            ConnAdapter::new(
                self.user.clone(),
                self.conn_events,
                Arc::new(OnceLock::new()),
            )
        });
        Ok(Box::new(handler))
    }

    fn on_error(&mut self, error: &Error) {
        if let Some(callback) = self.on_server_error {
            let error = CError::new(error);
            // SAFETY: as above.
            unsafe { callback(self.user.ptr(), &error.event) };
        }
    }

    fn on_shutdown(&mut self) {
        if let Some(callback) = self.on_shutdown {
            // SAFETY: as above.
            unsafe { callback(self.user.ptr()) };
        }
    }

    fn on_slow_subscriber(&mut self, conn: &Conn, topic: &str, action: SlowSubscriber) {
        let (callback, user) = (self.on_slow_subscriber, self.user.ptr());
        notify_slow_subscriber(callback, user, conn, topic, action);
    }
}

/// Binds and starts a server on `loop` (the bind happens before this returns,
/// so `wsx_server_port` works at once).
///
/// `options` may be NULL (defaults: 127.0.0.1, a free port) and is copied.
/// `callbacks` is copied; from this call on, the library owns
/// `callbacks->user_data` and calls `free_user_data` exactly once, also when
/// this call fails. On success `*out_server` is owned by the caller: free it
/// with `wsx_server_free`.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_listen(
    r#loop: *const wsx_loop,
    options: *const wsx_server_options,
    callbacks: *const wsx_server_callbacks,
    out_server: *mut *mut wsx_server,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer below.
        let callbacks = *unsafe { arg(callbacks, "callbacks") }?;
        let mut adapter = ServerAdapter::new(&callbacks);
        let event_loop = unsafe { arg(r#loop, "loop") }?;
        let out = unsafe { arg_mut(out_server, "out_server") }?;
        let config = match unsafe { options.as_ref() } {
            Some(options) => {
                adapter.on_slow_subscriber = options.on_slow_subscriber;
                options.config.clone()
            }
            None => Default::default(),
        };
        let server = event_loop.handle().listen(config, Box::new(adapter))?;
        *out = Box::into_raw(Box::new(wsx_server { server }));
        Ok(())
    })
}

/// Releases the caller's handle. The server keeps running until
/// `wsx_server_shutdown` or the loop stops. NULL is a no-op.
///
/// # Safety
/// `server` is NULL or from `wsx_listen`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_free(server: *mut wsx_server) {
    if !server.is_null() {
        // SAFETY: the caller gives up its handle.
        ffi_value((), || drop(unsafe { Box::from_raw(server) }));
    }
}

/// The port the server listens on (0 for NULL).
///
/// # Safety
/// `server` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_port(server: *const wsx_server) -> u16 {
    // SAFETY: the caller's promise.
    ffi_value(0, || {
        unsafe { server.as_ref() }.map_or(0, |server| server.server.local_addr().port())
    })
}

/// Writes the address the server listens on ("ip:port") and a NUL into
/// `out_buf` of `buf_len` bytes (64 always suffice).
///
/// # Safety
/// `server` is NULL or live; `out_buf` is NULL or has `buf_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_local_addr(
    server: *const wsx_server,
    out_buf: *mut c_char,
    buf_len: usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let server = unsafe { arg(server, "server") }?;
        // SAFETY: the caller's promise.
        unsafe { write_c_string(&server.server.local_addr().to_string(), out_buf, buf_len) }
    })
}

/// Graceful shutdown: stops accepting, closes every connection with 1001,
/// drops those still open after `timeout_ms`, then calls `on_shutdown`.
/// Callable from any thread.
///
/// # Safety
/// `server` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_shutdown(
    server: *const wsx_server,
    timeout_ms: u32,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let server = unsafe { arg(server, "server") }?;
        server
            .server
            .shutdown(Duration::from_millis(timeout_ms.into()));
        Ok(())
    })
}

/// Runs a decision on the upgrade behind a C pointer.
///
/// # Safety
/// `upgrade` is NULL or the pointer passed to the running upgrade callback.
unsafe fn decide(
    upgrade: *mut wsx_upgrade,
    f: impl FnOnce(&mut wsx_upgrade) -> Outcome,
) -> wsx_result {
    // SAFETY: the caller's promise.
    ffi_call(|| f(unsafe { arg_mut(upgrade, "upgrade") }?))
}

/// Refuses the handshake with an HTTP status and a short reason sent as the
/// body (NULL: none). A refusal is a status 400-599: any other gives
/// `WSX_ERR_INVALID_ARGUMENT` (and nothing changes). Headers added with
/// `wsx_upgrade_add_header` go with the refusal (WWW-Authenticate, ...); one
/// that a refusal writes itself (Content-Type, Content-Length, Connection,
/// Transfer-Encoding) also gives `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `upgrade` is the running upgrade callback's; `reason` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_upgrade_refuse(
    upgrade: *mut wsx_upgrade,
    status: u16,
    reason: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        decide(upgrade, |upgrade| {
            let reason = opt_str(reason, "reason")?.unwrap_or("");
            let mut refusal = Refusal::new(status, reason).map_err(invalid)?;
            for (name, value) in &upgrade.headers {
                refusal.add_header(name, value).map_err(invalid)?;
            }
            upgrade.refusal = Some(refusal);
            Ok(())
        })
    }
}

/// Sets the subprotocol to answer with (NULL: none), replacing the preset
/// choice in `wsx_request.subprotocol`. Copied.
///
/// # Safety
/// `upgrade` is the running upgrade callback's; `name` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_upgrade_set_subprotocol(
    upgrade: *mut wsx_upgrade,
    name: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        decide(upgrade, |upgrade| {
            upgrade.subprotocol = opt_str(name, "name")?.map(str::to_owned);
            Ok(())
        })
    }
}

/// Adds a header to the response, whether the 101 or a refusal. Copied. The
/// name must be an HTTP token and the value free of control characters (CR,
/// LF, NUL, ...), or `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `upgrade` is the running upgrade callback's; strings NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_upgrade_add_header(
    upgrade: *mut wsx_upgrade,
    name: *const c_char,
    value: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        decide(upgrade, |upgrade| {
            let (name, value) = header(arg_str(name, "name")?, arg_str(value, "value")?)?;
            if let Some(refusal) = &mut upgrade.refusal {
                refusal.add_header(&name, &value).map_err(invalid)?;
            }
            upgrade.headers.push((name, value));
            Ok(())
        })
    }
}

/// Gives the accepted connection callbacks of its own instead of the
/// server's. `callbacks` is copied and the library owns its `user_data` from
/// this call on: `free_user_data` runs exactly once, after the connection is
/// gone, or at once if the handshake is refused or the callbacks replaced.
///
/// # Safety
/// `upgrade` is the running upgrade callback's; `callbacks` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_upgrade_set_callbacks(
    upgrade: *mut wsx_upgrade,
    callbacks: *const wsx_conn_callbacks,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for both pointers.
        let callbacks = *unsafe { arg(callbacks, "callbacks") }?;
        let user = UserData::new(callbacks.user_data, callbacks.free_user_data);
        let handler = ConnAdapter::new(user, callbacks.events(), Arc::new(OnceLock::new()));
        unsafe { arg_mut(upgrade, "upgrade") }?.handler = Some(handler);
        Ok(())
    })
}

/// A refusal or header the core refused, as an invalid argument.
fn invalid(error: HandshakeError) -> Failure {
    Failure::invalid(error.to_string())
}
