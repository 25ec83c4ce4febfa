//! Unix domain sockets: a server on a path, clients by `ws+unix:` URL (as
//! Node's ws writes them) and by option, TLS over the socket, the peer
//! addresses each side reports, the socket file removed at close, and a file
//! already at the path refused (or, asked to, a stale socket removed).
//! (A module of the net_echo test program: no binary of its own to link.)

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::time::Duration;

use crate::util::pki::Pki;
use crate::util::*;
use wsx_core::net::{
    ClientConfig, ErrorKind, Handler, PeerAddr, ProxyConfig, Refusal, ServerConfig, ServerHandler,
    Upgrade,
};
use wsx_core::proto::{CloseCode, MessageKind};

/// A server handler that reports each request's peer address, path and
/// `Host` header, and echoes.
struct Peers(Sender<(PeerAddr, String, Option<String>)>);

impl ServerHandler for Peers {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let host = upgrade.request.headers.get("host").map(str::to_owned);
        let _ = self.0.send((
            upgrade.peer_addr.clone(),
            upgrade.request.path.clone(),
            host,
        ));
        Ok(Recorder::new(true).0)
    }
}

fn unix_server(path: &Path) -> ServerConfig {
    ServerConfig {
        unix_socket_path: Some(path.to_owned()),
        ..server_config()
    }
}

fn echo_once(conn: &wsx_core::net::Conn, events: &Events, text: &[u8]) {
    conn.send(MessageKind::Text, text).expect("send");
    assert_eq!(events.message(), (MessageKind::Text, text.to_vec()));
}

#[test]
fn echo_by_ws_unix_url_and_by_option_with_each_side_s_peer() {
    let pki = Pki::new();
    let path = pki.dir.join("echo.sock");
    let lp = spawn_loop();
    let (tx, requests) = channel();
    let server = lp
        .handle()
        .listen(unix_server(&path), Box::new(Peers(tx)))
        .expect("listen");
    assert_eq!(server.unix_socket_path(), Some(path.as_path()));
    assert_eq!(
        server.local_addr().port(),
        0,
        "no IP address on a Unix socket"
    );

    // Node's spelling: the socket, a colon, the resource; Host is localhost.
    let url = format!("ws+unix://{}:/chat?room=1", path.display());
    let (conn, events) = connect(lp.handle(), &url, client_config());
    let (peer, resource, host) = requests.recv_timeout(PATIENCE).expect("request");
    assert_eq!(peer, PeerAddr::Unix(None), "a client's socket is unnamed");
    assert_eq!(peer.to_string(), "unix:");
    assert_eq!(resource, "/chat?room=1");
    assert_eq!(host.as_deref(), Some("localhost"));
    assert_eq!(conn.peer_addr(), Some(PeerAddr::Unix(Some(path.clone()))));
    echo_once(&conn, &events, b"by url");

    // The option with an ordinary URL: its host goes in the Host header.
    let config = ClientConfig {
        unix_socket_path: Some(path.clone()),
        ..client_config()
    };
    let (conn2, events2) = connect(lp.handle(), "ws://app.example:8080/opt", config);
    let (_, resource, host) = requests.recv_timeout(PATIENCE).expect("request");
    assert_eq!(resource, "/opt");
    assert_eq!(host.as_deref(), Some("app.example:8080"));
    echo_once(&conn2, &events2, b"by option");

    for (conn, events) in [(conn, events), (conn2, events2)] {
        conn.close(CloseCode::NORMAL, "").expect("close");
        assert!(events.close().2, "clean close over a Unix socket");
    }
}

#[test]
fn wss_over_a_unix_socket_verifies_the_url_s_host() {
    let pki = Pki::new();
    let path = pki.dir.join("tls.sock");
    let lp = spawn_loop();
    let config = ServerConfig {
        unix_socket_path: Some(path.clone()),
        ..pki.server_config()
    };
    let _echo = Echo::start(lp.handle(), config);
    let url = format!("wss+unix://{}:/secure", path.display());
    let (conn, events) = connect(lp.handle(), &url, pki.trusting_client());
    echo_once(&conn, &events, &[7; 100_000]);
    conn.close(CloseCode::NORMAL, "").expect("close");
    assert!(events.close().2);

    // The certificate names localhost only.
    let (recorder, events) = Recorder::new(false);
    let config = ClientConfig {
        unix_socket_path: Some(path.clone()),
        ..pki.trusting_client()
    };
    lp.handle()
        .connect("wss://other.example/", config, recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Tls, "{message}");
}

#[test]
fn the_socket_file_goes_when_the_server_closes() {
    let pki = Pki::new();
    let path = pki.dir.join("gone.sock");
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), unix_server(&path));
    assert!(path.exists());
    echo.server.shutdown(Duration::from_secs(5));
    assert!(matches!(echo.next_event(), ServerEv::Shutdown));
    assert!(!path.exists(), "the socket file is removed at close");
}

/// A socket file nobody accepts on, as a crashed server leaves it.
fn stale_socket(path: &Path) {
    drop(std::os::unix::net::UnixListener::bind(path).expect("bind"));
    assert!(path.exists());
}

fn listen_error(lp: &wsx_core::net::LoopThread, config: ServerConfig) -> String {
    let error = lp
        .handle()
        .listen(config, Box::new(Peers(channel().0)))
        .err()
        .expect("refused");
    assert_eq!(error.kind(), ErrorKind::Io, "{error}");
    error.to_string()
}

#[test]
fn a_file_in_the_way_is_refused_and_only_a_stale_socket_removed_on_request() {
    let pki = Pki::new();
    let lp = spawn_loop();

    let stale = pki.dir.join("stale.sock");
    stale_socket(&stale);
    let message = listen_error(&lp, unix_server(&stale));
    assert!(message.contains("stale socket file"), "{message}");
    assert!(
        message.contains(&format!("unix:{}", stale.display())),
        "{message}"
    );
    let config = ServerConfig {
        remove_stale_socket: true,
        ..unix_server(&stale)
    };
    let echo = Echo::start(lp.handle(), config);
    let url = format!("ws+unix://{}", stale.display());
    let (conn, events) = connect(lp.handle(), &url, client_config());
    echo_once(&conn, &events, b"after the stale one");

    // A live server's socket is never taken over.
    let config = ServerConfig {
        remove_stale_socket: true,
        ..unix_server(&stale)
    };
    let message = listen_error(&lp, config);
    assert!(message.contains("another server is listening"), "{message}");
    echo_once(&conn, &events, b"still served");
    drop(echo);

    // Nor is a file that is not a socket.
    let plain: PathBuf = pki.dir.join("plain.txt");
    std::fs::write(&plain, "keep me").expect("write");
    let config = ServerConfig {
        remove_stale_socket: true,
        ..unix_server(&plain)
    };
    let message = listen_error(&lp, config);
    assert!(message.contains("not a socket"), "{message}");
    assert_eq!(std::fs::read_to_string(&plain).expect("kept"), "keep me");
}

#[test]
fn bad_targets_fail_clearly() {
    let pki = Pki::new();
    let lp = spawn_loop();
    let missing = pki.dir.join("missing.sock");
    let (recorder, events) = Recorder::new(false);
    let url = format!("ws+unix://{}:/", missing.display());
    lp.handle()
        .connect(&url, client_config(), recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Connect, "{message}");
    assert!(
        message.contains(&format!("unix:{}", missing.display())),
        "{message}"
    );

    let refused = |url: &str, config: ClientConfig| {
        let error = lp
            .handle()
            .connect(url, config, Recorder::new(false).0)
            .expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
        error.to_string()
    };
    let both = ClientConfig {
        unix_socket_path: Some(missing.clone()),
        ..client_config()
    };
    assert!(refused(&url, both).contains("give one"));
    let proxied = ClientConfig {
        unix_socket_path: Some(missing.clone()),
        proxy: Some(ProxyConfig::parse("http://127.0.0.1:3128").expect("proxy")),
        ..client_config()
    };
    assert!(refused("ws://localhost/", proxied).contains("proxy cannot be combined"));
    assert!(refused("ws+unix://", client_config()).contains("socket path"));
}
