//! Where the broker is: a `redis://` or `rediss://` URL, parsed.

use percent_encoding::percent_decode_str;

use super::resp::Login;
use crate::net::error::{Error, ErrorKind};

/// The broker's address and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub login: Login,
}

fn bad(url: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "cluster url \"{url}\": {why} (expected redis://[[user]:password@]host[:port][/db] or rediss://...)"
        ),
    )
}

impl Target {
    /// Parses `redis://[[user]:password@]host[:port][/db]` (`rediss://` for TLS).
    pub fn parse(text: &str) -> Result<Target, Error> {
        let url = url::Url::parse(text).map_err(|e| bad(text, &e.to_string()))?;
        let tls = match url.scheme() {
            "redis" => false,
            "rediss" => true,
            _ => return Err(bad(text, "the scheme must be redis or rediss")),
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(bad(text, "no host")),
        };
        if host.is_empty() {
            return Err(bad(text, "no host"));
        }
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = Some(decode(url.username())).filter(|u| !u.is_empty());
        let password = url.password().map(decode);
        if user.is_some() && password.is_none() {
            return Err(bad(text, "a user needs a password"));
        }
        let db = match url.path().trim_start_matches('/') {
            "" => 0,
            db => db
                .parse::<u32>()
                .map_err(|_| bad(text, "the path must be a database number"))?,
        };
        Ok(Target {
            host,
            port: url.port().unwrap_or(6379),
            tls,
            login: Login {
                user,
                password,
                db,
                name: String::new(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("redis://127.0.0.1:7000").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("127.0.0.1", 7000, false));
        assert_eq!(t.login, Login::default());
        let t = Target::parse("rediss://app:p%40ss@cache.example:6380/3").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("cache.example", 6380, true)
        );
        assert_eq!(t.login.user.as_deref(), Some("app"));
        assert_eq!(t.login.password.as_deref(), Some("p@ss"));
        assert_eq!(t.login.db, 3);
        let t = Target::parse("redis://:secret@[::1]").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 6379));
        assert_eq!(
            (t.login.user, t.login.password.as_deref()),
            (None, Some("secret"))
        );
        for bad in [
            "http://x",
            "redis://",
            "redis://h/db",
            "nonsense",
            "redis://u@h",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
