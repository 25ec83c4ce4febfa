//! A connected socket, plain or wrapped in a rustls session, read and written
//! without blocking.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use super::error::{Error, ErrorKind};
use super::socket::{Plain, Stream};

/// Most plaintext handed to rustls at once, so its buffers stay small.
const TLS_CHUNK: usize = 64 * 1024;

/// A TCP (or Unix domain) stream, with TLS when the URL or server asked
/// for it. Through a
/// proxy reached over TLS, the TLS to the target runs inside the TLS to the
/// proxy: two sessions, the inner one writing its records into the outer.
pub(super) struct Transport {
    pub stream: Stream,
    tls: Option<Box<rustls::Connection>>,
    /// The TLS to the target inside an outer TLS tunnel.
    inner: Option<Box<rustls::Connection>>,
}

/// A rustls failure carried through `io::Error`, so callers can tell it apart.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TlsFailure(rustls::Error);

/// The socket and the TLS over it: the byte stream an inner TLS session
/// runs on.
struct Outer<'a> {
    stream: &'a mut Stream,
    tls: Option<&'a mut rustls::Connection>,
}

impl Read for Outer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            Some(tls) => tls_read(tls, &mut Plain(self.stream), buf),
            None => Plain(self.stream).read(buf),
        }
    }
}

impl Write for Outer<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(data)])
    }

    fn write_vectored(&mut self, parts: &[IoSlice<'_>]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            Some(tls) => tls_write(tls, &mut Plain(self.stream), parts),
            None => Plain(self.stream).write_vectored(parts),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.tls.as_deref_mut() {
            Some(tls) => flush_tls(tls, &mut Plain(self.stream)),
            None => Ok(()),
        }
    }
}

impl Transport {
    pub fn new(stream: Stream, tls: Option<rustls::Connection>) -> Transport {
        Transport {
            stream,
            tls: tls.map(Box::new),
            inner: None,
        }
    }

    /// Wraps the stream in TLS from now on: over the socket, or inside the TLS
    /// already there (a tunnel through a proxy reached over TLS).
    pub fn start_tls(&mut self, session: rustls::Connection) {
        match self.tls {
            None => self.tls = Some(Box::new(session)),
            Some(_) => self.inner = Some(Box::new(session)),
        }
    }

    fn layers(&mut self) -> (Outer<'_>, Option<&mut rustls::Connection>) {
        let outer = Outer {
            stream: &mut self.stream,
            tls: self.tls.as_deref_mut(),
        };
        (outer, self.inner.as_deref_mut())
    }

    /// Reads plaintext: `Ok(0)` at the end of the stream, `WouldBlock` when
    /// nothing is there yet.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.layers() {
            (mut outer, Some(inner)) => tls_read(inner, &mut outer, buf),
            (mut outer, None) => outer.read(buf),
        }
    }

    /// Writes some of `data`, returning how much was taken (`WouldBlock` when
    /// none could be).
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(data)])
    }

    /// Writes some of `parts`, in order, returning how much was taken
    /// (`WouldBlock` when none could be).
    pub fn write_vectored(&mut self, parts: &[IoSlice<'_>]) -> io::Result<usize> {
        match self.layers() {
            (mut outer, Some(inner)) => tls_write(inner, &mut outer, parts),
            (mut outer, None) => outer.write_vectored(parts),
        }
    }

    /// The socket itself when no TLS wraps it: bytes written there go to
    /// the peer as they are.
    pub fn plain(&mut self) -> Option<&mut Stream> {
        match (&self.tls, &self.inner) {
            (None, None) => Some(&mut self.stream),
            _ => None,
        }
    }

    /// Whether bytes taken by [`Transport::write`] (or TLS handshake
    /// messages) still wait for the socket.
    pub fn wants_write(&self) -> bool {
        [&self.tls, &self.inner]
            .into_iter()
            .flatten()
            .any(|tls| tls.wants_write())
    }

    /// Writes what TLS still holds; `WouldBlock` if the socket is full.
    pub fn flush(&mut self) -> io::Result<()> {
        let (mut outer, inner) = self.layers();
        if let Some(inner) = inner {
            flush_tls(inner, &mut outer)?;
        }
        outer.flush()
    }

    /// The certificate chain the TLS peer presented (leaf first), if any.
    pub fn peer_certificates(&self) -> Option<Vec<Vec<u8>>> {
        let tls = self.inner.as_deref().or(self.tls.as_deref())?;
        let chain = tls.peer_certificates()?;
        Some(chain.iter().map(|cert| cert.as_ref().to_vec()).collect())
    }

    /// Ends our sending side: TLS close_notify (best effort), then the
    /// socket's (TCP FIN).
    pub fn shutdown_write(&mut self) {
        let (mut outer, inner) = self.layers();
        if let Some(inner) = inner {
            inner.send_close_notify();
            let _ = flush_tls(inner, &mut outer);
        }
        if let Some(tls) = outer.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = flush_tls(tls, &mut Plain(outer.stream));
        }
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Reads plaintext from `tls` over `io`, feeding it records as needed.
fn tls_read<S: Read + Write>(
    tls: &mut rustls::Connection,
    io: &mut S,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        match tls.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if tls.read_tls(io)? == 0 {
            return Ok(0);
        }
        if let Err(e) = tls.process_new_packets() {
            // Send the alert that says why, if the socket takes it.
            let _ = flush_tls(tls, io);
            return Err(io::Error::new(io::ErrorKind::InvalidData, TlsFailure(e)));
        }
        match flush_tls(tls, io) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
    }
}

/// Writes some plaintext into `tls` (at most [`TLS_CHUNK`] bytes) and what
/// records it can to `io`.
fn tls_write<S: Write>(
    tls: &mut rustls::Connection,
    io: &mut S,
    parts: &[IoSlice<'_>],
) -> io::Result<usize> {
    flush_tls(tls, io)?;
    let mut taken = 0;
    for part in parts {
        let want = &part[..part.len().min(TLS_CHUNK - taken)];
        let n = tls.writer().write(want)?;
        taken += n;
        if n < want.len() || taken == TLS_CHUNK {
            break;
        }
    }
    if taken == 0 && parts.iter().any(|p| !p.is_empty()) {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    match flush_tls(tls, io) {
        Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
        _ => Ok(taken),
    }
}

fn flush_tls<S: Write>(tls: &mut rustls::Connection, io: &mut S) -> io::Result<()> {
    while tls.wants_write() {
        if tls.write_tls(io)? == 0 {
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
