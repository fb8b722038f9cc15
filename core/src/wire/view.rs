//! The zero-copy view: walks a message in place without allocating. This is what the forwarder
//! runs on every packet; the analyzer's full decode lives in `message`.

use core::ops::Range;

use super::error::{ErrorKind, WireError};
use super::name::{
    owner_fast, skip_name, skip_name_fast, skip_name_walk, walk_name, Seen, Step, MAX_NAME_LEN,
};
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
            seen: Seen::new(),
        }
    }

    /// One pass over the whole message. Inlined: the result is built where the caller keeps
    /// it (a query's check on the hit path), not copied out.
    #[inline]
    pub fn scan(&self) -> Result<Scan, WireError> {
        match scan_fast(self.buf) {
            Some(scan) => Ok(scan),
            None => self.scan_checked(),
        }
    }

    /// [`MessageView::scan`] step by step, reporting the first error. `scan` runs this only when
    /// its fast path found something wrong or unusual.
    #[cold]
    #[inline(never)]
    pub(crate) fn scan_checked(&self) -> Result<Scan, WireError> {
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
                scan.opt = Some(OptRef {
                    offset: r.offset,
                    udp_size: r.class,
                    ext_rcode: (r.ttl >> 24) as u8,
                    version: (r.ttl >> 16) as u8,
                    dnssec_ok: r.ttl & 0x8000 != 0,
                    rdata: r.rdata.clone(),
                });
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
                    scan.soa = soa_minimum(self.buf, r.rdata.clone()).map(|min| (r.ttl, min));
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

/// The fast path of [`MessageView::scan`]: the same result for a message it accepts; `None` for
/// any error and for the unusual (then `scan_checked` runs). It keeps few values live, reports
/// no error and stops at compression pointers to names it already checked.
#[inline(always)]
fn scan_fast(buf: &[u8]) -> Option<Scan> {
    let header = buf.first_chunk::<HEADER_LEN>()?;
    let count = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    let mut seen = Seen::new();
    let mut pos = HEADER_LEN;
    let mut question = None;
    if qd > 0 {
        let q = question_fast(buf, pos, &mut seen)?;
        question = Some(q);
        pos = q.end;
        for _ in 1..qd {
            pos = question_fast(buf, pos, &mut seen)?.end;
        }
    }
    // The last owner, when entirely in place (see owner_fast).
    let mut prev: &[u8] = &[];
    // A record's type counts as an answer when it equals `wanted` (0x1_0000: no question).
    let wanted = question.map_or(0x1_0000, |q| u32::from(q.qtype.0));
    let mut min_ttl = u64::MAX;
    let mut answer_records = 0u16;
    if wanted == u32::from(RType::ANY.0) {
        for _ in 0..an {
            let r = record_fast(buf, &mut pos, &mut seen, &mut prev)?;
            if r.rtype == RType::OPT.0 {
                return None;
            }
            min_ttl = min_ttl.min(u64::from(r.ttl));
        }
        answer_records = an;
    } else {
        for _ in 0..an {
            let r = record_fast(buf, &mut pos, &mut seen, &mut prev)?;
            if r.rtype == RType::OPT.0 {
                return None;
            }
            min_ttl = min_ttl.min(u64::from(r.ttl));
            if u32::from(r.rtype) == wanted
                || r.rtype == RType::CNAME.0
                || r.rtype == RType::DNAME.0
            {
                answer_records += 1;
            }
        }
    }
    let mut soa = None;
    for _ in 0..ns {
        let r = record_fast(buf, &mut pos, &mut seen, &mut prev)?;
        if r.rtype == RType::OPT.0 {
            return None;
        }
        min_ttl = min_ttl.min(u64::from(r.ttl));
        if r.rtype == RType::SOA.0 && soa.is_none() {
            soa = soa_minimum(buf, r.rdata_start..pos).map(|min| (r.ttl, min));
        }
    }
    let mut opt = None;
    for _ in 0..ar {
        let start = pos;
        let r = record_fast(buf, &mut pos, &mut seen, &mut prev)?;
        if r.rtype == RType::OPT.0 {
            if opt.is_some() || buf[start] != 0 {
                return None;
            }
            opt = Some(OptRef {
                offset: start,
                udp_size: r.class,
                ext_rcode: (r.ttl >> 24) as u8,
                version: (r.ttl >> 16) as u8,
                dnssec_ok: r.ttl & 0x8000 != 0,
                rdata: r.rdata_start..pos,
            });
            continue;
        }
        min_ttl = min_ttl.min(u64::from(r.ttl));
    }
    let records = an != 0 || ns != 0 || ar != 0;
    Some(Scan {
        question,
        opt,
        min_ttl: u32::try_from(min_ttl).ok(),
        end: match question {
            Some(q) if !records => q.end,
            _ => pos,
        },
        answer_records,
        soa,
    })
}

#[inline(always)]
fn question_fast(buf: &[u8], start: usize, seen: &mut Seen) -> Option<QuestionRef> {
    let name_end = skip_name_fast::<true>(buf, start, seen)?;
    let f = buf.get(name_end..)?.first_chunk::<4>()?;
    Some(QuestionRef {
        name_start: start,
        name_end,
        qtype: RType(u16::from_be_bytes([f[0], f[1]])),
        qclass: Class(u16::from_be_bytes([f[2], f[3]])),
        end: name_end + 4,
    })
}

/// A record's fixed fields as [`scan_fast`] needs them.
struct ScannedRecord {
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata_start: usize,
}

/// Reads the record at `*pos` and moves `*pos` past it; `None` if it is not valid.
#[inline(always)]
fn record_fast<'a>(
    buf: &'a [u8],
    pos: &mut usize,
    seen: &mut Seen,
    prev: &mut &'a [u8],
) -> Option<ScannedRecord> {
    let (name_end, _) = owner_fast(buf, *pos, seen, prev, &mut ())?;
    let rdata_start = name_end + 10;
    if rdata_start > buf.len() {
        return None;
    }
    let fixed = &buf[name_end..rdata_start];
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    if rdlen > buf.len() - rdata_start {
        return None;
    }
    *pos = rdata_start + rdlen;
    Some(ScannedRecord {
        rtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        class: u16::from_be_bytes([fixed[2], fixed[3]]),
        ttl: record_ttl(
            RType(u16::from_be_bytes([fixed[0], fixed[1]])),
            u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        ),
        rdata_start,
    })
}

/// A record's TTL as RFC 2181 8 reads it: a value with the most significant bit set counts as 0.
/// OPT's TTL field is flags, not a TTL, and is kept as it is.
#[inline(always)]
pub fn record_ttl(rtype: RType, raw: u32) -> u32 {
    if raw > i32::MAX as u32 && rtype != RType::OPT {
        0
    } else {
        raw
    }
}

/// The SOA MINIMUM field (last 4 bytes of its RDATA), if the RDATA holds two names and 20 bytes.
fn soa_minimum(buf: &[u8], rdata: Range<usize>) -> Option<u32> {
    let after_names = skip_name(buf, skip_name(buf, rdata.start).ok()?).ok()?;
    if after_names + 20 != rdata.end {
        return None;
    }
    let m = &buf[rdata.end - 4..rdata.end];
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

/// [`skip_name`], stopping at pointers to names remembered in `seen` (the question too, when
/// `REMEMBER`).
#[inline]
fn skip_seen<const REMEMBER: bool>(
    buf: &[u8],
    start: usize,
    seen: &mut Seen,
) -> Result<usize, WireError> {
    match skip_name_fast::<REMEMBER>(buf, start, seen) {
        Some(end) => Ok(end),
        None => skip_name_walk(buf, start),
    }
}

fn read_question(buf: &[u8], start: usize) -> Result<QuestionRef, WireError> {
    read_question_at(buf, start, &mut Seen::new())
}

fn read_question_at(buf: &[u8], start: usize, seen: &mut Seen) -> Result<QuestionRef, WireError> {
    let name_end = skip_seen::<true>(buf, start, seen)?;
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
    read_record_at(buf, start, section, &mut Seen::new())
}

fn read_record_at(
    buf: &[u8],
    start: usize,
    section: Section,
    seen: &mut Seen,
) -> Result<RecordRef, WireError> {
    let name_end = skip_seen::<false>(buf, start, seen)?;
    let Some(fixed) = buf.get(name_end..name_end + 10) else {
        return Err(fixed_fields_truncated(buf, name_end));
    };
    let rtype = RType(u16::from_be_bytes([fixed[0], fixed[1]]));
    let class = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ttl = record_ttl(
        rtype,
        u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
    );
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata_start = name_end + 10;
    if rdata_start + rdlen > buf.len() {
        return Err(rdata_truncated(buf, rdata_start, rdlen));
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

#[cold]
fn fixed_fields_truncated(buf: &[u8], at: usize) -> WireError {
    WireError::truncated(at, "TYPE, CLASS, TTL and RDLENGTH", 10, buf.len())
}

#[cold]
fn rdata_truncated(buf: &[u8], at: usize, rdlen: usize) -> WireError {
    WireError::truncated(at, "RDATA of RDLENGTH bytes", rdlen, buf.len())
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
    /// Names checked so far, so that pointers to them are not followed again.
    seen: Seen,
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
            match read_question_at(self.buf, self.pos, &mut self.seen) {
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
        match read_record_at(self.buf, self.pos, section, &mut self.seen) {
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
