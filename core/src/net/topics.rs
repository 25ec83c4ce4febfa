//! The registry of a server's topics: which connections subscribe to what,
//! and the fate of a published message at each subscriber (queued, or past
//! its high-water mark). Generic over the subscriber, so it knows nothing of
//! the loop; a connection's shared state is the subscriber in practice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::{Error, ErrorKind};

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

/// What the registry needs of a subscriber (a connection's shared state).
pub(super) trait Subscriber {
    /// Its number, unique within its loop.
    fn id(&self) -> u64;
    /// Whether it is open (neither connecting nor closing).
    fn is_open(&self) -> bool;
    /// Counts `len` bytes as queued if they fit under its high-water mark.
    fn reserve(&self, len: usize) -> bool;
    /// Gives back bytes [`Subscriber::reserve`] counted.
    fn unreserve(&self, len: usize);
}

/// A server's topics and their subscribers.
pub(super) struct Topics<S> {
    registry: Mutex<Registry<S>>,
}

struct Registry<S> {
    /// The subscribers of each topic.
    subscribers: HashMap<Arc<str>, Topic<S>>,
    /// The topics of each connection that has any.
    topics: HashMap<u64, Vec<Arc<str>>>,
}

impl<S> Default for Topics<S> {
    fn default() -> Self {
        Topics {
            registry: Mutex::new(Registry {
                subscribers: HashMap::new(),
                topics: HashMap::new(),
            }),
        }
    }
}

/// One topic's subscribers by connection id, and the list of them that the
/// messages published until the next change share (one reference per
/// message rather than one per subscriber).
struct Topic<S> {
    conns: HashMap<u64, Arc<S>>,
    list: Option<Arc<[Arc<S>]>>,
}

impl<S> Default for Topic<S> {
    fn default() -> Self {
        Topic {
            conns: HashMap::new(),
            list: None,
        }
    }
}

/// What a published message does at each subscriber of its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    /// Admitted: counted as queued for the message's length until the
    /// [`Fanout`] drops (once the loop queued it, or if it never gets there).
    Queued,
    /// Past its high-water mark.
    Slow,
    /// Not sent: the publisher itself, or closing.
    Passed,
}

/// The subscribers a message goes to, and the fate of each.
pub(super) struct Fanout<S: Subscriber> {
    list: Arc<[Arc<S>]>,
    fates: Vec<Fate>,
    len: usize,
}

impl<S: Subscriber> Topics<S> {
    fn lock(&self) -> MutexGuard<'_, Registry<S>> {
        // Every update leaves the maps consistent before it can panic.
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `conn` to `topic`: whether it was not subscribed yet, and
    /// whether the topic is new (its first subscriber). Fails once the
    /// connection is closing or closed.
    pub fn subscribe(&self, conn: &Arc<S>, topic: &str) -> Result<(bool, bool), Error> {
        let mut registry = self.lock();
        // Checked under the lock: `leave_all` runs after the state turns
        // closed, so no subscription outlives its connection.
        if !conn.is_open() {
            return Err(Error::new(
                ErrorKind::Closed,
                "the connection is closing or closed: it cannot subscribe",
            ));
        }
        let Registry {
            subscribers,
            topics,
        } = &mut *registry;
        let mine = topics.entry(conn.id()).or_default();
        if mine.iter().any(|t| &**t == topic) {
            return Ok((false, false));
        }
        let name: Arc<str> = match subscribers.get_key_value(topic) {
            Some((name, _)) => name.clone(),
            None => Arc::from(topic),
        };
        mine.push(name.clone());
        let entry = subscribers.entry(name).or_default();
        entry.conns.insert(conn.id(), conn.clone());
        entry.list = None;
        Ok((true, entry.conns.len() == 1))
    }

    /// Removes connection `id` from `topic`: whether it was subscribed, and
    /// whether the topic is gone (that was its last subscriber).
    pub fn unsubscribe(&self, id: u64, topic: &str) -> (bool, bool) {
        let mut registry = self.lock();
        let Some(mine) = registry.topics.get_mut(&id) else {
            return (false, false);
        };
        let Some(at) = mine.iter().position(|t| &**t == topic) else {
            return (false, false);
        };
        mine.swap_remove(at);
        if mine.is_empty() {
            registry.topics.remove(&id);
        }
        (true, registry.remove_subscriber(topic, id))
    }

    /// Removes connection `id` from all its topics; whether a topic is gone
    /// (it was the last subscriber of one).
    pub fn leave_all(&self, id: u64) -> bool {
        let mut registry = self.lock();
        let mut gone = false;
        for topic in registry.topics.remove(&id).unwrap_or_default() {
            gone |= registry.remove_subscriber(&topic, id);
        }
        gone
    }

    /// The topics that have subscribers.
    pub fn names(&self) -> std::collections::BTreeSet<Arc<str>> {
        self.lock().subscribers.keys().cloned().collect()
    }

    pub fn topics_of(&self, id: u64) -> Vec<String> {
        let registry = self.lock();
        let topics = registry.topics.get(&id).map(Vec::as_slice);
        topics
            .unwrap_or_default()
            .iter()
            .map(|t| t.to_string())
            .collect()
    }

    pub fn count(&self, topic: &str) -> usize {
        self.lock()
            .subscribers
            .get(topic)
            .map_or(0, |t| t.conns.len())
    }

    /// Decides the fate of a message of `len` bytes at each subscriber of
    /// `topic`: the open ones but `except` that take it (now counted as
    /// queued) and those past their mark. `None` without subscribers.
    pub fn fan_out(&self, topic: &str, except: Option<u64>, len: usize) -> Option<Fanout<S>> {
        let mut registry = self.lock();
        let entry = registry.subscribers.get_mut(topic)?;
        let list = entry
            .list
            .get_or_insert_with(|| entry.conns.values().cloned().collect())
            .clone();
        drop(registry);
        let fates = list
            .iter()
            .map(|conn| match conn.is_open() {
                _ if Some(conn.id()) == except => Fate::Passed,
                true if conn.reserve(len) => Fate::Queued,
                true => Fate::Slow,
                false => Fate::Passed,
            })
            .collect();
        Some(Fanout { list, fates, len })
    }
}

impl<S> Registry<S> {
    /// Removes a subscriber; whether the topic is gone with it.
    fn remove_subscriber(&mut self, topic: &str, id: u64) -> bool {
        if let Some(entry) = self.subscribers.get_mut(topic) {
            entry.conns.remove(&id);
            entry.list = None;
            if entry.conns.is_empty() {
                self.subscribers.remove(topic);
                return true;
            }
        }
        false
    }
}

impl<S: Subscriber> Fanout<S> {
    /// The subscribers whose fate is `fate`.
    pub fn with(&self, fate: Fate) -> impl Iterator<Item = &Arc<S>> {
        let fates = self.fates.iter();
        self.list
            .iter()
            .zip(fates)
            .filter_map(move |(conn, f)| (*f == fate).then_some(conn))
    }
}

impl<S: Subscriber> Fanout<S> {
    /// Whether nobody takes the message (every subscriber passed).
    pub fn nobody(&self) -> bool {
        self.fates.iter().all(|f| *f == Fate::Passed)
    }
}

impl<S: Subscriber> Drop for Fanout<S> {
    /// Gives back what admission counted as queued.
    fn drop(&mut self) {
        for conn in self.with(Fate::Queued) {
            conn.unreserve(self.len);
        }
    }
}
