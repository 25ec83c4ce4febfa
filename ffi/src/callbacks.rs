//! Callback tables and the adapter that turns a connection's events into
//! calls of them.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wsx_core::net::{Attempt, Close, Conn, Ctx, Error, Handler, Open};
use wsx_core::proto::MessageKind;

use crate::conn::wsx_conn;
use crate::events::{
    CClose, CError, COpen, micros, wsx_close, wsx_error, wsx_message, wsx_msg_kind, wsx_open,
    wsx_ping, wsx_pong,
};
use crate::resilience::{wsx_client_hooks, wsx_connecting, wsx_request_headers};

/// Called once when the handshake succeeded.
pub type wsx_on_open = Option<
    unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn, open: *const wsx_open),
>;
/// Called for every received message (every piece of one in streaming mode).
pub type wsx_on_message = Option<
    unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn, message: *const wsx_message),
>;
/// Called for every received ping (already answered unless auto-pong is off).
pub type wsx_on_ping = Option<
    unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn, ping: *const wsx_ping),
>;
/// Called for every received pong.
pub type wsx_on_pong = Option<
    unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn, pong: *const wsx_pong),
>;
/// Called when the send queue drained below its low-water mark after a send
/// returned `WSX_ERR_WOULD_BLOCK`.
pub type wsx_on_writable =
    Option<unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn)>;
/// Called when something failed; the close callback follows.
pub type wsx_on_error = Option<
    unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn, error: *const wsx_error),
>;
/// Called once when the connection is over; no callback of this connection
/// runs after it returned.
pub type wsx_on_close = Option<
    unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn, close: *const wsx_close),
>;
/// Releases `user_data`; runs exactly once, when the library holds no more
/// references to it, on whichever thread let go last.
pub type wsx_free_user_data = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The callbacks of one connection. Every function pointer may be NULL
/// (the event is ignored). Zero-initialise it and set what you need.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy)]
pub struct wsx_conn_callbacks {
    /// Passed first to every callback below.
    pub user_data: *mut c_void,
    /// The handshake succeeded.
    pub on_open: wsx_on_open,
    /// A message arrived.
    pub on_message: wsx_on_message,
    /// A ping arrived.
    pub on_ping: wsx_on_ping,
    /// A pong arrived.
    pub on_pong: wsx_on_pong,
    /// The send queue drained.
    pub on_writable: wsx_on_writable,
    /// Something failed; `on_close` follows.
    pub on_error: wsx_on_error,
    /// The connection is over.
    pub on_close: wsx_on_close,
    /// Releases `user_data` once the connection is gone (also when the call
    /// that received these callbacks fails).
    pub free_user_data: wsx_free_user_data,
}

/// The per-connection function pointers of a callback table, without its user data.
#[derive(Clone, Copy)]
pub(crate) struct ConnEvents {
    pub(crate) on_open: wsx_on_open,
    pub(crate) on_message: wsx_on_message,
    pub(crate) on_ping: wsx_on_ping,
    pub(crate) on_pong: wsx_on_pong,
    pub(crate) on_writable: wsx_on_writable,
    pub(crate) on_error: wsx_on_error,
    pub(crate) on_close: wsx_on_close,
}

impl wsx_conn_callbacks {
    pub(crate) fn events(&self) -> ConnEvents {
        ConnEvents {
            on_open: self.on_open,
            on_message: self.on_message,
            on_ping: self.on_ping,
            on_pong: self.on_pong,
            on_writable: self.on_writable,
            on_error: self.on_error,
            on_close: self.on_close,
        }
    }
}

/// User data owned by the library: `free_user_data` runs when the last owner drops it.
pub(crate) struct UserData {
    ptr: *mut c_void,
    free: wsx_free_user_data,
}

// SAFETY: the C API's contract makes user data usable from the loop thread
// and freeable from any thread; the library only passes the pointer along.
unsafe impl Send for UserData {}
// SAFETY: as above; the pointer is never dereferenced here.
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void, free: wsx_free_user_data) -> Arc<UserData> {
        Arc::new(UserData { ptr, free })
    }

    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: C gave us this destructor for this pointer, to run once.
            unsafe { free(self.ptr) }
        }
    }
}

/// The handle C sees for this connection, created on first use by whichever
/// comes first: the connect call returning or the first callback.
pub(crate) type ConnSlot = Arc<OnceLock<Arc<wsx_conn>>>;

pub(crate) fn slot_handle(slot: &ConnSlot, conn: &Conn) -> Arc<wsx_conn> {
    slot.get_or_init(|| Arc::new(wsx_conn::new(conn.clone())))
        .clone()
}

thread_local! {
    /// The connection whose callback runs on this thread, with its `Ctx`, so
    /// a send from inside the callback takes the direct path.
    static CURRENT: Cell<(*const wsx_conn, *mut Ctx<'static>)> =
        const { Cell::new((std::ptr::null(), std::ptr::null_mut())) };
}

/// Restores the previous current connection when a callback returns.
struct CurrentGuard((*const wsx_conn, *mut Ctx<'static>));

impl CurrentGuard {
    fn enter(conn: *const wsx_conn, ctx: &mut Ctx<'_>) -> CurrentGuard {
        let ctx = (ctx as *mut Ctx<'_>).cast::<Ctx<'static>>();
        CurrentGuard(CURRENT.with(|current| current.replace((conn, ctx))))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.0));
    }
}

/// Runs `f` with the `Ctx` of `conn` when `conn`'s callback is running on
/// this thread; `None` otherwise.
pub(crate) fn with_current_ctx<R>(
    conn: *const wsx_conn,
    f: impl FnOnce(&mut Ctx<'_>) -> R,
) -> Option<R> {
    let (current, ctx) = CURRENT.with(Cell::get);
    if ctx.is_null() || current != conn {
        return None;
    }
    // Taken out while in use, so a nested call cannot alias it.
    CURRENT.with(|cell| cell.set((std::ptr::null(), std::ptr::null_mut())));
    // SAFETY: the pointer was set from a live `&mut Ctx` by the callback
    // frame below us on this thread, which restores it when it returns.
    let result = f(unsafe { &mut *ctx });
    CURRENT.with(|cell| cell.set((current, ctx)));
    Some(result)
}

/// Turns one connection's events into calls of its C callbacks.
pub(crate) struct ConnAdapter {
    user: Arc<UserData>,
    events: ConnEvents,
    hooks: wsx_client_hooks,
    slot: ConnSlot,
    closed: bool,
}

impl ConnAdapter {
    pub(crate) fn new(user: Arc<UserData>, events: ConnEvents, slot: ConnSlot) -> ConnAdapter {
        ConnAdapter {
            user,
            events,
            hooks: wsx_client_hooks::default(),
            slot,
            closed: false,
        }
    }

    /// Adds the client-only callbacks.
    pub(crate) fn with_client_hooks(self, hooks: wsx_client_hooks) -> ConnAdapter {
        ConnAdapter { hooks, ..self }
    }

    fn handle(&self, conn: &Conn) -> *mut wsx_conn {
        Arc::as_ptr(&slot_handle(&self.slot, conn)).cast_mut()
    }

    /// Calls `f` with the user data and the connection while `ctx` is current.
    fn dispatch(&self, ctx: &mut Ctx<'_>, f: impl FnOnce(*mut c_void, *mut wsx_conn)) {
        if self.closed {
            return;
        }
        let conn = self.handle(ctx.conn());
        let _current = CurrentGuard::enter(conn, ctx);
        f(self.user.ptr(), conn);
    }
}

impl Handler for ConnAdapter {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, open: &Open<'_>) {
        let Some(callback) = self.events.on_open else {
            return;
        };
        let open = COpen::new(open);
        // SAFETY: a C callback called with the pointers it was documented to get.
        self.dispatch(ctx, |user, conn| unsafe {
            callback(user, conn, &open.event)
        });
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], fin: bool) {
        let Some(callback) = self.events.on_message else {
            return;
        };
        let message = wsx_message {
            kind: wsx_msg_kind::from_core(kind),
            data: data.as_ptr(),
            len: data.len(),
            fin,
        };
        // SAFETY: as above; `data` outlives the call.
        self.dispatch(ctx, |user, conn| unsafe { callback(user, conn, &message) });
    }

    fn on_ping(&mut self, ctx: &mut Ctx<'_>, data: &[u8]) {
        let Some(callback) = self.events.on_ping else {
            return;
        };
        let ping = wsx_ping {
            data: data.as_ptr(),
            len: data.len(),
        };
        // SAFETY: as above.
        self.dispatch(ctx, |user, conn| unsafe { callback(user, conn, &ping) });
    }

    fn on_pong(&mut self, ctx: &mut Ctx<'_>, data: &[u8], rtt: Option<Duration>) {
        let Some(callback) = self.events.on_pong else {
            return;
        };
        let pong = wsx_pong {
            data: data.as_ptr(),
            len: data.len(),
            rtt_us: micros(rtt),
        };
        // SAFETY: as above.
        self.dispatch(ctx, |user, conn| unsafe { callback(user, conn, &pong) });
    }

    fn on_writable(&mut self, ctx: &mut Ctx<'_>) {
        let Some(callback) = self.events.on_writable else {
            return;
        };
        // SAFETY: as above.
        self.dispatch(ctx, |user, conn| unsafe { callback(user, conn) });
    }

    fn on_error(&mut self, conn: &Conn, error: &Error) {
        let Some(callback) = self.events.on_error.filter(|_| !self.closed) else {
            return;
        };
        let error = CError::new(error);
        // SAFETY: as above.
        unsafe { callback(self.user.ptr(), self.handle(conn), &error.event) };
    }

    fn on_connecting(&mut self, conn: &Conn, attempt: u32, delay: Duration) {
        let Some(callback) = self.hooks.on_connecting.filter(|_| !self.closed) else {
            return;
        };
        let connecting = wsx_connecting {
            attempt,
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        };
        // SAFETY: as above.
        unsafe { callback(self.user.ptr(), self.handle(conn), &connecting) };
    }

    fn on_before_connect(&mut self, attempt: &mut Attempt<'_>) {
        let Some(callback) = self.hooks.on_before_connect.filter(|_| !self.closed) else {
            return;
        };
        let conn = attempt.conn().clone();
        let mut c_headers = wsx_request_headers {
            headers: attempt.headers,
        };
        // SAFETY: as above; `c_headers` points at `headers` for this call only.
        unsafe { callback(self.user.ptr(), self.handle(&conn), &mut c_headers) };
    }

    fn on_disconnect(&mut self, conn: &Conn, close: &Close<'_>) {
        let Some(callback) = self.hooks.on_disconnect.filter(|_| !self.closed) else {
            return;
        };
        let close = CClose::new(close);
        // SAFETY: as above.
        unsafe { callback(self.user.ptr(), self.handle(conn), &close.event) };
    }

    fn on_close(&mut self, conn: &Conn, close: &Close<'_>) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let Some(callback) = self.events.on_close else {
            return;
        };
        let close = CClose::new(close);
        // SAFETY: as above.
        unsafe { callback(self.user.ptr(), self.handle(conn), &close.event) };
    }
}
