//! Arbitrary bytes as a frame header and as frames reaching either role.
//! The body is `wsx_hardening::fuzz::frame_decoder::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::frame_decoder::run(data));
