//! Wake-ups for asyncio: the loop thread writes a byte to a socket that the
//! asyncio loop watches with `loop.add_reader`, and lists which mailboxes
//! (connections, servers) changed. No GIL is taken on the loop thread.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A fresh token naming one mailbox.
pub fn next_token() -> u64 {
    NEXT_TOKEN.fetch_add(1, Ordering::Relaxed)
}

/// The native half of one asyncio loop's wake-up channel.
pub struct Notifier {
    ready: Mutex<Vec<u64>>,
    reader: pair::Stream,
    writer: pair::Stream,
}

impl Notifier {
    fn new() -> io::Result<Notifier> {
        let (reader, writer) = pair::new()?;
        Ok(Notifier {
            ready: Mutex::new(Vec::new()),
            reader,
            writer,
        })
    }

    /// Reports that the mailbox `token` changed; writes the wake-up byte when
    /// the list was empty (the reader drains the socket before the list).
    pub fn notify(&self, token: u64) {
        let mut ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
        let first = ready.is_empty();
        ready.push(token);
        drop(ready);
        if first {
            // A full socket already holds a pending wake-up: nothing is lost.
            let _ = (&self.writer).write(&[1]);
        }
    }

    fn drain(&self) -> Vec<u64> {
        let mut buf = [0u8; 256];
        while matches!((&self.reader).read(&mut buf), Ok(n) if n == buf.len()) {}
        std::mem::take(&mut *self.ready.lock().unwrap_or_else(PoisonError::into_inner))
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

    /// Empties the socket and returns the tokens of the objects that changed.
    fn drain(&self, py: Python<'_>) -> Vec<u64> {
        py.detach(|| self.inner.drain())
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
