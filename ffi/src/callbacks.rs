//! Callback tables and the adapter that turns a connection's events into
//! calls of them.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wsx_core::net::{Attempt, Close, Conn, Ctx, Error, Handler, Open};
use wsx_core::proto::MessageKind;

use crate::boundary::Extensible;
use crate::client::{wsx_attempt, wsx_connecting};
use crate::conn::wsx_conn;
use crate::events::{
    CClose, CError, COpen, micros, wsx_close, wsx_error, wsx_message, wsx_msg_kind, wsx_open,
    wsx_ping, wsx_pong,
};

/// Called once when the handshake succeeded (on a reconnecting client: after
/// each successful handshake, with `open->is_reconnect` set after the first).
pub type wsx_on_open = Option<
    unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn, open: *const wsx_open),
>;
/// Called for every received message (every piece of one in streaming mode).
/// Not called in pull mode (`wsx_conn_options_set_inbox`).
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
/// (from any thread) returned `WSX_ERR_WOULD_BLOCK`: send again now.
pub type wsx_on_writable =
    Option<unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn)>;
/// Pull mode: the inbox was empty and a message arrived. Take it, and those
/// after it, with `wsx_conn_recv` until `WSX_ERR_WOULD_BLOCK` (from any
/// thread); the callback runs again only after the inbox was found empty.
pub type wsx_on_readable =
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
/// Client: an attempt starts now. `attempt` is valid during the call only:
/// change its request headers with `wsx_attempt_set_header` (refresh a
/// token, set cookies), or postpone it with `wsx_attempt_defer`.
pub type wsx_on_before_connect = Option<
    unsafe extern "C" fn(user_data: *mut c_void, conn: *mut wsx_conn, attempt: *mut wsx_attempt),
>;
/// Releases `user_data`; runs exactly once, when the library holds no more
/// references to it, on whichever thread let go last.
pub type wsx_free_user_data = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The callbacks of one connection, client or server side. Extensible: set
/// `struct_size = sizeof(wsx_conn_callbacks)`, zero the rest and set what
/// you need; every function pointer may be NULL (the event is ignored).
/// Fields past the caller's `struct_size` count as NULL.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy)]
pub struct wsx_conn_callbacks {
    /// `sizeof(wsx_conn_callbacks)` as the caller was compiled with (at least
    /// up to `user_data`).
    pub struct_size: usize,
    /// Passed first to every callback below.
    pub user_data: *mut c_void,
    /// Releases `user_data` once the connection is gone (also when the call
    /// that received these callbacks fails).
    pub free_user_data: wsx_free_user_data,
    /// The handshake succeeded.
    pub on_open: wsx_on_open,
    /// A message arrived (push mode).
    pub on_message: wsx_on_message,
    /// Something failed; `on_close` follows.
    pub on_error: wsx_on_error,
    /// The connection is over.
    pub on_close: wsx_on_close,
    /// A ping arrived.
    pub on_ping: wsx_on_ping,
    /// A pong arrived.
    pub on_pong: wsx_on_pong,
    /// The send queue drained.
    pub on_writable: wsx_on_writable,
    /// Pull mode: a message waits in the empty inbox.
    pub on_readable: wsx_on_readable,
    /// Client: an attempt to connect is about to start (also the first one).
    pub on_connecting: wsx_on_connecting,
    /// Client with reconnecting on: a connection or attempt ended, another follows.
    pub on_disconnect: wsx_on_disconnect,
    /// Client: an attempt starts now; its request headers may be changed.
    pub on_before_connect: wsx_on_before_connect,
}

// SAFETY: repr(C), `struct_size` first, and every field is a pointer or an
// optional function pointer, valid for any bytes C writes (NULL is None).
unsafe impl Extensible for wsx_conn_callbacks {
    const NAME: &'static str = "wsx_conn_callbacks";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_conn_callbacks, free_user_data);
    fn base() -> Self {
        wsx_conn_callbacks {
            struct_size: 0,
            user_data: std::ptr::null_mut(),
            free_user_data: None,
            on_open: None,
            on_message: None,
            on_error: None,
            on_close: None,
            on_ping: None,
            on_pong: None,
            on_writable: None,
            on_readable: None,
            on_connecting: None,
            on_disconnect: None,
            on_before_connect: None,
        }
    }
}

/// The per-connection function pointers of a callback table, without its user data.
#[derive(Clone, Copy)]
pub(crate) struct ConnEvents(wsx_conn_callbacks);

impl wsx_conn_callbacks {
    pub(crate) fn events(&self) -> ConnEvents {
        ConnEvents(wsx_conn_callbacks {
            user_data: std::ptr::null_mut(),
            free_user_data: None,
            ..*self
        })
    }
}

// SAFETY: only function pointers are left (user data and its destructor are
// cleared by `events`); C callbacks are callable from the loop's thread.
unsafe impl Send for ConnEvents {}

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

thread_local! {
    /// How many C callbacks of the library run on this thread (nested).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether a C callback of the library runs on this thread: a blocking call
/// here would stall the loop that called it.
pub(crate) fn in_callback() -> bool {
    DEPTH.with(Cell::get) > 0
}

/// Leaves a callback when dropped.
struct Depth;

impl Drop for Depth {
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// Runs `f`, a call into C, counted by [`in_callback`].
pub(crate) fn calling<R>(f: impl FnOnce() -> R) -> R {
    DEPTH.with(|depth| depth.set(depth.get() + 1));
    let _depth = Depth;
    f()
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
    slot: ConnSlot,
    closed: bool,
}

impl ConnAdapter {
    pub(crate) fn new(user: Arc<UserData>, events: ConnEvents, slot: ConnSlot) -> ConnAdapter {
        ConnAdapter {
            user,
            events,
            slot,
            closed: false,
        }
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
        calling(|| f(self.user.ptr(), conn));
    }
}

impl Handler for ConnAdapter {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, open: &Open<'_>) {
        let Some(callback) = self.events.0.on_open else {
            return;
        };
        let open = COpen::new(open);
        // SAFETY: a C callback called with the pointers it was documented to get.
        self.dispatch(ctx, |user, conn| unsafe {
            callback(user, conn, &open.event)
        });
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], fin: bool) {
        let Some(callback) = self.events.0.on_message else {
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
        let Some(callback) = self.events.0.on_ping else {
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
        let Some(callback) = self.events.0.on_pong else {
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

    fn on_readable(&mut self, ctx: &mut Ctx<'_>) {
        let Some(callback) = self.events.0.on_readable else {
            return;
        };
        // SAFETY: as above.
        self.dispatch(ctx, |user, conn| unsafe { callback(user, conn) });
    }

    fn on_writable(&mut self, ctx: &mut Ctx<'_>) {
        let Some(callback) = self.events.0.on_writable else {
            return;
        };
        // SAFETY: as above.
        self.dispatch(ctx, |user, conn| unsafe { callback(user, conn) });
    }

    fn on_error(&mut self, conn: &Conn, error: &Error) {
        let Some(callback) = self.events.0.on_error.filter(|_| !self.closed) else {
            return;
        };
        let error = CError::new(error);
        // SAFETY: as above.
        calling(|| unsafe { callback(self.user.ptr(), self.handle(conn), &error.event) });
    }

    fn on_connecting(&mut self, conn: &Conn, attempt: u32, delay: Duration) {
        let Some(callback) = self.events.0.on_connecting.filter(|_| !self.closed) else {
            return;
        };
        let connecting = wsx_connecting {
            attempt,
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        };
        // SAFETY: as above.
        calling(|| unsafe { callback(self.user.ptr(), self.handle(conn), &connecting) });
    }

    fn on_before_connect(&mut self, attempt: &mut Attempt<'_>) {
        let Some(callback) = self.events.0.on_before_connect.filter(|_| !self.closed) else {
            return;
        };
        let conn = attempt.conn().clone();
        let mut c_attempt = wsx_attempt::new(attempt);
        // SAFETY: as above; `c_attempt` points at `attempt` for this call only.
        calling(|| unsafe { callback(self.user.ptr(), self.handle(&conn), &mut c_attempt) });
    }

    fn on_disconnect(&mut self, conn: &Conn, close: &Close<'_>) {
        let Some(callback) = self.events.0.on_disconnect.filter(|_| !self.closed) else {
            return;
        };
        let close = CClose::new(close);
        // SAFETY: as above.
        calling(|| unsafe { callback(self.user.ptr(), self.handle(conn), &close.event) });
    }

    fn on_close(&mut self, conn: &Conn, close: &Close<'_>) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let Some(callback) = self.events.0.on_close else {
            return;
        };
        let close = CClose::new(close);
        // SAFETY: as above.
        calling(|| unsafe { callback(self.user.ptr(), self.handle(conn), &close.event) });
    }
}
