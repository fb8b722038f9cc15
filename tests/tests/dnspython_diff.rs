//! Differential test of dnspect-core's decoder against dnspython.
//!
//! `tests/dnspython/gen_corpus.py` builds 1200 varied responses with dnspython (fixed seed),
//! compressed by dnspython's encoder, and prints dnspython's own decoding of each. Here every
//! message is decoded with dnspect-core and compared field by field: header, questions, and for
//! every record the owner, TTL, class, type and RDATA presentation text; EDNS payload size, flags
//! and option bytes. Then the other way round: dnspect re-encodes each message (compressed and
//! uncompressed) and dnspython must decode that to exactly the view it had of its own encoding.
//!
//! RDATA text is compared after normalizing only the presentation differences that are legitimate
//! (each rule is documented at its function, and counted in the summary this test prints):
//!
//! * whitespace chunking of base64 and hex blobs, and trailing whitespace ([`join_blob`]);
//! * the case of hex and base32hex digits ([`lower`]);
//! * the text form of IPv6 addresses ([`ipv6`]);
//! * type and SvcParamKey mnemonics one library knows and the other prints generically
//!   ([`type_token`], [`svc_key`]);
//! * SVCB/HTTPS value quoting and character escapes that decode to the same bytes ([`svcb`]);
//! * types dnspython decodes but dnspect keeps opaque: dnspect's RFC 3597 `\# len hex` is compared
//!   with dnspython's `to_generic()` form of the same RDATA.
//!
//! Anything else (names, escapes in names and character-strings, numbers, order) must match
//! exactly, TTLs included: both read a TTL with its most significant bit set as 0 (RFC 2181 8).
//! A missing dnspython fails the test with a pointer to scripts/setup.sh.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use dnspect_core::wire::inspect::analyze::analyze;
use dnspect_core::wire::text;
use dnspect_core::wire::{Encoder, Message, RData, RType, Record};
use serde_json::Value;

const MIN_MESSAGES: usize = 1000;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("dnspython")
        .join("gen_corpus.py")
}

/// Fails (does not skip) when python3 or dnspython is missing.
fn require_dnspython() {
    let probe = Command::new("python3")
        .args(["-c", "import dns.message, dns.version"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "dnspython is not installed for python3 ({}): run scripts/setup.sh, which pip-installs it",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("python3 is not available ({e}): run scripts/setup.sh"),
    }
}

fn run_script(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("python3")
        .arg(script())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let input = input.to_string();
        // Write from a thread so a full stdout pipe cannot deadlock us.
        std::thread::spawn(move || pipe.write_all(input.as_bytes()).expect("write to python3"));
    }
    let out = child.wait_with_output().expect("python3 runs");
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{}",
        script().display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 JSON")
}

/// dnspython's mnemonic tables, from the corpus preamble.
struct Tables {
    types: HashMap<String, u16>,
    classes: HashMap<String, u16>,
    svc_keys: HashMap<String, u16>,
}

fn table(v: &Value) -> HashMap<String, u16> {
    v.as_object()
        .expect("table")
        .iter()
        .map(|(k, n)| {
            (
                k.clone(),
                n.as_u64().and_then(|n| u16::try_from(n).ok()).expect("u16"),
            )
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Dnspython,
    Dnspect,
}

/// Counts of what was compared, which normalizations were needed, and the mismatches.
#[derive(Default)]
struct Tally {
    checked: BTreeMap<&'static str, usize>,
    /// How many values needed each normalization to match, and a first example.
    normalized: BTreeMap<&'static str, (usize, String)>,
    mismatches: BTreeMap<&'static str, Vec<String>>,
}

impl Tally {
    fn check(&mut self, what: &'static str) {
        *self.checked.entry(what).or_default() += 1;
    }
    fn normalize(&mut self, rule: &'static str, example: &str) {
        let e = self
            .normalized
            .entry(rule)
            .or_insert_with(|| (0, example.to_string()));
        e.0 += 1;
    }
    fn mismatch(&mut self, what: &'static str, detail: String) {
        self.mismatches.entry(what).or_default().push(detail);
    }
    fn total_mismatches(&self) -> usize {
        self.mismatches.values().map(Vec::len).sum()
    }
}

// ---- normalization rules --------------------------------------------------------------------------

const CHUNKING: &str = "whitespace chunking of base64/hex blobs";
const HEX_CASE: &str = "hex/base32hex digit case";
const IPV6: &str = "IPv6 text form";
const TYPE_MNEMONICS: &str = "type mnemonics in RRSIG/NSEC/NSEC3 (tables differ)";
const SVC_KEYS: &str = "SvcParamKey mnemonics (ohttp = key8)";
const SVC_QUOTES: &str = "SVCB value quoting";
const SVC_ESCAPES: &str = "SVCB value escapes";
const GPOS_QUOTES: &str = "GPOS strings quoted (dig) or bare (dnspython)";
const LOC_METRES: &str = "LOC metres: 20m (dig) or 20.00m and defaults left out (dnspython)";
const TSIG_EMPTY_MAC: &str = "TSIG empty MAC: \"\" (dnspython) or nothing (dig)";
const RULES: [&str; 10] = [
    CHUNKING,
    HEX_CASE,
    IPV6,
    TYPE_MNEMONICS,
    SVC_KEYS,
    SVC_QUOTES,
    SVC_ESCAPES,
    GPOS_QUOTES,
    LOC_METRES,
    TSIG_EMPTY_MAC,
];

/// Canonicalization context: dnspython's tables, the side that printed the text, and one rule
/// switched off (to find out, by ablation, which rules a match needed).
struct Cx<'a> {
    t: &'a Tables,
    side: Side,
    off: Option<&'static str>,
}

impl Cx<'_> {
    fn on(&self, rule: &'static str) -> bool {
        self.off != Some(rule)
    }
}

/// dnspython splits base64 blobs into 32-character chunks and hex blobs into 128-character chunks
/// separated by spaces (and writes `\# 0 ` with a trailing space); dnspect writes each blob as one
/// token. Joins the tokens from `from` on.
fn join_blob(tokens: &[&str], from: usize, cx: &Cx<'_>) -> String {
    let sep = if cx.on(CHUNKING) { "" } else { " " };
    tokens.get(from..).map(|t| t.join(sep)).unwrap_or_default()
}

/// dnspython prints hex (DS digests, TLSA/SSHFP data, NSEC3 salts, generic RDATA) and NSEC3's
/// base32hex in lowercase; dnspect in uppercase as dig does. Both are case-insensitive encodings.
fn lower(s: &str, cx: &Cx<'_>) -> String {
    if cx.on(HEX_CASE) {
        s.to_ascii_lowercase()
    } else {
        s.to_string()
    }
}

/// IPv6 text forms: dnspython writes IPv4-compatible addresses as `::a.b.c.d` (RFC 4291 2.5.5.1),
/// Rust as `::xxxx:xxxx`; both parse to the same address. Canonicalizes through `Ipv6Addr`.
fn ipv6(s: &str, cx: &Cx<'_>) -> String {
    if !cx.on(IPV6) {
        return s.to_string();
    }
    match s.parse::<Ipv6Addr>() {
        Ok(a) => a.to_string(),
        Err(_) => format!("<not an IPv6 address: {s}>"),
    }
}

/// A type in an RRSIG or an NSEC/NSEC3 bitmap. The two libraries' mnemonic tables differ (each
/// knows a few types the other prints as `TYPEnnn`): maps the token to its number through the
/// printing side's own table. A token that side cannot map stays as it is and will mismatch.
fn type_token(tok: &str, cx: &Cx<'_>) -> String {
    if !cx.on(TYPE_MNEMONICS) {
        return tok.to_string();
    }
    let n = match cx.side {
        Side::Dnspect => RType::from_mnemonic(tok).map(|r| r.0),
        Side::Dnspython => {
            cx.t.types
                .get(tok)
                .copied()
                .or_else(|| tok.strip_prefix("TYPE").and_then(|d| d.parse().ok()))
        }
    };
    n.map_or_else(|| tok.to_string(), |n| format!("TYPE{n}"))
}

/// A SvcParamKey name: dnspython knows `ohttp` (8) and `docpath` (10), dnspect prints them as
/// `key8`/`key10` (RFC 9460 2.1 generic form). Maps to the number through the printing side's table.
fn svc_key(k: &str, cx: &Cx<'_>) -> String {
    if !cx.on(SVC_KEYS) {
        return k.to_string();
    }
    let ours = [
        "mandatory",
        "alpn",
        "no-default-alpn",
        "port",
        "ipv4hint",
        "ech",
        "ipv6hint",
        "dohpath",
    ];
    let n = match cx.side {
        Side::Dnspect => ours.iter().position(|x| *x == k).map(|p| p as u16),
        Side::Dnspython => cx.t.svc_keys.get(k).copied(),
    };
    n.or_else(|| k.strip_prefix("key").and_then(|d| d.parse().ok()))
        .map_or_else(|| k.to_string(), |n| format!("key{n}"))
}

/// Splits on whitespace outside double quotes (a backslash escapes the next character).
fn tokens_quoted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            cur.push(c);
            escaped = true;
        } else if c == '"' {
            cur.push(c);
            quoted = !quoted;
        } else if c.is_whitespace() && !quoted {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// SVCB/HTTPS (RFC 9460 2.1): every value may be quoted or not, and a character may be written
/// as itself or as an escape; dnspython quotes every value (`port="443"`) and writes spaces in
/// values literally, dnspect quotes only where needed and writes a space as `\032`. Compares the
/// keys by number, and the values after removing the quotes and decoding the zone-file escapes
/// (one level: the `\,` of an alpn value survives), with `mandatory` keys mapped to numbers and
/// `ipv6hint` addresses canonicalized.
fn svcb(s: &str, cx: &Cx<'_>) -> String {
    let toks = tokens_quoted(s);
    let mut out: Vec<String> = toks.iter().take(2).cloned().collect();
    for tok in toks.iter().skip(2) {
        let (k, v) = match tok.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (tok.as_str(), None),
        };
        let key = svc_key(k, cx);
        let Some(v) = v else {
            out.push(key);
            continue;
        };
        let inner = match v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
            Some(inner) if cx.on(SVC_QUOTES) => inner,
            _ => v,
        };
        if !cx.on(SVC_ESCAPES) {
            out.push(format!("{key}={inner}"));
            continue;
        }
        let bytes = match text::unescape(inner) {
            Ok(b) => b,
            Err(e) => return format!("<bad escape in {tok}: {e}>"),
        };
        let value = String::from_utf8_lossy(&bytes).into_owned();
        let value = match key.as_str() {
            "key0" => value
                .split(',')
                .map(|k| svc_key(k, cx))
                .collect::<Vec<_>>()
                .join(","),
            "key6" => value
                .split(',')
                .map(|a| ipv6(a, cx))
                .collect::<Vec<_>>()
                .join(","),
            _ => text::escaped(&bytes),
        };
        out.push(format!("{key}={value}"));
    }
    out.join(" ")
}

/// TSIG (RFC 8945 4.2) with an empty MAC (an error answer): dnspython writes the MAC as `""`,
/// dig (BIND's totext) writes nothing for it; drops the `""`.
fn tsig(toks: &[&str], cx: &Cx<'_>) -> String {
    if !cx.on(TSIG_EMPTY_MAC) {
        return toks.join(" ");
    }
    toks.iter()
        .filter(|t| **t != "\"\"")
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// GPOS (RFC 1712 3): three character-strings. dig quotes them (`"-22.6882"`), dnspython prints
/// them bare; removes the quotes.
fn gpos(toks: &[&str], cx: &Cx<'_>) -> String {
    if !cx.on(GPOS_QUOTES) {
        return toks.join(" ");
    }
    toks.iter()
        .map(|t| t.trim_matches('"'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// LOC (RFC 1876 3): dig writes size and precisions in whole metres when they are (`20m`) and
/// always all three; dnspython writes `20.00m` and leaves out the three when they are the
/// defaults (1m 10000m 10m). Reads the metre values as centimetres and fills in the defaults.
fn loc(toks: &[&str], cx: &Cx<'_>) -> String {
    if !cx.on(LOC_METRES) {
        return toks.join(" ");
    }
    let cm = |t: &str| -> String {
        let v = t.trim_end_matches('m');
        let (whole, frac) = v.split_once('.').unwrap_or((v, "0"));
        let frac: String = format!("{frac:0<2}").chars().take(2).collect();
        match (whole.parse::<i64>(), frac.parse::<i64>()) {
            (Ok(w), Ok(f)) => format!(
                "{}cm",
                w * 100 + if w < 0 || v.starts_with('-') { -f } else { f }
            ),
            _ => format!("<bad LOC metres {t}>"),
        }
    };
    let mut out: Vec<String> = toks.iter().take(8).map(|t| t.to_string()).collect();
    let metres: Vec<&str> = toks.iter().skip(8).copied().collect();
    let defaults = ["0m", "1m", "10000m", "10m"];
    for (i, d) in defaults.iter().enumerate() {
        out.push(cm(metres.get(i).copied().unwrap_or(d)));
    }
    out.join(" ")
}

/// The RFC 3597 generic form `\# len hex`, with the blob joined and lowercased.
fn generic(s: &str, cx: &Cx<'_>) -> String {
    let toks: Vec<&str> = s.split_whitespace().collect();
    if toks.first() != Some(&"\\#") {
        return s.to_string();
    }
    format!(
        "\\# {} {}",
        toks.get(1).unwrap_or(&""),
        lower(&join_blob(&toks, 2, cx), cx)
    )
}

/// The canonical form of RDATA text of type `rtype`.
fn canonical(rtype: RType, s: &str, cx: &Cx<'_>) -> String {
    let toks: Vec<&str> = s.split_whitespace().collect();
    let head = |n: usize| toks.iter().take(n).copied().collect::<Vec<_>>().join(" ");
    match rtype {
        RType::AAAA => ipv6(s.trim(), cx),
        // key tag, algorithm, digest type, digest (hex).
        RType::DS | RType::CDS | RType::DLV | RType::TA => {
            format!("{} {}", head(3), lower(&join_blob(&toks, 3, cx), cx))
        }
        // flags, protocol, algorithm, key (base64: case matters); CERT: type, tag, algorithm, blob.
        RType::DNSKEY | RType::CDNSKEY | RType::KEY | RType::CERT => {
            format!("{} {}", head(3), join_blob(&toks, 3, cx))
        }
        RType::DHCID | RType::OPENPGPKEY => join_blob(&toks, 0, cx),
        // precedence, gateway type, algorithm, gateway, key (base64).
        RType::IPSECKEY => format!("{} {}", head(4), join_blob(&toks, 4, cx)),
        // algorithm, HIT (hex), key (base64), servers.
        RType::HIP => {
            let rest = toks.get(2..).map(|t| t.join(" ")).unwrap_or_default();
            let hit = toks.get(1).map(|h| lower(h, cx)).unwrap_or_default();
            format!("{} {hit} {rest}", head(1))
        }
        // serial, scheme, algorithm, digest (hex).
        RType::ZONEMD => format!("{} {}", head(3), lower(&join_blob(&toks, 3, cx), cx)),
        RType::GPOS => gpos(&toks, cx),
        RType::LOC => loc(&toks, cx),
        // type covered, 6 numbers, signer, signature (base64).
        RType::RRSIG | RType::SIG => {
            let covered = toks.first().map(|c| type_token(c, cx)).unwrap_or_default();
            let mid = toks.get(1..8).map(|m| m.join(" ")).unwrap_or_default();
            format!("{covered} {mid} {}", join_blob(&toks, 8, cx))
        }
        RType::TLSA | RType::SMIMEA => {
            format!("{} {}", head(3), lower(&join_blob(&toks, 3, cx), cx))
        }
        RType::SSHFP => format!("{} {}", head(2), lower(&join_blob(&toks, 2, cx), cx)),
        RType::NSEC => {
            let types: Vec<String> = toks.iter().skip(1).map(|x| type_token(x, cx)).collect();
            format!("{} {}", head(1), types.join(" "))
        }
        // algorithm, flags, iterations, salt (hex or -), next hashed owner (base32hex), types.
        RType::NSEC3 => {
            let salt = toks.get(3).map(|x| lower(x, cx)).unwrap_or_default();
            let next = toks.get(4).map(|x| lower(x, cx)).unwrap_or_default();
            let types: Vec<String> = toks.iter().skip(5).map(|x| type_token(x, cx)).collect();
            format!("{} {salt} {next} {}", head(3), types.join(" "))
        }
        RType::NSEC3PARAM => format!(
            "{} {}",
            head(3),
            toks.get(3).map(|x| lower(x, cx)).unwrap_or_default()
        ),
        RType::SVCB | RType::HTTPS => svcb(s, cx),
        RType::TSIG => tsig(&toks, cx),
        // Everything else (names, quoted character-strings, numbers) must match exactly, but for
        // trailing whitespace.
        _ => s.trim_end().to_string(),
    }
}

/// Both texts in canonical form, with `off` switched off. `opaque`: compare RFC 3597 forms.
fn canonical_pair(
    rtype: RType,
    py: &str,
    ours: &str,
    opaque: bool,
    t: &Tables,
    off: Option<&'static str>,
) -> (String, String) {
    let a = Cx {
        t,
        side: Side::Dnspython,
        off,
    };
    let b = Cx {
        t,
        side: Side::Dnspect,
        off,
    };
    if opaque {
        (generic(py, &a), generic(ours, &b))
    } else {
        (canonical(rtype, py, &a), canonical(rtype, ours, &b))
    }
}

// ---- comparison ---------------------------------------------------------------------------------

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("<not a string>")
}
fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(u64::MAX)
}

/// A mnemonic printed by both: equal, or one side prints the generic `TYPEnnn`/`CLASSnnn` form
/// for a value the other has a mnemonic for (and the numbers agree, checked separately).
fn same_mnemonic(py: &str, ours: &str, prefix: &str, tally: &mut Tally) -> bool {
    if py == ours {
        return true;
    }
    if py.starts_with(prefix) || ours.starts_with(prefix) {
        tally.normalize(
            "record type/class mnemonic known to one library only",
            &format!("{py} vs {ours}"),
        );
        return true;
    }
    false
}

fn compare_record(ctx: &str, py: &Value, r: &Record, t: &Tables, tally: &mut Tally) {
    let py = py.as_array().expect("record view");
    tally.check("records");
    let name = r.name.to_string();
    if s(&py[0]) != name {
        tally.mismatch(
            "owner name",
            format!("{ctx}: dnspython {:?}, dnspect {name:?}", s(&py[0])),
        );
    }
    // Both decoders apply RFC 2181 8: a TTL with the most significant bit set reads as 0.
    if n(&py[1]) != u64::from(r.ttl) {
        tally.mismatch(
            "TTL",
            format!("{ctx}: dnspython {}, dnspect {}", py[1], r.ttl),
        );
    }
    if n(&py[4]) != u64::from(r.rtype.0)
        || !same_mnemonic(s(&py[3]), &r.rtype.to_string(), "TYPE", tally)
    {
        tally.mismatch(
            "type",
            format!(
                "{ctx}: dnspython {} ({}), dnspect {} ({})",
                s(&py[3]),
                py[4],
                r.rtype,
                r.rtype.0
            ),
        );
    }
    if n(&py[5]) != u64::from(r.class.0)
        || !same_mnemonic(s(&py[2]), &r.class.to_string(), "CLASS", tally)
    {
        tally.mismatch(
            "class",
            format!(
                "{ctx}: dnspython {} ({}), dnspect {} ({})",
                s(&py[2]),
                py[5],
                r.class,
                r.class.0
            ),
        );
    }
    let ours = r.rdata.to_string();
    let opaque = matches!(r.rdata, RData::Unknown { .. });
    // For a type dnspect keeps opaque, compare with dnspython's RFC 3597 form of the RDATA.
    let py_text = if opaque { s(&py[7]) } else { s(&py[6]) };
    tally.check(if opaque {
        "RDATA (opaque)"
    } else {
        "RDATA (typed)"
    });
    if opaque && s(&py[6]) != s(&py[7]) {
        tally.normalize(
            "RFC 3597 form for a type only dnspython decodes",
            &format!("{} {:?} vs {ours:?}", r.rtype, s(&py[6])),
        );
    }
    let (a, b) = canonical_pair(r.rtype, py_text, &ours, opaque, t, None);
    if a != b {
        tally.mismatch(
            "RDATA text",
            format!("{ctx} {}: dnspython {py_text:?}\n      dnspect   {ours:?}\n      (canonical {a:?} vs {b:?})", r.rtype),
        );
    } else if py_text.trim_end() != ours {
        // Which rules did this match need? Those whose absence breaks it.
        for rule in RULES {
            let (a, b) = canonical_pair(r.rtype, py_text, &ours, opaque, t, Some(rule));
            if a != b {
                tally.normalize(
                    rule,
                    &format!("{}: dnspython {py_text:?} vs dnspect {ours:?}", r.rtype),
                );
            }
        }
    }
}

fn compare_message(ctx: &str, v: &Value, m: &Message, t: &Tables, tally: &mut Tally) {
    tally.check("messages");
    if n(&v["id"]) != u64::from(m.header.id) || n(&v["flags"]) != u64::from(m.header.flags()) {
        tally.mismatch(
            "header",
            format!(
                "{ctx}: dnspython id {} flags {:#06x}, dnspect id {} flags {:#06x}",
                v["id"],
                n(&v["flags"]),
                m.header.id,
                m.header.flags()
            ),
        );
    }
    if n(&v["rcode"]) != u64::from(m.rcode().0) {
        tally.mismatch(
            "rcode",
            format!("{ctx}: dnspython {}, dnspect {}", v["rcode"], m.rcode().0),
        );
    }
    let qs = v["question"].as_array().expect("questions");
    if qs.len() != m.questions.len() {
        tally.mismatch(
            "question count",
            format!(
                "{ctx}: dnspython {}, dnspect {}",
                qs.len(),
                m.questions.len()
            ),
        );
    }
    for (q, ours) in qs.iter().zip(&m.questions) {
        tally.check("questions");
        let ok = s(&q[0]) == ours.name.to_string()
            && n(&q[3]) == u64::from(ours.qtype.0)
            && n(&q[4]) == u64::from(ours.class.0)
            && same_mnemonic(s(&q[1]), &ours.qtype.to_string(), "TYPE", tally)
            && same_mnemonic(s(&q[2]), &ours.class.to_string(), "CLASS", tally);
        if !ok {
            tally.mismatch(
                "question",
                format!(
                    "{ctx}: dnspython {q}, dnspect {} {} {}",
                    ours.name, ours.qtype, ours.class
                ),
            );
        }
    }
    for (key, records) in [
        ("answer", &m.answers),
        ("authority", &m.authority),
        ("additional", &m.additional),
    ] {
        let py = v[key].as_array().expect("section");
        if py.len() != records.len() {
            tally.mismatch(
                "record count",
                format!(
                    "{ctx} {key}: dnspython {}, dnspect {}",
                    py.len(),
                    records.len()
                ),
            );
            continue;
        }
        for (i, (p, r)) in py.iter().zip(records).enumerate() {
            compare_record(&format!("{ctx} {key}[{i}]"), p, r, t, tally);
        }
    }
    match (&v["edns"], &m.edns) {
        (Value::Null, None) => {}
        (Value::Null, Some(_)) | (_, None) => tally.mismatch(
            "EDNS presence",
            format!("{ctx}: dnspython {}, dnspect {:?}", v["edns"], m.edns),
        ),
        (py, Some(e)) => {
            tally.check("EDNS");
            if n(&py["payload"]) != u64::from(e.udp_size) || n(&py["ttl"]) != u64::from(e.ttl()) {
                tally.mismatch(
                    "EDNS header",
                    format!(
                        "{ctx}: dnspython {py}, dnspect udp {} ttl {:#x}",
                        e.udp_size,
                        e.ttl()
                    ),
                );
            }
            let opts = py["options"].as_array().expect("options");
            if opts.len() != e.options.len() {
                tally.mismatch(
                    "EDNS option count",
                    format!(
                        "{ctx}: dnspython {}, dnspect {}",
                        opts.len(),
                        e.options.len()
                    ),
                );
            }
            for (p, o) in opts.iter().zip(&e.options) {
                tally.check("EDNS options");
                let mut enc = Encoder::new();
                o.encode(&mut enc).expect("a decoded option encodes");
                let data = text::hex(&enc.as_bytes()[4..]);
                if n(&p[0]) != u64::from(o.code().0) || s(&p[1]) != data {
                    tally.mismatch(
                        "EDNS option",
                        format!("{ctx}: dnspython {p}, dnspect {} {data} ({o})", o.code().0),
                    );
                }
            }
        }
    }
}

#[test]
fn dnspect_decodes_like_dnspython() {
    require_dnspython();
    let started = Instant::now();
    let corpus = run_script(&[], None);
    let generated = started.elapsed();
    let mut lines = corpus.lines();
    let preamble: Value =
        serde_json::from_str(lines.next().expect("preamble")).expect("preamble JSON");
    let tables = Tables {
        types: table(&preamble["types"]),
        classes: table(&preamble["classes"]),
        svc_keys: table(&preamble["svc_keys"]),
    };
    assert!(tables.classes.contains_key("IN"));
    let views: Vec<Value> = lines
        .map(|l| serde_json::from_str(l).expect("view JSON"))
        .collect();
    assert!(
        views.len() >= MIN_MESSAGES,
        "only {} messages in the corpus",
        views.len()
    );

    let mut tally = Tally::default();
    let mut decoded = Vec::with_capacity(views.len());
    let (mut py_bytes, mut our_bytes, mut our_plain) = (0usize, 0usize, 0usize);
    for (i, v) in views.iter().enumerate() {
        let ctx = format!("message #{i}");
        let wire = text::unhex(s(&v["wire"])).expect("hex");
        let m = match Message::from_wire(&wire) {
            Ok(m) => m,
            Err(e) => {
                tally.mismatch(
                    "decode error",
                    format!("{ctx}: {e}\n      {}", s(&v["wire"])),
                );
                continue;
            }
        };
        compare_message(&ctx, v, &m, &tables, &mut tally);
        // The analyzer sees the same message and no error.
        let a = analyze(&wire);
        if a.error.is_some() || a.message != m {
            tally.mismatch("analyze", format!("{ctx}: error {:?}", a.error));
        }
        let packed = m.to_wire().expect("re-encodes");
        let plain = m.to_wire_uncompressed().expect("re-encodes uncompressed");
        py_bytes += wire.len();
        our_bytes += packed.len();
        our_plain += plain.len();
        decoded.push((i, packed, plain));
    }
    let decoded_at = started.elapsed();

    // The reverse direction: dnspython decodes dnspect's encodings to the view it had of its own.
    let mut input = String::new();
    for (_, packed, plain) in &decoded {
        input.push_str(&text::hex(packed));
        input.push('\n');
        input.push_str(&text::hex(plain));
        input.push('\n');
    }
    let back = run_script(&["--decode"], Some(&input));
    let back: Vec<Value> = back
        .lines()
        .map(|l| serde_json::from_str(l).expect("view JSON"))
        .collect();
    assert_eq!(back.len(), 2 * decoded.len(), "one view per message sent");
    for ((i, _, _), pair) in decoded.iter().zip(back.chunks(2)) {
        for (form, got) in ["compressed", "uncompressed"].into_iter().zip(pair) {
            tally.check("reverse (dnspython decodes dnspect's encoding)");
            let mut want = views[*i].clone();
            let mut got = got.clone();
            if let Some(e) = got.get("error") {
                tally.mismatch(
                    "reverse: dnspython rejects dnspect's encoding",
                    format!("message #{i} {form}: {e}"),
                );
                continue;
            }
            want.as_object_mut().expect("view").remove("wire");
            got.as_object_mut().expect("view").remove("wire");
            if want != got {
                tally.mismatch(
                    "reverse: dnspython sees a different message",
                    format!("message #{i} {form}:\n  before {want}\n  after  {got}"),
                );
            }
        }
    }

    eprintln!(
        "dnspython {} (seed {}): {} messages; generated in {:.1?}, decoded and compared in {:.1?}, reverse in {:.1?}",
        s(&preamble["dnspython"]),
        preamble["seed"],
        views.len(),
        generated,
        decoded_at - generated,
        started.elapsed() - decoded_at
    );
    eprintln!("bytes: dnspython's encoding {py_bytes}, dnspect compressed {our_bytes}, uncompressed {our_plain}");
    eprintln!("compared: {:?}", tally.checked);
    eprintln!("normalizations needed (values that matched only with the rule; first example):");
    for (rule, (count, example)) in &tally.normalized {
        eprintln!("  {count:>5}  {rule}\n         e.g. {example}");
    }
    for (what, list) in &tally.mismatches {
        eprintln!("MISMATCH {what}: {} case(s)", list.len());
        for d in list.iter().take(8) {
            eprintln!("  {d}");
        }
    }
    assert_eq!(
        tally.total_mismatches(),
        0,
        "dnspect and dnspython disagree (details above)"
    );
}

// ---- real packets -------------------------------------------------------------------------------

/// Where the real packets live: `core/tests/data/real/*.txt`, one message a line (`label hex`),
/// sources and licences in the README there.
fn real_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data/real")
}

/// Every `label hex` line of every `.txt` file in `core/tests/data/real`, in file order.
fn real_packets() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(real_dir())
        .expect("core/tests/data/real")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read packet file");
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (label, hex) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("{}:{}: want `label hex`", f.display(), i + 1));
            let wire = text::unhex(hex.trim())
                .unwrap_or_else(|e| panic!("{}:{}: bad hex: {e}", f.display(), i + 1));
            out.push((label.to_string(), wire));
        }
    }
    out
}

/// Checks that the leaves of the field tree explain every byte of `wire` exactly once (in order,
/// no gap, no overlap) and that every group spans exactly its children. Returns what is wrong.
fn span_problems(fields: &[dnspect_core::wire::spans::Field], len: usize) -> Vec<String> {
    fn walk(
        f: &dnspect_core::wire::spans::Field,
        leaves: &mut Vec<(usize, usize, String)>,
        bad: &mut Vec<String>,
    ) {
        // The flag bits share their two bytes: the flags field is one leaf here.
        if f.children.is_empty() || f.kind == dnspect_core::wire::spans::FieldKind::Flags {
            leaves.push((f.offset, f.len, f.label.clone()));
            return;
        }
        let first = f.children.first().map_or(f.offset, |c| c.offset);
        let end = f.children.last().map_or(f.offset, |c| c.offset + c.len);
        if first != f.offset || end != f.offset + f.len {
            bad.push(format!(
                "group {:?} at {}+{} but its children span {first}..{end}",
                f.label, f.offset, f.len
            ));
        }
        for c in &f.children {
            walk(c, leaves, bad);
        }
    }
    let mut leaves = Vec::new();
    let mut bad = Vec::new();
    for f in fields {
        walk(f, &mut leaves, &mut bad);
    }
    let mut at = 0;
    for (offset, l, label) in &leaves {
        if *offset != at {
            bad.push(format!(
                "leaf {label:?} at {offset} but the previous field ended at {at} ({})",
                if *offset > at { "gap" } else { "overlap" }
            ));
        }
        // A leaf of no bytes (an empty RDATA, bitmap or CAA value) explains nothing and is
        // allowed: it shows the field is there and empty.
        let _ = label;
        at = offset + l;
    }
    if at != len {
        bad.push(format!("the fields end at {at}, the message at {len}"));
    }
    bad
}

/// Packets of the collection that dnspython rejects and dnspect reads, each with the reason the
/// difference is legitimate; dnspect must still flag each with an `error`-severity warning.
const DNSPYTHON_REJECTS: &[(&str, &str)] = &[];

/// Real packets dnspect decodes but flags with an `error` warning while dnspython accepts them:
/// each with the RFC that makes the packet wrong.
const FLAGGED_VALID_BY_DNSPYTHON: &[(&str, &str)] = &[];

/// What the analyzer must (true) or must not (false) say about some real packets: findings that
/// were wrong on them once.
const FINDINGS: &[(&str, &str, bool)] = &[
    // Knot's answer to x.dname.example.test A: DNAME, the synthesized CNAME to x.example.net,
    // which Knot does not serve. Not NODATA (RFC 1034 4.3.2: the resolver asks on).
    (
        "knot-unbound/058-",
        "the CNAME chain leaves this server's data at x.example.net.",
        true,
    ),
    ("knot-unbound/058-", "negative answer (", false),
    // Knot's truncated answers (TC, no records): incomplete, not negative.
    ("knot-unbound/062-", "negative answer (", false),
    ("knot-unbound/064-", "negative answer (", false),
    ("knot-unbound/062-", "TC is set", true),
    // IANA's answer to www.iana.org ANY: its CNAME and RRSIG. The CNAME is data of type ANY
    // (RFC 1034 4.3.2 3a): a positive answer, not NODATA.
    (
        "dnslib/www.iana.org-ANY-dnssec/response",
        "negative answer (",
        false,
    ),
    (
        "dnslib/www.iana.org-ANY-dnssec/response",
        "CNAME chain",
        false,
    ),
    // A recursive server's answer with the CNAME and not the A at its target (dpkt): incomplete,
    // said so, not NODATA.
    (
        "dpkt/cname_resp",
        "the CNAME chain ends at mail.google.com.",
        true,
    ),
    ("dpkt/cname_resp", "negative answer (", false),
    // Knot's AXFR and IXFR answers (the zone; the SOA alone: up to date) and its NOERROR to an
    // UPDATE are not negative answers.
    ("knot-tsig/008-", "negative answer (", false),
    ("knot-tsig/026-", "negative answer (", false),
    ("knot-tsig/020-", "negative answer (", false),
    ("knot-tsig2/010-", "negative answer (", false),
    ("knot-tsig2/024-", "negative answer (", false),
    // Its NODATA with SOA through the empty wildcard parent: negative, cacheable 60 s.
    ("knot-unbound/052-", "cacheable for 60 s", true),
];

#[test]
fn real_packets_decode_like_dnspython() {
    use dnspect_core::wire::inspect::analyze::Severity;
    use dnspect_core::wire::inspect::dig::analysis_text;

    require_dnspython();
    let packets = real_packets();
    assert!(
        packets.len() >= 450,
        "only {} real packets in {}",
        packets.len(),
        real_dir().display()
    );
    // dnspython's view of each, through the corpus script's --decode mode.
    let input: String = packets
        .iter()
        .map(|(_, w)| format!("{}\n", text::hex(w)))
        .collect();
    let views: Vec<Value> = run_script(&["--decode", "--real"], Some(&input))
        .lines()
        .map(|l| serde_json::from_str(l).expect("view JSON"))
        .collect();
    assert_eq!(views.len(), packets.len(), "one view per packet");
    let preamble: Value = serde_json::from_str(
        run_script(&["--count", "0"], None)
            .lines()
            .next()
            .expect("preamble"),
    )
    .expect("preamble JSON");
    let tables = Tables {
        types: table(&preamble["types"]),
        classes: table(&preamble["classes"]),
        svc_keys: table(&preamble["svc_keys"]),
    };

    let mut tally = Tally::default();
    let mut per_source: BTreeMap<String, usize> = BTreeMap::new();
    for ((label, wire), v) in packets.iter().zip(&views) {
        *per_source
            .entry(label.split('/').next().unwrap_or("").to_string())
            .or_default() += 1;
        let a = analyze(wire);
        // Every byte explained once, whatever the outcome of the decode.
        tally.check("field trees (every byte once)");
        let problems = span_problems(&a.fields, wire.len());
        if !problems.is_empty() {
            tally.mismatch("field tree", format!("{label}: {}", problems.join("; ")));
        }
        // The dig-style text renders (the CLI's output).
        tally.check("dig-style text");
        let dig = analysis_text(&a);
        let errors: Vec<&str> = a
            .warnings
            .iter()
            .filter(|w| w.severity == Severity::Error)
            .map(|w| w.message.as_str())
            .collect();
        for (prefix, text, present) in FINDINGS {
            if label.starts_with(prefix) {
                tally.check("expected findings");
                let said = a.warnings.iter().any(|w| w.message.contains(text));
                if said != *present {
                    tally.mismatch(
                        "finding",
                        format!(
                            "{label}: {} {text:?}; the analyzer said {:?}",
                            if *present {
                                "should say"
                            } else {
                                "should not say"
                            },
                            a.warnings.iter().map(|w| &w.message).collect::<Vec<_>>()
                        ),
                    );
                }
            }
        }
        let py_error = v.get("error").and_then(Value::as_str);
        let decoded = Message::from_wire(wire);
        match (py_error, &decoded) {
            (Some(pe), Ok(_)) => {
                tally.check("rejected by dnspython");
                let documented = DNSPYTHON_REJECTS.iter().any(|(l, _)| l == label);
                if errors.is_empty() {
                    tally.mismatch(
                        "dnspython rejects, dnspect reads it without an error warning",
                        format!("{label}: dnspython {pe}"),
                    );
                } else if !documented {
                    tally.mismatch(
                        "dnspython rejects, dnspect flags it (undocumented)",
                        format!("{label}: dnspython {pe}; dnspect {errors:?}"),
                    );
                }
            }
            (Some(_), Err(_)) => tally.check("rejected by both"),
            (None, Err(e)) => tally.mismatch(
                "dnspect rejects a packet dnspython reads",
                format!("{label}: {e}"),
            ),
            (None, Ok(m)) => {
                compare_message(label, v, m, &tables, &mut tally);
                if a.error.is_some() || a.message != *m {
                    tally.mismatch("analyze", format!("{label}: error {:?}", a.error));
                }
                let documented = FLAGGED_VALID_BY_DNSPYTHON.iter().any(|(l, _)| l == label);
                if !errors.is_empty() && !documented {
                    tally.mismatch(
                        "error warning on a packet dnspython reads",
                        format!("{label}: {errors:?}"),
                    );
                }
                for r in m.answers.iter().chain(&m.authority).chain(&m.additional) {
                    if !dig.contains(&r.rdata.to_string()) {
                        tally.mismatch(
                            "dig-style text",
                            format!("{label}: no {:?} in\n{dig}", r.rdata.to_string()),
                        );
                    }
                }
            }
        }
    }
    eprintln!("real packets per source: {per_source:?}");
    eprintln!("compared: {:?}", tally.checked);
    eprintln!("normalizations needed (values that matched only with the rule; first example):");
    let short = |s: &str| -> String {
        if s.len() > 400 {
            format!(
                "{}... ({} bytes)",
                &s[..s.floor_char_boundary(400)],
                s.len()
            )
        } else {
            s.to_string()
        }
    };
    for (rule, (count, example)) in &tally.normalized {
        eprintln!("  {count:>5}  {rule}\n         e.g. {}", short(example));
    }
    for (what, list) in &tally.mismatches {
        eprintln!("MISMATCH {what}: {} case(s)", list.len());
        for d in list.iter().take(40) {
            eprintln!("  {}", short(d));
        }
    }
    assert_eq!(
        tally.total_mismatches(),
        0,
        "dnspect and dnspython disagree on real packets (details above)"
    );
}

/// `dnspect decode` (the CLI a person runs) on every real packet whose records include a type
/// read field by field, and on the first packet of each source: exit 0 (1 for a packet the
/// decoder rejects, with the offset in the message), and every record's RDATA text in its output.
#[test]
fn real_packets_through_the_cli() {
    let bin = dnspect_tests::dnspect_bin();
    let mut seen_sources = std::collections::BTreeSet::new();
    let mut ran = 0;
    for (label, wire) in real_packets() {
        let decoded = Message::from_wire(&wire);
        let rare = decoded.as_ref().is_ok_and(|m| {
            m.answers
                .iter()
                .any(|r| matches!(r.rdata, RData::Fields { .. }))
        });
        let source = label.split('/').next().unwrap_or("").to_string();
        if !rare && !seen_sources.insert(source) && decoded.is_ok() {
            continue;
        }
        ran += 1;
        let out = Command::new(&bin)
            .args(["decode", &text::hex(&wire)])
            .output()
            .expect("run dnspect decode");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{label}: {stderr}");
        match decoded {
            Ok(m) => {
                assert_eq!(out.status.code(), Some(0), "{label}: {stderr}");
                for r in m.answers.iter().chain(&m.authority).chain(&m.additional) {
                    let t = r.rdata.to_string();
                    assert!(stdout.contains(&t), "{label}: no {t:?} in\n{stdout}");
                }
            }
            Err(e) => {
                assert_eq!(out.status.code(), Some(1), "{label}: {stdout}{stderr}");
                let both = format!("{stdout}{stderr}");
                assert!(
                    both.contains(&format!("offset {}", e.offset)),
                    "{label}: the error's offset {} is not shown:\n{both}",
                    e.offset
                );
            }
        }
    }
    assert!(ran >= 60, "only {ran} packets through the CLI");
}
