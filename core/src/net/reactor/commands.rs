//! The loop's side of the work queue: new connections and servers, and the
//! commands handles send (messages, pings, closes, publications).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{ROUNDS, Reactor};
use crate::net::conn::direct_socket;
use crate::net::error::{Error, ErrorKind};
use crate::net::handle::Conn;
use crate::net::listener::Drain;
use crate::net::queue::Work;
use crate::net::shared::{Command, ConnShared, Publish};
use crate::net::tally;
use crate::net::topics::{Fate, SlowSubscriber};
use crate::net::write::send_message;
use crate::proto::MessageKind;

impl Reactor {
    /// Runs the work queued so far, in order.
    pub(super) fn run_commands(&mut self) {
        // Commands may queue more commands (a callback sending); bound the rounds.
        for _ in 0..ROUNDS {
            let queued = self.shared.take();
            if queued.is_empty() {
                return;
            }
            for work in queued {
                match work {
                    Work::Connect(request) => self.start_connect(*request),
                    Work::Listen(request) => self.start_listen(*request),
                    Work::Command(command) => self.run_command(command),
                }
            }
        }
    }

    /// A send admitted by its handle (counted as queued): into the
    /// connection's sender, or dropped if the connection is gone.
    fn send_queued(
        &mut self,
        conn: &Arc<ConnShared>,
        kind: MessageKind,
        data: &[u8],
        compress: bool,
    ) {
        if let Some(slot) = self.find(conn)
            && let Some(c) = self.conn_mut(slot)
            && send_message(
                c.engine.sender(),
                direct_socket(&c.phase, &mut c.transport, &c.hs_out),
                kind,
                data,
                compress,
            )
            .is_ok()
        {
            // Counted as pending before it stops counting as queued,
            // so the figure other threads read never dips below the truth.
            c.publish_pending();
            tally::sent(&c.conn, data.len(), true);
            self.mark_dirty(slot);
        }
        conn.queued.fetch_sub(data.len(), Ordering::AcqRel);
    }

    /// A send from the thread holding the loop ([`crate::net::DrivenLoop`]):
    /// straight into the connection's sender, without the copy a queued
    /// command makes, when nothing is queued before it (a command queued
    /// earlier, from any thread, must not be overtaken); otherwise queued
    /// like any send, for the caller's next [`Reactor::run_queued`].
    pub fn send_here(
        &mut self,
        conn: &Conn,
        kind: MessageKind,
        data: &[u8],
        compress: bool,
    ) -> Result<(), Error> {
        let _guard = self.shared.enter();
        let on_this_loop = std::ptr::addr_eq(Arc::as_ptr(&conn.lp), Arc::as_ptr(&self.shared));
        if self.shared.has_commands() || !on_this_loop {
            return conn.send_with(kind, data, compress);
        }
        let _outgoing = conn.check_send(kind, data)?;
        conn.admit(data.len())?;
        self.send_queued(&conn.shared, kind, data, compress);
        Ok(())
    }

    fn run_command(&mut self, command: Command) {
        match command {
            Command::Resolved { conn, result } => {
                if let Some(slot) = self.find(&conn) {
                    self.on_resolved(slot, result);
                }
            }
            Command::Send {
                conn,
                kind,
                data,
                compress,
            } => self.send_queued(&conn, kind, &data, compress),
            Command::SendFragment {
                conn,
                kind,
                data,
                fin,
                compress,
            } => {
                if let Some(slot) = self.find(&conn)
                    && let Some(c) = self.conn_mut(slot)
                    && c.engine
                        .sender()
                        .send_fragment_with(kind, &data, fin, compress)
                        .is_ok()
                {
                    c.publish_pending();
                    tally::sent(&c.conn, data.len(), fin);
                    self.mark_dirty(slot);
                }
                conn.queued.fetch_sub(data.len(), Ordering::AcqRel);
            }
            Command::Abort { conn } => {
                if let Some(slot) = self.find(&conn) {
                    self.finish(
                        slot,
                        crate::proto::CloseCode::ABNORMAL,
                        "aborted by the application",
                        false,
                    );
                }
            }
            Command::Ping { conn, data } => {
                if let Some(slot) = self.find(&conn)
                    && self.conn_mut(slot).is_some_and(|c| c.ping(&data))
                {
                    self.mark_dirty(slot);
                }
            }
            Command::Flush { conn } => {
                if let Some(slot) = self.find(&conn) {
                    self.mark_dirty(slot);
                }
            }
            Command::ResumeReading { conn } => {
                if let Some(slot) = self.find(&conn) {
                    self.resume_input(slot);
                }
            }
            Command::Close { conn, code, reason } => {
                if let Some(slot) = self.find(&conn) {
                    self.close(slot, code, &reason);
                }
            }
            Command::Publish(publish) => self.run_publish(*publish),
            Command::FailNow { conn } => {
                if let Some(slot) = self.find(&conn)
                    && let Some(c) = self.conn_mut(slot)
                {
                    c.fail_deferred();
                    self.after_engine(slot);
                }
            }
            Command::Decide { conn, decision } => {
                if let Some(slot) = self.find(&conn) {
                    self.decide(slot, decision);
                }
            }
            Command::Shutdown {
                server,
                code,
                reason,
                timeout,
            } => self.start_shutdown(&server, Drain { code, reason }, timeout),
            Command::Adopt {
                server,
                part,
                stream,
                addr,
            } => self.adopt(&server, part, stream, addr),
            Command::PartDone { server } => self.part_done(&server),
            Command::ClusterPublish {
                cluster,
                topic,
                kind,
                data,
            } => self.broker_publish(&cluster, &topic, kind, &data),
            Command::ClusterSync { cluster } => self.on_cluster_sync(&cluster),
            Command::BrokerResolved {
                cluster,
                link,
                result,
            } => self.on_broker_resolved(&cluster, link, result),
        }
    }

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
                tally::sent(&c.conn, message.payload().len(), true);
                self.mark_dirty(slot);
            }
        }
        for conn in fanout.with(Fate::Slow) {
            self.slow_subscriber(conn, &topic, policy);
        }
    }

    pub(super) fn slow_subscriber(
        &mut self,
        conn: &Arc<ConnShared>,
        topic: &str,
        policy: SlowSubscriber,
    ) {
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
