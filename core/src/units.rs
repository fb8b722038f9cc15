//! Units in configuration files: durations and byte sizes as people write them.
//!
//! A duration is [`Duration`] in the code and text in files: `"1500ms"`, `"4s"`, `"2m"`, `"1h"`,
//! `"1d"`, or several parts added up (`"1m30s"`). A bare number is refused: its unit would be a
//! guess. A byte size is a number of bytes or text with a binary unit: `4096`, `"256KiB"`,
//! `"32MiB"`. Both serialize to the shortest exact text (`"1500ms"`, `"2m"`, `"32MiB"`).
//!
//! Used with `#[serde(with = "crate::units::duration")]` and `crate::units::bytes`.

use core::fmt;
use core::time::Duration;

const DURATION_UNITS: [(&str, u128); 7] = [
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

const SIZE_UNITS: [(&str, u128); 5] = [
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
    ("", 1),
];

/// Splits `"1m30s"` into `[(1, "m"), (30, "s")]`.
fn parts(s: &str) -> Option<Vec<(u128, &str)>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u128 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
            .unwrap_or(rest.len());
        out.push((n, &rest[..unit]));
        rest = rest[unit..].trim_start();
    }
    Some(out)
}

fn sum(s: &str, units: &[(&str, u128)], unit_required: bool) -> Option<u128> {
    let mut total: u128 = 0;
    for (n, unit) in parts(s)? {
        if unit_required && unit.is_empty() {
            return None;
        }
        let (_, scale) = units.iter().find(|(u, _)| *u == unit)?;
        total = total.checked_add(n.checked_mul(*scale)?)?;
    }
    Some(total)
}

/// Reads a duration: `"1500ms"`, `"4s"`, `"2m"`, `"1h"`, `"1d"`, `"1m30s"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (write it like \"1500ms\", \"4s\" or \"2m\")");
    let ns = sum(s, &DURATION_UNITS, true).ok_or_else(bad)?;
    let secs = u64::try_from(ns / 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, (ns % 1_000_000_000) as u32))
}

fn shortest(n: u128, units: &[(&'static str, u128)]) -> (u128, &'static str) {
    units
        .iter()
        .find(|(_, scale)| n % scale == 0)
        .map_or((n, ""), |(u, scale)| (n / scale, *u))
}

/// A duration as text in its largest exact unit: `"1500ms"`, `"4s"`, `"2m"`.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    let (n, u) = shortest(d.as_nanos(), &DURATION_UNITS);
    format!("{n}{u}")
}

/// Reads a byte size: a number of bytes, or `"256KiB"`, `"32MiB"`, `"1GiB"`.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let bad = || format!("{s:?} is not a size (write it like 4096, \"256KiB\" or \"32MiB\")");
    let n = sum(s, &SIZE_UNITS, false).ok_or_else(bad)?;
    usize::try_from(n).map_err(|_| bad())
}

/// A byte size as text in its largest exact binary unit: `"32MiB"`, `"4KiB"`, `"1000B"`.
pub fn format_bytes(n: usize) -> String {
    if n == 0 {
        return "0B".into();
    }
    let (v, u) = shortest(n as u128, &SIZE_UNITS[..4]);
    format!("{v}{u}")
}

/// `#[serde(with = "crate::units::duration")]` for a [`Duration`].
pub mod duration {
    use super::*;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"1500ms\", \"4s\" or \"2m\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                parse_duration(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// `#[serde(with = "crate::units::bytes")]` for a size in bytes (`usize`).
pub mod bytes {
    use super::*;

    pub fn serialize<S: serde::Serializer>(n: &usize, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_bytes(*n))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = usize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 4096, \"256KiB\" or \"32MiB\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<usize, E> {
                parse_bytes(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<usize, E> {
                usize::try_from(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<usize, E> {
                usize::try_from(v).map_err(|_| E::custom(format!("{v} is not a size")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<usize, E> {
                // JSON numbers from JavaScript arrive as floats when they went through one.
                if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 {
                    Ok(v as usize)
                } else {
                    Err(E::custom(format!("{v} is not a size")))
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print() {
        for (text, d) in [
            ("1500ms", Duration::from_millis(1500)),
            ("4s", Duration::from_secs(4)),
            ("2m", Duration::from_secs(120)),
            ("1m30s", Duration::from_secs(90)),
            ("1 h", Duration::from_secs(3600)),
            ("1d", Duration::from_secs(86_400)),
            ("0s", Duration::ZERO),
            ("250us", Duration::from_micros(250)),
        ] {
            assert_eq!(parse_duration(text), Ok(d), "{text}");
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        for bad in [
            "",
            "5",
            "ms",
            "5 parsecs",
            "-1s",
            "1.5s",
            "99999999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_read_and_print() {
        for (text, n) in [
            ("4096", 4096),
            ("4096B", 4096),
            ("256KiB", 256 << 10),
            ("32MiB", 32 << 20),
            ("1GiB", 1 << 30),
        ] {
            assert_eq!(parse_bytes(text), Ok(n), "{text}");
            assert_eq!(parse_bytes(&format_bytes(n)), Ok(n), "{text}");
        }
        assert_eq!(format_bytes(32 << 20), "32MiB");
        assert_eq!(format_bytes(1000), "1000B");
        for bad in ["", "MiB", "5MB", "-1", "1.5MiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
    }
}
