//! Publish/subscribe on a server: its connections subscribe to named topics,
//! and a message published to a topic is encoded once and shared by every
//! subscriber's send queue (see [`PreparedMessage`]).
//!
//! The registry lives with the server's shared state, so subscribing and
//! counting work from any thread at once. Publishing admits each subscriber
//! against its high-water mark on the calling thread (as [`Conn::send`]
//! does), then hands one command to the loop, which queues the shared frame
//! on every admitted connection. A subscriber past its mark is skipped or
//! dropped, as [`ServerConfig::slow_subscriber`](super::ServerConfig::slow_subscriber)
//! says, and [`ServerHandler::on_slow_subscriber`](super::ServerHandler::on_slow_subscriber)
//! runs on the loop's thread.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::{Error, ErrorKind};
use super::handle::{Conn, ConnState, Server};
use super::handler::Ctx;
use super::reactor::Reactor;
use super::shared::{Command, ConnShared};
use crate::proto::{MessageKind, PreparedMessage};

/// What happens to a subscriber whose send queue is past its high-water mark
/// when a message is published to one of its topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowSubscriber {
    /// The message is not queued for it (it misses that message) and the
    /// connection stays open (default).
    #[default]
    Skip,
    /// The connection is dropped at once (its close event: 1006, not clean),
    /// since it can no longer receive every message.
    Drop,
}

/// A server's topics and their subscribers.
#[derive(Default)]
pub(super) struct Topics {
    registry: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    /// The subscribers of each topic.
    subscribers: HashMap<Arc<str>, Topic>,
    /// The topics of each connection that has any.
    topics: HashMap<u64, Vec<Arc<str>>>,
}

/// One topic's subscribers by connection id, and the list of them that the
/// messages published until the next change share (one reference per
/// message rather than one per subscriber).
#[derive(Default)]
struct Topic {
    conns: HashMap<u64, Arc<ConnShared>>,
    list: Option<Arc<[Arc<ConnShared>]>>,
}

/// What a published message does at each subscriber of its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Admitted: counted as queued for the message's length until the
    /// [`Fanout`] drops (once the loop queued it, or if it never gets there).
    Queued,
    /// Past its high-water mark.
    Slow,
    /// Not sent: the publisher itself, or closing.
    Passed,
}

/// The subscribers a message goes to, and the fate of each.
struct Fanout {
    list: Arc<[Arc<ConnShared>]>,
    fates: Vec<Fate>,
    len: usize,
}

/// What [`Command::Publish`] carries.
pub(super) struct Publish {
    message: PreparedMessage,
    topic: Arc<str>,
    fanout: Fanout,
    policy: SlowSubscriber,
}

impl Topics {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Every update leaves the maps consistent before it can panic.
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `conn` to `topic`; `Ok(false)` if it was subscribed already.
    /// Fails once the connection is closing or closed.
    fn subscribe(&self, conn: &Arc<ConnShared>, topic: &str) -> Result<bool, Error> {
        let mut registry = self.lock();
        // Checked under the lock: `leave_all` runs after the state turns
        // closed, so no subscription outlives its connection.
        if conn.state() != ConnState::Open {
            return Err(Error::new(
                ErrorKind::Closed,
                "the connection is closing or closed: it cannot subscribe",
            ));
        }
        let Registry {
            subscribers,
            topics,
        } = &mut *registry;
        let mine = topics.entry(conn.id).or_default();
        if mine.iter().any(|t| &**t == topic) {
            return Ok(false);
        }
        let name: Arc<str> = match subscribers.get_key_value(topic) {
            Some((name, _)) => name.clone(),
            None => Arc::from(topic),
        };
        mine.push(name.clone());
        let entry = subscribers.entry(name).or_default();
        entry.conns.insert(conn.id, conn.clone());
        entry.list = None;
        Ok(true)
    }

    /// Removes connection `id` from `topic`; whether it was subscribed.
    fn unsubscribe(&self, id: u64, topic: &str) -> bool {
        let mut registry = self.lock();
        let Some(mine) = registry.topics.get_mut(&id) else {
            return false;
        };
        let Some(at) = mine.iter().position(|t| &**t == topic) else {
            return false;
        };
        mine.swap_remove(at);
        if mine.is_empty() {
            registry.topics.remove(&id);
        }
        registry.remove_subscriber(topic, id);
        true
    }

    /// Removes connection `id` from all its topics.
    pub fn leave_all(&self, id: u64) {
        let mut registry = self.lock();
        for topic in registry.topics.remove(&id).unwrap_or_default() {
            registry.remove_subscriber(&topic, id);
        }
    }

    fn topics_of(&self, id: u64) -> Vec<String> {
        let registry = self.lock();
        let topics = registry.topics.get(&id).map(Vec::as_slice);
        topics
            .unwrap_or_default()
            .iter()
            .map(|t| t.to_string())
            .collect()
    }

    fn count(&self, topic: &str) -> usize {
        self.lock()
            .subscribers
            .get(topic)
            .map_or(0, |t| t.conns.len())
    }

    /// Decides the fate of a message of `len` bytes at each subscriber of
    /// `topic`: the open ones but `except` that take it (now counted as
    /// queued) and those past their mark. `None` without subscribers.
    fn fan_out(&self, topic: &str, except: Option<u64>, len: usize) -> Option<Fanout> {
        let mut registry = self.lock();
        let entry = registry.subscribers.get_mut(topic)?;
        let list = entry
            .list
            .get_or_insert_with(|| entry.conns.values().cloned().collect())
            .clone();
        drop(registry);
        let fates = list
            .iter()
            .map(|conn| match conn.state() {
                _ if Some(conn.id) == except => Fate::Passed,
                ConnState::Open if conn.reserve(len).is_ok() => Fate::Queued,
                ConnState::Open => Fate::Slow,
                _ => Fate::Passed,
            })
            .collect();
        Some(Fanout { list, fates, len })
    }
}

impl Registry {
    fn remove_subscriber(&mut self, topic: &str, id: u64) {
        if let Some(entry) = self.subscribers.get_mut(topic) {
            entry.conns.remove(&id);
            entry.list = None;
            if entry.conns.is_empty() {
                self.subscribers.remove(topic);
            }
        }
    }
}

impl Fanout {
    /// The subscribers whose fate is `fate`.
    fn with(&self, fate: Fate) -> impl Iterator<Item = &Arc<ConnShared>> {
        let fates = self.fates.iter();
        self.list
            .iter()
            .zip(fates)
            .filter_map(move |(conn, f)| (*f == fate).then_some(conn))
    }
}

impl Drop for Fanout {
    /// Gives back what admission counted as queued.
    fn drop(&mut self) {
        for conn in self.with(Fate::Queued) {
            conn.queued.fetch_sub(self.len, Ordering::AcqRel);
        }
    }
}

fn not_a_server_conn() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "only the connections of a server subscribe to topics",
    )
}

impl Conn {
    /// Subscribes this server-side connection to `topic` (any number of
    /// topics per connection); messages published to it from now on reach
    /// the connection. `Ok(false)` if it was subscribed already. Closing the
    /// connection leaves all its topics. Fails with `InvalidArgument` on a
    /// client connection and with `Closed` once the connection is closing.
    pub fn subscribe(&self, topic: &str) -> Result<bool, Error> {
        let server = self.shared.server.get().ok_or_else(not_a_server_conn)?;
        server.topics.subscribe(&self.shared, topic)
    }

    /// Unsubscribes from `topic`; whether the connection was subscribed.
    pub fn unsubscribe(&self, topic: &str) -> bool {
        self.shared
            .server
            .get()
            .is_some_and(|server| server.topics.unsubscribe(self.shared.id, topic))
    }

    /// The topics this connection is subscribed to, in no particular order.
    pub fn topics(&self) -> Vec<String> {
        self.shared
            .server
            .get()
            .map_or_else(Vec::new, |server| server.topics.topics_of(self.shared.id))
    }
}

impl Ctx<'_> {
    /// [`Conn::subscribe`] for this connection.
    pub fn subscribe(&mut self, topic: &str) -> Result<bool, Error> {
        self.conn.subscribe(topic)
    }

    /// [`Conn::unsubscribe`] for this connection.
    pub fn unsubscribe(&mut self, topic: &str) -> bool {
        self.conn.unsubscribe(topic)
    }
}

impl Server {
    /// Sends a message to every subscriber of `topic` and returns how many
    /// it was queued for. The frame is encoded once and shared by all of
    /// them. A subscriber past its high-water mark is skipped or dropped
    /// (see [`SlowSubscriber`]) and not counted; so are connections already
    /// closing. Callable from any thread: each subscriber receives the
    /// messages published from one thread in the order they were published.
    /// Fails with `InvalidArgument` on text that is not UTF-8 and with
    /// `Closed` once the loop is gone.
    pub fn publish(&self, topic: &str, kind: MessageKind, data: &[u8]) -> Result<usize, Error> {
        self.publish_to(topic, kind, data, None)
    }

    /// Like [`Server::publish`], skipping `except` (typically the publisher).
    pub fn publish_except(
        &self,
        topic: &str,
        kind: MessageKind,
        data: &[u8],
        except: &Conn,
    ) -> Result<usize, Error> {
        self.publish_to(topic, kind, data, Some(except.id()))
    }

    /// How many connections are subscribed to `topic`.
    pub fn subscribers(&self, topic: &str) -> usize {
        self.shared.topics.count(topic)
    }

    fn publish_to(
        &self,
        topic: &str,
        kind: MessageKind,
        data: &[u8],
        except: Option<u64>,
    ) -> Result<usize, Error> {
        if kind == MessageKind::Text && simdutf8::basic::from_utf8(data).is_err() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a text message must be valid UTF-8",
            ));
        }
        let Some(fanout) = self.shared.topics.fan_out(topic, except, data.len()) else {
            return Ok(0);
        };
        if fanout.fates.iter().all(|f| *f == Fate::Passed) {
            return Ok(0);
        }
        let count = fanout.with(Fate::Queued).count();
        let publish = Publish {
            message: PreparedMessage::new(kind, data)?,
            topic: Arc::from(topic),
            fanout,
            policy: self.shared.slow_subscriber,
        };
        self.lp
            .push(Command::Publish(Box::new(publish)))
            .map(|()| count)
    }
}

impl Reactor {
    /// Queues a published message on every admitted subscriber, then deals
    /// with the slow ones.
    pub fn run_publish(&mut self, publish: Publish) {
        let Publish {
            mut message,
            topic,
            fanout,
            policy,
        } = publish;
        for conn in fanout.with(Fate::Queued) {
            if let Some(slot) = self.find(conn)
                && let Some(c) = self.conn_mut(slot)
                && c.engine_live()
                && c.engine.sender().send_prepared(&mut message).is_ok()
            {
                // Pending before it stops counting as queued (as for sends).
                c.publish_pending();
                self.mark_dirty(slot);
            }
        }
        for conn in fanout.with(Fate::Slow) {
            self.slow_subscriber(conn, &topic, policy);
        }
    }

    fn slow_subscriber(&mut self, conn: &Arc<ConnShared>, topic: &str, policy: SlowSubscriber) {
        let Some(slot) = self.find(conn) else { return };
        let Some(c) = self.conn_mut(slot) else { return };
        let handle = c.conn.clone();
        if let Some((server_slot, server_id)) = c.server
            && let Some(handler) = self.server_handler(server_slot, server_id)
        {
            handler.on_slow_subscriber(&handle, topic, policy);
        }
        if policy == SlowSubscriber::Drop {
            let message = format!(
                "dropped as a slow subscriber: a message published to \"{topic}\" found its send queue past the high-water mark"
            );
            self.fail(slot, Error::new(ErrorKind::WouldBlock, message));
        }
    }
}
