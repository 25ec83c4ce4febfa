//! wsx against Python's `websockets`, both ways, over `ws://` and `wss://`.

wsx_interop::peer_suite!(wsx_interop::peer::Kind::Python);

#[test]
fn wsx_server_answers_plain_get_with_426() {
    s::plain_get_426();
}

#[test]
fn wsx_client_refuses_wrong_host_and_untrusted_certificate() {
    s::wss_refusals();
}

#[test]
fn wsx_client_keepalive_drops_a_peer_that_stops_reading() {
    s::keepalive_timeout();
}

#[test]
fn wsx_server_backpressure_against_a_slow_reader() {
    s::slow_reader_backpressure();
}

#[test]
fn wsx_client_in_poll_mode_from_one_thread() {
    s::poll_mode();
}
