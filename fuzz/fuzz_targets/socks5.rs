//! SOCKS5 proxy replies (RFC 1928, 1929), cut anywhere.
//! The body is `wsx_hardening::fuzz::proxy::socks5`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::proxy::socks5(data));
