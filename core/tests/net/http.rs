//! HTTP on the WebSocket port, over real sockets on 127.0.0.1 and ::1: each
//! malformed request gets its HTTP error before the connection closes (even
//! with unread bytes behind it), and a server that answers plain HTTP itself
//! sends any status, headers and body, at once or after a deferred decision.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{Sender, channel};

use crate::util::*;
use wsx_core::net::{Handler, Refusal, ServerConfig, ServerHandler, Upgrade};

/// Sends `request` and reads the whole answer until the server closes.
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).expect("tcp");
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    // The server may answer (and shut its side) before all of it is sent.
    let _ = tcp.write_all(request);
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer)
        .expect("the answer, then the end");
    String::from_utf8_lossy(&answer).into_owned()
}

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

fn malformed() -> Vec<(String, u16, &'static str)> {
    vec![
        ("GARBAGE\r\n\r\n".into(), 400, ""),
        (
            format!(
                "POST /chat HTTP/1.1\r\nHost: a\r\n{UPGRADE}Content-Length: 100000\r\n\r\n{}",
                "x".repeat(100_000)
            ),
            405,
            "\r\nAllow: GET\r\n",
        ),
        (
            format!(
                "GET /{} HTTP/1.1\r\nHost: a\r\n{UPGRADE}\r\n",
                "a".repeat(10_000)
            ),
            414,
            "",
        ),
        (
            format!(
                "GET / HTTP/1.1\r\nHost: a\r\n{UPGRADE}Cookie: {}\r\n\r\n",
                "c".repeat(10_000)
            ),
            431,
            "",
        ),
        (
            format!("GET / HTTP/1.0\r\nHost: a\r\n{UPGRADE}\r\n"),
            505,
            "",
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n".into(),
            426,
            "\r\nUpgrade: websocket\r\n",
        ),
    ]
}

#[test]
fn every_malformed_request_gets_its_http_error_on_v4_and_v6() {
    let lp = spawn_loop();
    for host in ["127.0.0.1", "::1"] {
        let config = ServerConfig {
            host: host.into(),
            ..server_config()
        };
        if host == "::1" && std::net::TcpListener::bind("[::1]:0").is_err() {
            eprintln!("no IPv6 here: skipped");
            continue;
        }
        let echo = Echo::start(lp.handle(), config);
        for (request, status, header) in malformed() {
            let answer = exchange(echo.server.local_addr(), request.as_bytes());
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status} ")),
                "{host} {status}: {answer}"
            );
            assert!(answer.contains(header), "{answer}");
            assert!(answer.contains("\r\nConnection: "), "{answer}");
            // Reported to the server, never reaching its application.
            match echo.next_event() {
                ServerEv::Error(_, Some(s), _) => assert_eq!(s, status),
                other => panic!("expected the refusal report, got {other:?}"),
            }
        }
    }
}

/// Answers plain HTTP by path; refuses `/ws-private` with 401; accepts the rest.
struct Site(Sender<Option<wsx_core::net::PendingUpgrade>>);

impl ServerHandler for Site {
    fn answers_plain_http(&self) -> bool {
        true
    }
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let path = upgrade.request.path_only().to_owned();
        let plain = upgrade.is_plain_http();
        let html = ("Content-Type".to_owned(), "text/html".to_owned());
        match (plain, path.as_str()) {
            (true, "/healthz") => Err(Refusal::response(200, vec![], b"ok\n".to_vec()).unwrap()),
            (true, "/old") => {
                Err(
                    Refusal::response(301, vec![("Location".into(), "/new".into())], vec![])
                        .unwrap(),
                )
            }
            (true, "/") => {
                Err(Refusal::response(200, vec![html], b"<h1>wsx</h1>".to_vec()).unwrap())
            }
            (true, "/later") => {
                let _ = self.0.send(Some(upgrade.defer()));
                Ok(Box::new(Recorder {
                    tx: channel().0,
                    echo: true,
                }))
            }
            (_, "/private") => Err(Refusal::new(401, "who are you?")
                .unwrap()
                .with_header("WWW-Authenticate", "Basic realm=\"wsx\"")
                .unwrap()),
            // Plain HTTP elsewhere: accepting it lets the core's 426 answer.
            _ => Ok(Box::new(Recorder {
                tx: channel().0,
                echo: true,
            })),
        }
    }
}

#[test]
fn the_upgrade_decision_answers_plain_http() {
    let lp = spawn_loop();
    let (tx, pending) = channel();
    let server = lp
        .handle()
        .listen(server_config(), Box::new(Site(tx)))
        .expect("listen");
    let addr = server.local_addr();
    let get = move |path: &str| {
        exchange(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
        )
    };

    let health = get("/healthz");
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(health.contains("\r\nContent-Length: 3\r\n"), "{health}");
    assert!(health.ends_with("\r\n\r\nok\n"), "{health}");
    let moved = get("/old");
    assert!(
        moved.starts_with("HTTP/1.1 301 Moved Permanently\r\n"),
        "{moved}"
    );
    assert!(moved.contains("\r\nLocation: /new\r\n"), "{moved}");
    let page = get("/");
    assert!(page.contains("\r\nContent-Type: text/html\r\n"), "{page}");
    assert!(page.ends_with("<h1>wsx</h1>"), "{page}");
    let private = get("/private");
    assert!(
        private.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{private}"
    );
    assert!(
        private.contains("\r\nWWW-Authenticate: Basic realm=\"wsx\"\r\n"),
        "{private}"
    );
    let other = get("/elsewhere");
    assert!(other.starts_with("HTTP/1.1 426 "), "{other}");

    // Deferred: answered from another thread.
    let waiter = std::thread::spawn(move || get("/later"));
    let decision = pending.recv_timeout(PATIENCE).unwrap().unwrap();
    decision
        .refuse(
            Refusal::response(302, vec![("Location".into(), "/healthz".into())], vec![]).unwrap(),
        )
        .unwrap();
    let later = waiter.join().unwrap();
    assert!(later.starts_with("HTTP/1.1 302 Found\r\n"), "{later}");
    assert!(later.contains("\r\nLocation: /healthz\r\n"), "{later}");

    // A WebSocket client is still served.
    let (conn, events) = connect(lp.handle(), &format!("ws://{addr}/chat"), client_config());
    conn.send(wsx_core::proto::MessageKind::Text, b"hello")
        .unwrap();
    assert_eq!(events.message().1, b"hello");
}
