//! Replays every fuzz target's seed corpus, regression inputs and minimised
//! campaign corpus (`fuzz/corpus/`, see FUZZING.md) through the target's
//! body on stable, then a short, deterministic mutation run from the
//! seeds: the cheap part of fuzzing that `make test` can afford.

use std::path::{Path, PathBuf};

use wsx_hardening::fuzz::{Body, TARGETS, seeds::seeds};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted; none if it does not exist.
fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read input");
            (p, bytes)
        })
        .collect()
}

/// Runs `body` on `data`; a failure is described with the input.
fn check(what: &str, body: Body, data: &[u8]) -> Result<(), String> {
    std::panic::catch_unwind(|| body(data)).map_err(|_| format!("{what} fails: {data:02x?}"))
}

fn replay(what: &str, body: Body, data: &[u8]) {
    if let Err(failure) = check(what, body, data) {
        panic!("{failure}");
    }
}

#[test]
fn checked_in_seeds_replay() {
    for (target, body) in TARGETS {
        let files = inputs(&fuzz_dir().join("seeds").join(target));
        assert!(!files.is_empty(), "no seeds for {target}");
        for (path, bytes) in files {
            replay(&path.display().to_string(), *body, &bytes);
        }
    }
}

#[test]
fn generated_seeds_match_the_checked_in_ones() {
    for (target, body) in TARGETS {
        let dir = fuzz_dir().join("seeds").join(target);
        for (name, bytes) in seeds(target) {
            replay(&format!("{target}/{name}"), *body, &bytes);
            let on_disk = std::fs::read(dir.join(name)).expect("seed file");
            assert_eq!(
                on_disk, bytes,
                "{target}/{name}: regenerate with wsx-fuzz-seeds fuzz/seeds"
            );
        }
    }
}

#[test]
fn regressions_replay() {
    for (target, body) in TARGETS {
        for (path, bytes) in inputs(&fuzz_dir().join("regressions").join(target)) {
            replay(&path.display().to_string(), *body, &bytes);
        }
    }
}

/// The corpus the cargo-fuzz campaign left behind, minimised
/// (`cargo fuzz cmin`): every input that reached new coverage.
#[test]
fn campaign_corpus_replays() {
    let mut replayed = 0;
    for (target, body) in TARGETS {
        let files = inputs(&fuzz_dir().join("corpus").join(target));
        assert!(
            !files.is_empty(),
            "no campaign corpus for {target}: run make fuzz, then make fuzz-cmin"
        );
        for (path, bytes) in files {
            replay(&path.display().to_string(), *body, &bytes);
            replayed += 1;
        }
    }
    eprintln!("{replayed} corpus inputs replayed");
}

/// xorshift64*: a fixed sequence, so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One libFuzzer-style mutation: flip, set, insert, delete or splice bytes.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, donor: &[u8]) {
    const INTERESTING: [u8; 8] = [0x00, 0x7E, 0x7F, 0x80, 0xC0, 0xE2, 0xF0, 0xFF];
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(6) {
            0 if at < input.len() => input[at] ^= 1 << rng.below(8),
            1 if at < input.len() => input[at] = INTERESTING[rng.below(8)],
            2 => input.insert(at, rng.next() as u8),
            3 if at < input.len() => {
                input.remove(at);
            }
            4 => input.truncate(at),
            _ => {
                let from = rng.below(donor.len());
                let len = rng.below(16).min(donor.len() - from);
                input.splice(at..at, donor[from..from + len].iter().copied());
            }
        }
    }
}

#[test]
fn short_mutation_run_from_the_seeds() {
    let mut rng = Rng(0x5EED_F0A5_C1D0_0001);
    // Every target runs, so one target's failure hides no other's.
    let mut failures = Vec::new();
    for (target, body) in TARGETS {
        let corpus: Vec<Vec<u8>> = seeds(target).into_iter().map(|(_, b)| b).collect();
        for round in 0..400 {
            let mut input = corpus[round % corpus.len()].clone();
            let donor = &corpus[rng.below(corpus.len())];
            mutate(&mut rng, &mut input, donor);
            if let Err(failure) = check(&format!("{target} mutation {round}"), *body, &input) {
                failures.push(failure);
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
