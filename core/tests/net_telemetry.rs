//! Telemetry: the counters of a loop and of a server after a known traffic
//! pattern (exact message and byte counts, refusals by status, close codes,
//! protocol errors, keepalive timeouts), their OpenMetrics text, and the log
//! records through the `log` facade.

#[path = "net/util/mod.rs"]
mod net_util;

use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use net_util::*;
use wsx_core::net::{Keepalive, Metrics, Server, ServerConfig};
use wsx_core::proto::{CloseCode, MessageKind};

/// Waits until `done` holds of the server's counters (the server's side of
/// a connection may end a moment after the client's close event).
fn settle(server: &Server, done: impl Fn(&Metrics) -> bool) -> Metrics {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let m = server.metrics();
        if done(&m) || Instant::now() > deadline {
            return m;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Records every log record of wsx in the process.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target().starts_with("wsx")
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let line = format!("{} {} {}", r.level(), r.target(), r.args());
            self.0.lock().unwrap().push(line);
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn counters_after_a_known_traffic_pattern() {
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Debug);
    let server_loop = spawn_loop();
    let client_loop = spawn_loop();
    let echo = Echo::start(server_loop.handle(), server_config());
    let (conn, events) = connect(client_loop.handle(), &echo.url(), client_config());
    echo.conns.open();
    for _ in 0..3 {
        conn.send(MessageKind::Text, b"hello").expect("send");
        events.message();
    }
    conn.send(MessageKind::Binary, &[7u8; 1000]).expect("send");
    events.message();
    conn.close(CloseCode::NORMAL, "bye").expect("close");
    assert_eq!(events.close().0, 1000);

    // A plain HTTP request: 426.
    let mut http = std::net::TcpStream::connect(echo.server.local_addr()).expect("tcp");
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut answer = String::new();
    let _ = http.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 426"), "{answer}");

    let m = settle(&echo.server, |m| {
        m.closes_with(1000) == 1 && m.refused(426) == 1
    });
    assert_eq!(m.connections_open, 0);
    assert_eq!(m.connections_opened, 1);
    assert_eq!(m.handshakes_accepted, 1);
    assert_eq!((m.messages_in, m.bytes_in), (4, 1015));
    assert_eq!((m.messages_out, m.bytes_out), (4, 1015));
    assert_eq!(m.closes_with(1000), 1);
    assert_eq!(m.closes.iter().sum::<u64>(), 1);
    assert_eq!((m.refused(426), m.refused_total()), (1, 1));
    assert_eq!(m.queued_bytes, 0);

    // The client's loop counts its side: no handshake accepted.
    let c = client_loop.handle().metrics();
    assert_eq!((c.connections_opened, c.connections_open), (1, 0));
    assert_eq!(c.handshakes_accepted, 0);
    assert_eq!((c.messages_out, c.bytes_out), (4, 1015));
    assert_eq!((c.messages_in, c.bytes_in), (4, 1015));
    assert_eq!(c.closes_with(1000), 1);
    // The server's loop counts what its server does.
    let l = server_loop.handle().metrics();
    assert_eq!(
        (l.messages_in, l.bytes_in, l.handshakes_accepted),
        (4, 1015, 1)
    );

    let text = echo.server.metrics_text();
    for line in [
        "wsx_connections_opened_total 1\n",
        "wsx_messages_received_total 4\n",
        "wsx_received_bytes_total 1015\n",
        "wsx_closes_total{code=\"1000\"} 1\n",
        "wsx_handshakes_refused_total{status=\"426\"} 1\n",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));

    let logged = CAPTURE.0.lock().unwrap().clone();
    let has = |needle: &str| logged.iter().any(|l| l.contains(needle));
    assert!(has("INFO wsx.conn connection"), "{logged:#?}");
    assert!(has(" opened from 127.0.0.1:"), "{logged:#?}");
    assert!(has(" opened to 127.0.0.1:"), "{logged:#?}");
    assert!(
        has("closed: code 1000 reason \"bye\" clean true"),
        "{logged:#?}"
    );
    assert!(
        has("wsx.server refused a handshake from 127.0.0.1:"),
        "{logged:#?}"
    );
}

#[test]
fn refusals_are_counted_by_status() {
    let lp = spawn_loop();
    for status in [401, 503, 418] {
        let echo = Echo::start_refusing(lp.handle(), server_config(), Some(status));
        for _ in 0..2 {
            let (recorder, events) = Recorder::new(false);
            let _conn = lp
                .handle()
                .connect(&echo.url(), client_config(), recorder)
                .expect("connect");
            assert_eq!(events.error().1, Some(status));
        }
        let m = settle(&echo.server, |m| m.refused_total() == 2);
        assert_eq!(m.refused(status), 2, "{status}");
        assert_eq!((m.refused_total(), m.connections_opened), (2, 0));
        if status == 418 {
            assert_eq!(m.handshakes_refused[m.handshakes_refused.len() - 1], 2);
        }
    }
}

#[test]
fn protocol_errors_and_keepalive_timeouts_are_counted_with_their_codes() {
    let lp = spawn_loop();
    let config = ServerConfig {
        keepalive: Some(Keepalive {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(100),
        }),
        ..server_config()
    };
    let echo = Echo::start(lp.handle(), config);
    // A client that never answers the pings: dropped, 1006.
    let silent = echo.raw_client();
    // An unmasked frame from a client: 1002.
    let mut bad = echo.raw_client();
    bad.write_all(&[0x81, 0x02, b'h', b'i']).expect("frame");
    drop(bad);
    let m = settle(&echo.server, |m| {
        m.closes_with(1002) == 1 && m.keepalive_timeouts == 1 && m.connections_open == 0
    });
    assert_eq!(m.protocol_errors, 1);
    assert_eq!(m.closes_with(1002), 1);
    assert_eq!(m.keepalive_timeouts, 1);
    assert_eq!(m.closes_with(1006), 1);
    assert_eq!(m.connections_open, 0);
    drop(silent);
}
