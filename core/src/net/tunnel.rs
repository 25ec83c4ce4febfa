//! Clients through a proxy, in the loop: TLS to the proxy (for `https://`
//! proxies), the proxy's handshake, then the usual TLS and WebSocket
//! handshakes with the target inside the tunnel.

use super::client::ClientTls;
use super::config::TlsClientConfig;
use super::conn::{Dial, Phase};
use super::error::{Error, ErrorKind};
use super::proxy::{Progress, ProxyConfig, ProxyKind, Tunnel};
use super::reactor::Reactor;
use super::tls;

/// The proxy a client goes through.
#[derive(Clone)]
pub(super) struct ProxyHop {
    pub config: ProxyConfig,
    /// TLS to the proxy itself (`https://` proxies).
    pub tls: Option<ClientTls>,
}

impl ProxyHop {
    /// The hop to `config`; TLS to the proxy uses the client's TLS options.
    pub fn new(config: ProxyConfig, options: &TlsClientConfig) -> Result<ProxyHop, Error> {
        let tls = match config.kind {
            ProxyKind::Https => Some(ClientTls {
                config: tls::client_config(options)?,
                name: tls::server_name(&config.host)?,
            }),
            ProxyKind::Http | ProxyKind::Socks5 => None,
        };
        Ok(ProxyHop { config, tls })
    }
}

/// A proxy handshake under way, and the dial that goes on inside the tunnel.
pub(super) struct TunnelDial {
    tunnel: Tunnel,
    hop: Box<ProxyHop>,
    dial: Box<Dial>,
}

impl TunnelDial {
    /// What to report when the proxy closes before the tunnel stands.
    pub fn eof_error(&self) -> Error {
        self.tunnel.eof_error(&self.hop.config)
    }
}

/// A failure during the proxy's handshake (TLS to the proxy, I/O) says so;
/// the proxy's own answers already do.
pub(super) fn name_the_hop(phase: &Phase, error: Error) -> Error {
    match phase {
        Phase::Tunnel(t) if error.kind() != ErrorKind::Proxy => Error::new(
            error.kind(),
            format!("proxy {}: {}", t.hop.config.authority(), error.message()),
        ),
        _ => error,
    }
}

impl Reactor {
    /// TCP to the proxy stands: TLS to it if asked, then the first bytes of
    /// its handshake.
    pub fn start_tunnel(&mut self, slot: usize, mut dial: Box<Dial>, hop: Box<ProxyHop>) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Some(transport) = c.transport.as_mut() else {
            return;
        };
        if let Some(tls) = &hop.tls {
            match rustls::ClientConnection::new(tls.config.clone(), tls.name.clone()) {
                Ok(session) => transport.start_tls(session.into()),
                Err(e) => {
                    let message = format!("TLS setup for the proxy failed: {e}");
                    return self.fail(slot, Error::new(ErrorKind::Tls, message));
                }
            }
        }
        dial.proxy = None;
        match Tunnel::start(&hop.config, &dial.url.host, dial.url.port) {
            Ok((tunnel, out)) => {
                c.hs_out.extend_from_slice(&out);
                c.phase = Phase::Tunnel(Box::new(TunnelDial { tunnel, hop, dial }));
                self.mark_dirty(slot);
            }
            Err(error) => self.fail(slot, error),
        }
    }

    /// Bytes from the proxy during its handshake.
    pub fn tunnel_input(&mut self, slot: usize, data: &[u8]) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Phase::Tunnel(t) = &mut c.phase else {
            return;
        };
        let mut out = Vec::new();
        let progress = t.tunnel.feed(data, &mut out);
        c.hs_out.extend_from_slice(&out);
        match progress {
            Err(error) => self.fail(slot, error),
            Ok(Progress::Pending) => self.mark_dirty(slot),
            Ok(Progress::Done(leftover)) => {
                let Phase::Tunnel(t) = std::mem::replace(&mut c.phase, Phase::Waiting) else {
                    return;
                };
                if !leftover.is_empty() {
                    let message = format!(
                        "the proxy {} sent data before the tunnel was used",
                        t.hop.config.authority()
                    );
                    return self.fail(slot, Error::new(ErrorKind::Proxy, message));
                }
                self.start_handshake(slot, t.dial);
            }
        }
    }
}
