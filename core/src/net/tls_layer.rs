//! TLS without I/O, in the peek/consume shape of [`crate::proto::engine`]:
//! encrypted bytes from the network go in, plaintext for the engine comes
//! out, and the engine's bytes go back as encrypted bytes for the network.
//! For programs that own their socket but want wsx's TLS (rustls) for
//! `wss://`.
//!
//! Nothing is cached process-wide: each layer builds its own rustls
//! configuration, and frees all of it with itself.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use super::config::{TlsClientConfig, TlsServerConfig};
use super::error::{Error, ErrorKind};
use super::tls::{build_client_config, build_server_config, server_name};

/// The most plaintext held for the engine before [`TlsLayer::feed`] takes
/// no more encrypted input.
const PLAINTEXT_LIMIT: usize = 256 * 1024;

/// A TLS session over a transport the caller drives.
pub struct TlsLayer {
    conn: rustls::Connection,
    /// Decrypted bytes waiting for the engine, from `plain_pos`.
    plain: Vec<u8>,
    plain_pos: usize,
    /// Encrypted bytes waiting for the network, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    /// The peer sent close_notify, or the transport ended.
    peer_closed: bool,
    /// We queued close_notify.
    closed: bool,
    /// The error that ended the session, if any.
    error: Option<String>,
}

impl std::fmt::Debug for TlsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsLayer")
            .field("handshaking", &self.conn.is_handshaking())
            .field("plaintext", &(self.plain.len() - self.plain_pos))
            .field("output", &(self.out.len() - self.out_pos))
            .finish()
    }
}

fn fresh_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsLayer {
    /// A client session to `host` (checked against the certificate, sent as
    /// SNI), with `options`' CA, client certificate and verification
    /// settings. The ClientHello is pending at once.
    pub fn client(options: &TlsClientConfig, host: &str) -> Result<TlsLayer, Error> {
        let config = build_client_config(options, fresh_provider())?;
        let conn = rustls::ClientConnection::new(config, server_name(host)?)
            .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS setup failed: {e}")))?;
        let mut layer = TlsLayer::new(conn.into());
        layer.flush_tls();
        Ok(layer)
    }

    /// A server session with the certificate chain and key of these PEM files.
    pub fn server(cert_file: PathBuf, key_file: PathBuf) -> Result<TlsLayer, Error> {
        let options = TlsServerConfig {
            cert_file,
            key_file,
            client_auth: None,
        };
        let config = build_server_config(&options, fresh_provider())?;
        let conn = rustls::ServerConnection::new(config)
            .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS setup failed: {e}")))?;
        Ok(TlsLayer::new(conn.into()))
    }

    fn new(conn: rustls::Connection) -> TlsLayer {
        TlsLayer {
            conn,
            plain: Vec::new(),
            plain_pos: 0,
            out: Vec::new(),
            out_pos: 0,
            peer_closed: false,
            closed: false,
            error: None,
        }
    }

    /// Feeds encrypted bytes from the network; returns how many were taken
    /// (fewer when decrypted bytes pile up: take them first), or the TLS
    /// error that ended the session (its alert is pending for the network).
    pub fn feed(&mut self, mut data: &[u8]) -> Result<usize, Error> {
        if let Some(error) = &self.error {
            return Err(Error::new(ErrorKind::Tls, error.clone()));
        }
        let total = data.len();
        while !data.is_empty() && self.plaintext().len() < PLAINTEXT_LIMIT && !self.peer_closed {
            let n = match self.conn.read_tls(&mut data) {
                Ok(n) => n,
                Err(e) => return Err(self.fail(e.to_string())),
            };
            if let Err(e) = self.conn.process_new_packets() {
                self.flush_tls();
                return Err(self.fail(e.to_string()));
            }
            self.read_plaintext();
            self.flush_tls();
            if n == 0 {
                break;
            }
        }
        Ok(total - data.len())
    }

    fn fail(&mut self, message: String) -> Error {
        let message = format!("TLS: {message}");
        self.error = Some(message.clone());
        Error::new(ErrorKind::Tls, message)
    }

    fn read_plaintext(&mut self) {
        if self.plain_pos == self.plain.len() {
            self.plain.clear();
            self.plain_pos = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.conn.reader().read(&mut chunk) {
                Ok(0) => {
                    self.peer_closed = true;
                    return;
                }
                Ok(n) => self.plain.extend_from_slice(&chunk[..n]),
                // WouldBlock: nothing more decrypted yet; an unexpected
                // EOF (no close_notify) shows when the transport ends.
                Err(_) => return,
            }
        }
    }

    fn flush_tls(&mut self) {
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        while self.conn.wants_write() {
            // Writing into a Vec cannot fail.
            if self.conn.write_tls(&mut self.out).is_err() {
                return;
            }
        }
    }

    /// The transport ended (EOF from the network).
    pub fn feed_eof(&mut self) {
        self.peer_closed = true;
    }

    /// Decrypted bytes for the engine (empty when none wait).
    pub fn plaintext(&self) -> &[u8] {
        &self.plain[self.plain_pos..]
    }

    /// Marks `n` decrypted bytes as taken.
    pub fn consume_plaintext(&mut self, n: usize) {
        self.plain_pos += n.min(self.plain.len() - self.plain_pos);
    }

    /// Encrypts the engine's bytes for the network; returns how many were
    /// taken (all, unless the session closed or failed).
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(error) = &self.error {
            return Err(Error::new(ErrorKind::Tls, error.clone()));
        }
        if self.closed {
            return Err(Error::new(ErrorKind::Closed, "TLS: close_notify was sent"));
        }
        // rustls buffers plaintext written during the handshake itself.
        let n = self
            .conn
            .writer()
            .write(data)
            .map_err(|e| self.fail(e.to_string()))?;
        self.flush_tls();
        Ok(n)
    }

    /// Encrypted bytes for the network (empty when none wait).
    pub fn output(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Marks `n` encrypted bytes as written to the network.
    pub fn consume_output(&mut self, n: usize) {
        self.out_pos += n.min(self.out.len() - self.out_pos);
        if self.out_pos == self.out.len() {
            self.flush_tls();
        }
    }

    /// Queues close_notify: nothing more may be written.
    pub fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.conn.send_close_notify();
            self.flush_tls();
        }
    }

    /// Whether the handshake is still under way.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether the peer closed its side (close_notify or transport EOF).
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_starts_with_a_client_hello_and_refuses_garbage() {
        let mut tls = TlsLayer::client(&TlsClientConfig::default(), "example.com").unwrap();
        assert!(tls.is_handshaking());
        assert_eq!(tls.output()[0], 0x16, "a handshake record");
        let n = tls.output().len();
        tls.consume_output(n);
        assert!(tls.output().is_empty());
        assert!(tls.feed(b"HTTP/1.1 400 Bad Request\r\n\r\n").is_err());
        assert!(tls.write(b"x").is_err());
    }
}
