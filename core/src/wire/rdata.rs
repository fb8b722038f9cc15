//! Typed RDATA: decoding (with spans), compressed encoding and presentation format for the record
//! types people meet, and RFC 3597 `\# len hex` for every other type.

use core::fmt::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::edns::EdnsOption;
use super::encode::Encoder;
use super::error::WireError;
use super::name::{read_name, walk_name, Name, Step};
use super::rdfields::{self, RdField};
use super::spans::{FieldKind, Sink};
use super::text::{self, serde_bytes, write_quoted};
use super::types::RType;

/// Record data, by layout. Types that share a layout share a variant (DS and CDS, DNSKEY and
/// CDNSKEY, SVCB and HTTPS, TLSA and SMIMEA); the record's type says which it is.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RData {
    A {
        address: Ipv4Addr,
    },
    Aaaa {
        address: Ipv6Addr,
    },
    /// NS, CNAME, DNAME, PTR: a single name.
    Name {
        target: Name,
    },
    Soa {
        mname: Name,
        rname: Name,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    Mx {
        preference: u16,
        exchange: Name,
    },
    /// TXT and SPF: one or more character-strings.
    Txt {
        #[serde(with = "serde_bytes::escaped_list")]
        #[cfg_attr(feature = "ts", ts(type = "string[]"))]
        strings: Vec<Vec<u8>>,
    },
    Hinfo {
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        cpu: Vec<u8>,
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        os: Vec<u8>,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    Naptr {
        order: u16,
        preference: u16,
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        flags: Vec<u8>,
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        services: Vec<u8>,
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        regexp: Vec<u8>,
        replacement: Name,
    },
    Caa {
        flags: u8,
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        tag: Vec<u8>,
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        value: Vec<u8>,
    },
    /// DS and CDS.
    Ds {
        key_tag: u16,
        algorithm: u8,
        digest_type: u8,
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        digest: Vec<u8>,
    },
    /// DNSKEY and CDNSKEY.
    Dnskey {
        flags: u16,
        protocol: u8,
        algorithm: u8,
        #[serde(with = "serde_bytes::base64")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        public_key: Vec<u8>,
    },
    Rrsig {
        type_covered: RType,
        algorithm: u8,
        labels: u8,
        original_ttl: u32,
        expiration: u32,
        inception: u32,
        key_tag: u16,
        signer: Name,
        #[serde(with = "serde_bytes::base64")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        signature: Vec<u8>,
    },
    Nsec {
        next: Name,
        types: Vec<RType>,
    },
    Nsec3 {
        hash_algorithm: u8,
        flags: u8,
        iterations: u16,
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        salt: Vec<u8>,
        #[serde(with = "serde_bytes::base32hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        next_hashed: Vec<u8>,
        types: Vec<RType>,
    },
    Nsec3param {
        hash_algorithm: u8,
        flags: u8,
        iterations: u16,
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        salt: Vec<u8>,
    },
    /// TLSA and SMIMEA.
    Tlsa {
        usage: u8,
        selector: u8,
        matching_type: u8,
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        data: Vec<u8>,
    },
    Sshfp {
        algorithm: u8,
        fingerprint_type: u8,
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        fingerprint: Vec<u8>,
    },
    /// SVCB and HTTPS (RFC 9460).
    Svcb {
        priority: u16,
        target: Name,
        params: Vec<SvcParam>,
    },
    /// OPT met as an ordinary record (the message-level decode lifts it into `Edns`).
    Opt {
        options: Vec<EdnsOption>,
    },
    /// No RDATA at all, as RFC 2136 UPDATE prerequisites and deletions carry it with class ANY or
    /// NONE ("RRset exists", "delete an RRset"...). Printed as nothing, as dig does.
    Empty,
    /// The less common types dnspect reads field by field (`rdfields`: AFSDB, RP, LOC, WKS,
    /// CERT, APL, URI, ZONEMD, CSYNC, EUI48...).
    Fields {
        fields: Vec<RdField>,
    },
    /// Any other type, as opaque bytes (RFC 3597).
    Unknown {
        #[serde(with = "serde_bytes::hex")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        data: Vec<u8>,
    },
}

/// One SVCB/HTTPS service parameter (RFC 9460 14.3.2).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "key", rename_all = "kebab-case")]
pub enum SvcParam {
    Mandatory {
        keys: Vec<u16>,
    },
    Alpn {
        #[serde(with = "serde_bytes::escaped_list")]
        #[cfg_attr(feature = "ts", ts(type = "string[]"))]
        ids: Vec<Vec<u8>>,
    },
    NoDefaultAlpn,
    Port {
        port: u16,
    },
    Ipv4hint {
        addresses: Vec<Ipv4Addr>,
    },
    Ech {
        #[serde(with = "serde_bytes::base64")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        config: Vec<u8>,
    },
    Ipv6hint {
        addresses: Vec<Ipv6Addr>,
    },
    Dohpath {
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        template: Vec<u8>,
    },
    Unknown {
        number: u16,
        #[serde(with = "serde_bytes::escaped")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        value: Vec<u8>,
    },
}

impl SvcParam {
    pub fn key(&self) -> u16 {
        match self {
            SvcParam::Mandatory { .. } => 0,
            SvcParam::Alpn { .. } => 1,
            SvcParam::NoDefaultAlpn => 2,
            SvcParam::Port { .. } => 3,
            SvcParam::Ipv4hint { .. } => 4,
            SvcParam::Ech { .. } => 5,
            SvcParam::Ipv6hint { .. } => 6,
            SvcParam::Dohpath { .. } => 7,
            SvcParam::Unknown { number, .. } => *number,
        }
    }
}

/// The presentation name of a SvcParamKey.
pub fn svc_key_name(key: u16) -> String {
    match key {
        0 => "mandatory".into(),
        1 => "alpn".into(),
        2 => "no-default-alpn".into(),
        3 => "port".into(),
        4 => "ipv4hint".into(),
        5 => "ech".into(),
        6 => "ipv6hint".into(),
        7 => "dohpath".into(),
        k => format!("key{k}"),
    }
}

/// Reads fields of one RDATA, bounds-checked against its RDLENGTH, reporting spans to a sink.
pub(crate) struct Reader<'a, 's, S: Sink> {
    pub msg: &'a [u8],
    pub pos: usize,
    pub end: usize,
    pub rtype: RType,
    pub sink: &'s mut S,
}

impl<'a, S: Sink> Reader<'a, '_, S> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.pos + n > self.end {
            return Err(WireError::rdata(
                self.pos,
                self.rtype,
                format!(
                    "expected {what} ({}), but only {} of RDATA left",
                    bytes(n),
                    bytes(self.end - self.pos)
                ),
            ));
        }
        let s = &self.msg[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// `N` bytes without a span (the caller reports the field).
    pub fn take_array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let b = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    pub fn u8(&mut self, label: &'static str) -> Result<u8, WireError> {
        let at = self.pos;
        let v = self.take(1, label)?[0];
        self.sink.leaf(at, 1, label, || v.to_string());
        Ok(v)
    }

    pub fn u16(&mut self, label: &'static str) -> Result<u16, WireError> {
        let at = self.pos;
        let b = self.take(2, label)?;
        let v = u16::from_be_bytes([b[0], b[1]]);
        self.sink.leaf(at, 2, label, || v.to_string());
        Ok(v)
    }

    pub fn u32(&mut self, label: &'static str) -> Result<u32, WireError> {
        let at = self.pos;
        let b = self.take(4, label)?;
        let v = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        self.sink.leaf(at, 4, label, || v.to_string());
        Ok(v)
    }

    /// `n` bytes, shown with `show`.
    pub fn bytes(
        &mut self,
        n: usize,
        label: &'static str,
        show: fn(&[u8]) -> String,
    ) -> Result<Vec<u8>, WireError> {
        let at = self.pos;
        let b = self.take(n, label)?;
        self.sink.leaf(at, n, label, || show(b));
        Ok(b.to_vec())
    }

    /// `N` bytes without allocating (addresses), shown with `show`.
    pub fn array<const N: usize>(
        &mut self,
        label: &'static str,
        show: fn(&[u8]) -> String,
    ) -> Result<[u8; N], WireError> {
        let at = self.pos;
        let b = self.take(N, label)?;
        self.sink.leaf(at, N, label, || show(b));
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    /// Everything up to the end of the RDATA.
    pub fn rest(
        &mut self,
        label: &'static str,
        show: fn(&[u8]) -> String,
    ) -> Result<Vec<u8>, WireError> {
        self.bytes(self.end - self.pos, label, show)
    }

    pub fn char_string(&mut self, label: &'static str) -> Result<Vec<u8>, WireError> {
        let at = self.pos;
        let len = usize::from(self.take(1, "a character-string length")?[0]);
        let s = self.take(len, "character-string octets")?;
        self.sink.leaf(at, 1 + len, label, || {
            let mut o = String::new();
            let _ = write_quoted(&mut o, s);
            o
        });
        Ok(s.to_vec())
    }

    pub fn name(&mut self, label: &'static str) -> Result<Name, WireError> {
        let (name, end) = read_name_spanned(self.msg, self.pos, self.sink, label)?;
        if end > self.end {
            return Err(WireError::rdata(
                self.pos,
                self.rtype,
                format!("{label} runs past the end of the RDATA"),
            ));
        }
        self.pos = end;
        Ok(name)
    }

    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }

    pub fn type_bitmap(&mut self) -> Result<Vec<RType>, WireError> {
        let at = self.pos;
        let types = decode_type_bitmap(&self.msg[self.pos..self.end])
            .map_err(|(off, why)| WireError::rdata(at + off, self.rtype, why))?;
        let len = self.end - self.pos;
        self.sink.leaf(at, len, "type bitmap", || {
            types
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        });
        self.pos = self.end;
        Ok(types)
    }
}

/// Reads a name, reporting each in-place label and pointer to the sink under a group `label`.
pub(crate) fn read_name_spanned<S: Sink>(
    msg: &[u8],
    start: usize,
    sink: &mut S,
    label: &'static str,
) -> Result<(Name, usize), WireError> {
    if !S::ACTIVE {
        return read_name(msg, start);
    }
    sink.open(start, FieldKind::Name, None, || label.to_string());
    let mut steps = Vec::new();
    let res = walk_name(msg, start, |step, in_place| {
        if in_place {
            steps.push(step);
        }
    });
    for step in &steps {
        match *step {
            Step::Label { offset, label: [] } => {
                sink.leaf_of(FieldKind::Root, offset, 1, "root", || {
                    "00 (end of name)".into()
                })
            }
            Step::Label { offset, label: l } => {
                sink.leaf_of(FieldKind::Label, offset, 1 + l.len(), "label", || {
                    let mut s = String::new();
                    let _ = super::name::write_label(&mut s, l);
                    s
                })
            }
            Step::Pointer { offset, target } => {
                sink.pointer(offset, target);
                sink.leaf_of(
                    FieldKind::Pointer,
                    offset,
                    2,
                    "pointer",
                    || match read_name(msg, target) {
                        Ok((suffix, _)) => format!(
                            "{:02x} {:02x} -> offset {target} (\"{suffix}\"), saves {} bytes",
                            msg[offset],
                            msg[offset + 1],
                            // A pointer to the root label (1 byte) saves nothing.
                            suffix.wire_len().saturating_sub(2)
                        ),
                        Err(_) => format!("-> offset {target}"),
                    },
                )
            }
        }
    }
    match res {
        Ok(end) => {
            let name = read_name(msg, start)?.0;
            sink.close(end, || name.to_string());
            Ok((name, end))
        }
        Err(e) => {
            sink.close(e.offset.max(start), || "invalid name".into());
            Err(e)
        }
    }
}

/// "1 byte", "2 bytes".
fn bytes(n: usize) -> String {
    format!("{n} byte{}", if n == 1 { "" } else { "s" })
}

fn show_hex(b: &[u8]) -> String {
    text::hex(b)
}
fn show_b64(b: &[u8]) -> String {
    text::base64(b)
}
fn show_b32(b: &[u8]) -> String {
    text::base32hex(b)
}
fn show_escaped(b: &[u8]) -> String {
    text::escaped(b)
}

/// The RDATA at `msg[start..end]` in RFC 3597's generic form, whatever its type: for records of a
/// class whose RDATA layouts nobody defined (class 0, unassigned classes).
pub(crate) fn decode_generic<S: Sink>(
    msg: &[u8],
    start: usize,
    end: usize,
    rtype: RType,
    sink: &mut S,
) -> Result<RData, WireError> {
    decode_rdata(msg, start, end, RType(0), sink).map_err(|mut e| {
        if let super::error::ErrorKind::BadRdata { rtype: t, .. } = &mut e.kind {
            *t = rtype;
        }
        e
    })
}

/// Decodes the RDATA of type `rtype` at `msg[start..end]`.
pub(crate) fn decode_rdata<S: Sink>(
    msg: &[u8],
    start: usize,
    end: usize,
    rtype: RType,
    sink: &mut S,
) -> Result<RData, WireError> {
    let mut r = Reader {
        msg,
        pos: start,
        end,
        rtype,
        sink,
    };
    let rd = match rtype {
        RType::A => {
            let b = r.array::<4>("address", |b| {
                Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
            })?;
            RData::A {
                address: Ipv4Addr::from(b),
            }
        }
        RType::AAAA => {
            let b = r.array::<16>("address", |b| ipv6(b).to_string())?;
            RData::Aaaa {
                address: Ipv6Addr::from(b),
            }
        }
        RType::NS | RType::CNAME | RType::DNAME | RType::PTR => RData::Name {
            target: r.name("target")?,
        },
        RType::SOA => RData::Soa {
            mname: r.name("mname")?,
            rname: r.name("rname")?,
            serial: r.u32("serial")?,
            refresh: r.u32("refresh")?,
            retry: r.u32("retry")?,
            expire: r.u32("expire")?,
            minimum: r.u32("minimum")?,
        },
        RType::MX => RData::Mx {
            preference: r.u16("preference")?,
            exchange: r.name("exchange")?,
        },
        RType::TXT | RType::SPF | RType::NINFO | RType::AVC | RType::RESINFO | RType::WALLET => {
            let mut strings = Vec::new();
            while r.remaining() > 0 || strings.is_empty() {
                strings.push(r.char_string("string")?);
            }
            RData::Txt { strings }
        }
        RType::HINFO => RData::Hinfo {
            cpu: r.char_string("cpu")?,
            os: r.char_string("os")?,
        },
        RType::SRV => RData::Srv {
            priority: r.u16("priority")?,
            weight: r.u16("weight")?,
            port: r.u16("port")?,
            target: r.name("target")?,
        },
        RType::NAPTR => RData::Naptr {
            order: r.u16("order")?,
            preference: r.u16("preference")?,
            flags: r.char_string("flags")?,
            services: r.char_string("services")?,
            regexp: r.char_string("regexp")?,
            replacement: r.name("replacement")?,
        },
        RType::CAA => {
            let flags = r.u8("flags")?;
            let tag = r.char_string("tag")?;
            RData::Caa {
                flags,
                tag,
                value: r.rest("value", show_escaped)?,
            }
        }
        RType::DS | RType::CDS | RType::TA | RType::DLV => RData::Ds {
            key_tag: r.u16("key tag")?,
            algorithm: r.u8("algorithm")?,
            digest_type: r.u8("digest type")?,
            digest: r.rest("digest", show_hex)?,
        },
        RType::DNSKEY | RType::CDNSKEY | RType::KEY => RData::Dnskey {
            flags: r.u16("flags")?,
            protocol: r.u8("protocol")?,
            algorithm: r.u8("algorithm")?,
            public_key: r.rest("public key", show_b64)?,
        },
        RType::RRSIG | RType::SIG => RData::Rrsig {
            type_covered: RType(r.u16("type covered")?),
            algorithm: r.u8("algorithm")?,
            labels: r.u8("labels")?,
            original_ttl: r.u32("original TTL")?,
            expiration: r.u32("expiration")?,
            inception: r.u32("inception")?,
            key_tag: r.u16("key tag")?,
            signer: r.name("signer")?,
            signature: r.rest("signature", show_b64)?,
        },
        RType::NSEC => RData::Nsec {
            next: r.name("next name")?,
            types: r.type_bitmap()?,
        },
        RType::NSEC3 => {
            let (hash_algorithm, flags, iterations, salt) = nsec3_head(&mut r)?;
            let hash_len = usize::from(r.u8("hash length")?);
            let next_hashed = r.bytes(hash_len, "next hashed owner", show_b32)?;
            RData::Nsec3 {
                hash_algorithm,
                flags,
                iterations,
                salt,
                next_hashed,
                types: r.type_bitmap()?,
            }
        }
        RType::NSEC3PARAM => {
            let (hash_algorithm, flags, iterations, salt) = nsec3_head(&mut r)?;
            RData::Nsec3param {
                hash_algorithm,
                flags,
                iterations,
                salt,
            }
        }
        RType::TLSA | RType::SMIMEA => RData::Tlsa {
            usage: r.u8("usage")?,
            selector: r.u8("selector")?,
            matching_type: r.u8("matching type")?,
            data: r.rest("certificate data", show_hex)?,
        },
        RType::SSHFP => RData::Sshfp {
            algorithm: r.u8("algorithm")?,
            fingerprint_type: r.u8("fingerprint type")?,
            fingerprint: r.rest("fingerprint", show_hex)?,
        },
        RType::SVCB | RType::HTTPS => {
            let priority = r.u16("priority")?;
            let target = r.name("target")?;
            let mut params = Vec::new();
            let mut last = None;
            while r.remaining() > 0 {
                let at = r.pos;
                let p = decode_svc_param(&mut r)?;
                if last.is_some_and(|k| k >= p.key()) {
                    return Err(WireError::rdata(
                        at,
                        rtype,
                        "SvcParamKeys not in strictly increasing order (RFC 9460 2.2)",
                    ));
                }
                last = Some(p.key());
                params.push(p);
            }
            RData::Svcb {
                priority,
                target,
                params,
            }
        }
        RType::OPT => RData::Opt {
            options: super::edns::decode_options(&mut r)?,
        },
        // LOC of a version other than 0 has no known layout (RFC 1876 2).
        RType::LOC if msg.get(start) != Some(&0) && start < end => RData::Unknown {
            data: r.rest("data", show_hex)?,
        },
        t if rdfields::handles(t) => RData::Fields {
            fields: rdfields::decode(&mut r)?,
        },
        _ => RData::Unknown {
            data: r.rest("data", show_hex)?,
        },
    };
    if r.pos != end {
        return Err(WireError::rdata(
            r.pos,
            rtype,
            format!("{} left over after the RDATA fields", bytes(end - r.pos)),
        ));
    }
    Ok(rd)
}

/// The fields NSEC3 and NSEC3PARAM begin with (RFC 5155 3.2 and 4.2): hash algorithm, flags,
/// iterations, salt.
fn nsec3_head<S: Sink>(r: &mut Reader<'_, '_, S>) -> Result<(u8, u8, u16, Vec<u8>), WireError> {
    let hash_algorithm = r.u8("hash algorithm")?;
    let flags = r.u8("flags")?;
    let iterations = r.u16("iterations")?;
    let salt_len = usize::from(r.u8("salt length")?);
    let salt = r.bytes(salt_len, "salt", show_hex)?;
    Ok((hash_algorithm, flags, iterations, salt))
}

fn ipv6(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

fn decode_svc_param<S: Sink>(r: &mut Reader<'_, '_, S>) -> Result<SvcParam, WireError> {
    let key = r.u16("key")?;
    let len = usize::from(r.u16("length")?);
    let at = r.pos;
    let v = r.bytes(len, "value", show_hex)?;
    let bad = |why: &str| WireError::rdata(at, r.rtype, format!("{}: {why}", svc_key_name(key)));
    Ok(match key {
        0 => {
            if v.len() % 2 != 0 || v.is_empty() {
                return Err(bad("length must be a non-zero multiple of 2"));
            }
            SvcParam::Mandatory {
                keys: v
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            }
        }
        1 => {
            let mut ids = Vec::new();
            let mut i = 0;
            while i < v.len() {
                let l = usize::from(v[i]);
                let id = v
                    .get(i + 1..i + 1 + l)
                    .ok_or_else(|| bad("alpn-id runs past the value"))?;
                if id.is_empty() {
                    return Err(bad("empty alpn-id"));
                }
                ids.push(id.to_vec());
                i += 1 + l;
            }
            if ids.is_empty() {
                return Err(bad("empty alpn list"));
            }
            SvcParam::Alpn { ids }
        }
        2 if v.is_empty() => SvcParam::NoDefaultAlpn,
        2 => return Err(bad("value must be empty")),
        3 if v.len() == 2 => SvcParam::Port {
            port: u16::from_be_bytes([v[0], v[1]]),
        },
        3 => return Err(bad("value must be 2 bytes")),
        4 if !v.is_empty() && v.len() % 4 == 0 => SvcParam::Ipv4hint {
            addresses: v
                .chunks(4)
                .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                .collect(),
        },
        4 => return Err(bad("value must be a non-zero multiple of 4 bytes")),
        5 => SvcParam::Ech { config: v },
        6 if !v.is_empty() && v.len() % 16 == 0 => SvcParam::Ipv6hint {
            addresses: v.chunks(16).map(ipv6).collect(),
        },
        6 => return Err(bad("value must be a non-zero multiple of 16 bytes")),
        7 => SvcParam::Dohpath { template: v },
        number => SvcParam::Unknown { number, value: v },
    })
}

/// Decodes an NSEC/NSEC3 type bitmap (RFC 4034 4.1.2); errors carry the offset within it.
pub(crate) fn decode_type_bitmap(b: &[u8]) -> Result<Vec<RType>, (usize, String)> {
    let mut types = Vec::new();
    let mut i = 0;
    let mut last_window: Option<u8> = None;
    while i < b.len() {
        let (window, len) = match b.get(i..i + 2) {
            Some(h) => (h[0], usize::from(h[1])),
            None => return Err((i, "type bitmap window header cut short".into())),
        };
        if last_window.is_some_and(|w| w >= window) {
            return Err((i, "type bitmap windows not in increasing order".into()));
        }
        if !(1..=32).contains(&len) {
            return Err((i + 1, format!("type bitmap length {len} not within 1..32")));
        }
        let bits = b
            .get(i + 2..i + 2 + len)
            .ok_or((i + 2, "type bitmap cut short".to_string()))?;
        for (byte_i, &byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    types.push(RType(u16::from(window) << 8 | (byte_i * 8 + bit) as u16));
                }
            }
        }
        last_window = Some(window);
        i += 2 + len;
    }
    Ok(types)
}

pub(crate) fn encode_type_bitmap(types: &[RType], enc: &mut Encoder) {
    let mut sorted: Vec<u16> = types.iter().map(|t| t.0).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut i = 0;
    while i < sorted.len() {
        let window = (sorted[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut max = 0;
        while i < sorted.len() && (sorted[i] >> 8) as u8 == window {
            let low = usize::from(sorted[i] & 0xff);
            bits[low / 8] |= 0x80 >> (low % 8);
            max = max.max(low / 8);
            i += 1;
        }
        enc.u8(window);
        enc.u8(max as u8 + 1);
        enc.bytes(&bits[..=max]);
    }
}

impl RData {
    /// Writes the RDATA (without RDLENGTH). Names are compressed only in the types RFC 3597 4
    /// allows (NS, CNAME, SOA, PTR, MX).
    pub fn encode(&self, rtype: RType, enc: &mut Encoder) -> Result<(), WireError> {
        let compressible = matches!(
            rtype,
            RType::NS | RType::CNAME | RType::SOA | RType::PTR | RType::MX
        );
        match self {
            RData::A { address } => enc.bytes(&address.octets()),
            RData::Aaaa { address } => enc.bytes(&address.octets()),
            RData::Name { target } => enc.name(target, compressible),
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                enc.name(mname, compressible);
                enc.name(rname, compressible);
                for v in [serial, refresh, retry, expire, minimum] {
                    enc.u32(*v);
                }
            }
            RData::Mx {
                preference,
                exchange,
            } => {
                enc.u16(*preference);
                enc.name(exchange, compressible);
            }
            RData::Txt { strings } => {
                if strings.is_empty() {
                    return Err(WireError::invalid(
                        "TXT",
                        "needs at least one character-string",
                    ));
                }
                for s in strings {
                    enc.char_string(s, "TXT string")?;
                }
            }
            RData::Hinfo { cpu, os } => {
                enc.char_string(cpu, "HINFO cpu")?;
                enc.char_string(os, "HINFO os")?;
            }
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                enc.u16(*priority);
                enc.u16(*weight);
                enc.u16(*port);
                enc.name(target, false);
            }
            RData::Naptr {
                order,
                preference,
                flags,
                services,
                regexp,
                replacement,
            } => {
                enc.u16(*order);
                enc.u16(*preference);
                enc.char_string(flags, "NAPTR flags")?;
                enc.char_string(services, "NAPTR services")?;
                enc.char_string(regexp, "NAPTR regexp")?;
                enc.name(replacement, false);
            }
            RData::Caa { flags, tag, value } => {
                enc.u8(*flags);
                enc.char_string(tag, "CAA tag")?;
                enc.bytes(value);
            }
            // One wire layout: u16, u8, u8, the rest.
            RData::Ds {
                key_tag: a,
                algorithm: b,
                digest_type: c,
                digest: rest,
            }
            | RData::Dnskey {
                flags: a,
                protocol: b,
                algorithm: c,
                public_key: rest,
            } => {
                enc.u16(*a);
                enc.u8(*b);
                enc.u8(*c);
                enc.bytes(rest);
            }
            RData::Rrsig {
                type_covered,
                algorithm,
                labels,
                original_ttl,
                expiration,
                inception,
                key_tag,
                signer,
                signature,
            } => {
                enc.u16(type_covered.0);
                enc.u8(*algorithm);
                enc.u8(*labels);
                enc.u32(*original_ttl);
                enc.u32(*expiration);
                enc.u32(*inception);
                enc.u16(*key_tag);
                enc.name(signer, false);
                enc.bytes(signature);
            }
            RData::Nsec { next, types } => {
                enc.name(next, false);
                encode_type_bitmap(types, enc);
            }
            RData::Nsec3 {
                hash_algorithm,
                flags,
                iterations,
                salt,
                next_hashed,
                types,
            } => {
                encode_nsec3_head(
                    enc,
                    [*hash_algorithm, *flags],
                    *iterations,
                    salt,
                    "NSEC3 salt",
                )?;
                enc.char_string(next_hashed, "NSEC3 next hashed owner")?;
                encode_type_bitmap(types, enc);
            }
            RData::Nsec3param {
                hash_algorithm,
                flags,
                iterations,
                salt,
            } => encode_nsec3_head(
                enc,
                [*hash_algorithm, *flags],
                *iterations,
                salt,
                "NSEC3PARAM salt",
            )?,
            RData::Tlsa {
                usage,
                selector,
                matching_type,
                data,
            } => {
                enc.bytes(&[*usage, *selector, *matching_type]);
                enc.bytes(data);
            }
            RData::Sshfp {
                algorithm,
                fingerprint_type,
                fingerprint,
            } => {
                enc.bytes(&[*algorithm, *fingerprint_type]);
                enc.bytes(fingerprint);
            }
            RData::Svcb {
                priority,
                target,
                params,
            } => {
                enc.u16(*priority);
                enc.name(target, false);
                let mut sorted: Vec<&SvcParam> = params.iter().collect();
                sorted.sort_by_key(|p| p.key());
                for p in sorted {
                    encode_svc_param(p, enc)?;
                }
            }
            RData::Opt { options } => {
                for o in options {
                    o.encode(enc)?;
                }
            }
            RData::Fields { fields } => rdfields::encode(fields, enc)?,
            RData::Unknown { data } => enc.bytes(data),
            RData::Empty => {}
        }
        Ok(())
    }

    /// Whether this layout can carry a record of type `rtype` (for JS/JSON input).
    pub fn fits(&self, rtype: RType) -> bool {
        match self {
            RData::A { .. } => rtype == RType::A,
            RData::Aaaa { .. } => rtype == RType::AAAA,
            RData::Name { .. } => {
                matches!(rtype, RType::NS | RType::CNAME | RType::DNAME | RType::PTR)
            }
            RData::Soa { .. } => rtype == RType::SOA,
            RData::Mx { .. } => rtype == RType::MX,
            RData::Txt { .. } => matches!(
                rtype,
                RType::TXT
                    | RType::SPF
                    | RType::NINFO
                    | RType::AVC
                    | RType::RESINFO
                    | RType::WALLET
            ),
            RData::Hinfo { .. } => rtype == RType::HINFO,
            RData::Srv { .. } => rtype == RType::SRV,
            RData::Naptr { .. } => rtype == RType::NAPTR,
            RData::Caa { .. } => rtype == RType::CAA,
            RData::Ds { .. } => matches!(rtype, RType::DS | RType::CDS | RType::TA | RType::DLV),
            RData::Dnskey { .. } => matches!(rtype, RType::DNSKEY | RType::CDNSKEY | RType::KEY),
            RData::Rrsig { .. } => matches!(rtype, RType::RRSIG | RType::SIG),
            RData::Nsec { .. } => rtype == RType::NSEC,
            RData::Nsec3 { .. } => rtype == RType::NSEC3,
            RData::Nsec3param { .. } => rtype == RType::NSEC3PARAM,
            RData::Tlsa { .. } => matches!(rtype, RType::TLSA | RType::SMIMEA),
            RData::Sshfp { .. } => rtype == RType::SSHFP,
            RData::Svcb { .. } => matches!(rtype, RType::SVCB | RType::HTTPS),
            RData::Opt { .. } => rtype == RType::OPT,
            // Only the type is checked: a field list that breaks the type's layout encodes to
            // RDATA that then fails to decode, with the offset.
            RData::Fields { .. } => rdfields::handles(rtype),
            RData::Unknown { .. } | RData::Empty => true,
        }
    }

    /// The single name a CNAME/DNAME/NS/PTR record points to.
    pub fn target_name(&self) -> Option<&Name> {
        match self {
            RData::Name { target } => Some(target),
            _ => None,
        }
    }
}

/// Hash algorithm and flags, iterations, salt: the head of NSEC3 and NSEC3PARAM.
fn encode_nsec3_head(
    enc: &mut Encoder,
    [hash_algorithm, flags]: [u8; 2],
    iterations: u16,
    salt: &[u8],
    salt_what: &'static str,
) -> Result<(), WireError> {
    enc.u8(hash_algorithm);
    enc.u8(flags);
    enc.u16(iterations);
    enc.char_string(salt, salt_what)
}

fn encode_svc_param(p: &SvcParam, enc: &mut Encoder) -> Result<(), WireError> {
    enc.u16(p.key());
    let len_at = enc.len();
    enc.u16(0);
    match p {
        SvcParam::Mandatory { keys } => keys.iter().for_each(|k| enc.u16(*k)),
        SvcParam::Alpn { ids } => {
            for id in ids {
                enc.char_string(id, "alpn id")?;
            }
        }
        SvcParam::NoDefaultAlpn => {}
        SvcParam::Port { port } => enc.u16(*port),
        SvcParam::Ipv4hint { addresses } => addresses.iter().for_each(|a| enc.bytes(&a.octets())),
        SvcParam::Ech { config } => enc.bytes(config),
        SvcParam::Ipv6hint { addresses } => addresses.iter().for_each(|a| enc.bytes(&a.octets())),
        SvcParam::Dohpath { template } => enc.bytes(template),
        SvcParam::Unknown { value, .. } => enc.bytes(value),
    }
    let len = u16::try_from(enc.len() - len_at - 2)
        .map_err(|_| WireError::invalid("SvcParam", "value too long"))?;
    enc.set_u16(len_at, len);
    Ok(())
}

/// Writes `,`-separated alpn ids with RFC 9460 escaping of `,` and `\`.
fn write_alpn(f: &mut impl Write, ids: &[Vec<u8>]) -> fmt::Result {
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        for &b in id {
            match b {
                // Two levels (RFC 9460 A.1): the value-list escape `\,` / `\\`, then the
                // zone-file escape of each backslash: `\\,` and `\\\\` in the text.
                b',' => f.write_str("\\\\,")?,
                b'\\' => f.write_str("\\\\\\\\")?,
                b'"' => f.write_str("\\\"")?,
                0x21..=0x7e => f.write_char(b as char)?,
                _ => write!(f, "\\{b:03}")?,
            }
        }
    }
    Ok(())
}

impl fmt::Display for SvcParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |v: Vec<String>| v.join(",");
        match self {
            SvcParam::Mandatory { keys } => write!(
                f,
                "mandatory={}",
                join(keys.iter().map(|k| svc_key_name(*k)).collect())
            ),
            SvcParam::Alpn { ids } => {
                f.write_str("alpn=\"")?;
                write_alpn(f, ids)?;
                f.write_char('"')
            }
            SvcParam::NoDefaultAlpn => f.write_str("no-default-alpn"),
            SvcParam::Port { port } => write!(f, "port={port}"),
            SvcParam::Ipv4hint { addresses } => write!(
                f,
                "ipv4hint={}",
                join(addresses.iter().map(|a| a.to_string()).collect())
            ),
            SvcParam::Ech { config } => write!(f, "ech=\"{}\"", text::base64(config)),
            SvcParam::Ipv6hint { addresses } => write!(
                f,
                "ipv6hint={}",
                join(addresses.iter().map(|a| a.to_string()).collect())
            ),
            SvcParam::Dohpath { template } => {
                f.write_str("dohpath=")?;
                write_quoted(f, template)
            }
            SvcParam::Unknown { number, value } => {
                write!(f, "key{number}")?;
                if value.is_empty() {
                    return Ok(());
                }
                f.write_char('=')?;
                write_quoted(f, value)
            }
        }
    }
}

/// Character-strings, quoted, separated by spaces.
fn write_quoted_all<T: AsRef<[u8]>>(
    f: &mut fmt::Formatter<'_>,
    strings: impl IntoIterator<Item = T>,
) -> fmt::Result {
    for (i, s) in strings.into_iter().enumerate() {
        if i > 0 {
            f.write_char(' ')?;
        }
        write_quoted(f, s.as_ref())?;
    }
    Ok(())
}

/// An NSEC/NSEC3 type list after its other fields, if it is not empty.
fn write_types(f: &mut fmt::Formatter<'_>, types: &[RType]) -> fmt::Result {
    if types.is_empty() {
        return Ok(());
    }
    write!(f, " {}", types_text(types))
}

/// An NSEC3/NSEC3PARAM salt: hex, or `-` when empty (RFC 5155 3.3).
fn salt_text(salt: &[u8]) -> String {
    if salt.is_empty() {
        "-".to_string()
    } else {
        text::hex_upper(salt)
    }
}

fn types_text(types: &[RType]) -> String {
    types
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Presentation format of the RDATA (the part after `owner TTL class type`), as dig prints it.
impl fmt::Display for RData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::A { address } => write!(f, "{address}"),
            RData::Aaaa { address } => write!(f, "{address}"),
            RData::Name { target } => write!(f, "{target}"),
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                write!(
                    f,
                    "{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"
                )
            }
            RData::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            RData::Txt { strings } => write_quoted_all(f, strings),
            RData::Hinfo { cpu, os } => write_quoted_all(f, [cpu, os]),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {target}"),
            RData::Naptr {
                order,
                preference,
                flags,
                services,
                regexp,
                replacement,
            } => {
                write!(f, "{order} {preference} ")?;
                write_quoted_all(f, [flags, services, regexp])?;
                write!(f, " {replacement}")
            }
            RData::Caa { flags, tag, value } => {
                write!(f, "{flags} ")?;
                text::write_escaped(f, tag)?;
                f.write_char(' ')?;
                write_quoted(f, value)
            }
            RData::Ds {
                key_tag,
                algorithm,
                digest_type,
                digest,
            } => {
                write!(
                    f,
                    "{key_tag} {algorithm} {digest_type} {}",
                    text::hex_upper(digest)
                )
            }
            RData::Dnskey {
                flags,
                protocol,
                algorithm,
                public_key,
            } => {
                write!(
                    f,
                    "{flags} {protocol} {algorithm} {}",
                    text::base64(public_key)
                )
            }
            RData::Rrsig {
                type_covered,
                algorithm,
                labels,
                original_ttl,
                expiration,
                inception,
                key_tag,
                signer,
                signature,
            } => write!(
                f,
                "{type_covered} {algorithm} {labels} {original_ttl} {} {} {key_tag} {signer} {}",
                text::rrsig_time(*expiration),
                text::rrsig_time(*inception),
                text::base64(signature)
            ),
            RData::Nsec { next, types } => {
                write!(f, "{next}")?;
                write_types(f, types)
            }
            RData::Nsec3 {
                hash_algorithm,
                flags,
                iterations,
                salt,
                next_hashed,
                types,
            } => {
                write!(
                    f,
                    "{hash_algorithm} {flags} {iterations} {} {}",
                    salt_text(salt),
                    text::base32hex(next_hashed)
                )?;
                write_types(f, types)
            }
            RData::Nsec3param {
                hash_algorithm,
                flags,
                iterations,
                salt,
            } => write!(
                f,
                "{hash_algorithm} {flags} {iterations} {}",
                salt_text(salt)
            ),
            RData::Tlsa {
                usage,
                selector,
                matching_type,
                data,
            } => {
                write!(
                    f,
                    "{usage} {selector} {matching_type} {}",
                    text::hex_upper(data)
                )
            }
            RData::Sshfp {
                algorithm,
                fingerprint_type,
                fingerprint,
            } => {
                write!(
                    f,
                    "{algorithm} {fingerprint_type} {}",
                    text::hex_upper(fingerprint)
                )
            }
            RData::Svcb {
                priority,
                target,
                params,
            } => {
                write!(f, "{priority} {target}")?;
                for p in params {
                    write!(f, " {p}")?;
                }
                Ok(())
            }
            RData::Opt { options } => {
                for (i, o) in options.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{o}")?;
                }
                Ok(())
            }
            RData::Fields { fields } => rdfields::write_fields(f, fields),
            RData::Empty => Ok(()),
            RData::Unknown { data } => {
                write!(f, "\\# {}", data.len())?;
                if !data.is_empty() {
                    write!(f, " {}", text::hex(data))?;
                }
                Ok(())
            }
        }
    }
}
