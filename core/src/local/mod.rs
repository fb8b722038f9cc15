//! Local data: names the engine answers itself, with AA set, never asking an upstream. Three
//! sources, checked together before the cache:
//!
//! - hosts files (`/etc/hosts` text: A, AAAA, and PTR for their addresses), handed in as text by
//!   the shell (core reads no files) with a name for messages;
//! - local records, one zone-file line each (`wire::zone`);
//! - local zones that answer NXDOMAIN or REFUSED for every name at or under them that has no
//!   local data (blocking, split horizon), like Unbound's `static` and `refuse` local zones.
//!
//! A name with local data is answered from it for every type: the records of the asked type,
//! a CNAME (followed within local data), or NODATA. Outside a local zone, a name without local
//! data goes on to the cache and the upstreams (Unbound's `transparent`). Inside one, a name
//! above local data (an empty non-terminal) gets NODATA, not NXDOMAIN (RFC 8020).
//!
//! This module knows names and records, not the engine: the engine asks [`LocalData::lookup`]
//! and writes the event.

pub mod hosts;

use std::collections::HashMap;

use crate::wire::{Class, Header, Message, Name, Question, RData, RType, Rcode, Record};

/// Local data in the engine's configuration (`[engine.local]`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// TTL of answers from hosts files: 60 s.
    pub ttl: u32,
    /// Records, one zone-file line each: `"printer.lan. 300 IN A 192.168.1.20"`.
    pub records: Vec<String>,
    /// Zones answered locally: NXDOMAIN or REFUSED for names without local data.
    pub zones: Vec<LocalZone>,
    /// Hosts files as text (the native server reads `--hosts FILE` and fills these in).
    pub hosts: Vec<HostsText>,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            ttl: 60,
            records: Vec::new(),
            zones: Vec::new(),
            hosts: Vec::new(),
        }
    }
}

impl LocalConfig {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.zones.is_empty() && self.hosts.is_empty()
    }
}

/// A zone answered locally.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct LocalZone {
    pub zone: String,
    /// What names without local data get.
    pub answer: LocalAnswer,
}

/// What a local zone answers for names without local data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum LocalAnswer {
    /// The name does not exist (blocking, or the inside view of split horizon).
    Nxdomain,
    /// Not served here (policy).
    Refused,
}

/// A hosts file's text and the name messages call it by (its path).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct HostsText {
    pub name: String,
    pub text: String,
}

/// What a local answer came from: shown in the query log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LocalSource {
    /// A line of a hosts file.
    Hosts { file: String, line: usize },
    /// `local.records[index]`.
    Record { index: usize },
    /// A local zone's answer for a name without local data.
    Zone { zone: Name, answer: LocalAnswer },
}

impl core::fmt::Display for LocalSource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LocalSource::Hosts { file, line } => write!(f, "hosts file {file} line {line}"),
            LocalSource::Record { index } => write!(f, "local record local.records[{index}]"),
            LocalSource::Zone { zone, answer } => {
                let a = match answer {
                    LocalAnswer::Nxdomain => "nxdomain",
                    LocalAnswer::Refused => "refused",
                };
                write!(f, "local zone {zone} ({a})")
            }
        }
    }
}

/// A problem in the local data: the field (`local.records[2]`, `local.hosts[0]`) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalError {
    pub field: String,
    pub message: String,
}

#[derive(Clone, Debug)]
struct LocalRr {
    rtype: RType,
    ttl: u32,
    rdata: RData,
    source: usize,
}

type Map<V> = HashMap<Box<[u8]>, V, rustc_hash::FxBuildHasher>;

/// Local data, indexed by lowercased wire name (Fx hash maps: deterministic, and one hash per
/// name looked up on the per-query path, where every query that is not local pays for the
/// lookup).
#[derive(Clone, Debug, Default)]
pub struct LocalData {
    names: Map<Vec<LocalRr>>,
    /// Names above local data (empty non-terminals), for NODATA inside local zones.
    above: Map<()>,
    /// Zone name -> its source (which holds the zone and its answer).
    zones: Map<usize>,
    sources: Vec<LocalSource>,
    /// A bit per [`tld_bit`] of the last label of every local name and zone: a name whose
    /// last label has no bit here is not local, found without hashing the whole name.
    tlds: u64,
}

/// A cheap fingerprint (0..64) of a name's last label (lowercased wire form `lower`): its length
/// and first and last bytes. Case folded (the key is lowercased already).
fn tld_bit(lower: &[u8]) -> Option<u32> {
    let mut at = 0;
    let mut last = None;
    while let Some(&len) = lower.get(at) {
        if len == 0 {
            break;
        }
        last = Some(at);
        at += 1 + usize::from(len);
    }
    let Some(l) = last else {
        return Some(0);
    };
    let len = usize::from(lower[l]);
    let first = *lower.get(l + 1)?;
    let end = *lower.get(l + len)?;
    Some(
        (len as u32)
            .wrapping_mul(7)
            .wrapping_add(u32::from(first) * 3)
            .wrapping_add(u32::from(end))
            % 64,
    )
}

/// A local answer: the message to send (without OPT), its RCODE, the number of answer
/// records, and what it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalHit<'a> {
    pub bytes: Vec<u8>,
    pub rcode: Rcode,
    pub answers: usize,
    pub source: &'a LocalSource,
}

fn lower_wire(n: &Name) -> Box<[u8]> {
    n.to_lowercase().as_wire().into()
}

impl LocalData {
    /// Builds the index; the error names the field and, for text, the line.
    pub fn build(cfg: &LocalConfig) -> Result<LocalData, LocalError> {
        let mut d = LocalData::default();
        for (i, line) in cfg.records.iter().enumerate() {
            let field = format!("local.records[{i}]");
            let r = Record::from_text(line).map_err(|e| LocalError {
                field: field.clone(),
                message: e.to_string(),
            })?;
            if r.class != Class::IN {
                return Err(LocalError {
                    field,
                    message: format!("class {}: local records are class IN", r.class),
                });
            }
            if matches!(r.rtype, RType::OPT | RType::ANY) {
                return Err(LocalError {
                    field,
                    message: format!("type {} cannot be a record", r.rtype),
                });
            }
            d.sources.push(LocalSource::Record { index: i });
            let source = d.sources.len() - 1;
            d.add(&r.name, r.rtype, r.ttl, r.rdata, source);
        }
        for (i, h) in cfg.hosts.iter().enumerate() {
            let lines = hosts::parse_hosts(&h.text).map_err(|e| LocalError {
                field: format!("local.hosts[{i}]"),
                message: format!("{}: {e}", h.name),
            })?;
            for l in lines {
                d.sources.push(LocalSource::Hosts {
                    file: h.name.clone(),
                    line: l.line,
                });
                let source = d.sources.len() - 1;
                let (rtype, rdata) = match l.address {
                    std::net::IpAddr::V4(a) => (RType::A, RData::A { address: a }),
                    std::net::IpAddr::V6(a) => (RType::AAAA, RData::Aaaa { address: a }),
                };
                for n in &l.names {
                    d.add(n, rtype, cfg.ttl, rdata.clone(), source);
                }
                let rev = hosts::reverse_name(l.address);
                d.add(
                    &rev,
                    RType::PTR,
                    cfg.ttl,
                    RData::Name {
                        target: l.names[0].clone(),
                    },
                    source,
                );
            }
        }
        for (i, z) in cfg.zones.iter().enumerate() {
            let name: Name = z.zone.parse().map_err(|e| LocalError {
                field: format!("local.zones[{i}].zone"),
                message: format!("{:?} is not a domain name: {e}", z.zone),
            })?;
            let key = lower_wire(&name);
            if d.zones.contains_key(&key) {
                return Err(LocalError {
                    field: format!("local.zones[{i}].zone"),
                    message: format!("zone {name} is listed twice"),
                });
            }
            d.sources.push(LocalSource::Zone {
                zone: name,
                answer: z.answer,
            });
            d.mark(&key);
            d.zones.insert(key, d.sources.len() - 1);
        }
        Ok(d)
    }

    fn mark(&mut self, key: &[u8]) {
        if let Some(b) = tld_bit(key) {
            self.tlds |= 1 << b;
        }
    }

    fn add(&mut self, name: &Name, rtype: RType, ttl: u32, rdata: RData, source: usize) {
        let key = lower_wire(name);
        self.mark(&key);
        let rrs = self.names.entry(key).or_default();
        // The same address twice (two lines, or a name and its alias): one record.
        if rrs.iter().any(|r| r.rtype == rtype && r.rdata == rdata) {
            return;
        }
        rrs.push(LocalRr {
            rtype,
            ttl,
            rdata,
            source,
        });
        let mut p = name.parent();
        while let Some(n) = p {
            if n.is_root() {
                break;
            }
            self.above.insert(lower_wire(&n), ());
            p = n.parent();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.zones.is_empty()
    }

    /// Names with local data (for tests and messages).
    pub fn names(&self) -> usize {
        self.names.len()
    }

    /// The local answer to a query, if its name has local data or lies in a local zone.
    /// `query` is the client's message, `name_start..q_end` its question, `lower` the
    /// question's name lowercased in wire form.
    pub fn lookup(
        &self,
        query: &[u8],
        name_start: usize,
        lower: &[u8],
        qtype: RType,
        qclass: Class,
    ) -> Option<LocalHit<'_>> {
        if self.is_empty() || tld_bit(lower).is_some_and(|b| self.tlds & (1 << b) == 0) {
            return None;
        }
        // Only a name that is local costs more than the two lookups: its name and header are
        // read here.
        let qname = || {
            crate::wire::name::read_name(query, name_start)
                .ok()
                .map(|n| n.0)
        };
        let respond = |qname: Name, rcode: Rcode, answers: Vec<Record>, source: usize| {
            let header = Header::from_flags(
                u16::from_be_bytes([query[0], query[1]]),
                u16::from_be_bytes([query[2], query[3]]),
            );
            let msg = Message {
                header: Header {
                    qr: true,
                    aa: true,
                    ra: true,
                    tc: false,
                    z: false,
                    ad: false,
                    rcode: (rcode.0 & 0xf) as u8,
                    ..header.clone()
                },
                questions: vec![Question {
                    name: qname,
                    qtype,
                    class: qclass,
                }],
                answers,
                authority: Vec::new(),
                additional: Vec::new(),
                edns: None,
            };
            let n = msg.answers.len();
            msg.to_wire().ok().map(|bytes| LocalHit {
                bytes,
                rcode,
                answers: n,
                source: &self.sources[source],
            })
        };
        if !self.names.is_empty() && (qclass == Class::IN || qclass == Class::ANY) {
            if let Some(rrs) = self.names.get(lower) {
                let qname = qname()?;
                let (answers, source) = self.answers_at(&qname, rrs, qtype);
                return respond(qname, Rcode::NOERROR, answers, source);
            }
        }
        if self.zones.is_empty() {
            return None;
        }
        // The longest local zone the name is in.
        let mut at = 0;
        loop {
            let suffix = lower.get(at..)?;
            if let Some(&i) = self.zones.get(suffix) {
                let LocalSource::Zone { answer, .. } = &self.sources[i] else {
                    return None;
                };
                let (rcode, answers) = match answer {
                    LocalAnswer::Refused => (Rcode::REFUSED, Vec::new()),
                    LocalAnswer::Nxdomain if self.above.contains_key(lower) => {
                        (Rcode::NOERROR, Vec::new())
                    }
                    LocalAnswer::Nxdomain => (Rcode::NXDOMAIN, Vec::new()),
                };
                return respond(qname()?, rcode, answers, i);
            }
            let len = usize::from(*lower.get(at)?);
            if len == 0 {
                return None;
            }
            at += 1 + len;
        }
    }

    /// The answer records at a name with local data: the asked type (every type for ANY), or
    /// a CNAME followed within local data (at most 8 links), or nothing (NODATA). Returns the
    /// records and the source of the first one (or of the name's first record).
    fn answers_at(&self, qname: &Name, rrs: &[LocalRr], qtype: RType) -> (Vec<Record>, usize) {
        let rec = |owner: &Name, r: &LocalRr| Record {
            name: owner.clone(),
            rtype: r.rtype,
            class: Class::IN,
            ttl: r.ttl,
            rdata: r.rdata.clone(),
        };
        let first = rrs.first().map_or(0, |r| r.source);
        let mut out = Vec::new();
        let mut owner = qname.clone();
        let mut here = rrs;
        let mut source = None;
        for _ in 0..8 {
            let matching: Vec<&LocalRr> = here
                .iter()
                .filter(|r| r.rtype == qtype || qtype == RType::ANY)
                .collect();
            if !matching.is_empty() {
                source = source.or(Some(matching[0].source));
                out.extend(matching.into_iter().map(|r| rec(&owner, r)));
                break;
            }
            let Some(cname) = here.iter().find(|r| r.rtype == RType::CNAME) else {
                break;
            };
            source = source.or(Some(cname.source));
            out.push(rec(&owner, cname));
            let RData::Name { target } = &cname.rdata else {
                break;
            };
            match self.names.get(lower_wire(target).as_ref()) {
                Some(next) => {
                    owner = target.clone();
                    here = next;
                }
                None => break,
            }
        }
        (out, source.unwrap_or(first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build;
    use crate::wire::view::MessageView;

    fn cfg() -> LocalConfig {
        LocalConfig {
            ttl: 60,
            records: vec![
                "printer.lan. 300 IN A 192.168.1.20".into(),
                "www.corp.example. 60 IN CNAME web.corp.example.".into(),
                "web.corp.example. 60 IN A 10.1.1.1".into(),
            ],
            zones: vec![
                LocalZone {
                    zone: "corp.example".into(),
                    answer: LocalAnswer::Nxdomain,
                },
                LocalZone {
                    zone: "ads.example".into(),
                    answer: LocalAnswer::Refused,
                },
            ],
            hosts: vec![HostsText {
                name: "/etc/hosts".into(),
                text: "127.0.0.1 localhost\n192.168.1.10 nas.lab nas\n2001:db8::10 nas.lab\n"
                    .into(),
            }],
        }
    }

    fn ask(d: &LocalData, name: &str, qtype: RType) -> Option<(Message, String)> {
        let n: Name = name.parse().unwrap();
        let mut question = n.as_wire().to_vec();
        question.extend_from_slice(&qtype.0.to_be_bytes());
        question.extend_from_slice(&1u16.to_be_bytes());
        let q = build::query(0x1234, false, &question, None);
        let lower = lower_wire(&n);
        d.lookup(&q, 12, &lower, qtype, Class::IN).map(|h| {
            let m = Message::from_wire(&h.bytes).unwrap();
            assert!(MessageView::new(&h.bytes).is_ok());
            (m, h.source.to_string())
        })
    }

    #[test]
    fn answers_hosts_records_and_zones() {
        let d = LocalData::build(&cfg()).unwrap();
        let (m, src) = ask(&d, "NAS.lab.", RType::A).unwrap();
        assert!(m.header.aa && m.header.qr && m.header.ra);
        assert_eq!(m.header.id, 0x1234);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].to_text(), "NAS.lab.\t60\tIN\tA\t192.168.1.10");
        assert_eq!(src, "hosts file /etc/hosts line 2");
        let (m, src) = ask(&d, "nas.lab.", RType::AAAA).unwrap();
        assert_eq!(m.answers.len(), 1);
        assert_eq!(src, "hosts file /etc/hosts line 3");
        // A name with local data has no other types: NODATA, not upstream.
        let (m, _) = ask(&d, "nas.", RType::MX).unwrap();
        assert_eq!((m.rcode(), m.answers.len()), (Rcode::NOERROR, 0));
        let (m, _) = ask(&d, "10.1.168.192.in-addr.arpa.", RType::PTR).unwrap();
        assert_eq!(m.answers[0].rdata.to_string(), "nas.lab.");
        let (m, src) = ask(&d, "printer.lan.", RType::A).unwrap();
        assert_eq!(m.answers[0].ttl, 300);
        assert_eq!(src, "local record local.records[0]");
        // CNAME followed within local data.
        let (m, _) = ask(&d, "www.corp.example.", RType::A).unwrap();
        assert_eq!(m.answers.len(), 2);
        assert_eq!(
            m.answers[1].to_text(),
            "web.corp.example.\t60\tIN\tA\t10.1.1.1"
        );
        // Local zones.
        let (m, src) = ask(&d, "other.corp.example.", RType::A).unwrap();
        assert_eq!(m.rcode(), Rcode::NXDOMAIN);
        assert_eq!(src, "local zone corp.example. (nxdomain)");
        let (m, _) = ask(&d, "x.y.ads.example.", RType::A).unwrap();
        assert_eq!(m.rcode(), Rcode::REFUSED);
        // Above local data inside a zone: NODATA (RFC 8020), the zone's apex too.
        let (m, _) = ask(&d, "corp.example.", RType::A).unwrap();
        assert_eq!((m.rcode(), m.answers.len()), (Rcode::NOERROR, 0));
        // Outside every zone and without data: not local.
        assert!(ask(&d, "example.com.", RType::A).is_none());
        // The fingerprint of the last label lets most names out at once, never a local one.
        let tlds = ["lan", "example", "localhost", "nas", "lab", "arpa"];
        assert_eq!(d.tlds.count_ones() as usize, tlds.len());
        assert!(
            ask(&d, "x.LAN.", RType::A).is_none(),
            "no data there, but looked up"
        );
        assert!(ask(&d, "lab.", RType::A).is_none());
        assert!(ask(&d, "example.", RType::A).is_none());
    }

    #[test]
    fn errors_name_the_field_and_line() {
        let mut c = cfg();
        c.records.push("bad. 60 IN A 1.2.3".into());
        let e = LocalData::build(&c).unwrap_err();
        assert_eq!(e.field, "local.records[3]");
        let mut c = cfg();
        c.hosts[0].text.push_str("10.0.0.1\n");
        let e = LocalData::build(&c).unwrap_err();
        assert_eq!(e.field, "local.hosts[0]");
        assert!(
            e.message.contains("/etc/hosts: line 4, field 2"),
            "{}",
            e.message
        );
        let mut c = cfg();
        c.zones[1].zone = "a..b".into();
        assert_eq!(
            LocalData::build(&c).unwrap_err().field,
            "local.zones[1].zone"
        );
        let mut c = cfg();
        c.zones[1].zone = "CORP.example.".into();
        assert_eq!(
            LocalData::build(&c).unwrap_err().field,
            "local.zones[1].zone"
        );
    }
}
