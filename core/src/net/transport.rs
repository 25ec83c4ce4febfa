//! A connected socket, plain or wrapped in a rustls session, read and written
//! without blocking.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

use super::error::{Error, ErrorKind};

/// Most plaintext handed to rustls at once, so its buffers stay small.
const TLS_CHUNK: usize = 64 * 1024;

/// A TCP stream, with TLS when the URL or server asked for it.
pub(super) struct Transport {
    pub tcp: TcpStream,
    tls: Option<Box<rustls::Connection>>,
}

/// A rustls failure carried through `io::Error`, so callers can tell it apart.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TlsFailure(rustls::Error);

impl Transport {
    pub fn new(tcp: TcpStream, tls: Option<rustls::Connection>) -> Transport {
        Transport {
            tcp,
            tls: tls.map(Box::new),
        }
    }

    /// Wraps the stream in TLS from now on.
    pub fn start_tls(&mut self, session: rustls::Connection) {
        self.tls = Some(Box::new(session));
    }

    /// Reads plaintext: `Ok(0)` at the end of the stream, `WouldBlock` when
    /// nothing is there yet.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_deref_mut() else {
            return self.tcp.read(buf);
        };
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if tls.read_tls(&mut self.tcp)? == 0 {
                return Ok(0);
            }
            if let Err(e) = tls.process_new_packets() {
                // Send the alert that says why, if the socket takes it.
                let _ = flush_tls(tls, &mut self.tcp);
                return Err(io::Error::new(io::ErrorKind::InvalidData, TlsFailure(e)));
            }
            match flush_tls(tls, &mut self.tcp) {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
        }
    }

    /// Writes some of `data`, returning how much was taken (`WouldBlock` when
    /// none could be).
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_deref_mut() else {
            return self.tcp.write(data);
        };
        flush_tls(tls, &mut self.tcp)?;
        let n = tls.writer().write(&data[..data.len().min(TLS_CHUNK)])?;
        if n == 0 && !data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match flush_tls(tls, &mut self.tcp) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    /// Whether bytes taken by [`Transport::write`] (or TLS handshake
    /// messages) still wait for the socket.
    pub fn wants_write(&self) -> bool {
        self.tls.as_ref().is_some_and(|tls| tls.wants_write())
    }

    /// Writes what TLS still holds; `WouldBlock` if the socket is full.
    pub fn flush(&mut self) -> io::Result<()> {
        match self.tls.as_deref_mut() {
            Some(tls) => flush_tls(tls, &mut self.tcp),
            None => Ok(()),
        }
    }

    /// Ends our sending side: TLS close_notify (best effort), then TCP FIN.
    pub fn shutdown_write(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = flush_tls(tls, &mut self.tcp);
        }
        let _ = self.tcp.shutdown(Shutdown::Write);
    }
}

fn flush_tls(tls: &mut rustls::Connection, tcp: &mut TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        if tls.write_tls(tcp)? == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

/// The error to report for a failed read or write: TLS failures keep their
/// reason and kind.
pub(super) fn describe(context: &str, error: &io::Error) -> Error {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsFailure>())
    {
        Some(TlsFailure(tls)) => Error::new(ErrorKind::Tls, format!("TLS failed: {tls}")),
        None => Error::io(context, error),
    }
}
