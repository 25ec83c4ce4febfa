//! `connect(resolver=...)`: a Python callable resolving host names in place
//! of the system resolver, as the core's [`Resolver`]. It runs on the core's
//! resolver helper threads (taking the GIL there, never on the loop thread).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::prelude::*;
use wsx_core::net::Resolver;

/// The core's resolver calling `hook(host, port)`, which returns a list of
/// `(ip, port)` pairs (the `wsx` package makes it from the application's
/// resolver). What it raises fails the lookup with its message.
pub fn resolver(hook: Py<PyAny>) -> Resolver {
    Resolver::new(move |host, port| {
        // Python may be finalizing: then no answer, not a dead helper thread.
        catch_unwind(AssertUnwindSafe(|| {
            Python::attach(|py| {
                let pairs: Vec<(String, u16)> = hook
                    .call1(py, (host, port))
                    .and_then(|out| out.extract(py))
                    .map_err(|e| io::Error::other(e.value(py).to_string()))?;
                pairs.iter().map(|(ip, port)| address(ip, *port)).collect()
            })
        }))
        .unwrap_or_else(|_| Err(io::Error::other("the Python resolver could not run")))
    })
}

fn address(ip: &str, port: u16) -> io::Result<SocketAddr> {
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, port))
        .map_err(|_| io::Error::other(format!("the resolver gave {ip:?}, not an IP address")))
}
