//! Counts of live library objects, for leak checks in tests and bindings.

use crate::boundary::{arg_mut, ffi_call};
use crate::result::wsx_result;

/// How many connections, servers and event loops are alive in the process
/// (see `wsx_debug_live_objects`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct wsx_live_objects {
    /// Connections still running, or still referenced by a `wsx_conn*`
    /// reference not yet released with `wsx_conn_free`.
    pub connections: usize,
    /// Servers still running or not yet freed with `wsx_server_free`.
    pub servers: usize,
    /// Event loops not yet freed with `wsx_loop_free` (or still referenced by
    /// a connection or server of theirs).
    pub loops: usize,
}

/// Writes the counts of live connections, servers and event loops in the
/// whole process to `*out`: a debugging aid for leak checks (take the counts
/// before, free everything, compare). The counts are exact once no other
/// thread is using wsx. Callable from any thread.
///
/// # Safety
/// `out` is NULL or points to a writable `wsx_live_objects`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_debug_live_objects(out: *mut wsx_live_objects) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let out = unsafe { arg_mut(out, "out") }?;
        let live = wsx_core::net::stats();
        *out = wsx_live_objects {
            connections: live.connections,
            servers: live.servers,
            loops: live.loops,
        };
        Ok(())
    })
}
