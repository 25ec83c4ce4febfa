//! tokio-tungstenite's echo server, as its `examples/echo-server.rs` writes
//! it: a task per connection forwarding the read half into the write half.

use futures_util::{StreamExt, TryStreamExt, future};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> Result<(), String> {
    let addr = wsx_bench_peers::addr_from_args()?;
    let listener = TcpListener::bind(addr).await.map_err(|e| e.to_string())?;
    wsx_bench_peers::announce(listener.local_addr().map_err(|e| e.to_string())?);
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(accept_connection(stream));
    }
    Ok(())
}

async fn accept_connection(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(ws_stream) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (write, read) = ws_stream.split();
    // Echo text and binary messages; control frames are answered by the library.
    let _ = read
        .try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
        .forward(write)
        .await;
}
