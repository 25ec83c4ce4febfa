//! Writes the seed corpus of every fuzz target: `wsx-fuzz-seeds DIR` creates
//! `DIR/<target>/<seed>` (the checked-in `fuzz/seeds/` was made this way).

use std::path::PathBuf;

use wsx_hardening::fuzz::{TARGETS, seeds::seeds};

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: wsx-fuzz-seeds DIR");
        std::process::exit(2);
    };
    for (target, _) in TARGETS {
        let out = dir.join(target);
        std::fs::create_dir_all(&out)?;
        for (name, bytes) in seeds(target) {
            std::fs::write(out.join(name), bytes)?;
        }
        println!("{}", out.display());
    }
    Ok(())
}
