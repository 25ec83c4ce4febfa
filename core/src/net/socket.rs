//! A connected socket, TCP or (where the system has them) a Unix domain
//! socket, as a byte stream whose writes never raise SIGPIPE.
//!
//! On Unix, writing to a connection the peer has reset raises SIGPIPE, and
//! its default action ends the process: Rust programs and Python ignore it,
//! but C and C++ programs linking wsx usually do not. So writes go out with
//! `MSG_NOSIGNAL` where the system has it; Apple systems instead get
//! `SO_NOSIGPIPE` on every socket from mio, and Windows has no signals.
//! Either way a write to a reset connection fails with an error.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::peer::PeerAddr;

/// A connected (or connecting) socket.
pub(super) enum Stream {
    Tcp(TcpStream),
    /// A Unix domain socket (see [`super::unix`]).
    #[cfg(unix)]
    Unix(mio::net::UnixStream),
}

impl From<TcpStream> for Stream {
    fn from(tcp: TcpStream) -> Stream {
        Stream::Tcp(tcp)
    }
}

impl Stream {
    /// TCP_NODELAY on a TCP socket; a Unix domain socket has no Nagle delay.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(tcp) => tcp.set_nodelay(on),
            #[cfg(unix)]
            Stream::Unix(_) => Ok(()),
        }
    }

    /// The pending socket error (a failed non-blocking connect's).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(tcp) => tcp.take_error(),
            #[cfg(unix)]
            Stream::Unix(unix) => unix.take_error(),
        }
    }

    /// The peer's address; `NotConnected` while a connect is under way.
    pub fn peer_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Stream::Tcp(tcp) => tcp.peer_addr().map(PeerAddr::Ip),
            #[cfg(unix)]
            Stream::Unix(unix) => unix.peer_addr().map(|a| PeerAddr::from(&a)),
        }
    }

    /// Shuts down the reading, writing or both halves.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(tcp) => tcp.shutdown(how),
            #[cfg(unix)]
            Stream::Unix(unix) => unix.shutdown(how),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(tcp) => tcp.register(registry, token, interest),
            #[cfg(unix)]
            Stream::Unix(unix) => unix.register(registry, token, interest),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(tcp) => tcp.reregister(registry, token, interest),
            #[cfg(unix)]
            Stream::Unix(unix) => unix.reregister(registry, token, interest),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(tcp) => tcp.deregister(registry),
            #[cfg(unix)]
            Stream::Unix(unix) => unix.deregister(registry),
        }
    }
}

/// A stream read and written as it is; writes raise no SIGPIPE.
pub(super) struct Plain<'a>(pub &'a mut Stream);

impl Read for Plain<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0 {
            Stream::Tcp(tcp) => tcp.read(buf),
            #[cfg(unix)]
            Stream::Unix(unix) => unix.read(buf),
        }
    }
}

impl Write for Plain<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(data)])
    }

    fn write_vectored(&mut self, parts: &[IoSlice<'_>]) -> io::Result<usize> {
        send_vectored(self.0, parts)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(all(unix, not(target_vendor = "apple")))]
fn send_vectored(stream: &Stream, parts: &[IoSlice<'_>]) -> io::Result<usize> {
    let socket = match stream {
        Stream::Tcp(tcp) => socket2::SockRef::from(tcp),
        Stream::Unix(unix) => socket2::SockRef::from(unix),
    };
    match parts {
        // `send` costs the kernel less than `sendmsg` with one piece.
        [one] => socket.send_with_flags(one, libc::MSG_NOSIGNAL),
        _ => socket.send_vectored_with_flags(parts, libc::MSG_NOSIGNAL),
    }
}

#[cfg(not(all(unix, not(target_vendor = "apple"))))]
fn send_vectored(stream: &mut Stream, parts: &[IoSlice<'_>]) -> io::Result<usize> {
    match stream {
        Stream::Tcp(tcp) => tcp.write_vectored(parts),
        #[cfg(unix)]
        Stream::Unix(unix) => unix.write_vectored(parts),
    }
}
