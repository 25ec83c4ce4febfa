//! State shared between the loop thread (which updates it from handler
//! callbacks) and Python (which waits on it): a mutex-guarded value, a
//! condition variable for blocking waits, and an optional asyncio wake-up.

use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::notifier::Notifier;

/// How often a blocking wait wakes up to let Ctrl-C (signal handlers) through.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// A value updated by the loop thread and waited on by Python.
pub struct Mailbox<S> {
    slot: Mutex<Slot<S>>,
    cond: Condvar,
    token: u64,
    notifier: OnceLock<Arc<Notifier>>,
}

struct Slot<S> {
    state: S,
    /// An asyncio waiter wants a wake-up at the next update.
    armed: bool,
    /// Threads blocked in [`Mailbox::wait`].
    sleepers: usize,
}

impl<S: Send> Mailbox<S> {
    /// A mailbox holding `state`, named `token` towards its notifier.
    pub fn new(state: S) -> Mailbox<S> {
        Mailbox {
            slot: Mutex::new(Slot {
                state,
                armed: false,
                sleepers: 0,
            }),
            cond: Condvar::new(),
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
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
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
        drop(slot);
        if sleepers {
            self.cond.notify_all();
        }
        if armed {
            if let Some(notifier) = self.notifier.get() {
                notifier.notify(self.token);
            }
        }
        out
    }

    /// Non-blocking check for asyncio: `ready` gives a value, or the mailbox is
    /// armed so that the next update wakes the attached notifier.
    pub fn poll<T>(&self, ready: impl FnOnce(&mut S) -> Option<T>) -> Option<T> {
        let mut slot = self.lock();
        let out = ready(&mut slot.state);
        if out.is_none() {
            slot.armed = true;
        }
        out
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

    fn sleep<T>(
        &self,
        deadline: Option<Instant>,
        ready: &mut impl FnMut(&mut S) -> Option<T>,
    ) -> Sleep<T> {
        let slice_end = Instant::now() + SIGNAL_CHECK;
        let until = deadline.map_or(slice_end, |d| d.min(slice_end));
        let mut slot = self.lock();
        loop {
            if let Some(out) = ready(&mut slot.state) {
                return Sleep::Ready(out);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Sleep::Deadline;
            }
            if now >= until {
                return Sleep::Slice;
            }
            slot.sleepers += 1;
            slot = self
                .cond
                .wait_timeout(slot, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            slot.sleepers -= 1;
        }
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
