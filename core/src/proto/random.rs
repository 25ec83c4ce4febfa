//! Where the protocol's randomness comes from: masking keys and
//! `Sec-WebSocket-Key` nonces.
//!
//! By default the operating system's generator (`getrandom`). A program
//! without one (a console SDK), or one that wants its own, installs a source
//! once with [`set_source`], before the first connection: from then on every
//! random byte the crate draws comes from it.

use std::sync::OnceLock;

/// A random source: fills the buffer with unpredictable bytes and returns
/// `true`, or returns `false` when it cannot (the send or handshake that
/// needed the bytes then fails).
pub type Source = fn(&mut [u8]) -> bool;

static SOURCE: OnceLock<Source> = OnceLock::new();

/// The source installed already (by an earlier [`set_source`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a random source was installed already; it can be set once per process")]
pub struct AlreadySet;

/// Installs `source` for the whole process. Only the first call succeeds.
/// A plain function (not a closure) so that installing it allocates nothing.
pub fn set_source(source: Source) -> Result<(), AlreadySet> {
    SOURCE.set(source).map_err(|_| AlreadySet)
}

/// Whether a source was installed with [`set_source`].
pub fn source_installed() -> bool {
    SOURCE.get().is_some()
}

/// Fills `buf` from the installed source, or from the system's generator.
pub fn fill(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    match SOURCE.get() {
        Some(source) if source(buf) => Ok(()),
        Some(_) => Err(getrandom::Error::new_custom(1)),
        None => getrandom::fill(buf),
    }
}

/// A random `u64`, from the same source as [`fill`].
pub fn u64() -> Result<u64, getrandom::Error> {
    let mut bytes = [0u8; 8];
    fill(&mut bytes)?;
    Ok(u64::from_ne_bytes(bytes))
}
