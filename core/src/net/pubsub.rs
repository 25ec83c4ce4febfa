//! Publish/subscribe on a server: its connections subscribe to named topics,
//! and a message published to a topic is encoded once and shared by every
//! subscriber's send queue (see [`PreparedMessage`]).
//!
//! The registry ([`super::topics`]) lives with the server's shared state, so
//! subscribing and counting work from any thread at once. Publishing admits each subscriber
//! against its high-water mark on the calling thread (as [`Conn::send`]
//! does), then hands one command to the loop (to each loop of a server
//! spread over several), which queues the shared frame on every admitted
//! connection it holds. A subscriber past its mark is skipped or
//! dropped, as [`ServerConfig::slow_subscriber`](super::ServerConfig::slow_subscriber)
//! says, and [`ServerHandler::on_slow_subscriber`](super::ServerHandler::on_slow_subscriber)
//! runs on the loop's thread.

use std::sync::Arc;

use super::cluster::ClusterStats;
use super::error::{Error, ErrorKind};
use super::handle::{Conn, Server};
use super::handler::Ctx;
use super::shared::{Command, Publish, ServerShared};
use super::topics::Fate;
use crate::proto::{MessageKind, PreparedMessage};

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
        let (added, new_topic) = server.topics.subscribe(&self.shared, topic)?;
        if new_topic {
            sync_cluster(server);
        }
        Ok(added)
    }

    /// Unsubscribes from `topic`; whether the connection was subscribed.
    pub fn unsubscribe(&self, topic: &str) -> bool {
        let Some(server) = self.shared.server.get() else {
            return false;
        };
        let (was, topic_gone) = server.topics.unsubscribe(self.shared.id, topic);
        if topic_gone {
            sync_cluster(server);
        }
        was
    }

    /// The topics this connection is subscribed to, in no particular order.
    pub fn topics(&self) -> Vec<String> {
        self.shared
            .server
            .get()
            .map_or_else(Vec::new, |server| server.topics.topics_of(self.shared.id))
    }
}

/// A topic gained its first or lost its last subscriber: a clustered
/// server's broker subscriptions follow (one re-check queued at a time, on
/// the server's home loop, where the broker runs).
pub(super) fn sync_cluster(server: &ServerShared) {
    if let Some(cluster) = &server.cluster
        && cluster.want_sync()
    {
        let _ = server.home().push(Command::ClusterSync {
            cluster: cluster.clone(),
        });
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
    /// local subscribers it was queued for. On a server in a cluster
    /// ([`super::ServerConfig::cluster`]) it also goes to every other node's
    /// subscribers through the broker (or waits in the bounded queue while
    /// the broker is down). The frame is encoded once and shared by all of
    /// them. A subscriber past its high-water mark is skipped or dropped
    /// (see [`super::SlowSubscriber`]) and not counted; so are connections already
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

    /// The state of the link to the cluster's broker; `None` on a server
    /// that joined no cluster.
    pub fn cluster_state(&self) -> Option<super::ClusterState> {
        self.shared.cluster.as_ref().map(|c| c.state())
    }

    /// The figures of the cluster link; `None` on a server that joined no
    /// cluster.
    pub fn cluster_stats(&self) -> Option<ClusterStats> {
        self.shared.cluster.as_ref().map(|c| c.stats())
    }

    /// How many connections are subscribed to this server's `topic`.
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
        let topic: Arc<str> = Arc::from(topic);
        let count = self.publish_locally(&topic, kind, data, except)?;
        if let Some(cluster) = &self.shared.cluster {
            self.lp.push(Command::ClusterPublish {
                cluster: cluster.clone(),
                topic,
                kind,
                data: data.to_vec(),
            })?;
        }
        Ok(count)
    }

    fn publish_locally(
        &self,
        topic: &Arc<str>,
        kind: MessageKind,
        data: &[u8],
        except: Option<u64>,
    ) -> Result<usize, Error> {
        let Some(fanout) = self.shared.topics.fan_out(topic, except, data.len()) else {
            return Ok(0);
        };
        if fanout.nobody() {
            return Ok(0);
        }
        let count = fanout.with(Fate::Queued).count();
        let publish = Publish {
            message: PreparedMessage::new(kind, data)?,
            topic: topic.clone(),
            fanout: Arc::new(fanout),
            policy: self.shared.slow_subscriber,
        };
        // Each loop of the server queues it on the subscribers it holds.
        self.shared
            .push_to_others(|| Command::Publish(Box::new(publish.clone())));
        self.lp
            .push(Command::Publish(Box::new(publish)))
            .map(|()| count)
    }
}
