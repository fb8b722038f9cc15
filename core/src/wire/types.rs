//! Numeric DNS parameters (types, classes, opcodes, rcodes) and their mnemonics.
//!
//! Each is a transparent `u16`/`u8` newtype so that unknown values survive a round trip and
//! print the RFC 3597 way (`TYPE65280`, `CLASS3`).

use core::fmt;
use core::str::FromStr;

macro_rules! mnemonics {
    ($ty:ident($inner:ty), $prefix:literal, $( $konst:ident = $val:literal => $text:literal ),* $(,)?) => {
        impl $ty {
            $( pub const $konst: $ty = $ty($val); )*

            /// The mnemonic, if this value has one.
            pub fn mnemonic(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some($text), )*
                    _ => None,
                }
            }

            /// Parses a mnemonic (case-insensitive) or the generic `PREFIXnnn` form.
            pub fn from_mnemonic(s: &str) -> Option<$ty> {
                $( if s.eq_ignore_ascii_case($text) { return Some($ty($val)); } )*
                let digits = s.get($prefix.len()..)?;
                if s[..$prefix.len()].eq_ignore_ascii_case($prefix) && !digits.is_empty() {
                    return digits.parse::<$inner>().ok().map($ty);
                }
                None
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.mnemonic() {
                    Some(m) => f.write_str(m),
                    None => write!(f, concat!($prefix, "{}"), self.0),
                }
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $ty::from_mnemonic(s).ok_or_else(|| format!("unknown {} {s:?}", stringify!($ty)))
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "a {} mnemonic or number", stringify!($ty))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$ty, E> {
                        <$inner>::try_from(v).map($ty).map_err(|_| E::custom(format!("{} {v} out of range", stringify!($ty))))
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$ty, E> {
                        <$inner>::try_from(v).map($ty).map_err(|_| E::custom(format!("{} {v} out of range", stringify!($ty))))
                    }
                    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<$ty, E> {
                        if v.fract() == 0.0 && v >= 0.0 && v <= <$inner>::MAX as f64 {
                            Ok($ty(v as $inner))
                        } else {
                            Err(E::custom(format!("{} {v} out of range", stringify!($ty))))
                        }
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

/// A resource record type (RFC 1035 3.2.2 and the IANA registry).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RType(pub u16);

mnemonics!(RType(u16), "TYPE",
    A = 1 => "A", NS = 2 => "NS", MD = 3 => "MD", MF = 4 => "MF", CNAME = 5 => "CNAME",
    SOA = 6 => "SOA", MB = 7 => "MB", MG = 8 => "MG", MR = 9 => "MR", NULL = 10 => "NULL",
    WKS = 11 => "WKS", PTR = 12 => "PTR", HINFO = 13 => "HINFO", MINFO = 14 => "MINFO",
    MX = 15 => "MX", TXT = 16 => "TXT", RP = 17 => "RP", AFSDB = 18 => "AFSDB", X25 = 19 => "X25",
    ISDN = 20 => "ISDN", RT = 21 => "RT", NSAP = 22 => "NSAP", NSAP_PTR = 23 => "NSAP-PTR",
    SIG = 24 => "SIG", KEY = 25 => "KEY", PX = 26 => "PX", GPOS = 27 => "GPOS", AAAA = 28 => "AAAA",
    LOC = 29 => "LOC", NXT = 30 => "NXT", SRV = 33 => "SRV", NAPTR = 35 => "NAPTR", KX = 36 => "KX",
    CERT = 37 => "CERT", A6 = 38 => "A6", DNAME = 39 => "DNAME", SINK = 40 => "SINK",
    OPT = 41 => "OPT", APL = 42 => "APL", DS = 43 => "DS",
    SSHFP = 44 => "SSHFP", IPSECKEY = 45 => "IPSECKEY", RRSIG = 46 => "RRSIG", NSEC = 47 => "NSEC",
    DNSKEY = 48 => "DNSKEY", DHCID = 49 => "DHCID", NSEC3 = 50 => "NSEC3",
    NSEC3PARAM = 51 => "NSEC3PARAM", TLSA = 52 => "TLSA", SMIMEA = 53 => "SMIMEA",
    HIP = 55 => "HIP", NINFO = 56 => "NINFO", RKEY = 57 => "RKEY", TALINK = 58 => "TALINK",
    CDS = 59 => "CDS", CDNSKEY = 60 => "CDNSKEY", OPENPGPKEY = 61 => "OPENPGPKEY",
    CSYNC = 62 => "CSYNC", ZONEMD = 63 => "ZONEMD", SVCB = 64 => "SVCB", HTTPS = 65 => "HTTPS",
    SPF = 99 => "SPF", NID = 104 => "NID", L32 = 105 => "L32", L64 = 106 => "L64", LP = 107 => "LP",
    EUI48 = 108 => "EUI48", EUI64 = 109 => "EUI64", TKEY = 249 => "TKEY", TSIG = 250 => "TSIG",
    IXFR = 251 => "IXFR", AXFR = 252 => "AXFR", ANY = 255 => "ANY", URI = 256 => "URI",
    CAA = 257 => "CAA", AVC = 258 => "AVC", DOA = 259 => "DOA", AMTRELAY = 260 => "AMTRELAY",
    RESINFO = 261 => "RESINFO", WALLET = 262 => "WALLET", TA = 32768 => "TA", DLV = 32769 => "DLV",
);

impl RType {
    /// Types whose RDATA layout is defined per class, for IN (RFC 1035 3.4: A and WKS; AAAA,
    /// A6, APL), as opposed to the types of RFC 1035 3.3 and most later ones, defined for every
    /// class.
    pub fn is_class_specific(self) -> bool {
        matches!(self.0, 1 | 11 | 28 | 38 | 42)
    }
}

/// A class (RFC 1035 3.2.4). On an OPT record this field is the requestor's UDP payload size.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class(pub u16);

mnemonics!(Class(u16), "CLASS",
    IN = 1 => "IN", CH = 3 => "CH", HS = 4 => "HS", NONE = 254 => "NONE", ANY = 255 => "ANY",
);

impl Class {
    /// IN, CH, HS and the QCLASS values NONE and ANY: the classes whose records have defined
    /// RDATA layouts. Class 0 is reserved and the rest unassigned (RFC 6895 3.2).
    pub fn is_defined(self) -> bool {
        matches!(self.0, 1 | 3 | 4 | 254 | 255)
    }
}

/// A 4-bit header opcode (RFC 1035 4.1.1, RFC 1996, RFC 2136).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Opcode(pub u8);

mnemonics!(Opcode(u8), "OPCODE",
    QUERY = 0 => "QUERY", IQUERY = 1 => "IQUERY", STATUS = 2 => "STATUS", NOTIFY = 4 => "NOTIFY",
    UPDATE = 5 => "UPDATE", DSO = 6 => "DSO",
);

/// A response code: the header's 4 bits, extended to 12 by EDNS (RFC 6891 6.1.3).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rcode(pub u16);

mnemonics!(Rcode(u16), "RCODE",
    NOERROR = 0 => "NOERROR", FORMERR = 1 => "FORMERR", SERVFAIL = 2 => "SERVFAIL",
    NXDOMAIN = 3 => "NXDOMAIN", NOTIMP = 4 => "NOTIMP", REFUSED = 5 => "REFUSED",
    YXDOMAIN = 6 => "YXDOMAIN", YXRRSET = 7 => "YXRRSET", NXRRSET = 8 => "NXRRSET",
    NOTAUTH = 9 => "NOTAUTH", NOTZONE = 10 => "NOTZONE", DSOTYPENI = 11 => "DSOTYPENI",
    BADVERS = 16 => "BADVERS", BADKEY = 17 => "BADKEY", BADTIME = 18 => "BADTIME",
    BADMODE = 19 => "BADMODE", BADNAME = 20 => "BADNAME", BADALG = 21 => "BADALG",
    BADTRUNC = 22 => "BADTRUNC", BADCOOKIE = 23 => "BADCOOKIE",
);

/// An EDNS option code (IANA "DNS EDNS0 Option Codes").
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptCode(pub u16);

mnemonics!(OptCode(u16), "OPT",
    LLQ = 1 => "LLQ", UL = 2 => "UL", NSID = 3 => "NSID", DAU = 5 => "DAU", DHU = 6 => "DHU",
    N3U = 7 => "N3U", CLIENT_SUBNET = 8 => "ECS", EXPIRE = 9 => "EXPIRE", COOKIE = 10 => "COOKIE",
    TCP_KEEPALIVE = 11 => "KEEPALIVE", PADDING = 12 => "PADDING", CHAIN = 13 => "CHAIN",
    KEY_TAG = 14 => "KEY-TAG", EXTENDED_ERROR = 15 => "EDE", REPORT_CHANNEL = 18 => "REPORT-CHANNEL",
    ZONEVERSION = 19 => "ZONEVERSION",
);

/// The section a record sits in.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Question,
    Answer,
    Authority,
    Additional,
}

impl Section {
    /// The name dig uses for the section.
    pub fn title(self) -> &'static str {
        match self {
            Section::Question => "QUESTION",
            Section::Answer => "ANSWER",
            Section::Authority => "AUTHORITY",
            Section::Additional => "ADDITIONAL",
        }
    }
}

/// RFC 8914 Extended DNS Error info codes.
pub fn ede_purpose(code: u16) -> Option<&'static str> {
    Some(match code {
        0 => "Other Error",
        1 => "Unsupported DNSKEY Algorithm",
        2 => "Unsupported DS Digest Type",
        3 => "Stale Answer",
        4 => "Forged Answer",
        5 => "DNSSEC Indeterminate",
        6 => "DNSSEC Bogus",
        7 => "Signature Expired",
        8 => "Signature Not Yet Valid",
        9 => "DNSKEY Missing",
        10 => "RRSIGs Missing",
        11 => "No Zone Key Bit Set",
        12 => "NSEC Missing",
        13 => "Cached Error",
        14 => "Not Ready",
        15 => "Blocked",
        16 => "Censored",
        17 => "Filtered",
        18 => "Prohibited",
        19 => "Stale NXDOMAIN Answer",
        20 => "Not Authoritative",
        21 => "Not Supported",
        22 => "No Reachable Authority",
        23 => "Network Error",
        24 => "Invalid Data",
        25 => "Signature Expired before Valid",
        26 => "Too Early",
        27 => "Unsupported NSEC3 Iterations Value",
        28 => "Unable to conform to policy",
        29 => "Synthesized",
        30 => "Invalid Query Type",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_round_trip() {
        assert_eq!(RType::AAAA.to_string(), "AAAA");
        assert_eq!(RType(65280).to_string(), "TYPE65280");
        assert_eq!("type65280".parse::<RType>().unwrap(), RType(65280));
        assert_eq!("https".parse::<RType>().unwrap(), RType::HTTPS);
        assert_eq!(Class(3).to_string(), "CH");
        assert_eq!("CLASS9".parse::<Class>().unwrap(), Class(9));
        assert!("TYPE".parse::<RType>().is_err());
        assert!("TYPE99999".parse::<RType>().is_err());
        assert_eq!(Rcode(16).to_string(), "BADVERS");
    }
}
