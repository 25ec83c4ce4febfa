//! permessage-deflate against third-party peers: wsx's client and server
//! with Python `websockets` and Node `ws` (compression on at both ends), and
//! a headless Chromium page against wsx's server. A counting TCP relay
//! between the two shows the messages crossed the wire compressed, both ways.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use serde_json::{Value, json};
use wsx_core::net::{ClientConfig, ServerConfig};
use wsx_core::proto::DeflateConfig;
use wsx_core::proto::MessageKind::{self, Binary, Text};
use wsx_interop::payload::{assert_peer_got, assert_wsx_got, generate, send_command};
use wsx_interop::peer::{Kind, Peer, header};
use wsx_interop::wsx::{Endpoint, Reply, Wsx};

/// Size of the largest message sent each way.
const BIG: usize = 1 << 20;
/// The most bytes a direction may carry for all of a test's messages: the
/// generated payloads repeat a short unit, so compressed they take a few
/// KiB where uncompressed they take several MiB.
const COMPRESSED_BUDGET: usize = BIG / 8;

/// A TCP relay on 127.0.0.1 to `upstream` that counts the bytes each way.
struct Relay {
    port: u16,
    up: Arc<AtomicUsize>,
    down: Arc<AtomicUsize>,
}

impl Relay {
    fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("relay bind");
        let port = listener.local_addr().expect("relay address").port();
        let (up, down): (Arc<AtomicUsize>, Arc<AtomicUsize>) = (Arc::default(), Arc::default());
        let counters = (Arc::clone(&up), Arc::clone(&down));
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                for (from, to, count) in [
                    (client.try_clone(), server.try_clone(), &counters.0),
                    (server.try_clone(), client.try_clone(), &counters.1),
                ] {
                    if let (Ok(from), Ok(to)) = (from, to) {
                        let count = Arc::clone(count);
                        thread::spawn(move || pipe(from, to, &count));
                    }
                }
            }
        });
        Relay { port, up, down }
    }

    /// Asserts both directions carried far less than the messages' size.
    fn assert_compressed(&self, messages_each_way: usize) {
        let (up, down) = (
            self.up.load(Ordering::SeqCst),
            self.down.load(Ordering::SeqCst),
        );
        assert!(
            up < COMPRESSED_BUDGET && down < COMPRESSED_BUDGET,
            "{messages_each_way} bytes of messages each way took {up} bytes up and {down} down"
        );
    }
}

/// Copies `from` to `to` until the end of the stream, counting.
fn pipe(mut from: TcpStream, mut to: TcpStream, count: &AtomicUsize) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        count.fetch_add(n, Ordering::SeqCst);
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// The messages of a test: small ones (under the compression threshold
/// too) and a large, compressible one.
const MESSAGES: [(MessageKind, usize); 4] = [(Text, 10), (Binary, 200), (Text, 5000), (Text, BIG)];

fn total() -> usize {
    MESSAGES.iter().map(|(_, len)| len).sum()
}

/// wsx sends a generated message; the peer must receive exactly it.
fn wsx_sends(wsx: &Endpoint, peer: &mut Peer, kind: MessageKind, len: usize) {
    let data = generate(kind, len);
    wsx.send(kind, &data);
    assert_peer_got(&peer.expect("message"), kind, &data);
}

/// The peer sends a generated message (in `fragments` frames if given);
/// wsx must receive exactly it.
fn peer_sends(
    wsx: &Endpoint,
    peer: &mut Peer,
    kind: MessageKind,
    len: usize,
    fragments: Option<usize>,
) {
    peer.command(send_command(kind, len, fragments));
    assert_wsx_got(&wsx.expect_message(), kind, &generate(kind, len));
}

/// Closes from wsx and checks the peer saw it.
fn close(wsx: &Endpoint, peer: &mut Peer) {
    wsx.close(1000, "done");
    assert_eq!(peer.expect("close")["code"], 1000);
    assert_eq!(wsx.expect_closed().code, 1000);
}

/// wsx's client, offering its default compression, against a server peer
/// through a relay: messages both ways (and fragmented ones from the peer)
/// arrive intact, compressed on the wire.
fn wsx_client(mut peer: Peer) {
    let port = peer.wait_ready();
    let relay = Relay::start(port);
    let wsx = Wsx::new();
    let config = ClientConfig {
        compression: Some(DeflateConfig::default()),
        ..ClientConfig::default()
    };
    let end = wsx.connect(&format!("ws://127.0.0.1:{}/", relay.port), config);
    let opened = end.expect_open();
    let answer = opened
        .header("Sec-WebSocket-Extensions")
        .unwrap_or_default();
    assert!(
        answer.starts_with("permessage-deflate"),
        "the server's answer: {opened:?}"
    );
    let seen = peer.expect("open");
    let offer = header(&seen, "Sec-WebSocket-Extensions").unwrap_or_default();
    assert!(
        offer.starts_with("permessage-deflate; client_max_window_bits"),
        "wsx's offer: {seen}"
    );
    for (kind, len) in MESSAGES {
        wsx_sends(&end, &mut peer, kind, len);
        peer_sends(&end, &mut peer, kind, len, None);
    }
    peer_sends(&end, &mut peer, Binary, 100_000, Some(4));
    relay.assert_compressed(total() + 100_000);
    close(&end, &mut peer);
}

/// A client peer against wsx's echo server with compression `deflate`,
/// through a relay: every message echoed intact, compressed on the wire
/// both ways. Returns the peer's offer as wsx saw it and wsx's answer as
/// the peer saw it (empty for a peer that does not report headers).
fn wsx_server(kind: Kind, fragments: bool, deflate: DeflateConfig) -> (String, String) {
    let wsx = Wsx::new();
    let config = ServerConfig {
        compression: Some(deflate),
        ..ServerConfig::default()
    };
    let server = wsx.listen(config, Reply::Echo, &[]);
    let relay = Relay::start(server.port());
    let mut peer = kind.client();
    peer.connect(&format!("ws://127.0.0.1:{}/", relay.port), json!({}));
    let (end, opened) = server.accept();
    let seen: Value = peer.expect("open");
    let answer = header(&seen, "Sec-WebSocket-Extensions")
        .unwrap_or_default()
        .to_owned();
    if kind.is_scriptable() {
        assert!(
            answer.starts_with("permessage-deflate"),
            "wsx's answer: {seen}"
        );
    }
    for (kind, len) in MESSAGES {
        peer.command(send_command(kind, len, None));
        let data = generate(kind, len);
        assert_wsx_got(&end.expect_message(), kind, &data);
        assert_peer_got(&peer.expect("message"), kind, &data);
    }
    if fragments {
        peer.command(send_command(Binary, 100_000, Some(4)));
        assert_peer_got(&peer.expect("message"), Binary, &generate(Binary, 100_000));
        end.expect_message();
    }
    relay.assert_compressed(total());
    close(&end, &mut peer);
    let offer = opened
        .header("Sec-WebSocket-Extensions")
        .unwrap_or_default()
        .to_owned();
    (offer, answer)
}

#[test]
fn wsx_client_with_python_websockets_server() {
    wsx_client(Peer::python("py_server.py", &[]));
}

#[test]
fn wsx_client_with_node_ws_server() {
    wsx_client(Peer::node("node_deflate_server.js", &[]));
}

#[test]
fn python_websockets_client_with_wsx_server() {
    let (offer, _) = wsx_server(Kind::Python, true, DeflateConfig::default());
    assert!(offer.starts_with("permessage-deflate"), "{offer}");
}

/// The shared-compressor mode against a `websockets` client, which offers
/// `permessage-deflate; client_max_window_bits`: wsx's answer asks for
/// `server_no_context_takeover` (every message compressed afresh by the
/// loop's one compressor) and limits the client's window to 10 bits, and
/// every message (fragmented ones too) round-trips intact, compressed both
/// ways: websockets inflated wsx's fresh messages and wsx inflated
/// websockets' 10-bit stream keeping only a 1 KiB window between messages.
#[test]
fn python_websockets_client_with_wsx_shared_compressor() {
    let shared = DeflateConfig {
        shared_compressor: true,
        client_max_window_bits: 10,
        ..DeflateConfig::default()
    };
    let (_, answer) = wsx_server(Kind::Python, true, shared);
    assert_eq!(
        answer,
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"
    );
}

#[test]
fn node_ws_client_with_wsx_server() {
    let (offer, _) = wsx_server(Kind::Node, true, DeflateConfig::default());
    assert!(offer.starts_with("permessage-deflate"), "{offer}");
}

#[test]
fn chromium_page_with_wsx_server() {
    let (offer, _) = wsx_server(Kind::Chromium, false, DeflateConfig::default());
    assert_eq!(offer, "permessage-deflate; client_max_window_bits");
}

/// wsx's client opting a message out of compression: it crosses the wire
/// uncompressed (the relay counts it whole) and arrives intact.
#[test]
fn wsx_client_opt_out_sends_uncompressed() {
    let mut peer = Peer::python("py_server.py", &[]);
    let relay = Relay::start(peer.wait_ready());
    let wsx = Wsx::new();
    let end = wsx.connect(
        &format!("ws://127.0.0.1:{}/", relay.port),
        ClientConfig::default(),
    );
    let opened = end.expect_open();
    assert!(
        opened.header("Sec-WebSocket-Extensions").is_some(),
        "compression offered by default: {opened:?}"
    );
    peer.expect("open");
    let data = generate(Text, BIG);
    end.conn.send_with(Text, &data, false).expect("send");
    assert_peer_got(&peer.expect("message"), Text, &data);
    assert!(
        relay.up.load(Ordering::SeqCst) > BIG,
        "sent whole, uncompressed"
    );
    close(&end, &mut peer);
}

/// A Python client sending a small compressed message that inflates past
/// wsx's limit: wsx fails the connection with 1009 instead of inflating it.
#[test]
fn compression_bomb_from_python_is_refused_with_1009() {
    let wsx = Wsx::new();
    let mut config = ServerConfig {
        compression: Some(DeflateConfig::default()),
        ..ServerConfig::default()
    };
    config.protocol.max_message_size = 1 << 20;
    let server = wsx.listen(config, Reply::Nothing, &[]);
    let relay = Relay::start(server.port());
    let mut peer = Kind::Python.client();
    peer.connect(&format!("ws://127.0.0.1:{}/", relay.port), json!({}));
    let (end, _) = server.accept();
    peer.expect("open");
    // 16 MiB of repeated text: a few KiB on the wire, 16 times the limit inflated.
    peer.command(send_command(Text, 16 << 20, None));
    let (_, message, _) = end.expect_error();
    assert!(message.contains("exceeds the limit"), "{message}");
    assert_eq!(end.expect_closed().code, 1009);
    assert_eq!(peer.expect("close")["code"], 1009);
    assert!(
        relay.up.load(Ordering::SeqCst) < COMPRESSED_BUDGET,
        "the bomb was small on the wire"
    );
}
