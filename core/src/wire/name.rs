//! Domain names: reading them from a message (following compression pointers safely), their
//! uncompressed wire form, and presentation text.
//!
//! A [`Name`] owns its uncompressed wire form (length-prefixed labels ending in the root label),
//! kept inline when short so that decoding a typical name does not allocate.

use core::fmt;
use core::str::FromStr;

use super::error::{ErrorKind, WireError};

/// Longest name in wire form, root label included (RFC 1035 2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

const INLINE: usize = 62;

#[derive(Clone)]
enum Buf {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

/// A domain name in uncompressed wire form. Equality is exact (case-sensitive); use
/// [`Name::eq_ignore_case`] for DNS name comparison.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
#[derive(Clone)]
pub struct Name(Buf);

impl Name {
    /// The root name `.`.
    #[inline]
    pub const fn root() -> Name {
        Name(Buf::Inline {
            len: 1,
            bytes: [0; INLINE],
        })
    }

    /// Builds a name from bytes already known to be a valid uncompressed wire name.
    fn from_wire_unchecked(wire: &[u8]) -> Name {
        if wire.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..wire.len()].copy_from_slice(wire);
            Name(Buf::Inline {
                len: wire.len() as u8,
                bytes,
            })
        } else {
            Name(Buf::Heap(wire.into()))
        }
    }

    /// Builds a name of `len` wire bytes from runs of `msg` already validated by `walk_fast`.
    fn from_runs(msg: &[u8], runs: &[(usize, usize)], len: usize) -> Name {
        if len > INLINE {
            return Name::from_runs_heap(msg, runs, len);
        }
        let mut bytes = [0u8; INLINE];
        let mut at = 0;
        for &(s, l) in runs {
            bytes[at..at + l].copy_from_slice(&msg[s..s + l]);
            at += l;
        }
        Name(Buf::Inline {
            len: len as u8,
            bytes,
        })
    }

    #[cold]
    fn from_runs_heap(msg: &[u8], runs: &[(usize, usize)], len: usize) -> Name {
        let mut v = Vec::with_capacity(len);
        for &(s, l) in runs {
            v.extend_from_slice(&msg[s..s + l]);
        }
        Name(Buf::Heap(v.into_boxed_slice()))
    }

    /// Validates an uncompressed wire-form name (no pointers).
    pub fn from_wire(wire: &[u8]) -> Result<Name, WireError> {
        let (name, end) = read_name(wire, 0)?;
        if end != wire.len() {
            return Err(WireError::invalid("name", "bytes after the root label"));
        }
        Ok(name)
    }

    /// Builds a name from labels (without the root label).
    pub fn from_labels<L: AsRef<[u8]>>(labels: &[L]) -> Result<Name, WireError> {
        let mut b = NameBuilder::new();
        for l in labels {
            b.push(l.as_ref()).map_err(|k| WireError::new(0, k))?;
        }
        Ok(b.finish())
    }

    /// The uncompressed wire form, root label included.
    pub fn as_wire(&self) -> &[u8] {
        match &self.0 {
            Buf::Inline { len, bytes } => &bytes[..*len as usize],
            Buf::Heap(b) => b,
        }
    }

    /// Length of the uncompressed wire form.
    pub fn wire_len(&self) -> usize {
        self.as_wire().len()
    }

    pub fn is_root(&self) -> bool {
        self.as_wire() == [0]
    }

    /// The labels from the leftmost, root excluded.
    pub fn labels(&self) -> Labels<'_> {
        Labels {
            wire: self.as_wire(),
            pos: 0,
        }
    }

    /// Number of labels, root excluded (the RRSIG "labels" count ignores a leading `*`).
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// DNS name equality: ASCII case-insensitive (RFC 4343).
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.as_wire().eq_ignore_ascii_case(other.as_wire())
    }

    /// The same name with ASCII letters lowercased.
    pub fn to_lowercase(&self) -> Name {
        let mut w = [0u8; MAX_NAME_LEN];
        let src = self.as_wire();
        w[..src.len()].copy_from_slice(src);
        let mut pos = 0;
        while pos < src.len() && w[pos] != 0 {
            let l = w[pos] as usize;
            w[pos + 1..pos + 1 + l].make_ascii_lowercase();
            pos += 1 + l;
        }
        Name::from_wire_unchecked(&w[..src.len()])
    }

    /// Whether `self` is `other` or below it.
    pub fn is_subdomain_of(&self, other: &Name) -> bool {
        let a = self.as_wire();
        let b = other.as_wire();
        if b.len() > a.len() {
            return false;
        }
        // Only a label boundary may align with `other`'s start.
        let mut pos = 0;
        while pos + b.len() < a.len() {
            pos += 1 + a[pos] as usize;
        }
        pos + b.len() == a.len() && a[pos..].eq_ignore_ascii_case(b)
    }

    /// The name with its leftmost label removed, or `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        let w = self.as_wire();
        if w[0] == 0 {
            return None;
        }
        Some(Name::from_wire_unchecked(&w[1 + w[0] as usize..]))
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_wire() == other.as_wire()
    }
}
impl Eq for Name {}

impl core::hash::Hash for Name {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_wire().hash(state)
    }
}

/// Iterator over a name's labels.
#[derive(Debug)]
pub struct Labels<'a> {
    wire: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let l = *self.wire.get(self.pos)? as usize;
        if l == 0 {
            return None;
        }
        let label = self.wire.get(self.pos + 1..self.pos + 1 + l)?;
        self.pos += 1 + l;
        Some(label)
    }
}

/// Accumulates labels into a wire name on the stack.
pub(crate) struct NameBuilder {
    buf: [u8; MAX_NAME_LEN],
    len: usize,
}

impl NameBuilder {
    pub(crate) fn new() -> Self {
        NameBuilder {
            buf: [0; MAX_NAME_LEN],
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, label: &[u8]) -> Result<(), ErrorKind> {
        if label.is_empty() {
            return Err(ErrorKind::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(ErrorKind::LabelTooLong { len: label.len() });
        }
        let total = self.len + 1 + label.len() + 1;
        if total > MAX_NAME_LEN {
            return Err(ErrorKind::NameTooLong { len: total });
        }
        self.buf[self.len] = label.len() as u8;
        self.buf[self.len + 1..self.len + 1 + label.len()].copy_from_slice(label);
        self.len += 1 + label.len();
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Name {
        self.buf[self.len] = 0;
        Name::from_wire_unchecked(&self.buf[..self.len + 1])
    }
}

/// One step of reading a name in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A label (`label` is empty for the root label) whose length byte is at `offset`.
    Label { offset: usize, label: &'a [u8] },
    /// A compression pointer at `offset` to `target`.
    Pointer { offset: usize, target: usize },
}

/// Walks the name at `start`, calling `visit` for every label and pointer in reading order
/// (`in_place` is false once a pointer was followed). Returns the offset just after the name's
/// in-place part. Pointer targets must strictly decrease, which bounds the walk without a counter.
#[inline]
pub fn walk_name<'a>(
    msg: &'a [u8],
    start: usize,
    mut visit: impl FnMut(Step<'a>, bool),
) -> Result<usize, WireError> {
    let mut pos = start;
    let mut segment = start;
    let mut end = None;
    let mut wire_len = 1usize;
    loop {
        let Some(&b) = msg.get(pos) else {
            return Err(WireError::truncated(
                pos,
                "a label length or compression pointer",
                1,
                msg.len(),
            ));
        };
        match b & 0xc0 {
            0x00 => {
                let l = b as usize;
                if l == 0 {
                    visit(
                        Step::Label {
                            offset: pos,
                            label: &[],
                        },
                        end.is_none(),
                    );
                    return Ok(end.unwrap_or(pos + 1));
                }
                wire_len += 1 + l;
                if wire_len > MAX_NAME_LEN {
                    return Err(WireError::new(
                        pos,
                        ErrorKind::NameTooLong { len: wire_len },
                    ));
                }
                let Some(label) = msg.get(pos + 1..pos + 1 + l) else {
                    return Err(WireError::truncated(pos + 1, "label octets", l, msg.len()));
                };
                visit(Step::Label { offset: pos, label }, end.is_none());
                pos += 1 + l;
            }
            0xc0 => {
                let Some(&lo) = msg.get(pos + 1) else {
                    return Err(WireError::truncated(
                        pos,
                        "a 2-byte compression pointer",
                        2,
                        msg.len(),
                    ));
                };
                let target = (usize::from(b & 0x3f) << 8) | usize::from(lo);
                if target >= msg.len() {
                    return Err(WireError::new(pos, ErrorKind::PointerPastEnd { target }));
                }
                if target >= pos {
                    return Err(WireError::new(pos, ErrorKind::PointerForward { target }));
                }
                if target >= segment {
                    return Err(WireError::new(pos, ErrorKind::PointerLoop { target }));
                }
                visit(
                    Step::Pointer {
                        offset: pos,
                        target,
                    },
                    end.is_none(),
                );
                if end.is_none() {
                    end = Some(pos + 2);
                }
                segment = target;
                pos = target;
            }
            _ => {
                return Err(WireError::new(
                    pos,
                    ErrorKind::ReservedLabelType { byte: b },
                ))
            }
        }
    }
}

/// Reads the (possibly compressed) name at `start`; returns it and the offset after it.
#[inline]
pub fn read_name(msg: &[u8], start: usize) -> Result<(Name, usize), WireError> {
    match read_name_fast::<false>(msg, start, &mut Seen::new()) {
        Some(name) => Ok((name.build(msg), name.end)),
        None => read_name_walk(msg, start),
    }
}

/// [`read_name`] label by label through [`walk_name`]: what reports why a name is invalid.
pub(crate) fn read_name_walk(msg: &[u8], start: usize) -> Result<(Name, usize), WireError> {
    let mut buf = [0u8; MAX_NAME_LEN];
    let mut len = 0;
    let end = walk_name(msg, start, |step, _| {
        if let Step::Label { label, .. } = step {
            // walk_name guarantees the total stays within MAX_NAME_LEN.
            buf[len] = label.len() as u8;
            buf[len + 1..len + 1 + label.len()].copy_from_slice(label);
            len += 1 + label.len();
        }
    })?;
    Ok((Name::from_wire_unchecked(&buf[..len]), end))
}

/// Skips the name at `start` without building it, validating it fully; returns the offset after it.
#[inline]
pub fn skip_name(msg: &[u8], start: usize) -> Result<usize, WireError> {
    match skip_name_fast::<false>(msg, start, &mut Seen::new()) {
        Some(end) => Ok(end),
        None => skip_name_walk(msg, start),
    }
}

/// [`skip_name`] through [`walk_name`]: what reports why a name is invalid.
pub(crate) fn skip_name_walk(msg: &[u8], start: usize) -> Result<usize, WireError> {
    walk_name(msg, start, |_, _| {})
}

/// Largest offset a compression pointer can reach (14 bits).
const MAX_TARGET: usize = 0x3fff;
/// How many validated names [`Seen`] remembers (a power of two: it is direct-mapped).
const SEEN: usize = 16;
/// Flag in [`Seen`]'s info: the name at that offset has no compression pointer.
const CONTIGUOUS: u32 = 0x100;

/// Names of one message already validated, by offset, with their expanded wire length: a reader
/// that meets a compression pointer to one of them can stop there (and, when that name has no
/// pointer of its own, copy its bytes in one go) instead of walking and checking it again.
///
/// Sound because a name's validity does not depend on how it was reached: following a pointer
/// to `t` continues exactly as a walk starting at `t` would (its loop checks start afresh at
/// `t`), except for the running length, which the caller checks against the remembered one.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// Direct-mapped by offset: `offset << 16 | info`, where info is the expanded wire length of
    /// the name at that offset, `| CONTIGUOUS` when it has no pointer. `u32::MAX` is empty (no
    /// offset is that large: they are at most [`MAX_TARGET`]).
    slots: [u32; SEEN],
}

impl Seen {
    pub(crate) fn new() -> Seen {
        Seen {
            slots: [u32::MAX; SEEN],
        }
    }

    #[inline(always)]
    fn get(&self, offset: usize) -> Option<u32> {
        let e = self.slots[offset % SEEN];
        (e >> 16 == offset as u32).then_some(e & 0xffff)
    }

    #[inline(always)]
    fn insert(&mut self, offset: usize, info: u32) {
        if offset <= MAX_TARGET {
            self.slots[offset % SEEN] = (offset as u32) << 16 | info;
        }
    }
}

/// Where [`walk_fast`] reports the contiguous pieces of a name: [`Runs`] when reading it, `()`
/// when only skipping it.
pub(crate) trait Pieces {
    const COLLECT: bool;
    fn push(&mut self, start: usize, len: usize);
}

impl Pieces for () {
    const COLLECT: bool = false;
    #[inline(always)]
    fn push(&mut self, _: usize, _: usize) {}
}

/// Where a name read by [`read_name_fast`] is in the message: its first two contiguous pieces
/// (offset, length; the root label ends the last one) and how many there are. Names of more
/// pieces (chains of pointers) are rare and built by [`read_name_walk`].
#[derive(Clone, Copy)]
pub(crate) struct Runs {
    a: (usize, usize),
    b: (usize, usize),
    n: u32,
}

impl Pieces for Runs {
    const COLLECT: bool = true;
    #[inline(always)]
    fn push(&mut self, start: usize, len: usize) {
        match self.n {
            0 => self.a = (start, len),
            1 => self.b = (start, len),
            _ => {}
        }
        self.n += 1;
    }
}

/// A name found valid by [`read_name_fast`], not built yet.
#[derive(Clone, Copy)]
pub(crate) struct NameAt {
    start: usize,
    /// Offset just after the name's in-place part.
    pub(crate) end: usize,
    len: usize,
    runs: Runs,
}

impl NameAt {
    /// Builds the name (where the caller wants it, when inlined).
    #[inline(always)]
    pub(crate) fn build(&self, msg: &[u8]) -> Name {
        let Runs { a, b, n } = self.runs;
        if n == 1 && self.len <= INLINE {
            if let Some(chunk) = msg.get(a.0..).and_then(<[u8]>::first_chunk::<INLINE>) {
                // One fixed-size copy; what lies past `len` in the inline buffer is never read.
                return Name(Buf::Inline {
                    len: self.len as u8,
                    bytes: *chunk,
                });
            }
        }
        NameAt::build_slow(msg, self.start, self.len, a, b, n)
    }

    #[inline(never)]
    fn build_slow(
        msg: &[u8],
        start: usize,
        len: usize,
        a: (usize, usize),
        b: (usize, usize),
        n: u32,
    ) -> Name {
        match n {
            1 => Name::from_runs(msg, &[a], len),
            2 => Name::from_runs(msg, &[a, b], len),
            // Valid (walk_fast said so): read_name_walk succeeds.
            _ => read_name_walk(msg, start).map_or_else(|_| Name::root(), |(name, _)| name),
        }
    }
}

/// Whether `x` and `y`, of the same length (at least 8), are equal: up to 24 bytes as three
/// overlapping 8-byte words.
#[inline(always)]
fn same_bytes(x: &[u8], y: &[u8]) -> bool {
    let n = x.len();
    if n != y.len() || n.wrapping_sub(8) > 16 {
        return x == y;
    }
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_ne_bytes(w)
    };
    let mid = if n > 16 { 8 } else { 0 };
    word(x, 0) == word(y, 0) && word(x, mid) == word(y, mid) && word(x, n - 8) == word(y, n - 8)
}

/// Skips the labels from `pos` to the first root label or pointer; returns its offset and byte.
/// `None` past the end of `msg`. Label lengths are not checked against the name's limit here.
#[inline(always)]
fn labels_end(msg: &[u8], mut pos: usize) -> Option<(usize, u8)> {
    loop {
        let b = *msg.get(pos)?;
        // Neither the root (0) nor a pointer or reserved type (0x40 and up).
        if b.wrapping_sub(1) >= 0x3f {
            return Some((pos, b));
        }
        pos += 1 + usize::from(b);
    }
}

/// The fast path of [`walk_name`]: returns the offset after the name's in-place part, its
/// expanded wire length and whether it lies entirely in place, reporting its byte runs to
/// `runs`. Returns `None` for any error, whatever its kind; the caller then runs the full
/// [`walk_name`], which reports it exactly. `Some` exactly when [`walk_name`] succeeds, with the
/// same end.
///
/// It checks the name's length once per contiguous run rather than per label (the length only
/// grows, so a name within the limit at the end never crossed it), does not re-check a pointer
/// target remembered in `seen`, and remembers every pointer target it validates (with
/// `REMEMBER`, names read entirely in place too).
#[inline(always)]
fn walk_fast<R: Pieces, const REMEMBER: bool>(
    msg: &[u8],
    start: usize,
    seen: &mut Seen,
    runs: &mut R,
) -> Option<(usize, usize, bool)> {
    let (pos, b) = labels_end(msg, start)?;
    // Bytes of the labels in place.
    let in_place = pos - start;
    if b == 0 {
        let len = in_place + 1;
        if len > MAX_NAME_LEN {
            return None;
        }
        if R::COLLECT {
            runs.push(start, len);
        }
        if REMEMBER {
            seen.insert(start, len as u32 | CONTIGUOUS);
        }
        return Some((pos + 1, len, true));
    }
    if b < 0xc0 {
        return None;
    }
    let lo = *msg.get(pos + 1)?;
    let target = (usize::from(b & 0x3f) << 8) | usize::from(lo);
    // Below the name's start implies before `pos` and inside the message (see walk_name).
    if target >= start {
        return None;
    }
    // The common case: a pointer to a name met before.
    if let Some(info) = seen.get(target) {
        if !R::COLLECT || info & CONTIGUOUS != 0 {
            let rest = (info & 0xff) as usize;
            let len = in_place + rest;
            if len > MAX_NAME_LEN {
                return None;
            }
            if R::COLLECT {
                if in_place > 0 {
                    runs.push(start, in_place);
                }
                runs.push(target, rest);
            }
            if REMEMBER && in_place > 0 {
                seen.insert(start, len as u32);
            }
            return Some((pos + 2, len, false));
        }
    }
    let (end, len) = follow::<R, REMEMBER>(msg, start, pos, target, seen, runs)?;
    Some((end, len, false))
}

/// The rest of [`walk_fast`] once it has followed a first pointer, at `pos` to `target`, that
/// `seen` could not resolve.
#[inline(never)]
fn follow<R: Pieces, const REMEMBER: bool>(
    msg: &[u8],
    start: usize,
    mut pos: usize,
    mut target: usize,
    seen: &mut Seen,
    runs: &mut R,
) -> Option<(usize, usize)> {
    let end = pos + 2;
    // Expanded length so far, root label included. Checked against the limit once per segment:
    // it only grows, so a name within the limit at the end never crossed it on the way.
    let in_place_len = pos - start + 1;
    let mut len = in_place_len;
    let first_target = target;
    let mut first = true;
    if R::COLLECT && pos > start {
        runs.push(start, pos - start);
    }
    loop {
        // `target` is below the current segment, hence before `pos` and inside the message.
        if let Some(info) = seen.get(target) {
            if !R::COLLECT || info & CONTIGUOUS != 0 {
                let rest = (info & 0xff) as usize;
                let total = len + rest - 1;
                if total > MAX_NAME_LEN {
                    return None;
                }
                if R::COLLECT {
                    runs.push(target, rest);
                }
                if !first {
                    seen.insert(first_target, (total + 1 - in_place_len) as u32);
                }
                if REMEMBER && in_place_len > 1 {
                    seen.insert(start, total as u32);
                }
                return Some((end, total));
            }
        }
        let b;
        (pos, b) = labels_end(msg, target)?;
        len += pos - target;
        if len > MAX_NAME_LEN {
            return None;
        }
        if b == 0 {
            if R::COLLECT {
                runs.push(target, pos + 1 - target);
            }
            let contiguous = if first { CONTIGUOUS } else { 0 };
            seen.insert(first_target, (len + 1 - in_place_len) as u32 | contiguous);
            if REMEMBER && in_place_len > 1 {
                seen.insert(start, len as u32);
            }
            return Some((end, len));
        }
        if b < 0xc0 {
            return None;
        }
        let lo = *msg.get(pos + 1)?;
        let next = (usize::from(b & 0x3f) << 8) | usize::from(lo);
        // Pointer targets must stay below the start of the current segment (see walk_name).
        if next >= target {
            return None;
        }
        if R::COLLECT && pos > target {
            runs.push(target, pos - target);
        }
        first = false;
        target = next;
    }
}

/// Skips the name at `start` if it is valid, remembering validated names in `seen` and stopping
/// at pointers to names remembered there; `None` if it is not (or is unusual), for
/// [`skip_name`] to tell why. With `REMEMBER`, a name entirely in place is remembered too (the
/// question: answers point to it); pointer targets always are.
#[inline(always)]
pub(crate) fn skip_name_fast<const REMEMBER: bool>(
    msg: &[u8],
    start: usize,
    seen: &mut Seen,
) -> Option<usize> {
    walk_fast::<(), REMEMBER>(msg, start, seen, &mut ()).map(|(end, _, _)| end)
}

/// The owner of a record: the same bytes as the previous owner when that one lay entirely in
/// place (`prev`, kept up to date here), else as [`skip_name_fast`]. A name in place is
/// position-independent, so the owners of an uncompressed RRset are checked by one comparison
/// instead of a walk. `(end, length)`, `None` as [`skip_name_fast`].
#[inline(always)]
pub(crate) fn owner_fast<'a, R: Pieces>(
    msg: &'a [u8],
    start: usize,
    seen: &mut Seen,
    prev: &mut &'a [u8],
    runs: &mut R,
) -> Option<(usize, usize)> {
    let n = prev.len();
    if n >= 8
        && msg
            .get(start..start + n)
            .is_some_and(|here| same_bytes(prev, here))
    {
        runs.push(start, n);
        return Some((start + n, n));
    }
    let (end, len, in_place) = walk_fast::<R, false>(msg, start, seen, runs)?;
    *prev = if in_place && len >= 8 {
        &msg[start..end]
    } else {
        &[]
    };
    Some((end, len))
}

/// Checks the name at `start`, remembering validated names in `seen` and stopping at pointers
/// to names remembered there; where it lies if it is valid, `None` if it is not (or is
/// unusual), for [`read_name`] to tell why. `REMEMBER` as in [`skip_name_fast`].
#[inline(always)]
pub(crate) fn read_name_fast<const REMEMBER: bool>(
    msg: &[u8],
    start: usize,
    seen: &mut Seen,
) -> Option<NameAt> {
    let mut runs = Runs {
        a: (0, 0),
        b: (0, 0),
        n: 0,
    };
    let (end, len, _) = walk_fast::<Runs, REMEMBER>(msg, start, seen, &mut runs)?;
    Some(NameAt {
        start,
        end,
        len,
        runs,
    })
}

/// [`read_name_fast`] for an owner name, with [`owner_fast`]'s shortcut.
#[inline(always)]
pub(crate) fn read_owner_fast<'a>(
    msg: &'a [u8],
    start: usize,
    seen: &mut Seen,
    prev: &mut &'a [u8],
) -> Option<NameAt> {
    let mut runs = Runs {
        a: (0, 0),
        b: (0, 0),
        n: 0,
    };
    let (end, len) = owner_fast(msg, start, seen, prev, &mut runs)?;
    Some(NameAt {
        start,
        end,
        len,
        runs,
    })
}

/// Writes one label in presentation form (RFC 1035 5.1 escapes).
pub fn write_label(out: &mut impl fmt::Write, label: &[u8]) -> fmt::Result {
    for &b in label {
        match b {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                out.write_char('\\')?;
                out.write_char(b as char)?;
            }
            0x21..=0x7e => out.write_char(b as char)?,
            _ => write!(out, "\\{b:03}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            write_label(f, label)?;
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Parses presentation text with `\.` and `\DDD` escapes. Names are always absolute: a missing
/// final dot is implied.
impl FromStr for Name {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Name, WireError> {
        let err = |kind: ErrorKind| WireError::invalid(format!("name {s:?}"), kind.to_string());
        if s == "." {
            return Ok(Name::root());
        }
        if s.is_empty() {
            return Err(WireError::invalid("name", "empty name"));
        }
        let bytes = s.as_bytes();
        let mut b = NameBuilder::new();
        let mut label = Vec::with_capacity(MAX_LABEL_LEN);
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'.' => {
                    b.push(&label).map_err(err)?;
                    label.clear();
                    i += 1;
                    if i == bytes.len() {
                        return Ok(b.finish());
                    }
                    continue;
                }
                b'\\' => {
                    let rest = &bytes[i + 1..];
                    if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
                        let v = u32::from(rest[0] - b'0') * 100
                            + u32::from(rest[1] - b'0') * 10
                            + u32::from(rest[2] - b'0');
                        let v = u8::try_from(v).map_err(|_| {
                            WireError::invalid(format!("name {s:?}"), "escape \\DDD above 255")
                        })?;
                        label.push(v);
                        i += 4;
                    } else if let Some(&c) = rest.first() {
                        label.push(c);
                        i += 2;
                    } else {
                        return Err(WireError::invalid(
                            format!("name {s:?}"),
                            "dangling backslash",
                        ));
                    }
                }
                c => {
                    label.push(c);
                    i += 1;
                }
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(err(ErrorKind::LabelTooLong { len: label.len() }));
            }
        }
        b.push(&label).map_err(err)?;
        Ok(b.finish())
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg_with(name_at_12: &[u8], rest: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 12];
        m.extend_from_slice(name_at_12);
        m.extend_from_slice(rest);
        m
    }

    #[test]
    fn reads_plain_and_compressed_names() {
        let m = msg_with(b"\x03www\x07example\x03com\x00", b"\x04mail\xc0\x10");
        let (n, end) = read_name(&m, 12).unwrap();
        assert_eq!(n.to_string(), "www.example.com.");
        assert_eq!(end, 29);
        let (n2, end2) = read_name(&m, 29).unwrap();
        assert_eq!(n2.to_string(), "mail.example.com.");
        assert_eq!(end2, m.len());
    }

    #[test]
    fn rejects_bad_pointers() {
        // Pointer to itself.
        let m = msg_with(b"\xc0\x0c", b"");
        assert!(matches!(
            read_name(&m, 12).unwrap_err().kind,
            ErrorKind::PointerForward { target: 12 }
        ));
        // Pointer into the same name: a loop.
        let m = msg_with(b"\x01a\xc0\x0c", b"");
        let e = read_name(&m, 12).unwrap_err();
        assert_eq!(e.offset, 14);
        assert!(matches!(e.kind, ErrorKind::PointerLoop { target: 12 }));
        // Two pointers that point at each other.
        let m = msg_with(b"\xc0\x0e\xc0\x0c", b"");
        assert!(read_name(&m, 14).is_err());
        // Past the end.
        let m = msg_with(b"\xc1\x00", b"");
        assert!(matches!(
            read_name(&m, 12).unwrap_err().kind,
            ErrorKind::PointerPastEnd { .. }
        ));
        // Reserved label types.
        for b in [0x40u8, 0x80] {
            let m = msg_with(&[b, 0], b"");
            assert!(matches!(
                read_name(&m, 12).unwrap_err().kind,
                ErrorKind::ReservedLabelType { .. }
            ));
        }
    }

    #[test]
    fn rejects_long_names_built_from_pointers() {
        // Each segment: a 50-octet label then a pointer to the previous segment.
        let mut m = vec![0u8; 12];
        let mut prev = None;
        let mut starts = vec![];
        for _ in 0..6 {
            let start = m.len();
            starts.push(start);
            m.push(50);
            m.extend_from_slice(&[b'x'; 50]);
            match prev {
                None => m.push(0),
                Some(p) => m.extend_from_slice(&[0xc0 | (p >> 8) as u8, p as u8]),
            }
            prev = Some(start);
        }
        let e = read_name(&m, *starts.last().unwrap()).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::NameTooLong { .. }), "{e}");
    }

    #[test]
    fn presentation_round_trip() {
        for s in [
            "a.b.",
            ".",
            "w\\.w.x.",
            "sp\\032ace.",
            "\\000.x.",
            "a\\\\b.",
        ] {
            let n: Name = s.parse().unwrap();
            assert_eq!(n.to_string(), s);
        }
        assert_eq!(
            "example.com".parse::<Name>().unwrap().to_string(),
            "example.com."
        );
        assert!("a..b".parse::<Name>().is_err());
        assert!(format!("{}.", "x".repeat(64)).parse::<Name>().is_err());
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.parse::<Name>().is_err());
    }

    #[test]
    fn subdomains_and_case() {
        let a: Name = "WWW.Example.com.".parse().unwrap();
        let b: Name = "example.COM.".parse().unwrap();
        assert!(a.is_subdomain_of(&b));
        assert!(!b.is_subdomain_of(&a));
        assert!(a.to_lowercase().eq_ignore_case(&a));
        assert_eq!(a.to_lowercase().to_string(), "www.example.com.");
        let c: Name = "xample.com.".parse().unwrap();
        assert!(!b.is_subdomain_of(&c));
        assert_eq!(a.parent().unwrap().to_string(), "Example.com.");
        assert!(Name::root().parent().is_none());
    }
}
