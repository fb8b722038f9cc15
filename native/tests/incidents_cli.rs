//! `dnspect incidents` and the incident examples as a user runs them.
#![allow(clippy::unwrap_used)]
use std::process::Command;

fn dnspect(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dnspect"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const IDS: &[&str] = &[
    "000",
    "004",
    "coredns-5998",
    "coredns-5366",
    "coredns-7956",
    "hickory-2608",
    "kubernetes-dns-121",
    "pdns-3469",
];

#[test]
fn the_list_shows_all_eight_with_their_threads() {
    let (code, out, _) = dnspect(&["incidents"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("8 incidents"), "{out}");
    for id in IDS {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{id} "))),
            "{id}\n{out}"
        );
    }
    for url in [
        "https://github.com/coredns/coredns/issues/5998",
        "https://github.com/coredns/coredns/issues/5366",
        "https://github.com/coredns/coredns/issues/7956",
        "https://github.com/hickory-dns/hickory-dns/issues/2608",
        "https://github.com/kubernetes/dns/issues/121",
        "https://github.com/PowerDNS/pdns/issues/3469",
    ] {
        assert!(out.contains(url), "{url}");
    }
    let (code, json, _) = dnspect(&["incidents", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 8);
}

#[test]
fn each_incident_replays_and_every_expectation_holds() {
    for id in IDS {
        let (code, out, err) = dnspect(&["incidents", id]);
        assert_eq!(code, 0, "{id}: {err}\n{out}");
        assert!(out.contains("== dnspect (default settings)"), "{id}");
        assert!(!out.contains("FAILED"), "{id}\n{out}");
        let runs = out.matches("-- every expectation held").count();
        if out.contains("no policy run:") {
            assert_eq!(runs, 1, "{id}");
        } else {
            assert_eq!(runs, 2, "{id}");
            assert!(out.contains("== dnspect with that policy"), "{id}");
        }
        // Its packets open with decode --example.
        let line = out.lines().find(|l| l.starts_with("packets: ")).unwrap();
        for ex in line.split("--example ").skip(1) {
            let name = ex.split(';').next().unwrap().trim();
            let (code, text, _) = dnspect(&["decode", "--example", name]);
            assert_eq!(code, 0, "{name}");
            // The compressed seed fits in 512 bytes: no pattern applies to it.
            if !name.ends_with("-compressed") {
                assert!(
                    text.contains("incident"),
                    "{name}: the analysis names no incident\n{text}"
                );
            }
        }
    }
    let (code, _, err) = dnspect(&["incidents", "nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no incident \"nope\"") && err.contains("coredns-5998"),
        "{err}"
    );
}
