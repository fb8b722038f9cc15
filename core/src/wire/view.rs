//! The zero-copy view: walks a message in place without allocating. This is what the forwarder
//! runs on every packet; the analyzer's full decode lives in `message`.

use core::ops::Range;

use super::error::{ErrorKind, WireError};
use super::name::{skip_name, walk_name, Step, MAX_NAME_LEN};
use super::types::{Class, Opcode, RType, Section};

/// Size of the fixed header (RFC 1035 4.1.1).
pub const HEADER_LEN: usize = 12;

/// Header flag bits in the second 16-bit word.
pub mod flags {
    pub const QR: u16 = 0x8000;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    pub const Z: u16 = 0x0040;
    pub const AD: u16 = 0x0020;
    pub const CD: u16 = 0x0010;
}

/// A borrowed message whose header is known to be present.
#[derive(Clone, Copy, Debug)]
pub struct MessageView<'a> {
    buf: &'a [u8],
}

/// The location and fields of a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuestionRef {
    /// Offset of the question name.
    pub name_start: usize,
    /// Offset just after the name's in-place part.
    pub name_end: usize,
    pub qtype: RType,
    pub qclass: Class,
    /// Offset just after the question.
    pub end: usize,
}

/// The location and fixed fields of a resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRef {
    pub section: Section,
    /// Offset of the owner name (the record's first byte).
    pub offset: usize,
    pub rtype: RType,
    /// The class field (the UDP payload size on OPT).
    pub class: u16,
    pub ttl: u32,
    /// Offset of the 4-byte TTL field, so a cache can age it in place.
    pub ttl_offset: usize,
    pub rdata: Range<usize>,
}

impl RecordRef {
    /// Offset just after the record.
    pub fn end(&self) -> usize {
        self.rdata.end
    }
}

/// The OPT pseudo-record's fields (RFC 6891 6.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptRef {
    pub offset: usize,
    pub udp_size: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub dnssec_ok: bool,
    pub rdata: Range<usize>,
}

impl OptRef {
    fn from_record(r: &RecordRef) -> OptRef {
        OptRef {
            offset: r.offset,
            udp_size: r.class,
            ext_rcode: (r.ttl >> 24) as u8,
            version: (r.ttl >> 16) as u8,
            dnssec_ok: r.ttl & 0x8000 != 0,
            rdata: r.rdata.clone(),
        }
    }
}

/// What one pass over a message learns: enough to forward, cache and age it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    pub question: Option<QuestionRef>,
    pub opt: Option<OptRef>,
    /// Smallest TTL over all records except OPT; `None` when there are none.
    pub min_ttl: Option<u32>,
    /// Offset just after the last record: bytes beyond it are trailing garbage.
    pub end: usize,
    /// Records in the answer section whose type is the question's or CNAME/DNAME.
    pub answer_records: u16,
    /// SOA in the authority section: (its TTL, its MINIMUM field), for RFC 2308 negative caching.
    pub soa: Option<(u32, u32)>,
}

impl<'a> MessageView<'a> {
    pub fn new(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::truncated(
                0,
                "a 12-byte header",
                HEADER_LEN,
                buf.len(),
            ));
        }
        Ok(MessageView { buf })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.buf[at], self.buf[at + 1]])
    }

    pub fn id(&self) -> u16 {
        self.u16_at(0)
    }
    pub fn flags(&self) -> u16 {
        self.u16_at(2)
    }
    pub fn is_response(&self) -> bool {
        self.flags() & flags::QR != 0
    }
    pub fn opcode(&self) -> Opcode {
        Opcode(((self.flags() >> 11) & 0xf) as u8)
    }
    pub fn truncated(&self) -> bool {
        self.flags() & flags::TC != 0
    }
    pub fn recursion_desired(&self) -> bool {
        self.flags() & flags::RD != 0
    }
    pub fn checking_disabled(&self) -> bool {
        self.flags() & flags::CD != 0
    }
    /// The header's 4-bit RCODE (without the EDNS extension).
    pub fn header_rcode(&self) -> u8 {
        (self.flags() & 0xf) as u8
    }
    pub fn qdcount(&self) -> u16 {
        self.u16_at(4)
    }
    pub fn ancount(&self) -> u16 {
        self.u16_at(6)
    }
    pub fn nscount(&self) -> u16 {
        self.u16_at(8)
    }
    pub fn arcount(&self) -> u16 {
        self.u16_at(10)
    }

    /// The first question, if the header announces one.
    pub fn question(&self) -> Result<Option<QuestionRef>, WireError> {
        if self.qdcount() == 0 {
            return Ok(None);
        }
        read_question(self.buf, HEADER_LEN).map(Some)
    }

    /// Iterates over every record of the answer, authority and additional sections.
    pub fn records(&self) -> Records<'a> {
        Records {
            buf: self.buf,
            pos: HEADER_LEN,
            questions_left: self.qdcount(),
            counts: [self.ancount(), self.nscount(), self.arcount()],
            section: 0,
            failed: false,
        }
    }

    /// One pass over the whole message.
    pub fn scan(&self) -> Result<Scan, WireError> {
        let question = self.question()?;
        let mut scan = Scan {
            question,
            opt: None,
            min_ttl: None,
            end: question.map_or(HEADER_LEN, |q| q.end),
            answer_records: 0,
            soa: None,
        };
        let mut records = self.records();
        for r in &mut records {
            let r = r?;
            scan.end = r.end();
            if r.rtype == RType::OPT {
                if r.section != Section::Additional {
                    return Err(WireError::new(r.offset, ErrorKind::OptOutsideAdditional));
                }
                if let Some(first) = &scan.opt {
                    return Err(WireError::new(
                        r.offset,
                        ErrorKind::DuplicateOpt {
                            first: first.offset,
                        },
                    ));
                }
                if self.buf[r.offset] != 0 {
                    return Err(WireError::new(r.offset, ErrorKind::OptOwnerNotRoot));
                }
                scan.opt = Some(OptRef::from_record(&r));
                continue;
            }
            scan.min_ttl = Some(scan.min_ttl.map_or(r.ttl, |m| m.min(r.ttl)));
            match r.section {
                Section::Answer => {
                    let wanted = question.map(|q| q.qtype);
                    if Some(r.rtype) == wanted
                        || wanted == Some(RType::ANY)
                        || r.rtype == RType::CNAME
                        || r.rtype == RType::DNAME
                    {
                        scan.answer_records += 1;
                    }
                }
                Section::Authority if r.rtype == RType::SOA && scan.soa.is_none() => {
                    scan.soa = soa_minimum(self.buf, &r).map(|min| (r.ttl, min));
                }
                _ => {}
            }
        }
        if scan.question.is_none() {
            scan.end = scan.end.max(records.pos);
        }
        Ok(scan)
    }

    /// Whether both messages ask the same first question (name compared case-insensitively).
    pub fn same_question(&self, other: &MessageView<'_>) -> Result<bool, WireError> {
        let (Some(a), Some(b)) = (self.question()?, other.question()?) else {
            return Ok(false);
        };
        if a.qtype != b.qtype || a.qclass != b.qclass {
            return Ok(false);
        }
        let mut x = [0u8; MAX_NAME_LEN];
        let mut y = [0u8; MAX_NAME_LEN];
        let lx = lowercase_name(self.buf, a.name_start, &mut x)?;
        let ly = lowercase_name(other.buf, b.name_start, &mut y)?;
        Ok(x[..lx] == y[..ly])
    }
}

/// The SOA MINIMUM field (last 4 bytes of its RDATA), if the RDATA holds two names and 20 bytes.
fn soa_minimum(buf: &[u8], r: &RecordRef) -> Option<u32> {
    let after_names = skip_name(buf, skip_name(buf, r.rdata.start).ok()?).ok()?;
    if after_names + 20 != r.rdata.end {
        return None;
    }
    let m = &buf[r.rdata.end - 4..r.rdata.end];
    Some(u32::from_be_bytes([m[0], m[1], m[2], m[3]]))
}

/// Copies the name at `start`, lowercased and uncompressed, into `out`; returns its length.
/// A cache key is built this way without allocating.
pub fn lowercase_name(buf: &[u8], start: usize, out: &mut [u8]) -> Result<usize, WireError> {
    debug_assert!(out.len() >= MAX_NAME_LEN);
    let mut len = 0;
    walk_name(buf, start, |step, _| {
        if let Step::Label { label, .. } = step {
            out[len] = label.len() as u8;
            for (d, s) in out[len + 1..len + 1 + label.len()].iter_mut().zip(label) {
                *d = s.to_ascii_lowercase();
            }
            len += 1 + label.len();
        }
    })?;
    Ok(len)
}

fn read_u16(buf: &[u8], at: usize, what: &'static str) -> Result<u16, WireError> {
    match buf.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(WireError::truncated(at, what, 2, buf.len())),
    }
}

fn read_question(buf: &[u8], start: usize) -> Result<QuestionRef, WireError> {
    let name_end = skip_name(buf, start)?;
    let qtype = read_u16(buf, name_end, "a 2-byte QTYPE")?;
    let qclass = read_u16(buf, name_end + 2, "a 2-byte QCLASS")?;
    Ok(QuestionRef {
        name_start: start,
        name_end,
        qtype: RType(qtype),
        qclass: Class(qclass),
        end: name_end + 4,
    })
}

/// Reads the record at `start`: owner, fixed fields and RDATA bounds.
pub fn read_record(buf: &[u8], start: usize, section: Section) -> Result<RecordRef, WireError> {
    let name_end = skip_name(buf, start)?;
    let Some(fixed) = buf.get(name_end..name_end + 10) else {
        return Err(WireError::truncated(
            name_end,
            "TYPE, CLASS, TTL and RDLENGTH",
            10,
            buf.len(),
        ));
    };
    let rtype = RType(u16::from_be_bytes([fixed[0], fixed[1]]));
    let class = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata_start = name_end + 10;
    if rdata_start + rdlen > buf.len() {
        return Err(WireError::truncated(
            rdata_start,
            "RDATA of RDLENGTH bytes",
            rdlen,
            buf.len(),
        ));
    }
    Ok(RecordRef {
        section,
        offset: start,
        rtype,
        class,
        ttl,
        ttl_offset: name_end + 4,
        rdata: rdata_start..rdata_start + rdlen,
    })
}

/// Iterator over records; stops after the first error.
#[derive(Debug)]
pub struct Records<'a> {
    buf: &'a [u8],
    pos: usize,
    questions_left: u16,
    counts: [u16; 3],
    section: usize,
    failed: bool,
}

impl Records<'_> {
    /// Offset the iterator has reached.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Iterator for Records<'_> {
    type Item = Result<RecordRef, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        while self.questions_left > 0 {
            match read_question(self.buf, self.pos) {
                Ok(q) => self.pos = q.end,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
            self.questions_left -= 1;
        }
        while self.section < 3 && self.counts[self.section] == 0 {
            self.section += 1;
        }
        if self.section == 3 {
            return None;
        }
        self.counts[self.section] -= 1;
        let section = [Section::Answer, Section::Authority, Section::Additional][self.section];
        match read_record(self.buf, self.pos, section) {
            Ok(r) => {
                self.pos = r.end();
                Some(Ok(r))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn scans_the_seed_answer() {
        let seed = hex(include_str!("../../tests/data/seed000-compressed.hex"));
        let v = MessageView::new(&seed).unwrap();
        assert_eq!(v.id(), 30973);
        let s = v.scan().unwrap();
        assert_eq!(s.answer_records, 20);
        assert_eq!(s.min_ttl, Some(60));
        assert_eq!(s.end, seed.len());
        assert_eq!(v.records().count(), 20);
        let q = s.question.unwrap();
        assert_eq!(q.qtype, RType::A);
        assert_eq!((q.name_start, q.name_end), (12, 34));
        let un = hex(include_str!("../../tests/data/seed000-uncompressed.hex"));
        let u = MessageView::new(&un).unwrap();
        assert!(u.same_question(&v).unwrap());
        assert_eq!(u.scan().unwrap().end, 758);
    }

    #[test]
    fn short_header_and_counts_beyond_data() {
        assert!(MessageView::new(&[0; 11]).is_err());
        let mut m = vec![0u8; 12];
        m[7] = 1; // ANCOUNT 1, no record
        let e = MessageView::new(&m).unwrap().scan().unwrap_err();
        assert_eq!(e.offset, 12);
    }
}
