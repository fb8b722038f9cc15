//! A corpus of malformed messages. Each case pins the error kind AND the byte offset the decoder
//! reports, checks that the error's Display reads well ("at offset N (0x...): ..."), and that
//! `analyze()` does not panic and keeps what was decoded before the error (the partial message,
//! the same error, a field tree).
#![allow(clippy::unwrap_used)]

use dnspect_core::wire::inspect::analyze::analyze;
use dnspect_core::wire::inspect::dig::analysis_text;
use dnspect_core::wire::spans::NoSpans;
use dnspect_core::wire::{decode_with, ErrorKind, Message, MessageView, RData, RType, WireError};

// ---- building blocks ----------------------------------------------------------------------------

/// A 12-byte response header (id 0x1234, qr rd ra) with the given counts.
fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut h = vec![0x12, 0x34, 0x81, 0x80];
    for c in [qd, an, ns, ar] {
        h.extend_from_slice(&c.to_be_bytes());
    }
    h
}

/// `www.example.com. IN A` as a question (21 bytes: 17 of name, 4 of type and class).
const QUESTION: &[u8] = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01";

/// The fixed part of a record after the owner: type, class IN, TTL 300, RDLENGTH.
fn fixed(rtype: u16, rdlen: u16) -> Vec<u8> {
    let mut f = rtype.to_be_bytes().to_vec();
    f.extend_from_slice(&[0, 1, 0, 0, 1, 0x2c]);
    f.extend_from_slice(&rdlen.to_be_bytes());
    f
}

/// A record with the owner `c0 0c` (the question name) and the given RDATA.
fn record(rtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut r = vec![0xc0, 0x0c];
    r.extend(fixed(rtype, rdata.len() as u16));
    r.extend_from_slice(rdata);
    r
}

/// An OPT record with the given owner bytes and RDATA.
fn opt(owner: &[u8], rdata: &[u8]) -> Vec<u8> {
    let mut r = owner.to_vec();
    r.extend_from_slice(&[0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0]);
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(rdata);
    r
}

/// header(1, an, ns, ar) + QUESTION + parts.
fn msg(an: u16, ns: u16, ar: u16, parts: &[&[u8]]) -> Vec<u8> {
    let mut m = header(1, an, ns, ar);
    m.extend_from_slice(QUESTION);
    for p in parts {
        m.extend_from_slice(p);
    }
    m
}

/// Offset right after header + QUESTION.
const AFTER_Q: usize = 12 + 21;
/// Offset of the RDATA of the first record after the question (owner c0 0c, 10 fixed bytes).
const RDATA1: usize = AFTER_Q + 2 + 10;

/// Decodes `bytes`, expecting an error at `offset` whose kind satisfies `kind`; checks the
/// Display, that `analyze()` agrees and keeps the partial result. Returns the partial message.
#[track_caller]
fn expect_err(
    bytes: &[u8],
    offset: usize,
    kind: impl Fn(&ErrorKind) -> bool,
    says: &str,
) -> Message {
    let e = Message::from_wire(bytes).expect_err("the message must not decode");
    assert_eq!(e.offset, offset, "offset of {e}");
    assert!(kind(&e.kind), "unexpected kind {:?} ({e})", e.kind);
    check_display(&e, says);

    let d = decode_with(bytes, &mut NoSpans);
    assert_eq!(d.error.as_ref(), Some(&e));

    let a = analyze(bytes);
    assert_eq!(
        a.error.as_ref(),
        Some(&e),
        "analyze() reports the same error"
    );
    assert_eq!(a.message, d.message, "analyze() keeps the partial message");
    assert_eq!(a.len, bytes.len());
    if bytes.len() >= 12 {
        assert!(
            !a.fields.is_empty(),
            "the header at least is in the field tree"
        );
        assert_eq!(a.fields[0].label, "header");
    }
    // Every field lies inside the message (an error closes open groups at the error offset).
    fn within(fields: &[dnspect_core::wire::spans::Field], len: usize) {
        for f in fields {
            assert!(
                f.offset + f.len <= len.max(f.offset),
                "field {f:?} past the end {len}"
            );
            within(&f.children, len);
        }
    }
    within(&a.fields, bytes.len());
    // Neither the JSON form nor the dig-style text of a broken message panics.
    let _ = serde_json::to_string(&a).expect("analysis serializes");
    let text = dnspect_core::wire::inspect::dig::analysis_text(&a);
    assert!(
        text.contains(&e.to_string()),
        "the text shows the error:\n{text}"
    );
    // The zero-copy view does not panic either.
    if let Ok(v) = MessageView::new(bytes) {
        let _ = v.scan();
        let _ = v.records().count();
    }
    d.message
}

/// The Display reads "at offset N (0xNNNN): <message>" and contains `says`.
#[track_caller]
fn check_display(e: &WireError, says: &str) {
    let s = e.to_string();
    let prefix = format!("at offset {} (0x{:04x}): ", e.offset, e.offset);
    assert!(
        s.starts_with(&prefix),
        "{s:?} does not start with {prefix:?}"
    );
    assert!(s.contains(says), "{s:?} does not say {says:?}");
    let rest = &s[prefix.len()..];
    assert!(
        !rest.is_empty() && !rest.ends_with(' ') && !rest.contains("  "),
        "{s:?}"
    );
    // Plurals agree with their numbers ("1 byte", "2 bytes").
    assert!(!s.contains(" 1 bytes") && !s.contains("(1 bytes)"), "{s:?}");
    assert!(
        !s.contains(" 0 byte ") && !s.contains(" 0 byte,") && !s.ends_with(" 0 byte"),
        "{s:?}"
    );
}

// ---- compression pointers -------------------------------------------------------------------

/// One malformed question name: the bytes after a header with one question, where the decoder
/// stops, what it reports and what the message says. The question is not kept.
struct BadName {
    what: &'static str,
    bytes: Vec<u8>,
    offset: usize,
    kind: ErrorKind,
    says: String,
}

fn bad_name(
    what: &'static str,
    bytes: &[u8],
    offset: usize,
    kind: ErrorKind,
    says: &str,
) -> BadName {
    BadName {
        what,
        bytes: bytes.to_vec(),
        offset,
        kind,
        says: says.to_string(),
    }
}

#[test]
fn bad_question_names() {
    let truncated = |expected, needed, available| ErrorKind::Truncated {
        expected,
        needed,
        available,
    };
    // Four 63-octet labels: 1 + 4 * 64 = 257 at the fourth label.
    let long = [
        [&[63u8][..], &[b'x'; 63]].concat().repeat(4),
        vec![0, 0, 1, 0, 1],
    ]
    .concat();
    let mut cases = vec![
        bad_name(
            "a pointer to itself",
            b"\xc0\x0c\x00\x01\x00\x01",
            12,
            ErrorKind::PointerForward { target: 12 },
            "compression pointer to offset 12 does not point to a prior offset (RFC 1035 4.1.4)",
        ),
        bad_name(
            "a.b.<pointer to a>: a loop through labels",
            b"\x01a\x01b\xc0\x0c\x00\x01\x00\x01",
            16,
            ErrorKind::PointerLoop { target: 12 },
            "compression pointer to offset 12 loops back into the same name",
        ),
        bad_name(
            "a forward pointer",
            b"\xc0\x12\x00\x01\x00\x01\x03com\x00",
            12,
            ErrorKind::PointerForward { target: 18 },
            "(RFC 1035 4.1.4)",
        ),
        bad_name(
            "a pointer past the end",
            b"\x03www\xc1\x00\x00\x01\x00\x01",
            16,
            ErrorKind::PointerPastEnd { target: 256 },
            "compression pointer to offset 256 points past the end of the message",
        ),
        bad_name(
            "a pointer cut in half at the end of the message",
            b"\x03www\xc0",
            16,
            truncated("a 2-byte compression pointer", 2, 1),
            "expected a 2-byte compression pointer (2 bytes), but only 1 byte left",
        ),
        bad_name(
            "a name over 255 octets",
            &long,
            12 + 3 * 64,
            ErrorKind::NameTooLong { len: 257 },
            "name of 257 octets",
        ),
        bad_name(
            "a label claiming bytes past the end",
            b"\x03www\x3fexa",
            17,
            truncated("label octets", 63, 3),
            "expected label octets (63 bytes), but only 3 bytes left",
        ),
        bad_name(
            "a name that just stops",
            b"\x03www",
            16,
            truncated("a label length or compression pointer", 1, 0),
            "expected a label length or compression pointer (1 byte), but only 0 bytes left",
        ),
    ];
    for b in [0x40u8, 0x80, 0x7f, 0xbf] {
        cases.push(bad_name(
            "a reserved label type",
            &[1, b'a', b, 0, 0, 1, 0, 1],
            14,
            ErrorKind::ReservedLabelType { byte: b },
            &format!("expected a label length (0-63) or a pointer (0xc0), found reserved label type 0x{b:02x}"),
        ));
    }
    for c in cases {
        eprintln!("case: {}", c.what);
        let mut m = header(1, 0, 0, 0);
        m.extend_from_slice(&c.bytes);
        let p = expect_err(&m, c.offset, |k| *k == c.kind, &c.says);
        assert!(p.questions.is_empty(), "{}", c.what);
    }
}

#[test]
fn two_pointer_loop() {
    // Answer 1 carries `c0 XX` in its (opaque) RDATA; answer 2's owner points at that RDATA,
    // which points back at answer 2's owner: a -> b -> a. The second pointer is the bad one.
    let rdata_at = RDATA1;
    let owner2_at = rdata_at + 2;
    let a1 = record(65280, &[0xc0, owner2_at as u8]);
    let mut a2 = vec![0xc0, rdata_at as u8];
    a2.extend(fixed(1, 4));
    a2.extend_from_slice(&[192, 0, 2, 1]);
    let m = msg(2, 0, 0, &[&a1, &a2]);
    let p = expect_err(
        &m,
        rdata_at,
        |k| *k == ErrorKind::PointerForward { target: owner2_at },
        &format!("compression pointer to offset {owner2_at} does not point to a prior offset"),
    );
    assert_eq!(p.answers.len(), 1, "the first record is kept");
    assert_eq!(
        p.answers[0].rdata,
        RData::Unknown {
            data: vec![0xc0, owner2_at as u8]
        }
    );
}

#[test]
fn pointer_loop_after_a_jump() {
    // Answer owner: label "x" then a pointer to the RDATA of answer 1, which holds "y" and a
    // pointer back into itself (to "y"): the targets no longer decrease.
    let rdata_at = RDATA1;
    let a1 = record(65280, &[1, b'y', 0xc0, rdata_at as u8]);
    let mut a2 = vec![1, b'x', 0xc0, rdata_at as u8];
    a2.extend(fixed(1, 4));
    a2.extend_from_slice(&[192, 0, 2, 1]);
    let m = msg(2, 0, 0, &[&a1, &a2]);
    let p = expect_err(
        &m,
        rdata_at + 2,
        |k| *k == ErrorKind::PointerLoop { target: rdata_at },
        "loops back into the same name",
    );
    assert_eq!(p.answers.len(), 1);
}

#[test]
fn reserved_label_type_in_rdata() {
    // In a question name: see `bad_question_names`. In an RDATA name, with the answer before
    // it kept.
    let a1 = record(1, &[192, 0, 2, 1]);
    let a2 = record(2, &[0x40, 0x00]);
    let m = msg(2, 0, 0, &[&a1, &a2]);
    let at = AFTER_Q + a1.len() + 12;
    let p = expect_err(
        &m,
        at,
        |k| *k == ErrorKind::ReservedLabelType { byte: 0x40 },
        "reserved label type 0x40",
    );
    assert_eq!(p.answers.len(), 1);
}

// ---- names too long or cut short ------------------------------------------------------------

#[test]
fn name_over_255_octets_from_pointers() {
    // Six segments, each a 50-octet label and a pointer to the previous segment, in the RDATA of
    // an opaque record; the next owner points at the last segment: 6 * 51 + 1 = 307 octets.
    let mut rdata = Vec::new();
    let mut starts = Vec::new();
    for i in 0..6 {
        let at = RDATA1 + rdata.len();
        starts.push(at);
        rdata.push(50);
        rdata.extend_from_slice(&[b'a' + i as u8; 50]);
        match i {
            0 => rdata.push(0),
            _ => rdata.extend_from_slice(&[0xc0 | (starts[i - 1] >> 8) as u8, starts[i - 1] as u8]),
        }
    }
    // Before the long name, the segments themselves decode fine as one opaque RDATA.
    let a1 = record(65280, &rdata);
    let last = starts[5];
    let mut a2 = vec![0xc0 | (last >> 8) as u8, last as u8];
    a2.extend(fixed(1, 4));
    a2.extend_from_slice(&[192, 0, 2, 1]);
    let m = msg(2, 0, 0, &[&a1, &a2]);
    // Reading from segment 6 backwards, the fifth label (segment 2's) brings it to 1 + 5 * 51 = 256.
    let p = expect_err(
        &m,
        starts[1],
        |k| *k == ErrorKind::NameTooLong { len: 256 },
        "name of 256 octets is longer than 255 (RFC 1035 2.3.4)",
    );
    assert_eq!(p.answers.len(), 1);
    // Five segments make a 1 + 4 * 51 + ... name that fits: point at segment 5 instead.
    let mut ok = m.clone();
    let a2_at = AFTER_Q + a1.len();
    ok[a2_at] = 0xc0 | (starts[3] >> 8) as u8;
    ok[a2_at + 1] = starts[3] as u8;
    let good = Message::from_wire(&ok).expect("a 205-octet name is fine");
    assert_eq!(good.answers[1].name.wire_len(), 1 + 4 * 51);
}

// ---- header, counts, fixed fields, RDLENGTH -------------------------------------------------

#[test]
fn short_headers() {
    let full = header(1, 0, 0, 0);
    for n in 0..12 {
        let m = &full[..n];
        let p = expect_err(
            m,
            0,
            |k| {
                *k == ErrorKind::Truncated {
                    expected: "a 12-byte header",
                    needed: 12,
                    available: n,
                }
            },
            &format!(
                "expected a 12-byte header (12 bytes), but only {n} byte{} left",
                if n == 1 { "" } else { "s" }
            ),
        );
        assert_eq!(p, Message::default());
        let a = analyze(m);
        assert!(a.fields.is_empty());
        assert!(MessageView::new(m).is_err());
        // No header was read, so none is shown and nothing is said about its counts: `dnspect
        // decode 78fd8180` once printed "id: 0, status: NOERROR" and "QDCOUNT is 0" for bytes
        // that say id 0x78fd and were never decoded.
        assert!(a.warnings.is_empty(), "{n} bytes: {:?}", a.warnings);
        let text = analysis_text(&a);
        assert!(
            !text.contains("->>HEADER<<-") && text.contains(";; no DNS header: "),
            "{n} bytes:\n{text}"
        );
        assert!(text.contains(";; ERROR: at offset 0"), "{text}");
    }
}

#[test]
fn question_cut_in_type_and_class() {
    let m = msg(0, 0, 0, &[]);
    let m = &m[..m.len() - 1];
    expect_err(
        m,
        29,
        |k| {
            *k == ErrorKind::Truncated {
                expected: "QTYPE and QCLASS",
                needed: 4,
                available: 3,
            }
        },
        "expected QTYPE and QCLASS (4 bytes), but only 3 bytes left",
    );
}

#[test]
fn record_cut_in_fixed_fields() {
    let a = record(1, &[192, 0, 2, 1]);
    let m = msg(1, 0, 0, &[&a[..7]]);
    let p = expect_err(
        &m,
        AFTER_Q + 2,
        |k| {
            *k == ErrorKind::Truncated {
                expected: "TYPE, CLASS, TTL and RDLENGTH",
                needed: 10,
                available: 5,
            }
        },
        "expected TYPE, CLASS, TTL and RDLENGTH (10 bytes), but only 5 bytes left",
    );
    assert_eq!(p.questions.len(), 1, "the question is kept");
}

#[test]
fn truncated_rdata() {
    // A message cut inside the RDATA of its second record.
    let a1 = record(1, &[192, 0, 2, 1]);
    let a2 = record(
        28,
        &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    );
    let full = msg(2, 0, 0, &[&a1, &a2]);
    assert!(Message::from_wire(&full).is_ok());
    let cut = &full[..full.len() - 6];
    let at = AFTER_Q + a1.len() + 12;
    let p = expect_err(
        cut,
        at,
        |k| {
            *k == ErrorKind::Truncated {
                expected: "RDATA of RDLENGTH bytes",
                needed: 16,
                available: 10,
            }
        },
        "expected RDATA of RDLENGTH bytes (16 bytes), but only 10 bytes left",
    );
    assert_eq!(p.answers.len(), 1);
}

#[test]
fn rdlength_past_the_end() {
    let mut a = record(16, b"\x05hello");
    let len_at = 2 + 8;
    a[len_at] = 0xff;
    a[len_at + 1] = 0xff;
    let m = msg(1, 0, 0, &[&a]);
    expect_err(
        &m,
        RDATA1,
        |k| {
            *k == ErrorKind::Truncated {
                expected: "RDATA of RDLENGTH bytes",
                needed: 65535,
                available: 6,
            }
        },
        "(65535 bytes), but only 6 bytes left",
    );
}

#[test]
fn counts_beyond_the_data() {
    let a = record(1, &[192, 0, 2, 1]);
    let m = msg(5, 0, 0, &[&a]);
    let end = AFTER_Q + a.len();
    assert_eq!(end, m.len());
    let p = expect_err(
        &m,
        end,
        |k| {
            *k == ErrorKind::Truncated {
                expected: "a label length or compression pointer",
                needed: 1,
                available: 0,
            }
        },
        &format!("at offset {end} (0x{end:04x}): expected a label length or compression pointer"),
    );
    assert_eq!(p.questions.len(), 1);
    assert_eq!(p.answers.len(), 1, "the one record present is kept");
    assert_eq!(
        p.answers[0].to_text(),
        "www.example.com.\t300\tIN\tA\t192.0.2.1"
    );
    let a = analyze(&m);
    assert_eq!(a.sizes.records.len(), 1);
    let answer = a
        .fields
        .iter()
        .find(|f| f.label == "answer section")
        .expect("answer section field");
    assert_eq!(answer.children[0].label, "answer #1");
    assert_eq!(
        answer.children[0].value,
        "www.example.com.\t300\tIN\tA\t192.0.2.1"
    );

    // QDCOUNT 3 with one question.
    let mut m = header(3, 0, 0, 0);
    m.extend_from_slice(QUESTION);
    let p = expect_err(
        &m,
        AFTER_Q,
        |k| {
            matches!(
                k,
                ErrorKind::Truncated {
                    needed: 1,
                    available: 0,
                    ..
                }
            )
        },
        "but only 0 bytes left",
    );
    assert_eq!(p.questions.len(), 1);
}

// ---- OPT placement ----------------------------------------------------------------------------

#[test]
fn two_opt_records() {
    let o = opt(&[0], &[]);
    let m = msg(0, 0, 2, &[&o, &o]);
    let p = expect_err(
        &m,
        AFTER_Q + o.len(),
        |k| *k == ErrorKind::DuplicateOpt { first: AFTER_Q },
        &format!("second OPT record (the first is at offset {AFTER_Q}; RFC 6891 6.1.1)"),
    );
    assert_eq!(
        p.edns.map(|e| e.udp_size),
        Some(1232),
        "the first OPT is kept"
    );
}

/// OPT owner, answer/authority/additional counts, an A record first, kind, message.
type OptCase = (&'static [u8], [u16; 3], bool, ErrorKind, &'static str);

#[test]
fn misplaced_opt_records() {
    let a = record(1, &[192, 0, 2, 1]);
    let cases: [OptCase; 4] = [
        (
            b"\x03www\x00",
            [1, 0, 1],
            true,
            ErrorKind::OptOwnerNotRoot,
            "OPT record owner must be the root name (RFC 6891 6.1.1)",
        ),
        // A compressed owner pointing at the question name is not the root either.
        (
            b"\xc0\x0c",
            [0, 0, 1],
            false,
            ErrorKind::OptOwnerNotRoot,
            "must be the root name",
        ),
        // In the answer section, then in the authority section after an answer.
        (
            &[0],
            [1, 0, 0],
            false,
            ErrorKind::OptOutsideAdditional,
            "OPT record outside the additional section (RFC 6891 6.1.1)",
        ),
        (
            &[0],
            [1, 1, 0],
            true,
            ErrorKind::OptOutsideAdditional,
            "outside the additional section",
        ),
    ];
    for (owner, [an, ns, ar], after_a, kind, says) in cases {
        let o = opt(owner, &[]);
        let (parts, at): (&[&[u8]], _) = match after_a {
            true => (&[&a, &o], AFTER_Q + a.len()),
            false => (&[&o], AFTER_Q),
        };
        let p = expect_err(&msg(an, ns, ar, parts), at, |k| *k == kind, says);
        assert_eq!(p.answers.len(), usize::from(after_a), "{says}");
        assert!(p.edns.is_none());
    }
}

// ---- trailing bytes: a warning, not an error --------------------------------------------------

#[test]
fn trailing_bytes_are_a_warning() {
    let a = record(1, &[192, 0, 2, 1]);
    let m = msg(1, 0, 0, &[&a, b"\xde\xad\xbe"]);
    let end = m.len() - 3;
    let decoded = Message::from_wire(&m).expect("trailing bytes are not an error");
    assert_eq!(decoded, Message::from_wire(&m[..end]).unwrap());
    let d = decode_with(&m, &mut NoSpans);
    assert_eq!(d.end, end);
    let an = analyze(&m);
    assert!(an.error.is_none());
    let w = an
        .warnings
        .iter()
        .find(|w| w.message.contains("trailing"))
        .expect("a trailing-bytes warning");
    assert_eq!(w.offset, Some(end));
    assert_eq!(w.message, "3 trailing bytes after the last record");
    assert_eq!(an.sizes.size, end);
    let f = an.fields.last().unwrap();
    assert_eq!(
        (f.offset, f.len, f.label.as_str()),
        (end, 3, "trailing bytes")
    );
    // One byte: singular.
    let m1 = msg(1, 0, 0, &[&a, b"\x00"]);
    assert!(analyze(&m1)
        .warnings
        .iter()
        .any(|w| w.message == "1 trailing byte after the last record"));
}

// ---- RDATA that does not fit its type -------------------------------------------------------

fn bad_rdata(rtype: RType) -> impl Fn(&ErrorKind) -> bool {
    move |k| matches!(k, ErrorKind::BadRdata { rtype: t, .. } if *t == rtype)
}

#[test]
fn bad_a_and_aaaa_lengths() {
    let m = msg(1, 0, 0, &[&record(1, &[192, 0, 2])]);
    expect_err(
        &m,
        RDATA1,
        bad_rdata(RType::A),
        "bad A RDATA: expected address (4 bytes), but only 3 bytes of RDATA left",
    );
    let m = msg(1, 0, 0, &[&record(1, &[192, 0, 2, 1, 7])]);
    expect_err(
        &m,
        RDATA1 + 4,
        bad_rdata(RType::A),
        "bad A RDATA: 1 byte left over after the RDATA fields",
    );
    let m = msg(1, 0, 0, &[&record(1, &[])]);
    expect_err(
        &m,
        RDATA1,
        bad_rdata(RType::A),
        "but only 0 bytes of RDATA left",
    );
    let m = msg(1, 0, 0, &[&record(28, &[192, 0, 2, 1])]);
    expect_err(
        &m,
        RDATA1,
        bad_rdata(RType::AAAA),
        "bad AAAA RDATA: expected address (16 bytes), but only 4 bytes of RDATA left",
    );
    let m = msg(1, 0, 0, &[&record(28, &[0; 17])]);
    expect_err(&m, RDATA1 + 16, bad_rdata(RType::AAAA), "1 byte left over");
}

#[test]
fn bad_soa_lengths() {
    let names = b"\x02ns\xc0\x10\x04host\xc0\x10";
    let mut rdata = names.to_vec();
    rdata.extend_from_slice(&[0; 19]);
    let m = msg(1, 0, 0, &[&record(6, &rdata)]);
    let minimum_at = RDATA1 + names.len() + 16;
    expect_err(
        &m,
        minimum_at,
        bad_rdata(RType::SOA),
        "bad SOA RDATA: expected minimum (4 bytes), but only 3 bytes of RDATA left",
    );
    rdata.extend_from_slice(&[0; 3]);
    let m = msg(1, 0, 0, &[&record(6, &rdata)]);
    expect_err(
        &m,
        RDATA1 + names.len() + 20,
        bad_rdata(RType::SOA),
        "2 bytes left over after the RDATA fields",
    );
    // RDLENGTH ends inside the mname; the bytes after belong to the next record.
    let mut r = record(6, b"\x02ns");
    let a = record(1, &[192, 0, 2, 1]);
    r.extend_from_slice(&a);
    let m = msg(2, 0, 0, &[&r]);
    expect_err(
        &m,
        RDATA1,
        bad_rdata(RType::SOA),
        "bad SOA RDATA: mname runs past the end of the RDATA",
    );
}

#[test]
fn bad_mx_lengths() {
    let m = msg(1, 0, 0, &[&record(15, &[0])]);
    expect_err(
        &m,
        RDATA1,
        bad_rdata(RType::MX),
        "bad MX RDATA: expected preference (2 bytes), but only 1 byte of RDATA left",
    );
    // Preference only, followed by another record: the exchange would run into it.
    let a = record(1, &[192, 0, 2, 1]);
    let m = msg(2, 0, 0, &[&record(15, &[0, 10]), &a]);
    expect_err(
        &m,
        RDATA1 + 2,
        bad_rdata(RType::MX),
        "bad MX RDATA: exchange runs past the end of the RDATA",
    );
    // A compressed exchange with a byte to spare.
    let m = msg(1, 0, 0, &[&record(15, &[0, 10, 0xc0, 0x0c, 0])]);
    expect_err(&m, RDATA1 + 4, bad_rdata(RType::MX), "1 byte left over");
}

#[test]
fn bad_character_strings() {
    // TXT whose string claims more than the RDATA holds.
    let m = msg(1, 0, 0, &[&record(16, b"\x09hello")]);
    expect_err(
        &m,
        RDATA1 + 1,
        bad_rdata(RType::TXT),
        "bad TXT RDATA: expected character-string octets (9 bytes), but only 5 bytes of RDATA left",
    );
    // An empty TXT RDATA has no character-string at all.
    let m = msg(1, 0, 0, &[&record(16, b"")]);
    expect_err(
        &m,
        RDATA1,
        bad_rdata(RType::TXT),
        "expected a character-string length (1 byte), but only 0 bytes of RDATA left",
    );
}

#[test]
fn bad_type_bitmaps() {
    let nsec = |bitmap: &[u8]| {
        let mut rdata = b"\x01a\x00".to_vec();
        rdata.extend_from_slice(bitmap);
        msg(1, 0, 0, &[&record(47, &rdata)])
    };
    let bm = RDATA1 + 3;
    let long = [&[0u8, 33][..], &[0xff; 33]].concat();
    // (bitmap, offset of the error, what the message says)
    let cases: [(&[u8], usize, &str); 6] = [
        (
            &[0, 0],
            bm + 1,
            "bad NSEC RDATA: type bitmap length 0 not within 1..32",
        ),
        (&long, bm + 1, "type bitmap length 33 not within 1..32"),
        // Windows out of order (1 then 0), and repeated.
        (
            &[1, 1, 0x40, 0, 1, 0x40],
            bm + 3,
            "type bitmap windows not in increasing order",
        ),
        (&[0, 1, 0x40, 0, 1, 0x40], bm + 3, "not in increasing order"),
        // Bits cut short, header cut short.
        (&[0, 6, 0x40, 0x01], bm + 2, "type bitmap cut short"),
        (
            &[0, 1, 0x40, 2],
            bm + 3,
            "type bitmap window header cut short",
        ),
    ];
    for (bitmap, offset, says) in cases {
        expect_err(&nsec(bitmap), offset, bad_rdata(RType::NSEC), says);
    }
    // A good one decodes: A (1) and RRSIG (46), NSEC (47).
    let good = Message::from_wire(&nsec(&[0, 6, 0x40, 0, 0, 0, 0, 0x03])).unwrap();
    assert_eq!(good.answers[0].rdata.to_string(), "a. A RRSIG NSEC");
    // NSEC3 with the same broken bitmap, after salt and hash.
    let mut rdata = vec![1, 0, 0, 10, 2, 0xab, 0xcd, 3, 1, 2, 3];
    rdata.extend_from_slice(&[0, 0]);
    let m = msg(1, 0, 0, &[&record(50, &rdata)]);
    expect_err(
        &m,
        RDATA1 + 12,
        bad_rdata(RType::NSEC3),
        "bad NSEC3 RDATA: type bitmap length 0",
    );
}

fn svcb(params: &[u8]) -> Vec<u8> {
    let mut rdata = vec![0, 1, 0];
    rdata.extend_from_slice(params);
    msg(1, 0, 0, &[&record(65, &rdata)])
}

#[test]
fn bad_svcb_param_order() {
    // port=443 then alpn=h2: keys 3, 1.
    let params = [0, 3, 0, 2, 1, 0xbb, 0, 1, 0, 3, 2, b'h', b'2'];
    expect_err(
        &svcb(&params),
        RDATA1 + 3 + 6,
        bad_rdata(RType::HTTPS),
        "bad HTTPS RDATA: SvcParamKeys not in strictly increasing order (RFC 9460 2.2)",
    );
    // The same key twice.
    let params = [0, 3, 0, 2, 1, 0xbb, 0, 3, 0, 2, 1, 0xbb];
    expect_err(
        &svcb(&params),
        RDATA1 + 3 + 6,
        bad_rdata(RType::HTTPS),
        "strictly increasing",
    );
    // In order, it decodes.
    let params = [0, 1, 0, 3, 2, b'h', b'2', 0, 3, 0, 2, 1, 0xbb];
    let m = Message::from_wire(&svcb(&params)).unwrap();
    assert_eq!(m.answers[0].rdata.to_string(), "1 . alpn=\"h2\" port=443");
}

#[test]
fn bad_svcb_param_values() {
    // (params, what the message says); each error is at the first parameter's value.
    let cases: [(&[u8], &str); 4] = [
        (
            &[0, 3, 0, 3, 1, 0xbb, 0],
            "bad HTTPS RDATA: port: value must be 2 bytes",
        ),
        (
            &[0, 4, 0, 5, 1, 2, 3, 4, 5],
            "ipv4hint: value must be a non-zero multiple of 4 bytes",
        ),
        (&[0, 1, 0, 2, 5, b'h'], "alpn: alpn-id runs past the value"),
        // A value longer than the RDATA.
        (
            &[0, 3, 0, 9, 1, 0xbb],
            "expected value (9 bytes), but only 2 bytes of RDATA left",
        ),
    ];
    for (params, says) in cases {
        expect_err(&svcb(params), RDATA1 + 7, bad_rdata(RType::HTTPS), says);
    }
}

// ---- EDNS options -------------------------------------------------------------------------------

fn bad_option(code: u16) -> impl Fn(&ErrorKind) -> bool {
    move |k| matches!(k, ErrorKind::BadOption { code: c, .. } if *c == code)
}

#[test]
fn bad_edns_option_lengths() {
    let opt_rdata = AFTER_Q + 11;
    // An option whose length runs past the OPT RDATA.
    let m = msg(
        0,
        0,
        1,
        &[&opt(&[0], &[0, 3, 0, 10, b'n', b's', b'1', b'2'])],
    );
    expect_err(
        &m,
        opt_rdata,
        bad_option(3),
        "bad EDNS option 3: length 10 runs past the OPT RDATA (4 bytes left)",
    );
    // A cookie of 5 bytes.
    let m = msg(0, 0, 1, &[&opt(&[0], &[0, 10, 0, 5, 1, 2, 3, 4, 5])]);
    expect_err(
        &m,
        opt_rdata + 4,
        bad_option(10),
        "bad EDNS option 10: cookie must be 8 bytes, or 16 to 40 with a server cookie (RFC 7873 4)",
    );
    // Keepalive of 1 byte, client subnet of 3, extended error of 1.
    let m = msg(0, 0, 1, &[&opt(&[0], &[0, 11, 0, 1, 7])]);
    expect_err(
        &m,
        opt_rdata + 4,
        bad_option(11),
        "keepalive must be 0 or 2 bytes",
    );
    let m = msg(0, 0, 1, &[&opt(&[0], &[0, 8, 0, 3, 0, 1, 24])]);
    expect_err(
        &m,
        opt_rdata + 4,
        bad_option(8),
        "client subnet shorter than 4 bytes",
    );
    let m = msg(0, 0, 1, &[&opt(&[0], &[0, 15, 0, 1, 0])]);
    expect_err(
        &m,
        opt_rdata + 4,
        bad_option(15),
        "extended error shorter than 2 bytes",
    );
    // An option header cut short (code and one byte of length).
    let m = msg(0, 0, 1, &[&opt(&[0], &[0, 12, 0])]);
    expect_err(
        &m,
        opt_rdata + 2,
        bad_rdata(RType::OPT),
        "bad OPT RDATA: expected length (2 bytes), but only 1 byte of RDATA left",
    );
    // The second option is the bad one: the error points at it.
    let m = msg(0, 0, 1, &[&opt(&[0], &[0, 12, 0, 2, 0, 0, 0, 3, 0, 9, 1])]);
    expect_err(
        &m,
        opt_rdata + 6,
        bad_option(3),
        "length 9 runs past the OPT RDATA (1 byte left)",
    );
}

// ---- analyze() on every prefix of good messages never panics -------------------------------------

#[test]
fn every_prefix_and_every_byte_flip_of_a_rich_message() {
    let a = record(1, &[192, 0, 2, 1]);
    let mx = record(15, b"\x00\x0a\x04mail\xc0\x10");
    let soa = record(6, b"\x02ns\xc0\x10\x04host\xc0\x10\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x07\x08\x00\x09\x3a\x80\x00\x00\x01\x2c");
    let https = svcb(&[0, 1, 0, 3, 2, b'h', b'2', 0, 3, 0, 2, 1, 0xbb]);
    let https_rr = &https[AFTER_Q..];
    let o = opt(
        &[0],
        &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 15, 0, 2, 0, 18],
    );
    let m = msg(3, 1, 1, &[&a, &mx, https_rr, &soa, &o]);
    let full = Message::from_wire(&m).expect("the rich message decodes");
    assert_eq!(full.answers.len(), 3);
    assert!(full.edns.is_some());
    for n in 0..m.len() {
        let a = analyze(&m[..n]);
        assert!(a.error.is_some(), "prefix {n} must fail");
        let _ = dnspect_core::wire::inspect::dig::analysis_text(&a);
    }
    for i in 0..m.len() {
        for v in [0x00, 0xff, 0xc0, 0x3f, 0x40, m[i] ^ 0x01] {
            let mut x = m.clone();
            x[i] = v;
            let a = analyze(&x);
            let d = decode_with(&x, &mut NoSpans);
            assert_eq!(a.error, d.error);
            assert_eq!(a.message, d.message);
            let _ = dnspect_core::wire::inspect::dig::analysis_text(&a);
        }
    }
}

#[test]
fn pointer_to_the_root_label_does_not_underflow() {
    // A question for the root and an answer whose owner points at that root label (legal, if
    // wasteful): the analyzer's "saves N bytes" must not underflow.
    let mut m = header(1, 1, 0, 0);
    m.extend_from_slice(&[0, 0, 2, 0, 1]);
    m.extend_from_slice(&[0xc0, 12]);
    m.extend(fixed(2, 2));
    m.extend_from_slice(&[0xc0, 12]);
    let d = Message::from_wire(&m).unwrap();
    assert!(d.answers[0].name.is_root());
    let a = analyze(&m);
    assert!(a.error.is_none());
    assert_eq!(a.compression.saved, 0);
}
