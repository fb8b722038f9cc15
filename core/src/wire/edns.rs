//! EDNS(0) (RFC 6891): the OPT pseudo-record's fields and its options (cookie, client subnet,
//! extended errors, NSID, padding, keepalive, and any other as opaque bytes).

use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::encode::Encoder;
use super::error::WireError;
use super::rdata::Reader;
use super::spans::{FieldKind, Sink};
use super::text::{self, serde_bytes};
use super::types::{ede_purpose, OptCode, RType};

/// The OPT record of a message, lifted out of the additional section.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Edns {
    /// Requestor's UDP payload size (the OPT CLASS field).
    pub udp_size: u16,
    /// Upper 8 bits of the 12-bit RCODE.
    #[serde(default)]
    pub ext_rcode: u8,
    #[serde(default)]
    pub version: u8,
    /// The DO bit (RFC 3225).
    #[serde(default)]
    pub dnssec_ok: bool,
    /// The other 15 flag bits, normally zero.
    #[serde(default)]
    pub z: u16,
    #[serde(default)]
    pub options: Vec<EdnsOption>,
}

impl Edns {
    pub fn new(udp_size: u16) -> Edns {
        Edns {
            udp_size,
            ext_rcode: 0,
            version: 0,
            dnssec_ok: false,
            z: 0,
            options: vec![],
        }
    }

    /// The OPT TTL field.
    pub fn ttl(&self) -> u32 {
        u32::from(self.ext_rcode) << 24
            | u32::from(self.version) << 16
            | if self.dnssec_ok { 0x8000 } else { 0 }
            | u32::from(self.z & 0x7fff)
    }

    /// Splits an OPT TTL field into this struct's flags.
    pub fn from_ttl(udp_size: u16, ttl: u32, options: Vec<EdnsOption>) -> Edns {
        Edns {
            udp_size,
            ext_rcode: (ttl >> 24) as u8,
            version: (ttl >> 16) as u8,
            dnssec_ok: ttl & 0x8000 != 0,
            z: (ttl & 0x7fff) as u16,
            options,
        }
    }

    /// Writes the whole OPT record.
    pub fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        enc.u8(0);
        enc.u16(RType::OPT.0);
        enc.u16(self.udp_size);
        enc.u32(self.ttl());
        let len_at = enc.len();
        enc.u16(0);
        for o in &self.options {
            o.encode(enc)?;
        }
        let len = u16::try_from(enc.len() - len_at - 2)
            .map_err(|_| WireError::invalid("OPT", "options too long"))?;
        enc.set_u16(len_at, len);
        Ok(())
    }

    /// Wire size of the OPT record.
    pub fn wire_len(&self) -> usize {
        11 + self.options.iter().map(|o| 4 + o.data_len()).sum::<usize>()
    }

    /// The first Extended DNS Error, if any.
    pub fn extended_error(&self) -> Option<(u16, &str)> {
        self.options.iter().find_map(|o| match o {
            EdnsOption::ExtendedError { code, text } => Some((*code, text.as_str())),
            _ => None,
        })
    }
}

/// One EDNS option.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "option", rename_all = "snake_case")]
pub enum EdnsOption {
    /// RFC 5001.
    Nsid {
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        id: Vec<u8>,
    },
    /// RFC 7871.
    ClientSubnet {
        family: u16,
        source_prefix: u8,
        scope_prefix: u8,
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        address: Vec<u8>,
    },
    /// RFC 7873: an 8-byte client cookie and an optional 8..32-byte server cookie.
    Cookie {
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        client: Vec<u8>,
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        server: Vec<u8>,
    },
    /// RFC 7828: timeout in units of 100 ms, absent in queries.
    Keepalive { timeout: Option<u16> },
    /// RFC 7830: `length` bytes (normally zeros).
    Padding {
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        data: Vec<u8>,
    },
    /// RFC 8914.
    ExtendedError { code: u16, text: String },
    Unknown {
        code: u16,
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        data: Vec<u8>,
    },
}

impl EdnsOption {
    pub fn code(&self) -> OptCode {
        match self {
            EdnsOption::Nsid { .. } => OptCode::NSID,
            EdnsOption::ClientSubnet { .. } => OptCode::CLIENT_SUBNET,
            EdnsOption::Cookie { .. } => OptCode::COOKIE,
            EdnsOption::Keepalive { .. } => OptCode::TCP_KEEPALIVE,
            EdnsOption::Padding { .. } => OptCode::PADDING,
            EdnsOption::ExtendedError { .. } => OptCode::EXTENDED_ERROR,
            EdnsOption::Unknown { code, .. } => OptCode(*code),
        }
    }

    fn data_len(&self) -> usize {
        match self {
            EdnsOption::Nsid { id } => id.len(),
            EdnsOption::ClientSubnet { address, .. } => 4 + address.len(),
            EdnsOption::Cookie { client, server } => client.len() + server.len(),
            EdnsOption::Keepalive { timeout } => timeout.map_or(0, |_| 2),
            EdnsOption::Padding { data } => data.len(),
            EdnsOption::ExtendedError { text, .. } => 2 + text.len(),
            EdnsOption::Unknown { data, .. } => data.len(),
        }
    }

    pub fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        let len = u16::try_from(self.data_len())
            .map_err(|_| WireError::invalid("EDNS option", "longer than 65535 bytes"))?;
        enc.u16(self.code().0);
        enc.u16(len);
        match self {
            EdnsOption::Nsid { id } => enc.bytes(id),
            EdnsOption::ClientSubnet {
                family,
                source_prefix,
                scope_prefix,
                address,
            } => {
                enc.u16(*family);
                enc.u8(*source_prefix);
                enc.u8(*scope_prefix);
                enc.bytes(address);
            }
            EdnsOption::Cookie { client, server } => {
                enc.bytes(client);
                enc.bytes(server);
            }
            EdnsOption::Keepalive { timeout } => {
                if let Some(t) = timeout {
                    enc.u16(*t);
                }
            }
            EdnsOption::Padding { data } => enc.bytes(data),
            EdnsOption::ExtendedError { code, text } => {
                enc.u16(*code);
                enc.bytes(text.as_bytes());
            }
            EdnsOption::Unknown { data, .. } => enc.bytes(data),
        }
        Ok(())
    }
}

fn ecs_address(family: u16, address: &[u8]) -> String {
    match family {
        1 => {
            let mut a = [0u8; 4];
            for (d, s) in a.iter_mut().zip(address) {
                *d = *s;
            }
            Ipv4Addr::from(a).to_string()
        }
        2 => {
            let mut a = [0u8; 16];
            for (d, s) in a.iter_mut().zip(address) {
                *d = *s;
            }
            Ipv6Addr::from(a).to_string()
        }
        _ => text::hex(address),
    }
}

/// As dig prints options in the OPT pseudosection (without the leading `; `).
impl fmt::Display for EdnsOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EdnsOption::Nsid { id } => {
                write!(f, "NSID: {}", text::hex(id))?;
                if id.iter().all(|b| b.is_ascii_graphic() || *b == b' ') && !id.is_empty() {
                    write!(f, " (\"{}\")", String::from_utf8_lossy(id))?;
                }
                Ok(())
            }
            EdnsOption::ClientSubnet {
                family,
                source_prefix,
                scope_prefix,
                address,
            } => {
                write!(
                    f,
                    "CLIENT-SUBNET: {}/{source_prefix}/{scope_prefix}",
                    ecs_address(*family, address)
                )
            }
            EdnsOption::Cookie { client, server } => {
                write!(f, "COOKIE: {}{}", text::hex(client), text::hex(server))
            }
            EdnsOption::Keepalive { timeout: Some(t) } => {
                write!(f, "TCP-KEEPALIVE: {}.{} secs", t / 10, t % 10)
            }
            EdnsOption::Keepalive { timeout: None } => f.write_str("TCP-KEEPALIVE"),
            EdnsOption::Padding { data } => write!(f, "PADDING: {} bytes", data.len()),
            EdnsOption::ExtendedError { code, text } => {
                write!(f, "EDE: {code}")?;
                if let Some(p) = ede_purpose(*code) {
                    write!(f, " ({p})")?;
                }
                if !text.is_empty() {
                    write!(f, ": ({text})")?;
                }
                Ok(())
            }
            EdnsOption::Unknown { code, data } if OptCode(*code).mnemonic().is_some() => {
                write!(f, "{}: {}", OptCode(*code), text::hex(data))
            }
            // As dig prints an option it does not know: `OPT=65001: 68 69 00 ("hi.")`.
            EdnsOption::Unknown { code, data } => {
                write!(f, "OPT={code}:")?;
                for b in data {
                    write!(f, " {b:02x}")?;
                }
                if !data.is_empty() {
                    let shown: String = data
                        .iter()
                        .map(|&b| {
                            if (0x20..0x7f).contains(&b) {
                                char::from(b)
                            } else {
                                '.'
                            }
                        })
                        .collect();
                    write!(f, " (\"{shown}\")")?;
                }
                Ok(())
            }
        }
    }
}

/// Decodes the options in the rest of an OPT RDATA.
pub(crate) fn decode_options<S: Sink>(
    r: &mut Reader<'_, '_, S>,
) -> Result<Vec<EdnsOption>, WireError> {
    let mut options = Vec::new();
    while r.remaining() > 0 {
        let start = r.pos;
        r.sink
            .open(start, FieldKind::Option, None, || "option".into());
        let code = r.u16("code")?;
        let len = usize::from(r.u16("length")?);
        if len > r.remaining() {
            return Err(WireError::new(
                start,
                super::error::ErrorKind::BadOption {
                    code,
                    reason: format!(
                        "length {len} runs past the OPT RDATA ({} byte{} left)",
                        r.remaining(),
                        if r.remaining() == 1 { "" } else { "s" }
                    ),
                },
            ));
        }
        let data_at = r.pos;
        let bad = |why: &str| {
            WireError::new(
                data_at,
                super::error::ErrorKind::BadOption {
                    code,
                    reason: why.to_string(),
                },
            )
        };
        let o = match OptCode(code) {
            OptCode::NSID => EdnsOption::Nsid {
                id: r.bytes(len, "nsid", text::hex)?,
            },
            OptCode::CLIENT_SUBNET => {
                if len < 4 {
                    return Err(bad("client subnet shorter than 4 bytes"));
                }
                let family = r.u16("family")?;
                let source_prefix = r.u8("source prefix")?;
                let scope_prefix = r.u8("scope prefix")?;
                let address = r.bytes(len - 4, "address", text::hex)?;
                EdnsOption::ClientSubnet {
                    family,
                    source_prefix,
                    scope_prefix,
                    address,
                }
            }
            OptCode::COOKIE => {
                if len != 8 && !(16..=40).contains(&len) {
                    return Err(bad(
                        "cookie must be 8 bytes, or 16 to 40 with a server cookie (RFC 7873 4)",
                    ));
                }
                let client = r.bytes(8, "client cookie", text::hex)?;
                let server = r.bytes(len - 8, "server cookie", text::hex)?;
                EdnsOption::Cookie { client, server }
            }
            OptCode::TCP_KEEPALIVE => match len {
                0 => EdnsOption::Keepalive { timeout: None },
                2 => EdnsOption::Keepalive {
                    timeout: Some(r.u16("timeout (100 ms units)")?),
                },
                _ => return Err(bad("keepalive must be 0 or 2 bytes")),
            },
            OptCode::PADDING => EdnsOption::Padding {
                data: r.bytes(len, "padding", |b| format!("{} bytes", b.len()))?,
            },
            OptCode::EXTENDED_ERROR => {
                if len < 2 {
                    return Err(bad("extended error shorter than 2 bytes"));
                }
                let code = r.u16("info code")?;
                let t = r.bytes(len - 2, "extra text", |b| {
                    String::from_utf8_lossy(b).into_owned()
                })?;
                EdnsOption::ExtendedError {
                    code,
                    text: String::from_utf8_lossy(&t).into_owned(),
                }
            }
            _ => EdnsOption::Unknown {
                code,
                data: r.bytes(len, "data", text::hex)?,
            },
        };
        r.sink.close(r.pos, || o.to_string());
        options.push(o);
    }
    Ok(options)
}
