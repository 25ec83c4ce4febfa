//! Python binding of wsx.
