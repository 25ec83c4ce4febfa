//! Wake-ups for asyncio: the loop thread writes a byte to a socket that the
//! asyncio loop watches with `loop.add_reader`, and lists which mailboxes
//! (connections, servers) changed. No GIL is taken on the loop thread.
//!
//! Where asyncio can watch the native loop's poller too (Unix), the asyncio
//! thread drives that loop itself whenever it is readable and nobody else
//! drives it ([`Hub::drive`]): a message then reaches its task with no
//! thread switch, and what the drive changed is listed without the socket.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pyo3::prelude::*;
use wsx_core::net::Follower;

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// The token asking the asyncio loop to drive the native loop: its driver
/// let go, or a burst of sends waits to be written.
const DRIVE: u64 = 0;

thread_local! {
    /// The notifier whose asyncio thread is driving the loop on this thread
    /// (its address): what changes meanwhile is listed without a wake-up.
    static DRIVING: Cell<usize> = const { Cell::new(0) };
}

/// A fresh token naming one mailbox.
pub fn next_token() -> u64 {
    NEXT_TOKEN.fetch_add(1, Ordering::Relaxed)
}

/// The native half of one asyncio loop's wake-up channel.
pub struct Notifier {
    ready: Mutex<Vec<u64>>,
    reader: pair::Stream,
    writer: pair::Stream,
    /// The asyncio loop watches the native loop's poller and drives it.
    drives: AtomicBool,
}

impl Notifier {
    fn new() -> io::Result<Notifier> {
        let (reader, writer) = pair::new()?;
        Ok(Notifier {
            ready: Mutex::new(Vec::new()),
            reader,
            writer,
            drives: AtomicBool::new(false),
        })
    }

    /// Reports that the mailbox `token` changed; writes the wake-up byte when
    /// the list was empty (the reader drains the socket before the list).
    pub fn notify(&self, token: u64) {
        let mut ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
        let first = ready.is_empty();
        ready.push(token);
        drop(ready);
        let here = DRIVING.with(|d| d.get() == self as *const Notifier as usize);
        if first && !here {
            // A full socket already holds a pending wake-up: nothing is lost.
            let _ = (&self.writer).write(&[1]);
        }
    }

    fn drain(&self) -> Vec<u64> {
        let mut buf = [0u8; 256];
        while matches!((&self.reader).read(&mut buf), Ok(n) if n == buf.len()) {}
        self.take_ready()
    }

    fn take_ready(&self) -> Vec<u64> {
        std::mem::take(&mut *self.ready.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Asks the asyncio loop to drive the native loop at its next turn.
    pub fn ask_drive(&self) {
        self.notify(DRIVE);
    }

    /// Whether the asyncio loop drives the native loop (so a waiter there
    /// needs no background thread, and a send may be written at once).
    pub fn drives(&self) -> bool {
        self.drives.load(Ordering::Acquire)
    }

    /// Polls the native loop once on this (the asyncio) thread if nobody
    /// else drives it, else asks to be told (the [`DRIVE`] token) when its
    /// driver lets go: whether it drove, and what changed meanwhile.
    fn drive(self: &Arc<Self>) -> (bool, Vec<u64>) {
        let Some(driven) = crate::runtime::driven() else {
            return (false, Vec::new());
        };
        let me: Arc<dyn Follower> = self.clone();
        let previous = DRIVING.with(|d| d.replace(Arc::as_ptr(self) as usize));
        let drove = match driven.drive_or_follow(&me) {
            // A failing poller fails every connection: the tokens show it.
            Some(mut driving) => {
                let _ = driving.poll(Duration::ZERO);
                true
            }
            None => false,
        };
        DRIVING.with(|d| d.set(previous));
        (drove, self.take_ready())
    }
}

impl Follower for Notifier {
    fn wake(&self) {
        self.notify(DRIVE);
    }
}

/// The wake-up channel of one asyncio loop: register `fileno()` with
/// `loop.add_reader` and call `drain()` when it is readable.
#[pyclass(module = "wsx._wsx", frozen)]
pub struct Hub {
    pub(crate) inner: Arc<Notifier>,
}

#[pymethods]
impl Hub {
    #[new]
    fn new() -> PyResult<Hub> {
        let inner =
            Notifier::new().map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))?;
        Ok(Hub {
            inner: Arc::new(inner),
        })
    }

    /// The socket to watch for readability.
    fn fileno(&self) -> i64 {
        pair::fileno(&self.inner.reader)
    }

    /// Empties the socket: whether the native loop asks to be driven (call
    /// `drive()`), and the tokens of the objects that changed.
    fn drain(&self, py: Python<'_>) -> (bool, Vec<u64>) {
        let mut tokens = py.detach(|| self.inner.drain());
        let len = tokens.len();
        tokens.retain(|&t| t != DRIVE);
        (tokens.len() != len, tokens)
    }

    /// The native loop's poller to watch with `loop.add_reader` (calling
    /// `drive()` when readable); -1 where it cannot be watched.
    fn loop_fileno(&self, py: Python<'_>) -> PyResult<i64> {
        crate::runtime::handle(py)?;
        #[cfg(unix)]
        if let Some(driven) = crate::runtime::driven() {
            return Ok(i64::from(std::os::fd::AsRawFd::as_raw_fd(driven)));
        }
        Ok(-1)
    }

    /// Marks the native loop as watched by this asyncio loop.
    fn watch_loop(&self) {
        self.inner.drives.store(true, Ordering::Release);
    }

    /// Polls the native loop once if nobody else drives it: whether it did
    /// (else the `DRIVE` token comes when it may), and the tokens of the
    /// objects that changed.
    fn drive(&self, py: Python<'_>) -> (bool, Vec<u64>) {
        py.detach(|| self.inner.drive())
    }
}

/// A connected, non-blocking pair of sockets: the only platform-specific code
/// of the binding.
#[cfg(unix)]
mod pair {
    use std::io;
    use std::os::fd::AsRawFd;
    pub use std::os::unix::net::UnixStream as Stream;

    pub fn new() -> io::Result<(Stream, Stream)> {
        let (a, b) = Stream::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        Ok((a, b))
    }

    pub fn fileno(s: &Stream) -> i64 {
        i64::from(s.as_raw_fd())
    }
}

#[cfg(not(unix))]
mod pair {
    use std::io;
    pub use std::net::TcpStream as Stream;
    use std::net::{Ipv4Addr, TcpListener};

    pub fn new() -> io::Result<(Stream, Stream)> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let a = Stream::connect(listener.local_addr()?)?;
        let (b, _) = listener.accept()?;
        for s in [&a, &b] {
            s.set_nonblocking(true)?;
            s.set_nodelay(true)?;
        }
        Ok((a, b))
    }

    #[cfg(windows)]
    pub fn fileno(s: &Stream) -> i64 {
        use std::os::windows::io::AsRawSocket;
        s.as_raw_socket() as i64
    }
}
