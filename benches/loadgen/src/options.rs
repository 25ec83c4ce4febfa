//! Command line of the load generator.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::payload::Kind;

/// How to call it.
pub const USAGE: &str = "usage: loadgen --target ws://HOST:PORT/PATH|tcp://HOST:PORT \
[--conns N] [--inflight K] [--size S] [--kind binary|text|utf8] [--warmup SECS] \
[--duration SECS] [--server-pid PID] [--label NAME] [--idle N [--idle-echo 1]]";

/// Where the load goes.
pub enum Target {
    /// A WebSocket server: frames, masking, the opening handshake.
    Ws {
        addr: SocketAddr,
        host: String,
        path: String,
    },
    /// A raw-TCP echo: as many bytes as a client's frame, without framing.
    Tcp { addr: SocketAddr },
}

impl Target {
    /// The socket address to connect to.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Target::Ws { addr, .. } | Target::Tcp { addr } => *addr,
        }
    }

    fn parse(url: &str) -> Result<Target, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("target {url:?} has no scheme"))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr = host
            .to_socket_addrs()
            .map_err(|e| format!("target {url:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("target {url:?} resolves to nothing"))?;
        match scheme {
            "ws" => Ok(Target::Ws {
                addr,
                host: host.to_owned(),
                path: path.to_owned(),
            }),
            "tcp" => Ok(Target::Tcp { addr }),
            _ => Err(format!("target {url:?}: scheme must be ws or tcp")),
        }
    }
}

/// Everything the command line says.
pub struct Options {
    pub target: Target,
    pub conns: usize,
    pub inflight: usize,
    pub size: usize,
    pub kind: Kind,
    pub warmup: Duration,
    pub duration: Duration,
    pub server_pid: Option<u32>,
    pub label: String,
    pub idle: Option<usize>,
    /// In idle mode, echo one message on each connection before holding it.
    pub idle_echo: bool,
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: bad number {value:?}"))
}

fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(number(flag, value)?).map_err(|e| format!("{flag}: {e}"))
}

impl Options {
    /// Parses the arguments after the program name.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut target = None;
        let mut opts = Options {
            target: Target::Tcp {
                addr: ([127, 0, 0, 1], 0).into(),
            },
            conns: 1,
            inflight: 1,
            size: 20,
            kind: Kind::Binary,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(3),
            server_pid: None,
            label: String::new(),
            idle: None,
            idle_echo: false,
        };
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--target" => target = Some(Target::parse(&value)?),
                "--conns" => opts.conns = number(&flag, &value)?,
                "--inflight" => opts.inflight = number(&flag, &value)?,
                "--size" => opts.size = number(&flag, &value)?,
                "--kind" => opts.kind = Kind::parse(&value)?,
                "--warmup" => opts.warmup = seconds(&flag, &value)?,
                "--duration" => opts.duration = seconds(&flag, &value)?,
                "--server-pid" => opts.server_pid = Some(number(&flag, &value)?),
                "--label" => opts.label = value,
                "--idle" => opts.idle = Some(number(&flag, &value)?),
                "--idle-echo" => opts.idle_echo = number::<u8>(&flag, &value)? != 0,
                _ => return Err(format!("unknown option {flag:?}")),
            }
        }
        opts.target = target.ok_or("--target is required")?;
        if opts.conns == 0 || opts.inflight == 0 || opts.size == 0 {
            return Err("--conns, --inflight and --size must be at least 1".into());
        }
        if opts.label.contains(['"', '\\']) {
            return Err("--label must not contain quotes or backslashes".into());
        }
        Ok(opts)
    }
}
