use serde_json::json;
use wsx_interop::nginx::Nginx;
use wsx_interop::payload::assert_peer_got;
use wsx_interop::payload::generate;
use wsx_interop::peer::{Kind, header};
use wsx_core::proto::MessageKind::*;

fn run(kind: Kind, via_nginx: bool) {
    let (mut server, port) = Kind::Node.server(&["--subprotocol", "superchat"]);
    let nginx = via_nginx.then(|| Nginx::proxy_to(port));
    let p = nginx.as_ref().map_or(port, |n| n.port());
    let mut client = kind.client();
    client.connect(&format!("ws://127.0.0.1:{p}/x"), json!({"subprotocols": ["chat","superchat"]}));
    let seen = client.expect("open");
    assert_eq!(seen["subprotocol"], "superchat");
    let sopen = server.expect("open");
    eprintln!("{sopen}");
    if via_nginx { assert_eq!(header(&sopen, "X-Forwarded-For"), Some("127.0.0.1")); }
    client.command(json!({"op":"send","kind":"binary","gen": 16<<20}));
    assert_peer_got(&server.expect("message"), Binary, &generate(Binary, 16<<20));
    server.command(json!({"op":"send","kind":"text","gen": 1000}));
    assert_peer_got(&client.expect("message"), Text, &generate(Text, 1000));
    server.command(json!({"op":"close","code":4002,"reason":"bye ✓"}));
    let c = client.expect("close");
    eprintln!("{c}");
    client.connect(&format!("ws://127.0.0.1:{p}/x"), json!({}));
    client.expect("open");
    server.expect("close");
    server.expect("open");
    client.command(json!({"op":"close","code":4003,"reason":"bye2"}));
    eprintln!("{}", client.expect("close"));
    eprintln!("{}", server.expect("close"));
}
#[test] fn chromium_nginx() { run(Kind::Chromium, true); }
#[test] fn python_nginx() { run(Kind::Python, true); }
#[test] fn chromium_direct() { run(Kind::Chromium, false); }
