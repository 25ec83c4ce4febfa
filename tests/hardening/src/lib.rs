//! Helpers for the hostile-peer, soak and fuzz-replay tests of wsx, and the
//! bodies of the fuzz targets in `fuzz/`.

pub mod fuzz;
pub mod memory;
pub mod peer;
pub mod server;
pub mod soak;
