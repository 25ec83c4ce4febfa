//! Telemetry: the counters of a loop or a server (`wsx_metrics`, and their
//! OpenMetrics text), and the log callback.
//!
//! The log callback is process-wide, not per loop: the core logs through
//! the `log` facade, which has one logger per process, and some records
//! come from where no loop is at hand (name lookups run on helper threads;
//! a record names its connection by id). One callback that filters or
//! routes by `target` serves every loop; a per-loop one would need the loop
//! threaded through every place that logs.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_void};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use wsx_core::net::Metrics;
use wsx_core::net::telemetry::{CLOSE_CODES, OPENMETRICS_CONTENT_TYPE, REFUSAL_STATUSES};

use crate::boundary::{Extensible, Failure, arg, ffi_call, ffi_value, write_sized};
use crate::callbacks::wsx_free_user_data;
use crate::event_loop::wsx_loop;
use crate::result::wsx_result;
use crate::server::wsx_server;

/// The counters of a loop (every connection and server it runs) or of one
/// server, as `wsx_loop_metrics` and `wsx_server_metrics` write them.
/// Extensible: set `struct_size = sizeof(wsx_metrics)` before the call.
/// Message and byte counts are of payloads (before compression, without
/// frame headers); a message counts at its last fragment.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct wsx_metrics {
    /// `sizeof(wsx_metrics)` as the caller was compiled with (kept by the call).
    pub struct_size: usize,
    /// Connections open now (from the handshake's end to the close event).
    pub connections_open: u64,
    /// Connections that opened, in total.
    pub connections_opened: u64,
    /// Handshakes a server accepted (0 for a loop's clients).
    pub handshakes_accepted: u64,
    /// Handshakes refused with 400.
    pub refused_400: u64,
    /// ... with 401.
    pub refused_401: u64,
    /// ... with 403.
    pub refused_403: u64,
    /// ... with 404.
    pub refused_404: u64,
    /// ... with 405.
    pub refused_405: u64,
    /// ... with 426 (plain HTTP to the WebSocket endpoint).
    pub refused_426: u64,
    /// ... with 429.
    pub refused_429: u64,
    /// ... with 500.
    pub refused_500: u64,
    /// ... with 503 (during a drain, among others).
    pub refused_503: u64,
    /// ... with any other status from 400 up.
    pub refused_other: u64,
    /// Plain HTTP requests answered with a status below 400
    /// (`wsx_upgrade_respond` with 200, a `/metrics` route).
    pub http_answered: u64,
    /// Unfinished handshakes dropped to make room for newer connections
    /// (0 for a loop).
    pub handshakes_evicted: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Messages queued for sending (a published message once per subscriber).
    pub messages_out: u64,
    /// Payload bytes queued for sending.
    pub bytes_out: u64,
    /// Connections closed with 1000.
    pub closes_1000: u64,
    /// ... with 1001.
    pub closes_1001: u64,
    /// ... with 1002.
    pub closes_1002: u64,
    /// ... with 1003.
    pub closes_1003: u64,
    /// ... with 1005 (a close frame without a code).
    pub closes_1005: u64,
    /// ... with 1006 (no close handshake: dropped, timed out).
    pub closes_1006: u64,
    /// ... with 1007.
    pub closes_1007: u64,
    /// ... with 1008.
    pub closes_1008: u64,
    /// ... with 1009.
    pub closes_1009: u64,
    /// ... with 1011.
    pub closes_1011: u64,
    /// ... with 1012.
    pub closes_1012: u64,
    /// ... with any other code.
    pub closes_other: u64,
    /// Connections dropped because a keepalive ping went unanswered.
    pub keepalive_timeouts: u64,
    /// Protocol errors of peers.
    pub protocol_errors: u64,
    /// Bytes waiting in the connections' output, not yet written.
    pub queued_bytes: u64,
    /// Round trip of the last answered ping of any connection in
    /// microseconds; -1 when none was answered yet.
    pub last_ping_rtt_us: i64,
}

const _: () = assert!(REFUSAL_STATUSES.len() == 9 && CLOSE_CODES.len() == 11);

impl From<Metrics> for wsx_metrics {
    fn from(m: Metrics) -> wsx_metrics {
        let [
            r400,
            r401,
            r403,
            r404,
            r405,
            r426,
            r429,
            r500,
            r503,
            r_other,
        ] = m.handshakes_refused;
        let [
            c1000,
            c1001,
            c1002,
            c1003,
            c1005,
            c1006,
            c1007,
            c1008,
            c1009,
            c1011,
            c1012,
            c_other,
        ] = m.closes;
        wsx_metrics {
            struct_size: 0,
            connections_open: m.connections_open,
            connections_opened: m.connections_opened,
            handshakes_accepted: m.handshakes_accepted,
            refused_400: r400,
            refused_401: r401,
            refused_403: r403,
            refused_404: r404,
            refused_405: r405,
            refused_426: r426,
            refused_429: r429,
            refused_500: r500,
            refused_503: r503,
            refused_other: r_other,
            http_answered: m.http_answered,
            handshakes_evicted: m.evicted_handshakes,
            messages_in: m.messages_in,
            bytes_in: m.bytes_in,
            messages_out: m.messages_out,
            bytes_out: m.bytes_out,
            closes_1000: c1000,
            closes_1001: c1001,
            closes_1002: c1002,
            closes_1003: c1003,
            closes_1005: c1005,
            closes_1006: c1006,
            closes_1007: c1007,
            closes_1008: c1008,
            closes_1009: c1009,
            closes_1011: c1011,
            closes_1012: c1012,
            closes_other: c_other,
            keepalive_timeouts: m.keepalive_timeouts,
            protocol_errors: m.protocol_errors,
            queued_bytes: m.queued_bytes,
            last_ping_rtt_us: m
                .last_ping_rtt_micros
                .map_or(-1, |us| i64::try_from(us).unwrap_or(i64::MAX)),
        }
    }
}

// SAFETY: repr(C), `struct_size` first; every field is an integer.
unsafe impl Extensible for wsx_metrics {
    const NAME: &'static str = "wsx_metrics";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_metrics, connections_opened);
    fn base() -> Self {
        wsx_metrics::default()
    }
}

/// Writes the server's counters now to `*out` (set `out->struct_size`
/// first). Callable from any thread, at any time; relaxed reads, each
/// figure as it was at some moment of the call.
///
/// # Safety
/// `server` is NULL or live; `out` is NULL or has `out->struct_size`
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_metrics(
    server: *const wsx_server,
    out: *mut wsx_metrics,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let server = unsafe { arg(server, "server") }?;
        let value = server.server.metrics().into();
        // SAFETY: the caller's promise.
        unsafe { write_sized(out, value, "out") }
    })
}

/// Writes the loop's counters now (every connection and server of the
/// loop) to `*out`, as `wsx_server_metrics` does. Callable from any thread.
///
/// # Safety
/// `loop` is NULL or live; `out` is NULL or has `out->struct_size`
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_loop_metrics(
    r#loop: *const wsx_loop,
    out: *mut wsx_metrics,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let lp = unsafe { arg(r#loop, "loop") }?;
        let value = lp.handle().metrics().into();
        // SAFETY: the caller's promise.
        unsafe { write_sized(out, value, "out") }
    })
}

/// Copies `text` and a NUL into `buf` when it fits `cap`; tells the size
/// needed either way.
///
/// # Safety
/// `buf` is NULL or has `cap` writable bytes; `needed` is NULL or writable.
unsafe fn write_text(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> Result<(), Failure> {
    let size = text.len() + 1;
    if !needed.is_null() {
        // SAFETY: the caller's promise.
        unsafe { *needed = size };
    }
    if buf.is_null() && cap == 0 {
        return Ok(());
    }
    if buf.is_null() {
        return Err(Failure::new(wsx_result::WSX_ERR_NULL, "buf is NULL"));
    }
    if size > cap {
        return Err(Failure::invalid(format!(
            "the buffer of {cap} bytes is too small for the {size} bytes of the metrics text (see *out_needed)"
        )));
    }
    // SAFETY: `buf` has `cap >= size` writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        *buf.add(text.len()) = 0;
    }
    Ok(())
}

/// Writes the server's counters as OpenMetrics text (what Prometheus
/// scrapes: serve it from a `/metrics` route with `wsx_upgrade_respond`,
/// status 200 and the `Content-Type` of `wsx_metrics_content_type()`),
/// NUL-terminated, into `buf` of `cap` bytes. `*out_needed` (if not NULL)
/// receives the size needed, NUL included, whatever the result: with `buf`
/// NULL and `cap` 0 the call only measures (`WSX_OK`); a buffer too small
/// is `WSX_ERR_INVALID_ARGUMENT` and is left alone. 4096 bytes suffice
/// today. Callable from any thread.
///
/// # Safety
/// `server` is NULL or live; `buf` is NULL or has `cap` writable bytes;
/// `out_needed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_metrics_text(
    server: *const wsx_server,
    buf: *mut c_char,
    cap: usize,
    out_needed: *mut usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let server = unsafe { arg(server, "server") }?;
        // SAFETY: the caller's promise.
        unsafe { write_text(&server.server.metrics_text(), buf, cap, out_needed) }
    })
}

/// The loop's counters as OpenMetrics text, as `wsx_server_metrics_text`.
///
/// # Safety
/// `loop` is NULL or live; `buf` is NULL or has `cap` writable bytes;
/// `out_needed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_loop_metrics_text(
    r#loop: *const wsx_loop,
    buf: *mut c_char,
    cap: usize,
    out_needed: *mut usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let lp = unsafe { arg(r#loop, "loop") }?;
        let text = lp.handle().metrics().to_openmetrics();
        // SAFETY: the caller's promise.
        unsafe { write_text(&text, buf, cap, out_needed) }
    })
}

/// The `Content-Type` of the metrics text (static, NUL-terminated):
/// `application/openmetrics-text; version=1.0.0; charset=utf-8`.
#[unsafe(no_mangle)]
pub extern "C" fn wsx_metrics_content_type() -> *const c_char {
    const TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8\0";
    const _: () = assert!(TYPE.len() == OPENMETRICS_CONTENT_TYPE.len() + 1);
    TYPE.as_ptr().cast()
}

/// The severity of a log record; a callback's level lets through the
/// records of its level and the more severe ones.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsx_log_level {
    /// Nothing (the default).
    WSX_LOG_LEVEL_OFF = 0,
    /// Failures of wsx itself.
    WSX_LOG_LEVEL_ERROR = 1,
    /// Protocol errors of peers, keepalive timeouts.
    WSX_LOG_LEVEL_WARN = 2,
    /// Connections opened and closed (with codes), handshakes refused (with
    /// the status and why), proxy tunnels.
    WSX_LOG_LEVEL_INFO = 3,
    /// Plain HTTP requests answered.
    WSX_LOG_LEVEL_DEBUG = 4,
    /// Everything.
    WSX_LOG_LEVEL_TRACE = 5,
}

impl wsx_log_level {
    fn from_raw(raw: u32) -> Option<wsx_log_level> {
        use wsx_log_level::*;
        Some(match raw {
            0 => WSX_LOG_LEVEL_OFF,
            1 => WSX_LOG_LEVEL_ERROR,
            2 => WSX_LOG_LEVEL_WARN,
            3 => WSX_LOG_LEVEL_INFO,
            4 => WSX_LOG_LEVEL_DEBUG,
            5 => WSX_LOG_LEVEL_TRACE,
            _ => return None,
        })
    }

    fn filter(self) -> log::LevelFilter {
        use wsx_log_level::*;
        match self {
            WSX_LOG_LEVEL_OFF => log::LevelFilter::Off,
            WSX_LOG_LEVEL_ERROR => log::LevelFilter::Error,
            WSX_LOG_LEVEL_WARN => log::LevelFilter::Warn,
            WSX_LOG_LEVEL_INFO => log::LevelFilter::Info,
            WSX_LOG_LEVEL_DEBUG => log::LevelFilter::Debug,
            WSX_LOG_LEVEL_TRACE => log::LevelFilter::Trace,
        }
    }

    fn of(level: log::Level) -> wsx_log_level {
        use wsx_log_level::*;
        match level {
            log::Level::Error => WSX_LOG_LEVEL_ERROR,
            log::Level::Warn => WSX_LOG_LEVEL_WARN,
            log::Level::Info => WSX_LOG_LEVEL_INFO,
            log::Level::Debug => WSX_LOG_LEVEL_DEBUG,
            log::Level::Trace => WSX_LOG_LEVEL_TRACE,
        }
    }
}

/// One log record, borrowed for the duration of the callback.
#[repr(C)]
pub struct wsx_log_record {
    /// Its severity.
    pub level: wsx_log_level,
    /// What it is about, NUL-terminated: `wsx.conn` (opened, closed),
    /// `wsx.server` (refusals), `wsx.protocol`, `wsx.keepalive`,
    /// `wsx.proxy`, `wsx.cluster`, `wsx.loop` (a loop thread that ended early).
    pub target: *const c_char,
    /// The text, UTF-8, NUL-terminated, one line: "connection 3 opened from
    /// 127.0.0.1:5000", "connection 3 closed: code 1000 reason \"bye\"
    /// clean true", "refused a handshake from 127.0.0.1:5001: 401 ...".
    pub message: *const c_char,
    /// The text's length in bytes, without the NUL.
    pub message_len: usize,
}

/// Receives a log record, on the thread that logged it: usually a loop's
/// thread (or the thread polling it), sometimes a name-lookup helper
/// thread. It must not block for long (the loop waits for it) and must not
/// call `wsx_log_set_callback`; records logged while it runs on the same
/// thread are dropped.
pub type wsx_on_log =
    Option<unsafe extern "C" fn(user_data: *mut c_void, record: *const wsx_log_record)>;

/// A `wsx_log_level` as C passes it (the header names it `wsx_log_level`):
/// any integer reaches Rust soundly and is checked before use.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct LogLevelArg(pub u32);

/// The installed callback; dropping the last reference frees its user data.
struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, *const wsx_log_record),
    user_data: *mut c_void,
    free_user_data: wsx_free_user_data,
}

// SAFETY: the caller of `wsx_log_set_callback` promises the callback and its
// user data may be used from any thread (the header says so).
unsafe impl Send for Sink {}
// SAFETY: as above.
unsafe impl Sync for Sink {}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(free) = self.free_user_data {
            // SAFETY: the caller's destructor for its own data, run once,
            // after the last call of the callback.
            unsafe { free(self.user_data) };
        }
    }
}

static SINK: Mutex<Option<Arc<Sink>>> = Mutex::new(None);
/// Whether our logger is the process's (set on the first call).
static INSTALLED: OnceLock<bool> = OnceLock::new();

thread_local! {
    /// Set while this thread runs the callback: nested records are dropped.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
    /// Target, NUL, message, NUL: reused for each record of the thread.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The `log` facade's logger: hands wsx's records to the C callback.
struct CLogger;

impl log::Log for CLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("wsx")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) || IN_CALLBACK.with(Cell::get) {
            return;
        }
        let sink = SINK.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let Some(sink) = sink else { return };
        LINE.with(|line| {
            let Ok(mut line) = line.try_borrow_mut() else {
                return;
            };
            line.clear();
            line.push_str(record.target());
            line.push('\0');
            let start = line.len();
            let _ = write!(line, "{}", record.args());
            // One line, no NULs: a peer's close reason is quoted already.
            let text: String = line[start..]
                .chars()
                .map(|c| if c == '\0' || c == '\n' { ' ' } else { c })
                .collect();
            line.truncate(start);
            line.push_str(&text);
            line.push('\0');
            let c = wsx_log_record {
                level: wsx_log_level::of(record.level()),
                target: line.as_ptr().cast(),
                message: line[start..].as_ptr().cast(),
                message_len: line.len() - start - 1,
            };
            IN_CALLBACK.with(|f| f.set(true));
            // A panic cannot come out of C; the flag is reset either way.
            // SAFETY: the callback the application installed, with its
            // data and a record valid for the call.
            unsafe { (sink.callback)(sink.user_data, &c) };
            IN_CALLBACK.with(|f| f.set(false));
        });
    }

    fn flush(&self) {}
}

static LOGGER: CLogger = CLogger;

/// Installs the process-wide log callback (see the `wsx_on_log` type),
/// letting through the records of `level` and more severe ones; nothing is
/// logged before (the default), and `callback` NULL or level
/// `WSX_LOG_LEVEL_OFF` turns logging off. The previous callback's
/// `free_user_data` runs once no call of it is running (on the thread that
/// finishes last). When logging is off, a record costs one atomic load.
/// Process-wide because the library's records (`log` facade) have one
/// destination per process; route by `record->target` or the connection
/// id in the text. Fails with `WSX_ERR_STATE` when the process installed
/// another logger of Rust's `log` crate first (a Rust program linking the
/// static library), or when called from inside the callback; on failure
/// nothing changes and `free_user_data` is not called. Callable from any
/// thread.
///
/// # Safety
/// `callback` is NULL or callable from any thread with `user_data` until
/// `free_user_data` (NULL: none) runs with it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_log_set_callback(
    callback: wsx_on_log,
    user_data: *mut c_void,
    free_user_data: wsx_free_user_data,
    level: LogLevelArg,
) -> wsx_result {
    let raw = level.0;
    ffi_call(|| {
        if IN_CALLBACK.with(Cell::get) {
            return Err(Failure::state(
                "wsx_log_set_callback was called from inside the log callback",
            ));
        }
        let Some(level) = wsx_log_level::from_raw(raw) else {
            return Err(Failure::invalid(format!("{raw} is not a wsx_log_level")));
        };
        if !*INSTALLED.get_or_init(|| log::set_logger(&LOGGER).is_ok()) {
            return Err(Failure::state(
                "another logger of the `log` crate is installed in this process",
            ));
        }
        let sink = callback.map(|callback| {
            Arc::new(Sink {
                callback,
                user_data,
                free_user_data,
            })
        });
        let level = if sink.is_some() {
            level.filter()
        } else {
            log::LevelFilter::Off
        };
        log::set_max_level(level);
        let old = std::mem::replace(
            &mut *SINK.lock().unwrap_or_else(PoisonError::into_inner),
            sink,
        );
        drop(old);
        Ok(())
    })
}

/// Whether a record of `level` would reach the log callback now.
#[unsafe(no_mangle)]
pub extern "C" fn wsx_log_enabled(level: LogLevelArg) -> bool {
    ffi_value(false, || {
        let Some(level) = wsx_log_level::from_raw(level.0) else {
            return false;
        };
        level != wsx_log_level::WSX_LOG_LEVEL_OFF
            && level.filter() <= log::max_level()
            && SINK
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
    })
}
