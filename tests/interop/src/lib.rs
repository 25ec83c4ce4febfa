//! Helpers for the interop tests: third-party peers as child processes, an
//! nginx reverse proxy, certificates, test payloads, and a blocking wrapper
//! over wsx's callback API so the tests read top to bottom.
//!
//! Everything listens on 127.0.0.1 only, on ports picked per test.

pub mod certs;
pub mod nginx;
pub mod paths;
pub mod payload;
pub mod peer;
pub mod process;
pub mod scenarios;
pub mod wsx;
