//! Paste formats: what people paste while debugging DNS, turned back into the message bytes.
//!
//! This module owns two jobs and nothing else:
//!
//! * **Text decoding** ([`parse_paste`]). Hex in its many spellings (plain, spaced, `0x`/C-array,
//!   Wireshark "copy as hex stream", `xxd -p`), offset dumps with or without an ASCII gutter
//!   (`tcpdump -x`/`-xx`/`-X`, `xxd`, `od -x`/`od -t x1z`, `hexdump -C`, Wireshark/tshark "hex
//!   dump"), and base64/base64url including a DoH `?dns=` URL. The format is detected, never asked
//!   for. Where a paste could be read two ways, offsets, the ASCII gutter and the shape of the DNS
//!   message decide; where nothing fits, the [`PasteError`] names the 1-based line and column and
//!   says what was expected there.
//! * **Header stripping** ([`strip_layers`], [`locate_dns`], [`from_binary`]). Ethernet II with
//!   802.1Q/802.1ad tags, Linux cooked capture (v1 and v2), BSD loopback, IPv4 (options,
//!   fragments), IPv6 (common extension headers), UDP, TCP and the DNS-over-TCP length prefix are
//!   recognised by content and stripped only when their length fields agree; what was stripped is
//!   described in a [`Layer`] each.
//!
//! Everything here is total: any text or byte string gives a value or an error, never a panic.
//! No IO, no clock, no randomness.

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::ops::Range;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// The most bytes a paste may decode to (a `*` line in an od or xxd dump can ask for more).
const MAX_RAW: usize = 1 << 22;

/// A decoded paste: the DNS message, the format it came in and what was in front of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Paste {
    /// The DNS message alone: every lower-layer header and trailer stripped.
    pub bytes: Vec<u8>,
    /// The format the paste was recognised as ([`PasteFormat::Binary`] for wire input).
    pub format: PasteFormat,
    /// What was stripped, in the order it appears in the raw bytes.
    pub layers: Vec<Layer>,
    /// How many bytes the text decoded to, before stripping.
    pub raw_len: usize,
}

/// The text format a paste was recognised as.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasteFormat {
    /// Hex digits, spaced or not, with optional `0x` prefixes and commas (C/Python array style).
    Hex,
    /// `tcpdump -x`, `-xx` or `-X`: `0x0000:` offsets, 16-bit groups, optional ASCII gutter.
    TcpdumpX,
    /// `xxd` (`00000000:` offsets, groups, ASCII gutter) or `xxd -p` (60 hex digits a line).
    Xxd,
    /// `od -x` (little-endian 16-bit words, un-swapped here), `od -t x1` with or without `z`, and
    /// `hexdump` without `-C`.
    Od,
    /// One unbroken run of hex digits, as Wireshark's "copy as hex stream" gives.
    HexStream,
    /// A dump with a bare hex offset and byte columns: Wireshark's "copy as hex dump",
    /// `tshark -x`, `hexdump -C`.
    HexDump,
    /// Standard base64 (`+` and `/`, usually padded).
    Base64,
    /// base64url (`-` and `_`, usually unpadded), alone or as the `dns` parameter of a DoH URL.
    Base64Url,
    /// Wire bytes handed over as they are ([`from_binary`]).
    Binary,
}

impl PasteFormat {
    /// The name the JSON analysis uses (`source.format`, docs/json-schema.md), also in the text
    /// analysis's `;; INPUT:` line, so both say the same.
    pub fn as_str(self) -> &'static str {
        match self {
            PasteFormat::Hex => "hex",
            PasteFormat::TcpdumpX => "tcpdump_x",
            PasteFormat::Xxd => "xxd",
            PasteFormat::Od => "od",
            PasteFormat::HexStream => "hex_stream",
            PasteFormat::HexDump => "hex_dump",
            PasteFormat::Base64 => "base64",
            PasteFormat::Base64Url => "base64_url",
            PasteFormat::Binary => "binary",
        }
    }
}

/// One header (or trailer) stripped from in front of (or behind) the DNS message.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Layer {
    /// What it was.
    pub kind: LayerKind,
    /// Where it starts in the raw decoded bytes.
    pub offset: usize,
    /// How many bytes it takes.
    pub len: usize,
    /// A one-line description: addresses, ports, lengths and anything that did not add up.
    pub summary: String,
}

/// The kinds of header [`strip_layers`] knows.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    /// Ethernet II: destination and source MAC, ethertype.
    Ethernet,
    /// An 802.1Q (or 802.1ad) VLAN tag.
    Vlan,
    /// Linux cooked capture, v1 (16 bytes) or v2 (20 bytes), as `tcpdump -i any` writes.
    LinuxSll,
    /// BSD loopback / DLT_NULL: a 4-byte address family, as `tcpdump -i lo0` writes on macOS.
    Loopback,
    /// An IPv4 header, options included.
    Ipv4,
    /// An IPv6 header, extension headers included.
    Ipv6,
    /// A UDP header.
    Udp,
    /// A TCP header, options included.
    Tcp,
    /// The 2-byte length DNS puts in front of each message over TCP (RFC 1035 4.2.2).
    TcpLengthPrefix,
    /// Bytes behind the DNS message: Ethernet padding or a frame check sequence, bytes past a
    /// length field, or a further message in the same TCP segment.
    Trailer,
}

/// Why a paste could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PasteError {
    /// 1-based line of the paste.
    pub line: usize,
    /// 1-based column (in characters) within that line.
    pub column: usize,
    /// What was expected there, and what was found.
    pub message: String,
}

impl PasteError {
    fn new(line: usize, column: usize, message: impl Into<String>) -> Self {
        PasteError {
            line,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for PasteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for PasteError {}

/// Reads a paste: detects its format, decodes it and strips lower-layer headers.
pub fn parse_paste(text: &str) -> Result<Paste, PasteError> {
    let lines = content_lines(text);
    let Some(first) = lines.first().copied() else {
        return Err(PasteError::new(1, 1, "empty paste"));
    };
    let (raw, format) = if let Some(param) = doh_param(&lines) {
        decode_doh(param)?
    } else if let Some((kind, start)) = find_dump(&lines) {
        decode_dump(&lines, kind, start)?
    } else {
        decode_plain(&lines)?
    };
    if raw.is_empty() {
        let col = first.col0 + leading_chars(first.text);
        return Err(PasteError::new(
            first.no,
            col,
            "expected DNS message bytes, found none",
        ));
    }
    Ok(finish(raw, format))
}

/// Takes wire bytes as they are (a capture, a file): only strips lower-layer headers.
pub fn from_binary(bytes: &[u8]) -> Paste {
    finish(bytes.to_vec(), PasteFormat::Binary)
}

/// Finds the DNS message behind any lower-layer headers: returns the offset where it starts and
/// what was stripped. See [`locate_dns`] for where it ends.
pub fn strip_layers(raw: &[u8]) -> (usize, Vec<Layer>) {
    let (dns, layers) = locate_dns(raw);
    (dns.start, layers)
}

/// Like [`strip_layers`], with the whole range of the DNS message: it ends before any trailer
/// (Ethernet padding, bytes past the IP or UDP length, a second message in a TCP segment).
pub fn locate_dns(raw: &[u8]) -> (Range<usize>, Vec<Layer>) {
    let found = ethernet(raw)
        .or_else(|| linux_sll(raw))
        .or_else(|| linux_sll2(raw))
        .or_else(|| loopback(raw))
        .or_else(|| network(raw, 0, None))
        .or_else(|| bare_udp(raw))
        .or_else(|| bare_length_prefix(raw));
    match found {
        Some(found) => (found.dns, found.layers),
        None => (0..raw.len(), Vec::new()),
    }
}

fn finish(raw: Vec<u8>, format: PasteFormat) -> Paste {
    let (dns, layers) = locate_dns(&raw);
    let bytes = raw.get(dns).map(<[u8]>::to_vec).unwrap_or_default();
    Paste {
        bytes,
        format,
        layers,
        raw_len: raw.len(),
    }
}

/// Whether the bytes read as a DNS message once headers are stripped: used to choose between two
/// readings of an ambiguous paste.
fn plausible(raw: &[u8]) -> bool {
    let (dns, _) = locate_dns(raw);
    raw.get(dns).is_some_and(looks_like_dns)
}

// ------------------------------------------------------------------------------------------------
// Lines and tokens

/// A line of the paste (or the part of one that matters), with its 1-based number and the column
/// its first character sits in.
#[derive(Clone, Copy, Debug)]
struct Line<'a> {
    no: usize,
    col0: usize,
    text: &'a str,
}

/// A run of characters between separators.
#[derive(Clone, Copy, Debug)]
struct Tok<'a> {
    text: &'a str,
    line: usize,
    /// 1-based column of its first character.
    col: usize,
    /// Blank columns in front of it (a tab counts two); at the start, since the scan began.
    gap: usize,
    /// Byte index of its first character in the line's text.
    at: usize,
}

/// The lines that carry content: blank lines, `#` and `;` comments and Markdown code fences are
/// dropped, trailing blanks trimmed.
fn content_lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = if i == 0 {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        let t = raw.trim_start();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') || t.starts_with("```") {
            continue;
        }
        out.push(Line {
            no: i + 1,
            col0: 1,
            text: raw.trim_end(),
        });
    }
    out
}

fn leading_chars(text: &str) -> usize {
    text.chars().take_while(|c| c.is_whitespace()).count()
}

/// The column of byte `at` of a line.
fn col_at(line: Line<'_>, at: usize) -> usize {
    line.col0 + line.text.get(..at).map_or(0, |s| s.chars().count())
}

/// Splits a line, from byte `from`, at the characters `is_sep` accepts.
fn split_tokens<'a>(line: Line<'a>, from: usize, is_sep: impl Fn(char) -> bool) -> Vec<Tok<'a>> {
    let rest = line.text.get(from..).unwrap_or("");
    let mut out = Vec::new();
    let mut gap = 0;
    let mut start: Option<(usize, usize, usize)> = None;
    let push = |out: &mut Vec<Tok<'a>>, (s, c, g): (usize, usize, usize), end: usize| {
        let text = rest.get(s..end).unwrap_or("");
        out.push(Tok {
            text,
            line: line.no,
            col: c,
            gap: g,
            at: from + s,
        });
    };
    for (col, (i, c)) in (col_at(line, from)..).zip(rest.char_indices()) {
        if is_sep(c) {
            if let Some(s) = start.take() {
                push(&mut out, s, i);
                gap = 0;
            }
            gap += if c == '\t' { 2 } else { 1 };
        } else if start.is_none() {
            start = Some((i, col, gap));
        }
    }
    if let Some(s) = start {
        push(&mut out, s, rest.len());
    }
    out
}

fn tokens(line: Line<'_>, from: usize) -> Vec<Tok<'_>> {
    split_tokens(line, from, char::is_whitespace)
}

fn found(c: Option<char>) -> String {
    match c {
        Some(c) => format!("{c:?}"),
        None => "the end of the line".to_string(),
    }
}

fn nibble(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// The error for a token that should be hex: its first non-hex character, or its odd length.
fn bad_hex(tok: &Tok<'_>) -> PasteError {
    match tok
        .text
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        Some((i, c)) => PasteError::new(
            tok.line,
            tok.col + i,
            format!("expected a hex digit, found {c:?}"),
        ),
        None => PasteError::new(
            tok.line,
            tok.col,
            format!(
                "expected an even number of hex digits (two per byte), found {} in {:?}",
                tok.text.len(),
                tok.text
            ),
        ),
    }
}

// ------------------------------------------------------------------------------------------------
// Plain hex and base64

/// Hex without offsets, or base64 when it is not hex; which one when both read, by which looks
/// like DNS.
fn decode_plain(lines: &[Line<'_>]) -> Result<(Vec<u8>, PasteFormat), PasteError> {
    let body = array_body(lines);
    let hex =
        decode_hex(body.as_deref().unwrap_or(lines)).map(
            |(bytes, format)| match little_endian_words(lines, &bytes) {
                Some(swapped) => (swapped, PasteFormat::Od),
                None => (bytes, format),
            },
        );
    let b64 = base64_chars(lines).map(|chars| decode_base64(&chars, false));
    match (hex, b64) {
        (Ok(h), Some(Ok(b))) if !plausible(&h.0) && plausible(&b.0) => Ok(b),
        (Ok(h), _) => Ok(h),
        (Err(he), Some(Ok(b))) => {
            if plausible(&b.0) || !mostly_hex(lines) {
                Ok(b)
            } else {
                Err(he)
            }
        }
        (Err(he), Some(Err(be))) => Err(if mostly_hex(lines) { he } else { be }),
        (Err(he), None) => Err(he),
    }
}

/// `od -A n -x` prints little-endian 16-bit words without offsets: when a paste is nothing but
/// 4-digit groups and only the swapped reading looks like DNS, that is what it was.
fn little_endian_words(lines: &[Line<'_>], bytes: &[u8]) -> Option<Vec<u8>> {
    let words = lines
        .iter()
        .flat_map(|&l| tokens(l, 0))
        .all(|t| t.text.len() == 4 && is_group(t.text));
    if !words || bytes.len() < 12 || plausible(bytes) {
        return None;
    }
    let swapped: Vec<u8> = bytes
        .chunks(2)
        .flat_map(|w| w.iter().rev().copied())
        .collect();
    plausible(&swapped).then_some(swapped)
}

/// The inside of a C, Go, JS or Python array (`{ 0x81, 0x80 }`, `[0x81, 0x80]`), when the paste
/// is one.
fn array_body<'a>(lines: &[Line<'a>]) -> Option<Vec<Line<'a>>> {
    let (open, close) = if lines.iter().any(|l| l.text.contains('{')) {
        ('{', '}')
    } else if lines.iter().any(|l| l.text.contains('[')) {
        ('[', ']')
    } else {
        return None;
    };
    let mut out = Vec::new();
    let mut inside = false;
    for line in lines {
        let mut from = 0;
        if !inside {
            let Some(i) = line.text.find(open) else {
                continue;
            };
            inside = true;
            from = i + open.len_utf8();
        }
        let rest = line.text.get(from..).unwrap_or("");
        let col0 = col_at(*line, from);
        match rest.find(close) {
            Some(end) => {
                out.push(Line {
                    no: line.no,
                    col0,
                    text: rest.get(..end).unwrap_or(""),
                });
                break;
            }
            None => out.push(Line {
                no: line.no,
                col0,
                text: rest,
            }),
        }
    }
    Some(out)
}

/// Hex digits with blanks, commas or colons between groups and optional `0x` prefixes. A group
/// may be split across a line break, never across a blank inside a line.
fn decode_hex(lines: &[Line<'_>]) -> Result<(Vec<u8>, PasteFormat), PasteError> {
    let mut bytes = Vec::new();
    // A high nibble waiting for its partner on the next line, the group it came from, and
    // whether that group itself began with a digit carried over a line break.
    let mut half: Option<(u8, Tok<'_>, bool)> = None;
    let mut c_style = false;
    let mut shape = Vec::new(); // (groups, digits) per line
    for &line in lines {
        let toks = split_tokens(line, 0, |c| c.is_whitespace() || c == ',' || c == ':');
        c_style |= line.text.contains(',');
        let mut digit_count = 0;
        for (k, tok) in toks.iter().enumerate() {
            let (digits, skip) = match tok.text.get(..2) {
                Some("0x" | "0X") => (tok.text.get(2..).unwrap_or(""), 2),
                _ => (tok.text, 0),
            };
            let prefixed = skip == 2;
            c_style |= prefixed;
            let dtok = Tok {
                text: digits,
                col: tok.col + skip,
                ..*tok
            };
            if prefixed && digits.is_empty() {
                let next = line.text.get(tok.at + 2..).and_then(|s| s.chars().next());
                let msg = format!("expected a hex digit after \"0x\", found {}", found(next));
                return Err(PasteError::new(tok.line, tok.col + 2, msg));
            }
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad_hex(&dtok));
            }
            digit_count += digits.len();
            if let Some((_, from, carried)) = half {
                if k != 0 || prefixed {
                    return Err(odd_group(&from, carried));
                }
            }
            let carried = half.is_some();
            if prefixed && digits.len() <= 2 {
                bytes.push(digits.bytes().fold(0u8, |acc, d| (acc << 4) | nibble(d)));
                continue;
            }
            for d in digits.bytes().map(nibble) {
                match half.take() {
                    Some((hi, _, _)) => bytes.push((hi << 4) | d),
                    None => half = Some((d, dtok, carried)),
                }
            }
            // An odd group may only continue on the next line.
            if let Some((_, from, carried)) = half {
                if prefixed || k + 1 != toks.len() || line.text.trim_end().ends_with(',') {
                    return Err(odd_group(&from, carried));
                }
            }
        }
        shape.push((toks.len(), digit_count));
    }
    if let Some((_, from, _)) = half {
        let msg = format!(
            "expected an even number of hex digits: the paste ends half-way through a byte \
             (the group {:?} starts here)",
            from.text
        );
        return Err(PasteError::new(from.line, from.col, msg));
    }
    let format = if c_style || shape.iter().any(|&(groups, _)| groups > 1) {
        PasteFormat::Hex
    } else if is_xxd_plain(&shape) {
        PasteFormat::Xxd
    } else {
        PasteFormat::HexStream
    };
    Ok((bytes, format))
}

/// The error for a group with an odd number of digits (counting one carried over a line break).
fn odd_group(tok: &Tok<'_>, carried: bool) -> PasteError {
    let msg = if carried {
        format!(
            "expected an even number of hex digits (two per byte): {:?} and the digit carried \
             over from the line before make {}",
            tok.text,
            tok.text.len() + 1
        )
    } else {
        format!(
            "expected an even number of hex digits (two per byte), found {} in {:?}",
            tok.text.len(),
            tok.text
        )
    };
    PasteError::new(tok.line, tok.col, msg)
}

/// `xxd -p`: lines of exactly 60 hex digits, the last one possibly shorter.
fn is_xxd_plain(shape: &[(usize, usize)]) -> bool {
    match shape.split_last() {
        Some((&(_, last), full)) => {
            !full.is_empty() && full.iter().all(|&(_, d)| d == 60) && (1..=60).contains(&last)
        }
        None => false,
    }
}

fn is_base64_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_' | '=')
}

/// The characters of a base64 paste with their positions: one run per line, base64 characters
/// only. `None` when the paste cannot be base64.
fn base64_chars(lines: &[Line<'_>]) -> Option<Vec<(char, usize, usize)>> {
    let mut out = Vec::new();
    for &line in lines {
        let toks = tokens(line, 0);
        let [tok] = toks.as_slice() else { return None };
        if !tok.text.chars().all(is_base64_char) {
            return None;
        }
        out.extend(
            tok.text
                .chars()
                .enumerate()
                .map(|(i, c)| (c, line.no, tok.col + i)),
        );
    }
    Some(out)
}

/// Hex with a typo or two rather than base64: under 5% of the characters (at most two in a short
/// paste) are not hex digits, and it does not end in base64 padding.
fn mostly_hex(lines: &[Line<'_>]) -> bool {
    if lines.last().is_some_and(|l| l.text.ends_with('=')) {
        return false;
    }
    let (mut total, mut other) = (0usize, 0usize);
    for line in lines {
        for c in line.text.chars().filter(|c| !c.is_whitespace()) {
            total += 1;
            other += usize::from(!c.is_ascii_hexdigit());
        }
    }
    other <= 2 || other * 20 <= total
}

const B64_CONFIG: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone);
const B64_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, B64_CONFIG);
const B64_URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, B64_CONFIG);

/// Decodes base64 or base64url, padded or not, from characters with their positions.
fn decode_base64(
    chars: &[(char, usize, usize)],
    from_url: bool,
) -> Result<(Vec<u8>, PasteFormat), PasteError> {
    let at = |&(_, line, col): &(char, usize, usize)| (line, col);
    let mut data = String::with_capacity(chars.len());
    let mut url: Option<(usize, usize)> = None;
    let mut standard: Option<(usize, usize)> = None;
    let mut padding: Option<(usize, usize)> = None;
    for ch in chars {
        let (line, col) = at(ch);
        let c = ch.0;
        if !is_base64_char(c) {
            return Err(PasteError::new(
                line,
                col,
                format!("expected a base64 character, found {c:?}"),
            ));
        }
        if c == '=' {
            padding.get_or_insert((line, col));
            continue;
        }
        if let Some((pl, pc)) = padding {
            let msg = format!(
                "expected nothing after the '=' padding at line {pl}, column {pc}, found {c:?}"
            );
            return Err(PasteError::new(line, col, msg));
        }
        match c {
            '-' | '_' => {
                url.get_or_insert((line, col));
            }
            '+' | '/' => {
                standard.get_or_insert((line, col));
            }
            _ => {}
        }
        if let (Some((ul, uc)), Some((sl, sc))) = (url, standard) {
            let msg = format!(
                "expected one base64 alphabet, found {c:?}: '-' or '_' (base64url) at line {ul}, \
                 column {uc} and '+' or '/' (standard) at line {sl}, column {sc}"
            );
            return Err(PasteError::new(line, col, msg));
        }
        data.push(c);
    }
    let Some(last) = chars.iter().rev().find(|ch| ch.0 != '=') else {
        let (line, col) = chars.first().map_or((1, 1), at);
        return Err(PasteError::new(
            line,
            col,
            "expected base64 characters, found only padding",
        ));
    };
    let (last_line, last_col) = at(last);
    let n = data.len();
    if n % 4 == 1 {
        let msg =
            "expected another base64 character: a lone final character encodes no whole byte \
                   (is the paste cut short?)";
        return Err(PasteError::new(last_line, last_col + 1, msg));
    }
    let pads = chars.len() - n;
    if let Some((line, col)) = padding {
        if (n + pads) % 4 != 0 || pads > 2 {
            let msg = format!(
                "expected {} '=' of padding after {n} characters, found {pads}",
                (4 - n % 4) % 4
            );
            return Err(PasteError::new(line, col, msg));
        }
    }
    let engine = if url.is_some() {
        &B64_URL
    } else {
        &B64_STANDARD
    };
    let bytes = engine.decode(data.as_bytes()).map_err(|e| {
        let msg = match e {
            base64::DecodeError::InvalidLastSymbol(_, b) => format!(
                "expected a final base64 character whose unused low bits are zero, found {:?} \
                 (is the paste cut short?)",
                char::from(b)
            ),
            other => format!("expected base64: {other}"),
        };
        PasteError::new(last_line, last_col, msg)
    })?;
    let format = if url.is_some() {
        PasteFormat::Base64Url
    } else if standard.is_some() || padding.is_some() {
        PasteFormat::Base64
    } else if from_url || n % 4 != 0 {
        PasteFormat::Base64Url
    } else {
        PasteFormat::Base64
    };
    Ok((bytes, format))
}

/// The `dns` parameter of a DoH GET URL (`https://host/dns-query?dns=AAAB...`), or a paste that is
/// just `dns=...`.
#[derive(Clone, Copy, Debug)]
struct DohParam<'a> {
    line: Line<'a>,
    start: usize,
    end: usize,
}

fn doh_param<'a>(lines: &[Line<'a>]) -> Option<DohParam<'a>> {
    for &line in lines {
        for (i, _) in line.text.match_indices("dns=") {
            let before = line.text.get(..i).unwrap_or("");
            let ok = matches!(before.chars().next_back(), Some('?' | '&'))
                || (before.trim().is_empty() && lines.len() == 1);
            if !ok {
                continue;
            }
            let start = i + 4;
            let rest = line.text.get(start..).unwrap_or("");
            let stop = |c: char| {
                c.is_whitespace() || matches!(c, '&' | '#' | '"' | '\'' | '<' | '>' | ')')
            };
            let end = start + rest.find(stop).unwrap_or(rest.len());
            return Some(DohParam { line, start, end });
        }
    }
    None
}

fn decode_doh(param: DohParam<'_>) -> Result<(Vec<u8>, PasteFormat), PasteError> {
    let DohParam { line, start, end } = param;
    let value = line.text.get(start..end).unwrap_or("");
    let col = col_at(line, start);
    if value.is_empty() {
        let next = line.text.get(start..).and_then(|s| s.chars().next());
        let msg = format!(
            "expected a base64url DNS message after \"dns=\", found {}",
            found(next)
        );
        return Err(PasteError::new(line.no, col, msg));
    }
    // Percent-decode (%2B, %2F, %3D) while keeping each character's column.
    let mut chars = Vec::with_capacity(value.len());
    let mut it = value.chars().enumerate().peekable();
    while let Some((i, c)) = it.next() {
        if c == '%' {
            let hi = it.next().map(|(_, c)| c);
            let lo = it.next().map(|(_, c)| c);
            match (
                hi.and_then(|c| c.to_digit(16)),
                lo.and_then(|c| c.to_digit(16)),
            ) {
                (Some(h), Some(l)) => {
                    let decoded = char::from_u32(h * 16 + l).unwrap_or('%');
                    chars.push((decoded, line.no, col + i));
                }
                _ => {
                    let msg = "expected two hex digits after '%' in the URL";
                    return Err(PasteError::new(line.no, col + i, msg));
                }
            }
        } else {
            chars.push((c, line.no, col + i));
        }
    }
    let (bytes, format) = decode_base64(&chars, true)?;
    let format = if format == PasteFormat::Base64 && chars.iter().any(|c| matches!(c.0, '+' | '/'))
    {
        PasteFormat::Base64
    } else {
        PasteFormat::Base64Url
    };
    Ok((bytes, format))
}

// ------------------------------------------------------------------------------------------------
// Offset dumps: tcpdump, xxd, od, hexdump, Wireshark

/// How a dump writes its offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dump {
    /// `\t0x0010:  4500 ...` (tcpdump -x, -xx, -X)
    Tcpdump,
    /// `00000010: 4500 ...` (xxd)
    Xxd,
    /// `0000020 4500 ...`, `0010   45 00 ...`, `00000010  45 00 ...` (od, Wireshark, hexdump)
    Bare,
}

/// The offset at the start of a dump line.
#[derive(Clone, Copy, Debug)]
struct Head<'a> {
    digits: &'a str,
    /// Column of the offset (of its `0x` for tcpdump).
    col: usize,
    /// Byte index where the data starts.
    data_at: usize,
}

/// A dump line: data (with a head and tokens), the final offset alone (a head, no tokens), or `*`
/// (no head: the line before repeats).
#[derive(Clone, Debug)]
struct Row<'a> {
    line: Line<'a>,
    head: Option<Head<'a>>,
    toks: Vec<Tok<'a>>,
}

/// Where a line's ASCII gutter was found to start, because it spells the bytes in front of it.
#[derive(Clone, Copy, Debug)]
struct Gutter {
    /// How many tokens before it are data.
    data: usize,
    /// Its column, counted from the offset's.
    rel_col: usize,
    /// Whether it spells the groups as written, and with each group's bytes reversed.
    as_written: bool,
    reversed: bool,
}

fn head(kind: Dump, line: Line<'_>) -> Option<Head<'_>> {
    let text = line.text;
    let lead = text.len() - text.trim_start().len();
    let t = text.get(lead..)?;
    let (skip, t) = match kind {
        Dump::Tcpdump => (2, t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?),
        Dump::Xxd | Dump::Bare => (0, t),
    };
    let n = t.bytes().take_while(u8::is_ascii_hexdigit).count();
    let digits = t.get(..n)?;
    let after = t.get(n..)?;
    let blank_or_end = |s: &str| s.chars().next().is_none_or(char::is_whitespace);
    let data_at = match kind {
        Dump::Tcpdump if (1..=16).contains(&n) && after.starts_with(':') => lead + skip + n + 1,
        Dump::Xxd
            if (4..=16).contains(&n) && after.starts_with(':') && blank_or_end(after.get(1..)?) =>
        {
            lead + n + 1
        }
        Dump::Bare if (4..=16).contains(&n) && blank_or_end(after) => lead + n,
        _ => return None,
    };
    Some(Head {
        digits,
        col: col_at(line, lead),
        data_at,
    })
}

fn is_group(text: &str) -> bool {
    text.len() >= 2 && text.len() % 2 == 0 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a line starts a dump, and which kind.
fn dump_start(line: Line<'_>) -> Option<Dump> {
    if head(Dump::Tcpdump, line).is_some() {
        return Some(Dump::Tcpdump);
    }
    if let Some(h) = head(Dump::Xxd, line) {
        if tokens(line, h.data_at)
            .first()
            .is_some_and(|t| is_group(t.text))
        {
            return Some(Dump::Xxd);
        }
    }
    let h = head(Dump::Bare, line)?;
    let toks = tokens(line, h.data_at);
    let first = toks.first()?;
    if !is_group(first.text) {
        return None;
    }
    match h.digits.len() {
        // od: 7 octal or decimal digits, or 6 hex with -A x; one blank, any group width.
        6 | 7 => Some(Dump::Bare),
        // Wireshark/tshark (4) or hexdump -C (8): two or more blanks, then bytes; or one blank
        // if the blanks were collapsed, when the offset is 0 and an ASCII gutter follows.
        4 | 5 | 8 if first.text.len() == 2 && first.gap >= 2 => Some(Dump::Bare),
        4 | 5 | 8
            if first.text.len() == 2
                && h.digits.bytes().all(|b| b == b'0')
                && toks.iter().any(|t| !is_group(t.text)) =>
        {
            Some(Dump::Bare)
        }
        _ => None,
    }
}

fn find_dump(lines: &[Line<'_>]) -> Option<(Dump, usize)> {
    lines
        .iter()
        .enumerate()
        .find_map(|(i, &l)| dump_start(l).map(|k| (k, i)))
}

/// A line made only of hex digits and separators: data, never a title line to skip.
fn looks_like_data(line: &Line<'_>) -> bool {
    line.text
        .chars()
        .all(|c| c.is_ascii_hexdigit() || c.is_whitespace() || matches!(c, ',' | ':' | 'x' | 'X'))
}

/// tcpdump, xxd, od, hexdump and Wireshark dumps: lines of an offset, hex groups and maybe an
/// ASCII gutter. Offsets are checked against the bytes before them, so a lost or mangled line is
/// reported rather than decoded wrong.
fn decode_dump(
    lines: &[Line<'_>],
    kind: Dump,
    start: usize,
) -> Result<(Vec<u8>, PasteFormat), PasteError> {
    let rows = dump_rows(lines, kind, start)?;
    let Columns { data, gutters } = dump_data(kind, &rows)?;
    let raw = dump_bytes(kind, &rows, &data, &gutters)?;
    let wide = data.iter().flat_map(|d| d.iter()).any(|t| t.text.len() > 2);
    let digits = rows
        .first()
        .and_then(|r| r.head)
        .map_or(0, |h| h.digits.len());
    let format = match kind {
        Dump::Tcpdump => PasteFormat::TcpdumpX,
        Dump::Xxd => PasteFormat::Xxd,
        Dump::Bare if wide || matches!(digits, 6 | 7) => PasteFormat::Od,
        Dump::Bare => PasteFormat::HexDump,
    };
    Ok((raw, format))
}

/// The lines of a dump from its first offset line on. Lines before it (tcpdump's summary line, a
/// shell prompt) are skipped unless they could be data; every line after must be a dump line.
fn dump_rows<'a>(lines: &[Line<'a>], kind: Dump, start: usize) -> Result<Vec<Row<'a>>, PasteError> {
    for line in lines.get(..start).unwrap_or_default() {
        if looks_like_data(line) {
            return Err(not_a_dump_line(kind, line));
        }
    }
    let mut rows = Vec::new();
    for &line in lines.get(start..).unwrap_or_default() {
        if line.text.trim() == "*" {
            rows.push(Row {
                line,
                head: None,
                toks: Vec::new(),
            });
            continue;
        }
        let Some(h) = head(kind, line) else {
            return Err(not_a_dump_line(kind, &line));
        };
        rows.push(Row {
            line,
            head: Some(h),
            toks: tokens(line, h.data_at),
        });
    }
    // Only xxd has a way to start elsewhere (-s); anything else is a partial copy.
    if let Some((row, h)) = rows.first().and_then(|r| Some((r, r.head?))) {
        if kind != Dump::Xxd && !h.digits.bytes().all(|b| b == b'0') {
            let msg = format!(
                "expected the dump to start at offset {} (is its first line missing?), found {}",
                fmt_offset(kind, 0, h.digits.len(), 16),
                shown_offset(kind, &h)
            );
            return Err(PasteError::new(row.line.no, h.col, msg));
        }
    }
    Ok(rows)
}

/// Each dump line's hex groups, and its gutter when one was recognised.
struct Columns<'r, 'a> {
    data: Vec<&'r [Tok<'a>]>,
    gutters: Vec<Option<Gutter>>,
}

/// Separates each line's hex groups from its ASCII gutter; returns the groups, and the gutters
/// that were recognised by spelling their line's bytes.
fn dump_data<'r, 'a>(kind: Dump, rows: &'r [Row<'a>]) -> Result<Columns<'r, 'a>, PasteError> {
    let mut min_gap = 2;
    let mut gutters: Vec<Option<Gutter>> = rows
        .iter()
        .map(|r| match_gutter(kind, r, min_gap))
        .collect();
    let has_text = || {
        rows.iter()
            .any(|r| r.toks.iter().any(|t| !is_group(t.text)))
    };
    if gutters.iter().all(Option::is_none) && has_text() {
        // Runs of blanks collapsed to one (a paste out of a rendered web page): gutters then
        // follow a single blank, and their columns mean nothing.
        min_gap = 1;
        gutters = rows
            .iter()
            .map(|r| match_gutter(kind, r, min_gap))
            .collect();
    }
    // Where gutters start, for lines whose gutter does not spell their bytes (edited data).
    let gutter_col = if min_gap == 2 {
        gutters.iter().flatten().map(|g| g.rel_col).min()
    } else {
        None
    };
    let mut data = Vec::with_capacity(rows.len());
    for (row, gutter) in rows.iter().zip(&gutters) {
        data.push(data_tokens(row, gutter.as_ref(), gutter_col, min_gap)?);
    }
    Ok(Columns { data, gutters })
}

/// The bytes of a dump. Groups wider than a byte are read as written (tcpdump, xxd) unless the
/// gutters spell them reversed (xxd -e); od and hexdump words are little-endian unless only the
/// big-endian reading looks like DNS.
fn dump_bytes(
    kind: Dump,
    rows: &[Row<'_>],
    data: &[&[Tok<'_>]],
    gutters: &[Option<Gutter>],
) -> Result<Vec<u8>, PasteError> {
    let wide = data.iter().flat_map(|d| d.iter()).any(|t| t.text.len() > 2);
    let count = |f: fn(&Gutter) -> bool| gutters.iter().flatten().filter(|g| f(g)).count();
    let as_written = count(|g| g.as_written && !g.reversed);
    let reversed = count(|g| g.reversed && !g.as_written);
    let digits = rows
        .first()
        .and_then(|r| r.head)
        .map_or(0, |h| h.digits.len());
    let radices: &[u32] = match (kind, digits) {
        (Dump::Bare, 7) => &[8, 16, 10],
        (Dump::Bare, _) => &[16, 8, 10],
        _ => &[16],
    };
    let pad = data
        .iter()
        .flat_map(|d| d.iter())
        .map(|t| t.text.len() / 2)
        .max()
        .unwrap_or(1);
    let assemble = |reverse: bool| -> Result<Vec<u8>, PasteError> {
        let bytes: Vec<Vec<u8>> = data.iter().map(|toks| group_bytes(toks, reverse)).collect();
        let mut first_err = None;
        for &radix in radices {
            match join_rows(kind, rows, &bytes, radix, pad) {
                Ok(out) => return Ok(out),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(|| PasteError::new(1, 1, "expected a dump")))
    };
    if !wide || as_written > reversed {
        assemble(false)
    } else if reversed > as_written {
        assemble(true)
    } else if kind == Dump::Bare {
        // od -x and hexdump print 16-bit words in host order: little-endian nearly everywhere.
        let little = assemble(true)?;
        if plausible(&little) {
            return Ok(little);
        }
        match assemble(false) {
            Ok(big) if plausible(&big) => Ok(big),
            _ => Ok(little),
        }
    } else {
        assemble(false)
    }
}

fn not_a_dump_line(kind: Dump, line: &Line<'_>) -> PasteError {
    let lead = leading_chars(line.text);
    let first = line.text.trim_start().chars().next();
    let like = match kind {
        Dump::Tcpdump => "an offset like \"0x0010:\" (tcpdump output holds one packet per paste)",
        Dump::Xxd => "an offset like \"00000010:\"",
        Dump::Bare => "an offset",
    };
    let msg = format!(
        "expected a dump line starting with {like}, found {}",
        found(first)
    );
    PasteError::new(line.no, line.col0 + lead, msg)
}

/// Finds the ASCII gutter of a dump line: the rightmost split, after `min_gap` or more blanks
/// (two, unless the paste lost its runs of blanks), where the text behind spells the bytes in
/// front. Only the last few candidates are tried.
fn match_gutter(kind: Dump, row: &Row<'_>, min_gap: usize) -> Option<Gutter> {
    let h = row.head?;
    let toks = &row.toks;
    let valid = toks.iter().take_while(|t| is_group(t.text)).count();
    let last = valid.min(toks.len().saturating_sub(1));
    (1..=last)
        .rev()
        .filter(|&j| toks.get(j).is_some_and(|t| t.gap >= min_gap))
        .take(8)
        .find_map(|j| {
            let tok = toks.get(j)?;
            let gutter = row.line.text.get(tok.at..)?;
            let data = toks.get(..j)?;
            let as_written = gutter_spells(&group_bytes(data, false), gutter);
            let reversed = kind != Dump::Tcpdump
                && data.iter().any(|t| t.text.len() > 2)
                && gutter_spells(&group_bytes(data, true), gutter);
            (as_written || reversed).then_some(Gutter {
                data: j,
                rel_col: tok.col.saturating_sub(h.col),
                as_written,
                reversed,
            })
        })
}

/// Whether a gutter spells `bytes`: printable ASCII as itself, anything as '.'. Delimited
/// gutters (`>...<` from od, `|...|` from hexdump -C) must match exactly; bare ones may have lost
/// leading spaces to the blank in front and trailing ones to trimming.
fn gutter_spells(bytes: &[u8], gutter: &str) -> bool {
    let same = |c: char, b: u8| c == '.' || ((0x20..0x7f).contains(&b) && c == char::from(b));
    let gutter = gutter.trim_end();
    for (open, close) in [('>', '<'), ('|', '|')] {
        if let Some(inner) = gutter
            .strip_prefix(open)
            .and_then(|g| g.strip_suffix(close))
        {
            if inner.chars().count() == bytes.len()
                && inner.chars().zip(bytes).all(|(c, &b)| same(c, b))
            {
                return true;
            }
        }
    }
    let lead = bytes.iter().take_while(|&&b| b == b' ').count();
    let rest = bytes.get(lead..).unwrap_or_default();
    let trail = rest.iter().rev().take_while(|&&b| b == b' ').count();
    let n = gutter.chars().count();
    n > 0
        && n >= rest.len() - trail
        && n <= rest.len()
        && gutter.chars().zip(rest).all(|(c, &b)| same(c, b))
}

/// The length of a gutter in characters, without od's or hexdump's delimiters.
fn gutter_len(gutter: &str) -> usize {
    let g = gutter.trim_end();
    let inner = [('>', '<'), ('|', '|')]
        .iter()
        .find_map(|&(open, close)| g.strip_prefix(open).and_then(|g| g.strip_suffix(close)));
    inner.unwrap_or(g).chars().count()
}

/// The data tokens of a dump line: those before its gutter.
fn data_tokens<'r, 'a>(
    row: &'r Row<'a>,
    gutter: Option<&Gutter>,
    gutter_col: Option<usize>,
    min_gap: usize,
) -> Result<&'r [Tok<'a>], PasteError> {
    let toks = row.toks.as_slice();
    let Some(h) = row.head else { return Ok(&[]) };
    let n = match gutter {
        Some(g) => g.data,
        None => {
            // No gutter spells this line's bytes (edited data, or a line that lost a group): the
            // gutter starts where the other lines' does, or at the first non-hex token after a
            // wide gap, whichever comes first. A gutter never has more characters than the line
            // has bytes, so a typo cannot pass for one.
            let by_col = gutter_col.map_or(toks.len(), |col| {
                toks.iter()
                    .take_while(|t| t.col.saturating_sub(h.col) < col)
                    .count()
            });
            let valid = toks.iter().take_while(|t| is_group(t.text)).count();
            let fits = |t: &Tok<'_>| {
                let bytes: usize = toks.iter().take(valid).map(|t| t.text.len() / 2).sum();
                let tail = row.line.text.get(t.at..).unwrap_or_default();
                gutter_len(tail) <= bytes
            };
            match toks.get(valid) {
                _ if valid >= by_col => by_col,
                Some(t) if valid > 0 && t.gap >= min_gap && (min_gap >= 2 || fits(t)) => valid,
                Some(t) => return Err(bad_hex(t)),
                None => valid,
            }
        }
    };
    let data = toks.get(..n).unwrap_or_default();
    if data.is_empty() {
        if let Some(t) = toks.first() {
            return Err(PasteError::new(
                t.line,
                t.col,
                "expected hex data after the offset, found only the ASCII column",
            ));
        }
    }
    Ok(data)
}

/// The bytes of hex groups, each group's bytes reversed if asked (little-endian words).
fn group_bytes(toks: &[Tok<'_>], reverse: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for tok in toks {
        let start = out.len();
        out.extend(tok.text.as_bytes().chunks_exact(2).map(|p| match p {
            [hi, lo] => (nibble(*hi) << 4) | nibble(*lo),
            _ => 0,
        }));
        if reverse {
            if let Some(group) = out.get_mut(start..) {
                group.reverse();
            }
        }
    }
    out
}

fn fmt_offset(kind: Dump, value: u64, width: usize, radix: u32) -> String {
    let digits = match radix {
        8 => format!("{value:0width$o}"),
        10 => format!("{value:0width$}"),
        _ => format!("{value:0width$x}"),
    };
    match kind {
        Dump::Tcpdump => format!("0x{digits}"),
        Dump::Xxd | Dump::Bare => digits,
    }
}

fn shown_offset(kind: Dump, h: &Head<'_>) -> String {
    match kind {
        Dump::Tcpdump => format!("0x{}", h.digits),
        Dump::Xxd | Dump::Bare => h.digits.to_string(),
    }
}

/// Joins the lines of a dump, checking each offset against the bytes before it, expanding `*`
/// lines and cutting to the final offset line when there is one.
fn join_rows(
    kind: Dump,
    rows: &[Row<'_>],
    bytes: &[Vec<u8>],
    radix: u32,
    pad: usize,
) -> Result<Vec<u8>, PasteError> {
    let radix_name = match radix {
        8 => "octal",
        10 => "decimal",
        _ => "hex",
    };
    let too_big = |line: &Line<'_>| {
        PasteError::new(
            line.no,
            line.col0,
            format!("expected at most {MAX_RAW} bytes, the dump holds more"),
        )
    };
    let mut out: Vec<u8> = Vec::new();
    let mut base = 0u64;
    let mut expect: Option<u64> = None;
    let mut prev: Option<(&[u8], usize)> = None; // bytes and line number of the last data line
    let mut star: Option<Line<'_>> = None;
    for (i, (row, data)) in rows.iter().zip(bytes).enumerate() {
        let Some(h) = row.head else {
            let col = row.line.col0 + leading_chars(row.line.text);
            if prev.is_none() || star.is_some() {
                return Err(PasteError::new(
                    row.line.no,
                    col,
                    "expected a dump line before \"*\"",
                ));
            }
            star = Some(row.line);
            continue;
        };
        let off = u64::from_str_radix(h.digits, radix).map_err(|_| {
            let msg = format!("expected a {radix_name} offset, found {:?}", h.digits);
            PasteError::new(row.line.no, h.col, msg)
        })?;
        let width = h.digits.len();
        match (expect, prev) {
            (Some(e), Some((repeat, prev_line))) => {
                if star.take().is_some() {
                    let unit = repeat.len() as u64;
                    let Some(extra) = off.checked_sub(e).filter(|x| unit > 0 && x % unit == 0)
                    else {
                        let msg = format!(
                            "expected an offset of {} plus a multiple of {unit} after \"*\", found {}",
                            fmt_offset(kind, e, width, radix),
                            shown_offset(kind, &h)
                        );
                        return Err(PasteError::new(row.line.no, h.col, msg));
                    };
                    if (out.len() as u64).saturating_add(extra) > MAX_RAW as u64 {
                        return Err(too_big(&row.line));
                    }
                    for _ in 0..extra / unit.max(1) {
                        out.extend_from_slice(repeat);
                    }
                } else if off != e && !row.toks.is_empty() {
                    let msg = format!(
                        "expected offset {}, found {}: line {prev_line} holds {} bytes",
                        fmt_offset(kind, e, width, radix),
                        shown_offset(kind, &h),
                        repeat.len()
                    );
                    return Err(PasteError::new(row.line.no, h.col, msg));
                }
            }
            _ => base = off,
        }
        if row.toks.is_empty() {
            // The final offset alone (od, hexdump): the length of the data.
            let col = col_at(row.line, h.data_at);
            if i + 1 != rows.len() {
                return Err(PasteError::new(
                    row.line.no,
                    col,
                    "expected hex data after the offset, found the end of the line",
                ));
            }
            let total = off.checked_sub(base).and_then(|t| usize::try_from(t).ok());
            match total {
                Some(total) if total <= out.len() && out.len() - total < pad.max(1) => {
                    out.truncate(total)
                }
                _ => {
                    let msg = format!(
                        "expected the final offset {} (the lines above hold {} bytes), found {}",
                        fmt_offset(kind, base.saturating_add(out.len() as u64), width, radix),
                        out.len(),
                        shown_offset(kind, &h)
                    );
                    return Err(PasteError::new(row.line.no, h.col, msg));
                }
            }
        } else {
            out.extend_from_slice(data);
            if out.len() > MAX_RAW {
                return Err(too_big(&row.line));
            }
            expect = off.checked_add(data.len() as u64);
            prev = Some((data, row.line.no));
        }
    }
    if let Some(line) = star {
        let col = line.col0 + leading_chars(line.text);
        return Err(PasteError::new(
            line.no,
            col,
            "expected an offset line after \"*\", found the end of the paste",
        ));
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// Header stripping

/// A DNS message found behind headers.
struct Found {
    dns: Range<usize>,
    layers: Vec<Layer>,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at.checked_add(1)?)?,
    ]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *s.first()?,
        *s.get(1)?,
        *s.get(2)?,
        *s.get(3)?,
    ]))
}

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ethertype_name(t: u16) -> String {
    match t {
        ETHERTYPE_IPV4 => "IPv4".to_string(),
        ETHERTYPE_IPV6 => "IPv6".to_string(),
        0x8100 => "802.1Q".to_string(),
        0x88a8 => "802.1ad".to_string(),
        other => format!("ethertype 0x{other:04x}"),
    }
}

fn layer(kind: LayerKind, offset: usize, len: usize, summary: String) -> Layer {
    Layer {
        kind,
        offset,
        len,
        summary,
    }
}

/// Ethernet II, with up to two VLAN tags, in front of IPv4 or IPv6.
fn ethernet(raw: &[u8]) -> Option<Found> {
    let dst = raw.get(0..6)?;
    let src = raw.get(6..12)?;
    let outer = be16(raw, 12)?;
    let mut ethertype = outer;
    let mut at = 14;
    let mut layers = vec![layer(
        LayerKind::Ethernet,
        0,
        14,
        format!(
            "Ethernet {} -> {}, {}",
            mac(src),
            mac(dst),
            ethertype_name(outer)
        ),
    )];
    while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) && layers.len() < 3 {
        let tci = be16(raw, at)?;
        let inner = be16(raw, at + 2)?;
        let name = if ethertype == 0x8100 {
            "802.1Q"
        } else {
            "802.1ad"
        };
        let summary = format!(
            "{name} VLAN {}, priority {}, {}",
            tci & 0x0fff,
            tci >> 13,
            ethertype_name(inner)
        );
        layers.push(layer(LayerKind::Vlan, at, 4, summary));
        ethertype = inner;
        at += 4;
    }
    if !matches!(ethertype, ETHERTYPE_IPV4 | ETHERTYPE_IPV6) {
        return None;
    }
    let inner = network(raw, at, Some(ethertype))?;
    layers.extend(inner.layers);
    Some(Found {
        dns: inner.dns,
        layers,
    })
}

fn sll_packet_type(t: u16) -> &'static str {
    match t {
        0 => "to us",
        1 => "broadcast",
        2 => "multicast",
        3 => "to another host",
        _ => "sent by us",
    }
}

/// Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10): 16 bytes.
fn linux_sll(raw: &[u8]) -> Option<Found> {
    let packet_type = be16(raw, 0)?;
    let arphrd = be16(raw, 2)?;
    let addr_len = usize::from(be16(raw, 4)?);
    let proto = be16(raw, 14)?;
    if packet_type > 4 || addr_len > 8 || !matches!(proto, ETHERTYPE_IPV4 | ETHERTYPE_IPV6) {
        return None;
    }
    let addr = raw.get(6..6 + addr_len)?;
    let summary = format!(
        "Linux cooked capture, {}, link type {arphrd}, address {}, {}",
        sll_packet_type(packet_type),
        if addr.is_empty() {
            "none".to_string()
        } else {
            mac(addr)
        },
        ethertype_name(proto)
    );
    let inner = network(raw, 16, Some(proto))?;
    let mut layers = vec![layer(LayerKind::LinuxSll, 0, 16, summary)];
    layers.extend(inner.layers);
    Some(Found {
        dns: inner.dns,
        layers,
    })
}

/// Linux cooked capture v2 (`tcpdump -i any` with libpcap 1.10 and later): 20 bytes.
fn linux_sll2(raw: &[u8]) -> Option<Found> {
    let proto = be16(raw, 0)?;
    let reserved = be16(raw, 2)?;
    let ifindex = be32(raw, 4)?;
    let arphrd = be16(raw, 8)?;
    let packet_type = *raw.get(10)?;
    let addr_len = usize::from(*raw.get(11)?);
    if reserved != 0
        || packet_type > 4
        || addr_len > 8
        || !matches!(proto, ETHERTYPE_IPV4 | ETHERTYPE_IPV6)
    {
        return None;
    }
    let addr = raw.get(12..12 + addr_len)?;
    let summary = format!(
        "Linux cooked capture v2, interface {ifindex}, {}, link type {arphrd}, address {}, {}",
        sll_packet_type(u16::from(packet_type)),
        if addr.is_empty() {
            "none".to_string()
        } else {
            mac(addr)
        },
        ethertype_name(proto)
    );
    let inner = network(raw, 20, Some(proto))?;
    let mut layers = vec![layer(LayerKind::LinuxSll, 0, 20, summary)];
    layers.extend(inner.layers);
    Some(Found {
        dns: inner.dns,
        layers,
    })
}

/// BSD loopback (DLT_NULL): a 4-byte address family in host byte order.
fn loopback(raw: &[u8]) -> Option<Found> {
    let family = raw.get(..4)?;
    let value = match family {
        [f, 0, 0, 0] | [0, 0, 0, f] => *f,
        _ => return None,
    };
    let ethertype = match value {
        2 => ETHERTYPE_IPV4,
        24 | 28 | 30 => ETHERTYPE_IPV6,
        _ => return None,
    };
    let inner = network(raw, 4, Some(ethertype))?;
    let summary = format!(
        "BSD loopback, address family {value} ({})",
        ethertype_name(ethertype)
    );
    let mut layers = vec![layer(LayerKind::Loopback, 0, 4, summary)];
    layers.extend(inner.layers);
    Some(Found {
        dns: inner.dns,
        layers,
    })
}

/// IPv4 or IPv6 at `at`. `ethertype` is what the link layer announced; without one (the paste
/// starts with the IP header) every length must agree exactly.
fn network(raw: &[u8], at: usize, ethertype: Option<u16>) -> Option<Found> {
    match (raw.get(at)? >> 4, ethertype) {
        (4, None | Some(ETHERTYPE_IPV4)) => ipv4(raw, at, ethertype.is_some()),
        (6, None | Some(ETHERTYPE_IPV6)) => ipv6(raw, at, ethertype.is_some()),
        _ => None,
    }
}

fn protocol_name(p: u8) -> &'static str {
    if p == 17 {
        "UDP"
    } else {
        "TCP"
    }
}

/// Where an IP payload ends given its announced length, and what to say when the capture
/// disagrees; `None` when it cannot be this header. `strict` is set when the transport lengths
/// must then agree exactly.
fn ip_extent(
    at: usize,
    announced: usize,
    avail: usize,
    linked: bool,
    notes: &mut Vec<String>,
) -> Option<(usize, bool)> {
    if announced > avail {
        if !linked {
            return None;
        }
        notes.push(format!(
            "total length {announced} but only {avail} bytes captured"
        ));
        Some((at + avail, false))
    } else {
        Some((at + announced, !linked && announced < avail))
    }
}

fn ipv4(raw: &[u8], at: usize, linked: bool) -> Option<Found> {
    let fixed = raw.get(at..at.checked_add(20)?)?;
    let &[vihl, _, _, _, _, _, _, _, _, proto, ..] = fixed else {
        return None;
    };
    let ihl = usize::from(vihl & 0x0f) * 4;
    let total = usize::from(be16(fixed, 2)?);
    if vihl >> 4 != 4 || ihl < 20 || total < ihl || !matches!(proto, 6 | 17) {
        return None;
    }
    let header = raw.get(at..at + ihl)?;
    let src = Ipv4Addr::from(be32(header, 12)?);
    let dst = Ipv4Addr::from(be32(header, 16)?);
    let mut notes = Vec::new();
    let (end, strict) = ip_extent(at, total, raw.len() - at, linked, &mut notes)?;
    if end < at + ihl {
        return None;
    }
    if ihl > 20 {
        notes.push(format!("{} bytes of options", ihl - 20));
    }
    let frag = be16(header, 6)?;
    let frag_offset = usize::from(frag & 0x1fff) * 8;
    let more = frag & 0x2000 != 0;
    if frag_offset > 0 {
        notes.push(format!(
            "fragment at offset {frag_offset}{}: no {} header here, the DNS data is a later piece",
            if more {
                ", more follow"
            } else {
                ", the last one"
            },
            protocol_name(proto)
        ));
    } else if more {
        notes.push("first fragment, more follow: the DNS message is incomplete".to_string());
    }
    let sum = header
        .chunks(2)
        .map(|w| {
            u32::from(u16::from_be_bytes([
                *w.first().unwrap_or(&0),
                *w.get(1).unwrap_or(&0),
            ]))
        })
        .sum::<u32>();
    let folded = (sum & 0xffff) + (sum >> 16);
    if (folded & 0xffff) + (folded >> 16) != 0xffff {
        notes.push(format!(
            "header checksum 0x{:04x} does not verify",
            be16(header, 10)?
        ));
    }
    let mut summary = format!("IPv4 {src} -> {dst}, {}", protocol_name(proto));
    for note in &notes {
        summary.push_str(", ");
        summary.push_str(note);
    }
    let ip = layer(LayerKind::Ipv4, at, ihl, summary);
    let inner = if frag_offset > 0 {
        Found {
            dns: at + ihl..end,
            layers: Vec::new(),
        }
    } else {
        transport(raw, at + ihl, end, proto, strict)?
    };
    Some(with_trailer(ip, inner, end, raw.len(), "IPv4 packet"))
}

fn ipv6(raw: &[u8], at: usize, linked: bool) -> Option<Found> {
    let fixed = raw.get(at..at.checked_add(40)?)?;
    let payload = usize::from(be16(fixed, 4)?);
    let mut next = *fixed.get(6)?;
    if fixed.first()? >> 4 != 6 || payload == 0 {
        return None;
    }
    let src = Ipv6Addr::from(u128::from_be_bytes(fixed.get(8..24)?.try_into().ok()?));
    let dst = Ipv6Addr::from(u128::from_be_bytes(fixed.get(24..40)?.try_into().ok()?));
    let mut notes = Vec::new();
    let (end, strict) = ip_extent(at + 40, payload, raw.len() - at - 40, linked, &mut notes)?;
    let mut p = at + 40;
    let mut ext = Vec::new();
    let mut fragment: Option<(usize, bool)> = None;
    while matches!(next, 0 | 43 | 44 | 51 | 60) && ext.len() < 8 {
        let len_byte = usize::from(*raw.get(p + 1)?);
        let (name, len) = match next {
            0 => ("hop-by-hop options", (len_byte + 1) * 8),
            43 => ("routing", (len_byte + 1) * 8),
            44 => {
                let fo = be16(raw, p + 2)?;
                fragment = Some((usize::from(fo >> 3) * 8, fo & 1 != 0));
                ("fragment", 8)
            }
            51 => ("authentication", (len_byte + 2) * 4),
            _ => ("destination options", (len_byte + 1) * 8),
        };
        if p + len > end {
            return None;
        }
        ext.push(name);
        next = *raw.get(p)?;
        p += len;
    }
    if !matches!(next, 6 | 17) {
        return None;
    }
    let mut summary = format!("IPv6 {src} -> {dst}, {}", protocol_name(next));
    if !ext.is_empty() {
        summary.push_str(&format!(", extension headers: {}", ext.join(", ")));
    }
    match fragment {
        Some((off, more)) if off > 0 => notes.push(format!(
            "fragment at offset {off}{}: no {} header here, the DNS data is a later piece",
            if more {
                ", more follow"
            } else {
                ", the last one"
            },
            protocol_name(next)
        )),
        Some((_, true)) => {
            notes.push("first fragment, more follow: the DNS message is incomplete".to_string())
        }
        _ => {}
    }
    for note in &notes {
        summary.push_str(", ");
        summary.push_str(note);
    }
    let ip = layer(LayerKind::Ipv6, at, p - at, summary);
    let inner = match fragment {
        Some((off, _)) if off > 0 => Found {
            dns: p..end,
            layers: Vec::new(),
        },
        _ => transport(raw, p, end, next, strict)?,
    };
    Some(with_trailer(ip, inner, end, raw.len(), "IPv6 packet"))
}

/// Puts `outer` in front of the inner layers, and a trailer behind when bytes follow `end`.
fn with_trailer(outer: Layer, inner: Found, end: usize, raw_len: usize, what: &str) -> Found {
    let mut layers = vec![outer];
    layers.extend(inner.layers);
    if end < raw_len {
        let n = raw_len - end;
        let summary = format!("{n} bytes after the {what} (Ethernet padding or trailer)");
        layers.push(layer(LayerKind::Trailer, end, n, summary));
    }
    Found {
        dns: inner.dns,
        layers,
    }
}

fn transport(raw: &[u8], at: usize, end: usize, proto: u8, strict: bool) -> Option<Found> {
    match proto {
        17 => udp(raw, at, end, strict),
        6 => tcp(raw, at, end, strict),
        _ => None,
    }
}

fn udp(raw: &[u8], at: usize, end: usize, strict: bool) -> Option<Found> {
    if at.checked_add(8)? > end {
        return None;
    }
    let sport = be16(raw, at)?;
    let dport = be16(raw, at + 2)?;
    let len = usize::from(be16(raw, at + 4)?);
    let present = end - at;
    let mut summary = format!("UDP {sport} -> {dport}, length {len}");
    let mut dns = at + 8..end;
    let mut trailer = None;
    if len != present {
        if strict {
            return None;
        }
        if len < 8 {
            summary.push_str(", shorter than the UDP header itself");
        } else if len > present {
            summary.push_str(&format!(
                ", but only {present} bytes present (fragmented or truncated)"
            ));
        } else {
            summary.push_str(&format!(", but {present} bytes follow the IP header"));
            dns = at + 8..at + len;
            let n = present - len;
            trailer = Some(layer(
                LayerKind::Trailer,
                at + len,
                n,
                format!("{n} bytes after the UDP length"),
            ));
        }
    }
    let mut layers = vec![layer(LayerKind::Udp, at, 8, summary)];
    layers.extend(trailer);
    Some(Found { dns, layers })
}

fn tcp_flags(flags: u8) -> String {
    let names = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
    let set: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| flags & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        "none".to_string()
    } else {
        set.join(" ")
    }
}

fn tcp(raw: &[u8], at: usize, end: usize, strict: bool) -> Option<Found> {
    if at.checked_add(20)? > end {
        return None;
    }
    let sport = be16(raw, at)?;
    let dport = be16(raw, at + 2)?;
    let data_offset = usize::from(raw.get(at + 12)? >> 4) * 4;
    let flags = *raw.get(at + 13)?;
    if data_offset < 20 || at + data_offset > end {
        return None;
    }
    let mut summary = format!(
        "TCP {sport} -> {dport}, flags {}, header {data_offset} bytes",
        tcp_flags(flags)
    );
    let p = at + data_offset;
    let remain = end - p;
    if remain == 0 {
        summary.push_str(", no payload");
        return Some(Found {
            dns: end..end,
            layers: vec![layer(LayerKind::Tcp, at, data_offset, summary)],
        });
    }
    let tcp_layer = |summary| layer(LayerKind::Tcp, at, data_offset, summary);
    let Some(n) = be16(raw, p).map(usize::from).filter(|_| remain >= 2) else {
        summary.push_str(", 1 byte of payload");
        return Some(Found {
            dns: p..end,
            layers: vec![tcp_layer(summary)],
        });
    };
    let mut prefix = format!("TCP length prefix {n}");
    let have = remain - 2;
    let mut layers = vec![tcp_layer(summary)];
    let dns_end = if n > have {
        if strict {
            return None;
        }
        prefix.push_str(&format!(
            ", message continues in a later segment ({have} of {n} bytes here)"
        ));
        end
    } else {
        p + 2 + n
    };
    layers.push(layer(LayerKind::TcpLengthPrefix, p, 2, prefix));
    if n < have {
        let extra = have - n;
        let summary =
            format!("{extra} bytes after the first DNS message in the segment (another message?)");
        layers.push(layer(LayerKind::Trailer, dns_end, extra, summary));
    }
    Some(Found {
        dns: p + 2..dns_end,
        layers,
    })
}

fn is_dns_port(port: u16) -> bool {
    matches!(port, 53 | 5353 | 5355)
}

/// A UDP header with no IP header in front: the length must cover exactly the bytes, one port
/// must be a DNS port, and the bytes must not already read as DNS.
fn bare_udp(raw: &[u8]) -> Option<Found> {
    let len = usize::from(be16(raw, 4)?);
    let ports = (be16(raw, 0)?, be16(raw, 2)?);
    if len != raw.len()
        || len < 8 + 12
        || !(is_dns_port(ports.0) || is_dns_port(ports.1))
        || looks_like_dns(raw)
    {
        return None;
    }
    udp(raw, 0, raw.len(), true)
}

/// A DNS-over-TCP length prefix alone: it must equal the bytes after it exactly, and the bytes
/// must not already read as DNS without it.
fn bare_length_prefix(raw: &[u8]) -> Option<Found> {
    let n = usize::from(be16(raw, 0)?);
    let msg = raw.get(2..)?;
    if n != msg.len() || n < 12 || (looks_like_dns(raw) && !looks_like_dns(msg)) {
        return None;
    }
    let summary = format!("TCP length prefix {n}");
    Some(Found {
        dns: 2..raw.len(),
        layers: vec![layer(LayerKind::TcpLengthPrefix, 0, 2, summary)],
    })
}

/// Skips a domain name at `pos`: labels up to a root label or a compression pointer.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    let mut len = 0usize;
    loop {
        let b = *msg.get(pos)?;
        match b & 0xc0 {
            0x00 if b == 0 => return Some(pos + 1),
            0x00 => {
                len += usize::from(b) + 1;
                if len > 255 {
                    return None;
                }
                pos += usize::from(b) + 1;
            }
            0xc0 => {
                let target = usize::from(be16(msg, pos)? & 0x3fff);
                return (target < pos).then_some(pos + 2);
            }
            _ => return None,
        }
    }
}

/// Whether bytes walk as a DNS message: a header, then exactly the questions and records its
/// counts announce, ending at the last byte.
fn looks_like_dns(msg: &[u8]) -> bool {
    fn walk(msg: &[u8]) -> Option<bool> {
        let count = |i| be16(msg, i).map(usize::from);
        let questions = count(4)?;
        let records = count(6)? + count(8)? + count(10)?;
        let mut pos = 12;
        for _ in 0..questions {
            pos = skip_name(msg, pos)? + 4;
        }
        for _ in 0..records {
            pos = skip_name(msg, pos)?;
            let rdlength = usize::from(be16(msg, pos + 8)?);
            pos += 10 + rdlength;
            if pos > msg.len() {
                return None;
            }
        }
        Some(pos == msg.len())
    }
    msg.len() >= 12 && walk(msg).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed response (358 bytes, compressed names) and its uncompressed twin (758 bytes).
    const DNS: &[u8] = include_bytes!("../../../tests/data/paste/dns-compressed.bin");
    const DNS_BIG: &[u8] = include_bytes!("../../../tests/data/paste/dns-uncompressed.bin");
    const SERVER: [u8; 4] = [192, 0, 2, 1];
    const CLIENT: [u8; 4] = [10, 0, 0, 53];

    /// The text analysis's `;; INPUT:` name is the JSON's `source.format`, for every format.
    #[test]
    fn format_names_are_the_json_names() {
        use PasteFormat as F;
        let all = [
            F::Hex,
            F::TcpdumpX,
            F::Xxd,
            F::Od,
            F::HexStream,
            F::HexDump,
            F::Base64,
            F::Base64Url,
            F::Binary,
        ];
        for f in all {
            // A new variant must be added above (the match makes the compiler say so).
            match f {
                F::Hex | F::TcpdumpX | F::Xxd | F::Od | F::HexStream | F::HexDump => {}
                F::Base64 | F::Base64Url | F::Binary => {}
            }
            assert_eq!(
                serde_json::to_value(f).unwrap(),
                serde_json::Value::from(f.as_str())
            );
        }
    }

    // ---- packet builders ------------------------------------------------------------------------

    fn checksum(data: &[u8]) -> u16 {
        let mut sum: u32 = data
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
            .sum();
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    fn ipv4_with(
        proto: u8,
        flags_frag: u16,
        options: &[u8],
        total: Option<u16>,
        payload: &[u8],
    ) -> Vec<u8> {
        let ihl = 20 + options.len();
        let total = total.unwrap_or((ihl + payload.len()) as u16);
        let mut h = vec![0x40 | (ihl / 4) as u8, 0];
        h.extend(total.to_be_bytes());
        h.extend([0x1c, 0x46]);
        h.extend(flags_frag.to_be_bytes());
        h.extend([64, proto, 0, 0]);
        h.extend(SERVER);
        h.extend(CLIENT);
        h.extend(options);
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend(payload);
        h
    }

    fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
        ipv4_with(proto, 0x4000, &[], None, payload)
    }

    fn udp_with(len: u16, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0, 53, 0xa1, 0x12];
        h.extend(len.to_be_bytes());
        h.extend([0, 0]);
        h.extend(payload);
        h
    }

    fn udp(payload: &[u8]) -> Vec<u8> {
        udp_with((8 + payload.len()) as u16, payload)
    }

    fn tcp(flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![
            0,
            53,
            0xa1,
            0x12,
            0,
            0,
            0x03,
            0xe8,
            0,
            0,
            0x07,
            0xd0,
            5 << 4,
            flags,
            0xff,
            0xff,
            0,
            0,
            0,
            0,
        ];
        h.extend(payload);
        h
    }

    fn prefixed(msg: &[u8]) -> Vec<u8> {
        let mut v = (msg.len() as u16).to_be_bytes().to_vec();
        v.extend(msg);
        v
    }

    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend((payload.len() as u16).to_be_bytes());
        h.extend([next, 64]);
        h.extend(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets());
        h.extend(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x53).octets());
        h.extend(payload);
        h
    }

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0x02, 0, 0, 0x5e, 0, 0x53, 0x02, 0, 0, 0xc0, 0x02, 0x01];
        h.extend(ethertype.to_be_bytes());
        h.extend(payload);
        h
    }

    /// An 802.1Q tag (TCI and the inner ethertype) behind an outer 0x8100 or 0x88a8.
    fn vlan(tci: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut h = tci.to_be_bytes().to_vec();
        h.extend(ethertype.to_be_bytes());
        h.extend(payload);
        h
    }

    /// A query for the root (17 bytes): small enough to need Ethernet padding.
    fn root_query() -> Vec<u8> {
        vec![
            0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1,
        ]
    }

    /// A query for `name` (dotted, no trailing dot).
    fn query(id: u16, name: &str) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        for label in name.split('.') {
            m.push(label.len() as u8);
            m.extend(label.as_bytes());
        }
        m.extend([0, 0, 1, 0, 1]);
        m
    }

    fn kinds(layers: &[Layer]) -> Vec<LayerKind> {
        layers.iter().map(|l| l.kind).collect()
    }

    // ---- text renderers, ported from the tools ----------------------------------------------

    /// tcpdump's hex_and_ascii_print (-X, -XX) or hex_print (-x, -xx), print-ascii.c.
    fn tcpdump(data: &[u8], ascii: bool) -> String {
        let mut out = String::new();
        for (i, chunk) in data.chunks(16).enumerate() {
            let mut hex = String::new();
            for pair in chunk.chunks(2) {
                hex.push(' ');
                pair.iter().for_each(|b| hex.push_str(&format!("{b:02x}")));
            }
            let gutter: String = chunk
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                .collect();
            if ascii {
                out.push_str(&format!("\t0x{:04x}: {hex:<40}  {gutter}\n", i * 16));
            } else {
                out.push_str(&format!("\t0x{:04x}: {hex}\n", i * 16));
            }
        }
        out
    }

    /// xxd's default layout: 16 bytes a line in 2-byte groups, then the gutter.
    fn xxd(data: &[u8]) -> String {
        let mut out = String::new();
        for (i, chunk) in data.chunks(16).enumerate() {
            let groups: Vec<String> = chunk
                .chunks(2)
                .map(|p| p.iter().map(|b| format!("{b:02x}")).collect())
                .collect();
            let gutter: String = chunk
                .iter()
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            out.push_str(&format!(
                "{:08x}: {:<39}  {gutter}\n",
                i * 16,
                groups.join(" ")
            ));
        }
        out
    }

    fn hex(data: &[u8]) -> String {
        data.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn err(text: &str) -> PasteError {
        match parse_paste(text) {
            Ok(p) => panic!("expected an error, got {p:?}"),
            Err(e) => e,
        }
    }

    fn at(text: &str) -> (usize, usize, String) {
        let e = err(text);
        (e.line, e.column, e.message)
    }

    // ---- plain hex ------------------------------------------------------------------------------

    #[test]
    fn hex_stream_lower_and_upper_case() {
        let p = parse_paste(&hex(DNS)).unwrap();
        assert_eq!(
            (p.format, p.bytes.as_slice(), p.raw_len),
            (PasteFormat::HexStream, DNS, DNS.len())
        );
        assert!(p.layers.is_empty());
        let p = parse_paste(&hex(DNS).to_uppercase()).unwrap();
        assert_eq!(p.bytes, DNS);
    }

    #[test]
    fn spaced_hex_bytes_and_words() {
        let bytes: Vec<String> = DNS.iter().map(|b| format!("{b:02X}")).collect();
        let p = parse_paste(&bytes.join(" ")).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::Hex, DNS));
        // 16-bit groups, eight to a line, as people retype them
        let words: Vec<String> = DNS.chunks(2).map(hex).collect();
        let text: String = words.chunks(8).map(|l| l.join(" ") + "\n").collect();
        assert_eq!(parse_paste(&text).unwrap().bytes, DNS);
    }

    #[test]
    fn hex_with_line_breaks_anywhere() {
        // Wrapped at an odd width, so bytes are split across lines.
        let s = hex(DNS);
        let wrapped: String = s
            .as_bytes()
            .chunks(77)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        let p = parse_paste(&wrapped).unwrap();
        assert_eq!(
            (p.format, p.bytes.as_slice()),
            (PasteFormat::HexStream, DNS)
        );
        // A spaced group split by a line break
        assert_eq!(
            parse_paste("81 8\n0 00 01").unwrap().bytes,
            [0x81, 0x80, 0x00, 0x01]
        );
    }

    #[test]
    fn c_array_and_other_array_spellings() {
        let body: Vec<String> = DNS.iter().map(|b| format!("0x{b:02x}")).collect();
        let c = format!(
            "unsigned char reply[] = {{\n  {}\n}};\nunsigned int reply_len = 358;\n",
            body.join(", ")
        );
        let p = parse_paste(&c).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::Hex, DNS));
        let py = format!("msg = [{}]", body.join(", "));
        assert_eq!(parse_paste(&py).unwrap().bytes, DNS);
        // Bare 0x list without brackets, upper-case prefix, one-digit byte
        assert_eq!(
            parse_paste("0X81,0x80, 0x0,0x1").unwrap().bytes,
            [0x81, 0x80, 0x00, 0x01]
        );
    }

    #[test]
    fn colon_separated_hex() {
        let p = parse_paste("81:80:00:01:00:00:00:00:00:00:00:00").unwrap();
        assert_eq!(p.bytes, [0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(p.format, PasteFormat::Hex);
    }

    #[test]
    fn comments_blank_lines_and_fences_are_ignored() {
        let text = format!(
            "\u{feff}# a reply from the resolver\n\n```\n; captured by hand\n{}\n```\n",
            hex(DNS)
        );
        assert_eq!(parse_paste(&text).unwrap().bytes, DNS);
    }

    #[test]
    fn xxd_plain_is_recognised() {
        let text = include_str!("../../../tests/data/paste/dns.xxd-p.txt");
        let p = parse_paste(text).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::Xxd, DNS));
    }

    // ---- tcpdump --------------------------------------------------------------------------------

    #[test]
    fn tcpdump_x_with_summary_line_and_gutter() {
        let text = include_str!("../../../tests/data/paste/ipv4-udp.tcpdump-X.txt");
        assert!(text.starts_with("12:00:00.000000 IP 192.0.2.1.53 > 10.0.0.53.41234"));
        assert!(text.contains("E....F@.@.P....."));
        let p = parse_paste(text).unwrap();
        assert_eq!(p.format, PasteFormat::TcpdumpX);
        assert_eq!(p.bytes, DNS);
        assert_eq!(p.raw_len, 20 + 8 + DNS.len());
        assert_eq!(p.layers[0].summary, "IPv4 192.0.2.1 -> 10.0.0.53, UDP");
        assert_eq!(p.layers[1].summary, "UDP 53 -> 41234, length 366");
    }

    #[test]
    fn tcpdump_gutter_that_looks_like_hex_is_ignored() {
        // Names made of hex letters put "dead", "beef", "cafe" and "face" in the gutter, and an
        // odd length leaves a 2-digit group on the last line, whose gutter is "c".
        for tail in ["ab", "abc", "cafe"] {
            let mut msg = query(0x1234, "deadbeef.cafe.face.decaf.add.bad.fab.cab");
            while (28 + msg.len() + tail.len()) % 16 != tail.len() {
                msg.push(b'.');
            }
            msg.extend(tail.as_bytes());
            let raw = ipv4(17, &udp(&msg));
            let text = tcpdump(&raw, true);
            assert!(text.contains("deadbee"), "{text}");
            assert!(text.trim_end().ends_with(&format!("  {tail}")), "{text}");
            let p = parse_paste(&text).unwrap();
            assert_eq!(p.format, PasteFormat::TcpdumpX);
            assert_eq!(p.bytes, msg, "{text}");
        }
    }

    #[test]
    fn tcpdump_x_without_gutter_and_with_spaces_for_tabs() {
        let raw = ipv4(17, &udp(DNS));
        let text = tcpdump(&raw, false).replace('\t', "        ");
        let p = parse_paste(&text).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::TcpdumpX, DNS));
        assert_eq!(kinds(&p.layers), [LayerKind::Ipv4, LayerKind::Udp]);
    }

    #[test]
    fn tcpdump_xx_includes_the_link_layer() {
        let raw = eth(0x0800, &ipv4(17, &udp(DNS)));
        let p = parse_paste(&tcpdump(&raw, true)).unwrap();
        assert_eq!(
            kinds(&p.layers),
            [LayerKind::Ethernet, LayerKind::Ipv4, LayerKind::Udp]
        );
        assert_eq!(p.bytes, DNS);
        let text = include_str!("../../../tests/data/paste/sll-ipv4-udp.tcpdump-xx.txt");
        let p = parse_paste(text).unwrap();
        assert_eq!(
            kinds(&p.layers),
            [LayerKind::LinuxSll, LayerKind::Ipv4, LayerKind::Udp]
        );
        assert_eq!(p.bytes, DNS);
    }

    #[test]
    fn tcpdump_multi_line_verbose_summary_is_skipped() {
        let raw = ipv4(17, &udp(DNS));
        let text = format!(
            "12:00:00.000000 IP (tos 0x0, ttl 64, id 7238, offset 0, flags [DF], proto UDP (17), length 386)\n    \
             192.0.2.1.53 > 10.0.0.53.41234: 30973 20/0/0 api-push.vivo.com.cn. A 182.92.255.169 (358)\n{}",
            tcpdump(&raw, true)
        );
        assert_eq!(parse_paste(&text).unwrap().bytes, DNS);
    }

    // ---- xxd ------------------------------------------------------------------------------------

    #[test]
    fn xxd_real_output() {
        let text = include_str!("../../../tests/data/paste/dns.xxd.txt");
        assert!(
            text.starts_with("00000000: 78fd 8180 0001 0014 0000 0000 0861 7069  x............api")
        );
        let p = parse_paste(text).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::Xxd, DNS));
        let g1 = include_str!("../../../tests/data/paste/dns.xxd-g1.txt");
        assert_eq!(parse_paste(g1).unwrap().bytes, DNS);
    }

    #[test]
    fn xxd_gutter_with_spaces_and_hex_letters() {
        // A TXT record whose text has spaces (xxd prints them as spaces) and a short last line
        // whose gutter, "ab", is itself valid hex.
        let mut msg = query(0x2020, "x");
        msg.extend(b"  dead beef  cafe  ab");
        let text = xxd(&msg);
        assert!(text.trim_end().ends_with("  ab"), "{text}");
        let p = parse_paste(&text).unwrap();
        assert_eq!((p.format, p.bytes), (PasteFormat::Xxd, msg));
    }

    #[test]
    fn xxd_little_endian_groups() {
        let text = include_str!("../../../tests/data/paste/dns.xxd-e.txt");
        assert!(text.starts_with("00000000: 8081fd78"));
        assert_eq!(parse_paste(text).unwrap().bytes, DNS);
    }

    #[test]
    fn xxd_with_edited_bytes_keeps_the_gutter_column() {
        // Someone anonymised the ID; the gutter no longer spells the first line.
        let text = xxd(DNS).replacen("78fd 8180", "0000 8180", 1);
        let p = parse_paste(&text).unwrap();
        assert_eq!(&p.bytes[..2], [0, 0]);
        assert_eq!(&p.bytes[2..], &DNS[2..]);
        // And a last line whose edited gutter looks like hex is cut at the same column.
        let mut text = xxd(DNS);
        text = text.replace("..'i..\n", "beef\n");
        assert_eq!(parse_paste(&text).unwrap().bytes, DNS);
    }

    #[test]
    fn collapsed_blanks_still_find_the_gutter() {
        // Copied out of a rendered web page: every run of blanks became one space.
        let collapse = |t: &str| -> String {
            t.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
                .collect()
        };
        let tcpdump_text = include_str!("../../../tests/data/paste/ipv4-udp.tcpdump-X.txt");
        let p = parse_paste(&collapse(tcpdump_text)).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::TcpdumpX, DNS));
        let p = parse_paste(&collapse(&xxd(DNS))).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::Xxd, DNS));
        let wireshark = include_str!("../../../tests/data/paste/eth-ipv4-udp.wireshark-dump.txt");
        assert_eq!(parse_paste(&collapse(wireshark)).unwrap().bytes, DNS);
        // ... but a typo is still a typo.
        let typo = collapse(tcpdump_text).replacen("0x0180: faa9", "0x0180: fa9g", 1);
        assert_eq!(at(&typo).2, "expected a hex digit, found 'g'");
    }

    #[test]
    fn partial_dumps_are_refused() {
        let text = include_str!("../../../tests/data/paste/ipv4-udp.tcpdump-X.txt");
        let partial: String = text.lines().skip(2).map(|l| format!("{l}\n")).collect();
        assert_eq!(
            at(&partial),
            (1, 2, "expected the dump to start at offset 0x0000 (is its first line missing?), found 0x0010".to_string())
        );
        let text = include_str!("../../../tests/data/paste/eth-ipv4-udp.wireshark-dump.txt");
        let partial: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert_eq!(at(&partial).0, 1);
        let text = include_str!("../../../tests/data/paste/dns.od-Ax-tx1z.txt");
        let partial: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert_eq!(at(&partial).0, 1);
        // xxd -s starts where asked.
        let tail: String = xxd(DNS).lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse_paste(&tail).unwrap().bytes, &DNS[16..]);
    }

    #[test]
    fn xxd_autoskip_star_lines() {
        let text = include_str!("../../../tests/data/paste/null-record.xxd-a.txt");
        assert!(text.contains("\n*\n"));
        let p = parse_paste(text).unwrap();
        assert_eq!(p.bytes.len(), 122);
        assert!(p.bytes[42..].iter().all(|&b| b == 0));
    }

    // ---- od, hexdump ----------------------------------------------------------------------------

    #[test]
    fn od_x_words_are_unswapped() {
        let text = include_str!("../../../tests/data/paste/dns.od-x.txt");
        assert!(text.starts_with("0000000 fd78 8081"));
        let p = parse_paste(text).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::Od, DNS));
    }

    #[test]
    fn od_x_odd_length_uses_the_final_offset() {
        // printf 'abc' | od -x
        let p = parse_paste("0000000 6261 0063\n0000003\n").unwrap();
        assert_eq!(p.bytes, b"abc");
        // The same with a whole DNS message of odd length
        let mut msg = DNS.to_vec();
        msg.push(0xaa);
        let mut text = String::new();
        for (i, line) in msg.chunks(16).enumerate() {
            let words: Vec<String> = line
                .chunks(2)
                .map(|w| format!("{:02x}{:02x}", w.get(1).unwrap_or(&0), w[0]))
                .collect();
            text.push_str(&format!("{:07o} {}\n", i * 16, words.join(" ")));
        }
        text.push_str(&format!("{:07o}\n", msg.len()));
        assert_eq!(parse_paste(&text).unwrap().bytes, msg);
    }

    #[test]
    fn od_x_from_a_big_endian_host() {
        // Words as a big-endian od prints them: in memory order. Swapping would not be DNS.
        let text: String = DNS
            .chunks(16)
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "{:07o} {}\n",
                    i * 16,
                    l.chunks(2).map(hex).collect::<Vec<_>>().join(" ")
                )
            })
            .collect::<String>()
            + &format!("{:07o}\n", DNS.len());
        assert_eq!(parse_paste(&text).unwrap().bytes, DNS);
    }

    #[test]
    fn od_words_without_offsets() {
        // od -A n -x: little-endian words and no offset column
        let text: String = DNS
            .chunks(16)
            .map(|l| {
                let words: Vec<String> = l
                    .chunks(2)
                    .map(|w| format!("{:02x}{:02x}", w[1], w[0]))
                    .collect();
                format!(" {}\n", words.join(" "))
            })
            .collect();
        let p = parse_paste(&text).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::Od, DNS));
        // Words in memory order stay as they are.
        let text: String = DNS.chunks(2).map(|w| hex(w) + " ").collect();
        assert_eq!(parse_paste(&text).unwrap().format, PasteFormat::Hex);
    }

    #[test]
    fn od_bytes_with_gutter_and_other_radices() {
        for name in ["dns.od-Ax-tx1z.txt", "dns.od-tx1.txt", "dns.od-Ad-tx1.txt"] {
            let text = match name {
                "dns.od-Ax-tx1z.txt" => {
                    include_str!("../../../tests/data/paste/dns.od-Ax-tx1z.txt")
                }
                "dns.od-tx1.txt" => include_str!("../../../tests/data/paste/dns.od-tx1.txt"),
                _ => include_str!("../../../tests/data/paste/dns.od-Ad-tx1.txt"),
            };
            let p = parse_paste(text).unwrap();
            assert_eq!(
                (p.format, p.bytes.as_slice()),
                (PasteFormat::Od, DNS),
                "{name}"
            );
        }
    }

    #[test]
    fn od_star_lines_repeat() {
        let text = include_str!("../../../tests/data/paste/null-record.od-x.txt");
        assert!(text.contains("\n*\n"));
        let p = parse_paste(text).unwrap();
        assert_eq!((p.format, p.bytes.len()), (PasteFormat::Od, 122));
        assert_eq!(&p.bytes[..4], [0x12, 0x34, 0x81, 0x80]);
    }

    #[test]
    fn hexdump_canonical_and_default() {
        let p = parse_paste(include_str!("../../../tests/data/paste/dns.hexdump-C.txt")).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::HexDump, DNS));
        // hexdump without -C: 7-digit hex offsets, little-endian words
        let p = parse_paste(include_str!("../../../tests/data/paste/dns.hexdump.txt")).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::Od, DNS));
        let p = parse_paste(include_str!(
            "../../../tests/data/paste/null-record.hexdump-C.txt"
        ))
        .unwrap();
        assert_eq!(p.bytes.len(), 122);
    }

    // ---- Wireshark ------------------------------------------------------------------------------

    #[test]
    fn wireshark_hex_dump_and_tshark() {
        let text = include_str!("../../../tests/data/paste/eth-ipv4-udp.wireshark-dump.txt");
        assert!(text.starts_with("0000  02 00 00 5e"));
        let p = parse_paste(text).unwrap();
        assert_eq!(p.format, PasteFormat::HexDump);
        assert_eq!(
            kinds(&p.layers),
            [LayerKind::Ethernet, LayerKind::Ipv4, LayerKind::Udp]
        );
        assert_eq!(p.bytes, DNS);
        // tshark -x puts an extra blank after the eighth byte
        let text = include_str!("../../../tests/data/paste/eth-ipv6-tcp.tshark-x.txt");
        assert!(text.contains(" 02 00  00 c0 "));
        let p = parse_paste(text).unwrap();
        assert_eq!(p.bytes, DNS);
        assert_eq!(
            p.layers[2].summary,
            "TCP 53 -> 41234, flags PSH ACK, header 32 bytes"
        );
    }

    #[test]
    fn wireshark_hex_stream() {
        let raw = eth(0x0800, &ipv4(17, &udp(DNS)));
        let p = parse_paste(&hex(&raw)).unwrap();
        assert_eq!(
            (p.format, p.bytes.as_slice(), p.raw_len),
            (PasteFormat::HexStream, DNS, raw.len())
        );
    }

    // ---- base64 ---------------------------------------------------------------------------------

    #[test]
    fn base64_padded_and_wrapped() {
        let text = include_str!("../../../tests/data/paste/dns.base64.txt");
        assert!(text.lines().count() > 1 && text.trim_end().ends_with('='));
        let p = parse_paste(text).unwrap();
        assert_eq!((p.format, p.bytes.as_slice()), (PasteFormat::Base64, DNS));
    }

    #[test]
    fn base64url_unpadded() {
        let text = B64_URL.encode(DNS_BIG).trim_end_matches('=').to_string();
        assert!(text.contains('-') || text.contains('_'));
        assert_ne!(text.len() % 4, 0);
        let p = parse_paste(&text).unwrap();
        assert_eq!(
            (p.format, p.bytes.as_slice()),
            (PasteFormat::Base64Url, DNS_BIG)
        );
    }

    #[test]
    fn doh_urls() {
        let q = query(0, "www.example.com");
        let b64 = B64_URL.encode(&q).trim_end_matches('=').to_string();
        for text in [
            format!("https://dns.example/dns-query?dns={b64}"),
            format!("https://dns.example/dns-query?ct=application/dns-message&dns={b64}&x=1"),
            format!("curl -H 'accept: application/dns-message' 'https://dns.example/dns-query?dns={b64}'"),
            format!("GET /dns-query?dns={b64} HTTP/2\nHost: dns.example\naccept: application/dns-message"),
            format!("dns={b64}"),
        ] {
            let p = parse_paste(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((p.format, &p.bytes), (PasteFormat::Base64Url, &q), "{text}");
        }
        // Standard base64, percent-encoded into the URL
        let std = B64_STANDARD
            .encode(DNS)
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        assert!(std.ends_with("%3D%3D"));
        let p = parse_paste(&format!("https://h/dns-query?dns={std}")).unwrap();
        assert_eq!(p.bytes, DNS);
    }

    #[test]
    fn base64_that_is_also_hex_is_chosen_by_what_decodes_to_dns() {
        // "AAABAAABAAAAAAAA..." is valid hex too, but only the base64 reading is DNS.
        let q = root_query_id0();
        let text = B64_STANDARD.encode(&q);
        assert!(
            text.trim_end_matches('=')
                .bytes()
                .all(|b| b.is_ascii_hexdigit()),
            "{text}"
        );
        let p = parse_paste(&text).unwrap();
        assert_eq!((p.format, &p.bytes), (PasteFormat::Base64, &q));
        // While hex that happens to be base64 stays hex.
        let p = parse_paste(&hex(DNS)).unwrap();
        assert_eq!(p.format, PasteFormat::HexStream);
    }

    #[test]
    fn padded_base64_that_is_not_dns_is_still_base64() {
        let p = parse_paste("AAAAAAAAAAAAAAAAAAAAAA==").unwrap();
        assert_eq!((p.format, p.bytes), (PasteFormat::Base64, vec![0; 16]));
    }

    fn root_query_id0() -> Vec<u8> {
        vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]
    }

    // ---- errors ---------------------------------------------------------------------------------

    #[test]
    fn empty_pastes() {
        for text in [
            "",
            "   ",
            "\n\n\t\n",
            "# just a comment\n; and another\n",
            "```\n```",
        ] {
            let e = err(text);
            assert_eq!(
                (e.line, e.column, e.message.as_str()),
                (1, 1, "empty paste"),
                "{text:?}"
            );
        }
    }

    #[test]
    fn bad_hex_digit_is_pinpointed() {
        let text = "81 80 00 01 00 14 00 00\n00 00 08 61 70 69 2d 70\n75 73 68 04 76 6g 04 76\n";
        let e = err(text);
        assert_eq!(
            e.to_string(),
            "line 3, column 17: expected a hex digit, found 'g'"
        );
        // Columns count characters, not bytes; a tab is one column.
        assert_eq!(
            at("\t81 80 ü"),
            (1, 8, "expected a hex digit, found 'ü'".to_string())
        );
        assert_eq!(
            at("# comment\n8180\n\n00z1"),
            (4, 3, "expected a hex digit, found 'z'".to_string())
        );
    }

    #[test]
    fn odd_hex_groups() {
        let (line, col, msg) = at("81 8 00 01");
        assert_eq!((line, col), (1, 4));
        assert!(
            msg.starts_with("expected an even number of hex digits"),
            "{msg}"
        );
        let (line, col, msg) = at("81 80 0\n01 00 01");
        assert_eq!((line, col), (2, 1));
        assert_eq!(
            msg,
            "expected an even number of hex digits (two per byte): \"01\" and the digit carried \
             over from the line before make 3"
        );
        let (line, col, msg) = at("8180 0001\n0014 000");
        assert_eq!((line, col), (2, 6));
        assert!(msg.contains("ends half-way through a byte"), "{msg}");
        assert_eq!(
            at("0x81, 0x, 0x00"),
            (
                1,
                9,
                "expected a hex digit after \"0x\", found ','".to_string()
            )
        );
        let (line, col, _) = at("0x81, 0x123, 0x00");
        assert_eq!((line, col), (1, 9));
    }

    #[test]
    fn hex_with_a_typo_is_not_mistaken_for_base64() {
        // All base64 characters, but one letter out of 64 hex digits: a typo, not base64.
        let mut s = hex(&DNS[..32]);
        s.replace_range(40..41, "k");
        assert_eq!(
            at(&s),
            (1, 41, "expected a hex digit, found 'k'".to_string())
        );
    }

    #[test]
    fn tcpdump_errors() {
        let raw = ipv4(17, &udp(DNS));
        let good = tcpdump(&raw, true);
        // A typo in the data, on the third line: "\t0x0020:  " is 10 columns.
        let bad = good.replacen("\t0x0020:  0001", "\t0x0020:  0g01", 1);
        assert_ne!(bad, good);
        assert_eq!(
            at(&bad),
            (3, 12, "expected a hex digit, found 'g'".to_string())
        );
        // A second packet
        let two = format!(
            "{good}12:00:01.000000 IP 10.0.0.53.41234 > 192.0.2.1.53: 1+ A? x. (17)\n{good}"
        );
        let (line, col, msg) = at(&two);
        assert_eq!((line, col), (26, 1));
        assert!(
            msg.starts_with("expected a dump line starting with an offset like \"0x0010:\""),
            "{msg}"
        );
        // A line lost in the copy
        let lines: Vec<&str> = good.lines().collect();
        let missing = [&lines[..3], &lines[4..]].concat().join("\n");
        let (line, col, msg) = at(&missing);
        assert_eq!((line, col), (4, 2));
        assert_eq!(
            msg,
            "expected offset 0x0030, found 0x0040: line 3 holds 16 bytes"
        );
    }

    #[test]
    fn xxd_missing_group_is_reported_at_the_next_offset() {
        let text = xxd(DNS).replacen(" 0861 7069", " 0861", 1);
        let (line, col, msg) = at(&text);
        assert_eq!((line, col), (2, 1));
        assert_eq!(
            msg,
            "expected offset 0000000e, found 00000010: line 1 holds 14 bytes"
        );
    }

    #[test]
    fn od_errors() {
        let (line, col, msg) = at("0000000 6261 0063\n0000011\n");
        assert_eq!((line, col), (2, 1));
        assert!(
            msg.starts_with("expected the final offset 0000004"),
            "{msg}"
        );
        assert_eq!(at("0000000 6261 0063\n0000004\n0000004 1111\n").0, 2);
        let (line, _, msg) = at("0000000 6261 0063\n*\n");
        assert_eq!(line, 2);
        assert!(
            msg.starts_with("expected an offset line after \"*\""),
            "{msg}"
        );
        let (line, _, msg) = at("0000000 0000 0000\n*\n0000013 0000\n");
        assert_eq!(line, 3);
        assert!(msg.contains("plus a multiple of 4"), "{msg}");
    }

    #[test]
    fn preamble_lines_that_look_like_data_are_not_skipped() {
        let (line, col, msg) = at("8180 0001\n00000000: 8180 0001  ....\n");
        assert_eq!((line, col), (1, 1));
        assert!(msg.starts_with("expected a dump line"), "{msg}");
    }

    #[test]
    fn base64_errors() {
        let e = err("AAABAAAB\nAAAA!AAA");
        assert_eq!((e.line, e.column), (2, 5));
        // Not a base64 candidate either (the '!' is not base64), so the hex error wins.
        assert_eq!(e.message, "expected a hex digit, found '!'");
        let (line, col, msg) = at("q80BAAABAAAAAAAAA3d3dw-leGFtcGxl/2NvbQAAAQAB");
        assert_eq!((line, col), (1, 33));
        assert!(
            msg.starts_with("expected one base64 alphabet, found '/'"),
            "{msg}"
        );
        let (line, col, msg) = at("q80BAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABx");
        assert_eq!((line, col), (1, 46));
        assert!(
            msg.starts_with("expected another base64 character"),
            "{msg}"
        );
        let (line, col, msg) = at("q80BAAAB==AAAAAAA3d3dwdleGFtcGxl");
        assert_eq!((line, col), (1, 11));
        assert!(
            msg.starts_with("expected nothing after the '=' padding"),
            "{msg}"
        );
        let (line, col, msg) = at("https://dns.example/dns-query?dns=&ct=x");
        assert_eq!((line, col), (1, 35));
        assert_eq!(
            msg,
            "expected a base64url DNS message after \"dns=\", found '&'"
        );
        let (line, col, msg) = at("https://dns.example/dns-query?dns=AAAB%2");
        assert_eq!((line, col), (1, 39));
        assert_eq!(msg, "expected two hex digits after '%' in the URL");
    }

    #[test]
    fn error_display_and_serialization() {
        let e = PasteError::new(3, 17, "expected a hex digit, found 'g'");
        assert_eq!(
            e.to_string(),
            "line 3, column 17: expected a hex digit, found 'g'"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
        assert_eq!(boxed.to_string(), e.to_string());
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"line":3,"column":17,"message":"expected a hex digit, found 'g'"}"#
        );
    }

    // ---- header stripping -----------------------------------------------------------------------

    #[test]
    fn plain_dns_is_left_alone() {
        assert_eq!(strip_layers(DNS), (0, vec![]));
        assert_eq!(locate_dns(DNS_BIG).0, 0..DNS_BIG.len());
        // A message whose ID starts with 0x45 is not an IPv4 header.
        let mut msg = DNS.to_vec();
        msg[0] = 0x45;
        assert_eq!(strip_layers(&msg), (0, vec![]));
        assert_eq!(strip_layers(&[]), (0, vec![]));
    }

    #[test]
    fn ipv4_udp_and_tcp() {
        let raw = ipv4(17, &udp(DNS_BIG));
        let (start, layers) = strip_layers(&raw);
        assert_eq!(start, 28);
        assert_eq!(layers[1].summary, "UDP 53 -> 41234, length 766");
        let raw = ipv4(6, &tcp(0x18, &prefixed(DNS_BIG)));
        let p = from_binary(&raw);
        assert_eq!(
            kinds(&p.layers),
            [LayerKind::Ipv4, LayerKind::Tcp, LayerKind::TcpLengthPrefix]
        );
        assert_eq!(p.layers[0].summary, "IPv4 192.0.2.1 -> 10.0.0.53, TCP");
        assert_eq!(p.layers[2].summary, "TCP length prefix 758");
        assert_eq!(p.layers[2].offset, 40);
        assert_eq!(p.bytes, DNS_BIG);
    }

    #[test]
    fn ipv4_options_are_honoured() {
        let raw = ipv4_with(17, 0x4000, &[0x94, 0x04, 0, 0, 1, 1, 1, 0], None, &udp(DNS));
        let (start, layers) = strip_layers(&raw);
        assert_eq!((start, layers[0].len), (36, 28));
        assert!(
            layers[0].summary.ends_with("8 bytes of options"),
            "{}",
            layers[0].summary
        );
    }

    #[test]
    fn ipv6_with_extension_headers() {
        let p = from_binary(&ipv6(17, &udp(DNS)));
        assert_eq!(
            p.layers[0].summary,
            "IPv6 2001:db8::1 -> 2001:db8:0:1::53, UDP"
        );
        assert_eq!(p.bytes, DNS);
        // hop-by-hop (8), destination options (16), then UDP
        let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
        ext.extend([17, 1, 1, 12]);
        ext.extend([0; 12]);
        ext.extend(udp(DNS));
        let p = from_binary(&ipv6(0, &ext));
        assert_eq!(p.layers[0].len, 40 + 8 + 16);
        assert!(p.layers[0]
            .summary
            .contains("extension headers: hop-by-hop options, destination options"));
        assert_eq!(p.bytes, DNS);
        // TCP over IPv6 behind a routing header
        let mut ext = vec![6, 0, 0, 0, 0, 0, 0, 0];
        ext.extend(tcp(0x18, &prefixed(DNS)));
        let p = from_binary(&ipv6(43, &ext));
        assert_eq!(
            kinds(&p.layers),
            [LayerKind::Ipv6, LayerKind::Tcp, LayerKind::TcpLengthPrefix]
        );
        assert_eq!(p.bytes, DNS);
    }

    #[test]
    fn link_layers() {
        let ip4 = ipv4(17, &udp(DNS));
        let ip6 = ipv6(17, &udp(DNS));
        let cases: Vec<(Vec<u8>, Vec<LayerKind>)> = vec![
            (
                eth(0x0800, &ip4),
                vec![LayerKind::Ethernet, LayerKind::Ipv4, LayerKind::Udp],
            ),
            (
                eth(0x86dd, &ip6),
                vec![LayerKind::Ethernet, LayerKind::Ipv6, LayerKind::Udp],
            ),
            (
                eth(0x8100, &vlan(0x6064, 0x0800, &ip4)),
                vec![
                    LayerKind::Ethernet,
                    LayerKind::Vlan,
                    LayerKind::Ipv4,
                    LayerKind::Udp,
                ],
            ),
            (
                eth(0x88a8, &vlan(10, 0x8100, &vlan(20, 0x86dd, &ip6))),
                vec![
                    LayerKind::Ethernet,
                    LayerKind::Vlan,
                    LayerKind::Vlan,
                    LayerKind::Ipv6,
                    LayerKind::Udp,
                ],
            ),
            (
                [
                    &[0, 4, 0, 1, 0, 6, 2, 0, 0, 0xc0, 2, 1, 0, 0, 0x08, 0x00][..],
                    &ip4,
                ]
                .concat(),
                vec![LayerKind::LinuxSll, LayerKind::Ipv4, LayerKind::Udp],
            ),
            (
                [
                    &[
                        0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0xc0, 2, 1, 0, 0,
                    ][..],
                    &ip6,
                ]
                .concat(),
                vec![LayerKind::LinuxSll, LayerKind::Ipv6, LayerKind::Udp],
            ),
            (
                [&[2, 0, 0, 0][..], &ip4].concat(),
                vec![LayerKind::Loopback, LayerKind::Ipv4, LayerKind::Udp],
            ),
            (
                [&[0, 0, 0, 30][..], &ip6].concat(),
                vec![LayerKind::Loopback, LayerKind::Ipv6, LayerKind::Udp],
            ),
        ];
        for (raw, want) in cases {
            let p = from_binary(&raw);
            assert_eq!(kinds(&p.layers), want, "{:#?}", p.layers);
            assert_eq!(p.bytes, DNS);
        }
        let p = from_binary(&eth(0x8100, &vlan(0x6064, 0x0800, &ip4)));
        assert_eq!(p.layers[1].summary, "802.1Q VLAN 100, priority 3, IPv4");
        let p = from_binary(
            &[
                &[0, 4, 0, 1, 0, 6, 2, 0, 0, 0xc0, 2, 1, 0, 0, 0x08, 0x00][..],
                &ip4,
            ]
            .concat(),
        );
        assert_eq!(
            p.layers[0].summary,
            "Linux cooked capture, sent by us, link type 1, address 02:00:00:c0:02:01, IPv4"
        );
    }

    #[test]
    fn ethertype_and_ip_version_must_agree() {
        let raw = eth(0x86dd, &ipv4(17, &udp(DNS)));
        assert_eq!(strip_layers(&raw), (0, vec![]));
    }

    #[test]
    fn ethernet_padding_and_fcs_become_a_trailer() {
        let q = root_query();
        let mut raw = eth(0x0800, &ipv4(17, &udp(&q)));
        raw.resize(60, 0);
        raw.extend([0xde, 0xad, 0xbe, 0xef]);
        let (dns, layers) = locate_dns(&raw);
        assert_eq!(dns, 42..59);
        let trailer = layers.last().unwrap();
        assert_eq!(
            (trailer.kind, trailer.offset, trailer.len),
            (LayerKind::Trailer, 59, 5)
        );
        assert_eq!(
            trailer.summary,
            "5 bytes after the IPv4 packet (Ethernet padding or trailer)"
        );
        assert_eq!(from_binary(&raw).bytes, q);
        // tcpdump -x without -e prints the padding after the IP packet too
        let mut raw = ipv4(17, &udp(&q));
        raw.resize(46, 0);
        assert_eq!(from_binary(&raw).bytes, q);
    }

    #[test]
    fn fragments_and_disagreeing_lengths_are_reported() {
        // First fragment: the UDP length covers the whole datagram.
        let raw = ipv4_with(17, 0x2000, &[], None, &udp_with(8 + 758, &DNS_BIG[..400]));
        let p = from_binary(&raw);
        assert!(
            p.layers[0].summary.contains("first fragment, more follow"),
            "{}",
            p.layers[0].summary
        );
        assert_eq!(
            p.layers[1].summary,
            "UDP 53 -> 41234, length 766, but only 408 bytes present (fragmented or truncated)"
        );
        assert_eq!(p.bytes, &DNS_BIG[..400]);
        // A later fragment: no UDP header at all.
        let raw = ipv4_with(17, 408 / 8, &[], None, &DNS_BIG[400..]);
        let p = from_binary(&raw);
        assert_eq!(kinds(&p.layers), [LayerKind::Ipv4]);
        assert!(
            p.layers[0]
                .summary
                .contains("fragment at offset 408, the last one: no UDP header here"),
            "{}",
            p.layers[0].summary
        );
        assert_eq!(p.bytes, &DNS_BIG[400..]);
        // IPv6 fragment header
        let mut ext = vec![17, 0, 0, 1, 0, 0, 0, 7];
        ext.extend(udp_with(8 + 758, &DNS_BIG[..400]));
        let p = from_binary(&ipv6(44, &ext));
        assert!(
            p.layers[0]
                .summary
                .contains("extension headers: fragment, first fragment, more follow"),
            "{}",
            p.layers[0].summary
        );
        assert_eq!(p.bytes, &DNS_BIG[..400]);
        // UDP length shorter than the datagram: the rest is a trailer
        let mut payload = DNS.to_vec();
        payload.extend([0; 6]);
        let p = from_binary(&ipv4(17, &udp_with(8 + DNS.len() as u16, &payload)));
        assert_eq!(p.bytes, DNS);
        assert_eq!(
            p.layers[1].summary,
            "UDP 53 -> 41234, length 366, but 372 bytes follow the IP header"
        );
        assert_eq!(p.layers[2].summary, "6 bytes after the UDP length");
    }

    #[test]
    fn truncated_capture_behind_a_link_layer() {
        let full = eth(0x0800, &ipv4(17, &udp(DNS)));
        let p = from_binary(&full[..300]);
        assert!(
            p.layers[1]
                .summary
                .contains("total length 386 but only 286 bytes captured"),
            "{}",
            p.layers[1].summary
        );
        assert_eq!(p.bytes, &DNS[..258]);
        // Without a link layer a short IPv4 packet is not taken for one.
        let ip = ipv4(17, &udp(DNS));
        assert_eq!(strip_layers(&ip[..300]), (0, vec![]));
    }

    #[test]
    fn bad_ipv4_checksum_is_noted() {
        let mut raw = ipv4(17, &udp(DNS));
        raw[10] ^= 0xff;
        let p = from_binary(&raw);
        assert!(
            p.layers[0].summary.ends_with("does not verify"),
            "{}",
            p.layers[0].summary
        );
        assert_eq!(p.bytes, DNS);
    }

    #[test]
    fn not_udp_or_tcp_is_not_stripped() {
        let icmp = ipv4(1, &[3, 3, 0, 0, 0, 0, 0, 0]);
        assert_eq!(strip_layers(&icmp), (0, vec![]));
        assert_eq!(strip_layers(&eth(0x0800, &icmp)), (0, vec![]));
    }

    #[test]
    fn tcp_segments() {
        // No payload (a bare ACK)
        let p = from_binary(&ipv4(6, &tcp(0x10, &[])));
        assert_eq!(
            p.layers[1].summary,
            "TCP 53 -> 41234, flags ACK, header 20 bytes, no payload"
        );
        assert!(p.bytes.is_empty());
        // A message split across segments
        let p = from_binary(&ipv4(6, &tcp(0x18, &prefixed(DNS_BIG)[..500])));
        assert_eq!(
            p.layers[2].summary,
            "TCP length prefix 758, message continues in a later segment (498 of 758 bytes here)"
        );
        assert_eq!(p.bytes, &DNS_BIG[..498]);
        // Two messages in one segment
        let two = [prefixed(DNS), prefixed(DNS_BIG)].concat();
        let (dns, layers) = locate_dns(&ipv4(6, &tcp(0x18, &two)));
        assert_eq!(dns, 42..42 + DNS.len());
        assert_eq!(
            layers[3].summary,
            "760 bytes after the first DNS message in the segment (another message?)"
        );
    }

    #[test]
    fn bare_length_prefix() {
        let p = from_binary(&prefixed(DNS_BIG));
        assert_eq!(kinds(&p.layers), [LayerKind::TcpLengthPrefix]);
        assert_eq!(p.bytes, DNS_BIG);
        // A prefix that does not match is not one.
        let mut raw = prefixed(DNS);
        raw[1] ^= 1;
        assert_eq!(strip_layers(&raw), (0, vec![]));
        // A message whose ID happens to equal its length minus two stays whole.
        let mut msg = query(0, "example.com");
        let id = (msg.len() - 2) as u16;
        msg[..2].copy_from_slice(&id.to_be_bytes());
        assert_eq!(strip_layers(&msg), (0, vec![]));
    }

    #[test]
    fn bare_udp_header() {
        let p = from_binary(&udp(DNS));
        assert_eq!(kinds(&p.layers), [LayerKind::Udp]);
        assert_eq!(p.bytes, DNS);
    }

    #[test]
    fn layers_from_text_match_layers_from_wire() {
        let raw = eth(
            0x8100,
            &vlan(7, 0x86dd, &ipv6(6, &tcp(0x18, &prefixed(DNS)))),
        );
        let text = parse_paste(&tcpdump(&raw, true)).unwrap();
        let wire = from_binary(&raw);
        assert_eq!(text.layers, wire.layers);
        assert_eq!(text.bytes, wire.bytes);
        assert_eq!(wire.format, PasteFormat::Binary);
    }

    #[test]
    fn dns_shape_check() {
        assert!(looks_like_dns(DNS) && looks_like_dns(DNS_BIG) && looks_like_dns(&root_query()));
        assert!(!looks_like_dns(&DNS[..DNS.len() - 1]));
        assert!(!looks_like_dns(&[0; 11]));
        // A compression pointer forward is not DNS.
        let mut q = query(1, "a");
        q.truncate(12);
        q.extend([0xc0, 0x20, 0, 1, 0, 1]);
        assert!(!looks_like_dns(&q));
    }

    // ---- robustness -----------------------------------------------------------------------------

    fn check_invariants(raw: &[u8]) {
        let (dns, layers) = locate_dns(raw);
        assert!(
            dns.start <= dns.end && dns.end <= raw.len(),
            "{dns:?} in {}",
            raw.len()
        );
        for l in &layers {
            assert!(l.offset + l.len <= raw.len(), "{l:?}");
        }
        let p = from_binary(raw);
        assert_eq!(p.raw_len, raw.len());
    }

    /// Dump-shaped noise: offsets, hex digits, gutters, stars, blanks.
    fn dumpish() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex("([0-9a-fA-Fx:*.|<>=+/_ \t-]{0,12}\n?){0,40}").unwrap()
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_handled(text in proptest::prelude::any::<String>()) {
            let _ = parse_paste(&text);
        }

        #[test]
        fn dump_shaped_strings_are_handled(text in dumpish()) {
            if let Ok(p) = parse_paste(&text) {
                proptest::prop_assert!(p.bytes.len() <= p.raw_len);
            }
        }

        #[test]
        fn mutated_dumps_are_handled(pos in 0usize..4000, cut in 0usize..8, insert in "[0-9a-fg :.*\n\t]{0,4}", which in 0usize..6) {
            let base = match which {
                0 => include_str!("../../../tests/data/paste/ipv4-udp.tcpdump-X.txt"),
                1 => include_str!("../../../tests/data/paste/dns.xxd.txt"),
                2 => include_str!("../../../tests/data/paste/dns.od-x.txt"),
                3 => include_str!("../../../tests/data/paste/eth-ipv6-tcp.tshark-x.txt"),
                4 => include_str!("../../../tests/data/paste/dns.base64.txt"),
                _ => include_str!("../../../tests/data/paste/null-record.hexdump-C.txt"),
            };
            let pos = pos.min(base.len());
            let end = (pos + cut).min(base.len());
            let text = format!("{}{insert}{}", &base[..pos], &base[end..]);
            let _ = parse_paste(&text);
        }

        #[test]
        fn any_bytes_are_handled(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            check_invariants(&raw);
        }

        #[test]
        fn mutated_packets_are_handled(pos in 0usize..500, byte in proptest::prelude::any::<u8>(), len in 0usize..500, which in 0usize..4) {
            let mut raw = match which {
                0 => eth(0x0800, &ipv4(17, &udp(DNS))),
                1 => eth(0x8100, &vlan(1, 0x86dd, &ipv6(0, &[&[6, 0, 1, 4, 0, 0, 0, 0][..], &tcp(0x18, &prefixed(DNS))].concat()))),
                2 => [&[0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0][..], &ipv4(6, &tcp(0x18, &prefixed(DNS)))].concat(),
                _ => prefixed(DNS),
            };
            if let Some(b) = raw.get_mut(pos) {
                *b = byte;
            }
            raw.truncate(len.max(pos));
            check_invariants(&raw);
        }
    }
}
