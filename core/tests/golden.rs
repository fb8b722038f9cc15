//! Golden output for the shipped examples: the dig-style analysis text, reviewed by a person and
//! kept as insta snapshots. A change in wording or numbers shows up as a snapshot diff.
#![allow(clippy::unwrap_used)]
use dnspect_core::examples::EXAMPLES;
use dnspect_core::wire::fit::minimize;
use dnspect_core::wire::inspect::analyze::analyze;
use dnspect_core::wire::inspect::dig::analysis_text;
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
fn a_cname_chain_ending_in_nodata_is_negative_for_the_analyzer_as_for_the_cache() {
    // Incident 004's shape: the chain, then no A at its end, with the SOA.
    let mut m = Message::default();
    m.header.qr = true;
    m.questions.push(dnspect_core::wire::Question {
        name: "repo1.maven.org.".parse().unwrap(),
        qtype: RType::A,
        class: dnspect_core::wire::Class(1),
    });
    for l in [
        "repo1.maven.org. 30 IN CNAME central.maven.org.",
        "central.maven.org. 30 IN CNAME sonatype.map.fastly.net.",
    ] {
        m.answers
            .push(dnspect_core::wire::Record::from_text(l).unwrap());
    }
    m.authority.push(
        dnspect_core::wire::Record::from_text(
            "fastly.net. 300 IN SOA ns1.fastly.net. h.fastly.com. 1 3600 600 604800 30",
        )
        .unwrap(),
    );
    let wire = m.to_wire().unwrap();
    let a = analyze(&wire);
    assert!(a.message.is_negative());
    assert_eq!(a.message.classify(), dnspect_core::wire::AnswerKind::NoData);
    let facts = dnspect_core::cache::policy::ResponseFacts::from_message(&m);
    assert_eq!(
        facts.negative,
        Some(dnspect_core::cache::policy::NegativeKind::NoData)
    );
    assert!(
        a.warnings
            .iter()
            .any(|w| w.message.contains("negative answer: cacheable for 30 s")),
        "{:?}",
        a.warnings
    );
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
