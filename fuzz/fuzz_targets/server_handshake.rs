//! Arbitrary bytes as the client's handshake request, fed in pieces.
//! The body is `wsx_hardening::fuzz::handshake::server`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::handshake::server(data));
