//! Fuzz body: bytes through the C ABI's bring-your-own-I/O feed path
//! (`wsx_engine_feed`, `wsx_engine_next_event`, `wsx_engine_peek_output`,
//! `wsx_engine_consume_output`, `wsx_engine_feed_eof`), as a C program calls
//! them.
//!
//! The first byte chooses the role, whether the input starts at the
//! handshake (raw) or after a handshake completed with a peer engine,
//! whether permessage-deflate is agreed, and the size of the pieces. The
//! same input fed whole, in those pieces and (when short) one byte at a time
//! must give the same events (a failure's close code, not its wording);
//! every event's bytes are readable; a CLOSE
//! event comes at most once and last, an ERROR is followed by a CLOSE; the
//! engine takes every byte fed (the inputs here stay below the bound).

use std::ffi::CStr;
use std::ptr;

use wsx::engine::{
    wsx_engine, wsx_engine_accept, wsx_engine_client_new, wsx_engine_consume_output,
    wsx_engine_event, wsx_engine_event_kind as K, wsx_engine_feed, wsx_engine_feed_eof,
    wsx_engine_free, wsx_engine_next_event, wsx_engine_peek_output, wsx_engine_server_new,
    wsx_engine_state,
};
use wsx::events::wsx_state;
use wsx::options::{
    wsx_client_options, wsx_client_options_conn, wsx_client_options_free, wsx_client_options_new,
    wsx_conn_options_set_compression, wsx_deflate_options, wsx_deflate_options_default,
    wsx_server_options, wsx_server_options_conn, wsx_server_options_free, wsx_server_options_new,
};
use wsx::result::wsx_result;
use wsx_core::proto::DeflateConfig;
use wsx_core::proto::WsUrl;
use wsx_core::proto::engine::{Engine, EngineConfig, EngineEvent};

/// One event, owned: everything the C struct says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Request(String),
    Open(bool),
    Message(u32, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Vec<u8>, u32, bool),
    Error(u32, u16),
}

fn ok(r: wsx_result) {
    if r != wsx_result::WSX_OK {
        // SAFETY: a NUL-terminated string of this thread.
        let message = unsafe { CStr::from_ptr(wsx::result::wsx_last_error_message()) };
        panic!("{r:?}: {}", message.to_string_lossy());
    }
}

/// The engine under test, created and handshaken through the C ABI.
struct Subject {
    engine: *mut wsx_engine,
}

impl Drop for Subject {
    fn drop(&mut self) {
        // SAFETY: from wsx_engine_*_new, freed once.
        unsafe { wsx_engine_free(self.engine) };
    }
}

fn options(server: bool, deflate: bool) -> (*mut wsx_client_options, *mut wsx_server_options) {
    let mut client = ptr::null_mut();
    let mut srv = ptr::null_mut();
    // SAFETY: out pointers to locals; options used as the header says.
    unsafe {
        if server {
            ok(wsx_server_options_new(&mut srv));
            if deflate {
                let mut d: wsx_deflate_options = std::mem::zeroed();
                d.struct_size = size_of::<wsx_deflate_options>();
                ok(wsx_deflate_options_default(&mut d));
                ok(wsx_conn_options_set_compression(
                    wsx_server_options_conn(srv),
                    &d,
                ));
            }
        } else {
            ok(wsx_client_options_new(&mut client));
            if !deflate {
                ok(wsx_conn_options_set_compression(
                    wsx_client_options_conn(client),
                    ptr::null(),
                ));
            }
        }
    }
    (client, srv)
}

fn subject(server: bool, deflate: bool) -> Subject {
    let (client_opts, server_opts) = options(server, deflate);
    let mut engine = ptr::null_mut();
    // SAFETY: valid strings, options and out pointer; options freed once.
    unsafe {
        if server {
            ok(wsx_engine_server_new(server_opts, &mut engine));
        } else {
            ok(wsx_engine_client_new(
                c"ws://example.com/fuzz".as_ptr(),
                client_opts,
                &mut engine,
            ));
        }
        wsx_client_options_free(client_opts);
        wsx_server_options_free(server_opts);
    }
    Subject { engine }
}

/// Takes the subject's pending output, as a C program writes it.
fn take_output(s: &Subject) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut data = ptr::null();
        let mut len = 0;
        // SAFETY: a live engine; out pointers to locals; `data` is valid
        // for `len` bytes until the next call.
        unsafe {
            ok(wsx_engine_peek_output(s.engine, &mut data, &mut len));
            if len == 0 {
                return out;
            }
            out.extend_from_slice(std::slice::from_raw_parts(data, len));
            ok(wsx_engine_consume_output(s.engine, len));
        }
    }
}

fn feed(s: &Subject, data: &[u8]) {
    let mut used = 0;
    // SAFETY: a live engine; `data` readable.
    unsafe {
        ok(wsx_engine_feed(
            s.engine,
            data.as_ptr(),
            data.len(),
            &mut used,
        ))
    };
    assert_eq!(
        used,
        data.len(),
        "the engine takes every byte below its bound"
    );
}

fn bytes(ptr: *const u8, len: usize) -> Vec<u8> {
    if len == 0 {
        return Vec::new();
    }
    // SAFETY: the event's data, valid for `len` bytes until the next call.
    unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()
}

/// An event struct for the library to fill (C zero-fills it; in Rust the
/// enum fields need a valid value).
fn blank_event() -> wsx_engine_event {
    wsx_engine_event {
        struct_size: size_of::<wsx_engine_event>(),
        kind: K::WSX_ENGINE_EVENT_KIND_NONE,
        msg_kind: wsx::events::wsx_msg_kind::WSX_MSG_KIND_BINARY,
        fin: false,
        data: ptr::null(),
        len: 0,
        close_code: 0,
        close_origin: wsx::events::wsx_close_origin::WSX_CLOSE_ORIGIN_TRANSPORT,
        clean: false,
        error: wsx_result::WSX_OK,
        http_status: 0,
        subprotocol: ptr::null(),
        deflate: false,
        path: ptr::null(),
        headers: ptr::null(),
        header_count: 0,
        body: ptr::null(),
        body_len: 0,
    }
}

/// Takes every ready event; answers a request by accepting it.
fn drain(s: &Subject, trace: &mut Vec<Ev>) {
    loop {
        let mut ev = blank_event();
        // SAFETY: a live engine and a sized event.
        unsafe { ok(wsx_engine_next_event(s.engine, &mut ev)) };
        let owned = match ev.kind {
            K::WSX_ENGINE_EVENT_KIND_NONE => return,
            K::WSX_ENGINE_EVENT_KIND_REQUEST => {
                // SAFETY: a NUL-terminated path, and `header_count` headers.
                let path = unsafe { CStr::from_ptr(ev.path) }
                    .to_string_lossy()
                    .into_owned();
                for i in 0..ev.header_count {
                    // SAFETY: as above.
                    let h = unsafe { &*ev.headers.add(i) };
                    // SAFETY: NUL-terminated strings.
                    unsafe { (CStr::from_ptr(h.name), CStr::from_ptr(h.value)) };
                }
                // SAFETY: a live engine with a pending request.
                unsafe { ok(wsx_engine_accept(s.engine, ptr::null(), ptr::null(), 0)) };
                Ev::Request(path)
            }
            K::WSX_ENGINE_EVENT_KIND_OPEN => Ev::Open(ev.deflate),
            K::WSX_ENGINE_EVENT_KIND_MESSAGE => {
                let data = bytes(ev.data, ev.len);
                if ev.msg_kind == wsx::events::wsx_msg_kind::WSX_MSG_KIND_TEXT {
                    assert!(std::str::from_utf8(&data).is_ok(), "text is UTF-8");
                }
                Ev::Message(ev.msg_kind as u32, data)
            }
            K::WSX_ENGINE_EVENT_KIND_FRAGMENT => unreachable!("no streaming here"),
            K::WSX_ENGINE_EVENT_KIND_PING => Ev::Ping(bytes(ev.data, ev.len)),
            K::WSX_ENGINE_EVENT_KIND_PONG => Ev::Pong(bytes(ev.data, ev.len)),
            K::WSX_ENGINE_EVENT_KIND_CLOSE => {
                // SAFETY: NUL-terminated, `len` bytes before the NUL.
                assert_eq!(unsafe { *ev.data.add(ev.len) }, 0);
                // The reason of a failure names the first check that
                // tripped, which may depend on how much had arrived (a bad
                // deflate stream against its UTF-8): its code may not.
                let reason = if ev.clean {
                    bytes(ev.data, ev.len)
                } else {
                    Vec::new()
                };
                Ev::Close(ev.close_code, reason, ev.close_origin as u32, ev.clean)
            }
            K::WSX_ENGINE_EVENT_KIND_ERROR => {
                // SAFETY: NUL-terminated, `len` bytes before the NUL.
                assert_eq!(unsafe { *ev.data.add(ev.len) }, 0);
                Ev::Error(ev.error as u32, ev.http_status)
            }
        };
        trace.push(owned);
    }
}

/// Completes the handshake with a peer engine of the core (not the input).
fn handshake(s: &Subject, server: bool, deflate: bool, trace: &mut Vec<Ev>) {
    let config = EngineConfig {
        compression: deflate.then(DeflateConfig::default),
        ..EngineConfig::default()
    };
    if server {
        let url = WsUrl::parse("ws://example.com/fuzz").expect("a valid URL");
        let peer = Engine::client(&url, config).expect("a valid client");
        let request = peer.pending().to_vec();
        feed(s, &request);
    } else {
        let mut peer = Engine::server(config);
        peer.feed(&take_output(s));
        assert!(matches!(peer.next_event(), Some(EngineEvent::Request(_))));
        peer.accept(None, &[]).expect("accepts");
        feed(s, peer.pending());
    }
    drain(s, trace);
    take_output(s);
}

fn trace(server: bool, raw: bool, deflate: bool, input: &[u8], cut: usize) -> Vec<Ev> {
    let s = subject(server, deflate);
    let mut trace = Vec::new();
    if !raw {
        handshake(&s, server, deflate, &mut trace);
        assert!(
            matches!(trace.last(), Some(Ev::Open(d)) if *d == deflate),
            "{trace:?}"
        );
    }
    for piece in input.chunks(cut.max(1)) {
        feed(&s, piece);
        drain(&s, &mut trace);
        take_output(&s);
    }
    // SAFETY: a live engine.
    unsafe { ok(wsx_engine_feed_eof(s.engine)) };
    drain(&s, &mut trace);
    take_output(&s);
    // SAFETY: a live engine.
    let state = unsafe { wsx_engine_state(s.engine) };
    assert_eq!(state, wsx_state::WSX_STATE_CLOSED, "EOF ends every engine");
    check(&trace);
    trace
}

/// A CLOSE at most once and last; an ERROR right before a CLOSE.
fn check(trace: &[Ev]) {
    let closes = trace.iter().filter(|e| matches!(e, Ev::Close(..))).count();
    assert!(closes <= 1, "{trace:?}");
    if closes == 1 {
        assert!(matches!(trace.last(), Some(Ev::Close(..))), "{trace:?}");
    }
    for (i, e) in trace.iter().enumerate() {
        if matches!(e, Ev::Error(..)) {
            assert!(matches!(trace.get(i + 1), Some(Ev::Close(..))), "{trace:?}");
        }
    }
}

/// The fuzz body.
pub fn run(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let server = mode & 1 != 0;
    let raw = mode & 2 != 0;
    let deflate = mode & 4 != 0;
    let cut = usize::from(mode >> 3) + 1;
    let whole = trace(server, raw, deflate, input, input.len());
    assert_eq!(
        trace(server, raw, deflate, input, cut),
        whole,
        "cut in {cut}"
    );
    if input.len() <= 512 {
        assert_eq!(trace(server, raw, deflate, input, 1), whole, "byte by byte");
    }
}
