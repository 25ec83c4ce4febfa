//! Name resolution off the loop thread: a small pool of helper threads shared
//! by every loop (lookups block in the system resolver). Each answer goes to
//! the callback the lookup came with (the loop queues it as a command). An
//! idle helper ends after [`IDLE`]; [`end_idle_resolvers`] ends and joins
//! the idle ones at once (the C library calls it when the last loop is
//! freed).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::error::{Error, ErrorKind};

/// What a lookup's answer is handed to, on a helper thread.
pub(super) type Answer = Box<dyn FnOnce(Result<Vec<SocketAddr>, Error>) + Send>;

/// Resolves host names in place of the system resolver (`getaddrinfo`): a
/// service directory, DNS over HTTPS, a console's own resolver, a test. IP
/// address literals never reach it. The addresses it gives are raced as any
/// lookup's are (IPv6 first, RFC 8305). Two kinds: [`Resolver::new`] runs on
/// a resolver helper thread and may block; [`Resolver::on_loop`] runs on the
/// loop thread, must not block, and answers through a [`PendingLookup`] at
/// once or later, from any thread.
#[derive(Clone)]
pub struct Resolver(Kind);

#[derive(Clone)]
enum Kind {
    Blocking(Arc<ResolveFn>),
    OnLoop(Arc<LookupFn>),
}

/// What a blocking [`Resolver`] calls: host and port to the addresses to try.
type ResolveFn = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;
/// What an on-loop [`Resolver`] calls with each lookup to answer.
type LookupFn = dyn Fn(PendingLookup) + Send + Sync;

impl Resolver {
    /// A resolver calling `resolve(host, port)` on a resolver helper thread,
    /// where it may block.
    pub fn new(
        resolve: impl Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Resolver {
        Resolver(Kind::Blocking(Arc::new(resolve)))
    }

    /// A resolver calling `resolve(lookup)` on the loop thread (in poll
    /// mode, the thread that polls), so no helper thread is involved: it
    /// must return quickly, answering the lookup at once or handing it to
    /// work that answers it later from any thread. The connect timeout runs
    /// meanwhile.
    pub fn on_loop(resolve: impl Fn(PendingLookup) + Send + Sync + 'static) -> Resolver {
        Resolver(Kind::OnLoop(Arc::new(resolve)))
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Kind::Blocking(_) => "Resolver::new(..)",
            Kind::OnLoop(_) => "Resolver::on_loop(..)",
        })
    }
}

/// A lookup for a [`Resolver::on_loop`] resolver to answer: once, from any
/// thread, before the connect timeout passes (a later answer is ignored).
/// Dropping it unanswered fails the lookup.
pub struct PendingLookup {
    host: String,
    port: u16,
    answer: Option<Answer>,
}

impl PendingLookup {
    /// The host name to resolve.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port the client connects to (the URL's), for addresses given
    /// without one.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Answers with the addresses to try (none, or an error: the attempt
    /// fails with a name-resolution error saying why).
    pub fn answer(mut self, found: io::Result<Vec<SocketAddr>>) {
        if let Some(answer) = self.answer.take() {
            answer(outcome(&self.host, found));
        }
    }
}

impl Drop for PendingLookup {
    fn drop(&mut self) {
        if let Some(answer) = self.answer.take() {
            answer(Err(not_found(
                &self.host,
                "the resolver dropped the lookup unanswered",
            )));
        }
    }
}

impl fmt::Debug for PendingLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PendingLookup({}:{})", self.host, self.port)
    }
}

/// Most lookups running at once.
const WORKERS: usize = 4;
/// A worker with nothing to do for this long ends.
const IDLE: Duration = Duration::from_secs(10);

/// What resolving `host` gives without a lookup: an address literal, or a
/// failure for names that can never resolve.
pub(super) fn resolve_locally(host: &str, port: u16) -> Option<Result<Vec<SocketAddr>, Error>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(Ok(vec![SocketAddr::new(ip, port)]));
    }
    // RFC 6761 section 6.4: `.invalid` names never resolve; answer at once
    // instead of asking a resolver that may be unreachable.
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "invalid" || name.ends_with(".invalid") {
        return Some(Err(not_found(host, "the .invalid domain never resolves")));
    }
    None
}

/// One lookup to do.
struct Lookup {
    host: String,
    port: u16,
    resolve: Option<Arc<ResolveFn>>,
    answer: Answer,
}

/// The queue of lookups and the count of workers serving it.
#[derive(Default)]
struct Pool {
    state: Mutex<PoolState>,
    more: Condvar,
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<Lookup>,
    workers: usize,
    idle: usize,
    /// Idle workers end now instead of after [`IDLE`] (until the next lookup).
    ending: bool,
    /// The workers' threads, joined by [`end_idle_resolvers`].
    threads: Vec<JoinHandle<()>>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::default)
}

/// Looks `host` up by `resolver`, or else the system's resolver; the result
/// goes to `answer`: on the loop thread or from the application's thread for
/// a [`Resolver::on_loop`], else on a helper thread.
pub(super) fn lookup(
    host: String,
    port: u16,
    resolver: Option<&Resolver>,
    answer: Answer,
) -> Result<(), Error> {
    let resolve = match resolver.map(|r| &r.0) {
        Some(Kind::OnLoop(resolve)) => {
            resolve(PendingLookup {
                host,
                port,
                answer: Some(answer),
            });
            return Ok(());
        }
        Some(Kind::Blocking(resolve)) => Some(resolve.clone()),
        None => None,
    };
    resolve_in_background(host, port, resolve, answer)
}

/// Queues a lookup of `host`, by `resolve` or else the system's resolver;
/// its result goes to `answer` on a helper thread.
fn resolve_in_background(
    host: String,
    port: u16,
    resolve: Option<Arc<ResolveFn>>,
    answer: Answer,
) -> Result<(), Error> {
    let pool = pool();
    let mut state = pool.state.lock().unwrap_or_else(|p| p.into_inner());
    state.ending = false;
    state.queue.push_back(Lookup {
        host,
        port,
        resolve,
        answer,
    });
    if state.idle == 0 && state.workers < WORKERS {
        let started = std::thread::Builder::new()
            .name("wsx-dns".to_owned())
            .spawn(move || work(pool));
        match started {
            Ok(thread) => {
                state.workers += 1;
                state.threads.retain(|t| !t.is_finished());
                state.threads.push(thread);
            }
            // With no worker at all the lookup would never run.
            Err(e) if state.workers == 0 => {
                state.queue.pop_back();
                return Err(Error::io("could not start a name-resolution thread", &e));
            }
            Err(_) => {}
        }
    }
    pool.more.notify_one();
    Ok(())
}

/// A worker: runs lookups until none comes for [`IDLE`].
fn work(pool: &Pool) {
    let mut state = pool.state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(lookup) = state.queue.pop_front() {
            drop(state);
            run(lookup);
            state = pool.state.lock().unwrap_or_else(|p| p.into_inner());
            continue;
        }
        if state.ending {
            state.workers -= 1;
            return;
        }
        state.idle += 1;
        let (next, timeout) = pool
            .more
            .wait_timeout(state, IDLE)
            .unwrap_or_else(|p| p.into_inner());
        state = next;
        state.idle -= 1;
        if (timeout.timed_out() || state.ending) && state.queue.is_empty() {
            state.workers -= 1;
            return;
        }
    }
}

/// Ends the idle helper threads now and joins them, waiting at most `wait`
/// for them to finish; returns whether no helper thread is left. A helper
/// busy with a lookup (the system resolver may take seconds) is not waited
/// for beyond `wait`: it ends once idle, as usual. A later lookup starts
/// helpers again.
pub fn end_idle_resolvers(wait: Duration) -> bool {
    let pool = pool();
    let threads = {
        let mut state = pool.state.lock().unwrap_or_else(|p| p.into_inner());
        state.ending = true;
        pool.more.notify_all();
        std::mem::take(&mut state.threads)
    };
    let deadline = Instant::now() + wait;
    let mut left = Vec::new();
    for thread in threads {
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        match thread.is_finished() {
            true => {
                let _ = thread.join();
            }
            false => left.push(thread),
        }
    }
    let mut state = pool.state.lock().unwrap_or_else(|p| p.into_inner());
    let none_left = left.is_empty() && state.threads.is_empty();
    state.threads.extend(left);
    none_left
}

fn run(lookup: Lookup) {
    let Lookup {
        host,
        port,
        resolve,
        answer,
    } = lookup;
    let found = match resolve {
        Some(resolve) => resolve(&host, port),
        None => (host.as_str(), port)
            .to_socket_addrs()
            .map(Iterator::collect),
    };
    answer(outcome(&host, found));
}

/// A resolver's answer as the attempt takes it: no address is an error too.
fn outcome(host: &str, found: io::Result<Vec<SocketAddr>>) -> Result<Vec<SocketAddr>, Error> {
    match found {
        Ok(addrs) if addrs.is_empty() => Err(not_found(host, "no addresses")),
        Ok(addrs) => Ok(addrs),
        Err(e) => Err(not_found(host, &e.to_string())),
    }
}

fn not_found(host: &str, detail: &str) -> Error {
    Error::new(
        ErrorKind::Dns,
        format!(
            "could not resolve host name \"{}\": {detail}",
            host.escape_debug()
        ),
    )
}
