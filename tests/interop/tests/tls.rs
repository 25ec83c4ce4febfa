//! `wss://` both ways with certificates made by the test, and the wsx
//! client's refusal of a wrong host name and of an untrusted certificate.

use wsx_interop::peer::Kind::{Node, Python};
use wsx_interop::scenarios;

#[test]
fn wsx_client_to_python_tls_server() {
    scenarios::wss_client(Python);
}

#[test]
fn wsx_client_to_node_tls_server() {
    scenarios::wss_client(Node);
}

#[test]
fn python_client_to_wsx_tls_server() {
    scenarios::wss_server(Python);
}

#[test]
fn node_client_to_wsx_tls_server() {
    scenarios::wss_server(Node);
}

#[test]
fn wsx_client_refuses_wrong_host_and_untrusted_certificate() {
    scenarios::wss_refusals();
}
