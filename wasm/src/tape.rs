//! The fast path for messages across the boundary: a *tape* of `u32`s plus one string holding
//! every text value, instead of JSON text or objects built one property at a time.
//!
//! Why: on the 758-byte incident answer, `serde_json::to_string` + `JSON.parse` costs several
//! times the decode itself (names go through `collect_str` one character at a time, then the
//! parser reads it all back), and serde-wasm-bindgen's object building is slower still. A tape
//! costs one copy each way; the JS side (`wasm/js/api.mjs`, `readMessage`/`writeMessage`) builds
//! or walks the objects with literals of a fixed shape. bench/npm.mjs measures all three paths.
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
}
