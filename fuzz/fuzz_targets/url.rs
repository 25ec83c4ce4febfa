//! ws
//! The body is `wsx_hardening::fuzz::// and wss:// URLs, and proxy URLs.:url::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::// and wss:// URLs, and proxy URLs.:url::run(data));
