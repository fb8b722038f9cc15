//! Golden output for the shipped examples: the dig-style analysis text, reviewed by a person and
//! kept as insta snapshots. A change in wording or numbers shows up as a snapshot diff.
#![allow(clippy::unwrap_used)]
use dnspect_core::examples::EXAMPLES;
use dnspect_core::wire::analyze::analyze;
use dnspect_core::wire::dig::analysis_text;
use dnspect_core::wire::fit::minimize;
use dnspect_core::wire::text::unhex;
use dnspect_core::wire::{Message, RType};

#[test]
fn example_analyses() {
    for e in EXAMPLES {
        let a = analyze(&unhex(e.hex.trim()).unwrap());
        assert!(a.error.is_none(), "{}: {:?}", e.name, a.error);
        insta::assert_snapshot!(e.name, analysis_text(&a));
    }
}

#[test]
fn nodata_with_soa_is_negative_and_cacheable_by_rfc_2308() {
    let e = dnspect_core::examples::example("nodata").unwrap();
    let a = analyze(&unhex(e.hex.trim()).unwrap());
    assert!(a.message.is_negative());
    assert!(a.message.answers.is_empty());
    assert_eq!(a.message.authority[0].rtype, RType::SOA);
    assert!(a
        .warnings
        .iter()
        .any(|w| w.message.contains("cacheable for 30 s")));
}

#[test]
fn minimal_response_keeps_what_the_answer_needs() {
    let mut m: Message = Message::from_wire(
        &unhex(dnspect_core::examples::example("cname").unwrap().hex.trim()).unwrap(),
    )
    .unwrap();
    let ns = Message::from_wire(
        &unhex(
            dnspect_core::examples::example("nodata")
                .unwrap()
                .hex
                .trim(),
        )
        .unwrap(),
    )
    .unwrap();
    // Give the positive answer an SOA in authority and glue in additional: both go.
    m.authority.push(ns.authority[0].clone());
    m.additional.push(m.answers[1].clone());
    minimize(&mut m);
    assert!(m.authority.is_empty());
    assert!(m.additional.is_empty());
    assert!(m.edns.is_some(), "OPT stays");
    assert_eq!(m.answers.len(), 3);
    // A negative answer keeps its SOA.
    let mut n = ns.clone();
    minimize(&mut n);
    assert_eq!(n.authority.len(), 1);
}
