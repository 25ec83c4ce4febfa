//! The client side of the opening handshake.
