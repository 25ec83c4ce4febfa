//! Where a sharded channel lives in a Redis Cluster: its hash slot, and the
//! master that serves the slot (from `CLUSTER SHARDS`). Sans-I/O.
//!
//! A Redis Cluster splits its key space into 16384 slots; a sharded
//! channel belongs to the slot of its name (CRC16 of the name, or of its
//! hash tag `{...}` when it has one), and `SSUBSCRIBE`/`SPUBLISH` to another
//! node than the slot's master is answered `MOVED`.

use std::fmt;

use redis_protocol::resp3::types::OwnedFrame;

/// Slots of a Redis Cluster.
const SLOTS: usize = 16384;
/// No master serves the slot (a slot table entry).
const NONE: u16 = u16::MAX;

/// The hash slot of a channel: CRC16 (XMODEM) of its name, or of the part
/// between the first `{` and the next `}` when that part is not empty,
/// modulo 16384 (the `redis-protocol` crate's implementation).
pub fn slot(channel: &[u8]) -> u16 {
    redis_protocol::redis_keyslot(channel)
}

/// A Redis node's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Addr {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host.contains(':') {
            true => write!(f, "[{}]:{}", self.host, self.port),
            false => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

/// Which master serves each slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The masters that serve slots.
    pub masters: Vec<Addr>,
    /// Index into `masters` by slot ([`NONE`] for a slot nobody serves).
    owners: Vec<u16>,
}

impl Topology {
    /// The index in [`Topology::masters`] of the master serving `slot`.
    pub fn owner(&self, slot: u16) -> Option<usize> {
        match self.owners.get(slot as usize) {
            Some(&i) if i != NONE => Some(i as usize),
            _ => None,
        }
    }

    /// Reads the reply to `CLUSTER SHARDS` (RESP3 maps, or RESP2's flat
    /// key-value arrays). `asked`: the host of the node that answered, for
    /// a node whose endpoint is unknown (`?`); `tls`: use the nodes' TLS
    /// ports.
    pub fn from_shards(reply: &OwnedFrame, asked: &str, tls: bool) -> Result<Topology, String> {
        let bad = |why: &str| format!("CLUSTER SHARDS: {why}");
        let OwnedFrame::Array { data: shards, .. } = reply else {
            return Err(bad("not an array"));
        };
        let mut topology = Topology {
            masters: Vec::new(),
            owners: vec![NONE; SLOTS],
        };
        for shard in shards {
            let fields = pairs(shard).ok_or_else(|| bad("a shard is not a map"))?;
            let slots = match field(&fields, "slots") {
                Some(OwnedFrame::Array { data, .. }) => data,
                _ => return Err(bad("a shard without slots")),
            };
            if slots.is_empty() {
                continue;
            }
            let nodes = match field(&fields, "nodes") {
                Some(OwnedFrame::Array { data, .. }) => data,
                _ => return Err(bad("a shard without nodes")),
            };
            let master = nodes
                .iter()
                .filter_map(pairs)
                .filter(|n| text(field(n, "role")) == Some("master"))
                // An online master if there is one.
                .max_by_key(|n| text(field(n, "health")) == Some("online"))
                .ok_or_else(|| bad("a shard without a master"))?;
            let addr =
                address(&master, asked, tls).ok_or_else(|| bad("a master without a port"))?;
            let index = match topology.masters.iter().position(|m| *m == addr) {
                Some(i) => i,
                None => {
                    topology.masters.push(addr);
                    topology.masters.len() - 1
                }
            };
            for range in slots.chunks(2) {
                let (Some(start), Some(end)) = (number(&range[0]), range.get(1).and_then(number))
                else {
                    return Err(bad("a slot range is not two numbers"));
                };
                if start > end || end as usize >= SLOTS {
                    return Err(bad(&format!("slot range {start}-{end}")));
                }
                topology.owners[start as usize..=end as usize].fill(index as u16);
            }
        }
        Ok(topology)
    }
}

/// The key-value pairs of a map (or of a RESP2 flat array).
fn pairs(frame: &OwnedFrame) -> Option<Vec<(&OwnedFrame, &OwnedFrame)>> {
    match frame {
        OwnedFrame::Map { data, .. } => Some(data.iter().collect()),
        OwnedFrame::Array { data, .. } if data.len() % 2 == 0 => {
            Some(data.chunks(2).map(|kv| (&kv[0], &kv[1])).collect())
        }
        _ => None,
    }
}

fn field<'a>(pairs: &[(&OwnedFrame, &'a OwnedFrame)], name: &str) -> Option<&'a OwnedFrame> {
    pairs
        .iter()
        .find(|(k, _)| text(Some(k)) == Some(name))
        .map(|(_, v)| *v)
}

fn text(frame: Option<&OwnedFrame>) -> Option<&str> {
    match frame? {
        OwnedFrame::BlobString { data, .. } | OwnedFrame::SimpleString { data, .. } => {
            std::str::from_utf8(data).ok()
        }
        _ => None,
    }
}

fn number(frame: &OwnedFrame) -> Option<u64> {
    match frame {
        OwnedFrame::Number { data, .. } => u64::try_from(*data).ok(),
        other => text(Some(other))?.parse().ok(),
    }
}

/// A node's address: its endpoint (or IP), and its TLS or plain port.
fn address(node: &[(&OwnedFrame, &OwnedFrame)], asked: &str, tls: bool) -> Option<Addr> {
    let host = ["endpoint", "ip"]
        .into_iter()
        .filter_map(|name| text(field(node, name)))
        .find(|h| !h.is_empty() && *h != "?")
        .unwrap_or(asked);
    let ports = match tls {
        true => ["tls-port", "port"],
        false => ["port", "tls-port"],
    };
    let port = ports
        .into_iter()
        .filter_map(|name| field(node, name).and_then(number))
        .find(|&p| p > 0)?;
    Some(Addr {
        host: host.to_owned(),
        port: u16::try_from(port).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use redis_protocol::resp3::decode::complete::decode;

    use super::*;

    #[test]
    fn hash_slots_follow_redis() {
        // The Redis Cluster specification's test vector, and its hash tag rules.
        assert_eq!(slot(b"123456789"), 0x31C3);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"{user1000}.followers"), slot(b"user1000"));
        assert_ne!(slot(b"foo{}{bar}"), slot(b"bar"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
        assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
        // `redis-cli cluster keyslot` of these.
        assert_eq!(slot(b"a"), 15495);
        assert_eq!(slot(b"b"), 3300);
        assert_eq!(slot(b"c"), 7365);
    }

    fn shards_reply(resp: &[u8]) -> OwnedFrame {
        let (frame, used) = decode(resp).unwrap().unwrap();
        assert_eq!(used, resp.len());
        frame
    }

    fn bulk(s: &str) -> String {
        format!("${}\r\n{s}\r\n", s.len())
    }

    /// A shard as Redis 7 writes it in RESP3: its slot ranges and nodes.
    fn shard(ranges: &[(u16, u16)], nodes: &[(&str, &str, u16, &str)]) -> String {
        let mut out = format!("%2\r\n{}*{}\r\n", bulk("slots"), ranges.len() * 2);
        for (a, b) in ranges {
            out += &format!(":{a}\r\n:{b}\r\n");
        }
        out += &format!("{}*{}\r\n", bulk("nodes"), nodes.len());
        for (endpoint, role, port, health) in nodes {
            out += "%5\r\n";
            for (k, v) in [("endpoint", *endpoint), ("role", role), ("health", health)] {
                out += &(bulk(k) + &bulk(v));
            }
            // No IP either when the endpoint is unknown.
            let ip = if *endpoint == "?" { "" } else { "10.0.0.9" };
            out += &format!("{}:{port}\r\n{}{}", bulk("port"), bulk("ip"), bulk(ip));
        }
        out
    }

    #[test]
    fn cluster_shards_maps_every_slot_to_its_master() {
        let reply = format!(
            "*3\r\n{}{}{}",
            shard(&[(0, 5460)], &[("127.0.0.1", "master", 7001, "online")]),
            shard(
                &[(5461, 10000), (10923, 16383)],
                &[
                    ("127.0.0.1", "replica", 7005, "online"),
                    ("127.0.0.1", "master", 7002, "failed"),
                    ("?", "master", 7003, "online"),
                ]
            ),
            shard(&[], &[("127.0.0.1", "master", 7004, "online")]),
        );
        let t = Topology::from_shards(&shards_reply(reply.as_bytes()), "seed", false).unwrap();
        let at = |s: u16| t.owner(s).map(|i| t.masters[i].to_string());
        assert_eq!(at(0).as_deref(), Some("127.0.0.1:7001"));
        assert_eq!(at(5460).as_deref(), Some("127.0.0.1:7001"));
        // The online master, at the host asked when its endpoint is unknown.
        assert_eq!(at(5461).as_deref(), Some("seed:7003"));
        assert_eq!(at(16383).as_deref(), Some("seed:7003"));
        assert_eq!(at(10001), None);
        assert_eq!(t.masters.len(), 2, "a shard without slots serves nothing");

        for bad in [
            "+OK\r\n",
            "*1\r\n:1\r\n",
            "*1\r\n%1\r\n$5\r\nslots\r\n*2\r\n:9\r\n:1\r\n",
        ] {
            assert!(Topology::from_shards(&shards_reply(bad.as_bytes()), "h", false).is_err());
        }
        let a = Addr {
            host: "::1".into(),
            port: 7000,
        };
        assert_eq!(a.to_string(), "[::1]:7000");
    }
}
