//! What Redis sends a clustered server's link: RESP3 replies and pushes, and
//! other nodes' publications, cut anywhere.
//! The body is `wsx_hardening::fuzz::cluster::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::cluster::run(data));
