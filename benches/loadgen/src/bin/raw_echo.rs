//! The floor: a raw-TCP echo server with no WebSocket framing, one thread,
//! mio, edge-triggered. Prints `listening on HOST:PORT`.
//!
//! ```text
//! raw_echo [--port P]
//! ```

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);
const BUF: usize = 256 * 1024;

/// One client: what was read and not yet written back.
struct Client {
    stream: TcpStream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

fn main() -> io::Result<()> {
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--port", Some(p)) => port = p.parse().map_err(io::Error::other)?,
            _ => return Err(io::Error::other("usage: raw_echo [--port P]")),
        }
    }
    let mut listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    println!("listening on {}", listener.local_addr()?);
    io::stdout().flush()?;

    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut clients: Vec<Option<Client>> = Vec::new();
    let mut events = Events::with_capacity(1024);
    loop {
        poll.poll(&mut events, None)?;
        for event in &events {
            if event.token() == LISTENER {
                accept(&listener, &poll, &mut clients)?;
                continue;
            }
            let i = event.token().0;
            let closed = event.is_read_closed() || event.is_error();
            let gone = clients[i].as_mut().is_none_or(|c| pump(c, closed).is_err());
            if gone && let Some(mut c) = clients[i].take() {
                poll.registry().deregister(&mut c.stream)?;
            }
        }
    }
}

fn accept(
    listener: &TcpListener,
    poll: &Poll,
    clients: &mut Vec<Option<Client>>,
) -> io::Result<()> {
    loop {
        let (mut stream, _) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        };
        stream.set_nodelay(true)?;
        let i = clients
            .iter()
            .position(Option::is_none)
            .unwrap_or(clients.len());
        if i == clients.len() {
            clients.push(None);
        }
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        clients[i] = Some(Client {
            stream,
            buf: vec![0; BUF].into_boxed_slice(),
            start: 0,
            end: 0,
        });
    }
}

/// Echoes until the socket would block either way; an error drops the client.
/// Echoes what the socket holds. A read that fills less than the buffer
/// shows the socket drained (epoll's edge fires again when more arrives), so
/// no second read waits for `WouldBlock`, as in wsx's loop; unless the peer
/// closed its side, whose end of stream must still be read.
fn pump(c: &mut Client, closed: bool) -> io::Result<()> {
    let mut drained = false;
    loop {
        while c.start < c.end {
            match c.stream.write(&c.buf[c.start..c.end]) {
                Ok(n) => c.start += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        c.start = 0;
        c.end = 0;
        if drained {
            return Ok(());
        }
        match c.stream.read(&mut c.buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                c.end = n;
                drained = n < c.buf.len() && !closed;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
