//! A loop driven by the threads that wait on it (`DrivenLoop`, what
//! Python's blocking API runs on): the waiting thread polls the loop itself,
//! so its messages are handled on its own thread with no hand-off; a
//! follower takes over when the driver lets go; the background thread
//! takes over when nobody drives.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use crate::util::*;
use wsx_core::net::{Conn, Ctx, DrivenLoop, ErrorKind, Follower, Handler, Open};
use wsx_core::proto::{CloseCode, MessageKind};

/// A waiter woken when the loop is free to drive.
#[derive(Default)]
struct Waiter {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Follower for Waiter {
    fn wake(&self) {
        *self.woken.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

impl Waiter {
    /// Sleeps until woken (or `limit` passes); whether it was woken.
    fn sleep(&self, limit: Duration) -> bool {
        let woken = self.woken.lock().unwrap();
        let (mut woken, _) = self.cv.wait_timeout_while(woken, limit, |w| !*w).unwrap();
        std::mem::take(&mut *woken)
    }
}

/// What a client reports: opened, or a message with the thread that handled it.
enum Seen {
    Open,
    Message(Vec<u8>, ThreadId, Option<String>),
}

/// Reports each event with the thread the loop ran it on.
struct Reporter(Sender<Seen>);

impl Handler for Reporter {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        let _ = self.0.send(Seen::Open);
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_>, _kind: MessageKind, data: &[u8], _fin: bool) {
        let me = thread::current();
        let _ = self.0.send(Seen::Message(
            data.to_vec(),
            me.id(),
            me.name().map(Into::into),
        ));
    }
}

/// Drives `driven` on this thread (or follows its driver) until `rx` has
/// something.
fn drive_until<T>(
    driven: &DrivenLoop,
    me: &Arc<dyn Follower>,
    waiter: &Waiter,
    rx: &Receiver<T>,
) -> T {
    let end = Instant::now() + PATIENCE;
    while Instant::now() < end {
        if let Ok(t) = rx.try_recv() {
            driven.leave(me);
            return t;
        }
        match driven.drive_or_follow(me) {
            Some(mut driving) => driving.poll(Duration::from_millis(50)).expect("poll"),
            None => {
                waiter.sleep(Duration::from_millis(50));
            }
        }
    }
    panic!("nothing came");
}

fn connect(driven: &DrivenLoop, url: &str) -> (Conn, Receiver<Seen>) {
    let (tx, rx) = channel();
    let conn = (driven.handle())
        .connect(url, client_config(), Box::new(Reporter(tx)))
        .expect("connect");
    (conn, rx)
}

/// A client on a driven loop, open, with an echo server on a loop of its own.
struct Opened {
    _server: (wsx_core::net::LoopThread, Echo),
    driven: DrivenLoop,
    waiter: Arc<Waiter>,
    me: Arc<dyn Follower>,
    conn: Conn,
    rx: Receiver<Seen>,
}

fn opened() -> Opened {
    let server_loop = spawn_loop();
    let echo = Echo::start(server_loop.handle(), server_config());
    let driven = DrivenLoop::spawn().expect("loop");
    let waiter = Arc::new(Waiter::default());
    let me: Arc<dyn Follower> = waiter.clone();
    let (conn, rx) = connect(&driven, &echo.url());
    // The connect woke the background thread; asking for the loop takes it back.
    assert!(matches!(
        drive_until(&driven, &me, &waiter, &rx),
        Seen::Open
    ));
    Opened {
        _server: (server_loop, echo),
        driven,
        waiter,
        me,
        conn,
        rx,
    }
}

#[test]
fn the_waiting_thread_handles_its_own_messages_and_the_background_the_rest() {
    let Opened {
        _server,
        driven,
        waiter,
        me,
        conn,
        rx,
    } = opened();
    // Each echo is handled on this thread unless this thread was kept from
    // the loop for longer than the background thread lets it go unpolled
    // (a loaded machine): most are, and one is enough to show no hand-off.
    let mut here = 0;
    for i in 0..20u8 {
        driven
            .run(|| conn.send(MessageKind::Binary, &[i]))
            .0
            .expect("send");
        match drive_until(&driven, &me, &waiter, &rx) {
            Seen::Message(data, on, _) => {
                assert_eq!(data, [i]);
                here += usize::from(on == thread::current().id());
            }
            Seen::Open => panic!("opened twice"),
        }
    }
    assert!(here > 0, "no echo was handled on the waiting thread");
    // Nobody waits now: the echo is read by the background thread.
    driven
        .run(|| conn.send(MessageKind::Binary, b"late"))
        .0
        .expect("send");
    match rx
        .recv_timeout(PATIENCE)
        .expect("the echo, read by the background")
    {
        Seen::Message(data, on, name) => {
            assert_eq!(data, b"late");
            assert_ne!(on, thread::current().id());
            assert_eq!(name.as_deref(), Some("wsx-loop"));
        }
        Seen::Open => panic!("opened twice"),
    }
}

#[test]
fn a_follower_is_woken_to_drive_when_the_driver_lets_go() {
    let server_loop = spawn_loop();
    let echo = Echo::start(server_loop.handle(), server_config());
    let driven = Arc::new(DrivenLoop::spawn().expect("loop"));
    let main_waiter = Arc::new(Waiter::default());
    let main: Arc<dyn Follower> = main_waiter.clone();
    let (_c1, rx1) = connect(&driven, &echo.url());
    let (c2, rx2) = connect(&driven, &echo.url());
    for rx in [&rx1, &rx2] {
        assert!(matches!(
            drive_until(&driven, &main, &main_waiter, rx),
            Seen::Open
        ));
    }
    // The background thread may hold it (it went unpolled a moment): asking
    // makes it let go.
    let mut driving = loop {
        match driven.drive_or_follow(&main) {
            Some(driving) => break driving,
            None => assert!(main_waiter.sleep(PATIENCE), "the background let go"),
        }
    };
    driven.leave(&main);
    let (enlisted_tx, enlisted) = channel();
    let follower = {
        let driven = driven.clone();
        thread::spawn(move || {
            let waiter = Arc::new(Waiter::default());
            let me: Arc<dyn Follower> = waiter.clone();
            assert!(
                driven.drive_or_follow(&me).is_none(),
                "the main thread drives"
            );
            enlisted_tx.send(()).unwrap();
            assert!(waiter.sleep(PATIENCE), "woken when the loop is free");
            // Unless the background thread took it meanwhile (a loaded
            // machine), the loop is this thread's now.
            let end = Instant::now() + PATIENCE;
            while driven.drive_or_follow(&me).is_none() {
                assert!(Instant::now() < end, "never drove");
                waiter.sleep(Duration::from_millis(50));
            }
            driven.leave(&me);
        })
    };
    enlisted.recv_timeout(PATIENCE).expect("enlisted");
    // The follower's connection's message is handled by the driver.
    driven
        .run(|| c2.send(MessageKind::Text, b"for 2"))
        .0
        .expect("send");
    let end = Instant::now() + PATIENCE;
    let seen = loop {
        driving.poll(Duration::from_millis(50)).expect("poll");
        if let Ok(seen) = rx2.try_recv() {
            break seen;
        }
        assert!(Instant::now() < end, "no echo");
    };
    assert!(
        matches!(seen, Seen::Message(d, on, _) if d == b"for 2" && on == thread::current().id())
    );
    drop(driving);
    follower.join().expect("the follower was woken and drove");
}

#[test]
fn sends_in_a_row_with_nobody_waiting_are_written_by_the_background() {
    // Bound by name, the server lives to the end of the test.
    let Opened {
        _server,
        driven,
        conn,
        rx,
        ..
    } = opened();
    // The first is written at once; the others of the burst wait for a
    // wait that never comes, then for the background thread.
    for m in [b"one", b"two", b"six"] {
        driven
            .run(|| conn.send(MessageKind::Binary, m))
            .0
            .expect("send");
    }
    for m in [b"one", b"two", b"six"] {
        match rx.recv_timeout(PATIENCE).expect("the echo") {
            Seen::Message(data, _, _) => assert_eq!(data, m),
            Seen::Open => panic!("opened twice"),
        }
    }
}

#[test]
fn a_send_from_the_caller_never_overtakes_one_queued_before_it() {
    let Opened {
        _server,
        driven,
        conn,
        rx,
        ..
    } = opened();
    // Alternating a queued send (`run`, deferred within a burst) and a
    // direct one (`send`, which must go behind whatever is queued), then
    // the same while another thread queues sends: each thread's order holds.
    let alternate = |from: u32| {
        for i in from..from + 100 {
            let data = i.to_be_bytes();
            let sent = match i % 2 {
                0 => driven.run(|| conn.send(MessageKind::Binary, &data)).0,
                _ => driven.send(&conn, MessageKind::Binary, &data, true).0,
            };
            sent.expect("send");
        }
    };
    alternate(0);
    let other = {
        let conn = conn.clone();
        thread::spawn(move || {
            for i in 1000..1100u32 {
                conn.send(MessageKind::Binary, &i.to_be_bytes())
                    .expect("send");
            }
        })
    };
    alternate(100);
    other.join().expect("the other sender");
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    while mine.len() + theirs.len() < 300 {
        match rx.recv_timeout(PATIENCE).expect("the echo") {
            Seen::Message(data, _, _) => {
                let i = u32::from_be_bytes(data.try_into().expect("4 bytes"));
                match i < 1000 {
                    true => mine.push(i),
                    false => theirs.push(i),
                }
            }
            Seen::Open => panic!("opened twice"),
        }
    }
    assert_eq!(mine, (0..200).collect::<Vec<_>>());
    assert_eq!(theirs, (1000..1100).collect::<Vec<_>>());
    // The direct path checks what a queued send checks.
    let bad = driven.send(&conn, MessageKind::Text, b"\xff", true).0;
    assert_eq!(
        bad.expect_err("bad text").kind(),
        ErrorKind::InvalidArgument
    );
    conn.close(CloseCode::NORMAL, "").expect("close");
    let late = driven.send(&conn, MessageKind::Binary, b"late", true).0;
    assert_eq!(late.expect_err("closing").kind(), ErrorKind::Closed);
}
