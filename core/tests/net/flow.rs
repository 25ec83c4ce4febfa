//! Flow control for input: `Conn::pause_reading` holds messages back (the
//! peer eventually sees backpressure), `Conn::resume_reading` delivers them
//! all, in order; a pause from inside `on_message` takes effect at once.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use crate::util::*;
use wsx_core::net::{
    Backpressure, ClientConfig, Conn, Ctx, ErrorKind, Handler, Open, Refusal, ServerHandler,
    Upgrade,
};
use wsx_core::proto::{CloseCode, MessageKind};

/// How a [`Pausing`] handler pauses.
#[derive(Clone, Copy)]
enum When {
    /// As soon as the connection opens.
    Open,
    /// After every message it receives.
    EveryMessage,
}

/// A server connection that pauses its reading, hands its `Conn` to the
/// test, and records what it receives.
struct Pausing {
    when: When,
    conns: Sender<Conn>,
    recorder: Box<Recorder>,
}

impl Handler for Pausing {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, open: &Open<'_>) {
        if matches!(self.when, When::Open) {
            ctx.conn().pause_reading();
        }
        let _ = self.conns.send(ctx.conn().clone());
        self.recorder.on_open(ctx, open);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], fin: bool) {
        if matches!(self.when, When::EveryMessage) {
            ctx.conn().pause_reading();
        }
        self.recorder.on_message(ctx, kind, data, fin);
    }
    fn on_close(&mut self, conn: &Conn, close: &wsx_core::net::Close<'_>) {
        self.recorder.on_close(conn, close);
    }
}

struct PausingServer {
    when: When,
    conns: Sender<Conn>,
    events: Sender<Ev>,
}

impl ServerHandler for PausingServer {
    fn on_upgrade(&mut self, _upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Pausing {
            when: self.when,
            conns: self.conns.clone(),
            recorder: Box::new(Recorder {
                tx: self.events.clone(),
                echo: false,
            }),
        }))
    }
}

/// A pausing server, its first connection's handle and events, and a client.
struct Setup {
    _lp: wsx_core::net::LoopThread,
    _server: wsx_core::net::Server,
    server_conn: Conn,
    server_events: Events,
    client: Conn,
    client_events: Events,
}

fn setup(when: When, client: ClientConfig) -> Setup {
    let lp = spawn_loop();
    let (conns_tx, conns): (Sender<Conn>, Receiver<Conn>) = channel();
    let (events_tx, events) = channel();
    let server = lp
        .handle()
        .listen(
            server_config(),
            Box::new(PausingServer {
                when,
                conns: conns_tx,
                events: events_tx,
            }),
        )
        .expect("listen");
    let url = format!("ws://{}/", server.local_addr());
    let (client, client_events) = connect(lp.handle(), &url, client);
    let server_conn = conns
        .recv_timeout(PATIENCE)
        .expect("the server's connection");
    let server_events = Events(events);
    server_events.open();
    Setup {
        _lp: lp,
        _server: server,
        server_conn,
        server_events,
        client,
        client_events,
    }
}

/// Asserts no event arrives for a while (the handler is paused).
fn assert_silent(events: &Events) {
    if let Ok(ev) = events.0.recv_timeout(Duration::from_millis(200)) {
        panic!("an event arrived while paused: {ev:?}");
    }
}

fn numbered(i: u32, len: usize) -> Vec<u8> {
    let mut data = i.to_be_bytes().to_vec();
    data.resize(len, (i % 251) as u8);
    data
}

#[test]
fn paused_connection_backpressures_the_peer_and_resume_delivers_in_order() {
    let client = ClientConfig {
        backpressure: Backpressure {
            high_water: 64 * 1024,
            low_water: 16 * 1024,
        },
        compression: None,
        ..client_config()
    };
    let s = setup(When::Open, client);
    assert!(s.server_conn.is_reading_paused());
    // Send until the queue stays full: a refusal not followed by a writable
    // event means the paused reader is pushing back all the way.
    const LEN: usize = 4096;
    const CAP: u32 = (256 << 20) / LEN as u32;
    let mut sent = 0u32;
    loop {
        assert!(sent < CAP, "256 MiB sent without backpressure");
        match s.client.send(MessageKind::Binary, &numbered(sent, LEN)) {
            Ok(()) => sent += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let drained = s
                    .client_events
                    .0
                    .recv_timeout(Duration::from_millis(500))
                    .is_ok();
                if !drained {
                    break;
                }
            }
            Err(e) => panic!("send failed: {e}"),
        }
    }
    assert!(sent > 0);
    // Nothing reached the paused handler.
    assert!(
        s.server_events.0.try_recv().is_err(),
        "a message was delivered while paused"
    );
    s.server_conn.resume_reading();
    assert!(!s.server_conn.is_reading_paused());
    for i in 0..sent {
        assert_eq!(
            s.server_events.message(),
            (MessageKind::Binary, numbered(i, LEN)),
            "message {i} of {sent}"
        );
    }
    // The client's queue drained: it was told so.
    s.client_events
        .until(|ev| (ev == Ev::Writable).then_some(()));
    s.client.close(CloseCode::NORMAL, "done").expect("close");
    assert_eq!(s.client_events.close(), (1000, String::new(), true));
}

#[test]
fn pause_inside_on_message_holds_the_next_message() {
    let s = setup(When::EveryMessage, client_config());
    for i in 0..3u32 {
        s.client
            .send(MessageKind::Binary, &numbered(i, 8))
            .expect("send");
    }
    // One message per resume, even though all three arrived together.
    assert_eq!(s.server_events.message().1, numbered(0, 8));
    for i in 1..3u32 {
        assert_silent(&s.server_events);
        s.server_conn.resume_reading();
        assert_eq!(s.server_events.message().1, numbered(i, 8));
    }
    assert!(s.server_conn.is_reading_paused());
}

#[test]
fn closing_a_paused_connection_finishes_the_close_handshake() {
    let s = setup(When::Open, client_config());
    s.client
        .send(MessageKind::Text, b"held back")
        .expect("send");
    assert_silent(&s.server_events);
    s.server_conn
        .close(CloseCode::NORMAL, "bye")
        .expect("close");
    // Reading resumed for the close handshake: both ends close cleanly.
    assert_eq!(s.server_events.close(), (1000, String::new(), true));
    assert_eq!(s.client_events.close(), (1000, "bye".to_owned(), true));
}
