//! Builders for the messages the forwarder writes itself: queries, OPT records with an optional
//! Extended DNS Error (RFC 8914), and answers started from a client's query (error RCODEs,
//! SERVFAIL with an EDE). They write bytes directly rather than encode a typed [`Message`]
//! because they are on the per-packet path; every DNS byte the engine and the cache write comes
//! from here (or from [`crate::wire::Encoder`]).
//!
//! [`Message`]: crate::wire::Message

use crate::wire::types::{OptCode, RType, Rcode};
use crate::wire::view::{flags, MessageView, HEADER_LEN};

/// The longest EDE text written (bytes): keeps a SERVFAIL well under 512 bytes.
pub const MAX_EDE_TEXT: usize = 400;

/// An OPT pseudo-record to write (RFC 6891 6.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opt<'a> {
    pub udp_size: u16,
    pub dnssec_ok: bool,
    /// The upper 8 bits of a 12-bit RCODE.
    pub ext_rcode: u8,
    /// An Extended DNS Error: code and text.
    pub ede: Option<(u16, &'a str)>,
}

impl Opt<'_> {
    /// A plain OPT: this payload size, DO as given, no options.
    pub fn new(udp_size: u16, dnssec_ok: bool) -> Opt<'static> {
        Opt {
            udp_size,
            dnssec_ok,
            ext_rcode: 0,
            ede: None,
        }
    }
}

/// Appends `opt` to the message that starts at `start` in `out` and bumps its ARCOUNT.
impl Opt<'_> {
    /// Bytes [`append_opt`] writes for it.
    pub fn wire_len(&self) -> usize {
        11 + self
            .ede
            .map_or(0, |(_, text)| 6 + text.len().min(MAX_EDE_TEXT))
    }
}

pub fn append_opt(out: &mut Vec<u8>, start: usize, opt: &Opt<'_>) {
    out.push(0);
    out.extend_from_slice(&RType::OPT.0.to_be_bytes());
    out.extend_from_slice(&opt.udp_size.to_be_bytes());
    out.push(opt.ext_rcode);
    out.push(0);
    out.extend_from_slice(&(if opt.dnssec_ok { 0x8000u16 } else { 0 }).to_be_bytes());
    match opt.ede {
        Some((code, text)) => {
            let text = &text.as_bytes()[..text.len().min(MAX_EDE_TEXT)];
            let data = 2 + text.len();
            out.extend_from_slice(&((4 + data) as u16).to_be_bytes());
            out.extend_from_slice(&OptCode::EXTENDED_ERROR.0.to_be_bytes());
            out.extend_from_slice(&(data as u16).to_be_bytes());
            out.extend_from_slice(&code.to_be_bytes());
            out.extend_from_slice(text);
        }
        None => out.extend_from_slice(&[0, 0]),
    }
    if let Some(ar) = out.get_mut(start + 10..start + 12) {
        let n = u16::from_be_bytes([ar[0], ar[1]]).wrapping_add(1);
        ar.copy_from_slice(&n.to_be_bytes());
    }
}

/// Adds an option to the OPT record that starts at `opt_start` in `out` and ends `out` (as
/// [`append_opt`] leaves it): the option goes at the end and the OPT's RDLENGTH grows.
pub fn push_option(out: &mut Vec<u8>, opt_start: usize, code: u16, data: &[u8]) {
    let Ok(len) = u16::try_from(data.len()) else {
        return;
    };
    let Some(rdlen) = out.get(opt_start + 9..opt_start + 11) else {
        return;
    };
    let grown = u16::from_be_bytes([rdlen[0], rdlen[1]]).saturating_add(4 + len);
    out[opt_start + 9..opt_start + 11].copy_from_slice(&grown.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
}

/// A query: `id`, RD set, CD as given, one question (`question`: the name in wire form, then
/// type and class), and an OPT when given.
pub fn query(id: u16, checking_disabled: bool, question: &[u8], opt: Option<&Opt<'_>>) -> Vec<u8> {
    let mut q = Vec::with_capacity(HEADER_LEN + question.len() + 11);
    q.extend_from_slice(&id.to_be_bytes());
    let f = flags::RD | if checking_disabled { flags::CD } else { 0 };
    q.extend_from_slice(&f.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(question);
    if let Some(o) = opt {
        append_opt(&mut q, 0, o);
    }
    q
}

/// Where the question of a message ends, when it has exactly one that decodes.
pub fn question_end(msg: &[u8]) -> Option<usize> {
    MessageView::new(msg)
        .ok()
        .and_then(|v| v.question().ok().flatten())
        .map(|q| q.end)
}

/// A query's header and question, with the counts saying so: all a client waiting for an
/// answer needs kept.
pub fn header_and_question(query: &[u8], q_end: usize) -> Vec<u8> {
    let mut q = query[..q_end.min(query.len())].to_vec();
    if q.len() >= HEADER_LEN {
        q[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    }
    q
}

/// The header of an answer to `query` (at least 12 bytes): its ID, opcode, RD and CD; QR and RA
/// set; the low 4 bits of `rcode`; QDCOUNT 1 when `with_question`, other counts 0.
fn answer_header(query: &[u8], rcode: Rcode, with_question: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(&query[..2]);
    let qf = u16::from_be_bytes([query[2], query[3]]);
    let f = flags::QR | (qf & (0x7800 | flags::RD | flags::CD)) | flags::RA | (rcode.0 & 0xf);
    out.extend_from_slice(&f.to_be_bytes());
    out.extend_from_slice(&[0, u8::from(with_question), 0, 0, 0, 0, 0, 0]);
}

/// An answer with `rcode` and no records to `query` (empty when the query has no full header):
/// the question is echoed unless the query is malformed or the RCODE is FORMERR, and an OPT is
/// added when the query had one or the RCODE needs the EDNS extension. Runtimes use it to
/// REFUSE clients outside the ACL or over a limit.
pub fn rcode_answer(query: &[u8], rcode: Rcode, udp_size: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    if query.len() < HEADER_LEN {
        return out;
    }
    let end = question_end(query).filter(|_| rcode != Rcode::FORMERR);
    answer_header(query, rcode, end.is_some(), &mut out);
    if let Some(end) = end {
        out.extend_from_slice(&query[HEADER_LEN..end]);
    }
    let has_opt = MessageView::new(query)
        .ok()
        .and_then(|v| v.scan().ok())
        .is_some_and(|s| s.opt.is_some());
    if has_opt || rcode.0 > 15 {
        let opt = Opt {
            ext_rcode: (rcode.0 >> 4) as u8,
            ..Opt::new(udp_size, false)
        };
        append_opt(&mut out, 0, &opt);
    }
    out
}

/// SERVFAIL for a query (its header and question), with an EDE when the client speaks EDNS
/// (`opt`: the OPT its answers carry, whose `ede` this sets).
pub fn servfail(query: &[u8], opt: Option<Opt<'_>>, ede_code: u16, text: &str) -> Vec<u8> {
    let mut head = query[..query.len().min(HEADER_LEN)].to_vec();
    head.resize(HEADER_LEN, 0);
    let end = question_end(query);
    let mut out = Vec::with_capacity(end.unwrap_or(HEADER_LEN) + 64);
    answer_header(&head, Rcode::SERVFAIL, end.is_some(), &mut out);
    if let Some(end) = end {
        out.extend_from_slice(&query[HEADER_LEN..end]);
    }
    if let Some(o) = opt {
        let o = Opt {
            ede: Some((ede_code, text)),
            ..o
        };
        append_opt(&mut out, 0, &o);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EdnsOption, Message, Name};

    fn q(edns: bool) -> Vec<u8> {
        let name: Name = "www.example.".parse().unwrap_or_else(|_| Name::root());
        let mut question = name.as_wire().to_vec();
        question.extend_from_slice(&[0, 1, 0, 1]);
        let opt = Opt::new(1232, true);
        query(0x1234, true, &question, edns.then_some(&opt))
    }

    #[test]
    fn query_decodes_with_its_fields() {
        let m = Message::from_wire(&q(true)).unwrap_or_default();
        assert_eq!(m.header.id, 0x1234);
        assert!(m.header.rd && m.header.cd && !m.header.qr);
        assert_eq!(m.questions.len(), 1);
        assert_eq!(m.questions[0].name.to_string(), "www.example.");
        let e = m.edns.unwrap_or_else(|| crate::wire::Edns::new(0));
        assert_eq!((e.udp_size, e.dnssec_ok), (1232, true));
    }

    #[test]
    fn servfail_carries_the_ede_and_the_question() {
        let a = servfail(
            &q(true),
            Some(Opt::new(1232, false)),
            22,
            "no reachable authority",
        );
        let m = Message::from_wire(&a).unwrap_or_default();
        assert_eq!(m.rcode(), Rcode::SERVFAIL);
        assert!(m.header.qr && m.header.ra && m.header.rd && m.header.cd);
        assert_eq!(m.header.id, 0x1234);
        assert_eq!(m.questions.len(), 1);
        let opts = m.edns.map(|e| e.options).unwrap_or_default();
        assert!(
            matches!(&opts[..], [EdnsOption::ExtendedError { code: 22, text }] if text == "no reachable authority")
        );
        // Without the client's OPT: no OPT, no EDE.
        let b = servfail(&q(false), None, 22, "x");
        assert!(Message::from_wire(&b).unwrap_or_default().edns.is_none());
        // EDE text is bounded.
        let long = "x".repeat(5000);
        assert!(servfail(&q(true), Some(Opt::new(1232, false)), 0, &long).len() < 512);
    }

    #[test]
    fn rcode_answers() {
        let r = rcode_answer(&q(true), Rcode::REFUSED, 1232);
        let m = Message::from_wire(&r).unwrap_or_default();
        assert_eq!((m.rcode(), m.questions.len()), (Rcode::REFUSED, 1));
        assert!(m.edns.is_some());
        // FORMERR does not echo the question; BADVERS needs the extended RCODE.
        let f =
            Message::from_wire(&rcode_answer(&q(false), Rcode::FORMERR, 1232)).unwrap_or_default();
        assert_eq!((f.rcode(), f.questions.len()), (Rcode::FORMERR, 0));
        let b =
            Message::from_wire(&rcode_answer(&q(false), Rcode::BADVERS, 1232)).unwrap_or_default();
        assert_eq!(b.rcode(), Rcode::BADVERS);
        assert!(rcode_answer(&[0; 5], Rcode::REFUSED, 1232).is_empty());
    }
}
