//! What an answer is: positive, NXDOMAIN, NODATA or a referral (RFC 2308 1-2, RFC 1034 3.6.2),
//! with CNAME chains followed. One definition, used by the cache policy, the analyzer's
//! warnings, the engine's conformance counters and `fit`'s minimal responses, so they cannot
//! disagree about incident 004's shape: a CNAME chain whose last name has no data of the type
//! asked is NODATA, not a positive answer.

use crate::wire::{Message, Name, RType, Rcode};

/// The kind of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    /// Data of the type asked for at the end of the CNAME chain (or any data for ANY).
    Positive,
    /// NXDOMAIN: the name (at the end of the chain) does not exist (RFC 2308 2.1).
    NxDomain,
    /// NOERROR without data of the type asked at the end of the chain (RFC 2308 2.2).
    NoData,
    /// NOERROR without data, with NS and no SOA in the authority section: a delegation, which
    /// a recursive upstream should never send a forwarder (RFC 2308 2.2 tells it from NODATA).
    Referral,
    /// Any other RCODE (SERVFAIL, REFUSED, FORMERR...): not an answer about the name.
    Error,
}

impl AnswerKind {
    /// NXDOMAIN or NODATA.
    pub fn is_negative(self) -> bool {
        matches!(self, AnswerKind::NxDomain | AnswerKind::NoData)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Positive => "positive",
            AnswerKind::NxDomain => "NXDOMAIN",
            AnswerKind::NoData => "NODATA",
            AnswerKind::Referral => "referral",
            AnswerKind::Error => "error",
        }
    }
}

impl Message {
    /// What this response is (see [`AnswerKind`]).
    pub fn classify(&self) -> AnswerKind {
        match self.rcode() {
            Rcode::NXDOMAIN => AnswerKind::NxDomain,
            Rcode::NOERROR if has_data(self) => AnswerKind::Positive,
            Rcode::NOERROR => {
                let soa = self.authority.iter().any(|r| r.rtype == RType::SOA);
                let ns = self.authority.iter().any(|r| r.rtype == RType::NS);
                if ns && !soa {
                    AnswerKind::Referral
                } else {
                    AnswerKind::NoData
                }
            }
            _ => AnswerKind::Error,
        }
    }

    /// Whether the authority section carries an SOA (what makes a negative answer cacheable,
    /// RFC 2308 5).
    pub fn has_soa(&self) -> bool {
        self.authority.iter().any(|r| r.rtype == RType::SOA)
    }
}

/// The names a response's answer passes through: the question's name, then each CNAME target
/// in turn. Loops end the chain.
pub fn cname_chain(msg: &Message) -> Vec<&Name> {
    let mut chain = Vec::new();
    walk_chain(msg, |n| chain.push(n));
    chain
}

/// Calls `visit` with each name of [`cname_chain`], in order, without allocating for chains
/// of up to `SEEN` names (the per-packet path: classifying and the cache's history).
pub fn walk_chain<'a>(msg: &'a Message, mut visit: impl FnMut(&'a Name)) {
    const SEEN: usize = 16;
    let Some(q) = msg.questions.first() else {
        return;
    };
    let mut seen: [Option<&Name>; SEEN] = [None; SEEN];
    let mut more: Vec<&Name> = Vec::new();
    seen[0] = Some(&q.name);
    let mut len = 1;
    visit(&q.name);
    let mut current = &q.name;
    while len <= msg.answers.len() {
        // QTYPE CNAME or ANY matches the CNAME itself: the chain is not followed (RFC 1034
        // 4.3.2 step 3a restarts only when QTYPE does not match CNAME); a zone transfer's
        // answer is the zone's records, no chain at all.
        if matches!(
            q.qtype,
            RType::CNAME | RType::ANY | RType::AXFR | RType::IXFR
        ) && len == 1
        {
            break;
        }
        let next = msg.answers.iter().find_map(|r| {
            (r.rtype == RType::CNAME && r.name.eq_ignore_case(current))
                .then(|| r.rdata.target_name())
                .flatten()
        });
        let Some(t) = next else { break };
        let looped = seen.iter().flatten().any(|n| n.eq_ignore_case(t))
            || more.iter().any(|n| n.eq_ignore_case(t));
        if looped {
            break;
        }
        if len < SEEN {
            seen[len] = Some(t);
        } else {
            more.push(t);
        }
        len += 1;
        visit(t);
        current = t;
    }
}

/// Whether the answer holds data of the type asked for at the end of the CNAME chain.
fn has_data(msg: &Message) -> bool {
    let Some(q) = msg.questions.first() else {
        return !msg.answers.is_empty();
    };
    let mut last = None;
    walk_chain(msg, |n| last = Some(n));
    let Some(last) = last else {
        return false;
    };
    msg.answers.iter().any(|r| {
        r.name.eq_ignore_case(last)
            && (r.rtype == q.qtype
                || (q.qtype == RType::ANY && r.rtype != RType::RRSIG)
                || (matches!(q.qtype, RType::AXFR | RType::IXFR) && r.rtype == RType::SOA))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Question, Record};

    fn msg(qtype: RType, rcode: Rcode, answers: &[&str], authority: &[&str]) -> Message {
        let mut m = Message::default();
        m.header.qr = true;
        m.questions.push(Question {
            name: "repo1.maven.org.".parse().unwrap_or_else(|_| Name::root()),
            qtype,
            class: crate::wire::Class(1),
        });
        let rec = |l: &&str| Record::from_text(l).ok();
        m.answers = answers.iter().filter_map(rec).collect();
        m.authority = authority.iter().filter_map(rec).collect();
        m.set_rcode(rcode);
        m
    }

    const CHAIN: [&str; 2] = [
        "repo1.maven.org. 30 IN CNAME central.maven.org.",
        "central.maven.org. 30 IN CNAME sonatype.map.fastly.net.",
    ];
    const SOA: &str = "fastly.net. 300 IN SOA ns1.fastly.net. h.fastly.com. 1 3600 600 604800 300";

    #[test]
    fn table() {
        let full = [
            CHAIN[0],
            CHAIN[1],
            "sonatype.map.fastly.net. 30 IN A 151.101.36.209",
        ];
        let cases: Vec<(&str, Message, AnswerKind)> = vec![
            (
                "chain to an A",
                msg(RType::A, Rcode::NOERROR, &full, &[]),
                AnswerKind::Positive,
            ),
            // Incident 004's exact shape.
            (
                "chain ending in NODATA",
                msg(RType::A, Rcode::NOERROR, &CHAIN, &[SOA]),
                AnswerKind::NoData,
            ),
            (
                "chain asked as CNAME",
                msg(RType::CNAME, Rcode::NOERROR, &CHAIN[..1], &[]),
                AnswerKind::Positive,
            ),
            (
                "empty NOERROR with SOA",
                msg(RType::A, Rcode::NOERROR, &[], &[SOA]),
                AnswerKind::NoData,
            ),
            (
                "empty NOERROR, no SOA",
                msg(RType::A, Rcode::NOERROR, &[], &[]),
                AnswerKind::NoData,
            ),
            (
                "NXDOMAIN after a chain",
                msg(RType::A, Rcode::NXDOMAIN, &CHAIN, &[SOA]),
                AnswerKind::NxDomain,
            ),
            (
                "referral",
                msg(
                    RType::A,
                    Rcode::NOERROR,
                    &[],
                    &["maven.org. 60 IN NS ns1.maven.org."],
                ),
                AnswerKind::Referral,
            ),
            (
                "SERVFAIL",
                msg(RType::A, Rcode::SERVFAIL, &[], &[]),
                AnswerKind::Error,
            ),
            // The name's CNAME is data of type ANY: the chain is not followed (RFC 1034 4.3.2
            // 3a), as IANA's servers answered www.iana.org ANY with its CNAME and RRSIG only.
            (
                "ANY answered with the CNAME",
                msg(RType::ANY, Rcode::NOERROR, &CHAIN[..1], &[]),
                AnswerKind::Positive,
            ),
            // A zone transfer's answer begins with the zone's SOA (RFC 5936 2.2); an IXFR
            // answer of the SOA alone says the client is up to date (RFC 1995 4).
            (
                "AXFR",
                msg(
                    RType::AXFR,
                    Rcode::NOERROR,
                    &[
                        "repo1.maven.org. 30 IN SOA a. b. 1 2 3 4 5",
                        "repo1.maven.org. 30 IN TXT \"x\"",
                    ],
                    &[],
                ),
                AnswerKind::Positive,
            ),
            (
                "IXFR, up to date",
                msg(
                    RType::IXFR,
                    Rcode::NOERROR,
                    &["repo1.maven.org. 30 IN SOA a. b. 1 2 3 4 5"],
                    &[],
                ),
                AnswerKind::Positive,
            ),
            (
                "ANY with data",
                msg(
                    RType::ANY,
                    Rcode::NOERROR,
                    &["repo1.maven.org. 30 IN TXT \"x\""],
                    &[],
                ),
                AnswerKind::Positive,
            ),
        ];
        for (what, m, want) in cases {
            assert_eq!(m.classify(), want, "{what}");
        }
    }

    #[test]
    fn chain_loops_end() {
        let m = msg(
            RType::A,
            Rcode::NOERROR,
            &[
                "repo1.maven.org. 30 IN CNAME a.example.",
                "a.example. 30 IN CNAME repo1.maven.org.",
            ],
            &[],
        );
        assert_eq!(cname_chain(&m).len(), 2);
        assert_eq!(m.classify(), AnswerKind::NoData);
    }
}
