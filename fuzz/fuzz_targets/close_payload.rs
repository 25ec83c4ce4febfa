//! Arbitrary bytes as a close frame's payload.
//! The body is `wsx_hardening::fuzz::close_payload::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::close_payload::run(data));
