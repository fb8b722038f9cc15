//! Runs every scenario in tests/scenarios/*.toml through the simulator: each file states the
//! clients' queries, the upstreams' behaviour over time and what the clients must get.
#![allow(clippy::unwrap_used)]
use dnspect_core::sim::{run, Scenario};

#[test]
fn all_scenarios() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the scenario corpus, found {}",
        files.len()
    );
    let mut failed = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let s: Scenario = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let r = run(&s).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !r.failures.is_empty() || std::env::var_os("SCENARIO_TRACE").is_some() {
            eprintln!("=== {name}: {}", s.title);
            for t in &r.trace {
                eprintln!("{:>8} ms  {:<8} {}", t.at_ms, t.actor, t.text);
            }
            for x in &r.failures {
                eprintln!("FAILED: {x}");
            }
        }
        if !r.failures.is_empty() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "scenarios failed: {failed:?}");
}
