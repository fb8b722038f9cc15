//! RDATA of the less common types, read field by field: RFC 1035's mail types (MB, MG, MR, MD,
//! MF, MINFO), AFSDB, RT, KX, PX, RP, NSAP-PTR, LP, TALINK, X25, ISDN, GPOS, WKS, LOC, CERT, APL,
//! NSAP, DHCID, OPENPGPKEY, CSYNC, ZONEMD, L32, L64, NID, EUI48, EUI64 and URI.
//!
//! These types have no variant of their own in [`RData`](super::rdata::RData): each is a list of
//! [`RdField`]s in wire order, which decodes with spans like every other RDATA, prints as dig
//! prints the type and encodes back to the same bytes. Reading them (rather than keeping them as
//! RFC 3597 opaque bytes) matters beyond presentation: the mail types may carry compressed names
//! (RFC 3597 4), and RP, AFSDB, RT and PX names may arrive compressed from old servers; opaque
//! bytes would keep the pointers, meaningless in any other message.

use core::fmt::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::encode::Encoder;
use super::error::WireError;
use super::name::Name;
use super::rdata::Reader;
use super::spans::Sink;
use super::text::{self, serde_bytes, write_quoted};
use super::types::RType;

/// One field of a field-by-field RDATA.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum RdField {
    U8 {
        value: u8,
    },
    U16 {
        value: u16,
    },
    U32 {
        value: u32,
    },
    Name {
        name: Name,
    },
    /// A character-string (a length byte, then the octets), printed quoted.
    Text {
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        text: Vec<u8>,
    },
    /// The rest of the RDATA as one string without a length byte (URI's target), printed quoted.
    Rest {
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        text: Vec<u8>,
    },
    /// The rest of the RDATA, printed in uppercase hex as dig prints digests.
    Hex {
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        data: Vec<u8>,
    },
    /// The rest of the RDATA, printed in base64.
    Base64 {
        #[serde(with = "serde_bytes::base64")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        data: Vec<u8>,
    },
    /// NSAP (RFC 1706): the rest of the RDATA as `0x` and hex.
    Nsap {
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        data: Vec<u8>,
    },
    Ipv4 {
        address: Ipv4Addr,
    },
    /// An NSEC-style type bitmap (CSYNC).
    Types {
        types: Vec<RType>,
    },
    /// WKS's port bitmap (RFC 1035 3.4.2): bit N set means port N.
    Ports {
        ports: Vec<u16>,
    },
    /// EUI48/EUI64 (RFC 7043): hex bytes joined by `-`.
    Eui {
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        data: Vec<u8>,
    },
    /// A 64-bit ILNP locator or node ID (RFC 6742): four groups of four hex digits. Held as
    /// its 8 bytes (hex in JSON: a JavaScript number cannot hold 64 bits).
    Locator {
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        data: Vec<u8>,
    },
    /// CERT's certificate type (RFC 4398 2.1), by mnemonic where it has one.
    CertType {
        value: u16,
    },
    /// A DNSSEC algorithm number (CERT), by mnemonic where it has one.
    Algorithm {
        value: u8,
    },
    /// LOC (RFC 1876): the whole 16-byte version 0 RDATA.
    Loc {
        size: u8,
        horizontal_precision: u8,
        vertical_precision: u8,
        latitude: u32,
        longitude: u32,
        altitude: u32,
    },
    /// APL (RFC 3123): address prefix items.
    Apl {
        items: Vec<AplItem>,
    },
    /// A 48-bit number (TSIG's time signed, RFC 8945 4.2).
    U48 {
        value: u64,
    },
    /// Octets after a 16-bit length (TSIG's MAC and other data), printed as the length and, if
    /// any, base64.
    Sized {
        #[serde(with = "serde_bytes::base64")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        data: Vec<u8>,
    },
    /// An RCODE, by mnemonic (TSIG's error: 16 is BADSIG here, RFC 8945 4.2).
    Rcode {
        value: u16,
    },
    Ipv6 {
        address: Ipv6Addr,
    },
    /// IPSECKEY's gateway of type 0 (RFC 4025 2.3): no bytes, printed `.`.
    NoGateway,
    /// HIP's fixed part (RFC 8005 5): PK algorithm, HIT and public key, each HIT/key length on
    /// the wire before them.
    Hip {
        algorithm: u8,
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        hit: Vec<u8>,
        #[serde(with = "serde_bytes::base64")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        public_key: Vec<u8>,
    },
}

/// One APL item (RFC 3123 4).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AplItem {
    pub family: u16,
    pub prefix: u8,
    pub negation: bool,
    /// The address octets as sent (trailing zero octets omitted).
    #[serde(with = "serde_bytes::hex")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub address: Vec<u8>,
}

/// Whether `rtype` is read field by field here.
pub(crate) fn handles(rtype: RType) -> bool {
    matches!(
        rtype.0,
        3 | 4
            | 7
            | 8
            | 9
            | 11
            | 14
            | 17..=23
            | 26
            | 27
            | 29
            | 36
            | 37
            | 42
            | 45
            | 49
            | 55
            | 58
            | 61..=63
            | 104..=109
            | 250
            | 256
            | 260
    )
}

fn show_hex(b: &[u8]) -> String {
    text::hex_upper(b)
}
fn show_b64(b: &[u8]) -> String {
    text::base64(b)
}

/// Reads the RDATA of `rtype` (one [`handles`] accepts) field by field.
pub(crate) fn decode<S: Sink>(r: &mut Reader<'_, '_, S>) -> Result<Vec<RdField>, WireError> {
    let name = |r: &mut Reader<'_, '_, S>, label| r.name(label).map(|name| RdField::Name { name });
    let u16f = |r: &mut Reader<'_, '_, S>, label| r.u16(label).map(|value| RdField::U16 { value });
    let text =
        |r: &mut Reader<'_, '_, S>, label| r.char_string(label).map(|text| RdField::Text { text });
    let rtype = r.rtype;
    Ok(match rtype.0 {
        // MD, MF, MB, MG, MR (RFC 1035 3.3), NSAP-PTR (RFC 1348).
        3 | 4 | 7 | 8 | 9 | 23 => vec![name(r, "name")?],
        // MINFO (RFC 1035 3.3.7), RP (RFC 1183 2.2), TALINK.
        14 => vec![name(r, "rmailbx")?, name(r, "emailbx")?],
        17 => vec![name(r, "mbox")?, name(r, "txt")?],
        58 => vec![name(r, "previous")?, name(r, "next")?],
        // AFSDB (RFC 1183 1), RT (RFC 1183 3.3), KX (RFC 2230), LP (RFC 6742).
        18 => vec![u16f(r, "subtype")?, name(r, "hostname")?],
        21 | 36 | 107 => vec![u16f(r, "preference")?, name(r, "host")?],
        // PX (RFC 2163).
        26 => vec![
            u16f(r, "preference")?,
            name(r, "map822")?,
            name(r, "mapx400")?,
        ],
        // X25, ISDN (RFC 1183 3.1, 3.2), GPOS (RFC 1712).
        19 => vec![text(r, "PSDN address")?],
        20 => {
            let mut v = vec![text(r, "ISDN address")?];
            if r.remaining() > 0 {
                v.push(text(r, "subaddress")?);
            }
            v
        }
        27 => vec![
            text(r, "longitude")?,
            text(r, "latitude")?,
            text(r, "altitude")?,
        ],
        11 => {
            let b = r.array::<4>("address", |b| {
                Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
            })?;
            let protocol = r.u8("protocol")?;
            let bitmap = r.rest("port bitmap", |b| {
                let n = b.iter().map(|x| x.count_ones()).sum::<u32>();
                format!("{n} port(s)")
            })?;
            let ports = (0..bitmap.len() * 8)
                .filter(|i| bitmap[i / 8] & (0x80 >> (i % 8)) != 0)
                .map(|i| i as u16)
                .collect();
            vec![
                RdField::Ipv4 {
                    address: Ipv4Addr::from(b),
                },
                RdField::U8 { value: protocol },
                RdField::Ports { ports },
            ]
        }
        22 => vec![RdField::Nsap {
            data: r.rest("NSAP", |b| format!("0x{}", text::hex(b)))?,
        }],
        29 => vec![loc(r)?],
        37 => vec![
            RdField::CertType {
                value: r.u16("certificate type")?,
            },
            u16f(r, "key tag")?,
            RdField::Algorithm {
                value: r.u8("algorithm")?,
            },
            RdField::Base64 {
                data: r.rest("certificate", show_b64)?,
            },
        ],
        42 => vec![apl(r)?],
        // DHCID (RFC 4701), OPENPGPKEY (RFC 7929).
        49 | 61 => vec![RdField::Base64 {
            data: r.rest(
                if rtype.0 == 49 {
                    "digest"
                } else {
                    "public key"
                },
                show_b64,
            )?,
        }],
        // CSYNC (RFC 7477).
        62 => vec![
            RdField::U32 {
                value: r.u32("SOA serial")?,
            },
            u16f(r, "flags")?,
            RdField::Types {
                types: r.type_bitmap()?,
            },
        ],
        // ZONEMD (RFC 8976).
        63 => vec![
            RdField::U32 {
                value: r.u32("serial")?,
            },
            RdField::U8 {
                value: r.u8("scheme")?,
            },
            RdField::U8 {
                value: r.u8("hash algorithm")?,
            },
            RdField::Hex {
                data: r.rest("digest", show_hex)?,
            },
        ],
        // NID, L64 (RFC 6742).
        104 | 106 => {
            let pref = u16f(r, "preference")?;
            let b = r.array::<8>(if rtype.0 == 104 { "node ID" } else { "locator" }, |b| {
                locator_text(u64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
            })?;
            vec![pref, RdField::Locator { data: b.to_vec() }]
        }
        105 => {
            let pref = u16f(r, "preference")?;
            let b = r.array::<4>("locator", |b| {
                Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
            })?;
            vec![
                pref,
                RdField::Ipv4 {
                    address: Ipv4Addr::from(b),
                },
            ]
        }
        // EUI48, EUI64 (RFC 7043): exactly 6 or 8 bytes.
        108 | 109 => {
            let want = if rtype.0 == 108 { 6 } else { 8 };
            if r.remaining() != want {
                return Err(WireError::rdata(
                    r.pos,
                    rtype,
                    format!(
                        "an {rtype} address is {want} bytes (RFC 7043), this RDATA has {}",
                        r.remaining()
                    ),
                ));
            }
            vec![RdField::Eui {
                data: r.rest("address", eui_text)?,
            }]
        }
        // IPSECKEY (RFC 4025 2): precedence, gateway type, algorithm, gateway, key.
        45 => {
            let precedence = r.u8("precedence")?;
            let at = r.pos;
            let kind = r.u8("gateway type")?;
            let algorithm = r.u8("algorithm")?;
            let gateway = gateway(r, kind, at)?;
            vec![
                RdField::U8 { value: precedence },
                RdField::U8 { value: kind },
                RdField::U8 { value: algorithm },
                gateway,
                RdField::Base64 {
                    data: r.rest("public key", show_b64)?,
                },
            ]
        }
        // AMTRELAY (RFC 8777 4): precedence, discovery-optional bit and type, relay.
        260 => {
            let precedence = r.u8("precedence")?;
            let at = r.pos;
            let dt = r.u8("D and relay type")?;
            let relay = gateway(r, dt & 0x7f, at)?;
            vec![
                RdField::U8 { value: precedence },
                RdField::U8 { value: dt >> 7 },
                RdField::U8 { value: dt & 0x7f },
                relay,
            ]
        }
        // HIP (RFC 8005 5).
        55 => {
            let hit_len = usize::from(r.u8("HIT length")?);
            let algorithm = r.u8("PK algorithm")?;
            let pk_len = usize::from(r.u16("PK length")?);
            let hit = r.bytes(hit_len, "HIT", show_hex)?;
            let public_key = r.bytes(pk_len, "public key", show_b64)?;
            let mut v = vec![RdField::Hip {
                algorithm,
                hit,
                public_key,
            }];
            while r.remaining() > 0 {
                v.push(name(r, "rendezvous server")?);
            }
            v
        }
        // TSIG (RFC 8945 4.2).
        250 => {
            let algorithm = name(r, "algorithm")?;
            let at = r.pos;
            let hi = r.take_array::<6>("time signed")?;
            let time = hi.iter().fold(0u64, |a, &b| a << 8 | u64::from(b));
            r.sink.leaf(at, 6, "time signed", || time.to_string());
            let fudge = u16f(r, "fudge")?;
            let mac_len = usize::from(r.u16("MAC size")?);
            let mac = r.bytes(mac_len, "MAC", show_b64)?;
            let original = u16f(r, "original ID")?;
            let error = r.u16("error")?;
            let other_len = usize::from(r.u16("other length")?);
            let other = r.bytes(other_len, "other data", show_hex)?;
            vec![
                algorithm,
                RdField::U48 { value: time },
                fudge,
                RdField::Sized { data: mac },
                original,
                RdField::Rcode { value: error },
                RdField::Sized { data: other },
            ]
        }
        // URI (RFC 7553).
        256 => vec![
            u16f(r, "priority")?,
            u16f(r, "weight")?,
            RdField::Rest {
                text: r.rest("target", |b| {
                    let mut s = String::new();
                    let _ = write_quoted(&mut s, b);
                    s
                })?,
            },
        ],
        _ => {
            return Err(WireError::rdata(
                r.pos,
                rtype,
                "no field-by-field layout for this type",
            ))
        }
    })
}

/// An IPSECKEY gateway or AMTRELAY relay of `kind` (RFC 4025 2.3, RFC 8777 4.2): none, IPv4,
/// IPv6 or a name; `at` is the offset of the type byte.
fn gateway<S: Sink>(r: &mut Reader<'_, '_, S>, kind: u8, at: usize) -> Result<RdField, WireError> {
    Ok(match kind {
        0 => RdField::NoGateway,
        1 => {
            let b = r.array::<4>("gateway", |b| {
                Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
            })?;
            RdField::Ipv4 {
                address: Ipv4Addr::from(b),
            }
        }
        2 => {
            let b = r.array::<16>("gateway", |b| {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                Ipv6Addr::from(a).to_string()
            })?;
            RdField::Ipv6 {
                address: Ipv6Addr::from(b),
            }
        }
        3 => RdField::Name {
            name: r.name("gateway")?,
        },
        k => {
            return Err(WireError::rdata(
                at,
                r.rtype,
                format!("gateway type {k}: 0 to 3 are defined (RFC 4025 2.3, RFC 8777 4.2.3)"),
            ))
        }
    })
}

/// LOC (RFC 1876 2): version 0 only (the caller keeps other versions opaque).
fn loc<S: Sink>(r: &mut Reader<'_, '_, S>) -> Result<RdField, WireError> {
    let at = r.pos;
    let version = r.u8("version")?;
    if version != 0 {
        return Err(WireError::rdata(
            at,
            r.rtype,
            format!("LOC version {version}: only version 0 is defined (RFC 1876 2)"),
        ));
    }
    let mut sizes = [0u8; 3];
    for (i, label) in ["size", "horizontal precision", "vertical precision"]
        .into_iter()
        .enumerate()
    {
        let p = r.pos;
        let v = r.u8(label)?;
        if v >> 4 > 9 || v & 0xf > 9 {
            return Err(WireError::rdata(
                p,
                r.rtype,
                format!(
                    "LOC {label} {v:#04x}: base and exponent are decimal digits 0 to 9 (RFC 1876 2)"
                ),
            ));
        }
        sizes[i] = v;
    }
    Ok(RdField::Loc {
        size: sizes[0],
        horizontal_precision: sizes[1],
        vertical_precision: sizes[2],
        latitude: r.u32("latitude")?,
        longitude: r.u32("longitude")?,
        altitude: r.u32("altitude")?,
    })
}

/// APL (RFC 3123 4): items until the end of the RDATA.
fn apl<S: Sink>(r: &mut Reader<'_, '_, S>) -> Result<RdField, WireError> {
    let mut items = Vec::new();
    while r.remaining() > 0 {
        let family = r.u16("address family")?;
        let prefix = r.u8("prefix")?;
        let at = r.pos;
        let nl = r.u8("negation and AFD length")?;
        let len = usize::from(nl & 0x7f);
        let max = match family {
            1 => Some(4),
            2 => Some(16),
            _ => None,
        };
        if max.is_some_and(|m| len > m) {
            return Err(WireError::rdata(
                at,
                r.rtype,
                format!("APL address of {len} bytes for address family {family} (RFC 3123 4)"),
            ));
        }
        let address = r.bytes(len, "address part", text::hex)?;
        items.push(AplItem {
            family,
            prefix,
            negation: nl & 0x80 != 0,
            address,
        });
    }
    Ok(RdField::Apl { items })
}

/// Writes the fields back in wire order (names uncompressed).
pub(crate) fn encode(fields: &[RdField], enc: &mut Encoder) -> Result<(), WireError> {
    for f in fields {
        match f {
            RdField::U8 { value } | RdField::Algorithm { value } => enc.u8(*value),
            RdField::U16 { value } | RdField::CertType { value } => enc.u16(*value),
            RdField::U32 { value } => enc.u32(*value),
            RdField::Name { name } => enc.name(name, false),
            RdField::Text { text } => enc.char_string(text, "character-string")?,
            RdField::Rest { text: data }
            | RdField::Hex { data }
            | RdField::Base64 { data }
            | RdField::Nsap { data }
            | RdField::Eui { data } => enc.bytes(data),
            RdField::Ipv4 { address } => enc.bytes(&address.octets()),
            RdField::Types { types } => super::rdata::encode_type_bitmap(types, enc),
            RdField::Ports { ports } => {
                let Some(max) = ports.iter().max() else {
                    continue;
                };
                let mut bits = vec![0u8; usize::from(*max) / 8 + 1];
                for p in ports {
                    bits[usize::from(*p) / 8] |= 0x80 >> (p % 8);
                }
                enc.bytes(&bits);
            }
            RdField::Locator { data } => enc.bytes(data),
            RdField::Loc {
                size,
                horizontal_precision,
                vertical_precision,
                latitude,
                longitude,
                altitude,
            } => {
                enc.bytes(&[0, *size, *horizontal_precision, *vertical_precision]);
                enc.u32(*latitude);
                enc.u32(*longitude);
                enc.u32(*altitude);
            }
            RdField::U48 { value } => enc.bytes(&value.to_be_bytes()[2..]),
            RdField::Sized { data } => {
                let len = u16::try_from(data.len())
                    .map_err(|_| WireError::invalid("TSIG", "field over 65535 bytes"))?;
                enc.u16(len);
                enc.bytes(data);
            }
            RdField::Rcode { value } => enc.u16(*value),
            RdField::Ipv6 { address } => enc.bytes(&address.octets()),
            RdField::NoGateway => {}
            RdField::Hip {
                algorithm,
                hit,
                public_key,
            } => {
                let hl = u8::try_from(hit.len())
                    .map_err(|_| WireError::invalid("HIP", "HIT over 255 bytes"))?;
                let pl = u16::try_from(public_key.len())
                    .map_err(|_| WireError::invalid("HIP", "public key over 65535 bytes"))?;
                enc.u8(hl);
                enc.u8(*algorithm);
                enc.u16(pl);
                enc.bytes(hit);
                enc.bytes(public_key);
            }
            RdField::Apl { items } => {
                for i in items {
                    let len = u8::try_from(i.address.len())
                        .ok()
                        .filter(|l| *l < 0x80)
                        .ok_or_else(|| WireError::invalid("APL", "address part over 127 bytes"))?;
                    enc.u16(i.family);
                    enc.u8(i.prefix);
                    enc.u8(len | if i.negation { 0x80 } else { 0 });
                    enc.bytes(&i.address);
                }
            }
        }
    }
    Ok(())
}

fn eui_text(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join("-")
}

fn locator_text(v: u64) -> String {
    format!(
        "{:04x}:{:04x}:{:04x}:{:04x}",
        v >> 48,
        (v >> 32) & 0xffff,
        (v >> 16) & 0xffff,
        v & 0xffff
    )
}

/// CERT types (RFC 4398 2.1), as dig and dnspython name them.
fn cert_type(v: u16) -> Option<&'static str> {
    Some(match v {
        1 => "PKIX",
        2 => "SPKI",
        3 => "PGP",
        4 => "IPKIX",
        5 => "ISPKI",
        6 => "IPGP",
        7 => "ACPKIX",
        8 => "IACPKIX",
        253 => "URI",
        254 => "OID",
        _ => return None,
    })
}

/// DNSSEC algorithm mnemonics (IANA "DNS Security Algorithm Numbers").
fn algorithm(v: u8) -> Option<&'static str> {
    Some(match v {
        1 => "RSAMD5",
        2 => "DH",
        3 => "DSA",
        5 => "RSASHA1",
        6 => "DSA-NSEC3-SHA1",
        7 => "RSASHA1-NSEC3-SHA1",
        8 => "RSASHA256",
        10 => "RSASHA512",
        12 => "ECC-GOST",
        13 => "ECDSAP256SHA256",
        14 => "ECDSAP384SHA384",
        15 => "ED25519",
        16 => "ED448",
        252 => "INDIRECT",
        253 => "PRIVATEDNS",
        254 => "PRIVATEOID",
        _ => return None,
    })
}

/// A LOC size or precision byte (base and power of ten, in centimetres) in metres, as dig
/// writes it: whole metres without decimals, less than a metre as `0.NN`.
fn loc_size(v: u8) -> String {
    let (base, exp) = (u64::from(v >> 4), u32::from(v & 0xf));
    if exp >= 2 {
        format!("{}", base * 10u64.pow(exp - 2))
    } else {
        format!("0.{:02}", base * 10u64.pow(exp))
    }
}

/// A LOC latitude or longitude: degrees, minutes, seconds with milliseconds and hemisphere.
fn loc_angle(v: u32, pos: char, neg: char) -> String {
    let (hemi, mut x) = if v >= 0x8000_0000 {
        (pos, v - 0x8000_0000)
    } else {
        (neg, 0x8000_0000 - v)
    };
    let deg = x / 3_600_000;
    x %= 3_600_000;
    let min = x / 60_000;
    x %= 60_000;
    format!("{deg} {min} {}.{:03} {hemi}", x / 1000, x % 1000)
}

impl fmt::Display for RdField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdField::U8 { value } => write!(f, "{value}"),
            RdField::U16 { value } => write!(f, "{value}"),
            RdField::U32 { value } => write!(f, "{value}"),
            RdField::Name { name } => write!(f, "{name}"),
            RdField::Text { text } | RdField::Rest { text } => write_quoted(f, text),
            RdField::Hex { data } => f.write_str(&text::hex_upper(data)),
            RdField::Base64 { data } => f.write_str(&text::base64(data)),
            RdField::Nsap { data } => write!(f, "0x{}", text::hex(data)),
            RdField::Ipv4 { address } => write!(f, "{address}"),
            RdField::Types { types } => {
                for (i, t) in types.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    write!(f, "{t}")?;
                }
                Ok(())
            }
            RdField::Ports { ports } => {
                for (i, p) in ports.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
            RdField::Eui { data } => f.write_str(&eui_text(data)),
            RdField::Locator { data } => {
                let mut b = [0u8; 8];
                let n = data.len().min(8);
                b[8 - n..].copy_from_slice(&data[data.len() - n..]);
                f.write_str(&locator_text(u64::from_be_bytes(b)))
            }
            RdField::CertType { value } => match cert_type(*value) {
                Some(m) => f.write_str(m),
                None => write!(f, "{value}"),
            },
            RdField::Algorithm { value } => match algorithm(*value) {
                Some(m) => f.write_str(m),
                None => write!(f, "{value}"),
            },
            RdField::Loc {
                size,
                horizontal_precision,
                vertical_precision,
                latitude,
                longitude,
                altitude,
            } => {
                // RFC 1876 3 / dig: altitude in metres above 100,000 m below the WGS 84 spheroid.
                let (sign, cm) = if *altitude < 10_000_000 {
                    ("-", 10_000_000 - altitude)
                } else {
                    ("", altitude - 10_000_000)
                };
                write!(
                    f,
                    "{} {} {sign}{}.{:02}m {}m {}m {}m",
                    loc_angle(*latitude, 'N', 'S'),
                    loc_angle(*longitude, 'E', 'W'),
                    cm / 100,
                    cm % 100,
                    loc_size(*size),
                    loc_size(*horizontal_precision),
                    loc_size(*vertical_precision)
                )
            }
            RdField::U48 { value } => write!(f, "{value}"),
            RdField::Sized { data } if data.is_empty() => f.write_str("0"),
            RdField::Sized { data } => write!(f, "{} {}", data.len(), text::base64(data)),
            RdField::Rcode { value } => match value {
                16 => f.write_str("BADSIG"),
                v => write!(f, "{}", super::types::Rcode(*v)),
            },
            RdField::Ipv6 { address } => write!(f, "{address}"),
            RdField::NoGateway => f.write_char('.'),
            RdField::Hip {
                algorithm,
                hit,
                public_key,
            } => write!(
                f,
                "{algorithm} {} {}",
                text::hex_upper(hit),
                text::base64(public_key)
            ),
            RdField::Apl { items } => {
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    if it.negation {
                        f.write_char('!')?;
                    }
                    let mut a = it.address.clone();
                    match it.family {
                        1 => {
                            a.resize(4, 0);
                            write!(f, "1:{}", Ipv4Addr::new(a[0], a[1], a[2], a[3]))?;
                        }
                        2 => {
                            a.resize(16, 0);
                            let mut b = [0u8; 16];
                            b.copy_from_slice(&a);
                            write!(f, "2:{}", Ipv6Addr::from(b))?;
                        }
                        fam => write!(f, "{fam}:{}", text::hex(&a))?,
                    }
                    write!(f, "/{}", it.prefix)?;
                }
                Ok(())
            }
        }
    }
}

/// The fields of one RDATA, separated by spaces (empty fields, as an empty bitmap, add nothing).
pub(crate) fn write_fields(f: &mut fmt::Formatter<'_>, fields: &[RdField]) -> fmt::Result {
    let mut first = true;
    for field in fields {
        let s = field.to_string();
        if s.is_empty() {
            continue;
        }
        if !first {
            f.write_char(' ')?;
        }
        f.write_str(&s)?;
        first = false;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::wire::text::unhex;
    use crate::wire::{Message, RData, RType};

    /// A response to `a. IN <type>` with one answer whose RDATA is `rdata` (hex; `c00c` points
    /// to the owner `a.` at offset 12).
    fn answer(rtype: u16, rdata: &str) -> Vec<u8> {
        let rd = unhex(rdata).unwrap_or_default();
        let mut m = unhex("000081000001000100000000").unwrap_or_default();
        m.extend_from_slice(&[1, b'a', 0]);
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0xc0, 12]);
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        m.extend_from_slice(&rd);
        m
    }

    fn text(rtype: u16, rdata: &str) -> String {
        match Message::from_wire(&answer(rtype, rdata)) {
            Ok(m) => m.answers[0].rdata.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn compressed_names_in_mail_types_and_rp_are_followed_and_written_out() {
        // MINFO (RFC 1035 3.3.7) and RP (RFC 1183 2.2) pointing at the owner: RFC 3597 4 lets
        // these be compressed; the bytes of the pointer are not the name.
        for (t, rd, want) in [
            (14u16, "c00cc00c", "a. a."),
            (7, "c00c", "a."),
            (17, "0162c00c00", "b.a. ."),
            (18, "0001c00c", "1 a."),
        ] {
            let wire = answer(t, rd);
            let m = Message::from_wire(&wire).unwrap_or_else(|e| panic!("type {t}: {e}"));
            assert_eq!(m.answers[0].rdata.to_string(), want, "type {t}");
            assert!(matches!(m.answers[0].rdata, RData::Fields { .. }));
            // Written uncompressed, the name is whole: the copy decodes alone, the same.
            let plain = m.to_wire_uncompressed().unwrap_or_default();
            let again = Message::from_wire(&plain).unwrap_or_else(|e| panic!("type {t}: {e}"));
            assert_eq!(again, m, "type {t}");
        }
    }

    #[test]
    fn rare_types_print_as_dig_prints_them() {
        // RFC 1876 appendix A's example (cambridge-net.kei.com), as dig shows it.
        assert_eq!(
            text(29, "0012161389172dd070be15f000988d20"),
            "42 21 54.000 N 71 6 18.000 W -24.00m 1m 10000m 10m"
        );
        assert_eq!(text(11, "0a00000106e0000500"), "10.0.0.1 6 0 1 2 21 23");
        assert_eq!(
            text(42, "00011503c0a82000011c83c0a826"),
            "1:192.168.32.0/21 !1:192.168.38.0/28"
        );
        assert_eq!(text(108, "0123456789ab"), "01-23-45-67-89-ab");
        assert_eq!(text(104, "000a00144fffff20ee64"), "10 0014:4fff:ff20:ee64");
        assert_eq!(
            text(256, "000a0014687474703a2f2f612f"),
            "10 20 \"http://a/\""
        );
        assert_eq!(text(37, "fffeffffaa0102"), "65534 65535 170 AQI=");
        assert_eq!(text(37, "00010001080102"), "PKIX 1 RSASHA256 AQI=");
        assert_eq!(text(22, "4700"), "0x4700");
        assert_eq!(text(62, "000000010003000460000008"), "1 3 A NS AAAA");
    }

    #[test]
    fn rare_types_that_break_their_layout_are_errors_with_the_offset() {
        // An RT record with no RDATA (dpkt's `invalid_rr`), an EUI48 of 5 bytes, a LOC size
        // with a base above 9: each an error naming the record's RDATA.
        for (t, rd, what) in [
            (21u16, "", "preference"),
            (108, "0123456789", "6 bytes"),
            (29, "00a0161313899968e88ab4a1b6009896a0", "decimal digits"),
        ] {
            let e = Message::from_wire(&answer(t, rd)).expect_err("malformed");
            let s = e.to_string();
            assert!(s.contains(what), "type {t}: {s}");
            assert!(s.contains(&RType(t).to_string()), "type {t}: {s}");
            assert!(
                e.offset >= 29,
                "type {t}: offset {} is not in the RDATA",
                e.offset
            );
        }
        // A LOC of another version has no known layout: shown opaque, not an error.
        assert_eq!(text(29, "01"), "\\# 1 01");
    }
}
