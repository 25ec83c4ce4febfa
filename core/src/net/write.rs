//! Sending a whole message: queued in the engine's output, or, when large
//! and nothing waits before it, written straight to a plain socket.

use std::io::Write;

use super::socket::{Plain, Stream};
use crate::proto::{MessageKind, SendError, Sender};

/// Whole messages from this size up are written to a plain socket as they
/// are, without a copy into the output buffer, when nothing waits before
/// them (see [`crate::proto::Sender::send_through`]). Smaller ones are
/// copied: that costs less than a system call of their own, and the
/// messages queued in one turn leave in one write.
const DIRECT_WRITE_MIN: usize = 16 * 1024;

/// Queues a whole message, or writes it to `direct` (see
/// the connection's `direct_socket`) when it is large enough to be worth it.
pub(super) fn send_message(
    sender: &mut Sender,
    direct: Option<&mut Stream>,
    kind: MessageKind,
    data: &[u8],
    compress: bool,
) -> Result<(), SendError> {
    match direct {
        Some(stream) if data.len() >= DIRECT_WRITE_MIN => {
            sender.send_through(kind, data, compress, |parts| {
                Plain(stream).write_vectored(parts)
            })
        }
        _ => sender.send_with(kind, data, compress),
    }
}
