//! Fuzz body: permessage-deflate (RFC 7692). Arbitrary bytes inflated within
//! a limit (decompression bombs), messages compressed and inflated back, and
//! arbitrary `Sec-WebSocket-Extensions` offers and answers negotiated.

use wsx_core::proto::extension::deflate::{
    DeflateConfig, Deflater, InflateError, Inflater, NAME, accept_answer, negotiate,
};
use wsx_core::proto::handshake::{Headers, Request};

/// The first byte picks the window (9-15 bits), the level and context
/// takeover; the second the output limit (16-byte steps); the rest is both
/// compressed input and messages (split at 0xFF bytes) and an offer.
pub fn run(data: &[u8]) {
    let [settings, limit, rest @ ..] = data else {
        return;
    };
    let bits = 9 + (settings & 0b111).min(6);
    let level = u32::from(settings >> 3) % 10;
    let no_context_takeover = settings & 0x80 != 0;
    let max = usize::from(*limit) * 16;
    inflate_bounded(bits, rest, max);
    round_trip(bits, level, no_context_takeover, rest);
    negotiation(rest);
}

/// Arbitrary bytes as one compressed message: the output never passes the
/// limit, in length or in allocation.
fn inflate_bounded(bits: u8, input: &[u8], max: usize) {
    let mut inflater = Inflater::new(bits, true);
    let mut out = Vec::new();
    let mut result = inflater.inflate(input, &mut out, max);
    if result.is_ok() {
        result = inflater.finish(&mut out, max);
    }
    assert!(
        out.len() <= max,
        "{} bytes inflated past the limit of {max}",
        out.len()
    );
    assert!(
        out.capacity() <= max.max(out.len()),
        "{} bytes reserved past the limit of {max}",
        out.capacity()
    );
    if let Err(e) = result {
        assert!(!format!("{e:?}").is_empty());
    }
}

/// Messages compressed in two pieces each come back whole, and a limit one
/// byte short of a message fails it as too large.
fn round_trip(bits: u8, level: u32, no_context_takeover: bool, data: &[u8]) {
    let mut deflater = Deflater::new(level, bits, no_context_takeover);
    let mut inflater = Inflater::new(bits, !no_context_takeover);
    for (i, message) in data.split(|&b| b == 0xFF).take(4).enumerate() {
        let (a, b) = message.split_at(message.len() / 2);
        let mut wire = deflater
            .compress(a, false, <[u8]>::to_vec)
            .expect("compress");
        wire.extend(
            deflater
                .compress(b, true, <[u8]>::to_vec)
                .expect("compress"),
        );
        let mut out = Vec::new();
        inflater
            .inflate(&wire, &mut out, message.len())
            .expect("inflate");
        inflater.finish(&mut out, message.len()).expect("finish");
        assert_eq!(out, message, "message {i}");
        if i == 0 && !message.is_empty() {
            // The first message needs no earlier context: a fresh inflater.
            let mut short = Vec::new();
            let mut fresh = Inflater::new(bits, true);
            let result = fresh
                .inflate(&wire, &mut short, message.len() - 1)
                .and_then(|()| fresh.finish(&mut short, message.len() - 1));
            assert_eq!(result, Err(InflateError::TooLarge));
            assert!(short.capacity() < message.len());
        }
    }
}

/// The bytes as a client's offer and as a server's answer: refused or
/// answered, never a panic; an answer names the extension.
fn negotiation(data: &[u8]) {
    let value = String::from_utf8_lossy(data).into_owned();
    let request = Request {
        path: "/".to_owned(),
        headers: Headers(vec![("Sec-WebSocket-Extensions".to_owned(), value.clone())]),
    };
    let config = DeflateConfig::default();
    if let Ok(Some((answer, _agreement))) = negotiate(&config, &request) {
        assert!(answer.starts_with(NAME), "{answer}");
        let accepted = accept_answer(&config, [answer.as_str()]);
        assert!(
            accepted.is_ok(),
            "our own answer {answer:?} refused: {accepted:?}"
        );
    }
    let _ = accept_answer(&config, wsx_core::proto::handshake::split_list(&value));
}
