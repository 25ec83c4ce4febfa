//! HTTP CONNECT proxy replies, cut anywhere.
//! The body is `wsx_hardening::fuzz::proxy::http_connect`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::proxy::http_connect(data));
