//! Unix domain sockets, for C: a server listening on a path, a client
//! connecting to one. (A client may also pass a `ws+unix:` URL to
//! `wsx_loop_connect`.) Unix systems only: elsewhere `wsx_loop_listen` and
//! `wsx_loop_connect` refuse these options with `WSX_ERR_INVALID_ARGUMENT`
//! ("not supported on this platform").

use std::ffi::c_char;

use crate::boundary::opt_str;
use crate::options::{edit, wsx_client_options, wsx_server_options};
use crate::result::wsx_result;

/// Listens on the Unix domain socket at `path` instead of the host and port
/// (NULL: TCP, the default). Copied; the socket is created by
/// `wsx_loop_listen`, with the permissions the process's umask leaves, and
/// removed when the server closes. A file already at `path` makes
/// `wsx_loop_listen` fail with `WSX_ERR_IO` and a message saying what is
/// there, unless `remove_stale` is true and it is a stale socket (one no
/// server accepts on, as a crashed server leaves): that one is removed. A
/// live server's socket and a file that is not a socket are never removed.
/// Peers of such a server have no IP address: their `peer_addr` is `"unix:"`
/// (a client's socket is unnamed), `wsx_server_port` is 0 and
/// `wsx_server_local_addr` writes `"unix:"` and the path. TLS
/// (`wsx_server_options_set_tls`) works over it as over TCP.
///
/// # Safety
/// `options` is NULL or live; `path` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_unix_socket(
    options: *mut wsx_server_options,
    path: *const c_char,
    remove_stale: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            let config = o.conn.server_mut();
            config.unix_socket_path = opt_str(path, "path")?.map(Into::into);
            config.remove_stale_socket = remove_stale;
            Ok(())
        })
    }
}

/// Connects to the Unix domain socket at `path` instead of the URL's host
/// and port (NULL: the URL's, the default). The URL still gives the scheme
/// (`wss://` runs TLS over the socket and verifies the URL's host name),
/// the `Host` header and the resource: `ws://localhost/chat` with this
/// option is what the URL `ws+unix:///path/to.sock:/chat` says (Node's ws
/// spelling, which `wsx_loop_connect` also takes). No proxy is used with
/// it. The connection's `peer_addr` is `"unix:"` and the path. Copied.
///
/// # Safety
/// `options` is NULL or live; `path` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_unix_socket_path(
    options: *mut wsx_client_options,
    path: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.conn.client_mut().unix_socket_path = opt_str(path, "path")?.map(Into::into);
            Ok(())
        })
    }
}
