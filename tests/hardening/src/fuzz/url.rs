//! Fuzz body: the `ws://` / `wss://` URL parser ([`WsUrl::parse`]) and the
//! proxy URL parser ([`ProxyConfig::parse`]) on arbitrary text.
//!
//! The oracle: a URL that parses formats back to a URL that parses to the
//! same thing (so what a client prints and what it dials agree), with a port,
//! a host and an absolute resource that fit in a request line.

use wsx_core::net::ProxyConfig;
use wsx_core::proto::WsUrl;

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(url) = WsUrl::parse(&text) {
        assert_ne!(url.port, 0, "{text:?}");
        assert!(!url.host.is_empty(), "{text:?}: no host");
        assert!(
            url.resource.starts_with('/'),
            "{text:?}: resource {:?}",
            url.resource
        );
        for field in [&url.host, &url.resource] {
            assert!(
                !field.bytes().any(|b| b.is_ascii_control() || b == b' '),
                "{text:?}: {field:?} would break the request line"
            );
        }
        let again = WsUrl::parse(&url.to_string())
            .unwrap_or_else(|e| panic!("{text:?} formats as {url} which fails: {e}"));
        assert_eq!(again, url, "{text:?} formats as {url}");
        assert!(!url.host_header().is_empty());
    }
    if let Ok(proxy) = ProxyConfig::parse(&text) {
        assert!(!proxy.host.is_empty(), "{text:?}: proxy without a host");
        assert!(!format!("{proxy:?}").contains("password"));
    }
}
