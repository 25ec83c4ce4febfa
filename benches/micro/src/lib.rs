//! What the memory harnesses share (`idle_memory` here, `scale_server` in
//! `benches/scale`): the counting global allocator of the core's memory
//! test, and the process's resident set size.

#[path = "../../../core/tests/net/util/counting.rs"]
pub mod counting;

/// Resident set size from `/proc/self/status` (0 where there is none).
pub fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}
