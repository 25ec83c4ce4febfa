//! `core::net`'s imports point one way: no module imports (directly or
//! through others) a module that imports it back, and the leaf modules
//! import nothing of the loop. Read from the sources, so a new cycle fails
//! here rather than in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The modules of `core::net` (a folder counts as one) and the modules of
/// `core::net` each one names in its code (tests and comments left out).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/net");
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |module: String, path: &Path| {
        let text = std::fs::read_to_string(path).expect("source");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| format!("{l}\n"))
            .collect();
        sources.entry(module).or_default().push_str(&code);
    };
    for entry in std::fs::read_dir(&root).expect("src/net") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            for file in std::fs::read_dir(&path).expect("folder") {
                add(name.clone(), &file.expect("entry").path());
            }
        } else if name != "mod" {
            add(name, &path);
        }
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(module, code)| {
            let mut deps = BTreeSet::new();
            for prefix in ["super::", "crate::net::"] {
                for (at, _) in code.match_indices(prefix) {
                    let rest = &code[at + prefix.len()..];
                    let names: Vec<&str> = match rest.strip_prefix('{') {
                        Some(list) => list[..list.find('}').unwrap_or(0)]
                            .split(',')
                            .map(|n| n.trim().split("::").next().unwrap_or_default())
                            .collect(),
                        None => vec![
                            rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                                .next()
                                .unwrap_or_default(),
                        ],
                    };
                    for name in names {
                        if modules.contains(name) && name != module {
                            deps.insert(name.to_owned());
                        }
                    }
                }
            }
            (module.clone(), deps)
        })
        .collect()
}

/// Whether `to` can be reached from `from`.
fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(m) = stack.pop() {
        for d in &graph[&m] {
            if d == to {
                return true;
            }
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    false
}

#[test]
fn core_net_has_no_import_cycle() {
    let graph = graph();
    assert!(graph.len() > 20, "found only {:?}", graph.keys());
    let cycles: Vec<String> = graph
        .iter()
        .flat_map(|(m, deps)| deps.iter().map(move |d| (m, d)))
        .filter(|(m, d)| reaches(&graph, d, m))
        .map(|(m, d)| format!("{m} -> {d} -> ... -> {m}"))
        .collect();
    assert!(cycles.is_empty(), "import cycles in core::net: {cycles:#?}");
}

#[test]
fn the_leaf_modules_import_nothing_of_the_loop() {
    let graph = graph();
    let loop_side = [
        "reactor",
        "event_loop",
        "queue",
        "conn",
        "handle",
        "handler",
        "shared",
    ];
    for leaf in [
        "config",
        "error",
        "tls",
        "dns",
        "state",
        "topics",
        "inbox",
        "transport",
        "socket",
        "timer",
        "telemetry",
        "worker",
    ] {
        let reached: Vec<&str> = loop_side
            .iter()
            .copied()
            .filter(|l| reaches(&graph, leaf, l))
            .collect();
        assert!(reached.is_empty(), "{leaf} reaches {reached:?}");
    }
}
