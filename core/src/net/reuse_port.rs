//! `SO_REUSEPORT`: several listening sockets, in one process or several,
//! bound to one TCP port, the kernel spreading new connections among them.
//! Linux, macOS, the BSDs and the other Unix systems that have the option;
//! elsewhere [`SUPPORTED`] is false and the option is refused when
//! validated ("not supported on this platform").

/// Whether this platform has `SO_REUSEPORT`.
pub(super) const SUPPORTED: bool = cfg!(all(
    unix,
    not(any(
        target_os = "solaris",
        target_os = "illumos",
        target_os = "cygwin"
    ))
));

/// Whether `SO_REUSEPORT` spreads new connections evenly over the sockets
/// sharing a port (by a hash of the addresses): Linux's does; the BSDs'
/// and macOS's hand them all to one socket.
pub(super) const BALANCES: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Binds a listener on `addr` with `SO_REUSEPORT` (and `SO_REUSEADDR`, as
/// mio's own bind sets on Unix), backlog 1024.
#[cfg(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
))]
pub(super) fn bind(addr: std::net::SocketAddr) -> std::io::Result<mio::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

/// No `SO_REUSEPORT` here (validation refuses the option before this).
#[cfg(not(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
)))]
pub(super) fn bind(_addr: std::net::SocketAddr) -> std::io::Result<mio::net::TcpListener> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "SO_REUSEPORT is not supported on this platform",
    ))
}
