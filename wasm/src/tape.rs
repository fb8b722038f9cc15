//! The fast path for messages across the boundary: a *tape* of `u32`s plus one string holding
//! every text value, instead of JSON text or objects built one property at a time.
//!
//! Why: on the 758-byte incident answer, `serde_json::to_string` + `JSON.parse` costs several
//! times the decode itself (names go through `collect_str` one character at a time, then the
//! parser reads it all back), and serde-wasm-bindgen's object building is slower still. A tape
//! costs one copy each way; the JS side (`wasm/js/api.mjs`, `readMessage`/`writeMessage`) builds
//! or walks the objects with literals of a fixed shape. bench/npm.mjs measures all three paths.
//!
//! Decoding writes the tape of a common message straight from the wire ([`write_wire`]), without
//! building a core `Message`; anything else, and every error, goes through the core's decode and
//! [`write_into`]. Both give the same tape (tests below).
//!
//! Only the common layouts ride the tape (A, AAAA, NS/CNAME/PTR/DNAME, MX, SOA, TXT): every other
//! RDATA, and EDNS options, travel as the core's own serde JSON inside the tape, so the object
//! shapes are the core's by construction. The tests compare the tape with the serde path for
//! every record type.
//!
//! Layout (every entry one `u32`):
//! ```text
//! header   id qr opcode aa tc rd ra z ad cd rcode
//! counts   questions answers authority additional has_edns
//! question S(name) type class
//! record   S(name) type class ttl kind payload...
//!            KIND_A     address (big-endian u32; from JS: S(address), parsed here)
//!            KIND_AAAA  S(address)
//!            KIND_NAME  S(target)
//!            KIND_MX    preference S(exchange)
//!            KIND_SOA   S(mname) S(rname) serial refresh retry expire minimum
//!            KIND_TXT   n S(string)*n              (escaped character-strings)
//!            KIND_JSON  S(the RData as serde JSON)
//! edns     udp_size ext_rcode version dnssec_ok z has_options [S(options as serde JSON)]
//! ```
//! `S(...)` is a string: a value `v < BACKREF` means "the next `v` UTF-16 code units of the
//! text are a new string", `BACKREF | i` means "string number `i` again" (names repeat: that is
//! what compression is for, and the JS side then shares one string).

use core::fmt::Write as _;

use dnspect_core::wire::name::write_label;
use dnspect_core::wire::{text, Edns, Header, Message, Name, Opcode, Question, RData, Record};
use dnspect_core::wire::{Class, RType};

pub const BACKREF: u32 = 0x8000_0000;
pub const KIND_JSON: u32 = 0;
pub const KIND_A: u32 = 1;
pub const KIND_AAAA: u32 = 2;
pub const KIND_NAME: u32 = 3;
pub const KIND_MX: u32 = 4;
pub const KIND_SOA: u32 = 5;
pub const KIND_TXT: u32 = 6;
/// Entries of the header and counts, before the first question.
pub const HEAD: u32 = 16;

/// The descriptor of the buffers the glue shares with the wasm (`lib.rs`, `Io::desc`): which of
/// its `u32`s holds what. Addresses are byte offsets into the wasm memory.
pub const DESC_INPUT: usize = 0;
pub const DESC_INPUT_CAP: usize = 1;
/// The decode tape: numbers (address, count) and text (address, bytes).
pub const DESC_NUMS: usize = 2;
pub const DESC_NUMS_LEN: usize = 3;
pub const DESC_TEXT: usize = 4;
pub const DESC_TEXT_LEN: usize = 5;
/// The encode tape the glue writes: numbers (address, capacity) and text (address, bytes).
pub const DESC_NUMS_IN: usize = 6;
pub const DESC_NUMS_IN_CAP: usize = 7;
pub const DESC_TEXT_IN: usize = 8;
pub const DESC_TEXT_IN_CAP: usize = 9;
/// The address of the last message `encodeIo` wrote.
pub const DESC_OUT: usize = 10;
pub const DESC_LEN: usize = 11;

// ---- message -> tape ------------------------------------------------------------------------

/// The tape of a decoded message.
#[derive(Debug, Default)]
pub struct Tape {
    pub nums: Vec<u32>,
    /// UTF-8 text of every new string, back to back.
    pub text: Text,
}

/// The tape's text as bytes: labels are copied in without a UTF-8 check per label, and the
/// core's `Display` and escape writers still write into it through `fmt::Write`.
#[derive(Debug, Default)]
pub struct Text(pub Vec<u8>);

impl core::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

struct Writer<'a> {
    tape: Tape,
    strings: u32,
    /// Names written so far (their wire form) and their string numbers, for back-references.
    names: Vec<(&'a [u8], u32)>,
}

impl<'a> Writer<'a> {
    #[inline(always)]
    fn push(&mut self, v: u32) {
        self.tape.nums.push(v);
    }

    #[inline(always)]
    fn push_bool(&mut self, b: bool) {
        self.tape.nums.push(u32::from(b));
    }

    /// Appends a new string that the caller has just written to the text from `start`.
    #[inline(always)]
    fn finish_string(&mut self, start: usize) {
        let s = &self.tape.text.0[start..];
        let units = if s.is_ascii() {
            s.len()
        } else {
            // Only `fmt::Write` puts non-ASCII here, so this is valid UTF-8.
            core::str::from_utf8(s).map_or(s.len(), |s| s.encode_utf16().count())
        };
        self.tape.nums.push(units as u32);
        self.strings += 1;
    }

    fn string(&mut self, s: &str) {
        let start = self.tape.text.0.len();
        self.tape.text.0.extend_from_slice(s.as_bytes());
        self.finish_string(start);
    }

    fn name(&mut self, n: &'a Name) {
        let wire = n.as_wire();
        // Most repeats are the previous owner or the question: newest first.
        for &(seen, i) in self.names.iter().rev() {
            if seen == wire {
                self.push(BACKREF | i);
                return;
            }
        }
        let start = self.tape.text.0.len();
        write_name(&mut self.tape.text, wire);
        self.names.push((wire, self.strings));
        self.finish_string(start);
    }

    fn json<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> serde_json::Result<()> {
        let json = serde_json::to_string(v)?;
        self.string(&json);
        Ok(())
    }

    fn record(&mut self, r: &'a Record) -> serde_json::Result<()> {
        self.name(&r.name);
        self.push(u32::from(r.rtype.0));
        self.push(u32::from(r.class.0));
        self.push(r.ttl);
        match &r.rdata {
            RData::A { address } => {
                self.push(KIND_A);
                self.push(u32::from(*address));
            }
            RData::Aaaa { address } => {
                self.push(KIND_AAAA);
                let start = self.tape.text.0.len();
                let _ = write!(self.tape.text, "{address}");
                self.finish_string(start);
            }
            RData::Name { target } => {
                self.push(KIND_NAME);
                self.name(target);
            }
            RData::Mx {
                preference,
                exchange,
            } => {
                self.push(KIND_MX);
                self.push(u32::from(*preference));
                self.name(exchange);
            }
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                self.push(KIND_SOA);
                self.name(mname);
                self.name(rname);
                for v in [serial, refresh, retry, expire, minimum] {
                    self.push(*v);
                }
            }
            RData::Txt { strings } => {
                self.push(KIND_TXT);
                self.push(strings.len() as u32);
                for s in strings {
                    let start = self.tape.text.0.len();
                    let _ = text::write_escaped(&mut self.tape.text, s);
                    self.finish_string(start);
                }
            }
            other => {
                self.push(KIND_JSON);
                self.json(other)?;
            }
        }
        Ok(())
    }
}

/// A name, given in uncompressed wire form (`Name::as_wire`), in presentation form exactly as
/// its `Display` writes it: plain labels (letters, digits, `-`, `_`) are copied as they are, any
/// other goes through the core's `write_label` for its escapes.
fn write_name(out: &mut Text, wire: &[u8]) {
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        let len = usize::from(len);
        if len == 0 {
            break;
        }
        let Some(label) = wire.get(at + 1..at + 1 + len) else {
            break;
        };
        if label
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            out.0.extend_from_slice(label);
        } else {
            let _ = write_label(out, label);
        }
        out.0.push(b'.');
        at += 1 + len;
    }
    if at == 0 {
        out.0.push(b'.');
    }
}

/// Writes `m` to `tape`, reusing its buffers (cleared first).
pub fn write_into(m: &Message, tape: &mut Tape) -> serde_json::Result<()> {
    let mut w = Writer {
        tape: core::mem::take(tape),
        strings: 0,
        names: Vec::new(),
    };
    w.tape.nums.clear();
    w.tape.text.0.clear();
    let r = write_message(m, &mut w);
    *tape = w.tape;
    r
}

fn write_message<'a>(m: &'a Message, w: &mut Writer<'a>) -> serde_json::Result<()> {
    let h = &m.header;
    w.push(u32::from(h.id));
    w.push_bool(h.qr);
    w.push(u32::from(h.opcode.0));
    for b in [h.aa, h.tc, h.rd, h.ra, h.z, h.ad, h.cd] {
        w.push_bool(b);
    }
    w.push(u32::from(h.rcode));
    for n in [
        m.questions.len(),
        m.answers.len(),
        m.authority.len(),
        m.additional.len(),
    ] {
        w.push(n as u32);
    }
    w.push_bool(m.edns.is_some());
    for q in &m.questions {
        w.name(&q.name);
        w.push(u32::from(q.qtype.0));
        w.push(u32::from(q.class.0));
    }
    for r in m.answers.iter().chain(&m.authority).chain(&m.additional) {
        w.record(r)?;
    }
    if let Some(e) = &m.edns {
        w.push(u32::from(e.udp_size));
        w.push(u32::from(e.ext_rcode));
        w.push(u32::from(e.version));
        w.push_bool(e.dnssec_ok);
        w.push(u32::from(e.z));
        w.push_bool(!e.options.is_empty());
        if !e.options.is_empty() {
            w.json(&e.options)?;
        }
    }
    Ok(())
}

// ---- wire -> tape, directly ---------------------------------------------------------------------

/// Tables [`write_wire`] keeps between calls, so that it allocates nothing once warm.
#[derive(Debug, Default)]
pub struct WireScratch {
    /// The uncompressed wire form of every name written as a new string, back to back.
    wire: Vec<u8>,
    /// Per new name: its range in `wire` and its string number.
    names: Vec<(u32, u32, u32)>,
    /// Names that begin in place at a message offset: (offset, string number), for compression
    /// pointers straight to them.
    at: Vec<(u32, u32)>,
    /// The last name read entirely in place: its byte range in the message, its string number.
    last_in_place: Option<(u32, u32, u32)>,
}

/// Writes the tape of the message in `bytes` straight from the wire, without building a
/// [`Message`]: the same tape as `Message::from_wire` then [`write_into`], for the common
/// messages only. Returns `false` (the tape then holds garbage) for anything else: an error of any
/// kind, a label that is not plain letters, digits, `-` or `_`, record types other than A, AAAA,
/// NS, CNAME, PTR, DNAME, MX and SOA, EDNS options, unusual classes or TTLs, trailing bytes. The caller
/// then takes that path, which reports errors exactly. It accepts only what the core's own fast
/// path (`decode_fast` in core/src/wire/message.rs) accepts, and the tests compare the two tapes
/// on every message of the test data and on thousands of mutations of them.
pub fn write_wire(bytes: &[u8], tape: &mut Tape, scratch: &mut WireScratch) -> bool {
    tape.nums.clear();
    tape.text.0.clear();
    scratch.wire.clear();
    scratch.names.clear();
    scratch.at.clear();
    scratch.last_in_place = None;
    let mut w = WireWriter {
        msg: bytes,
        nums: &mut tape.nums,
        text: &mut tape.text.0,
        strings: 0,
        s: scratch,
    };
    w.message().is_some()
}

struct WireWriter<'a, 'w> {
    msg: &'a [u8],
    nums: &'w mut Vec<u32>,
    text: &'w mut Vec<u8>,
    strings: u32,
    s: &'w mut WireScratch,
}

/// Bytes a label may hold for the direct path: what [`write_name`] copies without escapes.
#[inline(always)]
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

impl WireWriter<'_, '_> {
    /// The name at `start`: pushes its string (new, or a back-reference) and returns the offset
    /// just after its in-place part. `None` for an invalid name and for one with a label that is
    /// not plain. The rules are the core's (`walk_name`): labels of 1 to 63 bytes, pointers that
    /// point below the start of the segment they end, at most 255 bytes expanded.
    fn name(&mut self, start: usize) -> Option<usize> {
        let msg = self.msg;
        let first = *msg.get(start)?;
        // A bare pointer to a name that began in place there: that name again.
        if first >= 0xc0 {
            let target = usize::from(first & 0x3f) << 8 | usize::from(*msg.get(start + 1)?);
            if let Some(&(_, i)) = self.s.at.iter().rev().find(|&&(o, _)| o as usize == target) {
                // Read (and so validated) from `target` before, and `target < start`.
                self.nums.push(BACKREF | i);
                return Some(start + 2);
            }
        }
        // The same bytes as the last name read entirely in place (the owners of an uncompressed
        // RRset): that name again, valid wherever it lies.
        if let Some((a, b, i)) = self.s.last_in_place {
            let (a, b) = (a as usize, b as usize);
            let n = b - a;
            if msg.get(start..start + n) == Some(&msg[a..b]) {
                self.nums.push(BACKREF | i);
                self.s.at.push((start as u32, i));
                return Some(start + n);
            }
        }
        let wire_start = self.s.wire.len();
        let mut pos = start;
        let mut segment = start;
        let mut end = None;
        loop {
            let b = *msg.get(pos)?;
            match b {
                0 => {
                    // At most 254 bytes before it (checked below): at most 255 with it.
                    self.s.wire.push(0);
                    break;
                }
                1..=0x3f => {
                    let label = msg.get(pos..pos + 1 + usize::from(b))?;
                    if !label[1..].iter().all(|&c| plain(c)) {
                        return None;
                    }
                    self.s.wire.extend_from_slice(label);
                    // No room left for the root label.
                    if self.s.wire.len() - wire_start >= MAX_NAME {
                        return None;
                    }
                    pos += label.len();
                }
                0xc0.. => {
                    let target = usize::from(b & 0x3f) << 8 | usize::from(*msg.get(pos + 1)?);
                    if target >= segment {
                        return None;
                    }
                    end.get_or_insert(pos + 2);
                    segment = target;
                    pos = target;
                }
                _ => return None,
            }
        }
        let in_place = end.is_none();
        let end = end.unwrap_or(pos + 1);
        let wire = &self.s.wire[wire_start..];
        // A name seen before (the same wire bytes, as `Writer::name` compares them).
        for &(a, b, i) in self.s.names.iter().rev() {
            if &self.s.wire[a as usize..b as usize] == wire {
                self.s.wire.truncate(wire_start);
                self.nums.push(BACKREF | i);
                self.placed(start, end, i, first, in_place);
                return Some(end);
            }
        }
        let i = self.strings;
        self.strings += 1;
        let text_start = self.text.len();
        let mut at = 0;
        while wire[at] != 0 {
            let len = usize::from(wire[at]);
            self.text.extend_from_slice(&wire[at + 1..at + 1 + len]);
            self.text.push(b'.');
            at += 1 + len;
        }
        if at == 0 {
            self.text.push(b'.');
        }
        self.nums.push((self.text.len() - text_start) as u32);
        self.s
            .names
            .push((wire_start as u32, self.s.wire.len() as u32, i));
        self.placed(start, end, i, first, in_place);
        Some(end)
    }

    /// Remembers where a name read from `start` to `end` (string `i`) lies, for the shortcuts.
    #[inline(always)]
    fn placed(&mut self, start: usize, end: usize, i: u32, first: u8, in_place: bool) {
        if first < 0xc0 {
            self.s.at.push((start as u32, i));
            if in_place {
                self.s.last_in_place = Some((start as u32, end as u32, i));
            }
        }
    }

    fn message(&mut self) -> Option<()> {
        let msg = self.msg;
        let h = msg.first_chunk::<12>()?;
        let word = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
        push_header(self.nums, &Header::from_flags(word(0), word(2)));
        let (qd, an, ns, ar) = (word(4), word(6), word(8), word(10));
        // The counts, and has_edns: the additional count and has_edns are set at the end.
        self.nums
            .extend([u32::from(qd), u32::from(an), u32::from(ns), 0, 0]);
        let mut pos = 12;
        for _ in 0..qd {
            pos = self.name(pos)?;
            let f = msg.get(pos..pos + 4)?;
            self.nums.push(u32::from(u16::from_be_bytes([f[0], f[1]])));
            self.nums.push(u32::from(u16::from_be_bytes([f[2], f[3]])));
            pos += 4;
        }
        let mut additional = 0u32;
        let mut edns: Option<[u32; 6]> = None;
        for (section, count) in [an, ns, ar].into_iter().enumerate() {
            for _ in 0..count {
                let start = pos;
                // OPT, owned by the root: its owner is not on the tape, so it is not read as a
                // string. Any other owner of an OPT record takes the other path.
                let opt = msg.get(start) == Some(&0)
                    && msg.get(start + 1..start + 3) == Some(&RType::OPT.0.to_be_bytes()[..]);
                let name_end = if opt { start + 1 } else { self.name(start)? };
                let f = msg.get(name_end..name_end + 10)?;
                let rtype = RType(u16::from_be_bytes([f[0], f[1]]));
                let class = u16::from_be_bytes([f[2], f[3]]);
                let ttl = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
                let rdlen = usize::from(u16::from_be_bytes([f[8], f[9]]));
                let rdata = name_end + 10;
                let end = rdata + rdlen;
                if end > msg.len() {
                    return None;
                }
                pos = end;
                if rtype == RType::OPT {
                    // Only in the additional section, once, owned by the root, no options.
                    if !opt || section != 2 || edns.is_some() || rdlen != 0 {
                        return None;
                    }
                    let e = Edns::from_ttl(class, ttl, Vec::new());
                    edns = Some([
                        u32::from(e.udp_size),
                        u32::from(e.ext_rcode),
                        u32::from(e.version),
                        u32::from(e.dnssec_ok),
                        u32::from(e.z),
                        0,
                    ]);
                    continue;
                }
                if ttl > i32::MAX as u32 || !matches!(class, 1 | 3 | 4) {
                    return None;
                }
                self.nums
                    .extend([u32::from(rtype.0), u32::from(class), ttl]);
                match rtype {
                    RType::A if rdlen == 4 => {
                        let a = &msg[rdata..end];
                        self.nums.push(KIND_A);
                        self.nums.push(u32::from_be_bytes([a[0], a[1], a[2], a[3]]));
                    }
                    RType::AAAA if rdlen == 16 => {
                        let a: [u8; 16] = msg[rdata..end].try_into().ok()?;
                        self.nums.push(KIND_AAAA);
                        let text_start = self.text.len();
                        let mut t = Text(core::mem::take(self.text));
                        let _ = write!(t, "{}", core::net::Ipv6Addr::from(a));
                        *self.text = t.0;
                        self.nums.push((self.text.len() - text_start) as u32);
                        self.strings += 1;
                    }
                    RType::CNAME | RType::NS | RType::PTR | RType::DNAME => {
                        self.nums.push(KIND_NAME);
                        if self.name(rdata)? != end {
                            return None;
                        }
                    }
                    RType::MX if rdlen > 2 => {
                        self.nums.push(KIND_MX);
                        self.nums
                            .push(u32::from(u16::from_be_bytes([msg[rdata], msg[rdata + 1]])));
                        if self.name(rdata + 2)? != end {
                            return None;
                        }
                    }
                    RType::SOA => {
                        self.nums.push(KIND_SOA);
                        let at = self.name(rdata)?;
                        let at = self.name(at)?;
                        if at + 20 != end {
                            return None;
                        }
                        for f in msg[at..end].chunks_exact(4) {
                            self.nums.push(u32::from_be_bytes([f[0], f[1], f[2], f[3]]));
                        }
                    }
                    _ => return None,
                }
                if section == 2 {
                    additional += 1;
                }
            }
        }
        if pos != msg.len() {
            return None;
        }
        self.nums[HEAD as usize - 2] = additional;
        if let Some(e) = edns {
            self.nums[HEAD as usize - 1] = 1;
            self.nums.extend(e);
        }
        Some(())
    }
}

/// The longest name, in wire bytes (RFC 1035 3.1).
const MAX_NAME: usize = 255;

fn push_header(nums: &mut Vec<u32>, h: &Header) {
    nums.extend([
        u32::from(h.id),
        u32::from(h.qr),
        u32::from(h.opcode.0),
        u32::from(h.aa),
        u32::from(h.tc),
        u32::from(h.rd),
        u32::from(h.ra),
        u32::from(h.z),
        u32::from(h.ad),
        u32::from(h.cd),
        u32::from(h.rcode),
    ]);
}

// ---- tape -> message ------------------------------------------------------------------------

/// Why the tape could not be read. The glue then takes the JSON path, whose serde errors say
/// exactly what is wrong, so no detail is kept here.
#[derive(Debug)]
pub struct Fallback;

/// The reader's tables, kept between calls so that reading allocates only the message.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Each string's byte range in the text.
    strings: Vec<(usize, usize)>,
    /// Each string parsed as a name, once asked for.
    names: Vec<Option<Name>>,
}

struct Reader<'a, 's> {
    nums: &'a [u32],
    at: usize,
    text: &'a str,
    /// Byte offset of the next new string in `text`.
    text_at: usize,
    ascii: bool,
    strings: &'s mut Vec<(usize, usize)>,
    names: &'s mut Vec<Option<Name>>,
}

impl<'a> Reader<'a, '_> {
    fn num(&mut self) -> Result<u32, Fallback> {
        let v = *self.nums.get(self.at).ok_or(Fallback)?;
        self.at += 1;
        Ok(v)
    }

    fn u8(&mut self) -> Result<u8, Fallback> {
        u8::try_from(self.num()?).map_err(|_| Fallback)
    }

    fn u16(&mut self) -> Result<u16, Fallback> {
        u16::try_from(self.num()?).map_err(|_| Fallback)
    }

    fn bool(&mut self) -> Result<bool, Fallback> {
        match self.num()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Fallback),
        }
    }

    /// The string number of the next string, reading it from the text if it is new.
    fn string_index(&mut self) -> Result<usize, Fallback> {
        let v = self.num()?;
        if v & BACKREF != 0 {
            let i = (v & !BACKREF) as usize;
            return if i < self.strings.len() {
                Ok(i)
            } else {
                Err(Fallback)
            };
        }
        let rest = self.text.get(self.text_at..).ok_or(Fallback)?;
        let len = if self.ascii {
            v as usize
        } else {
            // `v` counts UTF-16 code units: walk characters until that many are consumed.
            let mut units = 0usize;
            let mut bytes = 0usize;
            for c in rest.chars() {
                if units >= v as usize {
                    break;
                }
                units += c.len_utf16();
                bytes += c.len_utf8();
            }
            if units != v as usize {
                return Err(Fallback);
            }
            bytes
        };
        if rest.get(..len).is_none() {
            return Err(Fallback);
        }
        self.strings.push((self.text_at, self.text_at + len));
        self.text_at += len;
        self.names.push(None);
        Ok(self.strings.len() - 1)
    }

    fn string(&mut self) -> Result<&'a str, Fallback> {
        let i = self.string_index()?;
        let (start, end) = self.strings[i];
        Ok(&self.text[start..end])
    }

    fn name(&mut self) -> Result<Name, Fallback> {
        let i = self.string_index()?;
        if let Some(n) = &self.names[i] {
            return Ok(n.clone());
        }
        let (start, end) = self.strings[i];
        let n: Name = self.text[start..end].parse().map_err(|_| Fallback)?;
        self.names[i] = Some(n.clone());
        Ok(n)
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, Fallback> {
        serde_json::from_str(self.string()?).map_err(|_| Fallback)
    }

    fn record(&mut self) -> Result<Record, Fallback> {
        let name = self.name()?;
        let rtype = RType(self.u16()?);
        let class = Class(self.u16()?);
        let ttl = self.num()?;
        let rdata = match self.num()? {
            KIND_A => RData::A {
                address: self.string()?.parse().map_err(|_| Fallback)?,
            },
            KIND_AAAA => RData::Aaaa {
                address: self.string()?.parse().map_err(|_| Fallback)?,
            },
            KIND_NAME => RData::Name {
                target: self.name()?,
            },
            KIND_MX => RData::Mx {
                preference: self.u16()?,
                exchange: self.name()?,
            },
            KIND_SOA => RData::Soa {
                mname: self.name()?,
                rname: self.name()?,
                serial: self.num()?,
                refresh: self.num()?,
                retry: self.num()?,
                expire: self.num()?,
                minimum: self.num()?,
            },
            KIND_TXT => {
                let n = self.num()? as usize;
                let mut strings = Vec::with_capacity(n.min(256));
                for _ in 0..n {
                    strings.push(text::unescape(self.string()?).map_err(|_| Fallback)?);
                }
                RData::Txt { strings }
            }
            KIND_JSON => self.json()?,
            _ => return Err(Fallback),
        };
        Ok(Record {
            name,
            rtype,
            class,
            ttl,
            rdata,
        })
    }
}

/// Reads a message from a tape the glue wrote: the layout of [`write`], except that `KIND_A`
/// carries the address as a string, like AAAA, so that it is parsed here as serde would.
pub fn read(nums: &[u32], text: &str) -> Result<Message, Fallback> {
    read_with(nums, text, &mut Scratch::default())
}

/// [`read`], with tables kept from earlier calls.
pub fn read_with(nums: &[u32], text: &str, scratch: &mut Scratch) -> Result<Message, Fallback> {
    scratch.strings.clear();
    scratch.names.clear();
    let mut r = Reader {
        nums,
        at: 0,
        text,
        text_at: 0,
        ascii: text.is_ascii(),
        strings: &mut scratch.strings,
        names: &mut scratch.names,
    };
    let header = Header {
        id: r.u16()?,
        qr: r.bool()?,
        opcode: Opcode(r.u8()?),
        aa: r.bool()?,
        tc: r.bool()?,
        rd: r.bool()?,
        ra: r.bool()?,
        z: r.bool()?,
        ad: r.bool()?,
        cd: r.bool()?,
        rcode: r.u8()?,
    };
    let counts = [r.num()?, r.num()?, r.num()?, r.num()?].map(|c| c as usize);
    // Every question or record takes at least 3 entries: bound the allocation by the tape.
    if counts.iter().sum::<usize>() > nums.len() {
        return Err(Fallback);
    }
    let has_edns = r.bool()?;
    let mut m = Message {
        header,
        ..Message::default()
    };
    m.questions.reserve(counts[0]);
    for _ in 0..counts[0] {
        let name = r.name()?;
        m.questions.push(Question {
            name,
            qtype: RType(r.u16()?),
            class: Class(r.u16()?),
        });
    }
    for (i, section) in [&mut m.answers, &mut m.authority, &mut m.additional]
        .into_iter()
        .enumerate()
    {
        section.reserve(counts[i + 1]);
        for _ in 0..counts[i + 1] {
            section.push(r.record()?);
        }
    }
    if has_edns {
        let mut e = Edns::new(r.u16()?);
        e.ext_rcode = r.u8()?;
        e.version = r.u8()?;
        e.dnssec_ok = r.bool()?;
        e.z = r.u16()?;
        if r.bool()? {
            e.options = r.json()?;
        }
        m.edns = Some(e);
    }
    if r.at != nums.len() || r.text_at != text.len() {
        return Err(Fallback);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_written_as_display_writes_them() {
        for text in [
            ".",
            "example.com.",
            "www.example-cdn.net.",
            "_sip._tcp.example.",
            "a\\.b.example.",
            "\\000\\255.example.",
            "sp\\032ace.x.",
            "\\@\\$\\(\\)\\;\\\".q.",
            "UPPER.Case.",
        ] {
            let n: Name = text.parse().expect(text);
            let mut out = Text::default();
            write_name(&mut out, n.as_wire());
            assert_eq!(String::from_utf8(out.0).unwrap(), n.to_string(), "{text}");
        }
    }

    #[test]
    fn a_tape_reads_back_into_the_message_it_describes() {
        // header (11), counts (4), has_edns, one question, one A record, EDNS without options.
        let text = "example.com.192.0.2.1";
        let mut nums = vec![7, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1];
        nums.extend([12, 1, 1]); // S("example.com."), A, IN
        nums.extend([BACKREF, 1, 1, 300, KIND_A, 9]); // owner again, A, IN, TTL, S("192.0.2.1")
        nums.extend([1232, 0, 0, 1, 0, 0]);
        let m = read(&nums, text).expect("reads");
        assert_eq!(m.header.id, 7);
        assert!(m.header.qr && m.header.rd && m.header.ra);
        assert_eq!(m.questions[0].name.to_string(), "example.com.");
        assert_eq!(
            m.answers[0].to_text(),
            "example.com.\t300\tIN\tA\t192.0.2.1"
        );
        let e = m.edns.expect("edns");
        assert_eq!((e.udp_size, e.dnssec_ok), (1232, true));
        // Anything inconsistent falls back instead of guessing.
        assert!(read(&nums[..nums.len() - 1], text).is_err(), "short tape");
        assert!(
            read(&nums, "example.com.192.0.2.1x").is_err(),
            "text left over"
        );
        let mut bad = nums.clone();
        bad[1] = 2;
        assert!(read(&bad, text).is_err(), "a bool that is not 0 or 1");
        let mut bad = nums.clone();
        bad[19] = BACKREF | 5;
        assert!(read(&bad, text).is_err(), "a back-reference to no string");
    }

    /// The wire bytes of a hex file (whitespace ignored).
    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// Messages for the direct path: the test data, the fuzz seeds and hand-made edge cases.
    fn corpus() -> Vec<(String, Vec<u8>)> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut out = Vec::new();
        for dir in ["core/tests/data", "fuzz/seeds/decode"] {
            let mut files: Vec<_> = std::fs::read_dir(format!("{root}/{dir}"))
                .expect(dir)
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            for f in files {
                let bytes = match f.extension().and_then(|e| e.to_str()) {
                    Some("hex") => hex(&std::fs::read_to_string(&f).unwrap()),
                    Some("bin") => std::fs::read(&f).unwrap(),
                    _ => continue,
                };
                out.push((f.display().to_string(), bytes));
            }
        }
        let www = "12348180000100030000000103777777076578616d706c6503636f6d0000010001c00c00050001\
                   0000012c002403777777076578616d706c6503636f6d0363646e0a636c6f7564666c617265036e\
                   657400c02d000100010000003c000468107b60c02d000100010000003c000468107c6000002904\
                   d0000000000000";
        let www = hex(www);
        out.push(("www".into(), www.clone()));
        // Built by the core's encoder: AAAA, NS, PTR, DNAME, the root, an escaped label, an
        // upper-case twin, a long name, MX and TXT (not on the direct path), EDNS with options.
        let mut texts = vec![
            "example.com.\t60\tIN\tAAAA\t2001:db8::1",
            "example.com.\t60\tIN\tNS\tns1.example.com.",
            "1.2.0.192.in-addr.arpa.\t60\tIN\tPTR\thost.example.",
            "example.com.\t60\tIN\tDNAME\t.",
            ".\t60\tIN\tNS\ta.root-servers.net.",
            "a\\.b.example.\t60\tIN\tA\t192.0.2.1",
            "EXAMPLE.com.\t60\tIN\tA\t192.0.2.2",
            "_sip._tcp.example.com.\t60\tIN\tCNAME\tEXAMPLE.COM.",
            "example.com.\t60\tCH\tA\t192.0.2.3",
            "example.com.\t60\tIN\tMX\t10 mail.example.com.",
            "example.com.\t60\tIN\tSOA\tns1.example.com. hostmaster.example.com. 1 7200 900 1209600 300",
            "example.com.\t60\tIN\tTXT\t\"hello\"",
        ];
        // 255 bytes in wire form, the most a name may hold.
        let long = format!("{}.{}.", vec!["a".repeat(63); 3].join("."), "b".repeat(61));
        let long_rr = format!("{long}\t60\tIN\tCNAME\t{long}");
        texts.push(&long_rr);
        for (k, rr) in texts.iter().enumerate() {
            let r = Record::from_text(rr).expect(rr);
            let mut m = Message::from_wire(&www).unwrap();
            m.answers.push(r.clone());
            m.authority.push(r);
            if k % 2 == 1 {
                m.edns = None;
            }
            let bytes = m.to_wire().unwrap();
            out.push((rr.to_string(), bytes));
        }
        // An option of a private code (65001), 2 bytes of data.
        let mut options = www.clone();
        let n = options.len();
        options[n - 1] = 6;
        options.extend_from_slice(&[0xfd, 0xe9, 0, 2, 1, 2]);
        assert!(
            Message::from_wire(&options)
                .unwrap()
                .edns
                .unwrap()
                .options
                .len()
                == 1
        );
        out.push(("edns options".into(), options));
        // A question name of 256 bytes (one too many), and of 255 through a pointer to a name
        // of 254... in place: its last label 60 bytes, then the pointer's target adds `b.`.
        for (what, last) in [("256-byte name", 62usize), ("255-byte name", 61)] {
            let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            for len in [63, 63, 63, last] {
                m.push(len as u8);
                m.extend(std::iter::repeat_n(b'a', len));
            }
            m.extend([0, 0, 1, 0, 1]);
            out.push((what.into(), m));
        }
        for (what, last) in [
            ("255 bytes through a pointer", 59u8),
            ("256 bytes through a pointer", 60),
        ] {
            // Question 1 is `b.`; question 2 is four labels in place, then a pointer to it.
            let mut m = vec![0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, b'b', 0, 0, 1, 0, 1];
            for (k, len) in [63, 63, 63, last].into_iter().enumerate() {
                m.push(len);
                m.extend(std::iter::repeat_n(b'c' + k as u8, usize::from(len)));
            }
            m.extend([0xc0, 12, 0, 1, 0, 1]);
            out.push((what.into(), m));
        }
        // Trailing bytes, OPT in the answer section, two OPTs, an OPT owned by a name.
        let mut trailing = www.clone();
        trailing.push(0);
        out.push(("trailing".into(), trailing));
        let mut opt_answer = www.clone();
        opt_answer[7] = 4;
        opt_answer[11] = 0;
        out.push(("opt in answers".into(), opt_answer));
        let mut two = www.clone();
        two[11] = 2;
        two.extend_from_slice(&www[www.len() - 11..]);
        out.push(("two opts".into(), two));
        let mut owned = www.clone();
        let n = owned.len();
        owned[n - 11] = 0xc0;
        owned.insert(n - 10, 0x0c);
        out.push(("opt with an owner".into(), owned));
        out
    }

    /// The direct path agrees with the core's decode and the message writer, byte for byte.
    fn check(what: &str, bytes: &[u8], wire: &mut WireScratch) -> bool {
        let mut direct = Tape::default();
        if !write_wire(bytes, &mut direct, wire) {
            return false;
        }
        let m = Message::from_wire(bytes).unwrap_or_else(|e| {
            panic!("{what}: the direct path took a message the core rejects: {e}")
        });
        let mut tape = Tape::default();
        write_into(&m, &mut tape).unwrap();
        assert_eq!(direct.nums, tape.nums, "{what}: numbers ({bytes:02x?})");
        assert_eq!(direct.text.0, tape.text.0, "{what}: text");
        true
    }

    #[test]
    fn the_direct_path_writes_the_tape_of_the_decoded_message() {
        let mut wire = WireScratch::default();
        let mut direct = 0;
        let corpus = corpus();
        for (what, bytes) in &corpus {
            if check(what, bytes, &mut wire) {
                direct += 1;
            }
        }
        // The benchmark's messages and the plain edge cases take it; the unusual do not.
        for what in [
            "seed000-compressed",
            "seed000-uncompressed",
            "cname-a",
            "www",
            "AAAA",
            "PTR",
            "DNAME\t.",
            "a.root",
            "EXAMPLE.com",
            "_sip",
            "\tCH\t",
            "aaaaaaa",
            "255-byte name",
            "255 bytes through",
            "MX",
            "SOA",
            "nodata-soa",
        ] {
            let (_, bytes) = corpus.iter().find(|(n, _)| n.contains(what)).expect(what);
            assert!(
                write_wire(bytes, &mut Tape::default(), &mut wire),
                "{what} takes the direct path"
            );
        }
        for what in [
            "a\\.b",
            "TXT",
            "edns options",
            "trailing",
            "opt in answers",
            "two opts",
            "opt with an owner",
            "256-byte name",
            "256 bytes through",
        ] {
            let (_, bytes) = corpus.iter().find(|(n, _)| n.contains(what)).expect(what);
            assert!(
                !write_wire(bytes, &mut Tape::default(), &mut wire),
                "{what} does not take the direct path"
            );
        }
        assert!(direct >= 10, "only {direct} messages took the direct path");
    }

    #[test]
    fn the_direct_path_agrees_with_the_decode_on_mutated_messages() {
        let mut wire = WireScratch::default();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut direct, mut total) = (0, 0);
        for (what, bytes) in corpus() {
            for k in 0..3000 {
                let mut b = bytes.clone();
                for _ in 0..1 + next() % 3 {
                    let at = (next() as usize) % b.len();
                    match next() % 4 {
                        // Small values hit lengths, counts and pointers.
                        0 => b[at] = (next() % 8) as u8,
                        1 => b[at] = 0xc0 | (next() % 4) as u8,
                        2 => b[at] = next() as u8,
                        _ => b.truncate(at.max(1)),
                    }
                }
                total += 1;
                if check(&format!("{what} #{k}"), &b, &mut wire) {
                    direct += 1;
                }
            }
        }
        // Enough mutations keep a valid message for the comparison to mean something.
        assert!(
            direct * 20 > total,
            "{direct} of {total} took the direct path"
        );
    }
}
