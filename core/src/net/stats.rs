//! Counts of the objects of this module alive in the process, for leak
//! checks: a binding that frees every handle brings them back to where they
//! were.

use std::sync::atomic::{AtomicUsize, Ordering};

static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);
static SERVERS: AtomicUsize = AtomicUsize::new(0);
static LOOPS: AtomicUsize = AtomicUsize::new(0);

/// How many connections, servers and event loops are alive in this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveObjects {
    /// Connections whose state is still referenced: by the loop while it
    /// runs them, or by any [`super::Conn`] handle (a closed connection
    /// counts until its last handle is dropped).
    pub connections: usize,
    /// Servers referenced by the loop or by any [`super::Server`] handle.
    pub servers: usize,
    /// Event loops referenced by an [`super::EventLoop`], a
    /// [`super::LoopThread`] or any handle.
    pub loops: usize,
}

/// The counts of live objects right now (relaxed reads: exact once other
/// threads are done with wsx).
pub fn stats() -> LiveObjects {
    LiveObjects {
        connections: CONNECTIONS.load(Ordering::Relaxed),
        servers: SERVERS.load(Ordering::Relaxed),
        loops: LOOPS.load(Ordering::Relaxed),
    }
}

/// Held by each counted object: counts it from creation to drop.
pub(super) struct Live(&'static AtomicUsize);

impl Live {
    fn new(counter: &'static AtomicUsize) -> Live {
        counter.fetch_add(1, Ordering::Relaxed);
        Live(counter)
    }

    /// For a connection's shared state.
    pub fn connection() -> Live {
        Live::new(&CONNECTIONS)
    }

    /// For a server's shared state.
    pub fn server() -> Live {
        Live::new(&SERVERS)
    }

    /// For a loop's shared state.
    pub fn event_loop() -> Live {
        Live::new(&LOOPS)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
