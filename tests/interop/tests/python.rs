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
