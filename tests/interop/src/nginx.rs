//! nginx as a WebSocket reverse proxy on 127.0.0.1 (to a TCP port or a Unix
//! domain socket), with its own prefix, configuration, pid file and logs in
//! a temporary directory.

use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::paths;
use crate::process::{Process, free_port};

/// How long nginx may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at a free port (another process may take the one picked).
const ATTEMPTS: usize = 3;

/// A running nginx; dropping it kills it by its pid.
pub struct Nginx {
    // Declared first: the process stops before its prefix is removed.
    _process: Process,
    _prefix: TempDir,
    port: u16,
}

impl Nginx {
    /// Starts nginx proxying every path of its port to `upstream`, as
    /// `proxy_pass http://` takes it: `127.0.0.1:PORT`, or `unix:/PATH:` for
    /// a Unix domain socket.
    pub fn proxy_to(upstream: &str) -> Nginx {
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            match Nginx::try_start(upstream) {
                Ok(nginx) => return nginx,
                Err(why) => failures.push(why),
            }
        }
        panic!("nginx did not start:\n{}", failures.join("\n---\n"))
    }

    /// The port nginx listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn try_start(upstream: &str) -> Result<Nginx, String> {
        let prefix = tempfile::Builder::new()
            .prefix("wsx-nginx-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let port = free_port();
        let conf = prefix.path().join("nginx.conf");
        fs::write(&conf, config(prefix.path(), port, upstream)).map_err(|e| e.to_string())?;
        let mut command = Command::new(paths::nginx());
        command.arg("-p").arg(prefix.path()).arg("-c").arg(&conf);
        command.arg("-e").arg(prefix.path().join("error.log"));
        let mut process = Process::spawn("nginx", command, Duration::ZERO);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Nginx {
                    _process: process,
                    _prefix: prefix,
                    port,
                });
            }
            if process.has_exited() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let log = fs::read_to_string(prefix.path().join("error.log")).unwrap_or_default();
        Err(format!("{}\nerror.log:\n{log}", process.diagnostics()))
    }
}

/// One process (no master, so its pid is all there is to stop), in the
/// foreground, every file under `prefix`.
fn config(prefix: &Path, port: u16, upstream: &str) -> String {
    let p = prefix.display();
    let user = if running_as_root() {
        "user root;\n"
    } else {
        ""
    };
    format!(
        r#"{user}daemon off;
master_process off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {p}/access.log;
    client_body_temp_path {p}/client_body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering off;
        }}
    }}
}}
"#
    )
}

/// nginx wants `user root;` to run as root (as in CI containers).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}
