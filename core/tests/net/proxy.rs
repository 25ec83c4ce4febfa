//! Clients through proxies written here: HTTP CONNECT over TCP and over TLS,
//! and SOCKS5, with and without credentials, to `ws://` and `wss://`
//! targets (whose certificates are checked through the tunnel), and the
//! failures of each hop. The environment variables are tried in a child
//! process so this one's environment stays untouched.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use crate::util::pki::Pki;
use crate::util::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::PrivateKeyDer;
use wsx_core::net::{ClientConfig, ErrorKind, LoopThread, ProxyConfig};
use wsx_core::proto::MessageKind;

/// A client trusting `pki`'s CA, through `proxy` (a proxy URL).
fn through(pki: &Pki, proxy: &str) -> ClientConfig {
    ClientConfig {
        proxy: Some(ProxyConfig::parse(proxy).expect("proxy URL")),
        ..pki.trusting_client()
    }
}

/// A TLS proxy's server side, on `pki`'s certificate.
fn proxy_tls(pki: &Pki) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(pki.key.clone().into());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![pki.cert.clone()], key)
        .expect("proxy certificate");
    Arc::new(config)
}

/// What a test proxy was asked for.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Connect {
        target: String,
        authorization: Option<String>,
    },
    Socks {
        address_type: u8,
        target: String,
    },
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Connect,
    Socks5,
}

/// A test proxy on 127.0.0.1 and what it was asked for.
struct Proxy {
    addr: SocketAddr,
    seen: Receiver<Seen>,
}

impl Proxy {
    fn start(
        kind: Kind,
        credentials: Option<(&str, &str)>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, seen) = channel();
        let credentials = credentials.map(|(u, p)| (u.to_owned(), p.to_owned()));
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { return };
                let (tx, credentials, tls) = (tx.clone(), credentials.clone(), tls.clone());
                std::thread::spawn(move || serve(kind, tcp, credentials, tls, tx));
            }
        });
        Proxy { addr, seen }
    }

    fn next(&self) -> Seen {
        self.seen
            .recv_timeout(PATIENCE)
            .expect("the proxy was asked")
    }
}

fn serve(
    kind: Kind,
    tcp: TcpStream,
    credentials: Option<(String, String)>,
    tls: Option<Arc<rustls::ServerConfig>>,
    seen: Sender<Seen>,
) {
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(5)));
    match (kind, tls) {
        (Kind::Connect, Some(tls)) => {
            let session = rustls::ServerConnection::new(tls).expect("TLS session");
            let stream = rustls::StreamOwned::new(session, tcp);
            if let Some((stream, upstream)) = http_connect(stream, &credentials, &seen) {
                pump(stream, upstream);
            }
        }
        (Kind::Connect, None) => {
            if let Some((stream, upstream)) = http_connect(tcp, &credentials, &seen) {
                pump(stream, upstream);
            }
        }
        (Kind::Socks5, _) => {
            if let Some((stream, upstream)) = socks5(tcp, &credentials, &seen) {
                pump(stream, upstream);
            }
        }
    }
}

/// Reads exactly `buf`, riding out the short read timeouts.
fn read_exact<S: Read>(stream: &mut S, buf: &mut [u8]) -> Option<()> {
    let mut filled = 0;
    let mut quiet = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return None,
            Ok(n) => filled += n,
            Err(e) if waiting(&e) && quiet < 4000 => quiet += 1,
            Err(_) => return None,
        }
    }
    Some(())
}

fn waiting(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn http_connect<S: Read + Write>(
    mut stream: S,
    credentials: &Option<(String, String)>,
    seen: &Sender<Seen>,
) -> Option<(S, TcpStream)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        read_exact(&mut stream, &mut byte)?;
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).ok()?;
    let target = head.split(' ').nth(1)?.to_owned();
    let authorization = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    let _ = seen.send(Seen::Connect {
        target: target.clone(),
        authorization: authorization.clone(),
    });
    let reply = |stream: &mut S, status: &str| {
        let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
        let _ = stream.write_all(response.as_bytes());
        let _ = stream.flush();
    };
    if let Some((user, password)) = credentials {
        let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        if authorization.as_deref() != Some(expected.as_str()) {
            reply(&mut stream, "407 Proxy Authentication Required");
            return None;
        }
    }
    match TcpStream::connect(target.as_str()) {
        Ok(upstream) => {
            reply(&mut stream, "200 Connection established");
            Some((stream, upstream))
        }
        Err(_) => {
            reply(&mut stream, "502 Bad Gateway");
            None
        }
    }
}

fn socks5(
    mut stream: TcpStream,
    credentials: &Option<(String, String)>,
    seen: &Sender<Seen>,
) -> Option<(TcpStream, TcpStream)> {
    let mut greeting = [0u8; 2];
    read_exact(&mut stream, &mut greeting)?;
    let mut methods = vec![0u8; usize::from(greeting[1])];
    read_exact(&mut stream, &mut methods)?;
    match credentials {
        Some(expected) => {
            if !methods.contains(&2) {
                stream.write_all(&[5, 0xFF]).ok()?;
                return None;
            }
            stream.write_all(&[5, 2]).ok()?;
            let field = |stream: &mut TcpStream| {
                let mut len = [0u8; 1];
                read_exact(stream, &mut len)?;
                let mut text = vec![0u8; usize::from(len[0])];
                read_exact(stream, &mut text)?;
                String::from_utf8(text).ok()
            };
            let mut version = [0u8; 1];
            read_exact(&mut stream, &mut version)?;
            let user = field(&mut stream)?;
            let password = field(&mut stream)?;
            let ok = (user, password) == *expected;
            stream.write_all(&[1, if ok { 0 } else { 1 }]).ok()?;
            if !ok {
                return None;
            }
        }
        None => stream.write_all(&[5, 0]).ok()?,
    }
    let mut request = [0u8; 4];
    read_exact(&mut stream, &mut request)?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            read_exact(&mut stream, &mut ip)?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            read_exact(&mut stream, &mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            read_exact(&mut stream, &mut name)?;
            String::from_utf8(name).ok()?
        }
        _ => return None,
    };
    let mut port = [0u8; 2];
    read_exact(&mut stream, &mut port)?;
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    let _ = seen.send(Seen::Socks {
        address_type: request[3],
        target: target.clone(),
    });
    match TcpStream::connect(target.as_str()) {
        Ok(upstream) => {
            stream.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).ok()?;
            Some((stream, upstream))
        }
        Err(_) => {
            stream.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).ok()?;
            None
        }
    }
}

/// Copies both ways until either side ends (both sockets have short read
/// timeouts, so one thread serves both directions).
fn pump<S: Read + Write>(mut client: S, mut upstream: TcpStream) {
    let _ = upstream.set_read_timeout(Some(Duration::from_millis(5)));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match client.read(&mut buf) {
            Ok(0) => return,
            Ok(n) if upstream.write_all(&buf[..n]).is_err() => return,
            Ok(_) => {}
            Err(e) if waiting(&e) => {}
            Err(_) => return,
        }
        match upstream.read(&mut buf) {
            Ok(0) => return,
            Ok(n)
                if client
                    .write_all(&buf[..n])
                    .and_then(|()| client.flush())
                    .is_err() =>
            {
                return;
            }
            Ok(_) => {}
            Err(e) if waiting(&e) => {}
            Err(_) => return,
        }
    }
}

/// A port nothing listens on (it was free a moment ago).
/// A port nothing listens on: below the ephemeral range, so no test (or
/// other program handed a free port) can take it between our checks, unlike a
/// port bound and released again.
fn closed_port() -> u16 {
    let port = 1;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something listens on 127.0.0.1:{port}"
    );
    port
}

/// A loop with an echo server, plain or TLS.
fn target(pki: &Pki, secure: bool) -> (LoopThread, Echo, String) {
    let lp = spawn_loop();
    let config = match secure {
        true => pki.server_config(),
        false => server_config(),
    };
    let echo = Echo::start(lp.handle(), config);
    let scheme = if secure { "wss" } else { "ws" };
    let url = format!("{scheme}://localhost:{}/", echo.server.local_addr().port());
    (lp, echo, url)
}

/// Connects through `proxy` and echoes a message.
fn echo_through(lp: &LoopThread, url: &str, config: ClientConfig) {
    let (conn, events) = connect(lp.handle(), url, config);
    conn.send(MessageKind::Text, b"through the tunnel")
        .expect("send");
    assert_eq!(
        events.message(),
        (MessageKind::Text, b"through the tunnel".to_vec())
    );
    conn.close(wsx_core::proto::CloseCode::NORMAL, "")
        .expect("close");
    assert_eq!(events.close().0, 1000);
}

/// Connects through a proxy that must fail; returns the error.
fn fail_through(
    lp: &LoopThread,
    url: &str,
    config: ClientConfig,
) -> (ErrorKind, Option<u16>, String) {
    let (recorder, events) = Recorder::new(false);
    lp.handle().connect(url, config, recorder).expect("connect");
    let error = events.error();
    assert_eq!(events.close().0, 1006);
    error
}

#[test]
fn http_connect_without_and_with_credentials() {
    let pki = Pki::new();
    for secure in [false, true] {
        let (lp, echo, url) = target(&pki, secure);
        let port = echo.server.local_addr().port();
        let open = Proxy::start(Kind::Connect, None, None);
        echo_through(&lp, &url, through(&pki, &format!("http://{}", open.addr)));
        let expected = Seen::Connect {
            target: format!("localhost:{port}"),
            authorization: None,
        };
        assert_eq!(open.next(), expected);

        let guarded = Proxy::start(Kind::Connect, Some(("alice", "s3cret:x")), None);
        let proxy = format!("http://alice:s3cret%3Ax@{}", guarded.addr);
        echo_through(&lp, &url, through(&pki, &proxy));
        let Seen::Connect { authorization, .. } = guarded.next() else {
            panic!("a CONNECT");
        };
        assert_eq!(authorization.as_deref(), Some("Basic YWxpY2U6czNjcmV0Ong="));

        let wrong = format!("http://alice:wrong@{}", guarded.addr);
        let (kind, status, message) = fail_through(&lp, &url, through(&pki, &wrong));
        assert_eq!((kind, status), (ErrorKind::Proxy, Some(407)), "{message}");
        assert!(message.contains("requires authentication"), "{message}");
    }
}

#[test]
fn https_proxy_carries_tls_inside_tls() {
    let pki = Pki::new();
    for secure in [false, true] {
        let (lp, _echo, url) = target(&pki, secure);
        let proxy = Proxy::start(Kind::Connect, Some(("bob", "pw")), Some(proxy_tls(&pki)));
        let proxy_url = format!("https://bob:pw@localhost:{}", proxy.addr.port());
        echo_through(&lp, &url, through(&pki, &proxy_url));
        assert!(matches!(proxy.next(), Seen::Connect { .. }));
    }
}

#[test]
fn socks5_without_and_with_credentials_sends_the_host_name() {
    let pki = Pki::new();
    for secure in [false, true] {
        let (lp, echo, url) = target(&pki, secure);
        let port = echo.server.local_addr().port();
        let open = Proxy::start(Kind::Socks5, None, None);
        echo_through(&lp, &url, through(&pki, &format!("socks5://{}", open.addr)));
        let expected = Seen::Socks {
            address_type: 3,
            target: format!("localhost:{port}"),
        };
        assert_eq!(open.next(), expected);

        let guarded = Proxy::start(Kind::Socks5, Some(("carol", "pw")), None);
        echo_through(
            &lp,
            &url,
            through(&pki, &format!("socks5h://carol:pw@{}", guarded.addr)),
        );
        assert_eq!(guarded.next(), expected);

        let wrong = format!("socks5://carol:nope@{}", guarded.addr);
        let (kind, _, message) = fail_through(&lp, &url, through(&pki, &wrong));
        assert_eq!(kind, ErrorKind::Proxy, "{message}");
        assert!(
            message.contains("refused the user name or password"),
            "{message}"
        );

        let anonymous = format!("socks5://{}", guarded.addr);
        let (kind, _, message) = fail_through(&lp, &url, through(&pki, &anonymous));
        assert_eq!(kind, ErrorKind::Proxy, "{message}");
        assert!(message.contains("requires authentication"), "{message}");
    }
}

#[test]
fn a_target_down_behind_the_proxy_is_reported_with_its_code() {
    let pki = Pki::new();
    let lp = spawn_loop();
    let port = closed_port();
    let url = format!("ws://127.0.0.1:{port}/");

    let connect = Proxy::start(Kind::Connect, None, None);
    let config = through(&pki, &format!("http://{}", connect.addr));
    let (kind, status, message) = fail_through(&lp, &url, config);
    assert_eq!((kind, status), (ErrorKind::Proxy, Some(502)), "{message}");
    assert!(message.contains("could not reach the target"), "{message}");

    let socks = Proxy::start(Kind::Socks5, None, None);
    let config = through(&pki, &format!("socks5://{}", socks.addr));
    let (kind, status, message) = fail_through(&lp, &url, config);
    assert_eq!((kind, status), (ErrorKind::Proxy, Some(5)), "{message}");
    assert!(
        message.contains("connection refused (reply 5)"),
        "{message}"
    );
    // An IP target goes to the proxy as an address.
    let expected = Seen::Socks {
        address_type: 1,
        target: format!("127.0.0.1:{port}"),
    };
    assert_eq!(socks.next(), expected);
}

#[test]
fn an_unreachable_proxy_is_a_proxy_error() {
    let pki = Pki::new();
    let (lp, _echo, url) = target(&pki, false);
    let port = closed_port();
    let config = through(&pki, &format!("http://127.0.0.1:{port}"));
    let (kind, _, message) = fail_through(&lp, &url, config);
    assert_eq!(kind, ErrorKind::Proxy, "{message}");
    assert!(message.contains("the proxy 127.0.0.1:"), "{message}");
}

#[test]
fn the_target_certificate_is_verified_through_the_tunnel() {
    let pki = Pki::new();
    let other = Pki::new();
    let (lp, echo, _) = target(&pki, true);
    let url = format!("wss://localhost:{}/", echo.server.local_addr().port());
    let proxy = Proxy::start(Kind::Socks5, None, None);
    // Trusting another CA: the target's certificate is refused.
    let config = through(&other, &format!("socks5://{}", proxy.addr));
    let (kind, _, message) = fail_through(&lp, &url, config);
    assert_eq!(kind, ErrorKind::Tls, "{message}");
}

#[test]
fn the_proxy_certificate_is_verified() {
    let pki = Pki::new();
    let other = Pki::new();
    let (lp, _echo, url) = target(&pki, false);
    let proxy = Proxy::start(Kind::Connect, None, Some(proxy_tls(&pki)));
    let proxy_url = format!("https://localhost:{}", proxy.addr.port());
    let (kind, _, message) = fail_through(&lp, &url, through(&other, &proxy_url));
    assert_eq!(kind, ErrorKind::Tls, "{message}");
    assert!(message.starts_with("proxy localhost:"), "{message}");
}

/// Set in the child process this test file starts for the environment test.
const CHILD: &str = "WSX_PROXY_ENV_CHILD_URL";

#[test]
fn environment_variables_choose_the_proxy_when_asked() {
    let pki = Pki::new();
    let (_lp, _echo, url) = target(&pki, false);
    let proxy = Proxy::start(Kind::Connect, None, None);
    let run_child = |no_proxy: &str| {
        let child = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args(["--exact", "proxy::env_child", "--ignored", "--quiet"])
            .env(CHILD, &url)
            .env("http_proxy", format!("http://{}", proxy.addr))
            .env("no_proxy", no_proxy)
            .env_remove("NO_PROXY")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY")
            .output()
            .expect("child");
        assert!(
            child.status.success(),
            "the child test failed: {}",
            String::from_utf8_lossy(&child.stdout)
        );
    };
    run_child("example.com");
    assert!(matches!(proxy.next(), Seen::Connect { .. }));
    run_child("example.com, localhost");
    assert!(
        proxy.seen.recv_timeout(Duration::from_millis(200)).is_err(),
        "no_proxy sends localhost direct"
    );
}

/// The child half of the environment test: connects with `proxy_from_env`.
#[test]
#[ignore = "run in a child process by environment_variables_choose_the_proxy_when_asked"]
fn env_child() {
    let url = std::env::var(CHILD).expect("run by the environment test");
    let lp = spawn_loop();
    let config = ClientConfig {
        proxy_from_env: true,
        ..client_config()
    };
    echo_through(&lp, &url, config);
}
