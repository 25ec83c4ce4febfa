//! Fuzz bodies: arbitrary bytes as the server's handshake response (client
//! side) and as the client's request (server side), fed in pieces whose sizes
//! come from the input.

use wsx_core::proto::WsUrl;
use wsx_core::proto::handshake::{
    Accept, ClientHandshake, ClientOptions, HandshakeError, Limits, Rejection, Request,
    ServerHandshake, accept_key, accept_response, check_origin,
};

/// In a client fuzz input, its first occurrence stands for the `Sec-WebSocket-Accept` value the
/// handshake's random key requires, so the fuzzer can reach a valid 101.
pub const ACCEPT_PLACEHOLDER: &[u8] = b"{ACCEPT}";

/// Subprotocols the fuzzed client offers.
const OFFERED: [&str; 2] = ["chat", "superchat"];

/// Splits an input into piece sizes (its first `n` bytes; a 0 counts as 1)
/// and the rest.
fn cuts(data: &[u8], n: usize) -> (Vec<usize>, &[u8]) {
    let (head, rest) = data.split_at(n.min(data.len()));
    (head.iter().map(|&c| usize::from(c).max(1)).collect(), rest)
}

fn pieces<'a>(data: &'a [u8], cuts: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = data;
    let mut i = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = cuts
            .get(i % cuts.len().max(1))
            .copied()
            .unwrap_or(rest.len());
        i += 1;
        let (piece, after) = rest.split_at(n.min(rest.len()));
        rest = after;
        Some(piece)
    })
}

/// What a client handshake ended with, comparable across runs whose random
/// keys differ.
#[derive(Debug, PartialEq, Eq)]
enum ClientOutcome {
    Pending,
    Accepted {
        subprotocol: Option<String>,
        extensions: Vec<String>,
        leftover: Vec<u8>,
    },
    Failed {
        kind: std::mem::Discriminant<HandshakeError>,
        status: Option<u16>,
    },
}

fn client_run(response: &[u8], cuts: &[usize]) -> ClientOutcome {
    let url = WsUrl::parse("ws://example.com/chat").expect("url");
    let options = ClientOptions {
        subprotocols: OFFERED.iter().map(|s| s.to_string()).collect(),
        extensions: vec!["permessage-deflate; client_max_window_bits".to_owned()],
        limits: Limits {
            max_header_bytes: 1024,
            max_headers: 16,
        },
        ..ClientOptions::default()
    };
    let mut hs = ClientHandshake::new(&url, &options).expect("handshake");
    let accept = accept_key(hs.key());
    let response = replace_first(response, ACCEPT_PLACEHOLDER, accept.as_bytes());
    for piece in pieces(&response, cuts) {
        match hs.feed(piece) {
            Ok(None) => {}
            Ok(Some(accepted)) => {
                assert_eq!(accepted.response.status, 101);
                if let Some(p) = &accepted.subprotocol {
                    assert!(OFFERED.contains(&p.as_str()), "{p}");
                }
                // Extension names compare case-insensitively.
                for e in &accepted.extensions {
                    assert!(
                        e.to_ascii_lowercase().starts_with("permessage-deflate"),
                        "{e}"
                    );
                }
                assert_eq!(hs.feed(b"x"), Err(HandshakeError::Finished));
                // The leftover is the input after this piece's part of the head.
                let mut leftover = accepted.leftover;
                let at = piece.as_ptr() as usize - response.as_ptr() as usize + piece.len();
                leftover.extend_from_slice(&response[at..]);
                return ClientOutcome::Accepted {
                    subprotocol: accepted.subprotocol,
                    extensions: accepted.extensions,
                    leftover,
                };
            }
            Err(err) => return failed(&err),
        }
    }
    // The server closing now ends the handshake with an error.
    let eof = hs.feed_eof();
    if let Some(r) = eof.response() {
        assert!(r.body.len() <= wsx_core::proto::handshake::client::MAX_REFUSAL_BODY);
    }
    assert_ne!(eof, HandshakeError::Finished);
    ClientOutcome::Pending
}

fn failed(err: &HandshakeError) -> ClientOutcome {
    assert!(!err.to_string().is_empty());
    if let Some(r) = err.response() {
        assert_ne!(r.status, 101);
        assert!(r.body.len() <= wsx_core::proto::handshake::client::MAX_REFUSAL_BODY);
    }
    ClientOutcome::Failed {
        kind: std::mem::discriminant(err),
        status: err.http_status(),
    }
}

/// `data` with its first `from` replaced by `to` (later ones stay, so the
/// bytes after the head are the same whatever the key).
fn replace_first(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    match data.windows(from.len()).position(|w| w == from) {
        Some(at) => [&data[..at], to, &data[at + from.len()..]].concat(),
        None => data.to_vec(),
    }
}

/// Client side: the first 3 bytes give piece sizes, the rest is the response
/// (with [`ACCEPT_PLACEHOLDER`] standing for the right accept value). Fed
/// whole and in pieces, the outcome is the same.
pub fn client(data: &[u8]) {
    let (cuts, response) = cuts(data, 3);
    let whole = client_run(response, &[]);
    let split = client_run(response, &cuts);
    assert_eq!(whole, split, "whole vs pieces {cuts:?}");
}

/// Server side: the first 2 bytes give the limits, the next 3 piece sizes,
/// the rest is the request. Fed whole and in pieces, the outcome is the same;
/// an accepted request gets a 101 with the right accept value, a refused one
/// a well-formed HTTP response.
pub fn server(data: &[u8]) {
    let (limits, rest) = data.split_at(2.min(data.len()));
    let limits = match limits {
        [a, b] => Limits {
            max_header_bytes: 64 + 32 * usize::from(*a),
            max_headers: usize::from(*b % 70),
        },
        _ => Limits::default(),
    };
    let (cuts, request) = cuts(rest, 3);
    let whole = server_run(limits, request, &[]);
    let split = server_run(limits, request, &cuts);
    assert_eq!(whole, split, "whole vs pieces {cuts:?}");
}

type ServerOutcome = Option<Result<(Request, Vec<u8>), Rejection>>;

fn server_run(limits: Limits, request: &[u8], cuts: &[usize]) -> ServerOutcome {
    let mut hs = ServerHandshake::new(limits);
    for piece in pieces(request, cuts) {
        match hs.feed(piece) {
            Ok(None) => {}
            Ok(Some((req, mut leftover))) => {
                assert!(req.path().starts_with('/'));
                assert_eq!(req.method(), "GET");
                assert!(req.headers().get("Host").is_some());
                let response = accept_response(&req, &Accept::default()).expect("101");
                let text = String::from_utf8(response).expect("ASCII response");
                assert!(text.starts_with("HTTP/1.1 101 "), "{text}");
                assert!(text.contains(&accept_key(req.key())));
                let _ = check_origin(&req, &["https://example.com".to_owned()]);
                assert!(hs.feed(b"x").is_err(), "fed after the end");
                let at = piece.as_ptr() as usize - request.as_ptr() as usize + piece.len();
                leftover.extend_from_slice(&request[at..]);
                return Some(Ok((req, leftover)));
            }
            Err(rejection) => {
                assert!((400..600).contains(&rejection.status()), "{rejection:?}");
                let response = rejection.to_response();
                let head = format!("HTTP/1.1 {} ", rejection.status());
                assert!(response.starts_with(head.as_bytes()));
                assert!(response.windows(4).any(|w| w == b"\r\n\r\n"));
                return Some(Err(rejection));
            }
        }
    }
    None
}
