//! wsx against Node's `ws`, both ways, over `ws://` and `wss://`.

wsx_interop::peer_suite!(wsx_interop::peer::Kind::Node);

#[test]
fn wsx_server_closes_1007_on_invalid_utf8() {
    s::invalid_utf8();
}

#[test]
fn wsx_server_with_1000_concurrent_connections() {
    s::thousand_connections();
}

#[test]
fn node_client_by_ws_unix_url() {
    s::server_messages(wsx_interop::peer::Kind::Node, s::Route::Unix);
}
