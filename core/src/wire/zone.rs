//! Reading one record from presentation text (`owner TTL class type rdata`), as zone files and
//! dig print them. Used by the simulator's scenarios and by people typing records: the common
//! types are parsed by layout, every type accepts the RFC 3597 `\# len hex` form.

use super::error::WireError;
use super::message::Record;
use super::name::Name;
use super::rdata::RData;
use super::text::{unescape, unhex};
use super::types::{Class, RType};

/// Splits presentation text into tokens: quoted strings stay one token (quotes removed, escapes
/// kept for [`unescape`]).
fn tokens(s: &str) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut t = String::new();
            loop {
                match chars.next() {
                    Some('\\') => {
                        t.push('\\');
                        if let Some(n) = chars.next() {
                            t.push(n);
                        }
                    }
                    Some('"') => break,
                    Some(c) => t.push(c),
                    None => return Err("unterminated quoted string".into()),
                }
            }
            out.push((t, true));
        } else {
            let mut t = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                t.push(c);
                chars.next();
            }
            out.push((t, false));
        }
    }
    Ok(out)
}

impl Record {
    /// Parses `owner [TTL] [class] type rdata`.
    pub fn from_text(line: &str) -> Result<Record, WireError> {
        let bad = |why: String| WireError::invalid(format!("record {line:?}"), why);
        let toks = tokens(line).map_err(bad)?;
        let mut it = toks.iter().map(|(t, _)| t.as_str()).peekable();
        let owner: Name = it.next().ok_or_else(|| bad("empty line".into()))?.parse()?;
        let mut ttl = 0u32;
        let mut class = Class::IN;
        let mut rtype = None;
        for t in it.by_ref() {
            if let Ok(v) = t.parse::<u32>() {
                ttl = v;
            } else if let Some(c) = Class::from_mnemonic(t) {
                class = c;
            } else if let Some(r) = RType::from_mnemonic(t) {
                rtype = Some(r);
                break;
            } else {
                return Err(bad(format!("expected a TTL, class or type, found {t:?}")));
            }
        }
        let rtype = rtype.ok_or_else(|| bad("no record type".into()))?;
        let rest: Vec<&(String, bool)> = toks.iter().skip(toks.len() - it.count()).collect();
        let rdata =
            parse_rdata(rtype, &rest).map_err(|why| bad(format!("{rtype} RDATA: {why}")))?;
        Ok(Record {
            name: owner,
            rtype,
            class,
            ttl,
            rdata,
        })
    }
}

fn parse_rdata(rtype: RType, t: &[&(String, bool)]) -> Result<RData, String> {
    let s = |i: usize| {
        t.get(i)
            .map(|x| x.0.as_str())
            .ok_or_else(|| format!("missing field {}", i + 1))
    };
    let num = |i: usize| -> Result<u32, String> {
        s(i)?
            .parse::<u32>()
            .map_err(|_| format!("field {} is not a number", i + 1))
    };
    let n16 = |i: usize| -> Result<u16, String> {
        u16::try_from(num(i)?).map_err(|_| format!("field {} out of range", i + 1))
    };
    let n8 = |i: usize| -> Result<u8, String> {
        u8::try_from(num(i)?).map_err(|_| format!("field {} out of range", i + 1))
    };
    let name =
        |i: usize| -> Result<Name, String> { s(i)?.parse::<Name>().map_err(|e| e.to_string()) };
    if t.first().is_some_and(|x| x.0 == "\\#") {
        let len: usize = s(1)?.parse().map_err(|_| "bad \\# length".to_string())?;
        let hex: String = t.iter().skip(2).map(|x| x.0.as_str()).collect();
        let data = unhex(&hex)?;
        if data.len() != len {
            return Err(format!("\\# says {len} bytes but has {}", data.len()));
        }
        return Ok(RData::Unknown { data });
    }
    let expect = |n: usize| {
        if t.len() == n {
            Ok(())
        } else {
            Err(format!("expected {n} fields, found {}", t.len()))
        }
    };
    Ok(match rtype {
        RType::A => {
            expect(1)?;
            RData::A {
                address: s(0)?.parse().map_err(|_| "bad IPv4 address".to_string())?,
            }
        }
        RType::AAAA => {
            expect(1)?;
            RData::Aaaa {
                address: s(0)?.parse().map_err(|_| "bad IPv6 address".to_string())?,
            }
        }
        RType::NS | RType::CNAME | RType::DNAME | RType::PTR => {
            expect(1)?;
            RData::Name { target: name(0)? }
        }
        RType::MX => {
            expect(2)?;
            RData::Mx {
                preference: n16(0)?,
                exchange: name(1)?,
            }
        }
        RType::SOA => {
            expect(7)?;
            RData::Soa {
                mname: name(0)?,
                rname: name(1)?,
                serial: num(2)?,
                refresh: num(3)?,
                retry: num(4)?,
                expire: num(5)?,
                minimum: num(6)?,
            }
        }
        RType::TXT | RType::SPF => {
            if t.is_empty() {
                return Err("no strings".into());
            }
            RData::Txt {
                strings: t.iter().map(|x| unescape(&x.0)).collect::<Result<_, _>>()?,
            }
        }
        RType::SRV => {
            expect(4)?;
            RData::Srv {
                priority: n16(0)?,
                weight: n16(1)?,
                port: n16(2)?,
                target: name(3)?,
            }
        }
        RType::CAA => {
            expect(3)?;
            RData::Caa {
                flags: n8(0)?,
                tag: s(1)?.as_bytes().to_vec(),
                value: unescape(s(2)?)?,
            }
        }
        RType::DS | RType::CDS => {
            let digest: String = t.iter().skip(3).map(|x| x.0.as_str()).collect();
            RData::Ds {
                key_tag: n16(0)?,
                algorithm: n8(1)?,
                digest_type: n8(2)?,
                digest: unhex(&digest)?,
            }
        }
        _ => return Err(format!("type {rtype} is only accepted as \\# len hex")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints() {
        for line in [
            "a.example.\t60\tIN\tA\t192.0.2.1",
            "a.example.\t60\tIN\tAAAA\t2001:db8::1",
            "a.example.\t300\tIN\tCNAME\tb.example.",
            "a.example.\t300\tIN\tMX\t10 mail.example.",
            "example.\t30\tIN\tSOA\tns1.example. host.example. 1 2 3 4 5",
            "a.example.\t60\tIN\tTXT\t\"v=spf1 -all\" \"two\\\"q\"",
            "_s._tcp.example.\t60\tIN\tSRV\t1 2 443 t.example.",
            "a.example.\t60\tIN\tCAA\t0 issue \"ca.example\"",
            "a.example.\t60\tIN\tTYPE65280\t\\# 3 010203",
        ] {
            let r = Record::from_text(line).unwrap();
            assert_eq!(r.to_text(), line);
        }
        let r = Record::from_text("x. A 1.2.3.4").unwrap();
        assert_eq!((r.ttl, r.class), (0, Class::IN));
        assert!(Record::from_text("x. 60 IN A 1.2.3").is_err());
        assert!(Record::from_text("x. 60 IN A").is_err());
        assert!(Record::from_text("x. 60 IN BOGUS 1").is_err());
    }
}
