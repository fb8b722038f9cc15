//! Small presentation-format helpers shared by records, options and the dig-style printer:
//! character-strings, hex, base64, base32hex and RRSIG timestamps.

use core::fmt::{self, Write};

use base64::Engine as _;

/// Writes a character-string in quotes, escaping `"` and `\` and non-printable bytes (RFC 1035 5.1).
pub fn write_quoted(out: &mut impl Write, s: &[u8]) -> fmt::Result {
    out.write_char('"')?;
    write_escaped(out, s)?;
    out.write_char('"')
}

/// Escapes a character-string without quotes.
pub fn write_escaped(out: &mut impl Write, s: &[u8]) -> fmt::Result {
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.write_char('\\')?;
                out.write_char(b as char)?;
            }
            0x20..=0x7e => out.write_char(b as char)?,
            _ => write!(out, "\\{b:03}")?,
        }
    }
    Ok(())
}

/// The escaped form of a character-string, without quotes.
pub fn escaped(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    let _ = write_escaped(&mut out, s);
    out
}

/// Reverses [`write_escaped`]: `\X` is X, `\DDD` is a byte.
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let rest = &b[i + 1..];
        if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
            let v = u32::from(rest[0] - b'0') * 100
                + u32::from(rest[1] - b'0') * 10
                + u32::from(rest[2] - b'0');
            out.push(
                u8::try_from(v)
                    .map_err(|_| format!("escape \\{} above 255 at byte {i}", &s[i + 1..i + 4]))?,
            );
            i += 4;
        } else if let Some(&c) = rest.first() {
            out.push(c);
            i += 2;
        } else {
            return Err(format!("dangling backslash at byte {i}"));
        }
    }
    Ok(out)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

/// Uppercase hex, as dig prints digests.
pub fn hex_upper(bytes: &[u8]) -> String {
    hex(bytes).to_ascii_uppercase()
}

/// Parses hex, ignoring whitespace.
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, p)| {
            let d = |c: u8| {
                (c as char)
                    .to_digit(16)
                    .ok_or_else(|| format!("{:?} is not a hex digit (digit {})", c as char, i * 2))
            };
            Ok((d(p[0])? << 4 | d(p[1])?) as u8)
        })
        .collect()
}

pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unbase64(s: &str) -> Result<Vec<u8>, String> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|e| e.to_string())
}

const B32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

/// Base32 with the extended hex alphabet and no padding (RFC 4648 7, as NSEC3 uses it).
pub fn base32hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(B32HEX[((v >> (35 - i * 5)) & 31) as usize] as char);
        }
    }
    out
}

pub fn unbase32hex(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut acc = 0u64;
    let mut bits = 0;
    for c in s.trim_end_matches('=').chars() {
        let v = c
            .to_digit(32)
            .ok_or_else(|| format!("{c:?} is not a base32hex digit"))?;
        acc = acc << 5 | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// RRSIG time as YYYYMMDDHHMMSS (RFC 4034 3.2), in UTC.
pub fn rrsig_time(t: u32) -> String {
    let secs = i64::from(t);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses YYYYMMDDHHMMSS or a plain number of seconds.
pub fn parse_rrsig_time(s: &str) -> Result<u32, String> {
    if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
        let n = |r: core::ops::Range<usize>| s[r].parse::<i64>().map_err(|e| e.to_string());
        let days = days_from_civil(n(0..4)?, n(4..6)?, n(6..8)?);
        let secs = days * 86_400 + n(8..10)? * 3600 + n(10..12)? * 60 + n(12..14)?;
        return u32::try_from(secs).map_err(|_| format!("time {s} out of range"));
    }
    s.parse()
        .map_err(|_| format!("expected YYYYMMDDHHMMSS, found {s:?}"))
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Serde adapters for byte fields in the JSON form.
pub mod serde_bytes {
    macro_rules! adapter {
        ($name:ident, $enc:path, $dec:path) => {
            pub mod $name {
                pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_str(&$enc(v))
                }
                pub fn deserialize<'de, D: serde::Deserializer<'de>>(
                    d: D,
                ) -> Result<Vec<u8>, D::Error> {
                    let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                    $dec(&s).map_err(serde::de::Error::custom)
                }
            }
        };
    }
    adapter!(hex, crate::wire::text::hex, crate::wire::text::unhex);
    adapter!(
        base64,
        crate::wire::text::base64,
        crate::wire::text::unbase64
    );
    adapter!(
        base32hex,
        crate::wire::text::base32hex,
        crate::wire::text::unbase32hex
    );
    adapter!(
        escaped,
        crate::wire::text::escaped,
        crate::wire::text::unescape
    );

    /// A list of character-strings, each in escaped form.
    pub mod escaped_list {
        pub fn serialize<S: serde::Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| crate::wire::text::escaped(x)))
        }
        pub fn deserialize<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<Vec<u8>>, D::Error> {
            let v = <Vec<String> as serde::Deserialize>::deserialize(d)?;
            v.iter()
                .map(|s| crate::wire::text::unescape(s).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        let data = b"\x00\x01\xfe\xffhello";
        assert_eq!(unhex(&hex(data)).unwrap(), data);
        assert_eq!(unbase64(&base64(data)).unwrap(), data);
        for n in 0..12 {
            let d: Vec<u8> = (0..n).map(|i| (i * 37) as u8).collect();
            assert_eq!(unbase32hex(&base32hex(&d)).unwrap(), d, "len {n}");
        }
        assert_eq!(base32hex(b"f"), "CO");
        assert_eq!(base32hex(b"foobar"), "CPNMUOJ1E8");
        assert_eq!(unescape(&escaped(b"a\"b\\c\x01")).unwrap(), b"a\"b\\c\x01");
    }

    #[test]
    fn rrsig_times() {
        assert_eq!(rrsig_time(0), "19700101000000");
        assert_eq!(rrsig_time(1_700_000_000), "20231114221320");
        assert_eq!(parse_rrsig_time("20231114221320").unwrap(), 1_700_000_000);
    }
}
