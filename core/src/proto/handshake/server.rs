//! The server side of the opening handshake.
