use wsx_core::net::ServerConfig;
use wsx_hardening::memory::self_rss;
use wsx_hardening::server::TestServer;
use wsx_hardening::soak::run_cycles;
#[test]
fn scratch() {
    let server = TestServer::start(ServerConfig::default(), true);
    let addr = server.addr();
    assert!(run_cycles(addr, 20000, 8).is_empty());
    let a = self_rss().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(32));
    assert!(run_cycles(addr, 20000, 8).is_empty());
    let b = self_rss().unwrap();
    println!("RSS after 20k: {a}; after 32 s and 20k more: {b}");
}
