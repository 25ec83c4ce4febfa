//! Decisions taken off the loop's thread: a server's accept or refusal, and
//! a client's before-connect hook, completed later from another thread while
//! the loop goes on serving everyone else, within the handshake or connect
//! timeout.

use std::sync::mpsc::{Sender, channel};
use std::time::Duration;

use crate::util::*;
use wsx_core::net::{
    Attempt, ClientConfig, Conn, ErrorKind, Handler, PendingAttempt, PendingUpgrade, Refusal,
    ServerConfig, ServerHandler, Upgrade,
};
use wsx_core::proto::MessageKind;

/// A server that postpones every decision and hands it to the test; its
/// connections echo.
struct Deferring {
    pending: Sender<PendingUpgrade>,
    conns: Sender<Ev>,
}

impl ServerHandler for Deferring {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let _ = self.pending.send(upgrade.defer());
        Ok(Box::new(Recorder {
            tx: self.conns.clone(),
            echo: true,
        }))
    }
}

fn deferring_server(
    lp: &wsx_core::net::LoopThread,
    config: ServerConfig,
) -> (String, std::sync::mpsc::Receiver<PendingUpgrade>) {
    let (pending, rx) = channel();
    let (conns, _) = channel();
    let server = lp
        .handle()
        .listen(config, Box::new(Deferring { pending, conns }))
        .expect("listen");
    // The server handle may drop: the loop keeps the server.
    (format!("ws://{}/", server.local_addr()), rx)
}

/// A client of a deferring server (with `config`) whose upgrade waits; the
/// pending decision and the client's events.
fn pending_upgrade(
    lp: &wsx_core::net::LoopThread,
    config: ServerConfig,
) -> (PendingUpgrade, Events) {
    let (url, decisions) = deferring_server(lp, config);
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect(&url, client_config(), recorder)
        .expect("connect");
    let pending = decisions.recv_timeout(PATIENCE).expect("the upgrade");
    (pending, events)
}

#[test]
fn an_upgrade_accepted_later_from_another_thread_stalls_no_one() {
    let lp = spawn_loop();
    let (url, decisions) = deferring_server(&lp, server_config());
    let echo = Echo::start(lp.handle(), server_config());
    let (busy, busy_events) = connect(lp.handle(), &echo.url(), client_config());

    let (recorder, waiting) = Recorder::new(false);
    let late = lp
        .handle()
        .connect(&url, client_config(), recorder)
        .expect("connect");
    let pending = decisions.recv_timeout(PATIENCE).expect("the upgrade");
    let decider = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        pending.accept()
    });
    // Meanwhile the other connection on the same loop keeps echoing.
    let mut echoed = 0;
    while !decider.is_finished() {
        busy.send(MessageKind::Text, b"ping").expect("send");
        busy_events.message();
        echoed += 1;
    }
    decider.join().expect("decider").expect("accepted in time");
    assert!(
        echoed >= 5,
        "only {echoed} echoes while the decision was pending: the loop stalled"
    );
    waiting.open();
    late.send(MessageKind::Binary, b"after").expect("send");
    assert_eq!(waiting.message().1, b"after");
}

#[test]
fn an_upgrade_refused_later_reaches_the_client_as_its_status() {
    let lp = spawn_loop();
    let (pending, events) = pending_upgrade(&lp, server_config());
    std::thread::spawn(move || {
        let refusal = Refusal::new(401, "who are you")
            .and_then(|r| r.with_header("WWW-Authenticate", "Bearer"))
            .expect("a valid refusal");
        pending.refuse(refusal)
    })
    .join()
    .expect("decider")
    .expect("refused in time");
    let (kind, status, _) = events.error();
    assert_eq!((kind, status), (ErrorKind::Handshake, Some(401)));
}

#[test]
fn a_decision_after_the_handshake_timeout_is_a_clear_error() {
    let lp = spawn_loop();
    let config = ServerConfig {
        handshake_timeout: Duration::from_millis(100),
        ..server_config()
    };
    let (pending, events) = pending_upgrade(&lp, config);
    // The server drops the connection at its timeout; the client sees it end.
    let (code, _, clean) = events.close();
    assert_eq!((code, clean), (1006, false));
    std::thread::sleep(Duration::from_millis(50));
    let late = pending.accept().expect_err("too late");
    assert_eq!(late.kind(), ErrorKind::Closed);
    assert!(late.to_string().contains("too late"), "{late}");
}

#[test]
fn an_undecided_upgrade_dropped_is_refused_with_500() {
    let lp = spawn_loop();
    let (pending, events) = pending_upgrade(&lp, server_config());
    drop(pending);
    let (_, status, _) = events.error();
    assert_eq!(status, Some(500));
}

/// A client whose before-connect hook postpones each attempt.
struct LateHeaders {
    pending: Sender<(u32, PendingAttempt)>,
    inner: Recorder,
}

impl Handler for LateHeaders {
    fn on_before_connect(&mut self, attempt: &mut Attempt<'_>) {
        let number = attempt.number();
        let _ = self.pending.send((number, attempt.defer()));
    }
    fn on_open(&mut self, ctx: &mut wsx_core::net::Ctx<'_>, open: &wsx_core::net::Open<'_>) {
        self.inner.on_open(ctx, open);
    }
    fn on_error(&mut self, conn: &Conn, error: &wsx_core::net::Error) {
        self.inner.on_error(conn, error);
    }
    fn on_close(&mut self, conn: &Conn, close: &wsx_core::net::Close<'_>) {
        self.inner.on_close(conn, close);
    }
}

/// Connects a [`LateHeaders`] client to `url`; its first pending attempt
/// and its events.
fn late_client(
    lp: &wsx_core::net::LoopThread,
    url: &str,
    config: ClientConfig,
) -> (u32, PendingAttempt, Events) {
    let (pending_tx, pending) = channel();
    let (recorder, events) = Recorder::new(false);
    let handler = LateHeaders {
        pending: pending_tx,
        inner: *recorder,
    };
    lp.handle()
        .connect(url, config, Box::new(handler))
        .expect("connect");
    let (number, attempt) = pending.recv_timeout(PATIENCE).expect("the attempt");
    (number, attempt, events)
}

#[test]
fn a_client_attempt_proceeds_later_with_the_headers_chosen_elsewhere() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (number, attempt, events) = late_client(&lp, &echo.url(), client_config());
    assert_eq!(number, 0);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        attempt.proceed(Some(vec![("Authorization".into(), "Bearer late".into())]))
    })
    .join()
    .expect("thread")
    .expect("proceeded in time");
    events.open();
    let ServerEv::Upgrade { headers, .. } = echo.next_event() else {
        panic!("expected the upgrade");
    };
    assert!(
        headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == "Bearer late"),
        "{headers:?}"
    );
}

#[test]
fn a_client_attempt_never_released_ends_at_the_connect_timeout() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let config = ClientConfig {
        connect_timeout: Duration::from_millis(100),
        ..client_config()
    };
    let (_, attempt, events) = late_client(&lp, &echo.url(), config);
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Timeout, "{message}");
    assert!(message.contains("before-connect"), "{message}");
    events.close();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        attempt.proceed(None).expect_err("too late").kind(),
        ErrorKind::Closed
    );
}

/// A server that answers plain HTTP requests itself: `/healthz` with a 200
/// (right away or, for `/later`, from another thread), anything else it
/// lets through undecided, which must still get the core's 426.
struct HealthCheck {
    seen: Sender<(String, bool)>,
}

impl ServerHandler for HealthCheck {
    fn answers_plain_http(&self) -> bool {
        true
    }

    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let path = upgrade.request.path.clone();
        let _ = self.seen.send((path.clone(), upgrade.is_plain_http()));
        let ok = || {
            Refusal::response(
                200,
                vec![("Content-Type".into(), "application/json".into())],
                b"{\"ok\":true}".to_vec(),
            )
            .expect("a valid response")
        };
        let (recorder, _) = Recorder::new(true);
        match path.as_str() {
            "/healthz" => Err(ok()),
            "/later" => {
                let pending = upgrade.defer();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    pending.refuse(ok()).expect("in time");
                });
                Ok(recorder)
            }
            "/accepted-later" => {
                let pending = upgrade.defer();
                std::thread::spawn(move || pending.accept().expect("in time"));
                Ok(recorder)
            }
            _ => Ok(recorder),
        }
    }
}

/// What a server answers a raw HTTP/1.1 GET of `path` (the whole response:
/// the server closes after it).
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(addr).expect("tcp connect");
    tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
    write!(tcp, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("write");
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).expect("read the answer");
    answer
}

#[test]
fn a_server_that_answers_plain_http_serves_a_health_check_and_websocket_alike() {
    let lp = spawn_loop();
    let (seen, requests) = channel();
    let server = lp
        .handle()
        .listen(server_config(), Box::new(HealthCheck { seen }))
        .expect("listen");
    let addr = server.local_addr();

    let now = http_get(addr, "/healthz");
    assert!(now.starts_with("HTTP/1.1 200 OK\r\n"), "{now}");
    assert!(
        now.contains("\r\nContent-Type: application/json\r\n"),
        "{now}"
    );
    assert!(now.ends_with("\r\n\r\n{\"ok\":true}"), "{now}");
    assert_eq!(requests.recv().unwrap(), ("/healthz".into(), true));

    let later = http_get(addr, "/later");
    assert!(later.starts_with("HTTP/1.1 200 OK\r\n"), "{later}");
    assert_eq!(requests.recv().unwrap(), ("/later".into(), true));

    // Not answered, now or later: the core's 426, as without the hook.
    for path in ["/other", "/accepted-later"] {
        let answer = http_get(addr, path);
        assert!(
            answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains("\r\nSec-WebSocket-Version: 13\r\n"),
            "{answer}"
        );
        assert_eq!(requests.recv().unwrap(), (path.to_owned(), true));
    }

    // A WebSocket client of the same server is still upgraded.
    let (conn, events) = connect(lp.handle(), &format!("ws://{addr}/ws"), client_config());
    assert_eq!(requests.recv().unwrap(), ("/ws".into(), false));
    conn.send(MessageKind::Text, b"hi").expect("send");
    assert_eq!(events.message().1, b"hi");
}

#[test]
fn a_server_that_does_not_answer_plain_http_never_sees_it() {
    let lp = spawn_loop();
    let (url, decisions) = deferring_server(&lp, server_config());
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .parse()
        .expect("address");
    let answer = http_get(addr, "/healthz");
    assert!(
        answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{answer}"
    );
    assert!(
        decisions.try_recv().is_err(),
        "the handler saw a plain request"
    );
}

#[test]
fn frames_that_arrive_while_an_upgrade_is_pending_are_read_once_it_is_accepted() {
    use std::io::{Read, Write};
    let lp = spawn_loop();
    let (url, decisions) = deferring_server(&lp, server_config());
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let mut tcp = std::net::TcpStream::connect(addr).expect("tcp connect");
    tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
    tcp.write_all(UPGRADE_REQUEST).expect("request");
    let pending = decisions.recv_timeout(PATIENCE).expect("the upgrade");
    // A masked text frame "hi" (mask key 0), sent before any 101: the
    // server holds its reads while it decides, so it stays in the socket.
    tcp.write_all(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i'])
        .expect("frame");
    std::thread::sleep(Duration::from_millis(50));
    pending.accept().expect("accepted in time");
    let echo = [0x81, 0x02, b'h', b'i'];
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.ends_with(&echo) {
        let n = tcp.read(&mut buf).expect("the 101 and the echo");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 101 "), "{got:?}");
}
