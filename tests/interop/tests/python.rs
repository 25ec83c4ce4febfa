//! wsx against Python's `websockets`, both ways.

use wsx_interop::peer::Kind::Python;
use wsx_interop::scenarios::{self, Route};

#[test]
fn wsx_client_messages_headers_subprotocol() {
    scenarios::client_messages(Python);
}

#[test]
fn wsx_client_receives_fragmented_messages() {
    scenarios::client_fragments(Python);
}

#[test]
fn wsx_client_ping_pong() {
    scenarios::client_ping_pong(Python);
}

#[test]
fn wsx_client_close_codes_both_ways() {
    scenarios::client_close_both_ways(Python);
}

#[test]
fn wsx_client_sees_handshake_refusal() {
    scenarios::client_sees_refusal(Python);
}

#[test]
fn wsx_server_messages_headers_subprotocol() {
    scenarios::server_messages(Python, Route::Direct);
}

#[test]
fn wsx_server_receives_fragmented_messages() {
    scenarios::server_fragments(Python);
}

#[test]
fn wsx_server_ping_pong() {
    scenarios::server_ping_pong(Python);
}

#[test]
fn wsx_server_close_codes_both_ways() {
    scenarios::server_close_both_ways(Python, Route::Direct);
}

#[test]
fn wsx_server_refuses_origin_with_403() {
    scenarios::origin_policy(Python);
}

#[test]
fn wsx_server_answers_plain_get_with_426() {
    scenarios::plain_get_426();
}
