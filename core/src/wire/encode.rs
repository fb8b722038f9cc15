//! The compressing encoder: a byte buffer plus a table of the name suffixes already written, so
//! that every name reuses the longest suffix seen before (RFC 1035 4.1.4).
//!
//! Matching is exact (case-sensitive), so compression never changes the case a reader sees and
//! decode(encode(m)) == m holds byte for byte in names. Table entries are rolled back with the
//! buffer, which is what truncation at an RRset boundary needs.
//!
//! Finding a suffix is a scan of the table while it is small (most messages have a handful of
//! names, and a scan beats hashing there) and a hash index from `INDEX_FROM` entries on, so a
//! message with many distinct names encodes in time linear in its names, not quadratic.

use core::hash::BuildHasher;
use std::collections::HashMap;

use super::error::{ErrorKind, WireError};
use super::name::Name;

/// Entries from which `find` uses the index instead of a scan.
const INDEX_FROM: usize = 64;

/// (parent entry, hash of the label) -> the first entry with that key.
type Index = HashMap<(u32, u64), u32, rustc_hash::FxBuildHasher>;

/// Largest offset a compression pointer can hold.
const MAX_POINTER: usize = 0x3fff;
/// `Suffix::parent` of a suffix of one label (the rest is the root).
const ROOT: u32 = u32::MAX;

/// A name suffix written in place: its first label is at `off` in the buffer, and `parent` is
/// the entry of the rest of the suffix.
#[derive(Debug, Clone, Copy)]
struct Suffix {
    off: u32,
    parent: u32,
}

/// A message being written.
#[derive(Debug, Default, Clone)]
pub struct Encoder {
    buf: Vec<u8>,
    /// Every name suffix written in place so far, once: the first place it was written (the
    /// one a pointer must go to; later copies are never pointed to). A name's entries are added
    /// from its last label, so a parent always comes before its children, and entries are in
    /// the order of their names in the buffer.
    table: Vec<Suffix>,
    compress: bool,
    /// The last name written (when short) and the offset of its entry, when a pointer can reach
    /// it: the same name again (an RRset's owner) is one pointer, without a lookup.
    last: Option<(Name, u16)>,
    /// The table indexed by (parent, label), built once it has `INDEX_FROM` entries.
    index: Option<Index>,
}

impl Encoder {
    /// An encoder that compresses names where RFC 3597 allows it.
    pub fn new() -> Self {
        Encoder {
            buf: Vec::with_capacity(512),
            table: Vec::with_capacity(16),
            compress: true,
            last: None,
            index: None,
        }
    }

    /// An encoder that never writes pointers (to measure what compression saves).
    pub fn uncompressed() -> Self {
        Encoder {
            buf: Vec::with_capacity(512),
            table: Vec::new(),
            compress: false,
            last: None,
            index: None,
        }
    }

    /// Empties the encoder for another message, keeping its buffers' capacity (an encoder
    /// reused on the per-packet path allocates only while it grows).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.table.clear();
        self.last = None;
        self.index = None;
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// Overwrites two bytes already written (counts, RDLENGTH).
    pub fn set_u16(&mut self, at: usize, v: u16) {
        self.buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    /// A character-string: a length byte then up to 255 octets.
    pub fn char_string(&mut self, s: &[u8], field: &str) -> Result<(), WireError> {
        let len = u8::try_from(s.len()).map_err(|_| {
            WireError::invalid(
                field,
                format!("character-string of {} bytes is longer than 255", s.len()),
            )
        })?;
        self.u8(len);
        self.bytes(s);
        Ok(())
    }

    /// Drops everything written after `len`, including compression targets there.
    pub fn rollback(&mut self, len: usize) {
        // Entries are in buffer order by name, so the first one at or past `len` starts what
        // is gone (and keeping nothing after it keeps every remaining parent).
        let keep = self
            .table
            .iter()
            .position(|e| e.off as usize >= len)
            .unwrap_or(self.table.len());
        if let Some(index) = self.index.as_mut() {
            // The labels are still in the buffer: their keys can be computed before it shrinks.
            for (i, e) in self.table.iter().enumerate().skip(keep) {
                if let Some(label) = label_at(&self.buf, e.off as usize) {
                    let k = key(e.parent, label);
                    if index.get(&k) == Some(&(i as u32)) {
                        index.remove(&k);
                    }
                }
            }
        }
        self.buf.truncate(len);
        self.table.truncate(keep);
        self.last = None;
    }

    /// Writes a name; `compressible` says whether this position may hold a pointer.
    ///
    /// A compressible name ends in a pointer to the longest of its suffixes written before
    /// within pointer reach (to where it was first written), matched exactly (case-sensitive).
    #[inline]
    pub fn name(&mut self, name: &Name, compressible: bool) {
        let wire = name.as_wire();
        if !self.compress {
            self.bytes(wire);
            return;
        }
        if compressible {
            if let Some((last, off)) = &self.last {
                if last.as_wire() == wire {
                    let off = *off;
                    self.u16(0xc000 | off);
                    return;
                }
            }
        }
        self.name_lookup(name, compressible);
    }

    fn name_lookup(&mut self, name: &Name, compressible: bool) {
        let wire = name.as_wire();
        let (starts, n) = label_starts(wire);
        if n == 0 {
            self.buf.push(0);
            return;
        }
        if self.index.is_none() && self.table.len() >= INDEX_FROM {
            self.build_index();
        }
        // From the root label up, the entries of the suffixes already written: suffixes `k..`
        // are known, `parent` is the entry of suffix `k`. `best`: the longest known suffix a
        // pointer can reach, and where.
        let mut parent = ROOT;
        let mut k = n;
        let mut best = None;
        while k > 0 {
            let s = usize::from(starts[k - 1]);
            let label = &wire[s..s + 1 + usize::from(wire[s])];
            let Some(e) = self.find(parent, label) else {
                break;
            };
            parent = e;
            k -= 1;
            let off = self.table[e as usize].off as usize;
            if off <= MAX_POINTER {
                best = Some((k, off));
            }
        }
        // Suffixes 0..k are new: they are written in place now, after what is there.
        let base = self.buf.len();
        let mut p = parent;
        for j in (0..k).rev() {
            let s = usize::from(starts[j]);
            self.table.push(Suffix {
                off: (base + s) as u32,
                parent: p,
            });
            let entry = (self.table.len() - 1) as u32;
            if let Some(index) = self.index.as_mut() {
                let label = &wire[s..s + 1 + usize::from(wire[s])];
                index.entry(key(p, label)).or_insert(entry);
            }
            p = entry;
        }
        let full = self.table[p as usize].off as usize;
        self.last = (full <= MAX_POINTER && wire.len() <= 62).then(|| (name.clone(), full as u16));
        match best {
            Some((i, off)) if compressible => {
                self.bytes(&wire[..usize::from(starts[i])]);
                self.u16(0xc000 | off as u16);
            }
            _ => self.bytes(wire),
        }
    }

    /// The entry of the suffix made of `label` (length byte included) then the suffix of
    /// entry `parent`.
    #[inline]
    fn find(&self, parent: u32, label: &[u8]) -> Option<u32> {
        if let Some(index) = &self.index {
            // The index keeps the first entry of a key; a hash collision with another label
            // only loses a compression opportunity (the bytes are checked), never correctness.
            let &i = index.get(&key(parent, label))?;
            let off = self.table.get(i as usize)?.off as usize;
            return (self.buf.get(off..off + label.len()) == Some(label)).then_some(i);
        }
        for (i, e) in self.table.iter().enumerate() {
            if e.parent == parent {
                let off = e.off as usize;
                if self.buf.get(off..off + label.len()) == Some(label) {
                    return Some(i as u32);
                }
            }
        }
        None
    }

    /// Indexes every entry so far (their labels are all in the buffer by now).
    fn build_index(&mut self) {
        let mut index = Index::with_capacity_and_hasher(self.table.len() * 2, Default::default());
        for (i, e) in self.table.iter().enumerate() {
            if let Some(label) = label_at(&self.buf, e.off as usize) {
                index.entry(key(e.parent, label)).or_insert(i as u32);
            }
        }
        self.index = Some(index);
    }

    /// Fails if the message grew past what a DNS message can hold.
    pub fn check_size(&self) -> Result<(), WireError> {
        if self.buf.len() > usize::from(u16::MAX) {
            return Err(WireError::new(u16::MAX.into(), ErrorKind::TooLarge));
        }
        Ok(())
    }
}

/// The label (length byte included) written at `off`.
fn label_at(buf: &[u8], off: usize) -> Option<&[u8]> {
    let len = usize::from(*buf.get(off)?);
    buf.get(off..off + 1 + len)
}

/// The index key of a label under a parent entry.
fn key(parent: u32, label: &[u8]) -> (u32, u64) {
    (parent, rustc_hash::FxBuildHasher.hash_one(label))
}

/// The offset of each label's start within a name's wire form, and how many labels there are
/// (a name has at most 127).
fn label_starts(wire: &[u8]) -> ([u8; 128], usize) {
    let mut starts = [0u8; 128];
    let mut n = 0;
    let mut pos = 0;
    while wire[pos] != 0 {
        starts[n] = pos as u8;
        n += 1;
        pos += 1 + usize::from(wire[pos]);
    }
    (starts, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::name::read_name;

    #[test]
    fn compresses_longest_suffix() {
        let mut e = Encoder::new();
        e.bytes(&[0; 12]);
        let a: Name = "www.example.com.".parse().unwrap();
        let b: Name = "mail.example.com.".parse().unwrap();
        let c: Name = "www.example.com.".parse().unwrap();
        e.name(&a, true);
        let at_b = e.len();
        e.name(&b, true);
        let at_c = e.len();
        e.name(&c, true);
        let bytes = e.as_bytes();
        assert_eq!(&bytes[at_b..at_c], b"\x04mail\xc0\x10");
        assert_eq!(&bytes[at_c..], b"\xc0\x0c");
        assert_eq!(read_name(bytes, at_b).unwrap().0, b);
        // Case differs: no pointer to the differently-cased suffix.
        let d: Name = "WWW.EXAMPLE.COM.".parse().unwrap();
        let at_d = e.len();
        e.name(&d, true);
        assert_eq!(e.len() - at_d, d.wire_len());
        e.rollback(at_d);
        assert_eq!(e.len(), at_d);
    }

    /// The encoder before the suffix table (hash of every suffix, confirmed by walking the
    /// output): the reference the table must match byte for byte.
    struct Reference {
        buf: Vec<u8>,
        table: Vec<(u64, u16)>,
    }

    impl Reference {
        fn rollback(&mut self, len: usize) {
            self.buf.truncate(len);
            self.table.retain(|&(_, off)| usize::from(off) < len);
        }

        fn name(&mut self, name: &Name, compressible: bool) {
            use crate::wire::name::{walk_name, Step};
            let wire = name.as_wire();
            let (starts, n) = super::label_starts(wire);
            let mut hashes = [0u64; 128];
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for i in (0..n).rev() {
                let s = usize::from(starts[i]);
                for &b in &wire[s..s + 1 + usize::from(wire[s])] {
                    h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
                }
                h = h.rotate_left(5);
                hashes[i] = h;
            }
            let suffix_at = |buf: &[u8], off: usize, suffix: &[u8]| {
                let mut pos = 0;
                let mut ok = true;
                let res = walk_name(buf, off, |step, _| {
                    if let Step::Label { label, .. } = step {
                        let l = label.len();
                        ok = ok
                            && suffix.get(pos) == Some(&(l as u8))
                            && suffix.get(pos + 1..pos + 1 + l) == Some(label);
                        pos += 1 + l;
                    }
                });
                res.is_ok() && ok && pos == suffix.len()
            };
            let mut matched = None;
            if compressible {
                'outer: for i in 0..n {
                    let suffix = &wire[usize::from(starts[i])..];
                    for &(hash, off) in &self.table {
                        if hash == hashes[i] && suffix_at(&self.buf, usize::from(off), suffix) {
                            matched = Some((i, off));
                            break 'outer;
                        }
                    }
                }
            }
            let written = matched.map_or(n, |(i, _)| i);
            let base = self.buf.len();
            for i in 0..written {
                let at = base + usize::from(starts[i]);
                if at <= MAX_POINTER {
                    self.table.push((hashes[i], at as u16));
                }
            }
            match matched {
                Some((i, off)) => {
                    self.buf.extend_from_slice(&wire[..usize::from(starts[i])]);
                    self.buf.extend_from_slice(&(0xc000 | off).to_be_bytes());
                }
                None => self.buf.extend_from_slice(wire),
            }
        }
    }

    /// Random sequences of names (few labels, so suffixes repeat; some in upper case), filler
    /// bytes (to cross the 0x3fff pointer limit) and rollbacks to name boundaries: the suffix
    /// table writes what the reference writes.
    #[test]
    fn matches_the_reference_encoder() {
        let labels: [&[u8]; 8] = [
            b"www", b"WWW", b"example", b"com", b"net", b"a", b"cdn", b"x-1",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..400 {
            let mut e = Encoder::new();
            let mut r = Reference {
                buf: Vec::new(),
                table: Vec::new(),
            };
            if round % 4 == 1 {
                // Names from here on straddle and pass the pointer limit.
                let filler = vec![0xa5; MAX_POINTER - 40 - next(40) as usize];
                e.bytes(&filler);
                r.buf.extend_from_slice(&filler);
            }
            let mut marks = vec![e.len()];
            let steps = 20 + next(200);
            for _ in 0..steps {
                match next(20) {
                    0 => {
                        let len = if round % 3 == 0 { next(3000) } else { next(40) } as usize;
                        let filler = vec![0x5a; len];
                        e.bytes(&filler);
                        r.buf.extend_from_slice(&filler);
                    }
                    1 if marks.len() > 1 => {
                        let at = marks[next(marks.len() as u64) as usize];
                        e.rollback(at);
                        r.rollback(at);
                        marks.retain(|&m| m <= at);
                    }
                    _ => {
                        let n = next(5) as usize;
                        let picked: Vec<&[u8]> = (0..n).map(|_| labels[next(8) as usize]).collect();
                        let name = Name::from_labels(&picked).unwrap();
                        let compressible = next(4) != 0;
                        marks.push(e.len());
                        e.name(&name, compressible);
                        r.name(&name, compressible);
                    }
                }
                assert_eq!(e.as_bytes(), &r.buf[..], "round {round}");
            }
        }
    }
}
