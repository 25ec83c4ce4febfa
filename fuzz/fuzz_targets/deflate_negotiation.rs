//! permessage-deflate negotiation: settings of both ends, offers, answers.
//! The body is `wsx_hardening::fuzz::deflate_negotiation::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::deflate_negotiation::run(data));
