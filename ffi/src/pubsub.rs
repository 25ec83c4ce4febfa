//! Publish/subscribe on a server: the topics its connections subscribe to,
//! and messages published to every subscriber of a topic, encoded once and
//! shared by all of them.

use std::ffi::{c_char, c_void};

use wsx_core::net::{Conn, SlowSubscriber};

use crate::boundary::{Failure, arg, arg_bytes, arg_mut, arg_str, ffi_call};
use crate::conn::wsx_conn;
use crate::events::MsgKindArg;
use crate::options::wsx_server_options;
use crate::result::wsx_result;
use crate::server::wsx_server;

/// What publishing does with a subscriber whose send queue is past its
/// high-water mark.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsx_slow_subscriber {
    /// It misses that message and stays connected (the default).
    WSX_SLOW_SUBSCRIBER_SKIP = 0,
    /// It is dropped at once: its error and close callbacks follow (1006).
    WSX_SLOW_SUBSCRIBER_DROP = 1,
}

impl wsx_slow_subscriber {
    pub(crate) fn from_core(action: SlowSubscriber) -> wsx_slow_subscriber {
        match action {
            SlowSubscriber::Skip => wsx_slow_subscriber::WSX_SLOW_SUBSCRIBER_SKIP,
            SlowSubscriber::Drop => wsx_slow_subscriber::WSX_SLOW_SUBSCRIBER_DROP,
        }
    }
}

/// A `wsx_slow_subscriber` as C passes it (the header names it
/// `wsx_slow_subscriber`): any integer reaches Rust soundly and is checked.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct SlowSubscriberArg(pub u32);

impl SlowSubscriberArg {
    fn to_core(self) -> Option<SlowSubscriber> {
        match self.0 {
            0 => Some(SlowSubscriber::Skip),
            1 => Some(SlowSubscriber::Drop),
            _ => None,
        }
    }
}

/// A message published to `topic` found a subscriber past its high-water mark.
#[repr(C)]
pub struct wsx_slow_subscriber_event {
    /// The subscriber's id (as `wsx_conn_id` gives it).
    pub conn_id: u64,
    /// The topic, NUL-terminated, borrowed for the callback only.
    pub topic: *const c_char,
    /// The topic's length in bytes, without the NUL.
    pub topic_len: usize,
    /// Whether the subscriber was skipped for this message or dropped.
    pub action: wsx_slow_subscriber,
}

/// Called on the loop's thread once per message a slow subscriber missed (or
/// once when it was dropped), with the `user_data` of the server's callbacks.
pub type wsx_on_slow_subscriber =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const wsx_slow_subscriber_event)>;

/// Calls the slow-subscriber callback of a server, if it has one.
pub(crate) fn notify_slow_subscriber(
    callback: wsx_on_slow_subscriber,
    user_data: *mut c_void,
    conn: &Conn,
    topic: &str,
    action: SlowSubscriber,
) {
    let Some(callback) = callback else { return };
    let mut name = Vec::with_capacity(topic.len() + 1);
    name.extend_from_slice(topic.as_bytes());
    name.push(0);
    let event = wsx_slow_subscriber_event {
        conn_id: conn.id(),
        topic: name.as_ptr().cast(),
        topic_len: topic.len(),
        action: wsx_slow_subscriber::from_core(action),
    };
    // SAFETY: a C callback called with the pointers it was documented to get;
    // `name` outlives the call.
    unsafe { callback(user_data, &event) };
}

/// What publishing does with a subscriber past its high-water mark (default
/// `WSX_SLOW_SUBSCRIBER_SKIP`); `on_slow_subscriber` in the server's
/// callbacks is told each time.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_slow_subscriber(
    options: *mut wsx_server_options,
    policy: SlowSubscriberArg,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let options = unsafe { arg_mut(options, "options") }?;
        options.conn.server_mut().slow_subscriber = policy.to_core().ok_or_else(|| {
            Failure::invalid(format!("unknown slow-subscriber policy {}", policy.0))
        })?;
        Ok(())
    })
}

/// Subscribes a server-side connection to `topic` (UTF-8, copied): messages
/// published to it from now on reach the connection. Any number of topics
/// per connection; subscribing twice is harmless. Closing the connection
/// leaves all its topics. `WSX_ERR_INVALID_ARGUMENT` on a client's
/// connection, `WSX_ERR_CLOSED` once the connection is closing.
///
/// # Safety
/// `conn` is NULL or live; `topic` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_subscribe(
    conn: *const wsx_conn,
    topic: *const c_char,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for both pointers.
        let conn = unsafe { arg(conn, "conn") }?;
        // SAFETY: the caller's promise.
        let topic = unsafe { arg_str(topic, "topic") }?;
        conn.conn.subscribe(topic)?;
        Ok(())
    })
}

/// Unsubscribes a connection from `topic`; `*out_was_subscribed` (if not
/// NULL) tells whether it was subscribed.
///
/// # Safety
/// `conn` is NULL or live; `topic` is NULL or NUL-terminated;
/// `out_was_subscribed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_unsubscribe(
    conn: *const wsx_conn,
    topic: *const c_char,
    out_was_subscribed: *mut bool,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer.
        let conn = unsafe { arg(conn, "conn") }?;
        // SAFETY: the caller's promise.
        let topic = unsafe { arg_str(topic, "topic") }?;
        let was = conn.conn.unsubscribe(topic);
        // SAFETY: the caller's promise.
        if let Some(out) = unsafe { out_was_subscribed.as_mut() } {
            *out = was;
        }
        Ok(())
    })
}

/// Sends a message to every subscriber of `topic` on `server`, but `skip`
/// (NULL: none; typically the connection that published). The frame is
/// encoded once and shared by all subscribers. `data` is copied (NULL is
/// allowed when `len` is 0). `*out_count` (if not
/// NULL) receives how many subscribers the message was queued for: a
/// subscriber past its high-water mark is skipped or dropped (see
/// `wsx_server_options_set_slow_subscriber`) and not counted. Callable from
/// any thread, also from inside callbacks; the messages one thread publishes
/// reach each subscriber in order. On a server in a cluster
/// (`wsx_server_options_set_cluster`) the message also goes to every other
/// node's subscribers through Redis (`*out_count` counts this server's).
///
/// # Safety
/// `server` is NULL or live; `topic` is NULL or NUL-terminated; `data` is
/// NULL or points to `len` bytes; `skip` is NULL or live; `out_count` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_publish(
    server: *const wsx_server,
    topic: *const c_char,
    kind: MsgKindArg,
    data: *const u8,
    len: usize,
    skip: *const wsx_conn,
    out_count: *mut usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer.
        let server = unsafe { arg(server, "server") }?;
        // SAFETY: the caller's promise.
        let topic = unsafe { arg_str(topic, "topic") }?;
        let kind = kind.to_core()?;
        // SAFETY: the caller's promise.
        let data = unsafe { arg_bytes(data, len, "data") }?;
        // SAFETY: the caller's promise.
        let count = match unsafe { skip.as_ref() } {
            Some(skip) => server
                .server
                .publish_except(topic, kind, data, &skip.conn)?,
            None => server.server.publish(topic, kind, data)?,
        };
        // SAFETY: the caller's promise.
        if let Some(out) = unsafe { out_count.as_mut() } {
            *out = count;
        }
        Ok(())
    })
}

/// Writes into `*out_count` how many connections of `server` are subscribed
/// to `topic`.
///
/// # Safety
/// `server` is NULL or live; `topic` is NULL or NUL-terminated; `out_count`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_subscribers(
    server: *const wsx_server,
    topic: *const c_char,
    out_count: *mut usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer.
        let server = unsafe { arg(server, "server") }?;
        // SAFETY: the caller's promise.
        let topic = unsafe { arg_str(topic, "topic") }?;
        // SAFETY: the caller's promise.
        let out = unsafe { arg_mut(out_count, "out_count") }?;
        *out = server.server.subscribers(topic);
        Ok(())
    })
}
