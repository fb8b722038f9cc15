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
use std::sync::Mutex;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};

use compare::{compare, listed_ids, listed_valid_ids, Outcome};
use dnspect_core::wire::{Class, EdnsOption, Message, Name, RData, RType, Record, SvcParam};

const DIVERGENCES: &str = include_str!("../../docs/hickory-divergences.md");

/// Default cases per property when PROPTEST_CASES is not set.
const DEFAULT_CASES: u32 = 4000;

mod gen;

use gen::{bytes, client_subnet, name, Profile};

/// What hickory models: the types both libraries lay out, types neither does, and values in the
/// syntax hickory parses (CAA properties, ALPN IDs, sorted mandatory keys, well-formed ECS).
struct Hickory;

impl Profile for Hickory {
    const TYPES: &'static [RType] = &[
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
    const TYPED_WEIGHT: u32 = 10;
    const SORTED_MANDATORY: bool = true;
    const EDE_TEXT: &'static str = "[ -~]{0,12}";

    /// Types both libraries keep as opaque bytes (RFC 3597): neither has a layout for them.
    /// (Types hickory has a layout for and dnspect does not, such as TSIG, are left to the
    /// malformed campaign.)
    fn opaque_type() -> BoxedStrategy<RType> {
        prop_oneof![
            select(&[RType(65280), RType(65534)][..]),
            (300u16..32768).prop_map(RType),
        ]
        .boxed()
    }

    fn mandatory_key() -> BoxedStrategy<u16> {
        (1u16..7).boxed()
    }

    /// ALPN IDs are opaque octets (RFC 9460 7.1.1); mostly the usual ASCII ones.
    fn alpn_id() -> BoxedStrategy<Vec<u8>> {
        prop_oneof![4 => "[a-z0-9/.-]{1,8}".prop_map(String::into_bytes), 1 => bytes(1..=10)]
            .boxed()
    }

    /// No dohpath, no empty ECH config, no key 65535.
    fn keeps(p: &SvcParam) -> bool {
        !matches!(
            p,
            SvcParam::Dohpath { .. } | SvcParam::Unknown { number: 65535, .. }
        ) && !matches!(p, SvcParam::Ech { config } if config.is_empty())
    }

    fn caa() -> BoxedStrategy<RData> {
        caa().boxed()
    }

    fn class() -> BoxedStrategy<Class> {
        prop_oneof![6 => Just(Class::IN), 1 => select(&[Class::CH, Class::HS]), 1 => (5u16..250).prop_map(Class)].boxed()
    }

    fn nsid() -> BoxedStrategy<EdnsOption> {
        bytes(1..=16).prop_map(|id| EdnsOption::Nsid { id }).boxed()
    }

    fn client_subnet() -> BoxedStrategy<EdnsOption> {
        prop_oneof![client_subnet::<4>(1), client_subnet::<16>(2)].boxed()
    }

    fn udp_size() -> BoxedStrategy<u16> {
        prop_oneof![Just(512u16), Just(1232), Just(4096), any::<u16>()].boxed()
    }

    fn opcode(raw: u8) -> u8 {
        // UPDATE (5) changes how hickory reads empty RDATA (RFC 2136); see the table.
        if raw == 5 {
            0
        } else {
            raw
        }
    }

    fn qtype() -> BoxedStrategy<RType> {
        prop_oneof![4 => Self::rtype(), 1 => select(&[RType::ANY, RType(252), RType(251), RType::OPT][..])].boxed()
    }

    fn qclass() -> BoxedStrategy<Class> {
        prop_oneof![4 => Self::class(), 1 => Just(Class::ANY)].boxed()
    }
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

fn message() -> BoxedStrategy<Message> {
    Hickory::message()
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

/// Runs `check` on what the two decoders make of each generated message, tallies the outcomes
/// and prints them as `what`; fails on the first case `check` rejects.
fn campaign(
    what: &str,
    messages: impl Strategy<Value = Vec<u8>>,
    check: impl Fn(&Outcome) -> Result<(), String>,
) {
    let seen = Mutex::new(BTreeMap::new());
    let mut runner = TestRunner::new(config());
    let cases = runner.config().cases;
    let result = runner.run(&messages, |bytes| {
        let o = compare(&bytes);
        tally(&seen, &o, &bytes);
        match check(&o) {
            Err(e) if !survey() => Err(TestCaseError::fail(format!("{e}\nbytes: {}", hex(&bytes)))),
            _ => Ok(()),
        }
    });
    report(what, cases, &seen);
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn well_formed_messages_read_the_same() {
    let valid = listed_valid_ids(DIVERGENCES);
    campaign("well-formed", wire_message(), |o| match o {
        Outcome::Agree => Ok(()),
        Outcome::Diverge { id, .. } if valid.contains(id) => Ok(()),
        other => Err(format!(
            "a well-formed message is read differently: {other:?}"
        )),
    });
}

#[test]
fn malformed_messages_diverge_only_as_listed() {
    let listed = listed_ids(DIVERGENCES);
    campaign("malformed", malformed(), |o| match o {
        Outcome::Diverge { id, detail } if !listed.contains(id) => Err(format!(
            "divergence `{id}` is not in docs/hickory-divergences.md: {detail}"
        )),
        _ => Ok(()),
    });
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
