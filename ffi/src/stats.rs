//! Counts of live library objects, for leak checks in tests and bindings.

use crate::boundary::{Extensible, ffi_call, write_sized};
use crate::result::wsx_result;

/// How many connections, servers and event loops are alive in the process
/// (see `wsx_debug_live_objects`). Extensible: set `struct_size =
/// sizeof(wsx_live_objects)` before the call.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct wsx_live_objects {
    /// `sizeof(wsx_live_objects)` as the caller was compiled with (kept by the call).
    pub struct_size: usize,
    /// Connections still running, or still referenced by a `wsx_conn*`
    /// reference not yet released with `wsx_conn_release`.
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
/// `out` is NULL or has `out->struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_debug_live_objects(out: *mut wsx_live_objects) -> wsx_result {
    ffi_call(|| {
        let live = wsx_core::net::stats();
        let value = wsx_live_objects {
            struct_size: 0,
            connections: live.connections,
            servers: live.servers,
            loops: live.loops,
        };
        // SAFETY: the caller's promise.
        unsafe { write_sized(out, value, "out") }
    })
}

// SAFETY: repr(C), `struct_size` first; the library writes it, never reads
// more than the size.
unsafe impl Extensible for wsx_live_objects {
    const NAME: &'static str = "wsx_live_objects";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_live_objects, servers);
    fn base() -> Self {
        wsx_live_objects::default()
    }
}
