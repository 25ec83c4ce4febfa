//! What every handle of a clustered server can read of its link: the state
//! and the figures, kept in atomics by the loop.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use super::{ClusterState, ClusterStats};

/// The shared side of a server's cluster link.
#[derive(Debug)]
pub struct ClusterShared {
    pub node_id: String,
    pub epoch: u64,
    state: AtomicU8,
    /// The broker's slot in the loop's table (`usize::MAX` until it has one).
    pub slot: AtomicUsize,
    /// A re-check of the subscriptions is queued for the loop already.
    pub sync_queued: AtomicBool,
    pub published: AtomicU64,
    pub received: AtomicU64,
    pub queued: AtomicU64,
    pub dropped: AtomicU64,
    pub gaps: AtomicU64,
    pub disconnects: AtomicU64,
    pub subscriptions: AtomicU64,
}

impl ClusterShared {
    pub fn new(node_id: String, epoch: u64) -> ClusterShared {
        ClusterShared {
            node_id,
            epoch,
            state: AtomicU8::new(ClusterState::Connecting as u8),
            slot: AtomicUsize::new(usize::MAX),
            sync_queued: AtomicBool::new(false),
            published: AtomicU64::new(0),
            received: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            subscriptions: AtomicU64::new(0),
        }
    }

    pub fn state(&self) -> ClusterState {
        ClusterState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Sets the state; whether it changed.
    pub fn set_state(&self, state: ClusterState) -> bool {
        self.state.swap(state as u8, Ordering::AcqRel) != state as u8
    }

    /// Whether the caller should queue a re-check (none is queued yet).
    pub fn want_sync(&self) -> bool {
        !self.sync_queued.swap(true, Ordering::AcqRel)
    }

    pub fn stats(&self) -> ClusterStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClusterStats {
            state: self.state(),
            node_id: self.node_id.clone(),
            epoch: self.epoch,
            published: get(&self.published),
            received: get(&self.received),
            queued: get(&self.queued),
            dropped: get(&self.dropped),
            gaps: get(&self.gaps),
            disconnects: get(&self.disconnects),
            subscriptions: get(&self.subscriptions),
        }
    }
}
