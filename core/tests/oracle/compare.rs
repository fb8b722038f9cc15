//! The differential comparison of dnspect's decoder against hickory-proto's, shared by
//! `core/tests/hickory_oracle.rs` (proptest) and `fuzz/fuzz_targets/hickory.rs` (libFuzzer).
//!
//! Both decoders read the same bytes. When both accept, each message is brought to one canonical
//! form and compared field by field: the header (ID, flags, the 12-bit RCODE), the question, each
//! record's owner, type, class, TTL and RDATA, and EDNS. Names and RDATA are compared as both
//! libraries re-encode them without compression (case kept), so a typed field that either side
//! reads differently shows up as different bytes. When one accepts and the other rejects, or the
//! two canonical forms differ, the outcome is a divergence with a stable id (see [`Outcome`]);
//! `docs/hickory-divergences.md` lists the ids we know and why they are right.
//!
//! Normalisations (differences of representation, not of meaning, applied before comparing):
//! - the header's Z bit is not compared: hickory does not model it (RFC 1035 4.1.1: "must be zero");
//! - EDNS UDP payload sizes below 512 compare as 512: hickory stores them so, as RFC 6891 6.2.5
//!   says ("Values lower than 512 MUST be treated as equal to 512"); dnspect keeps what was sent.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use dnspect_core::wire::spans::NoSpans;
use dnspect_core::wire::{self, Encoder, ErrorKind, WireError};
use hickory_proto::op as hop;
use hickory_proto::rr as hrr;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, DecodeError, NameEncoding};

/// The result of decoding one byte string with both libraries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Both accept, and the canonical forms are equal.
    Agree,
    /// Both reject.
    BothReject,
    /// They differ. `id` is stable (it names the rule, never an offset or a value):
    /// - `hickory-rejects:<DecodeError variant>[:<type>]`: dnspect accepts, hickory rejects;
    /// - `dnspect-rejects:<ErrorKind variant>[:<type or option>]`: hickory accepts, dnspect rejects;
    /// - `mismatch:<field>[:<type>]`: both accept and read a field differently;
    /// - `hickory-panics` / `dnspect-panics`.
    Diverge { id: String, detail: String },
}

impl Outcome {
    pub fn id(&self) -> Option<&str> {
        match self {
            Outcome::Diverge { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// Decodes `bytes` with both libraries and compares.
pub fn compare(bytes: &[u8]) -> Outcome {
    let ours = match catch_unwind(|| wire::Message::from_wire(bytes)) {
        Ok(r) => r,
        Err(_) => return diverge("dnspect-panics".into(), String::new()),
    };
    let theirs = match catch_unwind(AssertUnwindSafe(|| hop::Message::from_vec(bytes))) {
        Ok(r) => r,
        Err(_) => return diverge("hickory-panics".into(), String::new()),
    };
    match (ours, theirs) {
        (Err(_), Err(_)) => Outcome::BothReject,
        (Ok(m), Err(e)) => diverge(hickory_error_id(&m, &e, bytes), e.to_string()),
        (Err(e), Ok(h)) => diverge(dnspect_error_id(&e, &h, bytes), e.to_string()),
        (Ok(m), Ok(h)) => match (canon_dnspect(&m), canon_hickory(&h)) {
            (Ok(a), Ok(b)) => match first_difference(&a, &b) {
                None => Outcome::Agree,
                Some((id, detail)) => diverge(id, detail),
            },
            (Err(e), _) => diverge("dnspect-reencode".into(), e),
            (_, Err(e)) => diverge("hickory-reencode".into(), e),
        },
    }
}

fn diverge(id: String, detail: String) -> Outcome {
    Outcome::Diverge { id, detail }
}

/// The divergence ids listed in `docs/hickory-divergences.md`: the first cell of each table row
/// whose first cell is a code span.
pub fn listed_ids(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|l| {
            let cell = l.trim().strip_prefix('|')?.split('|').next()?.trim();
            let id = cell.strip_prefix('`')?.strip_suffix('`')?;
            Some(id.to_string())
        })
        .collect()
}

/// The ids of rows whose "valid input" column says `yes`: divergences on messages that are
/// well-formed (RFC 1035 and the type's RFC), where hickory reads differently by design.
pub fn listed_valid_ids(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|l| {
            let mut cells = l.trim().strip_prefix('|')?.split('|').map(str::trim);
            let id = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            (cells.next()? == "yes").then(|| id.to_string())
        })
        .collect()
}

// ---- ids ------------------------------------------------------------------------------------

/// The variant name of a `Debug` rendering: `IncorrectRDataLengthRead { .. }` -> the name.
fn variant(debug: &str) -> &str {
    let end = debug
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(debug.len());
    &debug[..end]
}

/// dnspect's error names the rule. When hickory read the record dnspect rejects as opaque bytes
/// (a type it has no layout for, as built here: DNSSEC types without its `__dnssec` features,
/// SPF, DNAME, ...), the id is `dnspect-rejects:hickory-opaque`: one rule, whichever type and
/// error. The record is the one dnspect's partial decode stopped in.
fn dnspect_error_id(e: &WireError, h: &hop::Message, bytes: &[u8]) -> String {
    let records = h.answers.iter().chain(&h.authorities).chain(&h.additionals);
    // RFC 2136 2.4 and 2.5: in UPDATE, RDLENGTH 0 means "any RDATA" or "delete"; hickory models
    // it, dnspect (an analyzer of queries and answers) does not.
    if records
        .clone()
        .any(|r| matches!(r.data, hrr::RData::Update0(t) if t != hrr::RecordType::OPT))
    {
        return "dnspect-rejects:update-empty-rdata".into();
    }
    // The record dnspect stopped in: the one after those its partial decode kept (OPT is not
    // in hickory's record lists, nor in dnspect's sections).
    let d = wire::decode_with(bytes, &mut NoSpans);
    if d.message.questions.len() == usize::from(d.counts[0]) {
        let read = d.message.answers.len() + d.message.authority.len() + d.message.additional.len();
        if let Some(r) = records.clone().nth(read) {
            if matches!(r.data, hrr::RData::Unknown { .. }) {
                return "dnspect-rejects:hickory-opaque".into();
            }
        }
    }
    let debug = format!("{:?}", e.kind);
    let name = variant(&debug);
    match &e.kind {
        ErrorKind::BadRdata { rtype, .. } => {
            format!("dnspect-rejects:{name}:{}", type_class(*rtype))
        }
        // An option running past the OPT RDATA is one rule whatever the option.
        ErrorKind::BadOption { reason, .. } if reason.contains("runs past the OPT RDATA") => {
            format!("dnspect-rejects:{name}:overrun")
        }
        ErrorKind::BadOption { code, .. } => {
            format!("dnspect-rejects:{name}:{}", option_class(*code))
        }
        _ => format!("dnspect-rejects:{name}"),
    }
}

/// Hickory's error names the rule. When one record or EDNS option alone explains it (the first,
/// in wire order, of dnspect's decode that hickory rejects on its own; for SVCB and HTTPS, the
/// first service parameter), the id names it and the error hickory gives for it alone, so that
/// one cause gives one id wherever it sits.
fn hickory_error_id(m: &wire::Message, e: &DecodeError, bytes: &[u8]) -> String {
    // A compression pointer whose target's labels run past it (dnspect's analyzer reports it as
    // an error): hickory's LabelOverlapsWithOther, which inside RDATA surfaces as the record's
    // IncorrectRDataLengthRead. One cause, one id.
    let past = dnspect_core::wire::inspect::analyze::analyze(bytes)
        .warnings
        .iter()
        .any(|w| w.message.contains("past the pointer"));
    if past && first_rejected_record(m).is_none() {
        return "hickory-rejects:LabelOverlapsWithOther".into();
    }
    match first_rejected_record(m) {
        // Any type: the rule is about RDLENGTH 0, not about the type.
        Some((_, DecodeError::InvalidEmptyRecord)) => "hickory-rejects:InvalidEmptyRecord".into(),
        Some((what, e @ DecodeError::UnknownRecordTypeValue(_))) => format!(
            "hickory-rejects:{}:{}",
            variant(&format!("{e:?}")),
            what.trim_start_matches("dnspect-opaque:")
        ),
        // A type dnspect keeps as opaque bytes and hickory parses: one rule, whichever type
        // and error.
        Some((what, _)) if what.starts_with("dnspect-opaque") => {
            "hickory-rejects:dnspect-opaque".into()
        }
        Some((what, alone)) => format!("hickory-rejects:{}:{what}", variant(&format!("{alone:?}"))),
        // The section rule names the type: OPT, SIG and TSIG are three different facts.
        None => match e {
            DecodeError::RecordNotInAdditionalSection(t) => {
                format!("hickory-rejects:RecordNotInAdditionalSection:{t}")
            }
            _ => format!("hickory-rejects:{}", variant(&format!("{e:?}"))),
        },
    }
}

/// Types named in ids: by mnemonic (HTTPS as SVCB: one layout), and as `TYPEn` below 256 and
/// for hickory's private ANAME (65305); other types without a mnemonic are `opaque`, so that a
/// random type number does not make a new id.
fn type_class(rtype: wire::RType) -> String {
    match rtype {
        wire::RType::HTTPS => "SVCB".into(),
        t if t.0 >= 256 && t.0 != 65305 && t.to_string().starts_with("TYPE") => "opaque".into(),
        t => t.to_string(),
    }
}

/// Option codes named in ids: the known ones by mnemonic, the rest as `unknown-option`.
fn option_class(code: u16) -> String {
    let name = wire::OptCode(code).to_string();
    if name.starts_with("OPT") {
        "unknown-option".into()
    } else {
        name
    }
}

/// Hickory's error for a message that dnspect encodes (without compression) from `m`.
fn hickory_error(m: &wire::Message) -> Option<DecodeError> {
    let bytes = m.to_wire_uncompressed().ok()?;
    catch_unwind(|| hop::Message::from_vec(&bytes).err()).ok()?
}

/// A response holding only `r`, in the additional section (where OPT may be).
fn with_record(r: &wire::Record) -> wire::Message {
    let mut m = wire::Message::default();
    m.header.qr = true;
    m.additional.push(r.clone());
    m
}

/// What hickory rejects alone, as `type` (`type:key` for the first SVCB/HTTPS parameter it
/// rejects alone; `OPT:option` for the first EDNS option), with hickory's error for it.
fn first_rejected_record(m: &wire::Message) -> Option<(String, DecodeError)> {
    let records = m.answers.iter().chain(&m.authority).chain(&m.additional);
    if let Some((r, e)) = records
        .clone()
        .find_map(|r| hickory_error(&with_record(r)).map(|e| (r, e)))
    {
        let t = type_class(r.rtype);
        if let wire::RData::Svcb {
            priority,
            target,
            params,
        } = &r.rdata
        {
            for p in params {
                let one = wire::Record {
                    rdata: wire::RData::Svcb {
                        priority: *priority,
                        target: target.clone(),
                        params: vec![p.clone()],
                    },
                    ..r.clone()
                };
                if let Some(e) = hickory_error(&with_record(&one)) {
                    let key = match p.key() {
                        k @ 0..=7 => wire::rdata::svc_key_name(k),
                        _ => "unknown-key".into(),
                    };
                    return Some((format!("{t}:{key}"), e));
                }
            }
        }
        if matches!(r.rdata, wire::RData::Unknown { .. }) {
            return Some((format!("dnspect-opaque:{t}"), e));
        }
        return Some((t, e));
    }
    let edns = m.edns.as_ref()?;
    let mut alone = wire::Message::default();
    alone.header.qr = true;
    for o in &edns.options {
        alone.edns = Some(wire::Edns {
            options: vec![o.clone()],
            ..edns.clone()
        });
        if let Some(e) = hickory_error(&alone) {
            return Some((format!("OPT:{}", option_class(o.code().0)), e));
        }
    }
    alone.edns = Some(edns.clone());
    hickory_error(&alone).map(|e| ("OPT".into(), e))
}

/// The code of the first EDNS option that differs between two encoded option lists.
fn first_option_difference(a: &[u8], b: &[u8]) -> String {
    let split = |mut s: &[u8]| {
        let mut v = Vec::new();
        while s.len() >= 4 {
            let len = usize::from(u16::from_be_bytes([s[2], s[3]]));
            let end = (4 + len).min(s.len());
            v.push(s[..end].to_vec());
            s = &s[end..];
        }
        v
    };
    let (xs, ys) = (split(a), split(b));
    for (x, y) in xs.iter().zip(&ys) {
        if x != y {
            return option_class(u16::from_be_bytes([x[0], x[1]]));
        }
    }
    "count".into()
}

// ---- canonical form -------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct CRecord {
    /// hickory keeps this record's RDATA as opaque bytes (no layout for its type, as built).
    hickory_opaque: bool,
    owner: Vec<u8>,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CEdns {
    udp_size: u16,
    ext_rcode: u8,
    version: u8,
    dnssec_ok: bool,
    z: u16,
    options: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Canon {
    id: u16,
    /// QR, opcode, AA, TC, RD, RA, AD, CD (Z and RCODE apart).
    flags: u16,
    rcode: u16,
    questions: Vec<(Vec<u8>, u16, u16)>,
    sections: [Vec<CRecord>; 3],
    edns: Option<CEdns>,
}

const FLAGS_NO_Z_NO_RCODE: u16 = !0x0040 & !0x000f;

fn rdata_bytes(r: &wire::Record) -> Result<Vec<u8>, String> {
    let mut enc = Encoder::uncompressed();
    r.rdata
        .encode(r.rtype, &mut enc)
        .map_err(|e| e.to_string())?;
    Ok(enc.into_bytes())
}

fn canon_dnspect(m: &wire::Message) -> Result<Canon, String> {
    let record = |r: &wire::Record| -> Result<CRecord, String> {
        Ok(CRecord {
            hickory_opaque: false,
            owner: r.name.as_wire().to_vec(),
            rtype: r.rtype.0,
            class: r.class.0,
            ttl: r.ttl,
            rdata: rdata_bytes(r)?,
        })
    };
    let section = |rs: &[wire::Record]| rs.iter().map(record).collect::<Result<Vec<_>, _>>();
    let edns = match &m.edns {
        None => None,
        Some(e) => {
            let mut enc = Encoder::uncompressed();
            for o in &e.options {
                o.encode(&mut enc).map_err(|e| e.to_string())?;
            }
            Some(CEdns {
                udp_size: e.udp_size.max(512),
                ext_rcode: e.ext_rcode,
                version: e.version,
                dnssec_ok: e.dnssec_ok,
                z: e.z,
                options: enc.into_bytes(),
            })
        }
    };
    Ok(Canon {
        id: m.header.id,
        flags: m.header.flags() & FLAGS_NO_Z_NO_RCODE,
        rcode: m.rcode().0,
        questions: m
            .questions
            .iter()
            .map(|q| (q.name.as_wire().to_vec(), q.qtype.0, q.class.0))
            .collect(),
        sections: [
            section(&m.answers)?,
            section(&m.authority)?,
            section(&m.additional)?,
        ],
        edns,
    })
}

fn hickory_bytes(
    f: impl FnOnce(&mut BinEncoder<'_>) -> Result<(), String>,
) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let mut enc = BinEncoder::new(&mut buf);
    enc.set_name_encoding(NameEncoding::Uncompressed);
    f(&mut enc)?;
    Ok(buf)
}

fn hickory_name(n: &hrr::Name) -> Result<Vec<u8>, String> {
    hickory_bytes(|e| n.emit(e).map_err(|e| e.to_string()))
}

fn canon_hickory(h: &hop::Message) -> Result<Canon, String> {
    let md = &h.metadata;
    let bit = |b: bool, v: u16| if b { v } else { 0 };
    let flags = bit(md.message_type == hop::MessageType::Response, 0x8000)
        | u16::from(u8::from(md.op_code) & 0xf) << 11
        | bit(md.authoritative, 0x0400)
        | bit(md.truncation, 0x0200)
        | bit(md.recursion_desired, 0x0100)
        | bit(md.recursion_available, 0x0080)
        | bit(md.authentic_data, 0x0020)
        | bit(md.checking_disabled, 0x0010);
    let record = |r: &hrr::Record| -> Result<CRecord, String> {
        Ok(CRecord {
            hickory_opaque: matches!(r.data, hrr::RData::Unknown { .. }),
            owner: hickory_name(&r.name)?,
            rtype: u16::from(r.record_type()),
            class: u16::from(r.dns_class),
            // RFC 2181 8: a TTL with the most significant bit set is read as 0. dnspect applies
            // the rule while decoding, hickory keeps the wire value (docs/hickory-divergences.md).
            ttl: if r.ttl > i32::MAX as u32 { 0 } else { r.ttl },
            rdata: hickory_bytes(|e| r.data.emit(e).map_err(|e| e.to_string()))?,
        })
    };
    let section = |rs: &[hrr::Record]| rs.iter().map(record).collect::<Result<Vec<_>, _>>();
    let edns = match &h.edns {
        None => None,
        Some(e) => Some(CEdns {
            udp_size: e.max_payload(),
            ext_rcode: e.rcode_high(),
            version: e.version(),
            dnssec_ok: e.flags().dnssec_ok,
            z: e.flags().z,
            options: hickory_bytes(|enc| e.options().emit(enc).map_err(|e| e.to_string()))?,
        }),
    };
    Ok(Canon {
        id: md.id,
        flags,
        rcode: u16::from(md.response_code),
        questions: h
            .queries
            .iter()
            .map(|q| {
                Ok((
                    hickory_name(q.name())?,
                    u16::from(q.query_type()),
                    u16::from(q.query_class()),
                ))
            })
            .collect::<Result<Vec<_>, String>>()?,
        sections: [
            section(&h.answers)?,
            section(&h.authorities)?,
            section(&h.additionals)?,
        ],
        edns,
    })
}

/// The first field where the canonical forms differ, as (id, detail).
fn first_difference(a: &Canon, b: &Canon) -> Option<(String, String)> {
    let d = |field: &str, x: &dyn std::fmt::Debug, y: &dyn std::fmt::Debug| {
        Some((
            format!("mismatch:{field}"),
            format!("dnspect {x:?} / hickory {y:?}"),
        ))
    };
    if a.id != b.id {
        return d("header.id", &a.id, &b.id);
    }
    if a.flags != b.flags {
        return d("header.flags", &a.flags, &b.flags);
    }
    if a.rcode != b.rcode {
        return d("header.rcode", &a.rcode, &b.rcode);
    }
    if a.questions.len() != b.questions.len() {
        return d("qdcount", &a.questions.len(), &b.questions.len());
    }
    for (x, y) in a.questions.iter().zip(&b.questions) {
        if x != y {
            return d("question", x, y);
        }
    }
    for (i, name) in ["answer", "authority", "additional"].iter().enumerate() {
        let (xs, ys) = (&a.sections[i], &b.sections[i]);
        if xs.len() != ys.len() {
            return d(&format!("{name}.count"), &xs.len(), &ys.len());
        }
        for (x, y) in xs.iter().zip(ys) {
            let t = type_class(wire::RType(x.rtype));
            for (field, differs) in [
                ("owner", x.owner != y.owner),
                ("type", x.rtype != y.rtype),
                ("class", x.class != y.class),
                ("ttl", x.ttl != y.ttl),
                ("rdata", x.rdata != y.rdata),
            ] {
                if differs {
                    // RDATA hickory keeps opaque and dnspect reads (a name inside decompressed,
                    // say): one rule, whichever type and section.
                    if field == "rdata" && y.hickory_opaque {
                        return d("rdata:hickory-opaque", x, y);
                    }
                    return d(&format!("{name}.{field}:{t}"), x, y);
                }
            }
        }
    }
    if a.edns != b.edns {
        let field = match (&a.edns, &b.edns) {
            (Some(x), Some(y)) if x.options != y.options => {
                format!(
                    "edns.option:{}",
                    first_option_difference(&x.options, &y.options)
                )
            }
            (Some(_), Some(_)) => "edns.fields".into(),
            _ => "edns.presence".into(),
        };
        return d(&field, &a.edns, &b.edns);
    }
    None
}
