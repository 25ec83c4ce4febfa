//! What the peers' echo servers share: the command line and the
//! `listening on HOST:PORT` line the bench runner waits for.

use std::io::Write;
use std::net::SocketAddr;

/// `--port P` from the command line (0, any free port, by default).
pub fn addr_from_args() -> Result<SocketAddr, String> {
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--port", Some(p)) => port = p.parse().map_err(|_| format!("bad port {p:?}"))?,
            _ => return Err("usage: SERVER [--port P]".into()),
        }
    }
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Tells the runner where the server listens.
pub fn announce(addr: SocketAddr) {
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
}
