//! Random DNS messages for the property tests (`roundtrip.rs`, `hickory_oracle.rs`).
//!
//! The names, labels, RDATA layouts, records, sections, headers and EDNS are written once here.
//! What each test varies (which types are typed, the SVCB parameters, CAA, the EDNS options, the
//! opcodes and question types) is a method of [`Profile`]; a test implements it for a unit
//! struct, overrides what it needs and draws from `P::message()`.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;

use proptest::collection::{btree_set, vec};
use proptest::prelude::*;
use proptest::sample::select;

use dnspect_core::wire::{
    Class, Edns, EdnsOption, Header, Message, Name, Opcode, Question, RData, RType, Record,
    SvcParam,
};

// ---- names ------------------------------------------------------------------------------------

/// Suffixes shared between names so that the compressor has something to find, including names
/// that differ only in case (never compressed onto each other) and labels with odd bytes.
pub const SUFFIXES: &[&str] = &[
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

pub fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => select(&["www", "mail", "ns1", "a", "b", "example", "com", "WWW", "_tcp", "_sip", "*", "xn--bcher-kva"][..])
            .prop_map(|s| s.as_bytes().to_vec()),
        3 => "[a-zA-Z0-9-]{1,12}".prop_map(String::into_bytes),
        // Odd bytes: dots, backslashes, quotes, NUL, 0xff, spaces.
        2 => vec(any::<u8>(), 1..=16),
        1 => vec(any::<u8>(), 40..=63),
    ]
}

pub fn name() -> impl Strategy<Value = Name> {
    (vec(label(), 0..4), 0..SUFFIXES.len()).prop_filter_map(
        "names over 255 octets",
        |(mut labels, s)| {
            let suffix: Name = SUFFIXES[s].parse().expect("suffixes parse");
            labels.extend(suffix.labels().map(<[u8]>::to_vec));
            Name::from_labels(&labels).ok()
        },
    )
}

// ---- RDATA pieces -----------------------------------------------------------------------------

pub fn bytes(len: RangeInclusive<usize>) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), len)
}

pub fn char_string() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![8 => bytes(0..=24), 1 => bytes(200..=255)]
}

pub fn type_list() -> impl Strategy<Value = Vec<RType>> {
    // The decoder returns the bitmap's types sorted and unique.
    btree_set(prop_oneof![3 => 0u16..300, 1 => any::<u16>()], 0..10)
        .prop_map(|s: BTreeSet<u16>| s.into_iter().map(RType).collect())
}

/// An EDNS Client Subnet option (RFC 7871 6) for `family` (1 or 2): as many address octets as
/// the source prefix covers, the rest zero.
pub fn client_subnet<const N: usize>(family: u16) -> impl Strategy<Value = EdnsOption> {
    let max = u8::try_from(N * 8).expect("an address length");
    (any::<[u8; N]>(), 0u8..=max).prop_map(move |(a, prefix)| {
        let n = usize::from(prefix).div_ceil(8);
        let mut address = a[..n].to_vec();
        if prefix % 8 != 0 {
            if let Some(last) = address.last_mut() {
                *last &= 0xffu8 << (8 - prefix % 8);
            }
        }
        EdnsOption::ClientSubnet {
            family,
            source_prefix: prefix,
            scope_prefix: 0,
            address,
        }
    })
}

/// What a test varies in the messages; the default methods are the shared generators.
pub trait Profile: 'static {
    /// The types drawn with a typed RDATA layout.
    const TYPES: &'static [RType];
    /// Weight of `TYPES` against `opaque_type` (which has weight 1).
    const TYPED_WEIGHT: u32;
    /// Whether the keys of an SVCB `mandatory` parameter are sorted and unique.
    const SORTED_MANDATORY: bool = false;
    /// The text of an Extended DNS Error option.
    const EDE_TEXT: &'static str = ".{0,12}";

    /// A type kept as opaque bytes (RFC 3597).
    fn opaque_type() -> BoxedStrategy<RType>;

    fn rtype() -> BoxedStrategy<RType> {
        prop_oneof![Self::TYPED_WEIGHT => select(Self::TYPES), 1 => Self::opaque_type()].boxed()
    }

    /// A key listed in an SVCB `mandatory` parameter.
    fn mandatory_key() -> BoxedStrategy<u16> {
        any::<u16>().boxed()
    }

    /// An ALPN protocol ID.
    fn alpn_id() -> BoxedStrategy<Vec<u8>> {
        bytes(1..=9).boxed()
    }

    /// Whether a generated SVCB parameter stays in the message.
    fn keeps(_param: &SvcParam) -> bool {
        true
    }

    fn svc_param() -> BoxedStrategy<SvcParam> {
        prop_oneof![
            vec(Self::mandatory_key(), 1..4).prop_map(|keys| SvcParam::Mandatory { keys }),
            vec(Self::alpn_id(), 1..4).prop_map(|ids| SvcParam::Alpn { ids }),
            Just(SvcParam::NoDefaultAlpn),
            any::<u16>().prop_map(|port| SvcParam::Port { port }),
            vec(any::<[u8; 4]>(), 1..4).prop_map(|a| SvcParam::Ipv4hint {
                addresses: a.into_iter().map(Ipv4Addr::from).collect()
            }),
            bytes(0..=32).prop_map(|config| SvcParam::Ech { config }),
            vec(any::<[u8; 16]>(), 1..3).prop_map(|a| SvcParam::Ipv6hint {
                addresses: a.into_iter().map(Ipv6Addr::from).collect()
            }),
            bytes(0..=20).prop_map(|template| SvcParam::Dohpath { template }),
            (8u16.., bytes(0..=10)).prop_map(|(number, value)| SvcParam::Unknown { number, value }),
        ]
        .boxed()
    }

    fn svc_params() -> BoxedStrategy<Vec<SvcParam>> {
        // Keys strictly increasing, as on the wire (RFC 9460 2.2).
        vec(Self::svc_param(), 0..5)
            .prop_map(|mut v| {
                v.retain(Self::keeps);
                v.sort_by_key(SvcParam::key);
                v.dedup_by_key(|p| p.key());
                for p in &mut v {
                    if let SvcParam::Mandatory { keys } = p {
                        if Self::SORTED_MANDATORY {
                            keys.sort_unstable();
                            keys.dedup();
                        }
                    }
                }
                v
            })
            .boxed()
    }

    fn caa() -> BoxedStrategy<RData> {
        (any::<u8>(), char_string(), bytes(0..=40))
            .prop_map(|(flags, tag, value)| RData::Caa { flags, tag, value })
            .boxed()
    }

    /// RDATA of a valid shape for `t`.
    fn rdata_for(t: RType) -> BoxedStrategy<RData> {
        match t {
            RType::A => any::<[u8; 4]>()
                .prop_map(|b| RData::A { address: b.into() })
                .boxed(),
            RType::AAAA => any::<[u8; 16]>()
                .prop_map(|b| RData::Aaaa { address: b.into() })
                .boxed(),
            RType::NS | RType::CNAME | RType::DNAME | RType::PTR => {
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
            RType::TXT | RType::SPF => vec(char_string(), 1..4)
                .prop_map(|strings| RData::Txt { strings })
                .boxed(),
            RType::HINFO => (char_string(), char_string())
                .prop_map(|(cpu, os)| RData::Hinfo { cpu, os })
                .boxed(),
            RType::SRV => (any::<[u16; 3]>(), name())
                .prop_map(|(v, target)| RData::Srv {
                    priority: v[0],
                    weight: v[1],
                    port: v[2],
                    target,
                })
                .boxed(),
            RType::NAPTR => (
                any::<[u16; 2]>(),
                [char_string(), char_string(), char_string()],
                name(),
            )
                .prop_map(|(v, [flags, services, regexp], replacement)| RData::Naptr {
                    order: v[0],
                    preference: v[1],
                    flags,
                    services,
                    regexp,
                    replacement,
                })
                .boxed(),
            RType::CAA => Self::caa(),
            // DS and DNSKEY share one wire layout: 16 bits, 8 bits, 8 bits, opaque bytes.
            RType::DS | RType::CDS | RType::DNSKEY | RType::CDNSKEY => {
                let ds = matches!(t, RType::DS | RType::CDS);
                (
                    any::<u16>(),
                    any::<[u8; 2]>(),
                    bytes(0..=if ds { 64 } else { 140 }),
                )
                    .prop_map(move |(a, b, data)| match ds {
                        true => RData::Ds {
                            key_tag: a,
                            algorithm: b[0],
                            digest_type: b[1],
                            digest: data,
                        },
                        false => RData::Dnskey {
                            flags: a,
                            protocol: b[0],
                            algorithm: b[1],
                            public_key: data,
                        },
                    })
                    .boxed()
            }
            RType::RRSIG => (
                any::<u16>(),
                any::<[u8; 2]>(),
                any::<[u32; 3]>(),
                any::<u16>(),
                name(),
                bytes(0..=100),
            )
                .prop_map(|(tc, al, times, key_tag, signer, signature)| RData::Rrsig {
                    type_covered: RType(tc),
                    algorithm: al[0],
                    labels: al[1],
                    original_ttl: times[0],
                    expiration: times[1],
                    inception: times[2],
                    key_tag,
                    signer,
                    signature,
                })
                .boxed(),
            RType::NSEC => (name(), type_list())
                .prop_map(|(next, types)| RData::Nsec { next, types })
                .boxed(),
            RType::NSEC3 | RType::NSEC3PARAM => {
                let nsec3 = t == RType::NSEC3;
                (
                    any::<[u8; 2]>(),
                    any::<u16>(),
                    bytes(0..=20),
                    bytes(0..=32),
                    type_list(),
                )
                    .prop_map(
                        move |(hf, iterations, salt, next_hashed, types)| match nsec3 {
                            true => RData::Nsec3 {
                                hash_algorithm: hf[0],
                                flags: hf[1],
                                iterations,
                                salt,
                                next_hashed,
                                types,
                            },
                            false => RData::Nsec3param {
                                hash_algorithm: hf[0],
                                flags: hf[1],
                                iterations,
                                salt,
                            },
                        },
                    )
                    .boxed()
            }
            RType::TLSA | RType::SMIMEA => (any::<[u8; 3]>(), bytes(0..=64))
                .prop_map(|(v, data)| RData::Tlsa {
                    usage: v[0],
                    selector: v[1],
                    matching_type: v[2],
                    data,
                })
                .boxed(),
            RType::SSHFP => (any::<[u8; 2]>(), bytes(0..=32))
                .prop_map(|(v, fingerprint)| RData::Sshfp {
                    algorithm: v[0],
                    fingerprint_type: v[1],
                    fingerprint,
                })
                .boxed(),
            RType::SVCB | RType::HTTPS => (any::<u16>(), name(), Self::svc_params())
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

    // ---- records and messages -----------------------------------------------------------------

    fn class() -> BoxedStrategy<Class> {
        prop_oneof![6 => Just(Class::IN), 1 => select(&[Class::CH, Class::HS, Class::NONE, Class::ANY][..]), 1 => any::<u16>().prop_map(Class)].boxed()
    }

    /// One RRset: 1 to 3 records of one owner, type, class and TTL.
    fn rrset() -> BoxedStrategy<Vec<Record>> {
        (
            name(),
            Self::rtype(),
            Self::class(),
            any::<u32>(),
            1..4usize,
        )
            .prop_flat_map(|(name, rtype, class, ttl, n)| {
                vec(Self::rdata_for(rtype), n).prop_map(move |rds| {
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
            })
            .boxed()
    }

    fn section() -> BoxedStrategy<Vec<Record>> {
        vec(Self::rrset(), 0..4)
            .prop_map(|sets| sets.into_iter().flatten().collect())
            .boxed()
    }

    fn nsid() -> BoxedStrategy<EdnsOption> {
        bytes(0..=16).prop_map(|id| EdnsOption::Nsid { id }).boxed()
    }

    fn client_subnet() -> BoxedStrategy<EdnsOption> {
        (
            prop_oneof![Just(1u16), Just(2), any::<u16>()],
            any::<[u8; 2]>(),
            bytes(0..=16),
        )
            .prop_map(|(family, p, address)| EdnsOption::ClientSubnet {
                family,
                source_prefix: p[0],
                scope_prefix: p[1],
                address,
            })
            .boxed()
    }

    fn edns_option() -> BoxedStrategy<EdnsOption> {
        prop_oneof![
            Self::nsid(),
            Self::client_subnet(),
            (any::<[u8; 8]>(), prop_oneof![Just(vec![]), bytes(8..=32)]).prop_map(|(c, server)| {
                EdnsOption::Cookie {
                    client: c.to_vec(),
                    server,
                }
            }),
            any::<Option<u16>>().prop_map(|timeout| EdnsOption::Keepalive { timeout }),
            bytes(0..=32).prop_map(|data| EdnsOption::Padding { data }),
            (any::<u16>(), Self::EDE_TEXT)
                .prop_map(|(code, text)| EdnsOption::ExtendedError { code, text }),
            (
                any::<u16>().prop_filter("typed option", |c| ![3, 8, 10, 11, 12, 15].contains(c)),
                bytes(0..=16)
            )
                .prop_map(|(code, data)| EdnsOption::Unknown { code, data }),
        ]
        .boxed()
    }

    fn udp_size() -> BoxedStrategy<u16> {
        any::<u16>().boxed()
    }

    fn edns() -> BoxedStrategy<Edns> {
        (
            Self::udp_size(),
            any::<[u8; 2]>(),
            any::<bool>(),
            0u16..0x8000,
            vec(Self::edns_option(), 0..4),
        )
            .prop_map(|(udp_size, v, dnssec_ok, z, options)| Edns {
                udp_size,
                ext_rcode: v[0],
                version: v[1],
                dnssec_ok,
                z,
                options,
            })
            .boxed()
    }

    /// The opcode of a header, from a random 4-bit value.
    fn opcode(raw: u8) -> u8 {
        raw
    }

    fn header() -> BoxedStrategy<Header> {
        (any::<u16>(), any::<[bool; 8]>(), 0u8..16, 0u8..16)
            .prop_map(|(id, b, opcode, rcode)| Header {
                id,
                qr: b[0],
                opcode: Opcode(Self::opcode(opcode)),
                aa: b[1],
                tc: b[2],
                rd: b[3],
                ra: b[4],
                z: b[5],
                ad: b[6],
                cd: b[7],
                rcode,
            })
            .boxed()
    }

    fn qtype() -> BoxedStrategy<RType> {
        Self::rtype()
    }

    fn qclass() -> BoxedStrategy<Class> {
        Self::class()
    }

    fn question() -> BoxedStrategy<Question> {
        (name(), Self::qtype(), Self::qclass())
            .prop_map(|(name, qtype, class)| Question { name, qtype, class })
            .boxed()
    }

    fn message() -> BoxedStrategy<Message> {
        let q = Self::question;
        (
            Self::header(),
            prop_oneof![1 => vec(q(), 0..1), 8 => vec(q(), 1..2), 1 => vec(q(), 2..4)],
            Self::section(),
            Self::section(),
            Self::section(),
            proptest::option::weighted(0.7, Self::edns()),
        )
            .prop_map(
                |(header, questions, answers, authority, additional, edns)| Message {
                    header,
                    questions,
                    answers,
                    authority,
                    additional,
                    edns,
                },
            )
            .boxed()
    }
}
