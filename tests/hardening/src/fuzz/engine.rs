//! Drives a [`Connection`] over bytes fed in chunks and records what it
//! reports in a form that does not depend on the chunking, then checks the
//! bytes it wrote with an engine of the other role.

use wsx_core::proto::{Config, Connection, Event, MessageKind, Role};

/// One event, owned. Streaming fragments are joined into whole messages, so a
/// trace is the same however the input was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// A whole message.
    Message(MessageKind, Vec<u8>),
    /// A ping.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The peer's close: its code and reason.
    Close(u16, String),
    /// The engine failed the connection with this close code.
    Error(u16),
}

/// What an engine reported and wrote.
#[derive(Debug)]
pub struct Run {
    /// The events, fragments joined.
    pub trace: Vec<Ev>,
    /// In streaming mode, the part of a message delivered before the
    /// connection ended (the message never finished).
    pub partial: Vec<u8>,
    /// Every byte the engine queued for the peer.
    pub output: Vec<u8>,
}

/// Feeds `input` to a fresh engine in pieces of the sizes in `cuts` (cycled;
/// a 0 feeds nothing that turn), draining events after every piece.
pub fn drive(role: Role, config: Config, input: &[u8], cuts: &[usize]) -> Run {
    let streaming = config.streaming;
    let max_message = config.max_message_size;
    let mut conn = Connection::new(role, config);
    let mut run = Run {
        trace: Vec::new(),
        partial: Vec::new(),
        output: Vec::new(),
    };
    let mut rest = input;
    let mut turn = 0;
    loop {
        let cut = match cuts {
            [] => rest.len(),
            _ => cuts[turn % cuts.len()].min(rest.len()),
        };
        turn += 1;
        let (piece, after) = rest.split_at(cut);
        // Alternate the two ways of giving bytes to the engine.
        if turn % 2 == 0 {
            conn.feed(piece);
        } else {
            conn.read_buf(piece.len())[..piece.len()].copy_from_slice(piece);
            conn.commit_read(piece.len());
        }
        rest = after;
        drain(&mut conn, &mut run, streaming, max_message);
        // A run of empty pieces would never end.
        if rest.is_empty() || (cut == 0 && turn > cuts.len()) {
            if !rest.is_empty() {
                conn.feed(rest);
                drain(&mut conn, &mut run, streaming, max_message);
            }
            break;
        }
    }
    // Nothing is reported after a close or an error.
    if let Some(end) = run
        .trace
        .iter()
        .position(|e| matches!(e, Ev::Close(..) | Ev::Error(_)))
    {
        assert_eq!(
            end + 1,
            run.trace.len(),
            "events after the end: {:?}",
            run.trace
        );
    }
    run.output = conn.pending().to_vec();
    run
}

fn drain(conn: &mut Connection, run: &mut Run, streaming: bool, max_message: usize) {
    while let Some((event, _sender)) = conn.next_event() {
        let ev = match event {
            Event::Message { kind, data } => {
                assert!(!streaming, "a whole message in streaming mode");
                assert!(data.len() <= max_message, "message over the limit");
                check_kind(kind, data);
                Ev::Message(kind, data.to_vec())
            }
            Event::Fragment { kind, data, fin } => {
                assert!(streaming, "a fragment outside streaming mode");
                // Text pieces end on character boundaries.
                check_kind(kind, data);
                run.partial.extend_from_slice(data);
                assert!(run.partial.len() <= max_message, "message over the limit");
                if !fin {
                    continue;
                }
                Ev::Message(kind, std::mem::take(&mut run.partial))
            }
            Event::Ping(data) => Ev::Ping(data.to_vec()),
            Event::Pong(data) => Ev::Pong(data.to_vec()),
            Event::Close { code, reason } => Ev::Close(code.0, reason.to_owned()),
            Event::Error(err) => {
                let code = err.close_code();
                assert!(
                    [1002, 1003, 1007, 1009].contains(&code.0),
                    "{err:?} maps to {code}"
                );
                assert!(!err.to_string().is_empty());
                Ev::Error(code.0)
            }
        };
        run.trace.push(ev);
    }
}

fn check_kind(kind: MessageKind, data: &[u8]) {
    if kind == MessageKind::Text {
        assert!(std::str::from_utf8(data).is_ok(), "text that is not UTF-8");
    }
}

/// Checks the engine's output with an engine of the other role: every frame
/// valid, one pong per ping in `run.trace` (when `auto_pong`), and a close
/// frame answering the peer's close or reporting the error.
pub fn check_output(role: Role, auto_pong: bool, run: &Run) {
    let peer_role = match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let config = Config {
        auto_pong: false,
        ..Config::default()
    };
    let peer = drive(peer_role, config, &run.output, &[]);
    let mut expected: Vec<Ev> = Vec::new();
    for ev in &run.trace {
        match ev {
            Ev::Ping(data) if auto_pong => expected.push(Ev::Pong(data.clone())),
            Ev::Close(code, _) => expected.push(Ev::Close(*code, String::new())),
            Ev::Error(code) => expected.push(Ev::Error(*code)),
            _ => {}
        }
    }
    let got: Vec<Ev> = peer
        .trace
        .iter()
        .map(|ev| match ev {
            // The reason of a failing close is a description: keep only the code.
            Ev::Close(code, _) => match expected.last() {
                Some(Ev::Error(_)) => Ev::Error(*code),
                _ => Ev::Close(*code, String::new()),
            },
            other => other.clone(),
        })
        .collect();
    assert_eq!(
        got, expected,
        "the engine's output, read by a {peer_role:?}"
    );
    assert!(peer.partial.is_empty());
}
