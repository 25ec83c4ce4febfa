//! A loop driven by the threads that wait on it (leader/follower): a thread
//! about to block until the loop delivers something (a message, an open, a
//! close) polls the loop itself when nobody else does, so what it waits for
//! reaches it with no hand-off between threads; the others wait as
//! followers and one of them takes over when the driver is done. A
//! background thread drives the loop only while no caller has polled it for
//! [`IDLE`], or at once when something needs the loop and nobody is polling
//! it (work queued from another thread, a waiter that cannot drive), so
//! pings, closes, timers and accepts are still answered while the
//! application is busy elsewhere.
//!
//! Blocking APIs (Python's `wsx.sync`) use it: with one thread per
//! connection, a round trip costs the same system calls as the C client's
//! (a write, a wait, a read), not two thread switches.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::error::Error;
use super::event_loop::{EventLoop, LoopHandle};
use super::handle::Conn;
use super::telemetry;
use super::worker::Worker;
use crate::proto::MessageKind;

/// How long the loop may go unpolled while callers drive it before the
/// background thread takes over: the longest a ping, a close or an accept
/// waits while the application does something else.
pub const IDLE: Duration = Duration::from_millis(5);

/// Sends closer together than this, with no poll between them, are a burst:
/// the first is written at once, the rest wait for the caller's next wait
/// (or [`FLUSH`]) and go out in one write.
pub const BURST: Duration = Duration::from_millis(1);

/// The longest a send of a burst waits for its write when the caller does
/// not wait for anything next: then the background thread writes it.
pub const FLUSH: Duration = Duration::from_micros(500);

/// A waiter that wants the loop when its driver lets go of it.
pub trait Follower: Send + Sync {
    /// Wakes the waiter, which then tries to drive the loop again.
    fn wake(&self);
}

/// An [`EventLoop`] that the threads waiting on it drive, with a background
/// thread for when none does. Dropping it stops the background thread and
/// drops the loop (its connections get their close events).
pub struct DrivenLoop {
    inner: Arc<Inner>,
    /// The poller's descriptor, readable while a poll would find work.
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
    _worker: Worker,
}

/// The right to poll the loop, held by one thread at a time; dropping it
/// lets the next waiter (or, later, the background thread) drive.
pub struct Driving<'a> {
    /// `None` only while dropping: the loop is unlocked before the next
    /// driver is chosen.
    event_loop: Option<MutexGuard<'a, EventLoop>>,
    inner: &'a Inner,
    /// What the holder did, which decides who polls next.
    did: Did,
}

/// What a driver did with the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Did {
    /// Polled it (and so did everything queued).
    Poll,
    /// Did the queued work and its writes, without polling.
    Write,
    /// Queued work for the next driver.
    Defer,
}

struct Inner {
    /// Locked only by the thread that [`State::driver`] names.
    event_loop: Mutex<EventLoop>,
    handle: LoopHandle,
    state: Mutex<State>,
    /// Where the background thread waits for its turn.
    turn: Condvar,
    /// A caller waits for the loop the background thread drives.
    wanted: AtomicBool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    Nobody,
    Caller,
    Background,
}

struct State {
    driver: Driver,
    /// When a driver last polled the loop for readiness.
    polled: Instant,
    /// When a caller last wrote without polling (the start of a burst).
    wrote: Option<Instant>,
    /// When work deferred by a burst must be written if nobody polled.
    flush_due: Option<Instant>,
    /// Something needs the loop polled while no caller may be doing it.
    kicked: bool,
    followers: VecDeque<Arc<dyn Follower>>,
    stop: bool,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent before it could panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self) -> MutexGuard<'_, EventLoop> {
        self.event_loop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the loop free, records what its driver `did`, and wakes the
    /// first follower, or the background thread if the loop was kicked
    /// meanwhile or has deferred work to write.
    fn release(&self, did: Did) {
        let mut s = self.lock();
        s.driver = Driver::Nobody;
        let now = Instant::now();
        match did {
            Did::Poll => {
                (s.polled, s.wrote, s.flush_due) = (now, None, None);
            }
            Did::Write => (s.wrote, s.flush_due) = (Some(now), None),
            Did::Defer => {
                if s.flush_due.is_none() {
                    s.flush_due = Some(now + FLUSH);
                    self.turn.notify_one();
                }
            }
        }
        let next = s.followers.pop_front();
        if next.is_none() && s.kicked {
            self.turn.notify_one();
        }
        drop(s);
        if let Some(follower) = next {
            follower.wake();
        }
    }

    /// The loop must be polled soon: the background thread takes it now if
    /// nobody drives it. With `until_polled`, also when its present driver
    /// lets go (a waiter that does not drive needs it polled after that);
    /// without, the present driver's next turn is enough (queued work,
    /// whose wake-up it sees).
    fn kick(&self, until_polled: bool) {
        let mut s = self.lock();
        if s.driver == Driver::Nobody {
            s.kicked = true;
            self.turn.notify_one();
        } else if until_polled {
            s.kicked = true;
        }
    }

    /// The background thread: drives the loop whenever it is free and was
    /// kicked or went unpolled for [`IDLE`], until a caller wants it back.
    fn background(&self) {
        let mut s = self.lock();
        while !s.stop {
            let now = Instant::now();
            let due = (s.polled + IDLE).min(s.flush_due.unwrap_or(now + IDLE));
            if s.driver != Driver::Nobody || (!s.kicked && now < due) {
                // While a caller drives, its release says when it is needed sooner.
                let wait = match s.driver {
                    Driver::Nobody => due - now,
                    _ => IDLE,
                };
                s = (self.turn.wait_timeout(s, wait))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
            s.driver = Driver::Background;
            s.kicked = false;
            drop(s);
            self.drive_in_background();
            self.release(Did::Poll);
            s = self.lock();
        }
    }

    fn drive_in_background(&self) {
        let mut event_loop = self.take();
        while !self.wanted.swap(false, Ordering::AcqRel) && !self.lock().stop {
            if let Err(error) = event_loop.poll(None) {
                log::error!(target: telemetry::target::LOOP, "the loop stopped: {error}");
                self.lock().stop = true;
            }
        }
    }
}

impl DrivenLoop {
    /// A new loop with its background thread (`wsx-loop`).
    pub fn spawn() -> Result<DrivenLoop, Error> {
        let event_loop = EventLoop::new()?;
        #[cfg(unix)]
        let fd = std::os::fd::AsRawFd::as_raw_fd(&event_loop);
        let handle = event_loop.handle();
        let inner = Arc::new(Inner {
            event_loop: Mutex::new(event_loop),
            handle: handle.clone(),
            state: Mutex::new(State {
                driver: Driver::Nobody,
                polled: Instant::now(),
                wrote: None,
                flush_due: None,
                kicked: false,
                followers: VecDeque::new(),
                stop: false,
            }),
            turn: Condvar::new(),
            wanted: AtomicBool::new(false),
        });
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        handle.shared.set_on_wake(move || {
            if let Some(inner) = weak.upgrade() {
                inner.kick(false);
            }
        });
        let thread = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("wsx-loop".to_owned())
                .spawn(move || inner.background())
                .map_err(|e| Error::io("could not start the loop's thread", &e))?
        };
        let stop = inner.clone();
        let worker = Worker::new(thread, move || {
            stop.lock().stop = true;
            stop.turn.notify_one();
            stop.handle.shared.wake();
        });
        Ok(DrivenLoop {
            inner,
            #[cfg(unix)]
            fd,
            _worker: worker,
        })
    }

    /// A handle for starting connections and servers on the loop.
    pub fn handle(&self) -> &LoopHandle {
        &self.inner.handle
    }

    /// The loop to poll on this thread if nobody drives it; otherwise
    /// `follower` is woken when its driver lets go (call
    /// [`leave`](Self::leave) when no longer waiting). A caller asking while the
    /// background thread drives makes it let go.
    pub fn drive_or_follow(&self, follower: &Arc<dyn Follower>) -> Option<Driving<'_>> {
        let mut s = self.inner.lock();
        if s.driver == Driver::Nobody {
            s.driver = Driver::Caller;
            s.followers.retain(|f| !same(f, follower));
            drop(s);
            return Some(Driving::new(&self.inner));
        }
        if !s.followers.iter().any(|f| same(f, follower)) {
            s.followers.push_back(follower.clone());
        }
        if s.driver == Driver::Background {
            self.inner.wanted.store(true, Ordering::Release);
            drop(s);
            self.inner.handle.shared.wake();
        }
        None
    }

    /// Stops waiting for the loop as `follower`.
    pub fn leave(&self, follower: &Arc<dyn Follower>) {
        self.inner.lock().followers.retain(|f| !same(f, follower));
    }

    /// Runs `f` (which queues work: a send, a close) and, when nobody
    /// drives the loop, does that work at once on this thread (one write, no
    /// wake-up); otherwise the loop's driver does it. Within a burst (sends
    /// less than `BURST` apart, no poll between) only the first is written
    /// at once: the rest go out together at the caller's next wait, or
    /// after `FLUSH` by the background thread. Gives what `f` returned, and
    /// whether its work waits for that next poll.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> (R, bool) {
        self.run_with(|held| match held {
            Some(event_loop) => event_loop.queue_here(f),
            None => f(),
        })
    }

    /// Like [`run`](Self::run) with a send of `conn` (a connection of
    /// this loop), which, when this thread takes the loop and nothing is
    /// queued before it, goes into the connection's sender without being
    /// copied into a queued command.
    pub fn send(
        &self,
        conn: &Conn,
        kind: MessageKind,
        data: &[u8],
        compress: bool,
    ) -> (Result<(), Error>, bool) {
        self.run_with(|held| match held {
            Some(event_loop) => event_loop.send_here(conn, kind, data, compress),
            None => conn.send_with(kind, data, compress),
        })
    }

    /// Runs `f` with the loop if nobody drives it (then writes what `f`
    /// did, or defers it within a burst), or without it.
    fn run_with<R>(&self, f: impl FnOnce(Option<&mut EventLoop>) -> R) -> (R, bool) {
        let mut s = self.inner.lock();
        if s.driver != Driver::Nobody {
            drop(s);
            return (f(None), false);
        }
        s.driver = Driver::Caller;
        let burst = s.wrote.is_some_and(|at| at.elapsed() < BURST);
        drop(s);
        let mut driving = Driving::new(&self.inner);
        let out = f(Some(driving.event_loop()));
        driving.did = match burst {
            true => Did::Defer,
            false => {
                driving.event_loop().run_queued();
                Did::Write
            }
        };
        (out, burst)
    }

    /// Makes the present driver's poll return (as queued work does): for
    /// an update it must look at, made on another thread.
    pub fn wake(&self) {
        self.inner.handle.shared.wake();
    }

    /// Asks for the loop to be polled soon, by the background thread if no
    /// caller drives it: for a waiter that does not drive (an asyncio
    /// task).
    pub fn keep_polled(&self) {
        self.inner.kick(true);
    }
}

impl<'a> Driving<'a> {
    /// Takes the loop (the state names this thread its driver).
    fn new(inner: &'a Inner) -> Driving<'a> {
        Driving {
            event_loop: Some(inner.take()),
            inner,
            did: Did::Poll,
        }
    }

    fn event_loop(&mut self) -> &mut EventLoop {
        self.event_loop.as_mut().expect("held until dropped")
    }

    /// One turn of the loop (see [`EventLoop::poll`]), waiting at most
    /// `timeout` for something to happen.
    pub fn poll(&mut self, timeout: Duration) -> Result<(), Error> {
        self.event_loop().poll(Some(timeout))
    }
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        // Unlocked first: the follower woken next may take it at once.
        self.event_loop = None;
        self.inner.release(self.did);
    }
}

/// The poller's descriptor (epoll, kqueue): readable while a poll would
/// find ready I/O or queued work (not due timers), so another event loop
/// can watch it and drive this one when it is readable (Python's asyncio).
#[cfg(unix)]
impl std::os::fd::AsRawFd for DrivenLoop {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd
    }
}

/// Whether two followers are the same waiter.
fn same(a: &Arc<dyn Follower>, b: &Arc<dyn Follower>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}
