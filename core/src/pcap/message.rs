//! One DNS message of a capture as a table row: time, ends, transport, header, question, size
//! and what is wrong with it. Read with the zero-copy `MessageView` (the full decode only for
//! what needs it), because a capture holds millions of them.

use crate::wire::name::read_name;
use crate::wire::view::{flags, MessageView};
use crate::wire::{Opcode, RType, Rcode};

use super::net::{DnsPayload, Transport};

/// One DNS message found in a capture.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CaptureMessage {
    /// 1-based position among the DNS messages of the capture.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub index: u64,
    /// The frame (1-based, as Wireshark counts) that completed the message.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub frame: u64,
    /// Byte offset of that frame's record in the file.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub offset: u64,
    /// Seconds since the Unix epoch (microsecond precision).
    pub time: f64,
    pub src: String,
    pub dst: String,
    pub transport: Transport,
    pub id: u16,
    pub response: bool,
    pub opcode: String,
    /// The first question's name and type, when there is one.
    pub name: Option<String>,
    pub qtype: Option<String>,
    /// The RCODE (extended by OPT when present).
    pub rcode: String,
    /// Header flags set, lowercase as dig shows them (`qr aa tc rd ra ad cd`).
    pub flags: String,
    pub size: usize,
    pub answers: u16,
    /// The OPT record's UDP payload size, when the message has OPT.
    pub edns: Option<u16>,
    /// Milliseconds from the matching query, on responses whose query is in the capture.
    pub latency_ms: Option<f64>,
    /// The message does not decode: what and where (offset from the message's first byte).
    pub error: Option<String>,
    pub warnings: Vec<String>,
}

/// What the report needs from one message, before the row is written.
#[derive(Clone, Debug)]
pub(crate) struct Facts {
    pub id: u16,
    pub response: bool,
    pub opcode: Opcode,
    pub rcode: Rcode,
    pub tc: bool,
    pub qtype: Option<RType>,
    /// The question name lowercased in wire form (for keys); empty without a question.
    pub qname_key: Vec<u8>,
    pub name: Option<String>,
    pub edns: Option<u16>,
    pub answers: u16,
    /// Answer records matching the question (or CNAME/DNAME).
    pub answer_records: u16,
    /// (TTL, MINIMUM) of an SOA in the authority section.
    pub soa: Option<(u32, u32)>,
    /// Whether the authority section has NS records (a referral when there is no answer).
    pub authority_ns: bool,
    /// Some record owner in the answer or authority section is written out in full although a
    /// pointer could have been used: worth recompressing to measure.
    pub maybe_uncompressed: bool,
    pub error: Option<String>,
}

impl Facts {
    /// Reads what the report and the row need, without allocating more than the name.
    pub fn read(bytes: &[u8]) -> Facts {
        let mut f = Facts {
            id: 0,
            response: false,
            opcode: Opcode(0),
            rcode: Rcode(0),
            tc: false,
            qtype: None,
            qname_key: Vec::new(),
            name: None,
            edns: None,
            answers: 0,
            answer_records: 0,
            soa: None,
            authority_ns: false,
            maybe_uncompressed: false,
            error: None,
        };
        let view = match MessageView::new(bytes) {
            Ok(v) => v,
            Err(e) => {
                f.error = Some(e.to_string());
                return f;
            }
        };
        f.id = view.id();
        f.response = view.is_response();
        f.opcode = view.opcode();
        f.tc = view.truncated();
        f.answers = view.ancount();
        let mut rcode = u16::from(view.header_rcode());
        match view.scan() {
            Ok(scan) => {
                if let Some(q) = scan.question {
                    f.qtype = Some(q.qtype);
                    let mut lower = [0u8; crate::wire::name::MAX_NAME_LEN];
                    if let Ok(n) =
                        crate::wire::view::lowercase_name(bytes, q.name_start, &mut lower)
                    {
                        f.qname_key = lower[..n].to_vec();
                    }
                    if let Ok((name, _)) = read_name(bytes, q.name_start) {
                        f.name = Some(name.to_string());
                    }
                }
                if let Some(opt) = &scan.opt {
                    f.edns = Some(opt.udp_size);
                    rcode |= u16::from(opt.ext_rcode) << 4;
                }
                f.answer_records = scan.answer_records;
                f.soa = scan.soa;
                if f.response && view.ancount() + view.nscount() + view.arcount() >= 2 {
                    for r in view.records().flatten() {
                        if matches!(
                            r.section,
                            crate::wire::Section::Answer | crate::wire::Section::Authority
                        ) {
                            let first = bytes[r.offset];
                            if first != 0 && first & 0xc0 != 0xc0 {
                                f.maybe_uncompressed = true;
                            }
                            if r.section == crate::wire::Section::Authority && r.rtype == RType::NS
                            {
                                f.authority_ns = true;
                            }
                        }
                    }
                } else if f.response && view.nscount() > 0 {
                    f.authority_ns = view.records().flatten().any(|r| {
                        r.section == crate::wire::Section::Authority && r.rtype == RType::NS
                    });
                }
            }
            Err(e) => {
                f.error = Some(e.to_string());
                // Keep the question when only a later part is broken.
                if let Ok(Some(q)) = view.question() {
                    f.qtype = Some(q.qtype);
                    let mut lower = [0u8; crate::wire::name::MAX_NAME_LEN];
                    if let Ok(n) =
                        crate::wire::view::lowercase_name(bytes, q.name_start, &mut lower)
                    {
                        f.qname_key = lower[..n].to_vec();
                    }
                    if let Ok((name, _)) = read_name(bytes, q.name_start) {
                        f.name = Some(name.to_string());
                    }
                }
            }
        }
        f.rcode = Rcode(rcode);
        f
    }

    /// NXDOMAIN, NODATA or SERVFAIL: what a negative cache would keep instead of an answer.
    pub fn negative_kind(&self) -> Option<&'static str> {
        if !self.response || self.tc || self.error.is_some() || self.opcode != Opcode::QUERY {
            return None;
        }
        match self.rcode {
            Rcode::NXDOMAIN => Some("NXDOMAIN"),
            Rcode::SERVFAIL => Some("SERVFAIL"),
            Rcode::NOERROR
                if self.answer_records == 0 && (self.soa.is_some() || !self.authority_ns) =>
            {
                Some("NODATA")
            }
            _ => None,
        }
    }

    /// A usable answer: NOERROR with records for the question.
    pub fn positive(&self) -> bool {
        self.response
            && !self.tc
            && self.error.is_none()
            && self.rcode == Rcode::NOERROR
            && self.answer_records > 0
    }
}

pub(crate) fn flag_text(bytes: &[u8]) -> String {
    let Some(w) = bytes.get(2..4) else {
        return String::new();
    };
    let f = u16::from_be_bytes([w[0], w[1]]);
    let mut s = String::new();
    for (bit, name) in [
        (flags::QR, "qr"),
        (flags::AA, "aa"),
        (flags::TC, "tc"),
        (flags::RD, "rd"),
        (flags::RA, "ra"),
        (flags::AD, "ad"),
        (flags::CD, "cd"),
    ] {
        if f & bit != 0 {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(name);
        }
    }
    s
}

pub(crate) fn row(index: u64, p: &DnsPayload<'_>, f: &Facts) -> CaptureMessage {
    CaptureMessage {
        index,
        frame: p.frame,
        offset: p.offset,
        time: (p.time_ns / 1000) as f64 / 1e6,
        src: p.src.to_string(),
        dst: p.dst.to_string(),
        transport: p.transport,
        id: f.id,
        response: f.response,
        opcode: f.opcode.to_string(),
        name: f.name.clone(),
        qtype: f.qtype.map(|t| t.to_string()),
        rcode: f.rcode.to_string(),
        flags: flag_text(p.bytes),
        size: p.bytes.len(),
        answers: f.answers,
        edns: f.edns,
        latency_ms: None,
        error: f.error.clone(),
        warnings: Vec::new(),
    }
}

/// The row as one line of text: time, ends, transport, ID, question, RCODE, flags, size,
/// warnings.
pub fn line(m: &CaptureMessage) -> String {
    use core::fmt::Write;
    let mut s = String::with_capacity(160);
    let _ = write!(
        s,
        "{:.6} {} > {} {} {:5} {}",
        m.time,
        m.src,
        m.dst,
        m.transport.as_str(),
        m.id,
        if m.response { "R" } else { "Q" },
    );
    if m.opcode != "QUERY" {
        let _ = write!(s, " {}", m.opcode);
    }
    match (&m.name, &m.qtype) {
        (Some(n), Some(t)) => {
            let _ = write!(s, " {n} {t}");
        }
        _ => s.push_str(" (no question)"),
    }
    if m.response {
        let _ = write!(s, " {} an={}", m.rcode, m.answers);
    }
    let _ = write!(s, " [{}] {} B", m.flags, m.size);
    if let Some(e) = m.edns {
        let _ = write!(s, " edns={e}");
    }
    if let Some(l) = m.latency_ms {
        let _ = write!(s, " {l:.3} ms");
    }
    if let Some(e) = &m.error {
        let _ = write!(s, " ERROR: {e}");
    }
    for w in &m.warnings {
        let _ = write!(s, " ! {w}");
    }
    s
}
