//! Name resolution off the loop thread: one short-lived helper thread per
//! lookup, whose answer comes back through the command queue.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use super::error::{Error, ErrorKind};
use super::shared::{Command, ConnShared, LoopShared};

/// What resolving `host` gives without a lookup: an address literal, or a
/// failure for names that can never resolve.
pub(super) fn resolve_locally(host: &str, port: u16) -> Option<Result<Vec<SocketAddr>, Error>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(Ok(vec![SocketAddr::new(ip, port)]));
    }
    // RFC 6761 section 6.4: `.invalid` names never resolve; answer at once
    // instead of asking a resolver that may be unreachable.
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "invalid" || name.ends_with(".invalid") {
        return Some(Err(not_found(host, "the .invalid domain never resolves")));
    }
    None
}

/// Starts a lookup of `host` on a helper thread; the answer arrives as
/// [`Command::Resolved`].
pub(super) fn resolve_in_background(
    host: String,
    port: u16,
    conn: Arc<ConnShared>,
    shared: Arc<LoopShared>,
) -> Result<(), Error> {
    std::thread::Builder::new()
        .name("wsx-dns".to_owned())
        .spawn(move || {
            let result = match (host.as_str(), port).to_socket_addrs() {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    if addrs.is_empty() {
                        Err(not_found(&host, "no addresses"))
                    } else {
                        Ok(addrs)
                    }
                }
                Err(e) => Err(not_found(&host, &e.to_string())),
            };
            // The loop may be gone by now; then nobody waits for the answer.
            let _ = shared.push(Command::Resolved { conn, result });
        })
        .map(|_| ())
        .map_err(|e| Error::io("could not start a name-resolution thread", &e))
}

fn not_found(host: &str, detail: &str) -> Error {
    Error::new(
        ErrorKind::Dns,
        format!(
            "could not resolve host name \"{}\": {detail}",
            host.escape_debug()
        ),
    )
}
