//! The soak: connect/echo/close cycles and pipelined messages against an
//! echo server process, with its memory and file descriptors sampled from
//! `/proc` before and after.

use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::memory::{fds_of, rss_of};
use crate::peer::{Ending, RawPeer, frame, op};

/// Long enough for any single step; only a hung server waits it out.
const PATIENCE: Duration = Duration::from_secs(30);
/// Messages in flight per connection: far below any send-queue mark.
const WINDOW: usize = 256;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Connect/echo/close cycles.
    pub cycles: usize,
    /// Messages echoed over long-lived connections.
    pub messages: usize,
    /// Long-lived connections the messages are spread over.
    pub connections: usize,
    /// Threads running cycles in parallel.
    pub threads: usize,
}

/// An echo server process that prints `listening on HOST:PORT`.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Lines it wrote to stderr (each a reported error, but the shutdown notice).
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `program` with `args` and waits for its address.
    pub fn start(program: &str, args: &[String]) -> io::Result<ServerProcess> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            return Err(io::Error::other(format!("{program} printed {line:?}")));
        };
        let addr = addr.parse().map_err(io::Error::other)?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().expect("stderr lines").push(line);
            }
        });
        Ok(ServerProcess {
            child,
            addr,
            stderr,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks it to shut down (SIGTERM) and waits; returns whether it exited 0.
    pub fn stop(mut self) -> io::Result<bool> {
        #[cfg(unix)]
        {
            // SAFETY: signalling our own child by its pid.
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        }
        #[cfg(not(unix))]
        self.child.kill()?;
        Ok(self.child.wait()?.success())
    }
}

/// Memory and descriptors of the server at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Resident set size, bytes.
    pub rss: usize,
    /// Open file descriptors.
    pub fds: usize,
}

/// Samples process `pid` (zeros where `/proc` is missing).
pub fn sample(pid: u32) -> Sample {
    Sample {
        rss: rss_of(pid).unwrap_or(0),
        fds: fds_of(pid).unwrap_or(0),
    }
}

/// One connect, handshake, echo, close handshake, EOF.
fn cycle(addr: SocketAddr, n: usize) -> io::Result<()> {
    let mut peer = RawPeer::connect(addr, PATIENCE)?;
    let payload = format!("cycle {n}");
    if peer.echo(op::TEXT, payload.as_bytes())? != payload.as_bytes() {
        return Err(io::Error::other("wrong echo"));
    }
    peer.close(1000)?;
    match peer.ending()? {
        Ending::Close(1000) => Ok(()),
        other => Err(io::Error::other(format!("ended with {other:?}"))),
    }
}

/// Runs `count` cycles on `threads` threads; returns the errors.
pub fn run_cycles(addr: SocketAddr, count: usize, threads: usize) -> Vec<String> {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let (next, errors) = (next.clone(), errors.clone());
            std::thread::spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::AcqRel);
                    if n >= count {
                        return;
                    }
                    if let Err(e) = cycle(addr, n) {
                        errors
                            .lock()
                            .expect("errors")
                            .push(format!("cycle {n}: {e}"));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("cycle thread");
    }
    Arc::try_unwrap(errors)
        .expect("errors")
        .into_inner()
        .expect("errors")
}

/// Echoes `count` numbered messages over one connection, `WINDOW` in flight,
/// checking each echo; then closes.
fn pipeline(addr: SocketAddr, count: usize) -> io::Result<()> {
    let mut peer = RawPeer::connect(addr, PATIENCE)?;
    let mut reader = peer.stream.try_clone()?;
    reader.set_read_timeout(Some(PATIENCE))?;
    let mut sent = 0;
    let mut batch = Vec::with_capacity(WINDOW * 16);
    let mut expected = Vec::with_capacity(WINDOW * 12);
    let mut got = vec![0u8; WINDOW * 12];
    while sent < count {
        let n = WINDOW.min(count - sent);
        batch.clear();
        expected.clear();
        for i in sent..sent + n {
            let payload = (i as u64).to_be_bytes();
            batch.extend(frame(true, op::BINARY, &payload));
            expected.extend_from_slice(&[0x82, 8]);
            expected.extend_from_slice(&payload);
        }
        peer.send(&batch)?;
        // Echoes of 8-byte messages are 10 bytes each, unmasked.
        let got = &mut got[..expected.len()];
        reader.read_exact(got)?;
        if *got != expected[..] {
            return Err(io::Error::other(format!(
                "wrong echoes after message {sent}"
            )));
        }
        sent += n;
    }
    peer.close(1000)?;
    match peer.ending()? {
        Ending::Close(1000) => Ok(()),
        other => Err(io::Error::other(format!("ended with {other:?}"))),
    }
}

/// Echoes `count` messages spread over `connections` connections in
/// parallel; returns the errors.
pub fn run_messages(addr: SocketAddr, count: usize, connections: usize) -> Vec<String> {
    let connections = connections.max(1);
    let workers: Vec<_> = (0..connections)
        .map(|c| {
            let share = count / connections + usize::from(c < count % connections);
            std::thread::spawn(move || {
                pipeline(addr, share).map_err(|e| format!("connection {c}: {e}"))
            })
        })
        .collect();
    workers
        .into_iter()
        .filter_map(|w| w.join().expect("pipeline thread").err())
        .collect()
}

/// Waits until the server holds no more descriptors than `baseline` (its
/// connections finished closing), up to [`PATIENCE`]; returns the last sample.
pub fn settle(pid: u32, baseline: usize) -> Sample {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let s = sample(pid);
        if s.fds <= baseline || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
