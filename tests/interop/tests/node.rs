//! wsx against Node's `ws`, both ways, over `ws://` and `wss://`.

wsx_interop::peer_suite!(wsx_interop::peer::Kind::Node);
