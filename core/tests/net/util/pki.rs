//! A CA and a certificate for `localhost` signed by it, as PEM files in a
//! directory of their own (removed on drop), for the TLS tests.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls_pki_types::CertificateDer;
use wsx_core::net::{ClientConfig, ServerConfig, TlsClientConfig, TlsServerConfig};

use super::{client_config, server_config};

pub struct Pki {
    /// Holds `ca.pem`, `cert.pem` and `key.pem`.
    pub dir: PathBuf,
    /// The leaf certificate, DER.
    pub cert: CertificateDer<'static>,
    /// The leaf's private key, PKCS #8 DER.
    pub key: Vec<u8>,
}

impl Pki {
    pub fn new() -> Pki {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wsx-net-pki-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");

        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "wsx test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA");

        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        let cert = params.signed_by(&key, &ca, &ca_key).expect("leaf");

        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
        std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write");
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write");
        Pki {
            dir,
            cert: cert.der().clone(),
            key: key.serialize_der(),
        }
    }

    /// A server on the certificate and key.
    pub fn server_config(&self) -> ServerConfig {
        let tls = TlsServerConfig {
            cert_file: self.dir.join("cert.pem"),
            key_file: self.dir.join("key.pem"),
            client_auth: None,
        };
        ServerConfig {
            tls: Some(tls),
            ..server_config()
        }
    }

    /// A client that trusts the CA.
    pub fn trusting_client(&self) -> ClientConfig {
        let tls = TlsClientConfig {
            ca_file: Some(self.dir.join("ca.pem")),
            ..TlsClientConfig::default()
        };
        ClientConfig {
            tls,
            ..client_config()
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
