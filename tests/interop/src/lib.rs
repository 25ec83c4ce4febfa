//! Helpers for the interop tests: free ports, child processes, certificates.
