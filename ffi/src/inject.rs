//! Injection points, set once per process before anything else: the
//! allocator every allocation of the library goes through, and the random
//! source of masking keys and `Sec-WebSocket-Key` nonces.
//!
//! The allocator is a process-wide `#[global_allocator]` that forwards to the
//! system allocator until `wsx_allocator_set` installs the program's
//! functions. It can only be installed while nothing was allocated through
//! it yet: then every block is allocated and freed by the same functions
//! (no block of the system allocator is ever freed by the program's, or the
//! other way round). Once anything was allocated (any other wsx call, or a
//! failed `wsx_allocator_set` that left an error message), installing is
//! refused with `WSX_ERR_STATE`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::boundary::{Extensible, Failure, ffi_call, read_sized};
use crate::result::wsx_result;

/// Allocates `size` bytes (never 0) aligned for any C type (like `malloc`);
/// NULL when out of memory.
pub type wsx_malloc_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, size: usize) -> *mut c_void>;

/// Resizes a block from `malloc_fn` or `realloc_fn` of `old_size` bytes to
/// `new_size` (never 0), keeping its contents (like `realloc`); NULL when out
/// of memory (the old block then stays valid).
pub type wsx_realloc_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        ptr: *mut c_void,
        old_size: usize,
        new_size: usize,
    ) -> *mut c_void,
>;

/// Frees a block of `size` bytes from `malloc_fn` or `realloc_fn` (never NULL).
pub type wsx_free_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, ptr: *mut c_void, size: usize)>;

/// The allocator for `wsx_allocator_set`. Extensible: set `struct_size =
/// sizeof(wsx_allocator)`. The three functions are required; they are called
/// from any thread the library runs on (the loop thread, DNS helpers), so
/// they must be thread-safe, and they must return memory aligned as
/// `malloc`'s (`alignof(max_align_t)`); larger alignments are handled by the
/// library. Sizes are passed to `realloc_fn` and `free_fn` so that sized
/// allocators (and counting ones) need no header of their own.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wsx_allocator {
    /// `sizeof(wsx_allocator)` as the caller was compiled with.
    pub struct_size: usize,
    /// Passed first to every function; the library never frees it.
    pub user_data: *mut c_void,
    /// Allocates.
    pub malloc_fn: wsx_malloc_fn,
    /// Resizes.
    pub realloc_fn: wsx_realloc_fn,
    /// Frees.
    pub free_fn: wsx_free_fn,
}

// SAFETY: repr(C), `struct_size` first; a pointer and optional function
// pointers, valid for every byte pattern C writes (NULL is `None`).
unsafe impl Extensible for wsx_allocator {
    const NAME: &'static str = "wsx_allocator";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_allocator, free_fn) + size_of::<usize>();
    fn base() -> Self {
        wsx_allocator {
            struct_size: 0,
            user_data: std::ptr::null_mut(),
            malloc_fn: None,
            realloc_fn: None,
            free_fn: None,
        }
    }
}

/// Nothing allocated yet.
const UNUSED: u8 = 0;
/// The system allocator is in use, for good.
const SYSTEM: u8 = 1;
/// `wsx_allocator_set` is storing the functions.
const INSTALLING: u8 = 2;
/// The program's functions are in use, for good.
const INSTALLED: u8 = 3;

/// The forwarding allocator of the library (see the module's documentation).
pub struct Forwarding {
    state: AtomicU8,
    functions: UnsafeCell<Functions>,
}

#[derive(Clone, Copy)]
struct Functions {
    user_data: *mut c_void,
    malloc: unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void,
    realloc: unsafe extern "C" fn(*mut c_void, *mut c_void, usize, usize) -> *mut c_void,
    free: unsafe extern "C" fn(*mut c_void, *mut c_void, usize),
}

unsafe extern "C" fn no_malloc(_: *mut c_void, _: usize) -> *mut c_void {
    std::ptr::null_mut()
}
unsafe extern "C" fn no_realloc(_: *mut c_void, _: *mut c_void, _: usize, _: usize) -> *mut c_void {
    std::ptr::null_mut()
}
unsafe extern "C" fn no_free(_: *mut c_void, _: *mut c_void, _: usize) {}

// SAFETY: `functions` is written once, by the one thread that moved `state`
// from UNUSED to INSTALLING, and read only after `state` is INSTALLED
// (release/acquire); the functions themselves are required to be thread-safe.
unsafe impl Sync for Forwarding {}

#[global_allocator]
static ALLOCATOR: Forwarding = Forwarding {
    state: AtomicU8::new(UNUSED),
    functions: UnsafeCell::new(Functions {
        user_data: std::ptr::null_mut(),
        malloc: no_malloc,
        realloc: no_realloc,
        free: no_free,
    }),
};

/// The alignment every block of the program's `malloc_fn` has.
const MIN_ALIGN: usize = if cfg!(target_pointer_width = "64") {
    16
} else {
    8
};

impl Forwarding {
    /// The program's functions, or `None` for the system allocator; the
    /// first call (while UNUSED) fixes the system allocator for good.
    fn functions(&self) -> Option<Functions> {
        loop {
            match self.state.load(Ordering::Acquire) {
                // SAFETY: written before INSTALLED was published (release).
                INSTALLED => return Some(unsafe { *self.functions.get() }),
                SYSTEM => return None,
                UNUSED => {
                    if self
                        .state
                        .compare_exchange(UNUSED, SYSTEM, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return None;
                    }
                }
                _ => std::hint::spin_loop(),
            }
        }
    }

    fn install(&self, functions: Functions) -> bool {
        if self
            .state
            .compare_exchange(UNUSED, INSTALLING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        // SAFETY: only the thread that won the exchange writes, and nobody
        // reads before INSTALLED.
        unsafe { *self.functions.get() = functions };
        self.state.store(INSTALLED, Ordering::Release);
        true
    }
}

/// Over-aligned blocks: `size + align` bytes from the program, the address
/// of the block stored just below the aligned pointer.
fn over_aligned(layout: Layout) -> bool {
    layout.align() > MIN_ALIGN
}

// SAFETY: every block is allocated and freed by the same allocator (the
// state never goes back), with the layout rules of `GlobalAlloc`; blocks of
// larger alignment are carved out of a larger block whose address is kept.
unsafe impl GlobalAlloc for Forwarding {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(f) = self.functions() else {
            // SAFETY: the caller's layout contract, passed on.
            return unsafe { System.alloc(layout) };
        };
        if !over_aligned(layout) {
            // SAFETY: the program's malloc, with a non-zero size.
            return unsafe { (f.malloc)(f.user_data, layout.size()) }.cast();
        }
        let Some(total) = layout.size().checked_add(layout.align()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: the program's malloc, with a non-zero size.
        let raw = unsafe { (f.malloc)(f.user_data, total) }.cast::<u8>();
        if raw.is_null() {
            return raw;
        }
        let offset = layout.align() - (raw as usize % layout.align());
        // SAFETY: `raw` is MIN_ALIGN-aligned and align > MIN_ALIGN, so
        // MIN_ALIGN <= offset <= align: the aligned block and the stored
        // address (a usize just below it) lie inside the `total` bytes.
        unsafe {
            let aligned = raw.add(offset);
            aligned.cast::<usize>().sub(1).write_unaligned(raw as usize);
            aligned
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(f) = self.functions() else {
            // SAFETY: allocated by the system allocator (the state never changes back).
            return unsafe { System.dealloc(ptr, layout) };
        };
        if !over_aligned(layout) {
            // SAFETY: a block of the program's allocator of this size.
            return unsafe { (f.free)(f.user_data, ptr.cast(), layout.size()) };
        }
        // SAFETY: `alloc` stored the block's address just below `ptr`.
        let raw = unsafe { ptr.cast::<usize>().sub(1).read_unaligned() } as *mut c_void;
        // SAFETY: the whole over-aligned block, of the size `alloc` asked for.
        unsafe { (f.free)(f.user_data, raw, layout.size() + layout.align()) };
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(f) = self.functions() else {
            // SAFETY: the caller's contract, passed on.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        if !over_aligned(layout) {
            // SAFETY: a block of the program's allocator of this size; a
            // non-zero new size.
            return unsafe { (f.realloc)(f.user_data, ptr.cast(), layout.size(), new_size) }.cast();
        }
        // SAFETY: the caller's contract: the new layout is valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid non-zero layout.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks hold at least the smaller size; distinct blocks.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

/// Makes every allocation of the library (every one its Rust code makes,
/// on every thread) go through `allocator`'s functions, for the rest of
/// the process. Call it first, before any other wsx function: it is refused
/// with `WSX_ERR_STATE` once the library allocated anything with the system
/// allocator (any earlier call may have, also a failed call of this one
/// that left a `wsx_last_error_message`). `allocator` is copied. The
/// allocator's functions must stay callable until the process ends (the
/// library frees what it holds when its objects are freed, but for one
/// cache: a thread that compressed or inflated permessage-deflate messages
/// keeps a few idle zlib states (about 430 KB with one setting) for its next
/// connections, freed when the thread exits).
///
/// # Safety
/// `allocator` is NULL or points to `struct_size` readable bytes; its
/// functions behave as documented on `wsx_allocator`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_allocator_set(allocator: *const wsx_allocator) -> wsx_result {
    // Checked before anything allocates: an error message would allocate.
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let a = unsafe { read_sized(allocator, "allocator") }?;
        let (Some(malloc), Some(realloc), Some(free)) = (a.malloc_fn, a.realloc_fn, a.free_fn)
        else {
            return Err(Failure::invalid(
                "wsx_allocator: malloc_fn, realloc_fn and free_fn are all required",
            ));
        };
        let installed = ALLOCATOR.install(Functions {
            user_data: a.user_data,
            malloc,
            realloc,
            free,
        });
        if installed {
            Ok(())
        } else {
            Err(Failure::state(
                "wsx_allocator_set: the library allocated already (call it before any other wsx function), or an allocator was set",
            ))
        }
    })
}

/// Fills `len` bytes at `buf` with unpredictable random bytes (a CSPRNG's)
/// and returns true, or returns false when it cannot (the send or handshake
/// that needed them then fails).
pub type wsx_random_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, buf: *mut u8, len: usize) -> bool>;

#[derive(Clone, Copy)]
struct RandomSource {
    fill: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> bool,
    user_data: *mut c_void,
}

// SAFETY: the program promises its function may be called from any thread
// with its user_data (wsx_random_set's contract).
unsafe impl Send for RandomSource {}
// SAFETY: as above; the pair is never changed after it is set.
unsafe impl Sync for RandomSource {}

static RANDOM: OnceLock<RandomSource> = OnceLock::new();

fn program_random(buf: &mut [u8]) -> bool {
    match RANDOM.get() {
        // SAFETY: the program's function, given a writable buffer of its length.
        Some(source) => unsafe { (source.fill)(source.user_data, buf.as_mut_ptr(), buf.len()) },
        None => false,
    }
}

/// Makes `fill` the source of every random byte the library draws (masking
/// keys of client frames, `Sec-WebSocket-Key`, reconnect jitter), for the
/// rest of the process, instead of the operating system's generator. Set it
/// once, before creating connections or engines; a second call is
/// `WSX_ERR_STATE`. `fill` is called from any thread the library runs on,
/// with `user_data`, which the library never frees.
///
/// # Safety
/// `fill` is NULL (`WSX_ERR_NULL`) or a function behaving as
/// `wsx_random_fn` documents, thread-safe with `user_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_random_set(fill: wsx_random_fn, user_data: *mut c_void) -> wsx_result {
    ffi_call(|| {
        let fill = fill.ok_or_else(|| Failure::new(wsx_result::WSX_ERR_NULL, "fill is NULL"))?;
        RANDOM
            .set(RandomSource { fill, user_data })
            .map_err(|_| Failure::state("wsx_random_set: a random source was set already"))?;
        wsx_core::proto::random::set_source(program_random)
            .map_err(|e| Failure::state(e.to_string()))
    })
}
