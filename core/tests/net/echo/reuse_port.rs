//! `SO_REUSEPORT`: two servers, each on a loop of its own, listen on one
//! port; the kernel spreads many clients' connections over both, and each
//! echoes. Without the option a second bind of the port fails, saying why.
//! (A module of the net_echo test program: no binary of its own to link.)

use crate::util::*;
use wsx_core::net::{ErrorKind, ServerConfig};
use wsx_core::proto::MessageKind;

fn shared_port(port: u16) -> ServerConfig {
    ServerConfig {
        port,
        reuse_port: true,
        ..server_config()
    }
}

#[test]
fn two_servers_share_a_port_and_the_kernel_spreads_clients_over_both() {
    let (first_loop, second_loop, clients) = (spawn_loop(), spawn_loop(), spawn_loop());
    let first = Echo::start(first_loop.handle(), shared_port(0));
    let port = first.server.local_addr().port();
    let second = Echo::start(second_loop.handle(), shared_port(port));
    assert_eq!(second.server.local_addr().port(), port);

    // Linux hashes each connection's addresses and ports to one of the
    // sockets: 32 clients all landing on one has odds of 2^-31.
    const CLIENTS: u64 = 32;
    let conns: Vec<_> = (0..CLIENTS)
        .map(|_| connect(clients.handle(), &first.url(), client_config()))
        .collect();
    for (i, (conn, events)) in conns.iter().enumerate() {
        let text = format!("client {i}").into_bytes();
        conn.send(MessageKind::Text, &text).expect("send");
        assert_eq!(events.message(), (MessageKind::Text, text));
    }
    let accepted = [&first, &second].map(|s| s.server.metrics().handshakes_accepted);
    assert_eq!(accepted.iter().sum::<u64>(), CLIENTS, "{accepted:?}");
    assert!(
        accepted.iter().all(|&n| n > 0),
        "both servers took connections: {accepted:?}"
    );
}

/// Listens with `config`, expecting the port to be taken; the error's text.
fn refused(lp: &wsx_core::net::LoopThread, config: ServerConfig) -> String {
    let (tx, _) = std::sync::mpsc::channel();
    let (conns, _) = std::sync::mpsc::channel();
    let handler = EchoServer {
        tx,
        conns,
        refuse: None,
    };
    let Err(error) = lp.handle().listen(config, Box::new(handler)) else {
        panic!("the port is taken");
    };
    assert_eq!(error.kind(), ErrorKind::Io);
    error.to_string()
}

#[test]
fn without_reuse_port_on_both_a_second_bind_of_the_port_is_refused_saying_why() {
    let lp = spawn_loop();
    let sharing = Echo::start(lp.handle(), shared_port(0));
    let port = sharing.server.local_addr().port();
    let text = refused(
        &lp,
        ServerConfig {
            port,
            ..server_config()
        },
    );
    assert!(
        text.contains("servers that share a port all set reuse_port"),
        "{text}"
    );

    let alone = Echo::start(lp.handle(), server_config());
    let port = alone.server.local_addr().port();
    let text = refused(&lp, shared_port(port));
    assert!(text.contains("a socket without reuse_port"), "{text}");
}
