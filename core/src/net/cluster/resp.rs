//! The Redis link as a state machine: commands out as RESP bytes, RESP3
//! frames in as events. Sans-I/O: the loop feeds what the socket read and
//! writes what [`Link::output`] holds.
//!
//! One connection in RESP3 (`HELLO 3`) carries both the subscriptions and
//! the publications: in RESP3, messages and subscription confirmations are
//! out-of-band push frames, so a subscribed connection still takes
//! `PUBLISH` and `PING` (in RESP2 it could not, and a second connection
//! would be needed). One socket means one reconnect, one handshake, one
//! keepalive and one order for everything a node sends.
//!
//! Against a Redis Cluster in sharded mode, a node holds one link per shard
//! master (see [`super::node`]); the link reports `MOVED` answers and the
//! reply to `CLUSTER SHARDS` rather than acting on them.
//!
//! Commands are written straight into the output buffer (a RESP command is
//! an array of bulk strings: `*N\r\n` then `$len\r\n bytes \r\n` each),
//! without an intermediate frame value; replies are parsed by the
//! `redis-protocol` crate's RESP3 decoder.

use std::collections::VecDeque;

use redis_protocol::resp3::decode::complete::decode;
use redis_protocol::resp3::types::OwnedFrame;

/// Most bytes of one incoming frame kept while it is incomplete: a
/// publication larger than this (plus its header) fails the link.
const MAX_FRAME: usize = 512 * 1024 * 1024;

/// A reply the link waits for, in the order the commands went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Hello,
    Select,
    /// `(S)SUBSCRIBE` of this many channels: one push confirmation each.
    Subscribe(usize),
    /// `(S)UNSUBSCRIBE` of this many channels: one push confirmation each.
    Unsubscribe(usize),
    Publish,
    Ping,
    /// `CLUSTER SHARDS`.
    Shards,
}

/// What the link reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// `HELLO` (and `SELECT`) succeeded: publications may go out.
    /// `subscribing`: confirmations of subscriptions were still awaited
    /// then (a [`LinkEvent::Subscribed`] follows).
    Ready { subscribing: bool },
    /// Every subscription asked for so far is confirmed.
    Subscribed,
    /// A channel is no longer subscribed: as asked, or because Redis
    /// dropped it (a Redis Cluster moved its slot to another shard).
    Unsubscribed { channel: Vec<u8> },
    /// A message on a subscribed channel.
    Message { channel: Vec<u8>, payload: Vec<u8> },
    /// Redis took a publication.
    Published,
    /// Redis refused a publication (the text of its error).
    PublishRefused(String),
    /// Redis Cluster: `slot` is served by another node, so a publication
    /// (`publication`) or a (un)subscription of that slot's channels was
    /// refused with `MOVED`.
    Moved { slot: u16, publication: bool },
    /// The reply to `CLUSTER SHARDS`, or the error Redis answered (a Redis
    /// that is not a cluster says so).
    Shards(Result<OwnedFrame, String>),
    /// A `PING` was answered.
    Pong,
}

/// How the link authenticates and which database it uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: u32,
    /// Sent as `CLIENT SETNAME` through `HELLO ... SETNAME`.
    pub name: String,
}

/// One Redis connection's protocol state.
#[derive(Debug)]
pub struct Link {
    sharded: bool,
    out: Vec<u8>,
    input: Vec<u8>,
    /// Bytes of `input` decoded already.
    decoded: usize,
    expect: VecDeque<Expect>,
    /// Subscription confirmations still awaited.
    unconfirmed: usize,
    ready: bool,
    events: VecDeque<LinkEvent>,
}

impl Link {
    /// A link that sends `HELLO 3` (with credentials and name) and, for a
    /// database other than 0, `SELECT`.
    pub fn new(login: &Login, sharded: bool) -> Link {
        let mut link = Link {
            sharded,
            out: Vec::new(),
            input: Vec::new(),
            decoded: 0,
            expect: VecDeque::new(),
            unconfirmed: 0,
            ready: false,
            events: VecDeque::new(),
        };
        let mut hello: Vec<&[u8]> = vec![b"HELLO", b"3"];
        if let Some(password) = &login.password {
            let user = login.user.as_deref().unwrap_or("default");
            hello.extend([b"AUTH".as_slice(), user.as_bytes(), password.as_bytes()]);
        }
        if !login.name.is_empty() {
            hello.extend([b"SETNAME".as_slice(), login.name.as_bytes()]);
        }
        link.command(&hello, Expect::Hello);
        if login.db != 0 {
            let db = login.db.to_string();
            link.command(&[b"SELECT", db.as_bytes()], Expect::Select);
        }
        link
    }

    /// Whether `HELLO` succeeded.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Whether subscription confirmations are still awaited.
    pub fn is_subscribing(&self) -> bool {
        self.unconfirmed > 0
    }

    /// Bytes to write to the socket; call [`Link::written`] with how many went.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    pub fn written(&mut self, n: usize) {
        self.out.drain(..n);
    }

    /// Subscribes to `channels` (nothing is sent for none).
    pub fn subscribe<'a>(&mut self, channels: impl IntoIterator<Item = &'a [u8]>) {
        let verb: &[u8] = if self.sharded {
            b"SSUBSCRIBE"
        } else {
            b"SUBSCRIBE"
        };
        let mut parts = vec![verb];
        parts.extend(channels);
        let n = parts.len() - 1;
        if n > 0 {
            self.unconfirmed += n;
            self.command(&parts, Expect::Subscribe(n));
        }
    }

    /// Unsubscribes from `channels` (nothing is sent for none).
    pub fn unsubscribe<'a>(&mut self, channels: impl IntoIterator<Item = &'a [u8]>) {
        let verb: &[u8] = if self.sharded {
            b"SUNSUBSCRIBE"
        } else {
            b"UNSUBSCRIBE"
        };
        let mut parts = vec![verb];
        parts.extend(channels);
        let n = parts.len() - 1;
        if n > 0 {
            self.command(&parts, Expect::Unsubscribe(n));
        }
    }

    /// Publishes `payload` on `channel`.
    pub fn publish(&mut self, channel: &[u8], payload: &[u8]) {
        let verb: &[u8] = if self.sharded {
            b"SPUBLISH"
        } else {
            b"PUBLISH"
        };
        self.command(&[verb, channel, payload], Expect::Publish);
    }

    /// Sends a `PING`.
    pub fn ping(&mut self) {
        self.command(&[b"PING"], Expect::Ping);
    }

    /// Asks a Redis Cluster which master serves which slots.
    pub fn discover(&mut self) {
        self.command(&[b"CLUSTER", b"SHARDS"], Expect::Shards);
    }

    /// How many bytes of commands wait to be written.
    pub fn pending_output(&self) -> usize {
        self.out.len()
    }

    fn command(&mut self, parts: &[&[u8]], expect: Expect) {
        encode_command(&mut self.out, parts);
        self.expect.push_back(expect);
    }

    /// Takes bytes read from the socket (decoded as events are asked for).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// The next event, in the order they happened, decoding what was fed
    /// one frame at a time (so the link's state is the state right after
    /// the event); fails when Redis broke the protocol or refused the
    /// handshake or a subscription (the link must be dropped).
    pub fn next_event(&mut self) -> Result<Option<LinkEvent>, String> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            match decode(&self.input[self.decoded..]) {
                Ok(Some((frame, used))) => {
                    self.decoded += used;
                    self.on_frame(frame)?;
                }
                Ok(None) => {
                    self.input.drain(..self.decoded);
                    self.decoded = 0;
                    if self.input.len() > MAX_FRAME {
                        return Err(format!("a Redis frame exceeds {MAX_FRAME} bytes"));
                    }
                    return Ok(None);
                }
                // The kind only: the decoder's details quote the buffered
                // bytes, which depend on how the socket cut them.
                Err(e) => {
                    return Err(format!(
                        "Redis sent bytes that are not RESP3 ({:?})",
                        e.kind()
                    ));
                }
            }
        }
    }

    fn on_frame(&mut self, frame: OwnedFrame) -> Result<(), String> {
        if let OwnedFrame::Push { data, .. } = frame {
            return self.on_push(data);
        }
        let error = match &frame {
            OwnedFrame::SimpleError { data, .. } => Some(data.clone()),
            OwnedFrame::BlobError { data, .. } => Some(String::from_utf8_lossy(data).into_owned()),
            _ => None,
        };
        let Some(expect) = self.expect.pop_front() else {
            return Err("Redis sent a reply to no command".to_owned());
        };
        match (expect, error) {
            (Expect::Hello, Some(e)) => Err(format!("Redis refused HELLO 3: {e}")),
            (Expect::Hello, None) => {
                self.ready = true;
                if !self.expect.contains(&Expect::Select) {
                    let subscribing = self.unconfirmed > 0;
                    self.events.push_back(LinkEvent::Ready { subscribing });
                }
                Ok(())
            }
            (Expect::Select, Some(e)) => Err(format!("Redis refused SELECT: {e}")),
            (Expect::Select, None) => {
                let subscribing = self.unconfirmed > 0;
                self.events.push_back(LinkEvent::Ready { subscribing });
                Ok(())
            }
            (Expect::Subscribe(n), Some(e)) => match moved_slot(&e) {
                // None of the command's channels was subscribed.
                Some(slot) => {
                    self.unconfirmed = self.unconfirmed.saturating_sub(n);
                    self.events.push_back(LinkEvent::Moved {
                        slot,
                        publication: false,
                    });
                    if self.unconfirmed == 0 {
                        self.events.push_back(LinkEvent::Subscribed);
                    }
                    Ok(())
                }
                None => Err(format!("Redis refused to subscribe: {e}")),
            },
            // The channel's slot is served elsewhere: not subscribed here.
            (Expect::Unsubscribe(_), Some(e)) if moved_slot(&e).is_some() => Ok(()),
            (Expect::Unsubscribe(_), Some(e)) => Err(format!("Redis refused to unsubscribe: {e}")),
            (Expect::Subscribe(_) | Expect::Unsubscribe(_), None) => {
                Err("Redis answered a subscription with a reply instead of a push".to_owned())
            }
            (Expect::Publish, Some(e)) => {
                self.events.push_back(match moved_slot(&e) {
                    Some(slot) => LinkEvent::Moved {
                        slot,
                        publication: true,
                    },
                    None => LinkEvent::PublishRefused(e),
                });
                Ok(())
            }
            (Expect::Publish, None) => {
                self.events.push_back(LinkEvent::Published);
                Ok(())
            }
            (Expect::Shards, error) => {
                self.events.push_back(LinkEvent::Shards(match error {
                    Some(e) => Err(e),
                    None => Ok(frame),
                }));
                Ok(())
            }
            (Expect::Ping, _) => {
                self.events.push_back(LinkEvent::Pong);
                Ok(())
            }
        }
    }

    fn on_push(&mut self, data: Vec<OwnedFrame>) -> Result<(), String> {
        let mut parts = data.into_iter().map(|f| match f {
            OwnedFrame::BlobString { data, .. } | OwnedFrame::SimpleString { data, .. } => data,
            _ => Vec::new(),
        });
        let kind = parts.next().unwrap_or_default();
        match kind.as_slice() {
            b"message" | b"smessage" => {
                let channel = parts.next().unwrap_or_default();
                let payload = parts.next().unwrap_or_default();
                self.events
                    .push_back(LinkEvent::Message { channel, payload });
            }
            b"subscribe" | b"ssubscribe" => {
                self.confirm(true)?;
                self.unconfirmed = self.unconfirmed.saturating_sub(1);
                if self.unconfirmed == 0 {
                    self.events.push_back(LinkEvent::Subscribed);
                }
            }
            b"unsubscribe" | b"sunsubscribe" => {
                self.confirm(false)?;
                let channel = parts.next().unwrap_or_default();
                self.events.push_back(LinkEvent::Unsubscribed { channel });
            }
            // Other pushes (invalidation, pmessage) are not asked for.
            _ => {}
        }
        Ok(())
    }

    /// Counts one confirmation against the command at the front.
    fn confirm(&mut self, subscribe: bool) -> Result<(), String> {
        let front = self.expect.front_mut();
        let left = match (front, subscribe) {
            (Some(Expect::Subscribe(n)), true) | (Some(Expect::Unsubscribe(n)), false) => n,
            // Redis confirms an unsubscription it made itself (a sharded
            // channel's slot moved): nothing of ours waits for it.
            (_, false) => return Ok(()),
            _ => return Err("Redis confirmed a subscription nobody asked for".to_owned()),
        };
        *left -= 1;
        if *left == 0 {
            self.expect.pop_front();
        }
        Ok(())
    }
}

/// The slot of a Redis Cluster redirect: `MOVED <slot> <host>:<port>`.
fn moved_slot(error: &str) -> Option<u16> {
    error
        .strip_prefix("MOVED ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// Appends a RESP command (an array of bulk strings) to `out`.
pub fn encode_command(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let size: usize = parts.iter().map(|p| p.len() + 16).sum();
    out.reserve(size + 16);
    out.push(b'*');
    out.extend_from_slice(parts.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for part in parts {
        out.push(b'$');
        out.extend_from_slice(part.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &[u8]) -> Vec<u8> {
        [format!("${}\r\n", s.len()).as_bytes(), s, b"\r\n"].concat()
    }

    /// Feeds `bytes`; the events they bring, or the error that ends the link.
    fn feed(link: &mut Link, bytes: &[u8]) -> Result<Vec<LinkEvent>, String> {
        link.feed(bytes);
        std::iter::from_fn(|| link.next_event().transpose()).collect()
    }

    fn push(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = format!(">{}\r\n", parts.len()).into_bytes();
        for p in parts {
            out.extend(bulk(p));
        }
        out
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings_the_decoder_reads_back() {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"PUBLISH", b"wsx:room", b"a\r\nb"]);
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$8\r\nwsx:room\r\n$4\r\na\r\nb\r\n"
        );
        let (frame, used) = decode(&out).unwrap().unwrap();
        assert_eq!(used, out.len());
        let OwnedFrame::Array { data, .. } = frame else {
            panic!("{frame:?}")
        };
        assert_eq!(data.len(), 3);
    }

    #[test]
    fn hello_with_credentials_and_database() {
        let login = Login {
            user: None,
            password: Some("pw".into()),
            db: 2,
            name: "wsx-n1".into(),
        };
        let link = Link::new(&login, false);
        let mut expected = Vec::new();
        encode_command(
            &mut expected,
            &[
                b"HELLO", b"3", b"AUTH", b"default", b"pw", b"SETNAME", b"wsx-n1",
            ],
        );
        encode_command(&mut expected, &[b"SELECT", b"2"]);
        assert_eq!(link.output(), expected);
    }

    #[test]
    fn a_session_byte_at_a_time() {
        let mut link = Link::new(&Login::default(), false);
        link.subscribe([b"wsx:a".as_slice(), b"wsx:b"]);
        link.publish(b"wsx:a", b"x");
        assert!(link.is_subscribing());
        let input = [
            b"%1\r\n+server\r\n+redis\r\n".to_vec(),
            b">3\r\n$9\r\nsubscribe\r\n$5\r\nwsx:a\r\n:1\r\n".to_vec(),
            push(&[b"message", b"wsx:b", b"early"]),
            b">3\r\n$9\r\nsubscribe\r\n$5\r\nwsx:b\r\n:2\r\n".to_vec(),
            b":0\r\n".to_vec(),
            push(&[b"message", b"wsx:a", b"hello"]),
        ]
        .concat();
        let mut events = Vec::new();
        for byte in input {
            events.extend(feed(&mut link, &[byte]).unwrap());
        }
        assert_eq!(
            events,
            [
                LinkEvent::Ready { subscribing: true },
                LinkEvent::Message {
                    channel: b"wsx:b".to_vec(),
                    payload: b"early".to_vec()
                },
                LinkEvent::Subscribed,
                LinkEvent::Published,
                LinkEvent::Message {
                    channel: b"wsx:a".to_vec(),
                    payload: b"hello".to_vec()
                },
            ]
        );
        assert!(link.is_ready() && !link.is_subscribing());
    }

    #[test]
    fn refusals() {
        let mut link = Link::new(&Login::default(), true);
        let e = feed(&mut link, b"-WRONGPASS invalid username-password pair\r\n");
        assert!(e.unwrap_err().contains("WRONGPASS"));

        let mut link = Link::new(&Login::default(), true);
        link.publish(b"c", b"p");
        assert_eq!(
            feed(&mut link, b"%0\r\n-ERR nope\r\n").unwrap(),
            [
                LinkEvent::Ready { subscribing: false },
                LinkEvent::PublishRefused("ERR nope".into())
            ]
        );
        assert!(link.output().starts_with(b"*2\r\n$5\r\nHELLO"));
        assert!(String::from_utf8_lossy(link.output()).contains("SPUBLISH"));

        assert!(feed(&mut Link::new(&Login::default(), false), b"!!!\r\n").is_err());
    }

    #[test]
    fn redis_cluster_answers() {
        let mut link = Link::new(&Login::default(), true);
        link.subscribe([b"a".as_slice()]);
        link.unsubscribe([b"b".as_slice()]);
        link.publish(b"c", b"p");
        link.discover();
        link.discover();
        let out = String::from_utf8_lossy(link.output()).into_owned();
        assert!(
            out.ends_with("*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n"),
            "{out}"
        );
        let mut events = feed(
            &mut link,
            b"%0\r\n-MOVED 1 127.0.0.1:7000\r\n-MOVED 2 :7001\r\n",
        )
        .unwrap();
        let rest = b"-MOVED 7 10.0.0.2:7001\r\n*0\r\n-ERR cluster support disabled\r\n";
        events.extend(feed(&mut link, rest).unwrap());
        assert_eq!(
            events,
            [
                LinkEvent::Ready { subscribing: true },
                // The subscription was refused as a whole: none is awaited.
                LinkEvent::Moved {
                    slot: 1,
                    publication: false
                },
                LinkEvent::Subscribed,
                LinkEvent::Moved {
                    slot: 7,
                    publication: true
                },
                LinkEvent::Shards(Ok(OwnedFrame::Array {
                    data: vec![],
                    attributes: None
                })),
                LinkEvent::Shards(Err("ERR cluster support disabled".into())),
            ]
        );
        assert!(!link.is_subscribing());
        // Redis dropping a sharded subscription itself (its slot moved).
        assert_eq!(
            feed(&mut link, b">3\r\n$12\r\nsunsubscribe\r\n$1\r\na\r\n:0\r\n").unwrap(),
            [LinkEvent::Unsubscribed {
                channel: b"a".to_vec()
            }]
        );
        assert_eq!(moved_slot("MOVED 15495 127.0.0.1:7103"), Some(15495));
        assert_eq!(moved_slot("ASK 1 127.0.0.1:7103"), None);
    }
}
