//! The TCP socket as a byte stream whose writes never raise SIGPIPE.
//!
//! On Unix, writing to a connection the peer has reset raises SIGPIPE, and
//! its default action ends the process: Rust programs and Python ignore it,
//! but C and C++ programs linking wsx usually do not. So writes go out with
//! `MSG_NOSIGNAL` where the system has it; Apple systems instead get
//! `SO_NOSIGPIPE` on every socket from mio, and Windows has no signals.
//! Either way a write to a reset connection fails with an error.

use std::io::{self, IoSlice, Read, Write};

use mio::net::TcpStream;

/// A TCP stream read and written as it is; writes raise no SIGPIPE.
pub(super) struct Plain<'a>(pub &'a mut TcpStream);

impl Read for Plain<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
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
fn send_vectored(tcp: &TcpStream, parts: &[IoSlice<'_>]) -> io::Result<usize> {
    let socket = socket2::SockRef::from(tcp);
    match parts {
        // `send` costs the kernel less than `sendmsg` with one piece.
        [one] => socket.send_with_flags(one, libc::MSG_NOSIGNAL),
        _ => socket.send_vectored_with_flags(parts, libc::MSG_NOSIGNAL),
    }
}

#[cfg(not(all(unix, not(target_vendor = "apple"))))]
fn send_vectored(mut tcp: &TcpStream, parts: &[IoSlice<'_>]) -> io::Result<usize> {
    tcp.write_vectored(parts)
}
