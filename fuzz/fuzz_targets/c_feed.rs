//! Bytes through the C ABI's bring-your-own-I/O feed path (`wsx_engine_feed`
//! and the calls around it), whole, in pieces and byte by byte.
//! The body is `wsx_hardening::fuzz::c_feed::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::c_feed::run(data));
