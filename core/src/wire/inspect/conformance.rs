//! Protocol violations that do not stop the decode: RDATA that parses but breaks its RFC, records
//! in places they may not be, TTLs read as 0. Each becomes a [`Warning`] of severity `error` (or
//! `warning`) at the offset of the record or option, while the rest of the message is shown.
//!
//! The decoder stays lenient on purpose: a message a server sent is shown whole, and what is
//! wrong in it is named here, once, with the RFC.

use crate::wire::edns::EdnsOption;
use crate::wire::message::{Decoded, Record};
use crate::wire::rdata::{RData, SvcParam};
use crate::wire::types::{Class, RType, Section};
use crate::wire::view::read_record;

use super::analyze::{RecordSize, Severity, Warning};

/// Adds the violations found in `d` (decoded from `bytes`; `records` as the analyzer sized them,
/// OPT included) to `out`.
pub(super) fn check(bytes: &[u8], d: &Decoded, records: &[RecordSize], out: &mut Vec<Warning>) {
    let mut push = |offset: usize, severity: Severity, message: String| {
        out.push(Warning {
            offset: Some(offset),
            severity,
            message,
        })
    };
    for &at in &d.high_ttls {
        let raw = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        push(
            at,
            Severity::Warning,
            format!("TTL {raw} has the most significant bit set: it is read as 0 (RFC 2181 8)"),
        );
    }
    let m = &d.message;
    let sections = [
        (Section::Answer, &m.answers),
        (Section::Authority, &m.authority),
        (Section::Additional, &m.additional),
    ];
    for (section, list) in sections {
        // The decoded records of a section, in order, are the sized ones minus OPT.
        let offsets = records
            .iter()
            .filter(|r| r.section == section && r.rtype != RType::OPT)
            .map(|r| r.offset);
        for (record, offset) in list.iter().zip(offsets) {
            record_checks(record, offset, &mut push);
            if record.rtype == RType::TSIG && section != Section::Additional {
                push(
                    offset,
                    Severity::Error,
                    format!(
                        "TSIG record in the {} section: it may only be the last record of the additional section (RFC 8945 5.1)",
                        section.title().to_lowercase()
                    ),
                );
            }
        }
    }
    // TSIG must be the very last record, after OPT too.
    let additional: Vec<&RecordSize> = records
        .iter()
        .filter(|r| r.section == Section::Additional)
        .collect();
    for (i, r) in additional.iter().enumerate() {
        if r.rtype == RType::TSIG && i + 1 != additional.len() {
            push(
                r.offset,
                Severity::Error,
                format!(
                    "TSIG is record {} of {} in the additional section: it must be the last (RFC 8945 5.1)",
                    i + 1,
                    additional.len()
                ),
            );
        }
    }
    if let (Some(edns), Some(opt)) = (&m.edns, d.opt_offset) {
        let option_offsets = option_offsets(bytes, opt);
        for (i, o) in edns.options.iter().enumerate() {
            let at = option_offsets.get(i).copied().unwrap_or(opt);
            if let EdnsOption::ClientSubnet {
                family,
                source_prefix,
                scope_prefix,
                address,
            } = o
            {
                ecs_checks(
                    *family,
                    *source_prefix,
                    *scope_prefix,
                    address,
                    at,
                    &mut push,
                );
            }
        }
    }
}

fn record_checks(r: &Record, at: usize, push: &mut impl FnMut(usize, Severity, String)) {
    if !matches!(
        r.class,
        Class::IN | Class::CH | Class::HS | Class::ANY | Class::NONE
    ) {
        push(
            at,
            Severity::Warning,
            format!(
                "record of class {}: no RDATA layout is defined for it, shown in the generic form (RFC 3597 5)",
                r.class
            ),
        );
    }
    match &r.rdata {
        RData::Caa { tag, .. } => {
            if tag.is_empty() {
                push(
                    at,
                    Severity::Error,
                    "CAA tag of length 0: a tag is 1 to 15 letters and digits (RFC 8659 4.1)".into(),
                );
            } else if tag.len() > 15 || !tag.iter().all(u8::is_ascii_alphanumeric) {
                push(
                    at,
                    Severity::Error,
                    format!(
                        "CAA tag {:?}: a tag is 1 to 15 ASCII letters and digits (RFC 8659 4.1)",
                        String::from_utf8_lossy(tag)
                    ),
                );
            }
        }
        RData::Nsec3 { next_hashed, .. } if next_hashed.is_empty() => push(
            at,
            Severity::Error,
            "NSEC3 next hashed owner name of length 0: the hash length is at least 1 (RFC 5155 3.2)"
                .into(),
        ),
        RData::Svcb { params, .. } => {
            for p in params {
                let SvcParam::Mandatory { keys } = p else {
                    continue;
                };
                if keys.contains(&0) {
                    push(
                        at,
                        Severity::Error,
                        "SVCB mandatory lists itself (key 0): it must not (RFC 9460 8)".into(),
                    );
                }
                if keys.windows(2).any(|w| w[0] >= w[1]) {
                    push(
                        at,
                        Severity::Error,
                        "SVCB mandatory keys are not in strictly increasing order (RFC 9460 8)"
                            .into(),
                    );
                }
                for k in keys.iter().filter(|&&k| k != 0) {
                    if !params.iter().any(|p| p.key() == *k) {
                        push(
                            at,
                            Severity::Error,
                            format!("SVCB mandatory lists key{k}, which the record does not have (RFC 9460 8)"),
                        );
                    }
                }
            }
        }
        _ => {}
    }
}

fn ecs_checks(
    family: u16,
    source: u8,
    scope: u8,
    address: &[u8],
    at: usize,
    push: &mut impl FnMut(usize, Severity, String),
) {
    let max = match family {
        1 => 32,
        2 => 128,
        f => {
            push(
                at,
                Severity::Error,
                format!("ECS family {f} is neither 1 (IPv4) nor 2 (IPv6) (RFC 7871 6)"),
            );
            return;
        }
    };
    for (what, v) in [("source", source), ("scope", scope)] {
        if v > max {
            push(
                at,
                Severity::Error,
                format!(
                    "ECS {what} prefix /{v} is longer than family {family} allows (/{max}) (RFC 7871 6)"
                ),
            );
        }
    }
    if source > max {
        return;
    }
    let need = usize::from(source).div_ceil(8);
    if address.len() != need {
        push(
            at,
            Severity::Error,
            format!(
                "ECS address of {} byte{} for source prefix /{source}: it must be exactly {need} (RFC 7871 6)",
                address.len(),
                if address.len() == 1 { "" } else { "s" }
            ),
        );
    } else if source % 8 != 0 && need > 0 && address[need - 1] & (0xff >> (source % 8)) != 0 {
        push(
            at,
            Severity::Error,
            format!("ECS address has bits set beyond the source prefix /{source} (RFC 7871 6)"),
        );
    }
}

/// Offsets of the options in the OPT record at `opt`.
fn option_offsets(bytes: &[u8], opt: usize) -> Vec<usize> {
    let Ok(r) = read_record(bytes, opt, Section::Additional) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut pos = r.rdata.start;
    while pos + 4 <= r.rdata.end {
        out.push(pos);
        let len = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        pos += 4 + len;
    }
    out
}

/// Compression pointers whose target is not a prior occurrence of a name (RFC 1035 4.1.4): the
/// labels at the target run on to the pointer itself or past it, into bytes written after it.
/// The decode follows them (each pointer still points backward, so it ends), but strict
/// decoders such as hickory-dns reject the message. `pointers`: (offset, target) pairs.
pub(super) fn pointers(bytes: &[u8], pointers: &[(usize, usize)], out: &mut Vec<Warning>) {
    for &(at, target) in pointers {
        // The target's labels in place, up to their end (a terminator or another pointer).
        let mut i = target;
        while let Some(&len) = bytes.get(i) {
            if len == 0 || len & 0xC0 != 0 {
                break;
            }
            i += 1 + usize::from(len);
        }
        if i >= at {
            out.push(Warning {
                offset: Some(at),
                severity: Severity::Error,
                message: format!(
                    "the compression pointer at offset {at} points to offset {target}, whose labels run on to offset {i}, past the pointer: not a prior occurrence of the name (RFC 1035 4.1.4); strict decoders such as hickory-dns reject the message"
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::analyze::{analyze, Analysis, Severity};
    use crate::wire::edns::{Edns, EdnsOption};
    use crate::wire::message::{Message, Question, Record};
    use crate::wire::rdata::{RData, SvcParam};
    use crate::wire::text::unhex;
    use crate::wire::types::{Class, RType};
    use crate::wire::view::MessageView;

    fn rec(name: &str, rtype: RType, class: Class, ttl: u32, rdata: RData) -> Record {
        Record {
            name: name.parse().unwrap(),
            rtype,
            class,
            ttl,
            rdata,
        }
    }

    fn a(name: &str) -> Record {
        rec(
            name,
            RType::A,
            Class::IN,
            60,
            RData::A {
                address: [192, 0, 2, 1].into(),
            },
        )
    }

    fn response(answers: Vec<Record>, additional: Vec<Record>, edns: Option<Edns>) -> Vec<u8> {
        let mut m = Message::default();
        m.header.qr = true;
        m.questions.push(Question {
            name: "example.com.".parse().unwrap(),
            qtype: RType::A,
            class: Class::IN,
        });
        m.answers = answers;
        m.additional = additional;
        m.edns = edns;
        m.to_wire_uncompressed().unwrap()
    }

    /// The analysis's messages of `severity`, with their offsets.
    fn of(a: &Analysis, severity: Severity) -> Vec<(Option<usize>, String)> {
        a.warnings
            .iter()
            .filter(|w| w.severity == severity)
            .map(|w| (w.offset, w.message.clone()))
            .collect()
    }

    fn offset_of(a: &Analysis, rtype: RType) -> usize {
        a.sizes
            .records
            .iter()
            .find(|r| r.rtype == rtype)
            .unwrap()
            .offset
    }

    /// dnspython's `UpdateMessage` with every RFC 2136 prerequisite and update form:
    /// present/absent (name and RRset), delete (name, RRset, one RR) and add.
    const DNSPYTHON_UPDATE: &str = "c22828000001000400040000076578616d706c6503636f6d00000600010161c00c00ff00ff0000000000000162c00c000100ff0000000000000163c00c00ff00fe0000000000000164c00c001c00fe0000000000000165c00c00ff00ff0000000000000166c00c000100ff0000000000000167c00c000100fe0000000000040a0000010168c00c000100010000012c00040a000002";

    #[test]
    fn update_prerequisites_and_deletions_with_empty_rdata_decode() {
        let bytes = unhex(DNSPYTHON_UPDATE).unwrap();
        let a = analyze(&bytes);
        assert_eq!(a.error, None);
        let m = &a.message;
        assert_eq!(m.answers.len(), 4);
        assert_eq!(m.authority.len(), 4);
        assert!(m.answers.iter().all(|r| r.rdata == RData::Empty));
        assert_eq!(m.authority[0].to_text(), "e.example.com.\t0\tANY\tANY");
        assert_eq!(
            m.authority[2].to_text(),
            "g.example.com.\t0\tNONE\tA\t10.0.0.1"
        );
        // Empty RDATA round-trips to the same bytes.
        assert_eq!(m.to_wire().unwrap(), bytes);
        let text = super::super::dig::message_text(m, None);
        assert!(
            text.contains("ZONE: 1, PREREQ: 4, UPDATE: 4, ADDITIONAL: 0"),
            "{text}"
        );
        assert!(text.contains(";; PREREQUISITE SECTION:\na.example.com.\t0\tANY\tANY\nb.example.com.\t0\tANY\tA\n"), "{text}");
        assert!(of(&a, Severity::Error).is_empty());
        // Class IN still needs its RDATA: an A record of class IN with RDLENGTH 0 is an error.
        let mut broken = bytes.clone();
        let at = 12 + 17 + 14 + 4 + 2; // the second prerequisite's class (b ANY A)
        broken[at..at + 2].copy_from_slice(&[0, 1]);
        assert!(analyze(&broken).error.is_some());
    }

    #[test]
    fn caa_tag_of_length_zero_is_an_error_and_the_decode_goes_on() {
        let caa = RData::Caa {
            flags: 0,
            tag: vec![],
            value: b"ca.example".to_vec(),
        };
        let bytes = response(
            vec![
                rec("example.com.", RType::CAA, Class::IN, 60, caa),
                a("example.com."),
            ],
            vec![],
            None,
        );
        let an = analyze(&bytes);
        assert_eq!(an.error, None);
        assert_eq!(an.message.answers.len(), 2);
        let errors = of(&an, Severity::Error);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, Some(offset_of(&an, RType::CAA)));
        assert!(errors[0].1.contains("CAA tag of length 0"), "{errors:?}");
        // Errors come first in the list.
        assert_eq!(an.warnings[0].severity, Severity::Error);
        let good = RData::Caa {
            flags: 0,
            tag: b"issue".to_vec(),
            value: b"ca.example".to_vec(),
        };
        let ok = analyze(&response(
            vec![rec("example.com.", RType::CAA, Class::IN, 60, good)],
            vec![],
            None,
        ));
        assert!(of(&ok, Severity::Error).is_empty());
    }

    #[test]
    fn nsec3_hash_of_length_zero_is_an_error() {
        let nsec3 = |hash: Vec<u8>| RData::Nsec3 {
            hash_algorithm: 1,
            flags: 0,
            iterations: 0,
            salt: vec![],
            next_hashed: hash,
            types: vec![RType::A],
        };
        let bad = analyze(&response(
            vec![rec(
                "x.example.com.",
                RType::NSEC3,
                Class::IN,
                60,
                nsec3(vec![]),
            )],
            vec![],
            None,
        ));
        assert_eq!(bad.error, None);
        let e = of(&bad, Severity::Error);
        assert_eq!(e.len(), 1);
        assert!(e[0].1.contains("NSEC3"), "{e:?}");
        let good = analyze(&response(
            vec![rec(
                "x.example.com.",
                RType::NSEC3,
                Class::IN,
                60,
                nsec3(vec![7; 20]),
            )],
            vec![],
            None,
        ));
        assert!(of(&good, Severity::Error).is_empty());
    }

    fn with_ecs(family: u16, source: u8, scope: u8, address: Vec<u8>) -> Analysis {
        let mut edns = Edns::new(1232);
        edns.options.push(EdnsOption::ClientSubnet {
            family,
            source_prefix: source,
            scope_prefix: scope,
            address,
        });
        analyze(&response(vec![a("example.com.")], vec![], Some(edns)))
    }

    #[test]
    fn ecs_prefixes_and_address_lengths_are_checked_against_rfc_7871() {
        for (family, source, scope, address, expect) in [
            (1, 24, 0, vec![192, 0, 2], None),
            (2, 56, 48, vec![0x20, 1, 0xd, 0xb8, 0, 0, 0], None),
            (1, 0, 0, vec![], None),
            (
                1,
                33,
                0,
                vec![192, 0, 2, 1, 0],
                Some("source prefix /33 is longer"),
            ),
            (
                1,
                24,
                40,
                vec![192, 0, 2],
                Some("scope prefix /40 is longer"),
            ),
            (1, 24, 0, vec![192, 0, 2, 0], Some("must be exactly 3")),
            (1, 24, 0, vec![192, 0], Some("must be exactly 3")),
            (
                1,
                20,
                0,
                vec![192, 0, 0x2f],
                Some("bits set beyond the source prefix /20"),
            ),
            (3, 8, 0, vec![1], Some("neither 1 (IPv4) nor 2 (IPv6)")),
        ] {
            let an = with_ecs(family, source, scope, address.clone());
            assert_eq!(an.error, None);
            let e = of(&an, Severity::Error);
            match expect {
                None => assert!(e.is_empty(), "{family}/{source}/{address:?}: {e:?}"),
                Some(text) => {
                    assert_eq!(e.len(), 1, "{family}/{source}/{address:?}: {e:?}");
                    assert!(e[0].1.contains(text), "{e:?}");
                    // At the option: inside the OPT record, past its 11 fixed bytes.
                    assert_eq!(e[0].0, Some(offset_of(&an, RType::OPT) + 11));
                }
            }
        }
    }

    #[test]
    fn svcb_mandatory_listing_itself_or_a_missing_key_is_an_error() {
        let svcb = |params: Vec<SvcParam>| {
            rec(
                "example.com.",
                RType::HTTPS,
                Class::IN,
                60,
                RData::Svcb {
                    priority: 1,
                    target: ".".parse().unwrap(),
                    params,
                },
            )
        };
        let itself = analyze(&response(
            vec![svcb(vec![
                SvcParam::Mandatory { keys: vec![0, 3] },
                SvcParam::Port { port: 443 },
            ])],
            vec![],
            None,
        ));
        let e = of(&itself, Severity::Error);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].1.contains("mandatory lists itself"), "{e:?}");
        let missing = analyze(&response(
            vec![svcb(vec![SvcParam::Mandatory { keys: vec![3] }])],
            vec![],
            None,
        ));
        assert!(of(&missing, Severity::Error)[0].1.contains("key3"));
        let fine = analyze(&response(
            vec![svcb(vec![
                SvcParam::Mandatory { keys: vec![3] },
                SvcParam::Port { port: 443 },
            ])],
            vec![],
            None,
        ));
        assert!(of(&fine, Severity::Error).is_empty());
    }

    #[test]
    fn tsig_must_be_the_last_additional_record() {
        let tsig = || {
            rec(
                "key.example.",
                RType::TSIG,
                Class::ANY,
                0,
                // Root algorithm name, time, fudge, empty MAC, ID, error, no other data.
                RData::Unknown { data: vec![0; 17] },
            )
        };
        let last = analyze(&response(
            vec![a("example.com.")],
            vec![a("ns.example.com."), tsig()],
            None,
        ));
        assert!(of(&last, Severity::Error).is_empty(), "{:?}", last.warnings);
        let not_last = analyze(&response(
            vec![a("example.com.")],
            vec![tsig(), a("ns.example.com.")],
            None,
        ));
        let e = of(&not_last, Severity::Error);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].1.contains("TSIG is record 1 of 2"), "{e:?}");
        assert_eq!(e[0].0, Some(offset_of(&not_last, RType::TSIG)));
        // OPT after TSIG counts too.
        let opt_after = analyze(&response(vec![], vec![tsig()], Some(Edns::new(1232))));
        let opt_first = opt_after.sizes.records.first().map(|r| r.rtype) == Some(RType::OPT);
        assert_eq!(of(&opt_after, Severity::Error).is_empty(), opt_first);
        let in_answer = analyze(&response(vec![tsig()], vec![], None));
        let e = of(&in_answer, Severity::Error);
        assert!(
            e.iter()
                .any(|(_, m)| m.contains("TSIG record in the answer section")),
            "{e:?}"
        );
    }

    #[test]
    fn a_ttl_with_the_high_bit_set_reads_as_zero_with_a_warning() {
        let mut r = a("example.com.");
        r.ttl = 0x8000_0005;
        let bytes = response(vec![r, a("example.com.")], vec![], None);
        let an = analyze(&bytes);
        assert_eq!(an.error, None);
        assert_eq!(an.message.answers[0].ttl, 0);
        assert_eq!(an.message.answers[1].ttl, 60);
        let w = of(&an, Severity::Warning);
        assert!(
            w.iter()
                .any(|(_, m)| m.contains("TTL 2147483653") && m.contains("RFC 2181 8")),
            "{w:?}"
        );
        // The per-packet view agrees: the lowest TTL is 0, not 60.
        let view = MessageView::new(&bytes).unwrap();
        assert_eq!(view.scan().unwrap().min_ttl, Some(0));
        // The strict decode (fast path included) agrees too.
        assert_eq!(Message::from_wire(&bytes).unwrap().answers[0].ttl, 0);
    }

    #[test]
    fn records_of_class_zero_or_an_unknown_class_are_shown_in_generic_form() {
        for class in [Class(0), Class(1234)] {
            let r = rec(
                "example.com.",
                RType::A,
                class,
                60,
                RData::Unknown {
                    data: vec![10, 0, 0, 1],
                },
            );
            let an = analyze(&response(vec![r], vec![], None));
            assert_eq!(an.error, None);
            let got = &an.message.answers[0];
            assert_eq!(
                got.rdata,
                RData::Unknown {
                    data: vec![10, 0, 0, 1]
                }
            );
            assert_eq!(
                got.to_text(),
                format!("example.com.\t60\tCLASS{}\tA\t\\# 4 0a000001", class.0)
            );
            assert_eq!(
                Message::from_wire(&response(vec![got.clone()], vec![], None))
                    .unwrap()
                    .answers[0],
                *got
            );
            assert!(of(&an, Severity::Warning)
                .iter()
                .any(|(_, m)| m.contains("RFC 3597")));
        }
        // CH keeps its typed RDATA.
        let ch = analyze(&response(
            vec![rec(
                "version.bind.",
                RType::TXT,
                Class::CH,
                0,
                RData::Txt {
                    strings: vec![b"9.18".to_vec()],
                },
            )],
            vec![],
            None,
        ));
        assert!(matches!(ch.message.answers[0].rdata, RData::Txt { .. }));
    }

    #[test]
    fn unknown_edns_options_print_as_dig_prints_them() {
        let o = EdnsOption::Unknown {
            code: 65001,
            data: vec![0x68, 0x69, 0, 1, 0xff],
        };
        assert_eq!(o.to_string(), "OPT=65001: 68 69 00 01 ff (\"hi...\")");
        assert_eq!(
            EdnsOption::Unknown {
                code: 65002,
                data: vec![]
            }
            .to_string(),
            "OPT=65002:"
        );
    }

    /// A pointer whose target's labels run over the pointer itself (the shape the hickory oracle
    /// found): the NS RDATA at 32 is a pointer to 31, the low byte of RDLENGTH (2), read there as
    /// a 2-byte label holding the pointer's own bytes, ended by the next record's root owner.
    #[test]
    fn a_pointer_whose_name_runs_past_it_is_an_error() {
        let bytes = unhex(
            "0000 8000 0001 0002 0000 0000 0161 00 0001 0001 \
             0162 00 0002 0001 0000003c 0002 c01f \
             00 0001 0001 0000003c 0004 c0000201",
        )
        .unwrap();
        let an = analyze(&bytes);
        assert_eq!(an.error, None);
        let e = an
            .warnings
            .iter()
            .find(|w| w.message.contains("past the pointer"))
            .unwrap_or_else(|| panic!("{:#?}", an.warnings));
        assert_eq!((e.offset, e.severity), (Some(32), Severity::Error));
        assert!(e.message.contains("points to offset 31"), "{}", e.message);
        // An ordinary backward pointer is not flagged.
        let mut m = Message::default();
        m.header.qr = true;
        m.questions.push(Question {
            name: "www.example.com.".parse().unwrap(),
            qtype: RType::A,
            class: Class::IN,
        });
        m.answers.push(a("www.example.com."));
        let ok = analyze(&m.to_wire().unwrap());
        assert!(!ok.compression.pointers.is_empty());
        assert!(
            ok.warnings
                .iter()
                .all(|w| !w.message.contains("past the pointer")),
            "{:#?}",
            ok.warnings
        );
    }
}
