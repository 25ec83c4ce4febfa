//! A headless Chromium page (Debian's chromium driven by playwright-core)
//! opening `new WebSocket(...)` to the wsx server.

use wsx_interop::peer::Kind::Chromium;
use wsx_interop::scenarios::{self, Route};

#[test]
fn chromium_page_text_binary_subprotocol_origin() {
    scenarios::server_messages(Chromium, Route::Direct);
}

#[test]
fn chromium_page_close_codes_both_ways() {
    scenarios::server_close_both_ways(Chromium, Route::Direct);
}
