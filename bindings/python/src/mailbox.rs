//! State shared between the loop (which updates it from handler callbacks)
//! and Python (which waits on it): a mutex-guarded value, a condition
//! variable for blocking waits, and an optional asyncio wake-up. A blocking
//! wait drives the loop itself when nobody else does
//! ([`wsx_core::net::DrivenLoop`]), so the update it waits for is made on
//! its own thread.

use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use wsx_core::net::Follower;

use crate::notifier::Notifier;

/// How often a blocking wait wakes up to let Ctrl-C (signal handlers) through.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// A value updated by the loop and waited on by Python.
pub struct Mailbox<S> {
    waiters: Arc<Waiters<S>>,
    token: u64,
    notifier: OnceLock<Arc<Notifier>>,
}

/// The value and its blocked waiters, told when the loop's driver lets go.
struct Waiters<S> {
    slot: Mutex<Slot<S>>,
    cond: Condvar,
}

struct Slot<S> {
    state: S,
    /// An asyncio waiter wants a wake-up at the next update.
    armed: bool,
    /// Threads blocked in [`Mailbox::wait`].
    sleepers: usize,
    /// A thread waiting here by polling the loop: an update made on another
    /// thread (another loop of a server spread over several) makes its poll
    /// return.
    polling: Option<ThreadId>,
}

impl<S> Waiters<S> {
    fn lock(&self) -> MutexGuard<'_, Slot<S>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S: Send> Follower for Waiters<S> {
    fn wake(&self) {
        // Under the lock: a waiter between following and sleeping is woken.
        let slot = self.lock();
        if slot.sleepers > 0 {
            self.cond.notify_all();
        }
    }
}

impl<S: Send + 'static> Mailbox<S> {
    /// A mailbox holding `state`, named `token` towards its notifier.
    pub fn new(state: S) -> Mailbox<S> {
        Mailbox {
            waiters: Arc::new(Waiters {
                slot: Mutex::new(Slot {
                    state,
                    armed: false,
                    sleepers: 0,
                    polling: None,
                }),
                cond: Condvar::new(),
            }),
            token: crate::notifier::next_token(),
            notifier: OnceLock::new(),
        }
    }

    /// The number the notifier reports this mailbox by.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// Routes wake-ups of armed waits to `notifier` (an asyncio loop). The
    /// first notifier attached stays.
    pub fn attach(&self, notifier: Arc<Notifier>) -> bool {
        self.notifier.set(notifier).is_ok()
    }

    fn lock(&self) -> MutexGuard<'_, Slot<S>> {
        self.waiters.lock()
    }

    /// Reads or changes the state without waking anyone.
    pub fn peek<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        f(&mut self.lock().state)
    }

    /// Changes the state (on the loop thread) and wakes every waiter.
    pub fn update<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        let mut slot = self.lock();
        let out = f(&mut slot.state);
        let sleepers = slot.sleepers > 0;
        let armed = mem::take(&mut slot.armed);
        let polling = slot.polling.is_some_and(|t| t != thread::current().id());
        drop(slot);
        if sleepers {
            self.waiters.cond.notify_all();
        }
        if polling && let Some(driven) = crate::runtime::driven() {
            driven.wake();
        }
        if armed {
            if let Some(notifier) = self.notifier.get() {
                notifier.notify(self.token);
            }
        }
        out
    }

    /// Non-blocking check for asyncio: `ready` gives a value, or the mailbox is
    /// armed so that the next update wakes the attached notifier (and the
    /// loop is kept polled, as nobody waiting here drives it).
    pub fn poll<T>(&self, ready: impl FnOnce(&mut S) -> Option<T>) -> Option<T> {
        let mut slot = self.lock();
        let out = ready(&mut slot.state);
        if out.is_none()
            && !std::mem::replace(&mut slot.armed, true)
            && self.asyncio_drives().is_none()
        {
            drop(slot);
            if let Some(driven) = crate::runtime::driven() {
                driven.keep_polled();
            }
        }
        out
    }

    /// The attached asyncio loop's notifier, if that loop drives the native
    /// loop itself.
    pub fn asyncio_drives(&self) -> Option<&Arc<Notifier>> {
        self.notifier.get().filter(|n| n.drives())
    }

    /// Blocks until `ready` gives a value or `deadline` passes (`Ok(None)`),
    /// with the GIL released, waking every 50 ms to run signal handlers (a
    /// `KeyboardInterrupt` raised there is returned as the error).
    pub fn wait<T: Send>(
        &self,
        py: Python<'_>,
        deadline: Option<Instant>,
        mut ready: impl FnMut(&mut S) -> Option<T> + Send,
    ) -> PyResult<Option<T>>
    where
        S: Sync,
    {
        if let Some(out) = ready(&mut self.lock().state) {
            return Ok(Some(out));
        }
        loop {
            match py.detach(|| self.sleep(deadline, &mut ready)) {
                Sleep::Ready(out) => return Ok(Some(out)),
                Sleep::Deadline => return Ok(None),
                Sleep::Slice => py.check_signals()?,
            }
        }
    }

    /// [`Mailbox::wait`] with no deadline.
    pub fn wait_forever<T: Send>(
        &self,
        py: Python<'_>,
        mut ready: impl FnMut(&mut S) -> Option<T> + Send,
    ) -> PyResult<T>
    where
        S: Sync,
    {
        loop {
            if let Some(out) = self.wait(py, None, &mut ready)? {
                return Ok(out);
            }
        }
    }

    /// Waits until `ready` gives a value, the deadline passes or the slice
    /// for signals ends: polling the loop while nobody else does, else
    /// sleeping until an update or until the loop is free to drive.
    fn sleep<T>(
        &self,
        deadline: Option<Instant>,
        ready: &mut impl FnMut(&mut S) -> Option<T>,
    ) -> Sleep<T> {
        let slice_end = Instant::now() + SIGNAL_CHECK;
        let until = deadline.map_or(slice_end, |d| d.min(slice_end));
        let driven = crate::runtime::driven();
        let me: Arc<dyn Follower> = self.waiters.clone();
        let mut following = false;
        let mut slot = self.lock();
        let out = loop {
            if let Some(out) = ready(&mut slot.state) {
                break Sleep::Ready(out);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break Sleep::Deadline;
            }
            if now >= until {
                break Sleep::Slice;
            }
            if let Some(mut driving) = driven.and_then(|d| d.drive_or_follow(&me)) {
                slot.polling = Some(thread::current().id());
                drop(slot);
                // A failing poller fails every connection of the loop, whose
                // close reaches `ready`.
                let _ = driving.poll(until - now);
                drop(driving);
                slot = self.lock();
                slot.polling = None;
                continue;
            }
            following = driven.is_some();
            slot.sleepers += 1;
            slot = (self.waiters.cond.wait_timeout(slot, until - now))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            slot.sleepers -= 1;
        };
        drop(slot);
        if following && let Some(driven) = driven {
            driven.leave(&me);
        }
        out
    }
}

enum Sleep<T> {
    Ready(T),
    Deadline,
    Slice,
}

/// A deadline `timeout` seconds from now; `None` waits forever.
pub fn deadline(timeout: Option<f64>) -> PyResult<Option<Instant>> {
    timeout
        .map(|t| Ok(Instant::now() + crate::options::seconds("timeout", t.max(0.0))?))
        .transpose()
}
