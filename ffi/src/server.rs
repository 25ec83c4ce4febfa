//! Servers: `wsx_loop_listen`, the upgrade decision (at once, or deferred
//! through `wsx_pending_upgrade`), and shutdown.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use wsx_core::net::{
    ClusterGap, ClusterState, Conn, Error, Handler, PeerAddr, PendingUpgrade, Refusal, Server,
    ServerHandler, SlowSubscriber, Upgrade,
};
use wsx_core::proto::{CloseCode, HandshakeError};

use crate::boundary::{
    Extensible, Failure, Outcome, arg, arg_bytes, arg_mut, arg_str, ffi_call, ffi_value, opt_str,
    read_sized, write_c_string,
};
use crate::callbacks::{
    ConnAdapter, ConnEvents, UserData, calling, wsx_conn_callbacks, wsx_free_user_data,
};
use crate::cluster::{
    notify_cluster_gap, notify_cluster_state, wsx_on_cluster_gap, wsx_on_cluster_state,
};
use crate::event_loop::wsx_loop;
use crate::events::{CError, CRequest, read_headers, wsx_error, wsx_header, wsx_request};
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
    /// The core's upgrade, for `wsx_upgrade_defer` during the callback.
    core: *mut Upgrade<'static>,
    deferred: bool,
}

/// Decides on a handshake request: call `wsx_upgrade_*` on `upgrade` to
/// refuse it, pick a subprotocol, add response headers, give the connection
/// callbacks of its own, or defer the decision (`wsx_upgrade_defer`).
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

/// The callbacks of a server. Extensible: set `struct_size =
/// sizeof(wsx_server_callbacks)`, zero the rest and set what you need; every
/// function pointer may be NULL and fields past the caller's `struct_size`
/// count as NULL. The callbacks of the connections it accepts are a
/// `wsx_conn_callbacks` of their own (`conn`), with their own `user_data`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy)]
pub struct wsx_server_callbacks {
    /// `sizeof(wsx_server_callbacks)` as the caller was compiled with (at
    /// least up to `user_data`).
    pub struct_size: usize,
    /// Passed first to every callback below (not to those of `conn`).
    pub user_data: *mut c_void,
    /// Releases `user_data` once the server is gone (also when
    /// `wsx_loop_listen` fails).
    pub free_user_data: wsx_free_user_data,
    /// The callbacks of every accepted connection, unless the upgrade
    /// callback gave it its own (NULL: none). Read and copied by
    /// `wsx_loop_listen`; its `free_user_data` runs once the server and every
    /// connection using it are gone.
    pub conn: *const wsx_conn_callbacks,
    /// Decides on each handshake request (NULL: accept all that passed the
    /// Origin allow-list).
    pub on_upgrade: wsx_on_upgrade,
    /// A failure outside any accepted connection.
    pub on_server_error: wsx_on_server_error,
    /// The server stopped.
    pub on_shutdown: wsx_on_shutdown,
    /// A subscriber past its high-water mark missed a published message or
    /// was dropped (see `wsx_server_options_set_slow_subscriber`).
    pub on_slow_subscriber: wsx_on_slow_subscriber,
    /// The link to the cluster's broker changed state (see
    /// `wsx_server_options_set_cluster`). Added in 0.2 after
    /// `on_slow_subscriber`: an older struct_size leaves it NULL.
    pub on_cluster_state: wsx_on_cluster_state,
    /// Publications of another node of the cluster were lost.
    pub on_cluster_gap: wsx_on_cluster_gap,
}

// SAFETY: repr(C), `struct_size` first, and every field is a pointer or an
// optional function pointer, valid for any bytes C writes (NULL is None).
unsafe impl Extensible for wsx_server_callbacks {
    const NAME: &'static str = "wsx_server_callbacks";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_server_callbacks, free_user_data);
    fn base() -> Self {
        wsx_server_callbacks {
            struct_size: 0,
            user_data: std::ptr::null_mut(),
            free_user_data: None,
            conn: std::ptr::null(),
            on_upgrade: None,
            on_server_error: None,
            on_shutdown: None,
            on_slow_subscriber: None,
            on_cluster_state: None,
            on_cluster_gap: None,
        }
    }
}

/// Turns a server's events into calls of its C callbacks.
struct ServerAdapter {
    user: Arc<UserData>,
    on_upgrade: wsx_on_upgrade,
    /// The accepted connections' callbacks and their user data.
    conn: Option<(Arc<UserData>, ConnEvents)>,
    on_server_error: wsx_on_server_error,
    on_shutdown: wsx_on_shutdown,
    on_slow_subscriber: wsx_on_slow_subscriber,
    /// `wsx_server_options_set_plain_http`.
    plain_http: bool,
    on_cluster_state: wsx_on_cluster_state,
    on_cluster_gap: wsx_on_cluster_gap,
}

impl ServerAdapter {
    /// Takes ownership of the user data of `c` and of its `conn` callbacks.
    ///
    /// # Safety
    /// `c.conn` is NULL or valid.
    unsafe fn new(c: &wsx_server_callbacks) -> Outcome<ServerAdapter> {
        let user = UserData::new(c.user_data, c.free_user_data);
        let conn = if c.conn.is_null() {
            None
        } else {
            // SAFETY: the caller's promise.
            let conn = unsafe { read_sized(c.conn, "callbacks->conn") }?;
            Some((
                UserData::new(conn.user_data, conn.free_user_data),
                conn.events(),
            ))
        };
        Ok(ServerAdapter {
            user,
            on_upgrade: c.on_upgrade,
            conn,
            on_server_error: c.on_server_error,
            on_shutdown: c.on_shutdown,
            on_slow_subscriber: c.on_slow_subscriber,
            plain_http: false,
            on_cluster_state: c.on_cluster_state,
            on_cluster_gap: c.on_cluster_gap,
        })
    }
}

/// A handler for a connection with no callbacks at all.
struct Silent;

impl Handler for Silent {}

impl ServerHandler for ServerAdapter {
    fn answers_plain_http(&self) -> bool {
        self.plain_http
    }

    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let mut decision = wsx_upgrade {
            subprotocol: upgrade.subprotocol.clone(),
            headers: Vec::new(),
            refusal: None,
            handler: None,
            core: (upgrade as *mut Upgrade<'_>).cast::<Upgrade<'static>>(),
            deferred: false,
        };
        if let Some(callback) = self.on_upgrade {
            let request = CRequest::new(upgrade);
            // SAFETY: a C callback called with the pointers it was documented
            // to get; `decision.core` points at `upgrade` during the call.
            calling(|| unsafe { callback(self.user.ptr(), &mut decision, &request.event) });
        }
        if let Some(refusal) = decision.refusal {
            return Err(refusal);
        }
        upgrade.subprotocol = decision.subprotocol;
        upgrade.response_headers.extend(decision.headers);
        if let Some(handler) = decision.handler {
            return Ok(Box::new(handler));
        }
        Ok(match &self.conn {
            Some((user, events)) => Box::new(ConnAdapter::new(
                user.clone(),
                *events,
                Arc::new(OnceLock::new()),
            )),
            None => Box::new(Silent),
        })
    }

    fn on_error(&mut self, error: &Error) {
        if let Some(callback) = self.on_server_error {
            let error = CError::new(error);
            // SAFETY: as above.
            calling(|| unsafe { callback(self.user.ptr(), &error.event) });
        }
    }

    fn on_shutdown(&mut self) {
        if let Some(callback) = self.on_shutdown {
            // SAFETY: as above.
            calling(|| unsafe { callback(self.user.ptr()) });
        }
    }

    fn on_slow_subscriber(&mut self, conn: &Conn, topic: &str, action: SlowSubscriber) {
        let (callback, user) = (self.on_slow_subscriber, self.user.ptr());
        calling(|| notify_slow_subscriber(callback, user, conn, topic, action));
    }

    fn on_cluster_state(&mut self, state: ClusterState, detail: &str) {
        let (callback, user) = (self.on_cluster_state, self.user.ptr());
        calling(|| notify_cluster_state(callback, user, state, detail));
    }

    fn on_cluster_gap(&mut self, gap: &ClusterGap<'_>) {
        let (callback, user) = (self.on_cluster_gap, self.user.ptr());
        calling(|| notify_cluster_gap(callback, user, gap));
    }
}

/// Binds and starts a server on `loop` (the bind happens before this returns,
/// so `wsx_server_port` works at once).
///
/// `options` may be NULL (defaults: 127.0.0.1, a free port) and is copied.
/// `callbacks` (and `callbacks->conn`) is copied; from this call on, the
/// library owns both `user_data`s and calls each `free_user_data` exactly
/// once, also when this call fails (but not for a struct refused itself:
/// NULL, or a bad `struct_size`). On success `*out_server` is owned by the
/// caller: free it with `wsx_server_free`. Callable from any thread.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_loop_listen(
    r#loop: *const wsx_loop,
    options: *const wsx_server_options,
    callbacks: *const wsx_server_callbacks,
    out_server: *mut *mut wsx_server,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer below.
        let callbacks = unsafe { read_sized(callbacks, "callbacks") }?;
        // SAFETY: as above.
        let mut adapter = unsafe { ServerAdapter::new(&callbacks) }?;
        // SAFETY: as above.
        let event_loop = unsafe { arg(r#loop, "loop") }?;
        // SAFETY: as above.
        let out = unsafe { arg_mut(out_server, "out_server") }?;
        // SAFETY: as above.
        let config = match unsafe { options.as_ref() } {
            Some(o) => {
                adapter.plain_http = o.plain_http;
                o.to_config()?
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
/// `server` is NULL or from `wsx_loop_listen`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_free(server: *mut wsx_server) {
    if !server.is_null() {
        // SAFETY: the caller gives up its handle.
        ffi_value((), || drop(unsafe { Box::from_raw(server) }));
    }
}

/// The port the server listens on (0 for NULL, and for a server on a Unix
/// domain socket).
///
/// # Safety
/// `server` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_port(server: *const wsx_server) -> u16 {
    // SAFETY: the caller's promise.
    ffi_value(0, || {
        // SAFETY: the caller's promise.
        unsafe { server.as_ref() }.map_or(0, |server| server.server.local_addr().port())
    })
}

/// Writes the address the server listens on ("ip:port", or "unix:" and the
/// path of its Unix domain socket) and a NUL into `out_buf` of `buf_len`
/// bytes (64 suffice for an IP address, 128 for a socket's path).
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
        let addr = match server.server.unix_socket_path() {
            Some(path) => PeerAddr::Unix(Some(path.to_owned())).to_string(),
            None => server.server.local_addr().to_string(),
        };
        // SAFETY: the caller's promise.
        unsafe { write_c_string(&addr, out_buf, buf_len) }
    })
}

/// Graceful shutdown with 1001 (going away): `wsx_server_drain(server, 1001,
/// "server shutting down", timeout_ms)`. Callable from any thread.
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

/// Graceful shutdown (the drain): every open connection gets a close frame
/// with `code` and `reason` (NULL: none; 1012 "service restart" tells
/// reconnecting clients to come back) and the time to answer; handshakes
/// meanwhile, plain HTTP included, are answered 503 (a load balancer's
/// health check fails over); what is still open after `timeout_ms` is
/// dropped. Then the server stops listening and `on_shutdown` runs. A second
/// call changes nothing. `code` and `reason` follow `wsx_conn_close`'s rules
/// (`WSX_ERR_INVALID_ARGUMENT` otherwise). Callable from any thread.
///
/// # Safety
/// `server` is NULL or live; `reason` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_drain(
    server: *const wsx_server,
    code: u16,
    reason: *const c_char,
    timeout_ms: u32,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let server = unsafe { arg(server, "server") }?;
        // SAFETY: the caller's promise.
        let reason = unsafe { opt_str(reason, "reason") }?.unwrap_or("");
        let timeout = Duration::from_millis(timeout_ms.into());
        server.server.drain(CloseCode(code), reason, timeout)?;
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

/// Answers the request with an HTTP response of the application's own
/// instead of the handshake: any final status 200-599 (`200` for a health
/// check, `301`/`302` with `Location`, a small page, `401` with
/// `WWW-Authenticate`), the headers added with `wsx_upgrade_add_header` and
/// then `headers` (`headers_len` entries; NULL: none), and `body_len` bytes
/// of `body` (NULL with 0: empty). Without a `Content-Type` header,
/// `text/plain; charset=utf-8` is sent; `Content-Length` and `Connection:
/// close` are written by the library (giving them, or `Transfer-Encoding`,
/// is `WSX_ERR_INVALID_ARGUMENT`, as are a status outside 200-599 and a bad
/// header; nothing changes then). The connection closes once the response
/// is out. Meant for plain HTTP requests (`wsx_request.plain_http`, see
/// `wsx_server_options_set_plain_http`), valid for any request. Everything is
/// copied.
///
/// # Safety
/// `upgrade` is the running upgrade callback's; `headers` is NULL or points
/// to `headers_len` entries; `body` is NULL or has `body_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_upgrade_respond(
    upgrade: *mut wsx_upgrade,
    status: u16,
    headers: *const wsx_header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        decide(upgrade, |upgrade| {
            let extra = read_headers(headers, headers_len)?.unwrap_or_default();
            let all = upgrade.headers.iter().cloned().chain(extra).collect();
            let body = arg_bytes(body, body_len, "body")?.to_vec();
            upgrade.refusal = Some(Refusal::response(status, all, body).map_err(invalid)?);
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
/// server's `conn` callbacks. `callbacks` (`struct_size` set) is copied and
/// the library owns its `user_data` from this call on: `free_user_data` runs
/// exactly once, after the connection is gone, or at once if the handshake
/// is refused or the callbacks replaced (also when this call fails, unless
/// `callbacks` itself is refused: NULL or a bad `struct_size`).
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
        let callbacks = unsafe { read_sized(callbacks, "callbacks") }?;
        let user = UserData::new(callbacks.user_data, callbacks.free_user_data);
        let handler = ConnAdapter::new(user, callbacks.events(), Arc::new(OnceLock::new()));
        // SAFETY: as above.
        unsafe { arg_mut(upgrade, "upgrade") }?.handler = Some(handler);
        Ok(())
    })
}

/// A refusal or header the core refused, as an invalid argument.
fn invalid(error: HandshakeError) -> Failure {
    Failure::invalid(error.to_string())
}

/// A handshake whose decision `wsx_upgrade_defer` postponed: decide it once,
/// from any thread, before the server's handshake timeout passes, with
/// `wsx_pending_upgrade_accept`, `_accept_with` or `_refuse`; then free it
/// with `wsx_pending_upgrade_free` (freeing it undecided refuses with 500).
/// Thread-safe.
pub struct wsx_pending_upgrade {
    pending: Mutex<Option<PendingUpgrade>>,
}

/// Postpones the decision on this handshake, so it can be taken elsewhere
/// (another thread, a database) without stalling the loop. After the
/// upgrade callback returns, the connection waits (its handshake timeout
/// still runs) for a decision on `*out_pending`, owned by the caller. The
/// callbacks the connection gets if accepted, the subprotocol and headers
/// `wsx_pending_upgrade_accept` answers with, are those set on `upgrade`
/// before the callback returns. Calling `wsx_upgrade_refuse` as well
/// refuses at once (a later decision on the pending upgrade changes nothing).
/// At most once per upgrade (`WSX_ERR_STATE` after).
///
/// # Safety
/// `upgrade` is NULL or the running upgrade callback's; `out_pending` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_upgrade_defer(
    upgrade: *mut wsx_upgrade,
    out_pending: *mut *mut wsx_pending_upgrade,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for both pointers.
        let upgrade = unsafe { arg_mut(upgrade, "upgrade") }?;
        // SAFETY: as above.
        let out = unsafe { arg_mut(out_pending, "out_pending") }?;
        if std::mem::replace(&mut upgrade.deferred, true) {
            return Err(Failure::state("this upgrade was deferred already"));
        }
        // SAFETY: `core` points at the core's upgrade for the duration of the
        // callback, during which the caller promised to call this.
        let pending = unsafe { &mut *upgrade.core }.defer();
        *out = Box::into_raw(Box::new(wsx_pending_upgrade {
            pending: Mutex::new(Some(pending)),
        }));
        Ok(())
    })
}

/// Takes the undecided handshake out of a pending upgrade.
///
/// # Safety
/// `pending` is NULL or live.
unsafe fn take_pending(pending: *const wsx_pending_upgrade) -> Outcome<PendingUpgrade> {
    // SAFETY: the caller's promise.
    let pending = unsafe { arg(pending, "pending") }?;
    pending
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .ok_or_else(|| Failure::state("this handshake was decided already"))
}

/// Accepts the handshake with the subprotocol and response headers the
/// upgrade held when its callback returned. `WSX_ERR_STATE` if it was
/// decided already; `WSX_ERR_CLOSED` if it is too late (the handshake
/// timeout passed, or the client left). Callable from any thread.
///
/// # Safety
/// `pending` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_pending_upgrade_accept(
    pending: *const wsx_pending_upgrade,
) -> wsx_result {
    // SAFETY: the caller's promise.
    ffi_call(|| Ok(unsafe { take_pending(pending) }?.accept()?))
}

/// Accepts the handshake with the subprotocol `subprotocol` (NULL: none) and
/// the extra response headers `headers` (`headers_len` entries; NULL: none),
/// in place of those the upgrade held. Everything is copied. Results as
/// `wsx_pending_upgrade_accept`, and `WSX_ERR_INVALID_ARGUMENT` for a bad
/// header (the handshake stays undecided).
///
/// # Safety
/// `pending` is NULL or live; `subprotocol` is NULL or NUL-terminated;
/// `headers` is NULL or points to `headers_len` entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_pending_upgrade_accept_with(
    pending: *const wsx_pending_upgrade,
    subprotocol: *const c_char,
    headers: *const wsx_header,
    headers_len: usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer.
        let subprotocol = unsafe { opt_str(subprotocol, "subprotocol") }?.map(str::to_owned);
        // SAFETY: as above.
        let headers = unsafe { read_headers(headers, headers_len) }?.unwrap_or_default();
        // SAFETY: as above.
        let pending = unsafe { take_pending(pending) }?;
        pending.accept_with(subprotocol, headers)?;
        Ok(())
    })
}

/// Refuses the handshake with an HTTP status 400-599, a short reason sent as
/// the body (NULL: none) and extra response headers (`headers_len` entries;
/// NULL: none), all copied. A bad status or header gives
/// `WSX_ERR_INVALID_ARGUMENT` and leaves the handshake undecided; otherwise
/// results as `wsx_pending_upgrade_accept`.
///
/// # Safety
/// `pending` is NULL or live; `reason` is NULL or NUL-terminated; `headers`
/// is NULL or points to `headers_len` entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_pending_upgrade_refuse(
    pending: *const wsx_pending_upgrade,
    status: u16,
    reason: *const c_char,
    headers: *const wsx_header,
    headers_len: usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer.
        let reason = unsafe { opt_str(reason, "reason") }?.unwrap_or("");
        let mut refusal = Refusal::new(status, reason).map_err(invalid)?;
        // SAFETY: as above.
        let headers = unsafe { read_headers(headers, headers_len) }?.unwrap_or_default();
        for (name, value) in &headers {
            refusal.add_header(name, value).map_err(invalid)?;
        }
        // SAFETY: as above.
        let pending = unsafe { take_pending(pending) }?;
        pending.refuse(refusal)?;
        Ok(())
    })
}

/// Answers the deferred request with an HTTP response of the application's
/// own, as `wsx_upgrade_respond` does (status 200-599, `headers`, `body`;
/// only these headers, not those of the upgrade). A bad status or header
/// gives `WSX_ERR_INVALID_ARGUMENT` and leaves it undecided; otherwise
/// results as `wsx_pending_upgrade_accept`. Everything is copied.
///
/// # Safety
/// `pending` is NULL or live; `headers` is NULL or points to `headers_len`
/// entries; `body` is NULL or has `body_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_pending_upgrade_respond(
    pending: *const wsx_pending_upgrade,
    status: u16,
    headers: *const wsx_header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer.
        let headers = unsafe { read_headers(headers, headers_len) }?.unwrap_or_default();
        // SAFETY: as above.
        let body = unsafe { arg_bytes(body, body_len, "body") }?.to_vec();
        let response = Refusal::response(status, headers, body).map_err(invalid)?;
        // SAFETY: as above.
        let pending = unsafe { take_pending(pending) }?;
        pending.refuse(response)?;
        Ok(())
    })
}

/// Frees a pending upgrade; if it is still undecided, the handshake is
/// refused with 500. NULL is a no-op. Callable from any thread.
///
/// # Safety
/// `pending` is NULL or from `wsx_upgrade_defer`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_pending_upgrade_free(pending: *mut wsx_pending_upgrade) {
    if !pending.is_null() {
        // SAFETY: the caller gives up its handle.
        ffi_value((), || drop(unsafe { Box::from_raw(pending) }));
    }
}
