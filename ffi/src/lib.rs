//! The C ABI of wsx.
