//! A headless Chromium page (Debian's chromium driven by playwright-core)
//! opening `new WebSocket(...)` to the wsx server, directly, over `wss://`,
//! and through nginx.

use wsx_interop::peer::Kind::Chromium;
use wsx_interop::scenarios::{self as s, Route, Side};

#[test]
fn chromium_page_text_binary_subprotocol_origin() {
    s::server_messages(Chromium, Route::Direct);
}

#[test]
fn chromium_page_close_codes_both_ways() {
    s::close_both_ways(Chromium, Side::Server(Route::Direct));
}

#[test]
fn chromium_page_over_wss() {
    s::wss_server(Chromium);
}

#[test]
fn chromium_page_through_nginx() {
    s::server_messages(Chromium, Route::Nginx);
}

#[test]
fn chromium_page_close_codes_through_nginx() {
    s::close_both_ways(Chromium, Side::Server(Route::Nginx));
}
