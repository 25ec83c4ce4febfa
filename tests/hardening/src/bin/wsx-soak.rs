//! The soak against an echo server process (the C `echo_server` example):
//!
//! ```text
//! wsx-soak --server PATH [--cycles N] [--messages N] [--connections N] [--threads N]
//! ```
//!
//! Starts the server with `--port 0`, warms it up with a tenth of the load,
//! samples its RSS and open descriptors from /proc, runs the connect/echo/close
//! cycles and the pipelined messages, samples again once its connections have
//! closed, and fails unless there were zero errors (ours and the server's
//! stderr), RSS is within 10% of the warmed-up figure, and no descriptor
//! leaked. Prints the figures.

use std::time::Instant;

use wsx_hardening::soak::{Plan, ServerProcess, run_cycles, run_messages, sample, settle};

fn arg_value(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{name} needs a number")))
        })
        .unwrap_or(default)
}

fn usage(problem: &str) -> ! {
    eprintln!("wsx-soak: {problem}");
    eprintln!(
        "usage: wsx-soak --server PATH [--cycles N] [--messages N] [--connections N] [--threads N]"
    );
    std::process::exit(2);
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(program) = args
        .iter()
        .position(|a| a == "--server")
        .and_then(|i| args.get(i + 1))
    else {
        usage("--server PATH is required");
    };
    let plan = Plan {
        cycles: arg_value(&args, "--cycles", 100_000),
        messages: arg_value(&args, "--messages", 10_000_000),
        connections: arg_value(&args, "--connections", 32),
        threads: arg_value(&args, "--threads", 8),
    };
    let server = ServerProcess::start(program, &["--port".to_owned(), "0".to_owned()])
        .unwrap_or_else(|e| usage(&format!("could not start {program}: {e}")));
    let (addr, pid) = (server.addr, server.pid());
    println!("soak: {program} (pid {pid}) on {addr}: {plan:?}");

    let mut errors = Vec::new();
    // Warm-up: a tenth of the load, so buffers and allocator pools exist.
    let start_fds = sample(pid).fds;
    errors.extend(run_cycles(addr, plan.cycles / 10, plan.threads));
    errors.extend(run_messages(addr, plan.messages / 10, plan.connections));
    let warm = settle(pid, start_fds);

    let started = Instant::now();
    errors.extend(run_cycles(addr, plan.cycles, plan.threads));
    let cycles_time = started.elapsed();
    let mid = sample(pid);
    let started = Instant::now();
    errors.extend(run_messages(addr, plan.messages, plan.connections));
    let messages_time = started.elapsed();
    let end = settle(pid, warm.fds);

    let server_errors: Vec<String> = server
        .stderr
        .lock()
        .expect("stderr")
        .iter()
        .filter(|l| !l.contains("shutting down"))
        .cloned()
        .collect();
    let clean_exit = server.stop().unwrap_or(false);
    let growth = (end.rss as f64 / warm.rss.max(1) as f64 - 1.0) * 100.0;
    println!(
        "soak: {} cycles in {:.1} s ({:.0}/s), {} messages in {:.1} s ({:.0}/s)",
        plan.cycles,
        cycles_time.as_secs_f64(),
        plan.cycles as f64 / cycles_time.as_secs_f64(),
        plan.messages,
        messages_time.as_secs_f64(),
        plan.messages as f64 / messages_time.as_secs_f64(),
    );
    println!(
        "soak: server RSS {:.2} MiB after warm-up, {:.2} MiB after the cycles, {:.2} MiB at the end ({growth:+.1}%)",
        mib(warm.rss),
        mib(mid.rss),
        mib(end.rss)
    );
    println!(
        "soak: server descriptors {} at start, {} after warm-up, {} at the end",
        start_fds, warm.fds, end.fds
    );
    println!(
        "soak: {} client errors, {} server error lines, clean exit: {clean_exit}",
        errors.len(),
        server_errors.len()
    );
    let mut failed = false;
    for e in errors.iter().chain(&server_errors).take(10) {
        eprintln!("soak: error: {e}");
        failed = true;
    }
    if warm.rss > 0 && growth > 10.0 {
        let per_cycle = end.rss.saturating_sub(warm.rss) / plan.cycles.max(1);
        eprintln!(
            "soak: FAILED: RSS grew {growth:.1}% after warm-up (limit 10%): \
             {per_cycle} bytes per connection cycle"
        );
        failed = true;
    }
    if end.fds > warm.fds || warm.fds > start_fds {
        eprintln!("soak: FAILED: descriptors leaked");
        failed = true;
    }
    if !clean_exit {
        eprintln!("soak: FAILED: the server did not exit cleanly");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
    println!("soak: PASSED");
}
