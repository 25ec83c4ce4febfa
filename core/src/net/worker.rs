//! A thread that is asked to stop and joined when its owner drops it: a
//! loop's thread ([`super::LoopThread`], and the extra loops of a server
//! spread over several).

use std::thread::JoinHandle;

/// A running thread and how to ask it to stop; dropping it does both.
pub(super) struct Worker {
    thread: Option<JoinHandle<()>>,
    stop: Box<dyn Fn() + Send + Sync>,
}

impl Worker {
    /// `thread`, which ends soon after `stop` is called.
    pub fn new(thread: JoinHandle<()>, stop: impl Fn() + Send + Sync + 'static) -> Worker {
        Worker {
            thread: Some(thread),
            stop: Box::new(stop),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        (self.stop)();
        if let Some(thread) = self.thread.take() {
            // Dropped from the thread itself (one of its callbacks): it ends by itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}
