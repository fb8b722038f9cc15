//! The analyzer names the incident library's patterns: on every incident's example packet, and on
//! variants built here (other names, sizes and sections), so the warnings follow the general
//! condition and not the example's bytes.
#![allow(clippy::unwrap_used)]
use dnspect_core::examples::example;
use dnspect_core::incidents::INCIDENTS;
use dnspect_core::wire::inspect::analyze::analyze;
use dnspect_core::wire::text::unhex;
use dnspect_core::wire::{Class, Edns, Message, Question, RType, Rcode, Record};

fn texts(bytes: &[u8]) -> Vec<String> {
    analyze(bytes)
        .warnings
        .into_iter()
        .map(|w| w.message)
        .collect()
}

fn names(bytes: &[u8], tag: &str) -> bool {
    texts(bytes).iter().any(|w| w.contains(tag))
}

fn response(name: &str, answers: &[String], authority: &[String]) -> Message {
    let mut m = Message::default();
    m.header.id = 7;
    m.header.qr = true;
    m.header.rd = true;
    m.header.ra = true;
    m.questions.push(Question {
        name: name.parse().unwrap(),
        qtype: RType::A,
        class: Class::IN,
    });
    m.answers = answers
        .iter()
        .map(|l| Record::from_text(l).unwrap())
        .collect();
    m.authority = authority
        .iter()
        .map(|l| Record::from_text(l).unwrap())
        .collect();
    m
}

fn a_records(name: &str, n: u32) -> Vec<String> {
    (1..=n)
        .map(|i| format!("{name} 60 IN A 10.{}.{}.1", i / 200, i % 200))
        .collect()
}

#[test]
fn every_incident_example_names_its_incident() {
    for i in INCIDENTS {
        for e in i.examples {
            if e.ends_with("-compressed") {
                continue;
            }
            let bytes = unhex(example(e).unwrap().hex.trim()).unwrap();
            let w = texts(&bytes);
            assert!(
                w.iter().any(|t| t.contains(&format!("incident {}", i.id))
                    || t.contains(&format!(" {}.", i.id))
                    || t.contains(&format!(" {} and", i.id))),
                "{}: example {e} does not name the incident: {w:#?}",
                i.id
            );
        }
    }
}

#[test]
fn seed_000_wording() {
    let bytes = unhex(example("incident-000").unwrap().hex.trim()).unwrap();
    assert!(
        texts(&bytes).iter().any(|w| w.starts_with(
            "a 758-byte answer without compression (400 bytes lost); compressed it is 358 bytes and fits in 512: a client without EDNS and a forwarder with a 512-byte buffer will fail"
        )),
        "{:#?}",
        texts(&bytes)
    );
    // Compressed, it fits: none of the size patterns applies.
    let small = unhex(example("incident-000-compressed").unwrap().hex.trim()).unwrap();
    assert!(!names(&small, "incident 000") && !names(&small, "coredns-5998"));
}

#[test]
fn uncompressed_answers_of_any_name_and_size_name_incident_000() {
    for (name, n) in [("a.example.", 30u32), ("some.longer.name.example.org.", 16)] {
        let m = response(name, &a_records(name, n), &[]);
        let bytes = m.to_wire_uncompressed().unwrap();
        assert!(bytes.len() > 512, "{name}: {}", bytes.len());
        assert!(
            names(&bytes, "See incident 000"),
            "{name}: {:#?}",
            texts(&bytes)
        );
        assert!(!names(&bytes, "coredns-5998"), "one size pattern at a time");
        // The same records compressed: no lost bytes, so the 5998 pattern (or nothing if it fits).
        let c = m.to_wire().unwrap();
        assert!(!names(&c, "See incident 000"));
        assert_eq!(
            names(&c, "coredns-5998"),
            c.len() > 512,
            "{name}: {}",
            c.len()
        );
    }
}

#[test]
fn any_answer_over_512_bytes_names_coredns_5998_and_small_ones_do_not() {
    let m = response("x.example.", &a_records("x.example.", 40), &[]);
    let b = m.to_wire().unwrap();
    assert!(b.len() > 512);
    assert!(names(&b, "coredns-5998"));
    let m = response("x.example.", &a_records("x.example.", 5), &[]);
    assert!(!names(&m.to_wire().unwrap(), "coredns-5998"));
    // A query is no answer.
    let mut q = response("x.example.", &a_records("x.example.", 40), &[]);
    q.header.qr = false;
    assert!(!names(&q.to_wire().unwrap(), "coredns-5998"));
}

#[test]
fn opt_on_a_large_answer_names_coredns_5366() {
    let mut m = response("y.example.", &a_records("y.example.", 40), &[]);
    m.edns = Some(Edns::new(4096));
    let b = m.to_wire().unwrap();
    assert!(names(&b, "coredns-5366"), "{:#?}", texts(&b));
    assert!(names(&b, "UDP size 4096"));
    m.answers.truncate(3);
    assert!(!names(&m.to_wire().unwrap(), "coredns-5366"));
    m.edns = None;
    m.answers = a_records("y.example.", 40)
        .iter()
        .map(|l| Record::from_text(l).unwrap())
        .collect();
    assert!(!names(&m.to_wire().unwrap(), "coredns-5366"));
}

#[test]
fn truncated_answers_with_records_name_hickory_2608() {
    for n in [1u32, 7] {
        let mut m = response("t.example.", &a_records("t.example.", n), &[]);
        m.header.tc = true;
        let b = m.to_wire().unwrap();
        assert!(names(&b, "hickory-2608"), "{n}: {:#?}", texts(&b));
        assert!(names(&b, &format!("with {n} answer record")));
    }
    let mut empty = response("t.example.", &[], &[]);
    empty.header.tc = true;
    assert!(
        !names(&empty.to_wire().unwrap(), "hickory-2608"),
        "TC with nothing to cache"
    );
}

#[test]
fn nodata_names_kubernetes_dns_121_with_its_rfc_2308_lifetime() {
    let soa =
        vec!["example.net. 600 IN SOA ns.example.net. h.example.net. 1 2 3 4 120".to_string()];
    let b = response("n.example.net.", &[], &soa).to_wire().unwrap();
    let w = texts(&b);
    assert!(
        w.iter()
            .any(|t| t.contains("may keep it 120 s at most") && t.contains("kubernetes-dns-121")),
        "{w:#?}"
    );
    assert!(
        w.iter().any(
            |t| t.starts_with("NODATA: if this name answered moments ago")
                && t.contains("incident 004")
        ),
        "{w:#?}"
    );
    // At the end of a CNAME chain: 004 too.
    let chain = vec!["n.example.net. 60 IN CNAME m.example.net.".to_string()];
    let b = response("n.example.net.", &chain, &soa).to_wire().unwrap();
    assert!(names(&b, "NODATA at the end of a CNAME chain") && names(&b, "kubernetes-dns-121"));
    // NXDOMAIN is not NODATA.
    let mut nx = response("n.example.net.", &[], &soa);
    nx.set_rcode(Rcode::NXDOMAIN);
    assert!(!names(&nx.to_wire().unwrap(), "kubernetes-dns-121"));
    assert!(!names(&nx.to_wire().unwrap(), "incident 004"));
}

#[test]
fn any_servfail_names_the_failure_caching_incidents() {
    let mut m = response("s.example.", &[], &[]);
    m.set_rcode(Rcode::SERVFAIL);
    m.edns = Some(Edns::new(1232));
    let b = m.to_wire().unwrap();
    assert!(
        names(&b, "pdns-3469") && names(&b, "coredns-7956"),
        "{:#?}",
        texts(&b)
    );
    let ok = response("s.example.", &a_records("s.example.", 1), &[]);
    assert!(!names(&ok.to_wire().unwrap(), "pdns-3469"));
}
