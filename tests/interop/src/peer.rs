//! Third-party WebSocket peers (Python `websockets`, Node `ws`, Chromium) as
//! child processes. They read JSON commands on stdin and write JSON events on
//! stdout, one per line; see `peers/peer.py`.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::paths;
use crate::process::Process;

/// How long any single event may take to arrive (Chromium starts in seconds).
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Events that only acknowledge a command or report progress; [`Peer::expect`]
/// passes over them unless asked for one.
const PROGRESS: [&str; 4] = ["sent", "page", "paused", "resumed"];

/// Which third-party implementation a peer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Python's `websockets`.
    Python,
    /// Node's `ws`.
    Node,
    /// A headless Chromium page driven by `playwright-core`.
    Chromium,
}

impl Kind {
    /// Starts a client peer; it connects on [`Peer::connect`].
    pub fn client(self) -> Peer {
        match self {
            Kind::Python => Peer::python("py_client.py", &[]),
            Kind::Node => Peer::node("node_client.js", &[]),
            Kind::Chromium => Peer::node("browser_client.js", &[]),
        }
    }

    /// Starts a server peer on 127.0.0.1 (or `--host`) with `args` (see
    /// `py_server.py`) and waits for its port.
    pub fn server(self, args: &[&str]) -> (Peer, u16) {
        let mut peer = match self {
            Kind::Python => Peer::python("py_server.py", args),
            Kind::Node => Peer::node("node_server.js", args),
            Kind::Chromium => panic!("a browser page cannot be a WebSocket server"),
        };
        let port = peer.wait_ready();
        (peer, port)
    }

    /// Whether the peer can send a message in several frames, send pings,
    /// set request headers and drop TCP without a close frame (a browser
    /// page can do none of these).
    pub fn is_scriptable(self) -> bool {
        self != Kind::Chromium
    }

    /// Whether the peer reports the pings it receives (`ws` does; the
    /// `websockets` API and the page API do not expose them).
    pub fn reports_pings(self) -> bool {
        self == Kind::Node
    }
}

/// A running peer.
pub struct Peer {
    process: Process,
}

impl Peer {
    /// Runs a Python peer script from `peers/` with the `websockets` venv.
    pub fn python(script: &str, args: &[&str]) -> Peer {
        let mut command = Command::new(paths::python());
        command.arg(paths::peers_dir().join(script)).args(args);
        command
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        Peer {
            process: Process::spawn(script, command, Duration::from_secs(5)),
        }
    }

    /// Runs a Node peer script from `peers/` with the interop `node_modules`.
    pub fn node(script: &str, args: &[&str]) -> Peer {
        let mut command = Command::new(paths::node());
        command.arg(paths::peers_dir().join(script)).args(args);
        command.env("NODE_PATH", paths::node_dir().join("node_modules"));
        Peer {
            process: Process::spawn(script, command, Duration::from_secs(5)),
        }
    }

    /// Reads the `ready PORT` line of a server peer.
    pub fn wait_ready(&mut self) -> u16 {
        let line = self.next_line();
        match line.strip_prefix("ready ").and_then(|p| p.parse().ok()) {
            Some(port) => port,
            None => self.fail(&format!("expected `ready PORT`, got {line:?}")),
        }
    }

    /// Sends one command.
    pub fn command(&mut self, command: Value) {
        let stdin = self.process.stdin();
        if let Err(e) = writeln!(stdin, "{command}").and_then(|()| stdin.flush()) {
            self.fail(&format!("cannot send {command}: {e}"));
        }
    }

    /// Connects a client peer to `url`; `options` may add `subprotocols`,
    /// `headers` ([[name, value], ...]), `origin` and `ca` (a PEM file).
    pub fn connect(&mut self, url: &str, options: Value) {
        let mut command = json!({"op": "connect", "url": url});
        if let Value::Object(extra) = options {
            command.as_object_mut().expect("object").extend(extra);
        }
        self.command(command);
    }

    /// The next event, whatever it is.
    pub fn next_event(&mut self) -> Value {
        let line = self.next_line();
        self.parse(&line)
    }

    fn parse(&mut self, line: &str) -> Value {
        serde_json::from_str(line)
            .unwrap_or_else(|e| self.fail(&format!("bad event line {line:?}: {e}")))
    }

    /// Like [`Peer::expect`], but only reads lines already written: `None`
    /// when there is none yet (for poll mode).
    pub fn try_expect(&mut self, ev: &str) -> Option<Value> {
        while let Some(line) = self.process.next_line(Duration::ZERO) {
            let event = self.parse(&line);
            if let Some(event) = self.check(event, ev) {
                return Some(event);
            }
        }
        None
    }

    /// The next event, which must be an `ev` event; progress events
    /// (`sent`, `page`) before it are passed over.
    pub fn expect(&mut self, ev: &str) -> Value {
        loop {
            let event = self.next_event();
            if let Some(event) = self.check(event, ev) {
                return event;
            }
        }
    }

    /// `event` if it is an `ev` event, `None` if it is a progress event to
    /// pass over; panics otherwise.
    fn check(&mut self, event: Value, ev: &str) -> Option<Value> {
        let name = event["ev"].as_str().unwrap_or_default();
        if name == ev {
            Some(event)
        } else if PROGRESS.contains(&name) {
            None
        } else {
            self.fail(&format!("expected a `{ev}` event, got {event}"))
        }
    }

    /// Panics with `what`, the peer's stderr and whether it exited.
    pub fn fail(&mut self, what: &str) -> ! {
        panic!("{what}\npeer {}", self.process.diagnostics())
    }

    fn next_line(&mut self) -> String {
        match self.process.next_line(EVENT_TIMEOUT) {
            Some(line) => line,
            None => self.fail(&format!("no output within {EVENT_TIMEOUT:?}")),
        }
    }
}

/// The value of the first header named `name` (case-insensitive) in an
/// event's `headers` list of [name, value] pairs.
pub fn header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event["headers"].as_array()?.iter().find_map(|pair| {
        let found = pair[0].as_str()?.eq_ignore_ascii_case(name);
        if found { pair[1].as_str() } else { None }
    })
}
