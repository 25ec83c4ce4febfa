//! Mutual TLS and ALPN on a `wss://` server: client certificates required
//! or requested, verified against a client CA and a CRL, the identity seen
//! in the upgrade decision and on the connection; ALPN `http/1.1` only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use crate::util::pki::Pki;
use crate::util::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams,
    SerialNumber, date_time_ymd,
};
use wsx_core::net::{
    ClientAuth, ErrorKind, Handler, Refusal, ServerConfig, ServerHandler, Upgrade,
};
use wsx_core::proto::MessageKind;

/// A client CA, two client certificates signed by it (alice, and bob who is
/// revoked), and a CRL naming bob; PEM files in the server PKI's directory.
struct ClientPki {
    server: Pki,
    alice_der: Vec<u8>,
}

impl ClientPki {
    fn new() -> ClientPki {
        let server = Pki::new();
        let dir = &server.dir;
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "wsx client CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let mut alice_der = Vec::new();
        for (name, serial) in [("alice", 1u64), ("bob", 2)] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params
                .distinguished_name
                .push(DnType::OrganizationName, "wsx");
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            params.serial_number = Some(SerialNumber::from(serial));
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
            if name == "alice" {
                alice_der = cert.der().to_vec();
            }
        }
        let crl = CertificateRevocationListParams {
            this_update: date_time_ymd(2024, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from(2u64),
                revocation_time: date_time_ymd(2024, 1, 1),
                reason_code: None,
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&ca, &ca_key)
        .unwrap();
        std::fs::write(dir.join("client-ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("crl.pem"), crl.pem().unwrap()).unwrap();
        ClientPki { server, alice_der }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.server.dir.join(name)
    }

    fn server_config(&self, required: bool, crl: bool) -> ServerConfig {
        let mut config = self.server.server_config();
        let tls = config.tls.as_mut().unwrap();
        tls.client_auth = Some(ClientAuth {
            ca_file: self.path("client-ca.pem"),
            required,
            crl_files: if crl {
                vec![self.path("crl.pem")]
            } else {
                vec![]
            },
        });
        config
    }

    fn client(&self, who: Option<&str>) -> wsx_core::net::ClientConfig {
        let mut client = self.server.trusting_client();
        client.tls.client_cert = who.map(|w| {
            (
                self.path(&format!("{w}.pem")),
                self.path(&format!("{w}.key")),
            )
        });
        client
    }
}

/// What the server saw of each request: the subject and chain in the
/// decision, then on the open connection.
#[derive(Debug)]
enum Seen {
    Upgrade(Option<(String, Vec<Vec<u8>>)>),
    Open(Option<String>),
    Error(ErrorKind, String),
}

struct IdentityServer(Sender<Seen>);

struct OpenReporter(Sender<Seen>);

impl Handler for OpenReporter {
    fn on_open(&mut self, ctx: &mut wsx_core::net::Ctx<'_>, _: &wsx_core::net::Open<'_>) {
        let subject = ctx.conn().peer_identity().map(|i| i.subject.clone());
        let _ = self.0.send(Seen::Open(subject));
    }
    fn on_message(
        &mut self,
        ctx: &mut wsx_core::net::Ctx<'_>,
        kind: MessageKind,
        data: &[u8],
        _: bool,
    ) {
        let _ = ctx.send(kind, data);
    }
}

impl ServerHandler for IdentityServer {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let identity = upgrade
            .peer_identity()
            .map(|i| (i.subject.clone(), i.chain.clone()));
        let _ = self.0.send(Seen::Upgrade(identity.clone()));
        // Authorisation by identity: only alice (or anonymous) gets in.
        if identity.is_some_and(|(subject, _)| subject != "CN=alice,O=wsx") {
            return Err(Refusal::new(403, "not you").unwrap());
        }
        Ok(Box::new(OpenReporter(self.0.clone())))
    }
    fn on_error(&mut self, error: &wsx_core::net::Error) {
        let _ = self.0.send(Seen::Error(error.kind(), error.to_string()));
    }
}

fn start(
    lp: &wsx_core::net::LoopThread,
    config: ServerConfig,
) -> (wsx_core::net::Server, Receiver<Seen>, String) {
    let (tx, rx) = channel();
    let server = lp
        .handle()
        .listen(config, Box::new(IdentityServer(tx)))
        .expect("listen");
    let url = format!("wss://localhost:{}/", server.local_addr().port());
    (server, rx, url)
}

fn seen(rx: &Receiver<Seen>) -> Seen {
    rx.recv_timeout(PATIENCE).expect("a server event")
}

#[test]
fn a_required_client_certificate_is_verified_and_its_subject_seen() {
    let pki = ClientPki::new();
    let lp = spawn_loop();
    let (_server, rx, url) = start(&lp, pki.server_config(true, false));

    let (conn, events) = connect(lp.handle(), &url, pki.client(Some("alice")));
    match seen(&rx) {
        Seen::Upgrade(Some((subject, chain))) => {
            assert_eq!(subject, "CN=alice,O=wsx");
            assert_eq!(chain, vec![pki.alice_der.clone()], "the leaf as sent, DER");
        }
        other => panic!("expected alice's identity, got {other:?}"),
    }
    assert!(matches!(seen(&rx), Seen::Open(Some(s)) if s == "CN=alice,O=wsx"));
    conn.send(MessageKind::Text, b"hi").unwrap();
    assert_eq!(events.message().1, b"hi");

    // No certificate: the TLS handshake fails, nothing reaches the decision.
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect(&url, pki.client(None), recorder)
        .unwrap();
    let (kind, _, message) = events.error();
    assert!(
        matches!(kind, ErrorKind::Tls | ErrorKind::Io | ErrorKind::Handshake),
        "{kind:?} {message}"
    );
    match seen(&rx) {
        Seen::Error(ErrorKind::Tls, message) => {
            assert!(
                message.contains("NoCertificatesPresented") || message.contains("certificate"),
                "{message}"
            )
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }

    // A certificate from another CA (the server's own leaf): refused too.
    let mut other = pki.server.trusting_client();
    other.tls.client_cert = Some((pki.path("cert.pem"), pki.path("key.pem")));
    let (recorder, events) = Recorder::new(false);
    lp.handle().connect(&url, other, recorder).unwrap();
    events.error();
    assert!(matches!(seen(&rx), Seen::Error(ErrorKind::Tls, m) if m.contains("UnknownIssuer")));
}

#[test]
fn a_requested_certificate_is_optional_and_authorisation_is_the_application_s() {
    let pki = ClientPki::new();
    let lp = spawn_loop();
    let (_server, rx, url) = start(&lp, pki.server_config(false, false));
    // Without a certificate: accepted, no identity.
    let (_conn, _events) = connect(lp.handle(), &url, pki.client(None));
    assert!(matches!(seen(&rx), Seen::Upgrade(None)));
    assert!(matches!(seen(&rx), Seen::Open(None)));
    // Bob (valid, not revoked without a CRL) is refused by the application with 403.
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect(&url, pki.client(Some("bob")), recorder)
        .unwrap();
    assert!(matches!(seen(&rx), Seen::Upgrade(Some((s, _))) if s == "CN=bob,O=wsx"));
    let (_, status, _) = events.error();
    assert_eq!(status, Some(403));
}

#[test]
fn a_revoked_certificate_fails_with_the_crl() {
    let pki = ClientPki::new();
    let lp = spawn_loop();
    let (_server, rx, url) = start(&lp, pki.server_config(true, true));
    let (_conn, _events) = connect(lp.handle(), &url, pki.client(Some("alice")));
    assert!(matches!(seen(&rx), Seen::Upgrade(Some(_))));
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect(&url, pki.client(Some("bob")), recorder)
        .unwrap();
    events.error();
    loop {
        match seen(&rx) {
            Seen::Open(_) => continue,
            Seen::Error(ErrorKind::Tls, m) => {
                assert!(m.contains("Revoked"), "{m}");
                break;
            }
            other => panic!("expected bob's revocation, got {other:?}"),
        }
    }
    // A CRL file without a CRL fails when listening.
    let mut config = pki.server_config(true, false);
    config
        .tls
        .as_mut()
        .unwrap()
        .client_auth
        .as_mut()
        .unwrap()
        .crl_files = vec![pki.path("client-ca.pem")];
    let (tx, _rx) = channel();
    let error = lp
        .handle()
        .listen(config, Box::new(IdentityServer(tx)))
        .err()
        .expect("no CRL in the file");
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
}

/// A raw rustls client offering `protocols` by ALPN: the protocol the
/// server chose, or the handshake's failure.
fn alpn(pki: &Pki, port: u16, protocols: &[&[u8]]) -> Result<Option<Vec<u8>>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.cert.clone()).ok();
    let ca = std::fs::read(pki.dir.join("ca.pem")).unwrap();
    use rustls_pki_types::pem::PemObject;
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut session = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    while session.is_handshaking() {
        session.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    let chosen = session.alpn_protocol().map(<[u8]>::to_vec);
    // Then speak the upgrade over it.
    let mut stream = rustls::Stream::new(&mut session, &mut tcp);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 426");
    Ok(chosen)
}

#[test]
fn a_tls_server_speaks_alpn_http_1_1_only() {
    let pki = Pki::new();
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), pki.server_config());
    let port = echo.server.local_addr().port();
    // A browser offers h2 first: the server picks http/1.1.
    assert_eq!(
        alpn(&pki, port, &[b"h2", b"http/1.1"]),
        Ok(Some(b"http/1.1".to_vec()))
    );
    // No ALPN at all is fine (most WebSocket clients).
    assert_eq!(alpn(&pki, port, &[]), Ok(None));
    // HTTP/2 only: refused in the TLS handshake (no_application_protocol).
    let refused = alpn(&pki, port, &[b"h2"]).expect_err("h2 only");
    assert!(refused.contains("NoApplicationProtocol"), "{refused}");
}
