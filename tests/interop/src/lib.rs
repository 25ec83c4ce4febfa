//! Helpers for the interop tests: third-party peers as child processes, an
//! nginx reverse proxy, certificates, test payloads, and a blocking wrapper
//! over wsx's callback API so the tests read top to bottom.
//!
//! Run with `make test-interop` (or `cargo test -p wsx-interop`). The peers
//! come from `make deps`: Python `websockets` in the venv (`WSX_PYTHON`,
//! default `<root>/.venv/bin/python`), Node `ws` and `playwright-core`
//! (`WSX_NODE_DIR`, default `<root>/tests/interop/node`), Debian's
//! `/usr/bin/chromium` (`WSX_CHROMIUM`) and `nginx` (`WSX_NGINX`).
//!
//! Everything listens on 127.0.0.1 or ::1, on ports picked per test; every
//! child process is stopped by its own pid when the test ends.

pub mod certs;
pub mod nginx;
pub mod paths;
pub mod payload;
pub mod peer;
pub mod process;
pub mod scenarios;
pub mod wsx;
