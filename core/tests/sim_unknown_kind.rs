//! A scenario whose upstream behaviour has a `kind` the simulator does not know is an error that
//! names the kind and the valid ones, not a silent NOERROR answer.
#![allow(clippy::unwrap_used)]
use dnspect_core::sim::{run, Scenario};

fn scenario(kind: &str) -> Scenario {
    toml::from_str(&format!(
        r#"
title = "a misspelt behaviour kind"

[[upstreams]]
label = "10.0.0.1"
[[upstreams.rules]]
respond = [{{ kind = "{kind}" }}]

[[queries]]
at_ms = 0
name = "www.example."
expect = {{ rcode = "NOERROR" }}
"#
    ))
    .unwrap()
}

#[test]
fn an_unknown_kind_is_an_error_naming_it_and_the_valid_ones() {
    let e = run(&scenario("servfial")).expect_err("an unknown kind must not run");
    assert!(e.contains("\"servfial\""), "the error names the kind: {e}");
    for valid in [
        "answer", "hex", "garbage", "silence", "servfail", "refused", "nxdomain",
    ] {
        assert!(e.contains(valid), "the error lists `{valid}`: {e}");
    }
}

#[test]
fn the_known_kinds_still_run() {
    for kind in ["", "answer", "servfail", "refused", "nxdomain", "silence"] {
        run(&scenario(kind)).unwrap_or_else(|e| panic!("kind {kind:?}: {e}"));
    }
}
