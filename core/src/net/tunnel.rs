//! Clients through a proxy: TLS to the proxy (for `https://` proxies), the
//! proxy's handshake, then the dial that goes on (TLS and WebSocket
//! handshakes with the target) inside the tunnel.

use super::dial::{Dial, ProxyHop};
use super::error::{Error, ErrorKind};
use super::proxy::{Progress, Tunnel};

/// A proxy handshake under way, and the dial that goes on inside the tunnel.
pub(super) struct TunnelDial {
    tunnel: Tunnel,
    hop: Box<ProxyHop>,
    dial: Box<Dial>,
}

/// Where a proxy handshake stands after the proxy's bytes.
pub(super) enum TunnelStep {
    /// More bytes from the proxy are needed (any reply is already queued).
    Pending(Box<TunnelDial>),
    /// The tunnel stands: the dial goes on inside it.
    Done(Box<Dial>),
}

impl TunnelDial {
    /// Starts the proxy's handshake for `dial`'s target; the bytes to send
    /// come back with it.
    pub fn start(hop: Box<ProxyHop>, dial: Box<Dial>) -> Result<(TunnelDial, Vec<u8>), Error> {
        let (tunnel, out) = Tunnel::start(&hop.config, &dial.url.host, dial.url.port)?;
        Ok((TunnelDial { tunnel, hop, dial }, out))
    }

    /// Bytes from the proxy; replies go to `out`.
    pub fn feed(mut self: Box<Self>, data: &[u8], out: &mut Vec<u8>) -> Result<TunnelStep, Error> {
        match self.tunnel.feed(data, out)? {
            Progress::Pending => Ok(TunnelStep::Pending(self)),
            Progress::Done(leftover) if !leftover.is_empty() => Err(Error::new(
                ErrorKind::Proxy,
                format!(
                    "the proxy {} sent data before the tunnel was used",
                    self.hop.config.authority()
                ),
            )),
            Progress::Done(_) => Ok(TunnelStep::Done(self.dial)),
        }
    }

    /// What to report when the proxy closes before the tunnel stands.
    pub fn eof_error(&self) -> Error {
        self.tunnel.eof_error(&self.hop.config)
    }

    /// A failure during the proxy's handshake (TLS to the proxy, I/O) names
    /// the proxy; the proxy's own answers already do.
    pub fn name_the_hop(&self, error: Error) -> Error {
        match error.kind() {
            ErrorKind::Proxy => error,
            kind => Error::new(
                kind,
                format!("proxy {}: {}", self.hop.config.authority(), error.message()),
            ),
        }
    }
}
