//! hickory-proto as an oracle for the decoder: the same bytes go through
//! `dnspect_core::wire::Message::from_wire` and `hickory_proto::op::Message::from_vec`, and
//! `oracle/compare.rs` compares what each read (header, counts, every record's owner, type, class,
//! TTL and RDATA re-encoded without compression, EDNS and its options).
//!
//! * Well-formed messages (random names, A/AAAA/NS/CNAME/PTR/SOA/MX/TXT/SRV/CAA/SVCB/HTTPS and
//!   opaque types, OPT with options, compressed or not) must be read the same by both. The only
//!   exceptions are rows of `docs/hickory-divergences.md` marked "valid input: yes".
//! * Malformed messages (the same messages truncated, bit-flipped, with bytes overwritten by
//!   compression pointers or odd label types, with forged counts; and random bytes) must be
//!   rejected by both, or the difference must be a row of `docs/hickory-divergences.md`. A
//!   divergence the table does not list fails the test: explain it there (with its RFC
//!   reasoning) or fix the decoder.
//! * Every row of the table carries an example; each example must still produce its id, so a row
//!   whose divergence went away (or changed) fails too.
//!
//! Figures: each property prints what it saw (outcomes and divergence ids with counts). The
//! default case count keeps the file under ~20 s in debug; `PROPTEST_CASES=20000 cargo test -p
//! dnspect-core --test hickory_oracle -- --nocapture` runs a longer campaign, and
//! `DNSPECT_ORACLE_SURVEY=1` reports every outcome without failing (to update the table).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "oracle/compare.rs"]
mod compare;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};

use compare::{compare, listed_ids, listed_valid_ids, Outcome};
use dnspect_core::wire::{
    Class, Edns, EdnsOption, Header, Message, Name, Opcode, Question, RData, RType, Record,
    SvcParam,
};

const DIVERGENCES: &str = include_str!("../../docs/hickory-divergences.md");

/// Default cases per property when PROPTEST_CASES is not set.
const DEFAULT_CASES: u32 = 4000;

// ---- names ----------------------------------------------------------------------------------

const SUFFIXES: &[&str] = &[
    ".",
    "com.",
    "example.com.",
    "Example.COM.",
    "mail.example.com.",
    "example.org.",
    "xn--nxasmq6b.",
    "a\\.b.example.com.",
    "\\000\\255\\032.odd.",
    "a-rather-long-label-so-that-pointers-save-something-0123456789.example.net.",
];

fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => select(&["www", "mail", "ns1", "a", "WWW", "_tcp", "_sip", "*", "xn--bcher-kva"][..])
            .prop_map(|s| s.as_bytes().to_vec()),
        3 => "[a-zA-Z0-9-]{1,12}".prop_map(String::into_bytes),
        2 => vec(any::<u8>(), 1..=16),
        1 => vec(any::<u8>(), 40..=63),
    ]
}

fn name() -> impl Strategy<Value = Name> {
    (vec(label(), 0..4), 0..SUFFIXES.len()).prop_filter_map(
        "names over 255 octets",
        |(mut labels, s)| {
            let suffix: Name = SUFFIXES[s].parse().expect("suffixes parse");
            labels.extend(suffix.labels().map(<[u8]>::to_vec));
            Name::from_labels(&labels).ok()
        },
    )
}

// ---- RDATA ----------------------------------------------------------------------------------

const TYPES: &[RType] = &[
    RType::A,
    RType::AAAA,
    RType::NS,
    RType::CNAME,
    RType::PTR,
    RType::SOA,
    RType::MX,
    RType::TXT,
    RType::SRV,
    RType::CAA,
    RType::SVCB,
    RType::HTTPS,
];

/// Types both libraries keep as opaque bytes (RFC 3597): neither has a layout for them. (Types
/// hickory has a layout for and dnspect does not, such as CERT or CSYNC, are left to the
/// malformed campaign.)
fn opaque_type() -> impl Strategy<Value = RType> {
    prop_oneof![
        select(&[RType(29), RType(256), RType(65280), RType(65534)][..]),
        (300u16..65000).prop_map(RType),
    ]
}

fn rtype() -> impl Strategy<Value = RType> {
    prop_oneof![10 => select(TYPES), 1 => opaque_type()]
}

fn bytes(range: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), range)
}

fn char_string() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![8 => bytes(0..=24), 1 => bytes(200..=255)]
}

/// A CAA property (RFC 8659 4.1): a tag of 1-15 ASCII letters and digits; for the tags with a
/// defined value syntax, a value in that syntax.
fn caa() -> impl Strategy<Value = RData> {
    let issuer = prop_oneof![
        Just(String::new()),
        "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,2}",
    ];
    let param = "[a-z0-9]{1,8}=[!-:<-~]{0,8}";
    let issue = (
        select(&["issue", "issuewild"][..]),
        issuer,
        vec(param, 0..3),
    )
        .prop_map(|(tag, issuer, params)| {
            let mut v = issuer;
            for p in params {
                v.push_str("; ");
                v.push_str(&p);
            }
            (tag.to_string(), v.into_bytes())
        });
    let iodef = "(mailto:[a-z]{1,8}@[a-z]{1,8}\\.com|https://[a-z]{1,8}\\.example/[a-z]{0,8})"
        .prop_map(|v| ("iodef".to_string(), v.into_bytes()));
    let other = ("[a-zA-Z0-9]{1,15}", bytes(0..=40)).prop_filter_map(
        "tags with a defined syntax",
        |(tag, value)| {
            let lower = tag.to_ascii_lowercase();
            (!["issue", "issuewild", "iodef", "issuemail", "issuevmc"].contains(&lower.as_str()))
                .then_some((tag, value))
        },
    );
    (select(&[0u8, 128][..]), prop_oneof![issue, iodef, other]).prop_map(|(flags, (tag, value))| {
        RData::Caa {
            flags,
            tag: tag.into_bytes(),
            value,
        }
    })
}

fn svc_param() -> impl Strategy<Value = SvcParam> {
    prop_oneof![
        vec(1u16..7, 1..4).prop_map(|keys| SvcParam::Mandatory { keys }),
        // ALPN IDs are opaque octets (RFC 9460 7.1.1); mostly the usual ASCII ones.
        vec(
            prop_oneof![4 => "[a-z0-9/.-]{1,8}".prop_map(String::into_bytes), 1 => bytes(1..=10)],
            1..4
        )
        .prop_map(|ids| SvcParam::Alpn { ids }),
        Just(SvcParam::NoDefaultAlpn),
        any::<u16>().prop_map(|port| SvcParam::Port { port }),
        vec(any::<[u8; 4]>(), 1..4).prop_map(|a| SvcParam::Ipv4hint {
            addresses: a.into_iter().map(Ipv4Addr::from).collect()
        }),
        bytes(1..=32).prop_map(|config| SvcParam::Ech { config }),
        vec(any::<[u8; 16]>(), 1..3).prop_map(|a| SvcParam::Ipv6hint {
            addresses: a.into_iter().map(Ipv6Addr::from).collect()
        }),
        (8u16..65535, bytes(0..=10))
            .prop_map(|(number, value)| SvcParam::Unknown { number, value }),
    ]
}

fn svc_params() -> impl Strategy<Value = Vec<SvcParam>> {
    // Keys strictly increasing, as on the wire (RFC 9460 2.2); mandatory keys sorted, unique.
    vec(svc_param(), 0..5).prop_map(|mut v| {
        v.sort_by_key(SvcParam::key);
        v.dedup_by_key(|p| p.key());
        for p in &mut v {
            if let SvcParam::Mandatory { keys } = p {
                keys.sort_unstable();
                keys.dedup();
            }
        }
        v
    })
}

fn rdata_for(t: RType) -> BoxedStrategy<RData> {
    match t {
        RType::A => any::<[u8; 4]>()
            .prop_map(|b| RData::A { address: b.into() })
            .boxed(),
        RType::AAAA => any::<[u8; 16]>()
            .prop_map(|b| RData::Aaaa { address: b.into() })
            .boxed(),
        RType::NS | RType::CNAME | RType::PTR => {
            name().prop_map(|target| RData::Name { target }).boxed()
        }
        RType::SOA => (name(), name(), any::<[u32; 5]>())
            .prop_map(|(mname, rname, v)| RData::Soa {
                mname,
                rname,
                serial: v[0],
                refresh: v[1],
                retry: v[2],
                expire: v[3],
                minimum: v[4],
            })
            .boxed(),
        RType::MX => (any::<u16>(), name())
            .prop_map(|(preference, exchange)| RData::Mx {
                preference,
                exchange,
            })
            .boxed(),
        RType::TXT => vec(char_string(), 1..4)
            .prop_map(|strings| RData::Txt { strings })
            .boxed(),
        RType::SRV => (any::<[u16; 3]>(), name())
            .prop_map(|(v, target)| RData::Srv {
                priority: v[0],
                weight: v[1],
                port: v[2],
                target,
            })
            .boxed(),
        RType::CAA => caa().boxed(),
        RType::SVCB | RType::HTTPS => (any::<u16>(), name(), svc_params())
            .prop_map(|(priority, target, params)| RData::Svcb {
                priority,
                target,
                params,
            })
            .boxed(),
        // RFC 3597 opaque data, possibly empty.
        _ => bytes(0..=40)
            .prop_map(|data| RData::Unknown { data })
            .boxed(),
    }
}

// ---- messages -------------------------------------------------------------------------------

fn class() -> impl Strategy<Value = Class> {
    prop_oneof![6 => Just(Class::IN), 1 => select(&[Class::CH, Class::HS]), 1 => (5u16..250).prop_map(Class)]
}

fn rrset() -> impl Strategy<Value = Vec<Record>> {
    (name(), rtype(), class(), any::<u32>(), 1..4usize).prop_flat_map(
        |(name, rtype, class, ttl, n)| {
            vec(rdata_for(rtype), n).prop_map(move |rds| {
                rds.into_iter()
                    .map(|rdata| Record {
                        name: name.clone(),
                        rtype,
                        class,
                        ttl,
                        rdata,
                    })
                    .collect::<Vec<_>>()
            })
        },
    )
}

fn section() -> impl Strategy<Value = Vec<Record>> {
    vec(rrset(), 0..4).prop_map(|sets| sets.into_iter().flatten().collect())
}

fn edns_option() -> impl Strategy<Value = EdnsOption> {
    prop_oneof![
        bytes(1..=16).prop_map(|id| EdnsOption::Nsid { id }),
        (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, prefix)| {
            // RFC 7871 6: as many address octets as the source prefix covers, the rest zero.
            let n = usize::from(prefix).div_ceil(8);
            let mut address = a[..n].to_vec();
            if prefix % 8 != 0 {
                if let Some(last) = address.last_mut() {
                    *last &= 0xffu8 << (8 - prefix % 8);
                }
            }
            EdnsOption::ClientSubnet {
                family: 1,
                source_prefix: prefix,
                scope_prefix: 0,
                address,
            }
        }),
        (any::<[u8; 16]>(), 0u8..=128).prop_map(|(a, prefix)| {
            let n = usize::from(prefix).div_ceil(8);
            let mut address = a[..n].to_vec();
            if prefix % 8 != 0 {
                if let Some(last) = address.last_mut() {
                    *last &= 0xffu8 << (8 - prefix % 8);
                }
            }
            EdnsOption::ClientSubnet {
                family: 2,
                source_prefix: prefix,
                scope_prefix: 0,
                address,
            }
        }),
        (any::<[u8; 8]>(), prop_oneof![Just(vec![]), bytes(8..=32)]).prop_map(|(c, server)| {
            EdnsOption::Cookie {
                client: c.to_vec(),
                server,
            }
        }),
        any::<Option<u16>>().prop_map(|timeout| EdnsOption::Keepalive { timeout }),
        bytes(0..=32).prop_map(|data| EdnsOption::Padding { data }),
        (any::<u16>(), "[ -~]{0,12}")
            .prop_map(|(code, text)| EdnsOption::ExtendedError { code, text }),
        (
            any::<u16>().prop_filter("typed option", |c| ![3, 8, 10, 11, 12, 15].contains(c)),
            bytes(0..=16)
        )
            .prop_map(|(code, data)| EdnsOption::Unknown { code, data }),
    ]
}

fn edns() -> impl Strategy<Value = Edns> {
    (
        prop_oneof![Just(512u16), Just(1232), Just(4096), any::<u16>()],
        any::<[u8; 2]>(),
        any::<bool>(),
        0u16..0x8000,
        vec(edns_option(), 0..4),
    )
        .prop_map(|(udp_size, v, dnssec_ok, z, options)| Edns {
            udp_size,
            ext_rcode: v[0],
            version: v[1],
            dnssec_ok,
            z,
            options,
        })
}

fn header() -> impl Strategy<Value = Header> {
    (any::<u16>(), any::<[bool; 8]>(), 0u8..16, 0u8..16).prop_map(|(id, b, opcode, rcode)| Header {
        id,
        qr: b[0],
        // UPDATE (5) changes how hickory reads empty RDATA (RFC 2136); see the table.
        opcode: Opcode(if opcode == 5 { 0 } else { opcode }),
        aa: b[1],
        tc: b[2],
        rd: b[3],
        ra: b[4],
        z: b[5],
        ad: b[6],
        cd: b[7],
        rcode,
    })
}

fn question() -> impl Strategy<Value = Question> {
    let qtype = prop_oneof![4 => rtype(), 1 => select(&[RType::ANY, RType(252), RType(251), RType::OPT][..])];
    (
        name(),
        qtype,
        prop_oneof![4 => class(), 1 => Just(Class::ANY)],
    )
        .prop_map(|(name, qtype, class)| Question { name, qtype, class })
}

fn message() -> impl Strategy<Value = Message> {
    (
        header(),
        prop_oneof![1 => vec(question(), 0..1), 8 => vec(question(), 1..2), 1 => vec(question(), 2..4)],
        section(),
        section(),
        section(),
        proptest::option::weighted(0.7, edns()),
    )
        .prop_map(|(header, questions, answers, authority, additional, edns)| Message {
            header,
            questions,
            answers,
            authority,
            additional,
            edns,
        })
}

/// A message on the wire, with its names compressed or not.
fn wire_message() -> impl Strategy<Value = Vec<u8>> {
    (message(), any::<bool>()).prop_filter_map("over 65535 bytes", |(m, compress)| {
        if compress {
            m.to_wire().ok()
        } else {
            m.to_wire_uncompressed().ok()
        }
    })
}

// ---- malformed ------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Mutation {
    /// Cut the message at a fraction of its length.
    Truncate(f64),
    /// Flip one bit.
    Flip(f64, u8),
    /// Overwrite a byte.
    Set(f64, u8),
    /// Write a compression pointer to `target` (a fraction of the length, may be past the end).
    Pointer(f64, f64),
    /// Write a label length byte (odd label types 0x40/0x80, long labels).
    LabelByte(f64, u8),
    /// Forge one of the four counts.
    Count(usize, u16),
    /// Insert bytes.
    Insert(f64, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        2 => at.clone().prop_map(Mutation::Truncate),
        4 => (at.clone(), 0u8..8).prop_map(|(a, b)| Mutation::Flip(a, b)),
        2 => (at.clone(), any::<u8>()).prop_map(|(a, v)| Mutation::Set(a, v)),
        3 => (at.clone(), 0.0..1.2f64).prop_map(|(a, t)| Mutation::Pointer(a, t)),
        1 => (at.clone(), select(&[0x3f, 0x40, 0x41, 0x7f, 0x80, 0xbf][..])).prop_map(|(a, v)| Mutation::LabelByte(a, v)),
        1 => (0usize..4, prop_oneof![0u16..8, any::<u16>()]).prop_map(|(i, v)| Mutation::Count(i, v)),
        1 => (at, bytes(1..=4)).prop_map(|(a, b)| Mutation::Insert(a, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let pos = |f: f64, len: usize| ((f * len as f64) as usize).min(len.saturating_sub(1));
    let len = bytes.len();
    if len == 0 {
        return;
    }
    match m {
        Mutation::Truncate(f) => bytes.truncate(pos(*f, len)),
        Mutation::Flip(f, bit) => bytes[pos(*f, len)] ^= 1 << bit,
        Mutation::Set(f, v) => bytes[pos(*f, len)] = *v,
        Mutation::Pointer(f, t) => {
            let at = pos(*f, len);
            let target = ((*t * len as f64) as usize).min(0x3fff) as u16;
            let p = (0xc000 | target).to_be_bytes();
            bytes[at] = p[0];
            if at + 1 < len {
                bytes[at + 1] = p[1];
            }
        }
        Mutation::LabelByte(f, v) => bytes[pos(*f, len)] = *v,
        Mutation::Count(i, v) => {
            if len >= 12 {
                bytes[4 + 2 * i..6 + 2 * i].copy_from_slice(&v.to_be_bytes());
            }
        }
        Mutation::Insert(f, b) => {
            let at = pos(*f, len);
            bytes.splice(at..at, b.iter().copied());
        }
    }
}

/// A record of a type with special rules somewhere (meta-types, OPT, SIG, TSIG, types only one
/// of the two libraries has a layout for) and random RDATA, put in a random section.
fn odd_record_message() -> impl Strategy<Value = Vec<u8>> {
    const ODD: &[u16] = &[
        0, 10, 24, 35, 37, 39, 41, 43, 46, 47, 48, 50, 51, 61, 62, 64, 65, 99, 250, 251, 252, 255,
        257, 65305,
    ];
    (
        message(),
        // OPT often: its section and count rules are the ones to check.
        prop_oneof![1 => Just(41u16), 3 => select(ODD)],
        prop_oneof![Just(Name::root()), name()],
        bytes(0..=24),
        0usize..3,
        any::<u16>(),
    )
        .prop_filter_map(
            "over 65535 bytes",
            |(mut m, t, owner, mut data, section, class)| {
                if t == 41 && data.len() % 2 == 0 {
                    data.clear(); // an OPT without options, so that only its place is odd
                }
                let r = Record {
                    name: owner,
                    rtype: RType(t),
                    class: Class(class),
                    ttl: 0,
                    rdata: RData::Unknown { data },
                };
                [&mut m.answers, &mut m.authority, &mut m.additional][section].push(r);
                m.to_wire_uncompressed().ok()
            },
        )
}

fn malformed() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => odd_record_message(),
        6 => (wire_message(), vec(mutation(), 1..4)).prop_map(|(mut b, ms)| {
            for m in &ms {
                apply(&mut b, m);
            }
            b
        }),
        1 => bytes(0..=80),
        // A header announcing a few records, then random bytes.
        1 => (any::<[u8; 4]>(), vec(0u8..3, 4), bytes(0..=60)).prop_map(|(h, counts, rest)| {
            let mut b = h.to_vec();
            for c in counts {
                b.extend_from_slice(&[0, c]);
            }
            b.extend_from_slice(&rest);
            b
        }),
    ]
}

// ---- the runs -------------------------------------------------------------------------------

fn config() -> Config {
    let mut c = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = DEFAULT_CASES;
    }
    c.failure_persistence = None;
    c
}

/// `DNSPECT_ORACLE_SURVEY=1`: report every outcome without failing (to write the table).
fn survey() -> bool {
    std::env::var_os("DNSPECT_ORACLE_SURVEY").is_some()
}

/// Per outcome: how many times, and the shortest example with its detail.
type Seen = Mutex<BTreeMap<String, (usize, Vec<u8>, String)>>;

fn tally(seen: &Seen, o: &Outcome, bytes: &[u8]) {
    let (key, detail) = match o {
        Outcome::Agree => ("agree".to_string(), String::new()),
        Outcome::BothReject => ("both reject".to_string(), String::new()),
        Outcome::Diverge { id, detail } => (id.clone(), detail.clone()),
    };
    let mut s = seen.lock().unwrap();
    let e = s.entry(key).or_insert((0, bytes.to_vec(), detail.clone()));
    e.0 += 1;
    if bytes.len() < e.1.len() {
        (e.1, e.2) = (bytes.to_vec(), detail);
    }
}

fn report(what: &str, cases: u32, seen: &Seen) {
    println!("{what}: {cases} cases");
    if survey() {
        // `id hex` lines of the shortest examples, ready for the table's Examples block.
        let lines: String = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.contains(':'))
            .map(|(k, (_, ex, _))| format!("{k} {}\n", hex(ex)))
            .collect();
        let path = std::env::temp_dir().join(format!("hickory-survey-{what}.txt"));
        std::fs::write(&path, lines).unwrap();
        println!("examples written to {}", path.display());
    }
    for (key, (n, example, detail)) in seen.lock().unwrap().iter() {
        println!("  {n:>7}  {key}");
        if !detail.is_empty() {
            println!("           {detail}\n           shortest: {}", hex(example));
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn well_formed_messages_read_the_same() {
    let valid = listed_valid_ids(DIVERGENCES);
    let seen = Mutex::new(BTreeMap::new());
    let mut runner = TestRunner::new(config());
    let cases = runner.config().cases;
    let result = runner.run(&wire_message(), |bytes| {
        let o = compare(&bytes);
        tally(&seen, &o, &bytes);
        match &o {
            Outcome::Agree => {}
            Outcome::Diverge { id, .. } if valid.contains(id) => {}
            _ if survey() => {}
            other => {
                return Err(TestCaseError::fail(format!(
                    "a well-formed message is read differently: {other:?}\nbytes: {}",
                    hex(&bytes)
                )))
            }
        }
        Ok(())
    });
    report("well-formed", cases, &seen);
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn malformed_messages_diverge_only_as_listed() {
    let listed = listed_ids(DIVERGENCES);
    let seen = Mutex::new(BTreeMap::new());
    let mut runner = TestRunner::new(config());
    let cases = runner.config().cases;
    let result = runner.run(&malformed(), |bytes| {
        let o = compare(&bytes);
        tally(&seen, &o, &bytes);
        if let Outcome::Diverge { id, detail } = &o {
            if !listed.contains(id) && !survey() {
                return Err(TestCaseError::fail(format!(
                    "divergence `{id}` is not in docs/hickory-divergences.md: {detail}\nbytes: {}",
                    hex(&bytes)
                )));
            }
        }
        Ok(())
    });
    report("malformed", cases, &seen);
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Each row has an example in the "Examples" block (`id hex` lines) that still produces the
/// row's id, so a row whose divergence went away or changed fails too.
#[test]
fn every_listed_divergence_has_a_live_example() {
    let examples: BTreeMap<&str, &str> = DIVERGENCES
        .split("```text")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("an Examples block in docs/hickory-divergences.md")
        .lines()
        .filter_map(|l| l.trim().split_once(' '))
        .collect();
    let listed = listed_ids(DIVERGENCES);
    assert!(!listed.is_empty(), "no rows in docs/hickory-divergences.md");
    for id in &listed {
        let hex = examples
            .get(id.as_str())
            .unwrap_or_else(|| panic!("row `{id}` has no example"));
        let o = compare(&unhex(hex.trim()));
        assert_eq!(
            o.id(),
            Some(id.as_str()),
            "the example of `{id}` now gives {o:?}"
        );
    }
    for id in examples.keys() {
        assert!(listed.contains(*id), "example for `{id}`, which has no row");
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex example"))
        .collect()
}
