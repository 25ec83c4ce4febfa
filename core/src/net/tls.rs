//! rustls configurations of clients and servers, from the PEM files named in
//! the options.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};

use super::config::{ClientAuth, TlsClientConfig, TlsServerConfig};
use super::error::{Error, ErrorKind};

/// TLS settings of one client connection: the configuration and the name the
/// certificate must match (also sent as SNI).
#[derive(Clone)]
pub(super) struct ClientTls {
    pub config: Arc<rustls::ClientConfig>,
    pub name: ServerName<'static>,
}

impl ClientTls {
    /// The settings for a connection to `host` with the client's options.
    pub fn new(options: &TlsClientConfig, host: &str) -> Result<ClientTls, Error> {
        Ok(ClientTls {
            config: client_config(options)?,
            name: server_name(host)?,
        })
    }

    /// The same settings for a connection to another host.
    pub fn for_host(&self, host: &str) -> Result<ClientTls, Error> {
        Ok(ClientTls {
            config: self.config.clone(),
            name: server_name(host)?,
        })
    }
}

pub(super) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn tls_error(context: &str, error: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Tls, format!("{context}: {error}"))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{}: no PEM certificate in the file", path.display()),
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

fn pem_error(path: &Path, error: rustls_pki_types::pem::Error) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("{}: {error}", path.display()),
    )
}

/// The client configuration for `options`: verification against the Mozilla
/// roots plus the extra CA unless explicitly disabled, and the client
/// certificate if one is given. The common default is built once.
pub(super) fn client_config(options: &TlsClientConfig) -> Result<Arc<rustls::ClientConfig>, Error> {
    static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if *options == TlsClientConfig::default() {
        if let Some(config) = DEFAULT.get() {
            return Ok(config.clone());
        }
        let config = build_client_config(options, provider())?;
        return Ok(DEFAULT.get_or_init(|| config).clone());
    }
    build_client_config(options, provider())
}

/// A client configuration built afresh with `provider` (nothing cached).
pub(super) fn build_client_config(
    options: &TlsClientConfig,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let algorithms = provider.signature_verification_algorithms;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("TLS setup failed", e))?;
    let builder = if options.danger_disable_verification {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(algorithms)))
    } else {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = &options.ca_file {
            for cert in read_certs(path)? {
                roots
                    .add(cert)
                    .map_err(|e| tls_error(&format!("CA certificate in {}", path.display()), e))?;
            }
        }
        builder.with_root_certificates(roots)
    };
    let config = match &options.client_cert {
        Some((cert, key)) => builder
            .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
            .map_err(|e| tls_error("client certificate refused", e))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The server configuration: the certificate chain and key from PEM files,
/// client certificates verified against the client CA (and CRLs) if asked
/// for, and ALPN `http/1.1` only (a WebSocket upgrade is HTTP/1.1; a browser
/// offering `h2` must not pick HTTP/2 here).
pub(super) fn server_config(options: &TlsServerConfig) -> Result<Arc<rustls::ServerConfig>, Error> {
    build_server_config(options, provider())
}

/// A server configuration built afresh with `provider` (nothing cached).
pub(super) fn build_server_config(
    options: &TlsServerConfig,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("TLS setup failed", e))?;
    let builder = match &options.client_auth {
        None => builder.with_no_client_auth(),
        Some(auth) => builder.with_client_cert_verifier(client_verifier(auth)?),
    };
    let mut config = builder
        .with_single_cert(
            read_certs(&options.cert_file)?,
            read_key(&options.key_file)?,
        )
        .map_err(|e| tls_error("server certificate or key refused", e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The verifier of client certificates for mutual TLS.
fn client_verifier(auth: &ClientAuth) -> Result<Arc<dyn ClientCertVerifier>, Error> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(&auth.ca_file)? {
        roots.add(cert).map_err(|e| {
            tls_error(
                &format!("client CA certificate in {}", auth.ca_file.display()),
                e,
            )
        })?;
    }
    let mut crls = Vec::new();
    for path in &auth.crl_files {
        let found = CertificateRevocationListDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|e| pem_error(path, e))?;
        if found.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{}: no PEM certificate revocation list in the file",
                    path.display()
                ),
            ));
        }
        crls.extend(found);
    }
    let mut builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    if !crls.is_empty() {
        builder = builder.with_crls(crls);
    }
    if !auth.required {
        builder = builder.allow_unauthenticated();
    }
    builder
        .build()
        .map_err(|e| tls_error("client certificate verification setup failed", e))
}

/// The name a client checks the server's certificate against (and sends as SNI).
pub(super) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("\"{host}\" is not a valid TLS server name: {e}"),
        )
    })
}

/// Accepts any certificate for any name; signatures are still checked so the
/// handshake itself stays sound. Only for
/// [`TlsClientConfig::danger_disable_verification`].
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
