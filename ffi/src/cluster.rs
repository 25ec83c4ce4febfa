//! Cluster pub/sub: a server joins a cluster of servers sharing topics
//! through Redis (`wsx_server_options_set_cluster`), and tells the state of
//! its broker link and the gaps it finds through its callbacks
//! (`on_cluster_state`, `on_cluster_gap` in `wsx_server_callbacks`) and
//! getters (`wsx_server_cluster_state`, `wsx_server_cluster_stats`,
//! `wsx_server_cluster_node_id`).

use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::time::Duration;

use wsx_core::net::{ClusterConfig, ClusterGap, ClusterState, QueueFull, ReconnectPolicy};

use crate::boundary::{
    Extensible, Failure, Outcome, arg, arg_mut, ffi_call, opt_str, read_sized, write_c_string,
    write_sized,
};
use crate::options::{edit, wsx_server_options};
use crate::resilience::wsx_reconnect_options;
use crate::result::wsx_result;
use crate::server::wsx_server;

/// The state of a server's link to its cluster's broker.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsx_cluster_state {
    /// The first connection to the broker is being made.
    WSX_CLUSTER_STATE_CONNECTING = 0,
    /// Connected; every topic with local subscribers is subscribed.
    WSX_CLUSTER_STATE_UP = 1,
    /// The broker cannot be reached: publications reach local subscribers
    /// only (those for other nodes wait in the bounded queue) and the link
    /// reconnects with backoff.
    WSX_CLUSTER_STATE_DOWN = 2,
    /// Connected again; subscribing every topic anew.
    WSX_CLUSTER_STATE_RESUBSCRIBING = 3,
}

impl wsx_cluster_state {
    fn from_core(state: ClusterState) -> wsx_cluster_state {
        match state {
            ClusterState::Connecting => wsx_cluster_state::WSX_CLUSTER_STATE_CONNECTING,
            ClusterState::Up => wsx_cluster_state::WSX_CLUSTER_STATE_UP,
            ClusterState::Down => wsx_cluster_state::WSX_CLUSTER_STATE_DOWN,
            ClusterState::Resubscribing => wsx_cluster_state::WSX_CLUSTER_STATE_RESUBSCRIBING,
        }
    }
}

/// What a publication does when the queue of publications waiting for the
/// broker is full.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsx_queue_full {
    /// The oldest waiting publication is dropped (the default).
    WSX_QUEUE_FULL_DROP_OLDEST = 0,
    /// The new publication is not queued for the broker (local subscribers
    /// still get it).
    WSX_QUEUE_FULL_DROP_NEWEST = 1,
}

/// A `wsx_queue_full` as C writes it (the header names it `wsx_queue_full`):
/// any integer reaches Rust soundly and is checked.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct QueueFullArg(pub u32);

/// How a server joins a cluster (`wsx_server_options_set_cluster`).
/// Extensible: set `struct_size = sizeof(wsx_cluster_options)` and zero the
/// rest; every field left 0 or NULL takes its default.
///
/// Layout: `size_t struct_size; const char *url, *prefix, *node_id,
/// *tls_ca_file; const wsx_reconnect_options *reconnect; size_t max_queued,
/// max_queued_bytes; uint32_t connect_timeout_ms, keepalive_ms;
/// wsx_queue_full queue_full; bool sharded`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wsx_cluster_options {
    /// `sizeof(wsx_cluster_options)` as the caller was compiled with (at
    /// least up to `url`).
    pub struct_size: usize,
    /// Required: `redis://[[user]:password@]host[:port][/db]`, or
    /// `rediss://` for TLS.
    pub url: *const c_char,
    /// Prefix of the Redis channel names (NULL: `"wsx:"`): the channel of
    /// topic T is prefix + T, so several applications can share a Redis.
    pub prefix: *const c_char,
    /// This node's id, at most 255 bytes (NULL: a random one; read it back
    /// with `wsx_server_cluster_node_id`).
    pub node_id: *const c_char,
    /// For `rediss://`: a PEM file of extra CA certificates (NULL: none).
    pub tls_ca_file: *const c_char,
    /// How the link reconnects (NULL: the defaults of
    /// `wsx_reconnect_options_default`; `queue_while_disconnected` and
    /// `retry_on_4xx` do not apply).
    pub reconnect: *const wsx_reconnect_options,
    /// Most publications waiting for the broker (0: 10,000).
    pub max_queued: usize,
    /// Most bytes of publications waiting for the broker (0: 16 MiB).
    pub max_queued_bytes: usize,
    /// Time allowed to connect to Redis and finish HELLO (0: 5000 ms).
    pub connect_timeout_ms: u32,
    /// A PING every this many ms; no answer within as long again drops the
    /// link (0: 5000 ms).
    pub keepalive_ms: u32,
    /// What a publication does when the queue is full (0: drop the oldest).
    /// A dropped publication used its sequence number: the other nodes
    /// report it as a gap.
    pub queue_full: QueueFullArg,
    /// Sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7). Against a Redis
    /// Cluster, each channel goes to the master of its hash slot (one link
    /// per master in use; MOVED and moved slots are followed); a hash tag
    /// in the prefix (`"{chat}:"`) keeps every channel on one shard.
    pub sharded: bool,
}

// SAFETY: repr(C), `struct_size` first; pointers, integers, a checked
// integer for the enum and a C bool.
unsafe impl Extensible for wsx_cluster_options {
    const NAME: &'static str = "wsx_cluster_options";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_cluster_options, prefix);
    fn base() -> Self {
        wsx_cluster_options {
            struct_size: 0,
            url: std::ptr::null(),
            prefix: std::ptr::null(),
            node_id: std::ptr::null(),
            tls_ca_file: std::ptr::null(),
            reconnect: std::ptr::null(),
            max_queued: 0,
            max_queued_bytes: 0,
            connect_timeout_ms: 0,
            keepalive_ms: 0,
            queue_full: QueueFullArg(0),
            sharded: false,
        }
    }
}

impl wsx_cluster_options {
    /// The core's options.
    ///
    /// # Safety
    /// The strings are NULL or NUL-terminated; `reconnect` is NULL or valid.
    unsafe fn to_core(self) -> Outcome<ClusterConfig> {
        let d = ClusterConfig::default();
        // SAFETY: the caller's promise, for every pointer.
        let url = unsafe { opt_str(self.url, "cluster->url") }?
            .ok_or_else(|| Failure::new(wsx_result::WSX_ERR_NULL, "cluster->url is NULL"))?;
        // SAFETY: as above.
        let prefix = unsafe { opt_str(self.prefix, "cluster->prefix") }?;
        // SAFETY: as above.
        let node_id = unsafe { opt_str(self.node_id, "cluster->node_id") }?;
        // SAFETY: as above.
        let ca_file = unsafe { opt_str(self.tls_ca_file, "cluster->tls_ca_file") }?;
        let reconnect = match self.reconnect.is_null() {
            true => ReconnectPolicy::default(),
            // SAFETY: as above.
            false => unsafe { read_sized(self.reconnect, "cluster->reconnect") }?.to_core(None),
        };
        let queue_full = match self.queue_full.0 {
            0 => QueueFull::DropOldest,
            1 => QueueFull::DropNewest,
            other => {
                return Err(Failure::invalid(format!(
                    "cluster->queue_full: unknown policy {other}"
                )));
            }
        };
        let ms = |v: u32, default: Duration| match v {
            0 => default,
            v => Duration::from_millis(u64::from(v)),
        };
        let or = |v: usize, default: usize| if v == 0 { default } else { v };
        let mut config = ClusterConfig {
            url: url.to_owned(),
            prefix: prefix.map_or(d.prefix.clone(), str::to_owned),
            node_id: node_id.map(str::to_owned),
            sharded: self.sharded,
            reconnect,
            max_queued: or(self.max_queued, d.max_queued),
            max_queued_bytes: or(self.max_queued_bytes, d.max_queued_bytes),
            queue_full,
            connect_timeout: ms(self.connect_timeout_ms, d.connect_timeout),
            keepalive: ms(self.keepalive_ms, d.keepalive),
            ..d
        };
        config.tls.ca_file = ca_file.map(PathBuf::from);
        Ok(config)
    }
}

/// Joins a cluster: the server's publications also reach every other
/// node's subscribers through Redis pub/sub, and theirs reach this server's
/// (`cluster` is copied; NULL leaves the cluster: the default). The URL and
/// node id are checked by `wsx_loop_listen` (`WSX_ERR_INVALID_ARGUMENT`);
/// an unreachable Redis is not an error: the server serves its own
/// subscribers and reports the cluster down, then up once it connects.
///
/// # Safety
/// `options` is NULL or live; `cluster` is NULL or valid, its strings NULL
/// or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_cluster(
    options: *mut wsx_server_options,
    cluster: *const wsx_cluster_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            let config = match cluster.is_null() {
                true => None,
                false => Some(read_sized(cluster, "cluster")?.to_core()?),
            };
            o.conn.server_mut().cluster = config;
            Ok(())
        })
    }
}

/// Writes the default cluster options to `*out`, whose `struct_size` the
/// caller set: every field 0 or NULL (each then takes its default).
///
/// # Safety
/// `out` is NULL or has `out->struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_cluster_options_default(out: *mut wsx_cluster_options) -> wsx_result {
    // SAFETY: the caller's promise.
    ffi_call(|| unsafe { write_sized(out, wsx_cluster_options::base(), "out") })
}

/// The broker link changed state (`on_cluster_state`).
#[repr(C)]
pub struct wsx_cluster_state_event {
    /// The new state.
    pub state: wsx_cluster_state,
    /// Why, in words (the error that took the link down and when the next
    /// attempt comes, or what is subscribed), NUL-terminated, borrowed for
    /// the callback only.
    pub detail: *const c_char,
    /// The detail's length in bytes, without the NUL.
    pub detail_len: usize,
}

/// Publications of another node to a topic with local subscribers were lost
/// (`on_cluster_gap`): resynchronise the topic's subscribers. Raised when
/// that node's next publication arrives, before it is delivered.
#[repr(C)]
pub struct wsx_cluster_gap {
    /// The topic, NUL-terminated, borrowed for the callback only.
    pub topic: *const c_char,
    /// The topic's length in bytes, without the NUL.
    pub topic_len: usize,
    /// The publishing node's id, NUL-terminated, borrowed for the callback only.
    pub node: *const c_char,
    /// The node id's length in bytes, without the NUL.
    pub node_len: usize,
    /// The publisher's epoch now.
    pub epoch: u64,
    /// When `epoch_changed`: the epoch before (the publisher restarted).
    pub previous_epoch: u64,
    /// The sequence number expected next (in `previous_epoch` if it changed).
    pub expected: u64,
    /// The sequence number that arrived.
    pub received: u64,
    /// How many publications were lost (`received - expected`); 0 when
    /// `epoch_changed`, where it is unknown.
    pub missed: u64,
    /// The publisher restarted (a new epoch): how much was lost is unknown.
    pub epoch_changed: bool,
}

/// Called on the loop's thread when the broker link changes state, with the
/// `user_data` of the server's callbacks.
pub type wsx_on_cluster_state =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const wsx_cluster_state_event)>;

/// Called on the loop's thread for each gap found, with the `user_data` of
/// the server's callbacks.
pub type wsx_on_cluster_gap =
    Option<unsafe extern "C" fn(user_data: *mut c_void, gap: *const wsx_cluster_gap)>;

/// A NUL-terminated copy of `text`, for the duration of a callback.
fn c_text(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(0);
    bytes
}

/// Calls the state callback of a server, if it has one.
pub(crate) fn notify_cluster_state(
    callback: wsx_on_cluster_state,
    user_data: *mut c_void,
    state: ClusterState,
    detail: &str,
) {
    let Some(callback) = callback else { return };
    let text = c_text(detail);
    let event = wsx_cluster_state_event {
        state: wsx_cluster_state::from_core(state),
        detail: text.as_ptr().cast(),
        detail_len: detail.len(),
    };
    // SAFETY: a C callback called with the pointers it was documented to get;
    // `text` outlives the call.
    unsafe { callback(user_data, &event) };
}

/// Calls the gap callback of a server, if it has one.
pub(crate) fn notify_cluster_gap(
    callback: wsx_on_cluster_gap,
    user_data: *mut c_void,
    gap: &ClusterGap<'_>,
) {
    let Some(callback) = callback else { return };
    let (topic, node) = (c_text(gap.topic), c_text(gap.node));
    let event = wsx_cluster_gap {
        topic: topic.as_ptr().cast(),
        topic_len: gap.topic.len(),
        node: node.as_ptr().cast(),
        node_len: gap.node.len(),
        epoch: gap.epoch,
        previous_epoch: gap.previous_epoch.unwrap_or(0),
        expected: gap.expected,
        received: gap.received,
        missed: gap.missed().unwrap_or(0),
        epoch_changed: gap.previous_epoch.is_some(),
    };
    // SAFETY: a C callback called with the pointers it was documented to get;
    // `topic` and `node` outlive the call.
    unsafe { callback(user_data, &event) };
}

/// A `wsx_cluster_state` in a struct C gives the library to fill (the header
/// names it `wsx_cluster_state`): an integer, so any bytes in the caller's
/// struct are a valid value.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct ClusterStateValue(pub u32);

/// Figures of a server's cluster link (`wsx_server_cluster_stats`).
/// Extensible: set `struct_size` before the call.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wsx_cluster_stats {
    /// `sizeof(wsx_cluster_stats)` as the caller was compiled with.
    pub struct_size: usize,
    /// The link's state.
    pub state: ClusterStateValue,
    /// This node's epoch (new at each start).
    pub epoch: u64,
    /// Publications handed to the broker.
    pub published: u64,
    /// Publications of other nodes received.
    pub received: u64,
    /// Publications waiting for the broker now.
    pub queued: u64,
    /// Publications dropped because the queue was full.
    pub dropped: u64,
    /// Gap events raised.
    pub gaps: u64,
    /// Times the link to the broker was lost.
    pub disconnects: u64,
    /// Channels subscribed on the broker now.
    pub subscriptions: u64,
}

// SAFETY: repr(C), `struct_size` first; integers only.
unsafe impl Extensible for wsx_cluster_stats {
    const NAME: &'static str = "wsx_cluster_stats";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_cluster_stats, epoch);
    fn base() -> Self {
        wsx_cluster_stats {
            struct_size: 0,
            state: ClusterStateValue(0),
            epoch: 0,
            published: 0,
            received: 0,
            queued: 0,
            dropped: 0,
            gaps: 0,
            disconnects: 0,
            subscriptions: 0,
        }
    }
}

fn not_clustered() -> Failure {
    Failure::new(
        wsx_result::WSX_ERR_STATE,
        "the server joined no cluster (wsx_server_options_set_cluster)",
    )
}

/// Writes the state of the server's broker link into `*out_state`.
/// `WSX_ERR_STATE` for a server that joined no cluster.
///
/// # Safety
/// `server` is NULL or live; `out_state` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_cluster_state(
    server: *const wsx_server,
    out_state: *mut wsx_cluster_state,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for both pointers.
        let server = unsafe { arg(server, "server") }?;
        // SAFETY: as above.
        let out = unsafe { arg_mut(out_state, "out_state") }?;
        let state = server.server.cluster_state().ok_or_else(not_clustered)?;
        *out = wsx_cluster_state::from_core(state);
        Ok(())
    })
}

/// Writes the figures of the server's broker link into `*out`, whose
/// `struct_size` the caller set. `WSX_ERR_STATE` for a server that joined
/// no cluster.
///
/// # Safety
/// `server` is NULL or live; `out` is NULL or has `out->struct_size`
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_cluster_stats(
    server: *const wsx_server,
    out: *mut wsx_cluster_stats,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let server = unsafe { arg(server, "server") }?;
        let stats = server.server.cluster_stats().ok_or_else(not_clustered)?;
        let value = wsx_cluster_stats {
            struct_size: 0,
            state: ClusterStateValue(wsx_cluster_state::from_core(stats.state) as u32),
            epoch: stats.epoch,
            published: stats.published,
            received: stats.received,
            queued: stats.queued,
            dropped: stats.dropped,
            gaps: stats.gaps,
            disconnects: stats.disconnects,
            subscriptions: stats.subscriptions,
        };
        // SAFETY: the caller's promise.
        unsafe { write_sized(out, value, "out") }
    })
}

/// Writes this node's id and a NUL into `out_buf` of `buf_len` bytes (256
/// always suffice). `WSX_ERR_STATE` for a server that joined no cluster.
///
/// # Safety
/// `server` is NULL or live; `out_buf` is NULL or has `buf_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_cluster_node_id(
    server: *const wsx_server,
    out_buf: *mut c_char,
    buf_len: usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let server = unsafe { arg(server, "server") }?;
        let stats = server.server.cluster_stats().ok_or_else(not_clustered)?;
        // SAFETY: the caller's promise.
        unsafe { write_c_string(&stats.node_id, out_buf, buf_len) }
    })
}
