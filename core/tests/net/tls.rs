//! `wss://` with a CA and certificates made here: echo, refusal of a wrong
//! host name and of an untrusted certificate, and the explicit opt-out.

use crate::util::pki::Pki;
use crate::util::*;
use wsx_core::net::{ClientConfig, ErrorKind, ServerConfig, TlsClientConfig, TlsServerConfig};
use wsx_core::proto::{CloseCode, MessageKind};

#[test]
fn wss_echo_with_a_trusted_ca() {
    let pki = Pki::new();
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), pki.server_config());
    // `localhost` may resolve to ::1 first, where nothing listens: the next address is tried.
    let url = format!("wss://localhost:{}/secure", echo.server.local_addr().port());
    let (conn, events) = connect(lp.handle(), &url, pki.trusting_client());
    for len in [0, 10, 100_000, 4 << 20] {
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        conn.send(MessageKind::Binary, &data).expect("send");
        assert_eq!(events.message(), (MessageKind::Binary, data));
    }
    conn.close(CloseCode::NORMAL, "").expect("close");
    assert!(events.close().2, "clean close over TLS");
    assert!(echo.conns.close().2);
}

#[test]
fn wrong_host_name_is_refused() {
    let pki = Pki::new();
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), pki.server_config());
    // The certificate names `localhost`, not 127.0.0.1.
    let url = format!("wss://{}/", echo.server.local_addr());
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect(&url, pki.trusting_client(), recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Tls, "{message}");
    assert!(message.contains("not valid for name"), "{message}");
    assert!(!events.close().2);
    // The server saw the handshake fail, and no connection reached its handler.
    assert!(matches!(
        echo.next_event(),
        ServerEv::Error(ErrorKind::Tls, ..)
    ));
}

#[test]
fn untrusted_certificate_is_refused() {
    let pki = Pki::new();
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), pki.server_config());
    let url = format!("wss://localhost:{}/", echo.server.local_addr().port());
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect(&url, client_config(), recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Tls, "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(!events.close().2);
}

#[test]
fn verification_can_be_turned_off_explicitly() {
    let pki = Pki::new();
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), pki.server_config());
    let url = format!("wss://{}/", echo.server.local_addr());
    let tls = TlsClientConfig {
        danger_disable_verification: true,
        ..TlsClientConfig::default()
    };
    let (conn, events) = connect(
        lp.handle(),
        &url,
        ClientConfig {
            tls,
            ..client_config()
        },
    );
    conn.send(MessageKind::Text, b"insecure but encrypted")
        .expect("send");
    assert_eq!(events.message().1, b"insecure but encrypted");
}

#[test]
fn missing_pem_files_fail_up_front() {
    let lp = spawn_loop();
    let tls = TlsServerConfig {
        cert_file: "/nonexistent/cert.pem".into(),
        key_file: "/nonexistent/key.pem".into(),
        client_auth: None,
    };
    let Err(error) = lp.handle().listen(
        ServerConfig {
            tls: Some(tls),
            ..server_config()
        },
        Box::new(NoServer),
    ) else {
        panic!("listen should fail");
    };
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    assert!(
        error.to_string().contains("/nonexistent/cert.pem"),
        "{error}"
    );

    let tls = TlsClientConfig {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..TlsClientConfig::default()
    };
    let (recorder, _events) = Recorder::new(false);
    let error = lp
        .handle()
        .connect(
            "wss://localhost:1/",
            ClientConfig {
                tls,
                ..client_config()
            },
            recorder,
        )
        .expect_err("bad CA file");
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
}

struct NoServer;

impl wsx_core::net::ServerHandler for NoServer {
    fn on_upgrade(
        &mut self,
        _upgrade: &mut wsx_core::net::Upgrade<'_>,
    ) -> Result<Box<dyn wsx_core::net::Handler>, wsx_core::net::Refusal> {
        unreachable!("never listens")
    }
}

#[test]
fn a_client_certificate_is_loaded_from_pem() {
    let pki = Pki::new();
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), pki.server_config());
    let url = format!("wss://localhost:{}/", echo.server.local_addr().port());
    let mut client = pki.trusting_client();
    client.tls.client_cert = Some((pki.dir.join("cert.pem"), pki.dir.join("key.pem")));
    let (conn, events) = connect(lp.handle(), &url, client.clone());
    conn.send(MessageKind::Text, b"with a certificate")
        .expect("send");
    assert_eq!(events.message().1, b"with a certificate");

    // A key file that holds no key fails in `connect`.
    client.tls.client_cert = Some((pki.dir.join("cert.pem"), pki.dir.join("cert.pem")));
    let (recorder, _events) = Recorder::new(false);
    let error = lp
        .handle()
        .connect(&url, client, recorder)
        .expect_err("no key");
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
}
