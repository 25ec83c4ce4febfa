//! The bodies of the fuzz targets in `fuzz/fuzz_targets/`, as plain functions
//! so the stable test suite can replay the seed corpora and every regression
//! input through them. Each panics when it finds wrong behaviour, not only on
//! a crash: every body checks the outcome against an independent rule
//! (the RFC, a model, or the same input cut differently).

pub mod c_feed;
pub mod close_payload;
pub mod cluster;
pub mod deflate;
pub mod deflate_negotiation;
mod engine;
pub mod frame_decoder;
pub mod handshake;
pub mod message_assembler;
pub mod proxy;
pub mod seeds;
pub mod url;

/// A fuzz target's body: panics on wrong behaviour.
pub type Body = fn(&[u8]);

/// Every fuzz target by its name in `fuzz/fuzz_targets/` and `fuzz/seeds/`.
pub const TARGETS: &[(&str, Body)] = &[
    ("frame_decoder", frame_decoder::run),
    ("message_assembler", message_assembler::run),
    ("client_handshake", handshake::client),
    ("server_handshake", handshake::server),
    ("close_payload", close_payload::run),
    ("deflate", deflate::run),
    ("http_connect", proxy::http_connect),
    ("socks5", proxy::socks5),
    ("url", url::run),
    ("deflate_negotiation", deflate_negotiation::run),
    ("c_feed", c_feed::run),
    ("cluster_link", cluster::run),
];
