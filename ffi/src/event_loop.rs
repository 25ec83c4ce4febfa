//! The event loop: poll mode, thread mode, stop.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use wsx_core::net::{EventLoop, LoopHandle};

use crate::boundary::{Failure, Outcome, arg, arg_mut, ffi_call, ffi_value};
use crate::result::wsx_result;

/// An event loop driving connections and servers. Poll it from your frame
/// loop (`wsx_loop_poll`) or give it a thread (`wsx_loop_start_thread`).
pub struct wsx_loop {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    handle: LoopHandle,
    /// The loop, or who drives it now.
    slot: Mutex<Slot>,
}

enum Slot {
    Ready(Box<EventLoop>),
    Polled,
    Threaded,
    Broken,
}

thread_local! {
    /// On a loop thread: the loop it runs (compared, never dereferenced).
    static LOOP_THREAD_OF: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
}

impl wsx_loop {
    pub(crate) fn handle(&self) -> &LoopHandle {
        &self.shared.handle
    }
}

/// The loop taken out of its slot by whoever drives it; put back on drop
/// (unless a panic left it in an unknown state).
struct Driving {
    shared: Arc<Shared>,
    event_loop: Option<Box<EventLoop>>,
}

impl Driving {
    /// Takes the loop for driving it (`as_` says how), or says why it cannot be.
    fn take(shared: &Arc<Shared>, as_: Slot) -> Outcome<Driving> {
        let mut slot = shared.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *slot, as_) {
            Slot::Ready(event_loop) => Ok(Driving {
                shared: shared.clone(),
                event_loop: Some(event_loop),
            }),
            other => {
                let failure = match other {
                    Slot::Threaded => Failure::state("the loop runs on its own thread"),
                    Slot::Broken => Failure::new(
                        wsx_result::WSX_ERR_PANIC,
                        "the loop is unusable after an internal error",
                    ),
                    _ => Failure::state(
                        "the loop is already being polled (elsewhere, or this is one of its callbacks)",
                    ),
                };
                *slot = other;
                Err(failure)
            }
        }
    }

    fn event_loop(&mut self) -> &mut EventLoop {
        self.event_loop
            .as_mut()
            .expect("a driven loop holds its event loop until dropped")
    }
}

impl Drop for Driving {
    fn drop(&mut self) {
        let mut slot = self
            .shared
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = match self.event_loop.take() {
            Some(event_loop) if !std::thread::panicking() => Slot::Ready(event_loop),
            _ => Slot::Broken,
        };
    }
}

/// Creates a loop with no connections. Free it with `wsx_loop_free`.
///
/// # Safety
/// `out_loop` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_loop_new(out_loop: *mut *mut wsx_loop) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let out = unsafe { arg_mut(out_loop, "out_loop") }?;
        let event_loop = EventLoop::new()?;
        let shared = Arc::new(Shared {
            handle: event_loop.handle(),
            slot: Mutex::new(Slot::Ready(Box::new(event_loop))),
        });
        *out = Box::into_raw(Box::new(wsx_loop {
            shared,
            thread: Mutex::new(None),
        }));
        LOOP_HANDLES.fetch_add(1, Ordering::AcqRel);
        Ok(())
    })
}

/// Stops the loop, waits for its thread (unless called on that thread), and
/// releases the caller's handle. Connections still open are dropped without a
/// close handshake; their `free_user_data` runs. Connection and server handles
/// the caller still holds stay valid (calls on them return
/// `WSX_ERR_CLOSED`) until freed. Allowed from inside a callback. NULL is a no-op.
/// When this frees the last loop of the process, it also ends and joins the
/// name-resolution helper threads (waiting at most 500 ms for one still in a
/// lookup).
///
/// # Safety
/// `loop` is NULL or a loop from `wsx_loop_new`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_loop_free(r#loop: *mut wsx_loop) {
    ffi_value((), || {
        if r#loop.is_null() {
            return;
        }
        // SAFETY: the caller gives up its only handle.
        let this = unsafe { Box::from_raw(r#loop) };
        this.shared.handle.stop();
        let thread = this
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            // On its own thread (freed from a callback) the loop is left to
            // finish by itself; elsewhere, wait for it.
            if !LOOP_THREAD_OF.with(|of| std::ptr::eq(of.get(), Arc::as_ptr(&this.shared))) {
                let _ = thread.join();
            }
        }
        drop(this);
        // The last loop is gone: end and join the name-resolution helpers
        // instead of leaving them to idle out. (Counted here, not by the
        // core's live loops: a helper finishing its answer briefly holds one.)
        if LOOP_HANDLES.fetch_sub(1, Ordering::AcqRel) == 1 {
            wsx_core::net::end_idle_resolvers(RESOLVER_JOIN_WAIT);
        }
    })
}

/// `wsx_loop`s created and not yet freed.
static LOOP_HANDLES: AtomicUsize = AtomicUsize::new(0);

/// How long the last `wsx_loop_free` waits for a name-resolution helper that
/// is still finishing a lookup.
const RESOLVER_JOIN_WAIT: Duration = Duration::from_millis(500);

/// Does the ready I/O and due timers, runs the callbacks on the calling
/// thread, then returns. Waits up to `timeout_ms` for something to happen:
/// 0 never blocks, a negative value waits until something does (or
/// `wsx_loop_stop`). `WSX_ERR_STATE` if the loop runs on its own thread or is
/// being polled already (also from inside one of its own callbacks).
///
/// # Safety
/// `loop` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_loop_poll(r#loop: *const wsx_loop, timeout_ms: i32) -> wsx_result {
    ffi_call(|| {
        // The loop's state is held here, not through `loop`: a callback may free `loop`.
        // SAFETY: the caller's promise.
        let shared = unsafe { arg(r#loop, "loop") }?.shared.clone();
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        Driving::take(&shared, Slot::Polled)?
            .event_loop()
            .poll(timeout)?;
        Ok(())
    })
}

/// Runs the loop on the calling thread until `wsx_loop_stop`.
///
/// # Safety
/// `loop` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_loop_run(r#loop: *const wsx_loop) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let shared = unsafe { arg(r#loop, "loop") }?.shared.clone();
        Driving::take(&shared, Slot::Polled)?.event_loop().run()?;
        Ok(())
    })
}

/// Runs the loop on a new thread of its own until `wsx_loop_stop` or
/// `wsx_loop_free`; callbacks then run on that thread. `WSX_ERR_STATE` if it
/// already runs on one.
///
/// # Safety
/// `loop` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_loop_start_thread(r#loop: *const wsx_loop) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let this = unsafe { arg(r#loop, "loop") }?;
        let mut thread = this.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if thread.as_ref().is_some_and(|thread| !thread.is_finished()) {
            return Err(Failure::state("the loop already runs on a thread"));
        }
        // Taken here, so polls fail from now on, not once the thread started.
        let mut driving = Driving::take(&this.shared, Slot::Threaded)?;
        let spawned = std::thread::Builder::new()
            .name("wsx-loop".into())
            .spawn(move || {
                LOOP_THREAD_OF.with(|of| of.set(Arc::as_ptr(&driving.shared)));
                driving.event_loop().run_thread();
            });
        *thread = Some(spawned.map_err(|error| {
            Failure::new(
                wsx_result::WSX_ERR_IO,
                format!("cannot start the loop thread: {error}"),
            )
        })?);
        Ok(())
    })
}

/// Asks the loop to stop: `wsx_loop_run` and the loop thread return, a
/// blocked `wsx_loop_poll` wakes up. Callable from any thread and from inside
/// a callback.
///
/// # Safety
/// `loop` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_loop_stop(r#loop: *const wsx_loop) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        unsafe { arg(r#loop, "loop") }?.shared.handle.stop();
        Ok(())
    })
}
