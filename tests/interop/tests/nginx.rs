//! A Python `websockets` client reaching the wsx server through nginx.

use wsx_interop::peer::Kind::Python;
use wsx_interop::scenarios::{self as s, Route, Side};

#[test]
fn python_client_through_nginx() {
    s::server_messages(Python, Route::Nginx);
}

#[test]
fn python_client_close_codes_through_nginx() {
    s::close_both_ways(Python, Side::Server(Route::Nginx));
}

#[test]
fn python_client_through_nginx_to_a_unix_socket() {
    s::server_messages(Python, Route::NginxUnix);
}
