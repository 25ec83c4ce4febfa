//! `ws://` and `wss://` URLs, and proxy URLs.
//! The body is `wsx_hardening::fuzz::url::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::url::run(data));
