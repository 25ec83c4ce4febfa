//! permessage-deflate negotiation
//! The body is `wsx_hardening::fuzz:: offers, answers, settings.:deflate_negotiation::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz:: offers, answers, settings.:deflate_negotiation::run(data));
