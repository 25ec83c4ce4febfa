//! Unix domain sockets: a server listening on a path, a client connecting
//! to one. Only on Unix systems; elsewhere the options that ask for them
//! are refused when validated.
//!
//! The socket file is created with the permissions the process's umask
//! leaves (wsx changes none: set the umask, or the directory's permissions,
//! to say who may connect), and removed when the server closes, unless
//! another socket has taken its place by then.
//!
//! A file already at the path is never removed silently: a server that
//! crashed leaves its socket behind, and a second server started by mistake
//! must not steal the first one's clients. `bind` refuses with an error
//! that says which of these it found; with `remove_stale`, a socket that no
//! server accepts on (a connect is refused) is removed and the bind goes on.
//! A live server's socket, and any file that is not a socket, are never
//! removed.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use mio::event::Source;
use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use super::error::{Error, ErrorKind};
use super::peer::PeerAddr;
use super::socket::Stream;

/// Starts a non-blocking connect to the socket at `path`.
pub(super) fn connect(path: &Path) -> io::Result<Stream> {
    UnixStream::connect(path).map(Stream::Unix)
}

/// A listening Unix domain socket; dropping it removes its file.
pub(super) struct SocketListener {
    listener: UnixListener,
    path: PathBuf,
    /// The file's device and inode, to remove only the file we created.
    file: (u64, u64),
}

impl SocketListener {
    /// Accepts a waiting connection.
    pub fn accept(&self) -> io::Result<(Stream, PeerAddr)> {
        let (stream, addr) = self.listener.accept()?;
        Ok((Stream::Unix(stream), PeerAddr::from(&addr)))
    }

    /// The path it listens on.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketListener {
    fn drop(&mut self) {
        if file_id(&self.path).is_ok_and(|id| id == self.file) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Source for SocketListener {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.listener.register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.listener.reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.listener.deregister(registry)
    }
}

fn file_id(path: &Path) -> io::Result<(u64, u64)> {
    let meta = fs::symlink_metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// Listens on `path`; see the module's documentation for a file already there.
pub(super) fn bind(path: &Path, remove_stale: bool) -> Result<SocketListener, Error> {
    let target = format!("unix:{}", path.display());
    let listener = match UnixListener::bind(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            let in_use = |why: &str| {
                Error::new(
                    ErrorKind::Io,
                    format!("could not listen on {target}: {why}"),
                )
                .with_os_error(e.raw_os_error())
            };
            match what_is_at(path) {
                Occupant::Stale if remove_stale => {
                    fs::remove_file(path)
                        .map_err(|e| Error::io(&format!("could not remove {target}"), &e))?;
                    UnixListener::bind(path)
                }
                Occupant::Stale => {
                    return Err(in_use(
                        "a stale socket file is in the way (no server accepts on it: left by a \
                         server that did not close?); remove it, or set the server's option to \
                         remove stale sockets",
                    ));
                }
                Occupant::Live => return Err(in_use("another server is listening on it")),
                Occupant::NotSocket => {
                    return Err(in_use("a file that is not a socket is in the way"));
                }
            }
        }
        other => other,
    }
    .map_err(|e| Error::io(&format!("could not listen on {target}"), &e))?;
    let file = file_id(path).map_err(|e| Error::io(&format!("could not read {target}"), &e))?;
    Ok(SocketListener {
        listener,
        path: path.to_owned(),
        file,
    })
}

/// What holds a path a bind found in use.
enum Occupant {
    /// A socket no server accepts on: a connect is refused.
    Stale,
    /// A socket a server accepts on (or that could not be probed).
    Live,
    /// Any other kind of file.
    NotSocket,
}

fn what_is_at(path: &Path) -> Occupant {
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => Occupant::NotSocket,
        _ => match UnixStream::connect(path) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Occupant::Stale,
            _ => Occupant::Live,
        },
    }
}
