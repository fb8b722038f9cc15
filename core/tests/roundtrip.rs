//! Property tests of the wire layer on random messages:
//!
//! * decode(encode(m)) == m, compressed and uncompressed;
//! * recompress never grows a message and keeps its meaning;
//! * truncate stays within the limit (when header, question and OPT fit), still decodes, keeps
//!   a prefix of every section, and sets TC exactly when answer or authority records were dropped;
//! * analyze() never panics on random bytes or on bit-flipped valid messages, and agrees with the
//!   plain decode; whatever decodes re-encodes and round-trips.
//!
//! The case count defaults to a moderate number so the file runs in a few seconds in debug;
//! `PROPTEST_CASES=10000 cargo test -p dnspect-core --test roundtrip` runs a longer campaign.
#![allow(clippy::unwrap_used)]

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use dnspect_core::wire::fit::{fit, recompress, truncate};
use dnspect_core::wire::inspect::analyze::analyze;
use dnspect_core::wire::spans::NoSpans;
use dnspect_core::wire::{
    decode_with, Class, Header, Message, MessageView, Name, RData, RType, Record, SvcParam,
};

mod gen;

use gen::Profile;

/// Every type with a typed RDATA layout in the decoder, and any other type as opaque bytes.
struct Full;

impl Profile for Full {
    const TYPES: &'static [RType] = &[
        RType::A,
        RType::AAAA,
        RType::NS,
        RType::CNAME,
        RType::DNAME,
        RType::PTR,
        RType::SOA,
        RType::MX,
        RType::TXT,
        RType::SPF,
        RType::HINFO,
        RType::SRV,
        RType::NAPTR,
        RType::CAA,
        RType::DS,
        RType::CDS,
        RType::DNSKEY,
        RType::CDNSKEY,
        RType::RRSIG,
        RType::NSEC,
        RType::NSEC3,
        RType::NSEC3PARAM,
        RType::TLSA,
        RType::SMIMEA,
        RType::SSHFP,
        RType::SVCB,
        RType::HTTPS,
    ];
    const TYPED_WEIGHT: u32 = 8;

    /// A type the decoder keeps as opaque bytes (RFC 3597): NULL, IPSECKEY, HIP, TSIG, 0,
    /// private use, 65535, or any other it has no layout for.
    fn opaque_type() -> BoxedStrategy<RType> {
        prop_oneof![
            select(
                &[
                    RType::NULL,
                    RType::IPSECKEY,
                    RType::HIP,
                    RType::TSIG,
                    RType(0),
                    RType(65280),
                    RType(65535)
                ][..]
            ),
            any::<u16>().prop_map(RType),
        ]
        .prop_filter("typed or OPT", |t| {
            !Self::TYPES.contains(t) && *t != RType::OPT && !has_layout(*t)
        })
        .boxed()
    }
}

fn rtype() -> BoxedStrategy<RType> {
    Full::rtype()
}

/// Whether dnspect reads `t` with a layout (random bytes would not decode as opaque data).
fn has_layout(t: RType) -> bool {
    // A record of type t with 1 byte of RDATA: opaque types decode it, typed ones reject it
    // or read fields.
    let m = Message {
        answers: vec![Record {
            name: Name::root(),
            rtype: t,
            class: Class::IN,
            ttl: 0,
            rdata: RData::Unknown { data: vec![0] },
        }],
        ..Message::default()
    };
    match m.to_wire_uncompressed() {
        Ok(w) => !matches!(
            Message::from_wire(&w).map(|m| m.answers[0].rdata.clone()),
            Ok(RData::Unknown { .. })
        ),
        Err(_) => true,
    }
}

fn rdata_for(t: RType) -> BoxedStrategy<RData> {
    Full::rdata_for(t)
}

/// A generated message as the decoder reads it back: generated messages may hold values the
/// wire cannot tell apart from others, and the decoder reads those by rule. Stated here apart from
/// the decoder, as the properties' model:
/// * a TTL with the most significant bit set reads as 0 (RFC 2181 8);
/// * in class 0 or an unassigned class, class-specific RDATA (A, WKS, AAAA, A6, APL) is opaque
///   (RFC 3597 5);
/// * RDATA of length 0 in class ANY or NONE is RFC 2136's empty RDATA.
fn message() -> BoxedStrategy<Message> {
    Full::message().prop_map(as_read).boxed()
}

fn as_read(mut m: Message) -> Message {
    for r in m
        .answers
        .iter_mut()
        .chain(&mut m.authority)
        .chain(&mut m.additional)
    {
        if r.ttl > 0x7fff_ffff {
            r.ttl = 0;
        }
        let mut enc = dnspect_core::wire::Encoder::uncompressed();
        r.rdata.encode(r.rtype, &mut enc).unwrap();
        let data = enc.into_bytes();
        let defined = matches!(r.class.0, 1 | 3 | 4 | 254 | 255);
        if matches!(r.class.0, 254 | 255) && data.is_empty() {
            r.rdata = RData::Empty;
        } else if !defined && matches!(r.rtype.0, 1 | 11 | 28 | 38 | 42) {
            r.rdata = RData::Unknown { data };
        }
    }
    m
}

// ---- helpers ----------------------------------------------------------------------------------

/// Size of `m` with its answer, authority and additional sections empty (header, questions, OPT).
fn base_len(m: &Message) -> usize {
    let base = Message {
        answers: vec![],
        authority: vec![],
        additional: vec![],
        ..m.clone()
    };
    base.to_wire().expect("the base encodes").len()
}

/// analyze() must not panic, must agree with the plain decode, and whatever decodes must
/// re-encode and decode to itself.
fn check_any_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    let a = analyze(bytes);
    let d = decode_with(bytes, &mut NoSpans);
    prop_assert_eq!(&a.error, &d.error);
    prop_assert_eq!(&a.message, &d.message);
    prop_assert_eq!(a.len, bytes.len());
    let _ = dnspect_core::wire::inspect::dig::analysis_text(&a);
    if let Ok(v) = MessageView::new(bytes) {
        let _ = v.scan();
        let _ = v.records().count();
    }
    if let Ok(m) = Message::from_wire(bytes) {
        prop_assert!(d.error.is_none());
        let again = m
            .to_wire()
            .map_err(|e| TestCaseError::fail(format!("re-encoding a decoded message: {e}")))?;
        prop_assert_eq!(Message::from_wire(&again), Ok(m.clone()));
        let r = recompress(bytes).map_err(|e| TestCaseError::fail(format!("recompress: {e}")))?;
        prop_assert!(r.len() <= bytes.len());
        prop_assert_eq!(Message::from_wire(&r), Ok(m.clone()));
        for limit in [512, 100] {
            let f = fit(bytes, limit).map_err(|e| TestCaseError::fail(format!("fit: {e}")))?;
            prop_assert!(Message::from_wire(&f.bytes).is_ok());
        }
    }
    Ok(())
}

fn config(default_cases: u32) -> ProptestConfig {
    // PROPTEST_CASES (read by ProptestConfig::default()) overrides the moderate default.
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default().cases
    } else {
        default_cases
    };
    ProptestConfig {
        cases,
        max_shrink_iters: 2048,
        ..ProptestConfig::default()
    }
}

// ---- properties -------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn generated_rdata_fits_its_type((t, rd) in rtype().prop_flat_map(|t| (Just(t), rdata_for(t)))) {
        prop_assert!(rd.fits(t), "{t} {rd:?}");
    }

    #[test]
    fn compressed_round_trip(m in message()) {
        let bytes = m.to_wire().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = Message::from_wire(&bytes).map_err(|e| TestCaseError::fail(format!("{e}\n{}", hexdump(&bytes))))?;
        prop_assert_eq!(&back, &m);
        // Text forms survive too (the record Display does not panic on odd bytes).
        for r in back.answers.iter().chain(&back.authority).chain(&back.additional) {
            prop_assert!(!r.to_text().is_empty());
        }
    }

    #[test]
    fn uncompressed_round_trip(m in message()) {
        let plain = m.to_wire_uncompressed().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Message::from_wire(&plain), Ok(m.clone()));
        // No pointer anywhere: the analyzer sees none.
        prop_assert!(analyze(&plain).compression.pointers.is_empty());
        let packed = m.to_wire().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(packed.len() <= plain.len(), "compression grew the message: {} > {}", packed.len(), plain.len());
    }

    #[test]
    fn recompress_never_grows(m in message()) {
        for bytes in [m.to_wire_uncompressed(), m.to_wire()] {
            let bytes = bytes.map_err(|e| TestCaseError::fail(e.to_string()))?;
            let r = recompress(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(r.len() <= bytes.len());
            prop_assert_eq!(Message::from_wire(&r), Ok(m.clone()));
        }
        // Re-compressing what the encoder wrote changes nothing.
        let packed = m.to_wire().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(recompress(&packed).ok(), Some(packed));
    }

    #[test]
    fn truncate_fits_and_sets_tc(m in message(), frac in 0.0f64..1.2) {
        let full = m.to_wire().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let base = base_len(&m);
        // From a little below the base to a little above the full size.
        let (lo, hi) = (base.saturating_sub(8), full.len() + 8);
        let limit = lo + ((hi - lo) as f64 * frac) as usize;
        let (out, t) = truncate(&m, limit).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(t.size, out.len());
        if base <= limit {
            prop_assert!(out.len() <= limit, "{} > limit {limit} (base {base})", out.len());
        }
        if full.len() <= limit {
            prop_assert_eq!(&out, &full);
            prop_assert_eq!(t.dropped, [0, 0, 0]);
        }
        let d = Message::from_wire(&out).map_err(|e| TestCaseError::fail(format!("truncated output does not decode: {e}")))?;
        let dropped_data = t.dropped[0] > 0 || t.dropped[1] > 0;
        prop_assert_eq!(t.tc, dropped_data);
        prop_assert_eq!(d.header.tc, m.header.tc || dropped_data);
        // Every section keeps a prefix of the original, and the counts add up.
        for (kept, orig, dropped) in [(&d.answers, &m.answers, t.dropped[0]), (&d.authority, &m.authority, t.dropped[1]), (&d.additional, &m.additional, t.dropped[2])] {
            prop_assert_eq!(kept.len() + dropped, orig.len());
            prop_assert_eq!(&kept[..], &orig[..kept.len()]);
        }
        // Once something is dropped, everything after it is dropped too (whole RRsets from the end).
        if t.dropped[0] > 0 {
            prop_assert!(d.authority.is_empty() && d.additional.is_empty());
        }
        if t.dropped[1] > 0 {
            prop_assert!(d.additional.is_empty());
        }
        prop_assert_eq!(&d.edns, &m.edns);
        prop_assert_eq!(&d.questions, &m.questions);
        prop_assert_eq!(Header { tc: m.header.tc, ..d.header.clone() }, m.header.clone());
    }

    #[test]
    fn analyze_bit_flipped_messages(m in message(), flips in vec((any::<prop::sample::Index>(), 0u8..8), 1..5), uncompressed in any::<bool>()) {
        let mut bytes = if uncompressed { m.to_wire_uncompressed() } else { m.to_wire() }.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let a = analyze(&bytes);
        prop_assert!(a.error.is_none());
        prop_assert_eq!(&a.message, &m);
        for (i, bit) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        check_any_bytes(&bytes)?;
        // Cut at a random point too.
        let cut = bytes.len() / 2;
        check_any_bytes(&bytes[..cut])?;
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn analyze_random_bytes(bytes in vec(any::<u8>(), 0..400)) {
        check_any_bytes(&bytes)?;
    }

    /// Random bodies behind a plausible header (small counts), so that the decoder gets past the
    /// header and into names, records and RDATA.
    #[test]
    fn analyze_random_bodies(counts in any::<[u8; 4]>(), flags in any::<u16>(), body in prop_oneof![
        vec(any::<u8>(), 0..300),
        // Bytes biased towards the interesting ones: small lengths, pointers, reserved types.
        vec(prop_oneof![0u8..8, Just(0xc0), Just(0x0c), Just(0x40), Just(0x80), Just(0x29), Just(0x3f), any::<u8>()], 0..300),
    ]) {
        let mut bytes = vec![0xab, 0xcd];
        bytes.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            bytes.extend_from_slice(&u16::from(c % 5).to_be_bytes());
        }
        bytes.extend_from_slice(&body);
        check_any_bytes(&bytes)?;
    }
}

/// Every RDATA variant but OPT comes out of the generator (so the properties above cover them).
#[test]
fn generator_covers_every_rdata_variant() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strat = rtype().prop_flat_map(|t| (Just(t), rdata_for(t)));
    let mut seen = std::collections::BTreeSet::new();
    let mut params = std::collections::BTreeSet::new();
    let mut options = std::collections::BTreeSet::new();
    for _ in 0..3000 {
        let (_, rd) = strat.new_tree(&mut runner).expect("a value").current();
        if let RData::Svcb { params: ps, .. } = &rd {
            params.extend(ps.iter().map(|p| p.key().min(8)));
        }
        // The serde tag names the variant.
        let json = serde_json::to_value(&rd).expect("serializes");
        seen.insert(json["kind"].as_str().expect("kind tag").to_string());
    }
    let e = Full::edns();
    for _ in 0..300 {
        for o in e.new_tree(&mut runner).expect("a value").current().options {
            options.insert(
                serde_json::to_value(&o).expect("serializes")["option"]
                    .as_str()
                    .expect("tag")
                    .to_string(),
            );
        }
    }
    let want = [
        "a",
        "aaaa",
        "name",
        "soa",
        "mx",
        "txt",
        "hinfo",
        "srv",
        "naptr",
        "caa",
        "ds",
        "dnskey",
        "rrsig",
        "nsec",
        "nsec3",
        "nsec3param",
        "tlsa",
        "sshfp",
        "svcb",
        "unknown",
    ];
    for w in want {
        assert!(seen.contains(w), "variant {w} never generated: {seen:?}");
    }
    assert_eq!(params, (0..=8).collect(), "every SvcParam kind");
    assert_eq!(options.len(), 7, "every EDNS option kind: {options:?}");
}

fn hexdump(b: &[u8]) -> String {
    dnspect_core::wire::text::hex(b)
}

/// RFC 9460 A.1: inside an alpn value a `,` or `\` of an id is escaped with a backslash, and then
/// each backslash is escaped again in the zone-file text: `a,b` is `a\\,b`, `x\y` is `x\\\\y`.
/// (dnspect wrote `x\\\y` until the dnspython differential test caught it.)
#[test]
fn svcb_alpn_presentation_escapes() {
    let rd = RData::Svcb {
        priority: 1,
        target: Name::root(),
        params: vec![SvcParam::Alpn {
            ids: vec![
                b"a,b".to_vec(),
                b"x\\y".to_vec(),
                b"q\"q".to_vec(),
                b"sp ace".to_vec(),
            ],
        }],
    };
    assert_eq!(rd.to_string(), r#"1 . alpn="a\\,b,x\\\\y,q\"q,sp\032ace""#);
}
