//! Reconnecting clients against servers that drop them on schedule: the
//! waits (read from `on_connecting`, with jitter off or bounded by the
//! ceilings), re-subscribing on open, which endings are retried, sends while
//! disconnected, stopping during a wait, and the handshake hooks (headers per
//! attempt, cookies set by the server's accept decision).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use crate::util::{PATIENCE, server_config, spawn_loop};
use wsx_core::net::{
    Attempt, Backoff, ClientConfig, Close, Conn, Ctx, Error, ErrorKind, Handler, Keepalive,
    LoopThread, Open, ReconnectPolicy, Refusal, ServerHandler, Upgrade,
};
use wsx_core::proto::handshake::accept_key;
use wsx_core::proto::{CloseCode, MessageKind};

/// What a reconnecting client saw.
#[derive(Debug, Clone, PartialEq)]
enum R {
    Connecting(u32, Duration),
    Before(u32),
    Open {
        reconnect: bool,
        cookie: Option<String>,
    },
    Message(String),
    Error(ErrorKind, Option<u16>),
    Disconnect(u16),
    SentWhileDown(Result<(), ErrorKind>),
    Close(u16),
}

/// A client that subscribes on every open, sends a token per attempt, and
/// optionally sends while disconnected.
struct Client {
    tx: Sender<R>,
    attempts: u32,
    send_while_down: Option<Vec<u8>>,
}

impl Handler for Client {
    fn on_connecting(&mut self, _conn: &Conn, attempt: u32, delay: Duration) {
        let _ = self.tx.send(R::Connecting(attempt, delay));
    }
    fn on_before_connect(&mut self, attempt: &mut Attempt<'_>) {
        self.attempts += 1;
        let token = format!("Bearer token-{}", self.attempts);
        attempt.headers.push(("Authorization".into(), token));
        let _ = self.tx.send(R::Before(self.attempts));
    }
    fn on_open(&mut self, ctx: &mut Ctx<'_>, open: &Open<'_>) {
        let cookie = open
            .response
            .and_then(|r| r.headers.get("set-cookie"))
            .map(str::to_owned);
        let _ = self.tx.send(R::Open {
            reconnect: open.reconnect,
            cookie,
        });
        ctx.send(MessageKind::Text, b"subscribe")
            .expect("subscribe");
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_>, _kind: MessageKind, data: &[u8], _fin: bool) {
        let text = String::from_utf8_lossy(data).into_owned();
        let _ = self.tx.send(R::Message(text));
    }
    fn on_error(&mut self, _conn: &Conn, error: &Error) {
        let _ = self.tx.send(R::Error(error.kind(), error.status()));
    }
    fn on_disconnect(&mut self, conn: &Conn, close: &Close<'_>) {
        let _ = self.tx.send(R::Disconnect(close.code.0));
        if let Some(data) = &self.send_while_down {
            let sent = conn.send(MessageKind::Text, data).map_err(|e| e.kind());
            let _ = self.tx.send(R::SentWhileDown(sent));
        }
    }
    fn on_close(&mut self, _conn: &Conn, close: &Close<'_>) {
        let _ = self.tx.send(R::Close(close.code.0));
    }
}

/// What the scheduled server saw.
#[derive(Debug, Clone, PartialEq)]
enum S {
    Upgrade {
        authorization: Option<String>,
        loopback: bool,
    },
    Message(usize, String),
}

/// A server whose first `drop_first` connections are closed with `code`
/// right after they subscribe. Every 101 carries a cookie.
struct Scheduled {
    tx: Sender<S>,
    count: Arc<AtomicUsize>,
    drop_first: usize,
    code: CloseCode,
    refuse: Option<u16>,
}

struct Subscriber {
    tx: Sender<S>,
    index: usize,
    drop: Option<CloseCode>,
}

impl ServerHandler for Scheduled {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let _ = self.tx.send(S::Upgrade {
            authorization: upgrade
                .request
                .headers
                .get("authorization")
                .map(str::to_owned),
            loopback: upgrade.peer_addr.ip().is_some_and(|a| a.ip().is_loopback()),
        });
        if let Some(status) = self.refuse {
            return Err(Refusal::new(status, "no").unwrap());
        }
        let index = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        upgrade
            .response_headers
            .push(("Set-Cookie".into(), format!("session={index}; HttpOnly")));
        Ok(Box::new(Subscriber {
            tx: self.tx.clone(),
            index,
            drop: (index <= self.drop_first).then_some(self.code),
        }))
    }
}

impl Handler for Subscriber {
    fn on_message(&mut self, ctx: &mut Ctx<'_>, _kind: MessageKind, data: &[u8], _fin: bool) {
        let text = String::from_utf8_lossy(data).into_owned();
        let _ = self.tx.send(S::Message(self.index, text.clone()));
        if text == "subscribe" {
            let reply = format!("subscribed {}", self.index);
            ctx.send(MessageKind::Text, reply.as_bytes())
                .expect("reply");
            if let Some(code) = self.drop {
                ctx.close(code, "scheduled drop").expect("close");
            }
        }
    }
}

struct Setup {
    lp: LoopThread,
    server_events: Receiver<S>,
    addr: SocketAddr,
}

fn scheduled(drop_first: usize, code: CloseCode, refuse: Option<u16>) -> Setup {
    let lp = spawn_loop();
    let (tx, server_events) = channel();
    let server = Scheduled {
        tx,
        count: Arc::new(AtomicUsize::new(0)),
        drop_first,
        code,
        refuse,
    };
    let server = lp
        .handle()
        .listen(server_config(), Box::new(server))
        .expect("listen");
    let addr = server.local_addr();
    Setup {
        lp,
        server_events,
        addr,
    }
}

fn policy(initial_ms: u64, max_ms: u64) -> ReconnectPolicy {
    ReconnectPolicy {
        initial_delay: Duration::from_millis(initial_ms),
        factor: 2.0,
        max_delay: Duration::from_millis(max_ms),
        reset_after: Duration::from_secs(3600),
        jitter: false,
        ..ReconnectPolicy::default()
    }
}

fn config(policy: ReconnectPolicy) -> ClientConfig {
    ClientConfig {
        keepalive: None,
        reconnect: Some(policy),
        ..ClientConfig::default()
    }
}

fn client(
    lp: &LoopThread,
    url: &str,
    config: ClientConfig,
    send_while_down: Option<&[u8]>,
) -> (Conn, Receiver<R>) {
    let (tx, rx) = channel();
    let handler = Client {
        tx,
        attempts: 0,
        send_while_down: send_while_down.map(<[u8]>::to_vec),
    };
    let conn = lp
        .handle()
        .connect(url, config, Box::new(handler))
        .expect("connect");
    (conn, rx)
}

fn next(rx: &Receiver<R>) -> R {
    rx.recv_timeout(PATIENCE).expect("a client event")
}

fn take(rx: &Receiver<R>, n: usize) -> Vec<R> {
    (0..n).map(|_| next(rx)).collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn opened(reconnect: bool, index: usize) -> R {
    R::Open {
        reconnect,
        cookie: Some(format!("session={index}; HttpOnly")),
    }
}

#[test]
fn reconnects_with_the_configured_delays_and_resubscribes() {
    let setup = scheduled(3, CloseCode::SERVICE_RESTART, None);
    let url = format!("ws://{}/feed", setup.addr);
    let (conn, rx) = client(&setup.lp, &url, config(policy(10, 40)), None);
    let mut expected = vec![
        R::Connecting(0, Duration::ZERO),
        R::Before(1),
        opened(false, 1),
        R::Message("subscribed 1".into()),
        R::Disconnect(1012),
    ];
    for (n, delay) in [(1u32, 10), (2, 20), (3, 40)] {
        expected.extend([
            R::Connecting(n, ms(delay)),
            R::Before(n + 1),
            opened(true, n as usize + 1),
            R::Message(format!("subscribed {}", n + 1)),
        ]);
        if n < 3 {
            expected.push(R::Disconnect(1012));
        }
    }
    assert_eq!(take(&rx, expected.len()), expected);

    // Each attempt carried its own token, and each connection re-subscribed.
    let seen: Vec<S> = (0..8)
        .map(|_| setup.server_events.recv_timeout(PATIENCE).expect("server"))
        .collect();
    let tokens: Vec<&S> = seen
        .iter()
        .filter(|s| matches!(s, S::Upgrade { .. }))
        .collect();
    for (i, s) in tokens.iter().enumerate() {
        let want = S::Upgrade {
            authorization: Some(format!("Bearer token-{}", i + 1)),
            loopback: true,
        };
        assert_eq!(**s, want);
    }
    assert_eq!(tokens.len(), 4);
    for index in 1..=4 {
        assert!(seen.contains(&S::Message(index, "subscribe".into())));
    }

    // A close the application asks for is final.
    conn.close(CloseCode::NORMAL, "bye").expect("close");
    assert_eq!(next(&rx), R::Close(1000));
    assert!(rx.recv_timeout(ms(200)).is_err(), "nothing after the close");
}

#[test]
fn gives_up_after_max_attempts_with_jittered_waits() {
    let lp = spawn_loop();
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let policy = ReconnectPolicy {
        jitter: true,
        max_attempts: Some(3),
        ..policy(8, 20)
    };
    let backoff = Backoff::new(policy.clone());
    let (_conn, rx) = client(
        &lp,
        &format!("ws://127.0.0.1:{port}/"),
        config(policy),
        None,
    );
    assert_eq!(
        take(&rx, 2),
        [R::Connecting(0, Duration::ZERO), R::Before(1)]
    );
    for attempt in 1..=3 {
        assert_eq!(next(&rx), R::Error(ErrorKind::Connect, None));
        assert_eq!(next(&rx), R::Disconnect(1006));
        let R::Connecting(n, delay) = next(&rx) else {
            panic!("expected the connecting event");
        };
        assert_eq!(n, attempt);
        assert!(delay <= backoff.ceiling(attempt), "{delay:?} at {attempt}");
        assert_eq!(next(&rx), R::Before(attempt + 1));
    }
    assert_eq!(next(&rx), R::Error(ErrorKind::Connect, None));
    assert_eq!(next(&rx), R::Close(1006));
    assert!(rx.recv_timeout(ms(200)).is_err(), "nothing after the close");
}

#[test]
fn a_4xx_refusal_stops_unless_configured() {
    let setup = scheduled(0, CloseCode::NORMAL, Some(403));
    let url = format!("ws://{}/", setup.addr);
    let (_conn, rx) = client(&setup.lp, &url, config(policy(1, 1)), None);
    assert_eq!(
        take(&rx, 4),
        [
            R::Connecting(0, Duration::ZERO),
            R::Before(1),
            R::Error(ErrorKind::Handshake, Some(403)),
            R::Close(1006)
        ]
    );

    let lenient = ReconnectPolicy {
        retry_on_4xx: true,
        max_attempts: Some(1),
        ..policy(1, 1)
    };
    let (_conn, rx) = client(&setup.lp, &url, config(lenient), None);
    assert_eq!(
        take(&rx, 8),
        [
            R::Connecting(0, Duration::ZERO),
            R::Before(1),
            R::Error(ErrorKind::Handshake, Some(403)),
            R::Disconnect(1006),
            R::Connecting(1, ms(1)),
            R::Before(2),
            R::Error(ErrorKind::Handshake, Some(403)),
            R::Close(1006)
        ]
    );
}

#[test]
fn normal_and_protocol_closes_are_not_retried() {
    for code in [CloseCode::NORMAL, CloseCode(4000)] {
        let setup = scheduled(1, code, None);
        let url = format!("ws://{}/", setup.addr);
        let (_conn, rx) = client(&setup.lp, &url, config(policy(1, 1)), None);
        let events = take(&rx, 5);
        assert_eq!(events[4], R::Close(code.0), "{events:?}");
        assert!(
            rx.recv_timeout(ms(200)).is_err(),
            "no reconnect after {}",
            code.0
        );
    }
}

#[test]
fn going_away_is_retried_unless_left_out_of_the_codes() {
    // A server's graceful shutdown or restart (1001) is retried by default...
    let setup = scheduled(1, CloseCode::GOING_AWAY, None);
    let url = format!("ws://{}/", setup.addr);
    let (conn, rx) = client(&setup.lp, &url, config(policy(1, 1)), None);
    let events = take(&rx, 6);
    assert_eq!(events[4], R::Disconnect(1001), "{events:?}");
    assert_eq!(events[5], R::Connecting(1, ms(1)), "{events:?}");
    conn.close(CloseCode::NORMAL, "").expect("close");

    // ...and ends the client when the policy's codes leave it out.
    let setup = scheduled(1, CloseCode::GOING_AWAY, None);
    let url = format!("ws://{}/", setup.addr);
    let restart_only = ReconnectPolicy {
        retry_codes: vec![1012],
        ..policy(1, 1)
    };
    let (_conn, rx) = client(&setup.lp, &url, config(restart_only), None);
    let events = take(&rx, 5);
    assert_eq!(events[4], R::Close(1001), "{events:?}");
    assert!(rx.recv_timeout(ms(200)).is_err(), "no reconnect after 1001");
}

#[test]
fn sends_while_disconnected_are_refused_or_queued() {
    // Refused by default.
    let setup = scheduled(1, CloseCode::TRY_AGAIN_LATER, None);
    let url = format!("ws://{}/", setup.addr);
    let (conn, rx) = client(&setup.lp, &url, config(policy(1, 1)), Some(b"hello"));
    let events = take(&rx, 6);
    assert_eq!(events[4], R::Disconnect(1013));
    assert_eq!(events[5], R::SentWhileDown(Err(ErrorKind::NotConnected)));
    assert_eq!(next(&rx), R::Connecting(1, ms(1)));
    conn.close(CloseCode::NORMAL, "").expect("close");

    // Queued up to the bound, and sent once the next connection opens.
    let setup = scheduled(1, CloseCode::TRY_AGAIN_LATER, None);
    let url = format!("ws://{}/", setup.addr);
    let queueing = ReconnectPolicy {
        queue_while_disconnected: 64,
        ..policy(1, 1)
    };
    let (_conn, rx) = client(&setup.lp, &url, config(queueing.clone()), Some(b"hello"));
    let events = take(&rx, 6);
    assert_eq!(events[5], R::SentWhileDown(Ok(())));
    let queued =
        (0..10).find_map(
            |_| match setup.server_events.recv_timeout(PATIENCE).expect("server") {
                S::Message(2, text) if text != "subscribe" => Some(text),
                _ => None,
            },
        );
    assert_eq!(queued.as_deref(), Some("hello"));

    let setup = scheduled(1, CloseCode::TRY_AGAIN_LATER, None);
    let url = format!("ws://{}/", setup.addr);
    let (_conn, rx) = client(&setup.lp, &url, config(queueing), Some(&[b'x'; 65]));
    let events = take(&rx, 6);
    assert_eq!(events[5], R::SentWhileDown(Err(ErrorKind::NotConnected)));
}

/// A client waiting an hour to reconnect, and its events so far.
fn waiting_client(setup: &Setup) -> (Conn, Receiver<R>) {
    let url = format!("ws://{}/", setup.addr);
    let (conn, rx) = client(&setup.lp, &url, config(policy(3_600_000, 3_600_000)), None);
    let events = take(&rx, 6);
    assert_eq!(events[4], R::Disconnect(1012));
    assert_eq!(events[5], R::Connecting(1, Duration::from_secs(3600)));
    (conn, rx)
}

#[test]
fn close_during_the_wait_ends_the_client_at_once() {
    let setup = scheduled(1, CloseCode::SERVICE_RESTART, None);
    let (conn, rx) = waiting_client(&setup);
    conn.close(CloseCode::NORMAL, "").expect("close");
    assert_eq!(next(&rx), R::Close(1006));
    assert!(rx.recv_timeout(ms(200)).is_err(), "nothing after the close");
}

#[test]
fn stopping_the_loop_during_the_wait_returns_promptly() {
    let setup = scheduled(1, CloseCode::SERVICE_RESTART, None);
    let (_conn, rx) = waiting_client(&setup);
    let Setup { lp, .. } = setup;
    let (done_tx, done) = channel();
    std::thread::spawn(move || {
        drop(lp);
        let _ = done_tx.send(());
    });
    done.recv_timeout(PATIENCE)
        .expect("the loop stops without waiting out the hour");
    assert_eq!(next(&rx), R::Close(1006));
}

/// A server that completes WebSocket handshakes and then never answers:
/// keepalive pings go unanswered. Its thread lives as long as the test
/// process, holding every connection.
fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read_exact(&mut byte).is_ok() {
                head.push(byte[0]);
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            let key = text
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap_or_default();
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(key.trim())
            );
            let _ = stream.write_all(response.as_bytes());
            held.push(stream);
        }
    });
    addr
}

#[test]
fn a_keepalive_timeout_reconnects() {
    let lp = spawn_loop();
    let addr = silent_server();
    let config = ClientConfig {
        keepalive: Some(Keepalive {
            interval: ms(20),
            timeout: ms(20),
        }),
        // The silent server never answers the close either.
        close_timeout: ms(50),
        ..config(policy(1, 1))
    };
    let (conn, rx) = client(&lp, &format!("ws://{addr}/"), config, None);
    let open = R::Open {
        reconnect: false,
        cookie: None,
    };
    assert_eq!(take(&rx, 3)[2], open);
    assert_eq!(next(&rx), R::Error(ErrorKind::Timeout, None));
    assert_eq!(next(&rx), R::Disconnect(1006));
    assert_eq!(next(&rx), R::Connecting(1, ms(1)));
    assert_eq!(next(&rx), R::Before(2));
    let reopened = R::Open {
        reconnect: true,
        cookie: None,
    };
    assert_eq!(next(&rx), reopened);
    conn.close(CloseCode::NORMAL, "").expect("close");
    // A keepalive timeout may still come first; the close follows anyway.
    let last = (0..10)
        .map(|_| next(&rx))
        .find(|r| matches!(r, R::Close(_)));
    assert!(last.is_some(), "the client closes for good");
}

#[test]
fn without_a_policy_one_close_ends_the_client() {
    let setup = scheduled(1, CloseCode::SERVICE_RESTART, None);
    let url = format!("ws://{}/", setup.addr);
    let config = ClientConfig {
        keepalive: None,
        ..ClientConfig::default()
    };
    let (conn, rx) = client(&setup.lp, &url, config, None);
    assert_eq!(
        take(&rx, 5),
        [
            R::Connecting(0, Duration::ZERO),
            R::Before(1),
            opened(false, 1),
            R::Message("subscribed 1".into()),
            R::Close(1012)
        ]
    );
    let refused = conn.send(MessageKind::Text, b"late").unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Closed);
}
