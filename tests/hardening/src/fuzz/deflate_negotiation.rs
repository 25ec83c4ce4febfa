//! Fuzz body: permessage-deflate negotiation (RFC 7692 section 7.1) between
//! a client and a server of arbitrary settings, and arbitrary offers and
//! answers.
//!
//! The oracles: whatever a server answers to our own client's offer, that
//! client accepts, and both ends then agree on the parameters that matter
//! (the server's window and both context-takeover flags; the client may
//! use a smaller window than the server allows); an answer a client accepts
//! never exceeds what it offered.

use wsx_core::proto::extension::deflate::{DeflateConfig, NAME, accept_answer, negotiate};
use wsx_core::proto::handshake::{Headers, Request, split_list};

/// One settings byte as a configuration: two window sizes (8-15) from the
/// low six bits, the context-takeover flags from the top two.
fn config(settings: u8, other: u8) -> DeflateConfig {
    DeflateConfig {
        client_max_window_bits: 8 + (settings & 7),
        server_max_window_bits: 8 + ((settings >> 3) & 7),
        client_no_context_takeover: settings & 0x40 != 0,
        server_no_context_takeover: settings & 0x80 != 0,
        level: u32::from(other % 10),
        threshold: 64,
        shared_compressor: other & 0x80 != 0 && settings & 0x38 != 0,
    }
}

fn request(values: &[&str]) -> Request {
    Request {
        path: "/".to_owned(),
        headers: Headers(
            values
                .iter()
                .map(|v| ("Sec-WebSocket-Extensions".to_owned(), (*v).to_owned()))
                .collect(),
        ),
    }
}

/// The first byte: the client's settings; the second: the server's; the rest:
/// offers (one header per line) for the server, and answers for the client.
pub fn run(data: &[u8]) {
    let [c, s, rest @ ..] = data else {
        return;
    };
    let client = config(*c, *s);
    let server = config(*s, *c);
    client.check().expect("a valid client configuration");
    server.check().expect("a valid server configuration");
    ours(&client, &server);
    let text = String::from_utf8_lossy(rest);
    let lines: Vec<&str> = text.split('\n').collect();
    arbitrary_offer(&server, &lines);
    arbitrary_answer(&client, &text);
}

/// Our client's offer, answered by our server: accepted, and agreed.
fn ours(client: &DeflateConfig, server: &DeflateConfig) {
    let offer = client.offer();
    let (answer, at_server) = negotiate(server, &request(&[&offer]))
        .unwrap_or_else(|e| panic!("our offer {offer:?} refused: {e:?}"))
        .unwrap_or_else(|| panic!("our offer {offer:?} ignored"));
    let at_client = accept_answer(client, [answer.as_str()])
        .unwrap_or_else(|e| panic!("{offer:?} answered {answer:?}, refused: {e}"))
        .expect("an answer the client sees");
    let (c, s) = (at_client.params, at_server.params);
    assert_eq!(
        c.server_max_window_bits, s.server_max_window_bits,
        "{offer:?} -> {answer:?}"
    );
    assert!(
        c.client_max_window_bits <= s.client_max_window_bits,
        "{offer:?} -> {answer:?}"
    );
    assert!(c.client_max_window_bits <= client.client_max_window_bits);
    assert!(s.server_max_window_bits <= server.server_max_window_bits);
    assert!(s.server_max_window_bits <= client.server_max_window_bits);
    assert_eq!(c.server_no_context_takeover, s.server_no_context_takeover);
    assert_eq!(c.client_no_context_takeover, s.client_no_context_takeover);
    assert!(!client.server_no_context_takeover || s.server_no_context_takeover);
    assert!(!server.server_no_context_takeover || s.server_no_context_takeover);
}

/// Arbitrary offers: answered within the server's settings (and our client
/// would take the answer to a plain offer), refused, or ignored.
fn arbitrary_offer(server: &DeflateConfig, lines: &[&str]) {
    match negotiate(server, &request(lines)) {
        Ok(Some((answer, agreement))) => {
            assert!(answer.starts_with(NAME), "{answer}");
            let p = agreement.params;
            assert!(p.server_max_window_bits <= server.server_max_window_bits);
            assert!((8..=15).contains(&p.client_max_window_bits));
            assert!(!server.server_no_context_takeover || p.server_no_context_takeover);
            assert!(!server.client_no_context_takeover || p.client_no_context_takeover);
            let reparsed = negotiate(server, &request(&[&answer]));
            assert!(
                matches!(reparsed, Ok(Some(_))),
                "our own answer {answer:?} is not a valid offer: {reparsed:?}"
            );
        }
        Ok(None) => {}
        Err(rejection) => assert!(!format!("{rejection:?}").is_empty()),
    }
}

/// Arbitrary answers to our client's offer: accepted only within the offer.
fn arbitrary_answer(client: &DeflateConfig, text: &str) {
    if let Ok(Some(agreement)) = accept_answer(client, split_list(text)) {
        let p = agreement.params;
        assert!(
            p.server_max_window_bits <= client.server_max_window_bits,
            "{text:?}"
        );
        assert!(
            p.client_max_window_bits <= client.client_max_window_bits,
            "{text:?}"
        );
        assert!(!client.server_no_context_takeover || p.server_no_context_takeover);
        assert!(!client.client_no_context_takeover || p.client_no_context_takeover);
    }
}
