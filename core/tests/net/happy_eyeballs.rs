//! Happy Eyeballs (RFC 8305): a client races the addresses of a name, IPv6
//! first, starting the next one 250 ms after the last or at once when one
//! fails, so a dead IPv6 route costs a quarter second, not the connect
//! timeout. Addresses come from a resolver the test gives the client, on
//! 127.0.0.1 and ::1 only.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::*;
use wsx_core::net::{ClientConfig, ErrorKind, PendingLookup, Resolver, ServerConfig};

/// A resolver answering `addrs` for every name, counting its calls.
fn resolver(addrs: Vec<SocketAddr>) -> (Resolver, Arc<Mutex<Vec<String>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let resolver = Resolver::new(move |host, port| {
        log.lock().unwrap().push(format!("{host}:{port}"));
        Ok(addrs
            .iter()
            .map(|a| SocketAddr::new(a.ip(), a.port()))
            .collect())
    });
    (resolver, asked)
}

fn echo_on(lp: &wsx_core::net::LoopThread, host: &str) -> Echo {
    let config = ServerConfig {
        host: host.to_owned(),
        ..server_config()
    };
    Echo::start(lp.handle(), config)
}

/// An address whose connects hang: a listener that never accepts, its
/// queue full (SYNs beyond it are dropped, as on a dead route).
struct BlackHole {
    addr: SocketAddr,
    _listener: TcpListener,
    _held: Vec<TcpStream>,
}

impl BlackHole {
    fn on(host: &str) -> BlackHole {
        let listener = TcpListener::bind((host, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut held = Vec::new();
        let full = (0..4096).any(|_| {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(tcp) => {
                    held.push(tcp);
                    false
                }
                Err(_) => true,
            }
        });
        assert!(full, "the accept queue of {addr} never filled");
        BlackHole {
            addr,
            _listener: listener,
            _held: held,
        }
    }
}

#[test]
fn a_dead_ipv6_address_costs_a_quarter_second_not_the_connect_timeout() {
    let lp = spawn_loop();
    let v4 = echo_on(&lp, "127.0.0.1");
    let dead_v6 = BlackHole::on("::1");
    // The resolver gives IPv4 first; the client still tries IPv6 first.
    let (resolver, asked) = resolver(vec![v4.server.local_addr(), dead_v6.addr]);
    // Tried one after the other, the IPv6 connect would take the whole
    // connect timeout and the attempt would fail.
    let config = ClientConfig {
        connect_timeout: Duration::from_secs(5),
        resolver: Some(resolver),
        ..client_config()
    };
    let url = format!("ws://game.example:{}/", v4.server.local_addr().port());
    let (conn, events) = connect(lp.handle(), &url, config);
    assert_eq!(conn.peer_addr(), Some(v4.server.local_addr().into()));
    assert_eq!(
        *asked.lock().unwrap(),
        [format!("game.example:{}", v4.server.local_addr().port())]
    );
    conn.close(wsx_core::proto::CloseCode::NORMAL, "")
        .expect("close");
    assert_eq!(events.close().0, 1000);
}

#[test]
fn ipv6_is_tried_first_and_wins_when_it_answers() {
    let lp = spawn_loop();
    let v4 = echo_on(&lp, "127.0.0.1");
    let v6 = echo_on(&lp, "::1");
    let (resolver, _) = resolver(vec![v4.server.local_addr(), v6.server.local_addr()]);
    let config = ClientConfig {
        resolver: Some(resolver),
        ..client_config()
    };
    let (conn, _events) = connect(lp.handle(), "ws://dual.example/", config);
    assert_eq!(conn.peer_addr(), Some(v6.server.local_addr().into()));
    // The IPv4 server saw no connection: the race stopped at the winner.
    assert!(v4.conns.0.try_recv().is_err());
}

#[test]
fn a_refused_address_makes_way_for_the_next_at_once() {
    let closed_v6 = TcpListener::bind("[::1]:0").expect("bind");
    let refused = closed_v6.local_addr().expect("addr");
    drop(closed_v6);
    let lp = spawn_loop();
    let v4 = echo_on(&lp, "127.0.0.1");
    let (resolver, _) = resolver(vec![refused, v4.server.local_addr()]);
    let config = ClientConfig {
        resolver: Some(resolver),
        ..client_config()
    };
    let (conn, _events) = connect(lp.handle(), "ws://dual.example/", config);
    assert_eq!(conn.peer_addr(), Some(v4.server.local_addr().into()));
}

#[test]
fn every_address_refused_reports_the_last_error() {
    let mut ports = Vec::new();
    for host in ["[::1]:0", "127.0.0.1:0"] {
        let listener = TcpListener::bind(host).expect("bind");
        ports.push(listener.local_addr().expect("addr"));
    }
    let lp = spawn_loop();
    let (resolver, _) = resolver(ports);
    let (recorder, events) = Recorder::new(false);
    let config = ClientConfig {
        resolver: Some(resolver),
        ..client_config()
    };
    lp.handle()
        .connect("ws://gone.example/", config, recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Connect, "{message}");
    assert!(message.contains("refused"), "{message}");
}

#[test]
fn a_resolver_failure_is_a_dns_error() {
    let lp = spawn_loop();
    let (recorder, events) = Recorder::new(false);
    let config = ClientConfig {
        resolver: Some(Resolver::new(|_, _| {
            Err(io::Error::other("the directory has no such service"))
        })),
        ..client_config()
    };
    lp.handle()
        .connect("ws://unknown.example/", config, recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Dns, "{message}");
    assert!(message.contains("no such service"), "{message}");
}

#[test]
fn an_on_loop_resolver_answers_later_from_any_thread() {
    let lp = spawn_loop();
    let v4 = echo_on(&lp, "127.0.0.1");
    let dead_v6 = BlackHole::on("::1");
    let (lookups, pending) = std::sync::mpsc::channel();
    let lookups = Mutex::new(lookups);
    let config = ClientConfig {
        connect_timeout: Duration::from_secs(5),
        resolver: Some(Resolver::on_loop(move |lookup: PendingLookup| {
            lookups.lock().unwrap().send(lookup).unwrap();
        })),
        ..client_config()
    };
    let port = v4.server.local_addr().port();
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect(&format!("ws://later.example:{port}/"), config, recorder)
        .expect("connect");
    let lookup = pending
        .recv_timeout(Duration::from_secs(5))
        .expect("lookup");
    assert_eq!((lookup.host(), lookup.port()), ("later.example", port));
    // Answered from this thread, not the loop's; raced as any answer is.
    lookup.answer(Ok(vec![dead_v6.addr, v4.server.local_addr()]));
    events.open();
}

#[test]
fn a_lookup_dropped_unanswered_is_a_dns_error() {
    let lp = spawn_loop();
    let (recorder, events) = Recorder::new(false);
    let config = ClientConfig {
        resolver: Some(Resolver::on_loop(drop)),
        ..client_config()
    };
    lp.handle()
        .connect("ws://dropped.example/", config, recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Dns, "{message}");
    assert!(message.contains("unanswered"), "{message}");
}
