//! CPU time of a process from `/proc/PID/stat` (Linux only; elsewhere 0).

use std::io;
use std::time::Duration;

/// User plus system clock ticks used so far by `pid` (all its threads), or by
/// this process when `pid` is `None`.
pub fn ticks(pid: Option<u32>) -> io::Result<u64> {
    if !cfg!(target_os = "linux") {
        return Ok(0);
    }
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path)?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("unreadable /proc stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| -> io::Result<u64> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("unreadable /proc stat field"))
    };
    Ok(field(14)? + field(15)?)
}

/// The share of one core used between two tick readings over `elapsed`.
pub fn share(start: u64, end: u64, elapsed: Duration) -> f64 {
    // SAFETY: sysconf has no preconditions; it only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    end.saturating_sub(start) as f64 / hz / elapsed.as_secs_f64()
}
