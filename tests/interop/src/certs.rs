//! Certificates made for one test with rcgen: a CA, a server certificate it
//! signs for `localhost`, and a look-alike signed by a CA nobody trusts.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;

/// The name the server certificates are issued for.
pub const HOST: &str = "localhost";

/// PEM files in a temporary directory removed on drop.
pub struct TestCerts {
    _dir: TempDir,
    /// The test CA's certificate: trust this one.
    pub ca: PathBuf,
    /// A certificate for [`HOST`] signed by the test CA.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// A certificate for [`HOST`] signed by another, untrusted CA.
    pub untrusted_cert: PathBuf,
    /// Its private key.
    pub untrusted_key: PathBuf,
}

impl TestCerts {
    /// Makes both CAs and both server certificates.
    pub fn new() -> TestCerts {
        let dir = tempfile::Builder::new()
            .prefix("wsx-certs-")
            .tempdir()
            .expect("temporary directory");
        let (ca, ca_key) = make_ca("wsx test CA");
        let (other_ca, other_key) = make_ca("wsx untrusted CA");
        let ca_file = write(dir.path(), "ca.pem", &ca.pem());
        let (cert, key) = issue(dir.path(), "server", &ca, &ca_key);
        let (untrusted_cert, untrusted_key) = issue(dir.path(), "untrusted", &other_ca, &other_key);
        TestCerts {
            _dir: dir,
            ca: ca_file,
            cert,
            key,
            untrusted_cert,
            untrusted_key,
        }
    }
}

impl Default for TestCerts {
    fn default() -> Self {
        TestCerts::new()
    }
}

fn make_ca(name: &str) -> (Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    (params.self_signed(&key).expect("self-signed CA"), key)
}

/// A certificate for [`HOST`] signed by `ca`; returns the certificate and key files.
fn issue(dir: &Path, stem: &str, ca: &Certificate, ca_key: &KeyPair) -> (PathBuf, PathBuf) {
    let mut params = CertificateParams::new(vec![HOST.to_owned()]).expect("server parameters");
    params.distinguished_name.push(DnType::CommonName, HOST);
    params.use_authority_key_identifier_extension = true;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("server key");
    let cert = params
        .signed_by(&key, ca, ca_key)
        .expect("signed server certificate");
    (
        write(dir, &format!("{stem}.pem"), &cert.pem()),
        write(dir, &format!("{stem}-key.pem"), &key.serialize_pem()),
    )
}

fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, pem).expect("write PEM file");
    path
}
