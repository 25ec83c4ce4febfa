//! Peers reaching the wsx server through an nginx reverse proxy.

use wsx_interop::peer::Kind::{Chromium, Python};
use wsx_interop::scenarios::{self, Route};

#[test]
fn python_client_through_nginx() {
    scenarios::server_messages(Python, Route::Nginx);
}

#[test]
fn python_client_close_codes_through_nginx() {
    scenarios::server_close_both_ways(Python, Route::Nginx);
}

#[test]
fn chromium_page_through_nginx() {
    scenarios::server_messages(Chromium, Route::Nginx);
}

#[test]
fn chromium_page_close_codes_through_nginx() {
    scenarios::server_close_both_ways(Chromium, Route::Nginx);
}
