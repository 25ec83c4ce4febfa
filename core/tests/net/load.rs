//! Many connections at once, sends from many threads, and backpressure
//! against a reader that stops reading.

use std::collections::BTreeSet;
use std::sync::mpsc::channel;
use std::time::Duration;

use crate::util::*;
use wsx_core::net::{
    Backpressure, ClientConfig, ErrorKind, EventLoop, Handler, Refusal, ServerHandler, Upgrade,
};
use wsx_core::proto::{CloseCode, MessageKind};

#[test]
fn a_thousand_concurrent_connections() {
    const N: usize = 1000;
    let server_loop = spawn_loop();
    let client_loop = spawn_loop();
    let echo = Echo::start(server_loop.handle(), server_config());
    let (tx, rx) = channel();
    let events = Events(rx);
    let conns: Vec<_> = (0..N)
        .map(|_| {
            let recorder = Box::new(Recorder {
                tx: tx.clone(),
                echo: false,
            });
            client_loop
                .handle()
                .connect(&echo.url(), client_config(), recorder)
                .expect("connect")
        })
        .collect();
    for _ in 0..N {
        events.until(|ev| match ev {
            Ev::Open { .. } => Some(()),
            Ev::Error(..) | Ev::Close(..) => panic!("a connection failed: {ev:?}"),
            _ => None,
        });
    }
    for (i, conn) in conns.iter().enumerate() {
        conn.send(MessageKind::Text, i.to_string().as_bytes())
            .expect("send");
    }
    let mut seen = BTreeSet::new();
    for _ in 0..N {
        let (_, data) = events.message();
        seen.insert(
            String::from_utf8(data)
                .expect("utf-8")
                .parse::<usize>()
                .expect("number"),
        );
    }
    assert_eq!(seen, (0..N).collect());
    for conn in &conns {
        conn.close(CloseCode::NORMAL, "").expect("close");
    }
    for _ in 0..N {
        assert!(events.close().2, "every close is clean");
    }
}

/// A server whose connections only record what they receive.
struct Sink(std::sync::mpsc::Sender<Ev>);

impl ServerHandler for Sink {
    fn on_upgrade(&mut self, _upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Recorder {
            tx: self.0.clone(),
            echo: false,
        }))
    }
}

/// Bursts of sends from several threads to a client whose loop has nothing
/// else to do (the server runs on another loop and answers nothing): every
/// message must still go out, so no burst's wake-up of the loop is lost.
#[test]
fn sends_from_many_threads_all_arrive() {
    const THREADS: usize = 8;
    const EACH: usize = 2000;
    let (server_loop, client_loop) = (spawn_loop(), spawn_loop());
    let (tx, received) = channel();
    let server = server_loop
        .handle()
        .listen(server_config(), Box::new(Sink(tx)))
        .expect("listen");
    let url = format!("ws://{}/", server.local_addr());
    let (conn, _events) = connect(client_loop.handle(), &url, client_config());
    let received = Events(received);
    received.open();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let conn = conn.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    conn.send(MessageKind::Text, format!("{t}:{i}").as_bytes())
                        .expect("send");
                    if i % 100 == 99 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("sender");
    }
    let mut per_thread = vec![Vec::new(); THREADS];
    for _ in 0..THREADS * EACH {
        let (_, data) = received.message();
        let text = String::from_utf8(data).expect("utf-8");
        let (t, i) = text.split_once(':').expect("t:i");
        per_thread[t.parse::<usize>().expect("t")].push(i.parse::<usize>().expect("i"));
    }
    // Each thread's messages arrive complete and in its order.
    for received in per_thread {
        assert_eq!(received, (0..EACH).collect::<Vec<_>>());
    }
}

#[test]
fn a_slow_reader_is_held_back_by_backpressure() {
    const MESSAGE: usize = 256 * 1024;
    let backpressure = Backpressure {
        high_water: 2 << 20,
        low_water: 512 * 1024,
    };
    // The reader: a server on a loop this thread polls only when it wants to.
    let mut server_loop = EventLoop::new().expect("loop");
    // (It keeps the default marks: it echoes all it reads.)
    let echo = Echo::start(&server_loop.handle(), server_config());
    let client_loop = spawn_loop();
    let (recorder, events) = Recorder::new(false);
    let config = ClientConfig {
        backpressure,
        ..client_config()
    };
    let conn = client_loop
        .handle()
        .connect(&echo.url(), config, recorder)
        .expect("connect");
    while echo.conns.0.try_recv().is_err() {
        server_loop
            .poll(Some(Duration::from_millis(10)))
            .expect("poll");
    }
    events.open();

    // The reader stops: send until the queue refuses, and keep trying until
    // nothing drains any more (socket buffers full).
    let payload = vec![7u8; MESSAGE];
    let (mut sent, mut refusals) = (0usize, 0);
    while refusals < 50 {
        match conn.send(MessageKind::Binary, &payload) {
            Ok(()) => {
                sent += 1;
                refusals = 0;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
                refusals += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // The queue never grows past the mark by more than one message. The
        // count includes the frames' headers (a client's 256 KiB frame has
        // 14 bytes: length and masking key), and for a moment, while the
        // loop moves a message from the queue to the connection's buffer,
        // that message counts in both.
        let headers = (backpressure.high_water / MESSAGE + 1) * 14;
        let buffered = conn.buffered_amount();
        assert!(
            buffered <= backpressure.high_water + MESSAGE + headers,
            "{buffered} bytes buffered ({} past the mark)",
            buffered - backpressure.high_water
        );
    }
    assert!(
        conn.buffered_amount() > backpressure.low_water,
        "data is held back"
    );

    // The reader drains: the writer hears it may go on.
    let mut received = 0;
    let mut writable = false;
    while !writable || received < sent {
        server_loop
            .poll(Some(Duration::from_millis(10)))
            .expect("poll");
        while let Ok(ev) = echo.conns.0.try_recv() {
            if let Ev::Message(_, data) = ev {
                assert_eq!(data.len(), MESSAGE);
                received += 1;
            }
        }
        while let Ok(ev) = events.0.try_recv() {
            writable |= ev == Ev::Writable;
        }
    }
    assert_eq!(received, sent);
    conn.send(MessageKind::Text, b"more")
        .expect("sending works again");
}

#[test]
fn a_peer_that_pings_but_never_reads_is_not_read_either() {
    use std::io::{ErrorKind as IoKind, Write};
    let backpressure = Backpressure {
        high_water: 64 * 1024,
        low_water: 16 * 1024,
    };
    let lp = spawn_loop();
    let echo = Echo::start(
        lp.handle(),
        wsx_core::net::ServerConfig {
            backpressure,
            ..server_config()
        },
    );
    let mut tcp = echo.raw_client();
    // Masked pings (key 0) of 125 bytes, as fast as the socket takes them;
    // every one would cost the server a pong if it kept reading.
    let mut ping = vec![0x89u8, 0x80 | 125, 0, 0, 0, 0];
    ping.extend_from_slice(&[b'p'; 125]);
    let pings: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 4096)
        .collect();
    tcp.set_write_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut written = 0usize;
    let blocked = loop {
        match tcp.write(&pings) {
            Ok(n) => written += n,
            Err(e) if matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut) => break true,
            Err(e) => panic!("write: {e}"),
        }
        if written > 256 << 20 {
            break false;
        }
    };
    assert!(
        blocked,
        "the server kept reading: {written} bytes of pings taken"
    );
}

#[test]
fn many_lookups_at_once_all_resolve() {
    const N: usize = 64;
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let url = format!("ws://localhost:{}/", echo.server.local_addr().port());
    let (tx, rx) = channel();
    let events = Events(rx);
    let _conns: Vec<_> = (0..N)
        .map(|_| {
            let recorder = Box::new(Recorder {
                tx: tx.clone(),
                echo: false,
            });
            lp.handle()
                .connect(&url, client_config(), recorder)
                .expect("connect")
        })
        .collect();
    for _ in 0..N {
        assert!(matches!(events.next(), Ev::Open { .. }));
    }
}
