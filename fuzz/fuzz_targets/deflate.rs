//! permessage-deflate: bounded inflation of arbitrary bytes, compression round
//! trips, and arbitrary extension offers and answers.
//! The body is `wsx_hardening::fuzz::deflate::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::deflate::run(data));
