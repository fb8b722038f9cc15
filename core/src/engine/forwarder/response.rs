//! Upstream responses: binding a response to its transmit and accepting it only as an answer
//! to what was asked (RFC 5452), and counting what the upstream did wrong.

use super::*;

impl Forwarder {
    // -----------------------------------------------------------------------------------------
    // Upstream responses
    // -----------------------------------------------------------------------------------------

    /// An upstream message for the transmit `token`. It is accepted only if it answers that
    /// transmit (RFC 5452 9.1): the ID sent, QR=1, opcode QUERY, QDCOUNT=1 and the question sent
    /// (name case-insensitively, type, class). Anything else is dropped, counted by reason, and
    /// the attempt goes on waiting for the real answer.
    pub(super) fn on_response(
        &mut self,
        now: Duration,
        token: u64,
        transport: Transport,
        bytes: &[u8],
    ) {
        // The attempt in flight, or one that timed out while its transaction still waits.
        let found = self.outstanding.get(&token).and_then(|&(t, gen)| {
            let x = self.txns[t].as_ref().filter(|x| x.gen == gen)?;
            match x.current.filter(|s| s.token == token) {
                Some(s) => Some((t, s, false)),
                None => x
                    .earlier
                    .iter()
                    .find(|s| s.token == token)
                    .map(|&s| (t, s, true)),
            }
        });
        let Some((t, sent, late)) = found else {
            self.stats.drop_response(DropReason::Late);
            self.event(now, || EventKind::Dropped {
                upstream: String::from("?"),
                why: format!(
                    "{} B for no query in flight (late or unsolicited)",
                    bytes.len()
                ),
            });
            return;
        };
        let upstream = sent.upstream;
        let problem: Option<(DropReason, String)> = match MessageView::new(bytes) {
            Err(_) => Some((
                DropReason::Short,
                format!("{} bytes: no DNS header", bytes.len()),
            )),
            Ok(v) if v.id() != sent.id => Some((
                DropReason::WrongId,
                format!("ID {} is not the ID {} sent (RFC 5452)", v.id(), sent.id),
            )),
            Ok(v) if !v.is_response() => Some((
                DropReason::NotResponse,
                "QR=0: an echoed query, not a response".into(),
            )),
            Ok(v) if v.opcode() != Opcode::QUERY => Some((
                DropReason::Opcode,
                format!("opcode {} is not QUERY", v.opcode()),
            )),
            Ok(v) if v.qdcount() != 1 && !(v.qdcount() == 0 && bare_failure(&v)) => Some((
                DropReason::Qdcount,
                format!(
                    "QDCOUNT {}: an answer repeats the one question",
                    v.qdcount()
                ),
            )),
            Ok(v) => {
                let txn_q = self.txns[t].as_ref().map(|x| x.question.as_slice());
                let same = match (v.question(), txn_q) {
                    (Ok(Some(q)), Some(mine)) => {
                        v.bytes().get(q.name_start..q.end).is_some()
                            && question_matches(bytes, q.name_start, q.end, mine)
                    }
                    // A question that does not decode is a broken answer from the upstream
                    // asked, with its ID, on its socket: the fallback rules deal with it.
                    (Err(_), _) => true,
                    // No question (checked above: an error RCODE or TC, see `bare_failure`).
                    (Ok(None), _) => v.qdcount() == 0,
                    _ => false,
                };
                (!same).then(|| {
                    (
                        DropReason::Question,
                        "question does not match the query (RFC 5452)".to_string(),
                    )
                })
            }
        };
        if let Some((reason, why)) = problem {
            self.stats.drop_response(reason);
            self.upstreams.get_mut(upstream).counters.mismatched += 1;
            let l = self.upstreams.get(upstream).label.clone();
            self.event(now, || EventKind::Dropped { upstream: l, why });
            return;
        }
        self.release(&sent);
        if late {
            if let Some(x) = self.txns[t].as_mut() {
                x.earlier.retain(|s| s.token != token);
            }
        }
        // The one decode and the one encode of this answer: the encode (the cache's form,
        // compressed, without OPT, with its TTL offsets) serves the conformance check here
        // and the cache entry in `accept`.
        self.enc.clear();
        self.ttls.clear();
        let (outcome, msg) = match Message::from_wire(bytes) {
            Ok(m) => {
                // An answer the upstream compressed is kept as it came (OPT cut off), its TTL
                // offsets found by one walk; only one that was not is re-encoded.
                if !kept_as_sent(bytes, &mut self.enc, &mut self.ttls) {
                    self.enc.clear();
                    self.ttls.clear();
                    if m.encode_stored(&mut self.enc, &mut self.ttls).is_err() {
                        self.enc.clear();
                    }
                }
                (Outcome::from_response(m.rcode(), m.header.tc), Some(m))
            }
            Err(e) => (
                Outcome::Undecodable {
                    size: bytes.len(),
                    offset: e.offset,
                },
                None,
            ),
        };
        let needs_edns = self.txns[t]
            .as_ref()
            .is_some_and(|x| x.dnssec_ok || x.checking_disabled);
        let outcome = match (&msg, outcome) {
            (Some(m), Outcome::Answer | Outcome::Truncated)
                if sent.edns && needs_edns && m.edns.is_none() =>
            {
                self.stats.stripped_edns += 1;
                Outcome::EdnsStripped
            }
            (_, o) => o,
        };
        let rtt = now.saturating_sub(sent.at);
        if late && outcome != Outcome::Answer {
            // A late answer is used only when it is the answer: anything else (a failure, TC)
            // came after its attempt was already given up, and the one in flight decides.
            if self.cfg.events {
                let l = self.upstreams.get(upstream).label.clone();
                self.event(now, || EventKind::Dropped {
                    upstream: l,
                    why: format!("late reply to a timed-out attempt, not an answer: {outcome:?}"),
                });
            }
            return;
        }
        if late {
            // The attempt in flight is no longer needed: this answer ends the transaction.
            if let Some(c) = self.txns[t].as_mut().and_then(|x| x.current.take()) {
                self.release(&c);
            }
        }
        // Classified once, for the conformance counters and the cache.
        let kind = msg.as_ref().map(Message::classify);
        let classified = msg.as_ref().zip(kind);
        self.conformance(now, upstream, transport, sent, bytes, classified, outcome);
        if self.cfg.events {
            let l = self.upstreams.get(upstream).label.clone();
            let rcode = msg.as_ref().map(Message::rcode);
            let oc = match outcome {
                Outcome::Undecodable { offset, .. } => {
                    format!("does not decode at offset {offset}")
                }
                o => format!("{o:?}").to_lowercase(),
            };
            self.event(now, || EventKind::UpstreamResponse {
                upstream: l,
                transport,
                size: bytes.len(),
                rcode,
                rtt_ms: ms(rtt),
                outcome: oc,
            });
        }
        self.after_attempt(
            now,
            t,
            Sent { transport, ..sent },
            outcome,
            msg.zip(kind).map(|(m, k)| (m, bytes, k)),
        );
    }

    /// Counts what the upstream did wrong and says so.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn conformance(
        &mut self,
        now: Duration,
        up: UpstreamId,
        transport: Transport,
        sent: Sent,
        bytes: &[u8],
        msg: Option<(&Message, AnswerKind)>,
        outcome: Outcome,
    ) {
        let advertised = if sent.edns {
            usize::from(self.cfg.upstream_udp_payload)
        } else {
            512
        };
        let mut notes: Vec<String> = Vec::new();
        let c = &mut self.upstreams.get_mut(up).counters;
        c.answers += 1;
        if transport == Transport::Udp && bytes.len() > advertised {
            c.oversized += 1;
            notes.push(format!(
                "UDP answer of {} B is larger than the {advertised} B we advertised",
                bytes.len()
            ));
        }
        match outcome {
            Outcome::Undecodable { .. } => c.undecodable += 1,
            Outcome::ServFail => c.servfail += 1,
            Outcome::Truncated => c.truncated += 1,
            _ => {}
        }
        if let Some((m, kind)) = msg {
            if sent.edns && m.edns.is_none() && outcome != Outcome::ServFail {
                c.no_opt += 1;
                notes.push("answer without OPT to a query with OPT".into());
            }
            if !m.header.tc && kind.is_negative() && !m.has_soa() {
                c.negative_without_soa += 1;
                notes.push("negative answer without SOA (not cacheable, RFC 2308 5)".into());
            }
            // Uncompressed: only worth checking when there are several names. The length
            // compressed is the one encode's (made by the caller) plus the OPT.
            if m.answers.len() + m.authority.len() + m.additional.len() >= 2 && !self.enc.is_empty()
            {
                let comp = self.enc.len() + m.edns.as_ref().map_or(0, crate::wire::Edns::wire_len);
                if comp + 16 <= bytes.len() {
                    c.uncompressed += 1;
                    c.uncompressed_bytes_lost += (bytes.len() - comp) as u64;
                    notes.push(format!(
                        "answer of {} B is not compressed: {} B compressed",
                        bytes.len(),
                        comp
                    ));
                }
            }
        }
        if !notes.is_empty() && self.cfg.events {
            let label = self.upstreams.get(up).label.clone();
            for what in notes {
                let l = label.clone();
                self.event(now, || EventKind::Nonconforming { upstream: l, what });
            }
        }
    }
}

/// Whether a response without a question (QDCOUNT=0) from the socket and with the ID of a
/// query is still taken, as the failure it reports: an error RCODE (FORMERR, SERVFAIL, NOTIMP,
/// REFUSED) or TC=1. Old and minimal servers answer what they cannot parse (a query with OPT,
/// say) with a bare header; BIND acts on these RCODEs before it compares questions
/// (`resquery_response`) and takes an empty question with TC=1 as truncated (`same_question`),
/// and Unbound falls back to no EDNS on a FORMERR or NOTIMP whatever its question. Such a
/// response only ever leads to a retry or a failure (never `Outcome::Answer`), so it cannot
/// put data in the cache; one with NOERROR or NXDOMAIN and no TC is still dropped.
fn bare_failure(v: &MessageView<'_>) -> bool {
    let flags = v.flags();
    let tc = flags & crate::wire::view::flags::TC != 0;
    let rcode = flags & 0xf;
    tc || matches!(
        Rcode(rcode),
        Rcode::FORMERR | Rcode::SERVFAIL | Rcode::NOTIMP | Rcode::REFUSED
    )
}

/// Meta and unknown-range query types (RFC 6895 3.1: 0, OPT, 128-255; private use from
/// 65280): an upstream may reject a query for its type alone.
pub(super) fn is_meta_type(t: RType) -> bool {
    matches!(t.0, 0 | 41 | 128..=255) || t.0 >= 65280
}

/// The question at `start..end` of `msg` equals `mine` (name case-insensitively, type, class).
pub(super) fn question_matches(msg: &[u8], start: usize, end: usize, mine: &[u8]) -> bool {
    // The usual case: the name written in place, as long as ours: one case-insensitive
    // comparison (length bytes are below 64, never ASCII letters, so folding them is safe).
    // Type and class (the last 4 bytes) compared exactly.
    if let Some(q) = msg.get(start..end) {
        if q.len() == mine.len() && q.len() >= 5 {
            let (qn, qt) = q.split_at(q.len() - 4);
            let (mn, mt) = mine.split_at(mine.len() - 4);
            if qt == mt && qn.eq_ignore_ascii_case(mn) && in_place(qn) {
                return true;
            }
        }
    }
    let (Ok(a), Ok(b)) = (
        crate::wire::name::read_name(msg, start),
        crate::wire::name::read_name(mine, 0),
    ) else {
        return false;
    };
    let tail_a = msg.get(end - 4..end);
    let tail_b = mine.get(b.1..b.1 + 4);
    a.0.eq_ignore_case(&b.0) && tail_a.is_some() && tail_a == tail_b
}

/// Whether `name` is a whole wire name without pointers, ending at its root label.
fn in_place(name: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&l) = name.get(i) {
        if l == 0 {
            return i + 1 == name.len();
        }
        if l & 0xc0 != 0 {
            return false;
        }
        i += 1 + usize::from(l);
    }
    false
}

/// Puts the cache's form of `bytes` into `enc` (the message without its OPT, which must be the
/// last record) and the offsets of its TTLs into `ttls`, when the upstream compressed it: every
/// owner name after the question is a pointer or ends in one. Returns false (leaving `enc`
/// and `ttls` to be cleared) when the message must be re-encoded instead: an owner written
/// out in full, an OPT that is not last, more than one question. `bytes` decoded already, so
/// this walk only skips: it follows no pointer and checks only bounds.
fn kept_as_sent(bytes: &[u8], enc: &mut Encoder, ttls: &mut Vec<u16>) -> bool {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let (Some(qd), Some(an), Some(ns), Some(ar)) = (u16_at(4), u16_at(6), u16_at(8), u16_at(10))
    else {
        return false;
    };
    if qd != 1 || bytes.len() > usize::from(u16::MAX) {
        return false;
    }
    let Some((_, q_end)) = skip_owner(bytes, HEADER_LEN) else {
        return false;
    };
    let mut pos = q_end + 4;
    let mut opt_at = None;
    for _ in 0..an + ns + ar {
        if opt_at.is_some() {
            return false;
        }
        let Some((compressed, after)) = skip_owner(bytes, pos) else {
            return false;
        };
        let (Some(rtype), Some(rdlen)) = (u16_at(after), u16_at(after + 8)) else {
            return false;
        };
        let end = after + 10 + rdlen;
        if end > bytes.len() {
            return false;
        }
        if rtype == usize::from(RType::OPT.0) {
            opt_at = Some(pos);
        } else if bytes.get(after + 4).is_some_and(|b| b & 0x80 != 0) {
            // A TTL with the top bit set: the re-encode writes it as the 0 it means (RFC 2181
            // 8), so clients never see 2^31 or more.
            return false;
        } else if compressed {
            ttls.push((after + 4) as u16);
        } else {
            return false;
        }
        pos = end;
    }
    enc.clear();
    match opt_at {
        Some(o) => {
            enc.bytes(&bytes[..o]);
            enc.set_u16(10, (ar - 1) as u16);
        }
        None => enc.bytes(&bytes[..pos]),
    }
    true
}

/// Skips the name at `start` without following pointers: whether it is the root or ends in a
/// pointer, and where it ends.
fn skip_owner(msg: &[u8], start: usize) -> Option<(bool, usize)> {
    let mut at = start;
    loop {
        let l = *msg.get(at)?;
        if l == 0 {
            return Some((at == start, at + 1));
        }
        if l & 0xc0 == 0xc0 {
            return Some((true, at + 2));
        }
        if l & 0xc0 != 0 {
            return None;
        }
        at += 1 + usize::from(l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare header: QR=1, the RCODE, TC as given, every count 0.
    fn bare(rcode: u8, tc: bool) -> Vec<u8> {
        vec![
            0x12,
            0x34,
            0x80 | if tc { 0x02 } else { 0 },
            rcode,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ]
    }

    #[test]
    fn a_bare_header_is_taken_only_as_a_failure_or_a_truncation() {
        let taken = |b: &[u8]| bare_failure(&MessageView::new(b).unwrap());
        // FORMERR, SERVFAIL, NOTIMP, REFUSED: acted on (BIND, Unbound).
        for rcode in [1, 2, 4, 5] {
            assert!(taken(&bare(rcode, false)), "rcode {rcode}");
        }
        // NOERROR and NXDOMAIN without a question are no answer (RFC 5452 9.1)...
        assert!(!taken(&bare(0, false)));
        assert!(!taken(&bare(3, false)));
        // ...unless truncated: then a retry over TCP (BIND's `same_question`).
        assert!(taken(&bare(0, true)));
    }
}
