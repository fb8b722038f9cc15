//! The analyzer: one message explained byte by byte. Builds the field tree (every field with its
//! offset and length), the compression map (pointers, what they save, names that missed
//! compression), size accounting per section and record, where the message crosses the usual
//! size limits, and warnings. This is what the CLI, the npm package and the web page show.

use std::collections::HashMap;

use crate::wire::capture::input::Source;
use crate::wire::error::WireError;
use crate::wire::message::{decode_with, Message};
use crate::wire::name::{read_name, walk_name, Step};
use crate::wire::spans::{Field, FieldKind, FieldTree};
use crate::wire::types::{RType, Section};
use crate::wire::view::{read_record, MessageView, HEADER_LEN};

/// A compression pointer and what it saved.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Pointer {
    pub offset: usize,
    pub target: usize,
    /// The name suffix the pointer stands for.
    pub suffix: String,
    /// Bytes saved: the suffix's uncompressed length minus the 2-byte pointer.
    pub saves: usize,
}

/// A name written (partly) in full although an earlier occurrence could have been pointed to.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Missed {
    pub offset: usize,
    pub name: String,
    /// Bytes the name takes in place.
    pub written: usize,
    /// Bytes it would take with the best pointer.
    pub optimal: usize,
    /// Where the best pointer would point.
    pub could_point_to: usize,
    pub lost: usize,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Compression {
    pub pointers: Vec<Pointer>,
    /// Bytes the pointers saved in total.
    pub saved: usize,
    pub missed: Vec<Missed>,
    /// Bytes lost to missed compression in total.
    pub lost: usize,
}

/// A record's place and size.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RecordSize {
    pub section: Section,
    pub index: usize,
    pub offset: usize,
    pub len: usize,
    #[serde(rename = "type")]
    pub rtype: RType,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SectionSize {
    pub section: Section,
    pub offset: usize,
    pub len: usize,
    pub records: usize,
}

/// A size limit and whether, and where, the message crosses it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Crossing {
    pub limit: usize,
    pub label: String,
    pub fits: bool,
    /// Whether the re-compressed message fits.
    pub fits_compressed: bool,
    /// The record the limit falls in, if it does not fit.
    pub record: Option<RecordSize>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Sizes {
    /// Size of the message as given (trailing bytes excluded).
    pub size: usize,
    /// Size with no compression at all.
    pub uncompressed: Option<usize>,
    /// Size re-encoded with optimal compression.
    pub compressed: Option<usize>,
    pub sections: Vec<SectionSize>,
    pub records: Vec<RecordSize>,
    pub crossings: Vec<Crossing>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    pub offset: Option<usize>,
    /// `error` for a protocol violation (the decode went on), `warning` for something wrong or
    /// risky, `note` for a fact worth knowing. Errors come first, notes last.
    pub severity: Severity,
    pub message: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// Everything the analyzer knows about one message.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Analysis {
    /// Schema version of this JSON form.
    #[cfg_attr(feature = "ts", ts(type = "1"))]
    pub schema: u32,
    pub source: Option<Source>,
    /// Length of the DNS bytes (trailing bytes included).
    pub len: usize,
    /// The DNS bytes, hex.
    pub hex: String,
    /// The decoded message (partial when `error` is set).
    pub message: Message,
    pub error: Option<WireError>,
    pub fields: Vec<Field>,
    pub compression: Compression,
    pub sizes: Sizes,
    pub warnings: Vec<Warning>,
}

/// The limits every analysis measures against.
pub const CLASSIC_LIMIT: usize = 512;
pub const FLAG_DAY_LIMIT: usize = 1232;
pub const ETHERNET_LIMIT: usize = 1472;

/// Analyzes a DNS message.
pub fn analyze(bytes: &[u8]) -> Analysis {
    let mut tree = FieldTree::default();
    let d = decode_with(bytes, &mut tree);
    if let Some(e) = &d.error {
        tree.close_all(e.offset.min(bytes.len()));
    }
    let mut warnings = Vec::new();
    if d.error.is_none() && d.end < bytes.len() {
        let n = bytes.len() - d.end;
        warnings.push(Warning {
            offset: Some(d.end),
            severity: Severity::Warning,
            message: format!(
                "{n} trailing byte{} after the last record",
                if n == 1 { "" } else { "s" }
            ),
        });
        tree.roots.push(Field {
            offset: d.end,
            len: n,
            kind: FieldKind::Value,
            section: None,
            label: "trailing bytes".into(),
            value: format!("{n} bytes not part of the message"),
            children: vec![],
        });
    }
    let compression = compression(bytes, &tree.pointers, d.end);
    let sizes = sizes(bytes, &d.message, d.error.is_none(), d.end);
    // Under 12 bytes there is no header: its counts and flags are defaults, not the message's,
    // and warnings about them ("QDCOUNT is 0") would describe bytes that were never read.
    if bytes.len() >= crate::wire::view::HEADER_LEN {
        warn(&d.message, d.counts, &compression, &sizes, &mut warnings);
    }
    super::conformance::check(bytes, &d, &sizes.records, &mut warnings);
    super::conformance::pointers(bytes, &tree.pointers, &mut warnings);
    warnings.sort_by_key(|w| w.severity);
    Analysis {
        schema: 1,
        source: None,
        len: bytes.len(),
        hex: crate::wire::text::hex(bytes),
        message: d.message,
        error: d.error,
        fields: tree.roots,
        compression,
        sizes,
        warnings,
    }
}

fn compression(bytes: &[u8], pointers: &[(usize, usize)], end: usize) -> Compression {
    let mut c = Compression::default();
    for &(offset, target) in pointers {
        if let Ok((suffix, _)) = read_name(bytes, target) {
            let saves = suffix.wire_len().saturating_sub(2);
            c.saved += saves;
            c.pointers.push(Pointer {
                offset,
                target,
                suffix: suffix.to_string(),
                saves,
            });
        }
    }
    // Replay every compressible name position in order against the suffixes written before it.
    let mut seen: HashMap<Vec<u8>, usize, rustc_hash::FxBuildHasher> = HashMap::default();
    for pos in name_positions(bytes, end) {
        let mut steps = Vec::new();
        let Ok(in_place_end) = walk_name(bytes, pos, |s, in_place| steps.push((s, in_place)))
        else {
            continue;
        };
        let labels: Vec<(usize, &[u8], bool)> = steps
            .iter()
            .filter_map(|&(s, in_place)| match s {
                Step::Label { offset, label } if !label.is_empty() => {
                    Some((offset, label, in_place))
                }
                _ => None,
            })
            .collect();
        let suffix_wire = |i: usize| -> Vec<u8> {
            let mut w = Vec::new();
            for (_, l, _) in &labels[i..] {
                w.push(l.len() as u8);
                w.extend_from_slice(l);
            }
            w.push(0);
            w
        };
        let written = in_place_end - pos;
        let mut best = None;
        for i in 0..labels.len() {
            if let Some(&at) = seen.get(&suffix_wire(i)) {
                if at < pos {
                    best = Some((i, at));
                    break;
                }
            }
        }
        if let Some((i, at)) = best {
            let optimal = labels[..i]
                .iter()
                .map(|(_, l, _)| 1 + l.len())
                .sum::<usize>()
                + 2;
            if written > optimal {
                let name = read_name(bytes, pos)
                    .map(|(n, _)| n.to_string())
                    .unwrap_or_default();
                c.lost += written - optimal;
                c.missed.push(Missed {
                    offset: pos,
                    name,
                    written,
                    optimal,
                    could_point_to: at,
                    lost: written - optimal,
                });
            }
        }
        for (i, (offset, _, in_place)) in labels.iter().enumerate() {
            if *in_place {
                seen.entry(suffix_wire(i)).or_insert(*offset);
            }
        }
    }
    c
}

/// Offsets of every name a compressor may point from: questions, owners and the RDATA names of
/// NS, CNAME, PTR, MX and SOA (RFC 3597 4).
fn name_positions(bytes: &[u8], end: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let Ok(view) = MessageView::new(bytes) else {
        return out;
    };
    let mut pos = HEADER_LEN;
    for _ in 0..view.qdcount() {
        let Ok(after) = crate::wire::name::skip_name(bytes, pos) else {
            return out;
        };
        out.push(pos);
        pos = after + 4;
    }
    for r in view.records().flatten() {
        if r.offset >= end {
            break;
        }
        out.push(r.offset);
        match r.rtype {
            RType::NS | RType::CNAME | RType::PTR => out.push(r.rdata.start),
            RType::MX => out.push(r.rdata.start + 2),
            RType::SOA => {
                out.push(r.rdata.start);
                if let Ok(next) = crate::wire::name::skip_name(bytes, r.rdata.start) {
                    out.push(next);
                }
            }
            _ => {}
        }
    }
    out
}

fn sizes(bytes: &[u8], msg: &Message, complete: bool, end: usize) -> Sizes {
    let mut s = Sizes {
        size: end,
        ..Sizes::default()
    };
    if complete {
        s.uncompressed = msg.to_wire_uncompressed().ok().map(|b| b.len());
        s.compressed = msg.to_wire().ok().map(|b| b.len().min(end));
    }
    let Ok(view) = MessageView::new(bytes) else {
        return s;
    };
    let q_end = view.records().position();
    let mut qpos = HEADER_LEN;
    for _ in 0..view.qdcount() {
        match crate::wire::name::skip_name(bytes, qpos) {
            Ok(a) if a + 4 <= bytes.len() => qpos = a + 4,
            _ => break,
        }
    }
    let _ = q_end;
    if view.qdcount() > 0 {
        s.sections.push(SectionSize {
            section: Section::Question,
            offset: HEADER_LEN,
            len: qpos - HEADER_LEN,
            records: usize::from(view.qdcount()),
        });
    }
    let mut index = [0usize; 4];
    let mut pos = qpos;
    let counts = [view.ancount(), view.nscount(), view.arcount()];
    for (si, section) in [Section::Answer, Section::Authority, Section::Additional]
        .into_iter()
        .enumerate()
    {
        let start = pos;
        for _ in 0..counts[si] {
            let Ok(r) = read_record(bytes, pos, section) else {
                break;
            };
            s.records.push(RecordSize {
                section,
                index: index[si],
                offset: r.offset,
                len: r.end() - r.offset,
                rtype: r.rtype,
            });
            index[si] += 1;
            pos = r.end();
        }
        if counts[si] > 0 {
            s.sections.push(SectionSize {
                section,
                offset: start,
                len: pos - start,
                records: index[si],
            });
        }
    }
    let mut limits = vec![
        (
            CLASSIC_LIMIT,
            "512: the classic UDP limit without EDNS (RFC 1035 4.2.1)".to_string(),
        ),
        (
            FLAG_DAY_LIMIT,
            "1232: the DNS Flag Day 2020 EDNS buffer size".to_string(),
        ),
        (
            ETHERNET_LIMIT,
            "1472: Ethernet MTU 1500 minus IPv4 and UDP headers".to_string(),
        ),
    ];
    if let Some(e) = &msg.edns {
        let u = usize::from(e.udp_size);
        if !limits.iter().any(|(l, _)| *l == u) {
            limits.push((u, format!("{u}: the EDNS UDP size this message advertises")));
        }
    }
    limits.sort();
    for (limit, label) in limits {
        let fits = end <= limit;
        let record = if fits {
            None
        } else {
            s.records
                .iter()
                .find(|r| r.offset < limit && limit <= r.offset + r.len)
                .cloned()
        };
        let fits_compressed = s.compressed.is_some_and(|c| c <= limit);
        s.crossings.push(Crossing {
            limit,
            label,
            fits,
            fits_compressed,
            record,
        });
    }
    s
}

fn warn(msg: &Message, counts: [u16; 4], c: &Compression, s: &Sizes, w: &mut Vec<Warning>) {
    let mut notes = Vec::new();
    let mut note = |offset: Option<usize>, m: String| {
        notes.push(Warning {
            offset,
            severity: Severity::Note,
            message: m,
        })
    };
    let mut add = |offset: Option<usize>, m: String| {
        w.push(Warning {
            offset,
            severity: Severity::Warning,
            message: m,
        })
    };
    if counts[0] != 1 {
        add(
            Some(4),
            format!(
                "QDCOUNT is {}: almost every server expects exactly one question",
                counts[0]
            ),
        );
    }
    if !c.missed.is_empty() {
        add(
            Some(c.missed[0].offset),
            format!(
                "{} name{} not compressed: {} bytes lost (compressed, the message would be {} bytes)",
                c.missed.len(),
                if c.missed.len() == 1 { "" } else { "s" },
                c.lost,
                s.compressed.map_or("?".into(), |x| x.to_string())
            ),
        );
    }
    incident_patterns(msg, c, s, &mut add, &mut note);
    if msg.header.qr && msg.edns.is_none() && s.size > CLASSIC_LIMIT {
        add(
            None,
            format!(
                "response of {} bytes without EDNS: a client that did not send EDNS reads at most 512 bytes over UDP{}",
                s.size,
                match s.compressed {
                    Some(c) if c <= CLASSIC_LIMIT => format!(" (re-compressed it is {c} bytes and fits)"),
                    _ => String::new(),
                }
            ),
        );
    }
    if let Some(e) = &msg.edns {
        if e.version != 0 {
            add(
                None,
                format!(
                    "EDNS version {}: servers answer BADVERS to anything but 0 (RFC 6891 6.1.3)",
                    e.version
                ),
            );
        }
        if usize::from(e.udp_size) < CLASSIC_LIMIT {
            add(
                None,
                format!(
                    "EDNS UDP size {} is below 512 and is treated as 512 (RFC 6891 6.2.3)",
                    e.udp_size
                ),
            );
        }
    }
    if msg.header.tc {
        add(
            Some(2),
            "TC is set: the answer was truncated; a client retries over TCP".into(),
        );
        if msg.header.qr && !msg.answers.is_empty() {
            add(
                Some(2),
                format!(
                    "a truncated answer with {} answer record{}: the set may be incomplete; never cache it as complete, and if the TCP retry fails answer SERVFAIL, not this (RFC 1035 7.4, RFC 2181 9). See incident hickory-2608.",
                    msg.answers.len(),
                    if msg.answers.len() == 1 { "" } else { "s" }
                ),
            );
        }
    }
    if msg.header.z {
        add(Some(3), "the reserved Z bit is set".into());
    }
    // Only a QUERY's answer is about a name: an UPDATE's or NOTIFY's NOERROR is no NODATA.
    let kind = if msg.header.opcode == crate::wire::Opcode::QUERY {
        msg.classify()
    } else {
        crate::wire::AnswerKind::Error
    };
    // A truncated answer is incomplete (the TCP retry carries the rest): it says nothing about
    // the name, as the capture report counts it (`CaptureMessage::negative_kind`).
    let soa = msg.authority.iter().find(|r| r.rtype == RType::SOA);
    let chain = crate::wire::classify::cname_chain(msg);
    if msg.header.qr
        && !msg.header.tc
        && kind == crate::wire::AnswerKind::NoData
        && soa.is_none()
        && chain.len() > 1
    {
        // RFC 1034 4.3.2 step 3a: an authoritative server follows a CNAME only within its own
        // data; when the target is elsewhere it answers with the chain so far and the resolver
        // asks on for the last name. Not a negative answer; from a recursive server, an
        // incomplete one.
        if let Some(last) = chain.last() {
            if msg.header.aa {
                note(
                    None,
                    format!(
                        "the CNAME chain leaves this server's data at {last}: an authoritative answer stops there and a resolver asks on for {last} (RFC 1034 4.3.2); not a negative answer"
                    ),
                );
            } else {
                add(
                    None,
                    format!(
                        "the CNAME chain ends at {last} with no data there and no SOA: an incomplete answer (a recursive server follows the chain to its end, RFC 1034 4.3.2); not a negative answer a cache could keep (RFC 2308 5)"
                    ),
                );
            }
        }
    } else if msg.header.qr && !msg.header.tc && kind.is_negative() {
        match soa {
            None => add(
                None,
                format!(
                    "negative answer ({}) without SOA: RFC 2308 5 says not to cache it",
                    kind.as_str()
                ),
            ),
            Some(r) => {
                if let crate::wire::rdata::RData::Soa { minimum, .. } = r.rdata {
                    let ttl = r.ttl.min(minimum);
                    note(None, format!("negative answer: cacheable for {} s (min of SOA TTL {} and MINIMUM {}, RFC 2308 5)", ttl, r.ttl, minimum));
                    if kind == crate::wire::AnswerKind::NoData {
                        note(None, format!(
                            "NOERROR without the data asked for (NODATA): a cache may keep it {ttl} s at most; one that keeps it longer hides a record added later, as kube-dns's dnsmasq did for more than a day. See incident kubernetes-dns-121."
                        ));
                        let chain = msg.answers.iter().any(|a| a.rtype == RType::CNAME);
                        note(None, format!(
                            "NODATA{}: if this name answered moments ago, the negative answer is suspect (an upstream that flaps); verify it before caching it over the positive one. See incident 004.",
                            if chain { " at the end of a CNAME chain" } else { "" }
                        ));
                    }
                }
            }
        }
    }
    w.extend(notes);
}

/// The patterns of the incident library ([`crate::incidents`]) that a packet shows on its own,
/// each named with the incident it caused. General conditions, not the examples' bytes: any
/// large answer, any answer that missed compression, any SERVFAIL.
fn incident_patterns(
    msg: &Message,
    c: &Compression,
    s: &Sizes,
    add: &mut impl FnMut(Option<usize>, String),
    note: &mut impl FnMut(Option<usize>, String),
) {
    if !msg.header.qr {
        return;
    }
    let big = s.size > CLASSIC_LIMIT && !msg.header.tc;
    let compressed = s.compressed.unwrap_or(s.size);
    if big && c.lost > 0 {
        add(
            c.missed.first().map(|m| m.offset),
            format!(
                "a {}-byte answer without compression ({} bytes lost){}: a client without EDNS and a forwarder with a 512-byte buffer will fail (SERVFAIL after a retry loop). See incident 000.",
                s.size,
                c.lost,
                if compressed <= CLASSIC_LIMIT {
                    format!("; compressed it is {compressed} bytes and fits in 512")
                } else {
                    format!("; compressed it is still {compressed} bytes")
                }
            ),
        );
    } else if big {
        add(
            None,
            format!(
                "a {}-byte answer: a forwarder that reads upstream answers into a 512-byte buffer fails to decode it (\"overflow unpacking\") and its client gets SERVFAIL; read answers whole and truncate with TC for the client instead. See incident coredns-5998.",
                s.size
            ),
        );
    }
    if let Some(e) = &msg.edns {
        if s.size > CLASSIC_LIMIT {
            note(
                None,
                format!(
                    "this {}-byte answer carries OPT (UDP size {}): it may go over UDP only to a client whose query had OPT with a size of at least {}; a client that sent no OPT must get no OPT (RFC 6891 7) and at most 512 bytes or TC (RFC 1035 2.3.4). See incident coredns-5366.",
                    s.size, e.udp_size, s.size
                ),
            );
        }
    }
    if msg.rcode() == crate::wire::Rcode::SERVFAIL {
        note(
            Some(3),
            "SERVFAIL is a failure, not an answer: cache it at least 1 s and at most 5 minutes (RFC 9520 3.2, RFC 2308 7.1), and never in place of a positive answer that can still be served stale (RFC 8767). See incidents pdns-3469 and coredns-7956.".into(),
        );
    }
}
