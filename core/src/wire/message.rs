//! The typed message: header, questions, records and EDNS, decoded once (optionally reporting
//! byte spans to a sink) and encoded with compression, optionally to a byte limit.

use super::edns::Edns;
use super::encode::Encoder;
use super::error::{ErrorKind, WireError};
use super::name::{read_name_fast, read_owner_fast, Seen};
use super::rdata::{decode_generic, decode_rdata, read_name_spanned, RData};
use super::spans::{FieldKind, NoSpans, Sink};
use super::types::{Class, Opcode, RType, Rcode, Section};
use super::view::{flags, HEADER_LEN};
use super::Name;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The fixed header, without the counts (they follow from the sections).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Header {
    pub id: u16,
    /// QR: this is a response.
    pub qr: bool,
    pub opcode: Opcode,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    /// The reserved Z bit, normally zero.
    pub z: bool,
    pub ad: bool,
    pub cd: bool,
    /// The header's 4-bit RCODE (see [`Message::rcode`] for the EDNS-extended one).
    pub rcode: u8,
}

impl Default for Opcode {
    fn default() -> Self {
        Opcode::QUERY
    }
}

impl Header {
    pub fn from_flags(id: u16, f: u16) -> Header {
        Header {
            id,
            qr: f & flags::QR != 0,
            opcode: Opcode(((f >> 11) & 0xf) as u8),
            aa: f & flags::AA != 0,
            tc: f & flags::TC != 0,
            rd: f & flags::RD != 0,
            ra: f & flags::RA != 0,
            z: f & flags::Z != 0,
            ad: f & flags::AD != 0,
            cd: f & flags::CD != 0,
            rcode: (f & 0xf) as u8,
        }
    }

    pub fn flags(&self) -> u16 {
        let bit = |b: bool, v: u16| if b { v } else { 0 };
        bit(self.qr, flags::QR)
            | u16::from(self.opcode.0 & 0xf) << 11
            | bit(self.aa, flags::AA)
            | bit(self.tc, flags::TC)
            | bit(self.rd, flags::RD)
            | bit(self.ra, flags::RA)
            | bit(self.z, flags::Z)
            | bit(self.ad, flags::AD)
            | bit(self.cd, flags::CD)
            | u16::from(self.rcode & 0xf)
    }

    /// The set flags in dig's order and spelling (`qr aa rd ra`).
    pub fn flag_names(&self) -> Vec<&'static str> {
        [
            (self.qr, "qr"),
            (self.aa, "aa"),
            (self.tc, "tc"),
            (self.rd, "rd"),
            (self.ra, "ra"),
            (self.z, "z"),
            (self.ad, "ad"),
            (self.cd, "cd"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect()
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Question {
    pub name: Name,
    #[serde(rename = "type")]
    pub qtype: RType,
    #[serde(default = "class_in")]
    pub class: Class,
}

fn class_in() -> Class {
    Class::IN
}

/// A resource record.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "ResourceRecord"))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub name: Name,
    #[serde(rename = "type")]
    pub rtype: RType,
    #[serde(default = "class_in")]
    pub class: Class,
    #[serde(default)]
    pub ttl: u32,
    pub rdata: RData,
}

impl Record {
    /// The record in presentation format: `owner TTL class type rdata`, tab-separated as dig does.
    pub fn to_text(&self) -> String {
        let head = format!(
            "{}\t{}\t{}\t{}",
            self.name, self.ttl, self.class, self.rtype
        );
        match &self.rdata {
            RData::Empty => head,
            // RFC 3597 5: in a class without defined RDATA layouts (class 0, unassigned ones) the
            // RDATA is shown in the generic form, from its uncompressed encoding.
            rdata if !self.class.is_defined() && self.rtype != RType::OPT => {
                let mut enc = Encoder::uncompressed();
                match rdata.encode(self.rtype, &mut enc) {
                    Ok(()) => {
                        let data = enc.into_bytes();
                        format!("{head}\t{}", RData::Unknown { data })
                    }
                    Err(_) => format!("{head}\t{rdata}"),
                }
            }
            rdata => format!("{head}\t{rdata}"),
        }
    }

    /// Writes the whole record.
    #[inline]
    pub fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        self.encode_ttl_at(enc).map(|_| ())
    }

    /// Writes the whole record; returns the offset of its TTL field in the encoder's buffer.
    pub fn encode_ttl_at(&self, enc: &mut Encoder) -> Result<usize, WireError> {
        if !self.rdata.fits(self.rtype) {
            return Err(WireError::invalid(
                format!("record {} {}", self.name, self.rtype),
                "RDATA layout does not match the record type",
            ));
        }
        enc.name(&self.name, true);
        enc.u16(self.rtype.0);
        enc.u16(self.class.0);
        let ttl_at = enc.len();
        enc.u32(self.ttl);
        let len_at = enc.len();
        enc.u16(0);
        self.rdata.encode(self.rtype, enc)?;
        let len = enc.len() - len_at - 2;
        let len = u16::try_from(len).map_err(|_| {
            WireError::invalid(
                format!("record {}", self.name),
                "RDATA longer than 65535 bytes",
            )
        })?;
        enc.set_u16(len_at, len);
        Ok(ttl_at)
    }
}

/// A DNS message. The OPT record, if any, is lifted out of the additional section into `edns`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
    pub edns: Option<Edns>,
}

/// The outcome of decoding: everything read before the first error, and that error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub message: Message,
    pub error: Option<WireError>,
    /// Offset just after the last byte decoded; bytes past it are trailing.
    pub end: usize,
    /// The counts the header announced (QD, AN, NS, AR).
    pub counts: [u16; 4],
    /// Offset of the OPT record, if one was read.
    pub opt_offset: Option<usize>,
    /// Offsets of TTL fields with the most significant bit set, read as 0 (RFC 2181 8).
    pub high_ttls: Vec<usize>,
}

impl Message {
    /// Decodes strictly: any error fails the whole message. Trailing bytes are allowed.
    pub fn from_wire(bytes: &[u8]) -> Result<Message, WireError> {
        if let Some(m) = decode_fast(bytes) {
            return Ok(m);
        }
        from_wire_checked(bytes)
    }

    /// The response code, EDNS extension included.
    pub fn rcode(&self) -> Rcode {
        let ext = self.edns.as_ref().map_or(0, |e| u16::from(e.ext_rcode));
        Rcode(ext << 4 | u16::from(self.header.rcode))
    }

    /// Sets the response code, using EDNS for values above 15.
    pub fn set_rcode(&mut self, rcode: Rcode) {
        self.header.rcode = (rcode.0 & 0xf) as u8;
        if let Some(e) = &mut self.edns {
            e.ext_rcode = (rcode.0 >> 4) as u8;
        }
    }

    pub fn section(&self, s: Section) -> &[Record] {
        match s {
            Section::Question => &[],
            Section::Answer => &self.answers,
            Section::Authority => &self.authority,
            Section::Additional => &self.additional,
        }
    }

    pub fn section_mut(&mut self, s: Section) -> Option<&mut Vec<Record>> {
        match s {
            Section::Question => None,
            Section::Answer => Some(&mut self.answers),
            Section::Authority => Some(&mut self.authority),
            Section::Additional => Some(&mut self.additional),
        }
    }

    /// Encodes with compression.
    pub fn to_wire(&self) -> Result<Vec<u8>, WireError> {
        let mut enc = Encoder::new();
        self.encode(&mut enc, usize::MAX)?;
        Ok(enc.into_bytes())
    }

    /// Encodes the form the cache keeps, in one pass: compressed, without OPT (ARCOUNT counts
    /// the records written), and the offset of every record's TTL pushed to `ttls`, so a
    /// cached answer is aged in place without another walk. `enc` is expected empty (a reused
    /// encoder after [`Encoder::clear`]).
    pub fn encode_stored(&self, enc: &mut Encoder, ttls: &mut Vec<u16>) -> Result<(), WireError> {
        let start = self.encode_head(enc)?;
        let mut counts = [0u16; 3];
        for (si, records) in [&self.answers, &self.authority, &self.additional]
            .into_iter()
            .enumerate()
        {
            for r in records {
                let at = r.encode_ttl_at(enc)? - start;
                ttls.push(
                    u16::try_from(at)
                        .map_err(|_| WireError::invalid("message", "larger than 65535 bytes"))?,
                );
            }
            counts[si] = u16::try_from(records.len())
                .map_err(|_| WireError::invalid("records", "more than 65535 in a section"))?;
        }
        enc.set_u16(start + 6, counts[0]);
        enc.set_u16(start + 8, counts[1]);
        enc.set_u16(start + 10, counts[2]);
        enc.check_size()
    }

    /// The header (section counts other than QDCOUNT left 0, set by the caller) and the
    /// questions; returns where the message starts in `enc`.
    fn encode_head(&self, enc: &mut Encoder) -> Result<usize, WireError> {
        let start = enc.len();
        enc.u16(self.header.id);
        enc.u16(self.header.flags());
        let qd = u16::try_from(self.questions.len())
            .map_err(|_| WireError::invalid("questions", "more than 65535"))?;
        enc.u16(qd);
        enc.bytes(&[0; 6]);
        for q in &self.questions {
            enc.name(&q.name, true);
            enc.u16(q.qtype.0);
            enc.u16(q.class.0);
        }
        Ok(start)
    }

    /// Encodes without any compression pointer (what an upstream like incident 000's sends).
    pub fn to_wire_uncompressed(&self) -> Result<Vec<u8>, WireError> {
        let mut enc = Encoder::uncompressed();
        self.encode(&mut enc, usize::MAX)?;
        Ok(enc.into_bytes())
    }

    /// Encodes into `enc`, fitting within `limit` bytes by dropping whole RRsets from the end
    /// (RFC 2181 9). OPT is kept. TC is set when an answer or authority RRset was dropped;
    /// dropping only additional data does not set it.
    pub fn encode(&self, enc: &mut Encoder, limit: usize) -> Result<Truncation, WireError> {
        let start = self.encode_head(enc)?;
        let mut t = Truncation::default();
        let mut counts = [0u16; 3];
        if limit == usize::MAX {
            // Nothing can be dropped: no RRset grouping, no rollback marks.
            for (si, records) in [&self.answers, &self.authority, &self.additional]
                .into_iter()
                .enumerate()
            {
                for r in records {
                    r.encode(enc)?;
                }
                counts[si] = records.len() as u16;
            }
        } else {
            self.encode_records(enc, start, limit, &mut t, &mut counts)?;
        }
        if let Some(e) = &self.edns {
            e.encode(enc)?;
        }
        let arcount = counts[2] + u16::from(self.edns.is_some());
        enc.set_u16(start + 6, counts[0]);
        enc.set_u16(start + 8, counts[1]);
        enc.set_u16(start + 10, arcount);
        t.tc = t.dropped[0] > 0 || t.dropped[1] > 0;
        if t.tc {
            enc.set_u16(start + 2, self.header.flags() | flags::TC);
        }
        enc.check_size()?;
        t.size = enc.len() - start;
        Ok(t)
    }

    /// The records of [`Message::encode`] to a limit, whole RRsets at a time.
    fn encode_records(
        &self,
        enc: &mut Encoder,
        start: usize,
        limit: usize,
        t: &mut Truncation,
        counts: &mut [u16; 3],
    ) -> Result<(), WireError> {
        let reserve = self.edns.as_ref().map_or(0, Edns::wire_len);
        let mut full = false;
        for (si, section) in [Section::Answer, Section::Authority, Section::Additional]
            .into_iter()
            .enumerate()
        {
            let records = self.section(section);
            let mut i = 0;
            while i < records.len() {
                let j = rrset_end(records, i);
                if !full {
                    let mark = enc.len();
                    for r in &records[i..j] {
                        r.encode(enc)?;
                    }
                    if enc.len() - start + reserve > limit {
                        enc.rollback(mark);
                        full = true;
                    } else {
                        counts[si] += (j - i) as u16;
                    }
                }
                if full {
                    t.dropped[si] += j - i;
                }
                i = j;
            }
        }
        Ok(())
    }

    /// Whether this response says the name (at the end of its CNAME chain) does not exist or has
    /// no data of the type asked: [`Message::classify`] is NXDOMAIN or NODATA.
    pub fn is_negative(&self) -> bool {
        self.header.qr && self.classify().is_negative()
    }
}

/// [`Message::from_wire`] step by step, reporting the first error: what `from_wire` runs when
/// its fast path found something wrong or unusual.
#[cold]
#[inline(never)]
fn from_wire_checked(bytes: &[u8]) -> Result<Message, WireError> {
    let d = decode_with(bytes, &mut NoSpans);
    match d.error {
        Some(e) => Err(e),
        None => Ok(d.message),
    }
}

/// The fast path of [`Message::from_wire`]: the same message for one it accepts, `None` for any
/// error and for the unusual. Reports no error or span, stops at compression pointers to names
/// it already read, copies names in whole runs and sizes the section vectors once.
#[inline(always)]
fn decode_fast(bytes: &[u8]) -> Option<Message> {
    let header = bytes.first_chunk::<HEADER_LEN>()?;
    let word = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let (qd, an, ns, ar) = (word(4), word(6), word(8), word(10));
    let mut seen = Seen::new();
    let mut m = Message {
        header: Header::from_flags(word(0), word(2)),
        ..Message::default()
    };
    let mut pos = HEADER_LEN;
    if qd > 0 {
        // The smallest question is 5 bytes: a forged count does not reserve much.
        m.questions = Vec::with_capacity(usize::from(qd).min((bytes.len() - pos) / 5));
        for _ in 0..qd {
            let name = read_name_fast::<true>(bytes, pos, &mut seen)?;
            let f = bytes.get(name.end..)?.first_chunk::<4>()?;
            m.questions.push(Question {
                name: name.build(bytes),
                qtype: RType(u16::from_be_bytes([f[0], f[1]])),
                class: Class(u16::from_be_bytes([f[2], f[3]])),
            });
            pos = name.end + 4;
        }
    }
    m.answers = records_fast(bytes, &mut pos, &mut seen, an, None)?;
    m.authority = records_fast(bytes, &mut pos, &mut seen, ns, None)?;
    m.additional = records_fast(bytes, &mut pos, &mut seen, ar, Some(&mut m.edns))?;
    Some(m)
}

/// `count` records from `*pos` for [`decode_fast`]. `edns`: where an OPT record goes; `None`
/// outside the additional section, where OPT is not allowed.
#[inline(always)]
fn records_fast(
    bytes: &[u8],
    pos: &mut usize,
    seen: &mut Seen,
    count: u16,
    mut edns: Option<&mut Option<Edns>>,
) -> Option<Vec<Record>> {
    let mut records = Vec::new();
    // The last owner, when entirely in place (see owner_fast).
    let mut prev: &[u8] = &[];
    for i in 0..count {
        let start = *pos;
        let name = read_owner_fast(bytes, start, seen, &mut prev)?;
        let name_end = name.end;
        let rdata_start = name_end + 10;
        if rdata_start > bytes.len() {
            return None;
        }
        let f = &bytes[name_end..rdata_start];
        let rtype = RType(u16::from_be_bytes([f[0], f[1]]));
        let class = u16::from_be_bytes([f[2], f[3]]);
        let ttl = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
        let rdlen = usize::from(u16::from_be_bytes([f[8], f[9]]));
        if rdlen > bytes.len() - rdata_start {
            return None;
        }
        // TTLs read as 0 (RFC 2181 8) and classes other than IN, CH and HS take the full decode.
        if rtype != RType::OPT && (ttl > i32::MAX as u32 || !matches!(class, 1 | 3 | 4)) {
            return None;
        }
        let end = rdata_start + rdlen;
        *pos = end;
        // Each kind of RDATA builds its record where it is pushed, so that the record is
        // written once, into the vector.
        macro_rules! push {
            ($rdata:expr) => {{
                // Sized once for the rest of the section (OPT aside), within what the bytes hold.
                if records.capacity() == 0 {
                    let left = usize::from(count - i).min((bytes.len() - start) / 11);
                    records.reserve_exact(left);
                }
                records.push(Record {
                    name: name.build(bytes),
                    rtype,
                    class: Class(class),
                    ttl,
                    rdata: $rdata,
                });
            }};
        }
        match rtype {
            RType::A => {
                let address = Ipv4Addr::from(*bytes[rdata_start..end].first_chunk::<4>()?);
                if rdlen != 4 {
                    return None;
                }
                push!(RData::A { address });
            }
            RType::AAAA => {
                let address = Ipv6Addr::from(*bytes[rdata_start..end].first_chunk::<16>()?);
                if rdlen != 16 {
                    return None;
                }
                push!(RData::Aaaa { address });
            }
            RType::CNAME | RType::NS | RType::PTR | RType::DNAME => {
                let target = read_name_fast::<true>(bytes, rdata_start, seen)?;
                if target.end != end {
                    return None;
                }
                push!(RData::Name {
                    target: target.build(bytes)
                });
            }
            RType::OPT => {
                // Only in the additional section, only once, owned by the root byte.
                let slot = edns.as_deref_mut()?;
                if slot.is_some() || bytes[start] != 0 {
                    return None;
                }
                let options = if rdlen == 0 {
                    Vec::new()
                } else {
                    match decode_rdata(bytes, rdata_start, end, rtype, &mut NoSpans) {
                        Ok(RData::Opt { options }) => options,
                        _ => return None,
                    }
                };
                *slot = Some(Edns::from_ttl(class, ttl, options));
            }
            _ => {
                let rdata = decode_rdata(bytes, rdata_start, end, rtype, &mut NoSpans).ok()?;
                push!(rdata);
            }
        }
    }
    Some(records)
}

/// End (exclusive) of the RRset starting at `i`: consecutive records with the same owner
/// (case-insensitive), type and class.
pub fn rrset_end(records: &[Record], i: usize) -> usize {
    let first = &records[i];
    let mut j = i + 1;
    while j < records.len()
        && records[j].rtype == first.rtype
        && records[j].class == first.class
        && records[j].name.eq_ignore_case(&first.name)
    {
        j += 1;
    }
    j
}

/// What encoding to a limit dropped.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Truncation {
    /// Records dropped from the answer, authority and additional sections.
    pub dropped: [usize; 3],
    /// Whether TC was set.
    pub tc: bool,
    /// The encoded size.
    pub size: usize,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn fixed<S: Sink>(
    bytes: &[u8],
    at: usize,
    len: usize,
    expected: &'static str,
) -> Result<(), WireError> {
    if at + len > bytes.len() {
        return Err(WireError::truncated(at, expected, len, bytes.len()));
    }
    let _ = core::marker::PhantomData::<S>;
    Ok(())
}

/// Decodes a message, reporting every field to `sink`, keeping what precedes the first error.
pub fn decode_with<S: Sink>(bytes: &[u8], sink: &mut S) -> Decoded {
    let mut d = Decoded {
        message: Message::default(),
        error: None,
        end: 0,
        counts: [0; 4],
        opt_offset: None,
        high_ttls: Vec::new(),
    };
    if bytes.len() < HEADER_LEN {
        d.error = Some(WireError::truncated(
            0,
            "a 12-byte header",
            HEADER_LEN,
            bytes.len(),
        ));
        return d;
    }
    let id = u16_at(bytes, 0);
    let f = u16_at(bytes, 2);
    let header = Header::from_flags(id, f);
    d.counts = [
        u16_at(bytes, 4),
        u16_at(bytes, 6),
        u16_at(bytes, 8),
        u16_at(bytes, 10),
    ];
    if S::ACTIVE {
        header_spans(sink, &header, d.counts);
    }
    d.message.header = header;
    d.end = HEADER_LEN;
    let mut pos = HEADER_LEN;
    if let Err(e) = decode_sections(bytes, &mut pos, sink, &mut d) {
        d.error = Some(e);
    }
    d
}

fn header_spans<S: Sink>(sink: &mut S, h: &Header, counts: [u16; 4]) {
    sink.open(0, FieldKind::Header, None, || "header".into());
    sink.leaf(0, 2, "ID", || h.id.to_string());
    sink.open(2, FieldKind::Flags, None, || "flags".into());
    let bit = |b: bool| u8::from(b);
    sink.leaf(2, 1, "QR", || {
        format!(
            "{} ({})",
            bit(h.qr),
            if h.qr { "response" } else { "query" }
        )
    });
    sink.leaf(2, 1, "opcode", || h.opcode.to_string());
    sink.leaf(2, 1, "AA", || {
        format!("{} (authoritative answer)", bit(h.aa))
    });
    sink.leaf(2, 1, "TC", || format!("{} (truncated)", bit(h.tc)));
    sink.leaf(2, 1, "RD", || format!("{} (recursion desired)", bit(h.rd)));
    sink.leaf(3, 1, "RA", || {
        format!("{} (recursion available)", bit(h.ra))
    });
    sink.leaf(3, 1, "Z", || bit(h.z).to_string());
    sink.leaf(3, 1, "AD", || format!("{} (authentic data)", bit(h.ad)));
    sink.leaf(3, 1, "CD", || format!("{} (checking disabled)", bit(h.cd)));
    sink.leaf(3, 1, "RCODE", || Rcode(u16::from(h.rcode)).to_string());
    sink.close(4, || {
        format!("0x{:04x} {}", h.flags(), h.flag_names().join(" "))
    });
    for (i, label) in ["QDCOUNT", "ANCOUNT", "NSCOUNT", "ARCOUNT"]
        .into_iter()
        .enumerate()
    {
        sink.leaf(4 + 2 * i, 2, label, || counts[i].to_string());
    }
    sink.close(HEADER_LEN, || {
        format!("id {} {}", h.id, h.flag_names().join(" "))
    });
}

fn decode_sections<S: Sink>(
    bytes: &[u8],
    pos: &mut usize,
    sink: &mut S,
    d: &mut Decoded,
) -> Result<(), WireError> {
    if d.counts[0] > 0 {
        sink.open(*pos, FieldKind::Section, Some(Section::Question), || {
            "question section".into()
        });
        for i in 0..d.counts[0] {
            sink.open(*pos, FieldKind::Question, None, || {
                format!("question #{}", i + 1)
            });
            let (name, end) = read_name_spanned(bytes, *pos, sink, "name")?;
            fixed::<S>(bytes, end, 4, "QTYPE and QCLASS")?;
            let qtype = RType(u16_at(bytes, end));
            let class = Class(u16_at(bytes, end + 2));
            sink.leaf(end, 2, "type", || qtype.to_string());
            sink.leaf(end + 2, 2, "class", || class.to_string());
            *pos = end + 4;
            d.end = *pos;
            let q = Question { name, qtype, class };
            sink.close(*pos, || format!("{} {} {}", q.name, q.class, q.qtype));
            d.message.questions.push(q);
        }
        sink.close(*pos, || format!("{} question(s)", d.counts[0]));
    }
    for (si, section) in [Section::Answer, Section::Authority, Section::Additional]
        .into_iter()
        .enumerate()
    {
        let count = d.counts[si + 1];
        if count == 0 {
            continue;
        }
        sink.open(*pos, FieldKind::Section, Some(section), || {
            format!("{} section", section.title().to_lowercase())
        });
        for i in 0..count {
            decode_record(bytes, pos, sink, d, section, usize::from(i))?;
            d.end = *pos;
        }
        sink.close(*pos, || format!("{count} record(s)"));
    }
    Ok(())
}

fn decode_record<S: Sink>(
    bytes: &[u8],
    pos: &mut usize,
    sink: &mut S,
    d: &mut Decoded,
    section: Section,
    index: usize,
) -> Result<(), WireError> {
    let start = *pos;
    sink.open(start, FieldKind::Record, None, || {
        format!("{} #{}", section.title().to_lowercase(), index + 1)
    });
    let (name, end) = read_name_spanned(bytes, start, sink, "owner")?;
    fixed::<S>(bytes, end, 10, "TYPE, CLASS, TTL and RDLENGTH")?;
    let rtype = RType(u16_at(bytes, end));
    let class = u16_at(bytes, end + 2);
    let ttl = u32::from_be_bytes([
        bytes[end + 4],
        bytes[end + 5],
        bytes[end + 6],
        bytes[end + 7],
    ]);
    let rdlen = usize::from(u16_at(bytes, end + 8));
    let rdata_at = end + 10;
    sink.leaf(end, 2, "type", || rtype.to_string());
    if rtype == RType::OPT {
        sink.leaf(end + 2, 2, "UDP payload size", || class.to_string());
        sink.leaf(end + 4, 1, "extended RCODE", || (ttl >> 24).to_string());
        sink.leaf(end + 5, 1, "EDNS version", || {
            ((ttl >> 16) & 0xff).to_string()
        });
        sink.leaf(end + 6, 2, "flags", || {
            if ttl & 0x8000 != 0 {
                "do".into()
            } else {
                format!("0x{:04x}", ttl & 0xffff)
            }
        });
    } else {
        sink.leaf(end + 2, 2, "class", || Class(class).to_string());
        sink.leaf(end + 4, 4, "TTL", || {
            if ttl > i32::MAX as u32 {
                format!("{ttl} (most significant bit set: read as 0, RFC 2181 8)")
            } else {
                ttl.to_string()
            }
        });
        if ttl > i32::MAX as u32 {
            d.high_ttls.push(end + 4);
        }
    }
    sink.leaf(end + 8, 2, "RDLENGTH", || rdlen.to_string());
    if rdata_at + rdlen > bytes.len() {
        return Err(WireError::truncated(
            rdata_at,
            "RDATA of RDLENGTH bytes",
            rdlen,
            bytes.len(),
        ));
    }
    if rtype == RType::OPT {
        if section != Section::Additional {
            return Err(WireError::new(start, ErrorKind::OptOutsideAdditional));
        }
        if let Some(first) = d.opt_offset {
            return Err(WireError::new(start, ErrorKind::DuplicateOpt { first }));
        }
        // The owner must be the single root byte: a pointer to a root label is rejected too,
        // as the zero-copy view does (RFC 6891 6.1.2: NAME "MUST be 0").
        if !name.is_root() || bytes[start] != 0 {
            return Err(WireError::new(start, ErrorKind::OptOwnerNotRoot));
        }
    }
    sink.open(rdata_at, FieldKind::Rdata, None, || "RDATA".into());
    let rdata = match Class(class) {
        _ if rtype == RType::OPT => decode_rdata(bytes, rdata_at, rdata_at + rdlen, rtype, sink)?,
        // RFC 2136 2.4 and 2.5: prerequisites and deletions with class ANY or NONE carry no RDATA.
        Class::ANY | Class::NONE if rdlen == 0 => RData::Empty,
        // Class-specific layouts (A, AAAA...: RFC 1035 3.4) are defined for IN only (and CH, HS
        // where they have one): in class 0 or a class nobody defined, the RDATA is opaque.
        c if !c.is_defined() && rtype.is_class_specific() => {
            decode_generic(bytes, rdata_at, rdata_at + rdlen, rtype, sink)?
        }
        _ => decode_rdata(bytes, rdata_at, rdata_at + rdlen, rtype, sink)?,
    };
    *pos = rdata_at + rdlen;
    if rtype == RType::OPT {
        let RData::Opt { options } = rdata else {
            return Err(WireError::rdata(rdata_at, rtype, "not an option list"));
        };
        let edns = Edns::from_ttl(class, ttl, options);
        sink.close(*pos, || format!("{} option(s)", edns.options.len()));
        sink.close(*pos, || {
            format!(
                "OPT udp {} version {}{}",
                edns.udp_size,
                edns.version,
                if edns.dnssec_ok { " do" } else { "" }
            )
        });
        d.opt_offset = Some(start);
        d.message.edns = Some(edns);
        return Ok(());
    }
    let record = Record {
        name,
        rtype,
        class: Class(class),
        ttl: crate::wire::view::record_ttl(rtype, ttl),
        rdata,
    };
    sink.close(*pos, || record.rdata.to_string());
    sink.close(*pos, || record.to_text());
    match section {
        Section::Answer => d.message.answers.push(record),
        Section::Authority => d.message.authority.push(record),
        _ => d.message.additional.push(record),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::edns::EdnsOption;
    use crate::wire::name::{read_name_walk, skip_name_fast, skip_name_walk};
    use crate::wire::text::unhex;
    use crate::wire::view::MessageView;

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n.max(1)
        }
    }

    fn random_name(rng: &mut Rng) -> Name {
        let labels: [&[u8]; 7] = [b"www", b"Example", b"com", b"net", b"a", b"cdn-1", b"x"];
        let n = rng.below(5) as usize;
        let picked: Vec<&[u8]> = (0..n).map(|_| labels[rng.below(7) as usize]).collect();
        Name::from_labels(&picked).unwrap()
    }

    fn random_record(rng: &mut Rng) -> Record {
        let name = random_name(rng);
        let (rtype, rdata) = match rng.below(10) {
            0 => (
                RType::AAAA,
                RData::Aaaa {
                    address: Ipv6Addr::from(rng.below(1 << 40) as u128),
                },
            ),
            1 => (
                RType::CNAME,
                RData::Name {
                    target: random_name(rng),
                },
            ),
            2 => (
                RType::NS,
                RData::Name {
                    target: random_name(rng),
                },
            ),
            3 => (
                RType::MX,
                RData::Mx {
                    preference: 10,
                    exchange: random_name(rng),
                },
            ),
            4 => (
                RType::SOA,
                RData::Soa {
                    mname: random_name(rng),
                    rname: random_name(rng),
                    serial: 1,
                    refresh: 2,
                    retry: 3,
                    expire: 4,
                    minimum: rng.below(1000) as u32,
                },
            ),
            5 => (
                RType::TXT,
                RData::Txt {
                    strings: vec![b"hello".to_vec(), vec![]],
                },
            ),
            6 => (
                RType(65280),
                RData::Unknown {
                    data: vec![1, 2, 3],
                },
            ),
            _ => (
                RType::A,
                RData::A {
                    address: Ipv4Addr::from(rng.below(1 << 32) as u32),
                },
            ),
        };
        Record {
            name,
            rtype,
            class: Class::IN,
            ttl: rng.below(100_000) as u32,
            rdata,
        }
    }

    fn random_message(rng: &mut Rng) -> Message {
        let mut m = Message::default();
        m.header.id = rng.below(65536) as u16;
        m.header.qr = true;
        for _ in 0..rng.below(3) {
            m.questions.push(Question {
                name: random_name(rng),
                qtype: [RType::A, RType::ANY, RType::MX][rng.below(3) as usize],
                class: Class::IN,
            });
        }
        for _ in 0..rng.below(6) {
            m.answers.push(random_record(rng));
        }
        for _ in 0..rng.below(3) {
            m.authority.push(random_record(rng));
        }
        for _ in 0..rng.below(3) {
            m.additional.push(random_record(rng));
        }
        if rng.below(2) == 0 {
            let mut e = Edns::new(1232);
            if rng.below(2) == 0 {
                e.options.push(EdnsOption::Cookie {
                    client: vec![7; 8],
                    server: vec![],
                });
            }
            m.edns = Some(e);
        }
        m
    }

    fn mutate(rng: &mut Rng, b: &mut Vec<u8>) {
        for _ in 0..1 + rng.below(3) {
            if b.is_empty() {
                return;
            }
            let at = rng.below(b.len() as u64) as usize;
            match rng.below(8) {
                0 => b.truncate(at),
                1 | 2 => b[at] = 0xc0 | rng.below(4) as u8,
                3 => b[at] = rng.below(64) as u8,
                4 => b.push(rng.below(256) as u8),
                5 if b.len() > 12 => b[4 + rng.below(8) as usize] = rng.below(4) as u8,
                _ => b[at] = rng.below(256) as u8,
            }
        }
    }

    /// A message whose names come near or past 255 bytes through pointers: a long question
    /// name, then A records whose owners add labels in front of a pointer to an earlier name.
    fn long_names(rng: &mut Rng) -> Vec<u8> {
        let records = 1 + rng.below(6) as usize;
        let mut b = vec![0, 1, 0x81, 0x80, 0, 1, 0, records as u8, 0, 0, 0, 0];
        let mut starts = vec![b.len()];
        let mut len = 0;
        while len < 120 + rng.below(130) as usize {
            let l = 1 + rng.below(63) as usize;
            b.push(l as u8);
            b.extend(std::iter::repeat_n(b'q', l));
            len += 1 + l;
        }
        b.extend_from_slice(&[0, 0, 1, 0, 1]);
        for _ in 0..records {
            starts.push(b.len());
            for _ in 0..rng.below(3) {
                let l = 1 + rng.below(63) as usize;
                b.push(l as u8);
                b.extend(std::iter::repeat_n(b'r', l));
            }
            let to = starts[rng.below(starts.len() as u64 - 1) as usize];
            b.extend_from_slice(&[0xc0 | (to >> 8) as u8, to as u8]);
            b.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        }
        b
    }

    /// A message whose owners repeat the previous owner's bytes, or are in place, or labels
    /// then a pointer, or a pointer, at random.
    fn mixed_owners(rng: &mut Rng) -> Vec<u8> {
        let labels: [&[u8]; 4] = [b"api-push", b"vivo", b"c", b"Example"];
        let records = 1 + rng.below(8) as usize;
        let mut b = vec![0, 1, 0x81, 0x80, 0, 1, 0, records as u8, 0, 0, 0, 0];
        let mut names = vec![b.len()];
        let push_labels = |b: &mut Vec<u8>, rng: &mut Rng| {
            for _ in 0..rng.below(4) {
                let l = labels[rng.below(4) as usize];
                b.push(l.len() as u8);
                b.extend_from_slice(l);
            }
        };
        push_labels(&mut b, rng);
        b.push(0);
        b.extend_from_slice(&[0, 1, 0, 1]);
        let mut prev = names[0]..b.len() - 4;
        for _ in 0..records {
            let start = b.len();
            match rng.below(4) {
                0 => b.extend_from_within(prev.clone()),
                1 => {
                    push_labels(&mut b, rng);
                    b.push(0);
                }
                k => {
                    if k == 2 {
                        push_labels(&mut b, rng);
                    }
                    let to = names[rng.below(names.len() as u64) as usize];
                    b.extend_from_slice(&[0xc0 | (to >> 8) as u8, to as u8]);
                }
            }
            names.push(start);
            prev = start..b.len();
            b.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        }
        b
    }

    /// The fast paths (`from_wire`, `scan`, the name readers with their memory of names seen)
    /// against the step-by-step code that reports errors, on valid messages and on mutants of
    /// them: same results, same errors.
    fn check(b: &[u8]) {
        assert_eq!(Message::from_wire(b), from_wire_checked(b), "{b:02x?}");
        if let Ok(v) = MessageView::new(b) {
            assert_eq!(v.scan(), v.scan_checked(), "{b:02x?}");
            // The iterator (remembering names) against records read one by one.
            let mut expected = vec![];
            let mut pos = HEADER_LEN;
            let mut failed = false;
            for _ in 0..v.qdcount() {
                match skip_name_walk(b, pos) {
                    Ok(end) if end + 4 <= b.len() => pos = end + 4,
                    _ => failed = true,
                }
                if failed {
                    break;
                }
            }
            let counts = [v.ancount(), v.nscount(), v.arcount()];
            let sections = [Section::Answer, Section::Authority, Section::Additional];
            for (section, count) in sections.into_iter().zip(counts) {
                for _ in 0..count {
                    if failed {
                        break;
                    }
                    let r = crate::wire::view::read_record(b, pos, section);
                    failed = r.is_err();
                    if let Ok(r) = &r {
                        pos = r.end();
                    }
                    expected.push(r.map_err(|_| ()));
                }
            }
            let got: Vec<_> = v.records().map(|r| r.map_err(|_| ())).collect();
            if !(failed && v.qdcount() > 0 && expected.is_empty()) {
                assert_eq!(got, expected, "{b:02x?}");
            }
        }
        let mut seen = Seen::new();
        let mut seen_skip = Seen::new();
        for start in 0..b.len() {
            let slow = read_name_walk(b, start).ok();
            let fast = if start % 2 == 0 {
                read_name_fast::<true>(b, start, &mut seen)
            } else {
                read_name_fast::<false>(b, start, &mut seen)
            };
            assert_eq!(
                fast.map(|n| (n.build(b), n.end)),
                slow,
                "{start} in {b:02x?}"
            );
            let fast = skip_name_fast::<true>(b, start, &mut seen_skip);
            assert_eq!(fast, skip_name_walk(b, start).ok(), "{start} in {b:02x?}");
            assert_eq!(
                crate::wire::name::read_name(b, start),
                read_name_walk(b, start)
            );
            assert_eq!(
                crate::wire::name::skip_name(b, start),
                skip_name_walk(b, start)
            );
        }
    }

    #[test]
    fn fast_paths_match_the_checked_ones() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut corpus: Vec<Vec<u8>> = [
            "cname-a",
            "nodata-soa",
            "seed000-compressed",
            "seed000-uncompressed",
        ]
        .iter()
        .map(|f| {
            let path = format!("{}/tests/data/{f}.hex", env!("CARGO_MANIFEST_DIR"));
            unhex(std::fs::read_to_string(path).unwrap().trim()).unwrap()
        })
        .collect();
        for _ in 0..150 {
            let m = random_message(&mut rng);
            corpus.push(m.to_wire().unwrap());
            corpus.push(m.to_wire_uncompressed().unwrap());
        }
        for _ in 0..60 {
            corpus.push(long_names(&mut rng));
            corpus.push(mixed_owners(&mut rng));
        }
        for b in &corpus {
            check(b);
            for _ in 0..60 {
                let mut m = b.clone();
                mutate(&mut rng, &mut m);
                check(&m);
            }
        }
    }
}
