//! The compressing encoder: a byte buffer plus a table of the name suffixes already written, so
//! that every name reuses the longest suffix seen before (RFC 1035 4.1.4).
//!
//! Matching is exact (case-sensitive), so compression never changes the case a reader sees and
//! decode(encode(m)) == m holds byte for byte in names. Table entries are rolled back with the
//! buffer, which is what truncation at an RRset boundary needs.

use super::error::{ErrorKind, WireError};
use super::name::{walk_name, Name, Step};

/// Largest offset a compression pointer can hold.
const MAX_POINTER: usize = 0x3fff;

/// A message being written.
#[derive(Debug, Default, Clone)]
pub struct Encoder {
    buf: Vec<u8>,
    /// (hash of a suffix's wire form, offset where that suffix was written in place).
    table: Vec<(u64, u16)>,
    compress: bool,
}

impl Encoder {
    /// An encoder that compresses names where RFC 3597 allows it.
    pub fn new() -> Self {
        Encoder {
            buf: Vec::with_capacity(512),
            table: Vec::new(),
            compress: true,
        }
    }

    /// An encoder that never writes pointers (to measure what compression saves).
    pub fn uncompressed() -> Self {
        Encoder {
            compress: false,
            ..Encoder::new()
        }
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
        self.buf.truncate(len);
        self.table.retain(|&(_, off)| usize::from(off) < len);
    }

    /// Writes a name; `compressible` says whether this position may hold a pointer.
    pub fn name(&mut self, name: &Name, compressible: bool) {
        let wire = name.as_wire();
        // Offsets of each label start within `wire`, and the hash of the suffix starting there.
        let mut starts = [0u8; 128];
        let mut n = 0;
        let mut pos = 0;
        while wire[pos] != 0 {
            starts[n] = pos as u8;
            n += 1;
            pos += 1 + usize::from(wire[pos]);
        }
        if !self.compress {
            self.bytes(wire);
            return;
        }
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
        let mut matched = None;
        if compressible {
            'outer: for i in 0..n {
                let suffix = &wire[usize::from(starts[i])..];
                for &(hash, off) in &self.table {
                    if hash == hashes[i] && self.suffix_at(usize::from(off), suffix) {
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
                self.bytes(&wire[..usize::from(starts[i])]);
                self.u16(0xc000 | off);
            }
            None => self.bytes(wire),
        }
    }

    /// Whether the name written at `off` (following pointers) equals `suffix` exactly.
    fn suffix_at(&self, off: usize, suffix: &[u8]) -> bool {
        let mut pos = 0;
        let mut ok = true;
        let res = walk_name(&self.buf, off, |step, _| {
            if let Step::Label { label, .. } = step {
                let l = label.len();
                ok = ok
                    && suffix.get(pos) == Some(&(l as u8))
                    && suffix.get(pos + 1..pos + 1 + l) == Some(label);
                pos += 1 + l;
            }
        });
        res.is_ok() && ok && pos == suffix.len()
    }

    /// Fails if the message grew past what a DNS message can hold.
    pub fn check_size(&self) -> Result<(), WireError> {
        if self.buf.len() > usize::from(u16::MAX) {
            return Err(WireError::new(u16::MAX.into(), ErrorKind::TooLarge));
        }
        Ok(())
    }
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
}
