//! Arbitrary bytes as the server's handshake response, fed in pieces.
//! The body is `wsx_hardening::fuzz::handshake::client`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::handshake::client(data));
