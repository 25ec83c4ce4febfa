//! Frame sequences (data, continuation, control) with small limits, against a model of RFC 6455.
//! The body is `wsx_hardening::fuzz::message_assembler::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_hardening::fuzz::message_assembler::run(data));
