//! Where the peers and tools are: environment variables, with defaults
//! relative to the repository root.

use std::env;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The peer scripts (`tests/interop/peers`).
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// The Python that has `websockets`: `WSX_PYTHON`, default `<root>/.venv/bin/python`.
pub fn python() -> PathBuf {
    from_env("WSX_PYTHON", || repo_root().join(".venv/bin/python"))
}

/// The directory whose `node_modules` holds `ws` and `playwright-core`:
/// `WSX_NODE_DIR`, default `<root>/tests/interop/node`.
pub fn node_dir() -> PathBuf {
    from_env("WSX_NODE_DIR", || repo_root().join("tests/interop/node"))
}

/// The `node` program: `WSX_NODE`, default `node` from `PATH`.
pub fn node() -> PathBuf {
    from_env("WSX_NODE", || PathBuf::from("node"))
}

/// The `nginx` program: `WSX_NGINX`, default `nginx` from `PATH`.
pub fn nginx() -> PathBuf {
    from_env("WSX_NGINX", || PathBuf::from("nginx"))
}

fn from_env(var: &str, default: impl FnOnce() -> PathBuf) -> PathBuf {
    env::var_os(var).map(PathBuf::from).unwrap_or_else(default)
}
