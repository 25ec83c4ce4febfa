//! The proxy the standard environment variables ask for: `https_proxy` for
//! `wss://`, `http_proxy` for `ws://`, `all_proxy` for either (lower case
//! first, then upper case), unless `no_proxy` exempts the host.

use std::net::IpAddr;

use super::error::Error;
use super::proxy::ProxyConfig;
use crate::proto::WsUrl;

impl ProxyConfig {
    /// The proxy the environment sets for `url` (a `ws://` or `wss://`
    /// URL), or `None` when none is set or `no_proxy` exempts the host.
    pub fn from_env(url: &str) -> Result<Option<ProxyConfig>, Error> {
        let url = WsUrl::parse(url)?;
        for_url(&url, |name| std::env::var(name).ok())
    }
}

/// The proxy for `url` given a way to read variables (tests pass their own).
pub(super) fn for_url(
    url: &WsUrl,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyConfig>, Error> {
    let get = |name: &str| {
        var(name)
            .or_else(|| var(&name.to_ascii_uppercase()))
            .filter(|v| !v.trim().is_empty())
    };
    let scheme_var = if url.secure {
        "https_proxy"
    } else {
        "http_proxy"
    };
    let Some(proxy) = get(scheme_var).or_else(|| get("all_proxy")) else {
        return Ok(None);
    };
    if get("no_proxy").is_some_and(|list| exempt(&list, &url.host, url.port)) {
        return Ok(None);
    }
    ProxyConfig::parse(proxy.trim()).map(Some)
}

/// Whether `no_proxy` (entries separated by commas or spaces) exempts
/// `host:port`. An entry is `*` (everything), a name that matches itself and
/// its subdomains (a leading `.` or `*.` changes nothing), an IP address,
/// or a CIDR block, each optionally with `:port`.
pub(super) fn exempt(list: &str, host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip = host.parse::<IpAddr>().ok();
    list.split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| entry == "*" || matches(entry, &host, ip, port))
}

fn matches(entry: &str, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    let (pattern, entry_port) = split_port(entry);
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    let pattern = pattern.to_ascii_lowercase();
    if let Some((net, bits)) = pattern.split_once('/') {
        return match (net.parse::<IpAddr>(), bits.parse::<u8>(), ip) {
            (Ok(net), Ok(bits), Some(ip)) => in_block(ip, net, bits),
            _ => false,
        };
    }
    if let (Ok(pattern_ip), Some(ip)) = (pattern.parse::<IpAddr>(), ip) {
        return pattern_ip == ip;
    }
    let suffix = pattern.trim_start_matches('*').trim_start_matches('.');
    let suffix = suffix.trim_end_matches('.');
    !suffix.is_empty()
        && (host == suffix
            || host
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('.')))
}

/// `pattern` and its port: `host:port`, `[v6]:port`, or a bare IPv6 address.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return (entry, None);
        };
        return (ip, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ProxyKind;

    fn lookup(vars: &[(&str, &str)], url: &str) -> Option<ProxyConfig> {
        let url = WsUrl::parse(url).unwrap();
        let var = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        for_url(&url, var).unwrap()
    }

    #[test]
    fn picks_the_variable_by_scheme() {
        let vars = [
            ("https_proxy", "http://secure:1"),
            ("HTTP_PROXY", "http://plain:2"),
            ("all_proxy", "socks5://any:3"),
        ];
        assert_eq!(lookup(&vars, "wss://h/").unwrap().host, "secure");
        assert_eq!(lookup(&vars, "ws://h/").unwrap().host, "plain");
        let only_all = lookup(&vars[2..], "ws://h/").unwrap();
        assert_eq!((only_all.kind, only_all.port), (ProxyKind::Socks5, 3));
        assert_eq!(lookup(&[], "ws://h/"), None);
        assert_eq!(lookup(&[("http_proxy", " ")], "ws://h/"), None);
    }

    #[test]
    fn no_proxy_exempts_hosts() {
        let vars = [
            ("all_proxy", "http://p:1"),
            ("NO_PROXY", "example.com, .corp:8080"),
        ];
        assert_eq!(lookup(&vars, "ws://api.example.com/"), None);
        assert!(lookup(&vars, "ws://notexample.com/").is_some());
        assert_eq!(lookup(&vars, "ws://a.corp:8080/"), None);
        assert!(lookup(&vars, "ws://a.corp:9090/").is_some());
    }

    #[test]
    fn no_proxy_entries() {
        assert!(exempt("*", "anything", 1));
        assert!(exempt("localhost", "LOCALHOST.", 80));
        assert!(exempt("*.example.com", "a.example.com", 80));
        assert!(!exempt("example.com", "example.org", 80));
        assert!(exempt("127.0.0.1", "127.0.0.1", 80));
        assert!(!exempt("127.0.0.1", "127.0.0.2", 80));
        assert!(exempt("10.0.0.0/8", "10.200.1.1", 80));
        assert!(!exempt("10.0.0.0/8", "11.0.0.1", 80));
        assert!(exempt("::1", "::1", 80));
        assert!(exempt("[::1]:80", "::1", 80));
        assert!(!exempt("[::1]:80", "::1", 81));
        assert!(exempt("fd00::/8", "fd12::1", 80));
        assert!(exempt("0.0.0.0/0", "1.2.3.4", 80));
        assert!(!exempt("", "h", 1));
    }
}
