//! TLS for bring-your-own-I/O programs (`wsx_tls`): rustls in the same
//! peek/consume shape as `wsx_engine`, between the program's socket and the
//! engine, over `wsx_core::net::tls_layer`.

use std::ffi::c_char;
use std::path::PathBuf;

use wsx_core::net::ClientConfig;
use wsx_core::net::tls_layer::TlsLayer;

use crate::boundary::{Failure, Outcome, arg, arg_bytes, arg_mut, arg_str, ffi_call, ffi_value};
use crate::options::wsx_client_options;
use crate::result::wsx_result;

/// A TLS session over a transport the program drives (client or server).
/// Encrypted bytes from the network go in with `wsx_tls_feed`; decrypted
/// bytes for the engine come out with `wsx_tls_peek_plaintext` /
/// `wsx_tls_consume_plaintext`; the engine's output goes in with
/// `wsx_tls_write`; encrypted bytes for the network come out with
/// `wsx_tls_peek_output` / `wsx_tls_consume_output`. Not thread-safe; never
/// blocks; starts no thread. Nothing is cached process-wide: the session's
/// configuration is freed with it.
pub struct wsx_tls {
    layer: TlsLayer,
}

fn tls_failure(e: wsx_core::net::Error) -> Failure {
    Failure::from(e)
}

/// Creates a client session to `server_name` (the host the certificate must
/// match, also sent as SNI) with the TLS settings of `options` (NULL: the
/// defaults): the Mozilla roots plus `wsx_client_options_set_tls_ca_file`'s
/// CA, the client certificate, or verification disabled. The ClientHello
/// is pending output at once. Free with `wsx_tls_free`.
///
/// # Safety
/// `server_name` NULL or NUL-terminated; `options` NULL or live;
/// `out_tls` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_client_new(
    server_name: *const c_char,
    options: *const wsx_client_options,
    out_tls: *mut *mut wsx_tls,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promises.
        let (name, out) = unsafe {
            (
                arg_str(server_name, "server_name")?,
                arg_mut(out_tls, "out_tls")?,
            )
        };
        // SAFETY: the caller's promise.
        let options = unsafe { options.as_ref() };
        let default = ClientConfig::default();
        let config = options.map_or(&default, |o| o.conn.client());
        let layer = TlsLayer::client(&config.tls, name).map_err(tls_failure)?;
        *out = Box::into_raw(Box::new(wsx_tls { layer }));
        Ok(())
    })
}

/// Creates a server session with the certificate chain and private key of
/// these PEM files. Free with `wsx_tls_free`.
///
/// # Safety
/// `cert_file`, `key_file` NULL or NUL-terminated; `out_tls` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_server_new(
    cert_file: *const c_char,
    key_file: *const c_char,
    out_tls: *mut *mut wsx_tls,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promises.
        let (cert, key, out) = unsafe {
            (
                arg_str(cert_file, "cert_file")?,
                arg_str(key_file, "key_file")?,
                arg_mut(out_tls, "out_tls")?,
            )
        };
        let layer =
            TlsLayer::server(PathBuf::from(cert), PathBuf::from(key)).map_err(tls_failure)?;
        *out = Box::into_raw(Box::new(wsx_tls { layer }));
        Ok(())
    })
}

/// Frees a session. NULL is a no-op.
///
/// # Safety
/// `tls` NULL or from `wsx_tls_*_new`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_free(tls: *mut wsx_tls) {
    if !tls.is_null() {
        // SAFETY: the caller's promise.
        ffi_value((), || drop(unsafe { Box::from_raw(tls) }));
    }
}

/// # Safety
/// `tls` is NULL or a live session no other thread uses.
unsafe fn with_tls(tls: *mut wsx_tls, f: impl FnOnce(&mut TlsLayer) -> Outcome) -> wsx_result {
    // SAFETY: the caller's promise.
    ffi_call(|| f(&mut unsafe { arg_mut(tls, "tls") }?.layer))
}

/// Feeds `len` encrypted bytes from the network; writes how many were taken
/// to `out_consumed` (fewer when 256 KiB of decrypted bytes wait: take them
/// first). `WSX_ERR_TLS` when the session failed (a bad certificate, a
/// broken record): send the pending output (the alert), then close.
///
/// # Safety
/// `tls` NULL or live; `data` NULL or `len` readable bytes; `out_consumed`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_feed(
    tls: *mut wsx_tls,
    data: *const u8,
    len: usize,
    out_consumed: *mut usize,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_tls(tls, |t| {
            let data = arg_bytes(data, len, "data")?;
            let out = arg_mut(out_consumed, "out_consumed")?;
            *out = t.feed(data).map_err(tls_failure)?;
            Ok(())
        })
    }
}

/// Tells the session the network transport ended.
///
/// # Safety
/// `tls` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_feed_eof(tls: *mut wsx_tls) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_tls(tls, |t| {
            t.feed_eof();
            Ok(())
        })
    }
}

/// Writes a pointer and length of pending bytes.
///
/// # Safety
/// The out pointers are NULL or writable.
unsafe fn peek(bytes: &[u8], out_data: *mut *const u8, out_len: *mut usize) -> Outcome {
    // SAFETY: the caller's promise.
    let (data, len) = unsafe { (arg_mut(out_data, "out_data")?, arg_mut(out_len, "out_len")?) };
    *data = bytes.as_ptr();
    *len = bytes.len();
    Ok(())
}

/// The decrypted bytes waiting for the engine (feed them to
/// `wsx_engine_feed`), without a copy; valid until the next call on the
/// session but the const ones.
///
/// # Safety
/// `tls` NULL or live; `out_data`, `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_peek_plaintext(
    tls: *const wsx_tls,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promises.
        unsafe { peek(arg(tls, "tls")?.layer.plaintext(), out_data, out_len) }
    })
}

/// Marks `n` decrypted bytes as taken; more than are waiting is
/// `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `tls` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_consume_plaintext(tls: *mut wsx_tls, n: usize) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_tls(tls, |t| {
            if n > t.plaintext().len() {
                return Err(Failure::invalid("consume_plaintext: more than is waiting"));
            }
            t.consume_plaintext(n);
            Ok(())
        })
    }
}

/// Encrypts `len` bytes of the engine's output (from
/// `wsx_engine_peek_output`); writes how many were taken to `out_written`
/// (then `wsx_engine_consume_output` that many). Bytes written during the
/// TLS handshake are held and sent once it finishes. `WSX_ERR_CLOSED` after
/// `wsx_tls_close`, `WSX_ERR_TLS` once the session failed.
///
/// # Safety
/// `tls` NULL or live; `data` NULL or `len` readable bytes; `out_written`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_write(
    tls: *mut wsx_tls,
    data: *const u8,
    len: usize,
    out_written: *mut usize,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_tls(tls, |t| {
            let data = arg_bytes(data, len, "data")?;
            let out = arg_mut(out_written, "out_written")?;
            *out = t.write(data).map_err(tls_failure)?;
            Ok(())
        })
    }
}

/// The encrypted bytes to send to the network, without a copy; valid until
/// the next call on the session but the const ones.
///
/// # Safety
/// `tls` NULL or live; `out_data`, `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_peek_output(
    tls: *const wsx_tls,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promises.
        unsafe { peek(arg(tls, "tls")?.layer.output(), out_data, out_len) }
    })
}

/// Marks `n` encrypted bytes as written to the network; more than are
/// pending is `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `tls` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_consume_output(tls: *mut wsx_tls, n: usize) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_tls(tls, |t| {
            if n > t.output().len() {
                return Err(Failure::invalid("consume_output: more than is pending"));
            }
            t.consume_output(n);
            Ok(())
        })
    }
}

/// Queues close_notify (do it when `wsx_engine_wants_shutdown` says so,
/// before shutting the socket's write side down); nothing more may be
/// written.
///
/// # Safety
/// `tls` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_close(tls: *mut wsx_tls) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_tls(tls, |t| {
            t.close();
            Ok(())
        })
    }
}

/// Whether the TLS handshake is still under way. False for NULL.
///
/// # Safety
/// `tls` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_is_handshaking(tls: *const wsx_tls) -> bool {
    // SAFETY: the caller's promise.
    ffi_value(false, || {
        // SAFETY: the caller's promise.
        unsafe { tls.as_ref() }.is_some_and(|t| t.layer.is_handshaking())
    })
}

/// Whether the peer ended its side (close_notify, or the transport's EOF):
/// feed the engine's EOF once the plaintext is taken. True for NULL.
///
/// # Safety
/// `tls` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_tls_peer_closed(tls: *const wsx_tls) -> bool {
    // SAFETY: the caller's promise.
    ffi_value(true, || {
        // SAFETY: the caller's promise.
        unsafe { tls.as_ref() }.is_none_or(|t| t.layer.peer_closed())
    })
}
