//! The cache store: answers kept in wire form, bounded by bytes, evicted by CLOCK (second chance).
//!
//! A hit is served by copying the stored bytes, rewriting the ID, the question's letter case and
//! the RD/CD bits, and aging every TTL in place: the message is never decoded or re-encoded on the
//! way out. The store decides nothing about lifetimes (that is `policy`); it records what it was
//! told and reports, for a lookup, how fresh the entry is.

use core::time::Duration;
use std::collections::HashMap;
use std::sync::Arc;

use super::policy::{Lookup, Shadow, Stored};

use crate::wire::build::{append_opt, Opt};
use crate::wire::name::MAX_NAME_LEN;
use crate::wire::view::{flags, lowercase_name, MessageView, QuestionRef, HEADER_LEN};
use crate::wire::{RType, WireError};

/// Longest key: flags, type, class, name.
pub const MAX_KEY_LEN: usize = 5 + MAX_NAME_LEN;

/// Cache key: DO and CD bits, QTYPE, QCLASS and the lowercased name, as bytes.
#[derive(Clone, Copy)]
pub struct KeyBuf {
    buf: [u8; MAX_KEY_LEN],
    len: usize,
}

impl core::fmt::Debug for KeyBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KeyBuf({:?})", self.as_bytes())
    }
}

impl PartialEq for KeyBuf {
    fn eq(&self, other: &KeyBuf) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for KeyBuf {}

impl core::hash::Hash for KeyBuf {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl core::borrow::Borrow<[u8]> for KeyBuf {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl KeyBuf {
    /// The key of the first question of `msg`, with the DO and CD bits the client asked for.
    pub fn for_question(
        msg: &[u8],
        dnssec_ok: bool,
        checking_disabled: bool,
    ) -> Result<KeyBuf, WireError> {
        let view = MessageView::new(msg)?;
        let Some(q) = view.question()? else {
            return Err(WireError::invalid(
                "question",
                "the message has no question",
            ));
        };
        KeyBuf::from_question(msg, &q, dnssec_ok, checking_disabled)
    }

    /// The key of an already located question (the per-packet path: no second walk).
    #[inline(always)]
    pub fn from_question(
        msg: &[u8],
        q: &QuestionRef,
        dnssec_ok: bool,
        checking_disabled: bool,
    ) -> Result<KeyBuf, WireError> {
        let mut k = KeyBuf::EMPTY;
        k.set_question(msg, q, dnssec_ok, checking_disabled)?;
        Ok(k)
    }

    /// No key (length 0): a buffer for [`KeyBuf::set_question`].
    pub const EMPTY: KeyBuf = KeyBuf {
        buf: [0; MAX_KEY_LEN],
        len: 0,
    };

    /// Makes this buffer the key of an already located question, in place: the per-packet
    /// path reuses one buffer, so a query neither zeroes nor moves its 260 bytes. On an error
    /// the buffer holds no key (length 0).
    #[inline(always)]
    pub fn set_question(
        &mut self,
        msg: &[u8],
        q: &QuestionRef,
        dnssec_ok: bool,
        checking_disabled: bool,
    ) -> Result<(), WireError> {
        let k = self;
        k.len = 0;
        // Fast path: a name written entirely in place (every question at offset 12 without a
        // pointer) is copied once and lowercased in one pass; length bytes are at most 63 and
        // never ASCII letters, so lowercasing them too is harmless.
        let name = msg.get(q.name_start..q.name_end).unwrap_or_default();
        let n = if in_place(name) {
            // One pass, no call to memcpy (a name is a few dozen bytes).
            for (d, s) in k.buf[5..5 + name.len()].iter_mut().zip(name) {
                *d = s.to_ascii_lowercase();
            }
            name.len()
        } else {
            lowercase_name(msg, q.name_start, &mut k.buf[5..])?
        };
        k.len = 5 + n;
        k.buf[0] = u8::from(dnssec_ok) | u8::from(checking_disabled) << 1;
        k.buf[1..3].copy_from_slice(&q.qtype.0.to_be_bytes());
        k.buf[3..5].copy_from_slice(&q.qclass.0.to_be_bytes());
        Ok(())
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn qtype(&self) -> RType {
        RType(u16::from_be_bytes([self.buf[1], self.buf[2]]))
    }

    /// The lowercased name in wire form.
    #[inline]
    pub fn name_wire(&self) -> &[u8] {
        &self.buf[5..self.len]
    }
}

/// Whether `name` is a whole name without pointers, ending exactly at its root label.
#[inline]
fn in_place(name: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&l) = name.get(i) {
        if l == 0 {
            return i + 1 == name.len() && name.len() <= MAX_NAME_LEN;
        }
        if l & 0xc0 != 0 {
            return false;
        }
        i += 1 + usize::from(l);
    }
    false
}

/// What kind of answer an entry holds; the policy decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Positive,
    Negative,
    /// A negative answer for a name that answered positively moments ago (incident 004).
    SuspectNegative,
    /// SERVFAIL or no answer at all (RFC 9520).
    Failure,
}

/// One cached response.
///
/// Its bytes and the offsets of its TTL fields share one allocation: the stored message, then
/// the offsets as native-endian `u16`s. A large answer also keeps its fitted forms, one per
/// client size limit it was asked for, so a UDP hit never re-encodes.
// `repr(C)`: the fields a cache hit reads come first, so they share the entry's first cache
// line or two (a hit's lines are cold: the kernel's network stack ran since the last batch).
#[derive(Debug, Clone)]
#[repr(C)]
pub struct Entry {
    /// The response without OPT, ID zero, question name lowercased; then the TTL offsets.
    data: Box<[u8]>,
    /// Where the message ends in `data`.
    wire_len: usize,
    /// When it was stored, on the caller's clock.
    pub stored_at: Duration,
    /// Its lifetime in seconds, as the policy set it.
    pub ttl: u32,
    /// For a failure entry: failures in a row it stands for (RFC 9520 backoff).
    pub failures: u32,
    pub kind: EntryKind,
    /// The response's extended RCODE bits (from its OPT, which is not stored).
    pub ext_rcode: u8,
    /// Where it came from, for the admin API and `dnspect cache show`.
    pub provenance: Provenance,
    /// Forms fitted to client limits (at most [`MAX_FORMS`]), made on first need.
    forms: Vec<FittedForm>,
    /// Until when the store keeps it (expiry plus the stale or suspect window).
    pub keep_until: Duration,
    /// The rule that set the lifetime, for events.
    pub rule: &'static str,
}

/// Where an entry came from, kept beside it so an operator can ask what the cache holds and
/// why (the admin API, `dnspect cache show`, the npm `Forwarder.cacheEntries`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Provenance {
    /// The upstream's first Extended DNS Error (RFC 8914), passed on to clients with the answer
    /// (first: a cache hit reads it).
    pub ede: Option<(u16, Box<str>)>,
    /// The upstream that answered (its label, shared with the upstream list: no allocation per
    /// entry). None: the engine wrote the entry itself (a failure after giving up).
    pub upstream: Option<Arc<str>>,
    /// The TTL the upstream gave before the policy clamped it: the smallest answer TTL, or the
    /// RFC 2308 SOA TTL of a negative answer. None for failures.
    pub upstream_ttl: Option<u32>,
}

impl Provenance {
    /// Heap bytes it owns (the upstream label is shared and not counted).
    pub fn cost(&self) -> usize {
        self.ede.as_ref().map_or(0, |(_, t)| heap(t.len()))
    }
}

/// Fitted forms an entry keeps; a limit past them is fitted for each answer.
pub const MAX_FORMS: usize = 4;

/// An entry's message fitted to a limit (re-compressed, minimal response, truncated with TC),
/// kept like the entry: ID zero, no OPT, question lowercased, with its own TTL offsets.
#[derive(Debug, Clone)]
pub struct FittedForm {
    /// The largest message (without the OPT the client gets) it was made for.
    pub limit: usize,
    /// The message, then its TTL offsets (as in [`Entry`]).
    data: Box<[u8]>,
    wire_len: usize,
    /// What fitting did, for the answer's event.
    pub steps: FitSteps,
}

/// What fitting an entry to a limit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitSteps {
    /// The size of the whole form before (the stored message).
    pub original: usize,
    /// After minimal-response trimming, if that step was needed.
    pub minimized: Option<usize>,
    /// What truncation dropped, if that step was needed.
    pub truncation: Option<crate::wire::Truncation>,
}

/// A message and its TTL offsets in one allocation.
fn pack(wire: &[u8], ttl_offsets: &[u16]) -> Box<[u8]> {
    let mut data = Vec::with_capacity(wire.len() + 2 * ttl_offsets.len());
    data.extend_from_slice(wire);
    for o in ttl_offsets {
        data.extend_from_slice(&o.to_ne_bytes());
    }
    data.into_boxed_slice()
}

fn offsets(data: &[u8], wire_len: usize) -> impl Iterator<Item = usize> + '_ {
    data[wire_len..]
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_ne_bytes([c[0], c[1]])))
}

/// The stored form of a message: ID zero, question name lowercased in place.
fn normalize(wire: &mut [u8]) {
    if wire.len() >= 2 {
        wire[0] = 0;
        wire[1] = 0;
    }
    if wire.len() > HEADER_LEN && u16::from_be_bytes([wire[4], wire[5]]) > 0 {
        let mut pos = HEADER_LEN;
        while pos < wire.len() && wire[pos] != 0 && wire[pos] & 0xc0 == 0 {
            let l = usize::from(wire[pos]);
            let end = (pos + 1 + l).min(wire.len());
            wire[pos + 1..end].make_ascii_lowercase();
            pos += 1 + l;
        }
    }
}

impl Entry {
    /// Prepares a response for storing or for answering clients: OPT dropped, ID zeroed,
    /// question lowercased, TTL offsets found (a walk of the message; the miss path uses
    /// [`Entry::from_encoded`] instead).
    pub fn new(
        response: &[u8],
        kind: EntryKind,
        now: Duration,
        ttl: u32,
        retention: Duration,
        rule: &'static str,
    ) -> Result<Entry, WireError> {
        let (wire, ttl_offsets, ext_rcode) = storable(response)?;
        Ok(Entry::from_encoded(
            &wire,
            &ttl_offsets,
            ext_rcode,
            kind,
            now,
            ttl,
            retention,
            rule,
        ))
    }

    /// An entry from a message already in stored form but for its ID and question case
    /// (without OPT: [`crate::wire::Message::encode_stored`]) and the offsets of its TTLs, as
    /// that one encode recorded them: one allocation.
    #[allow(clippy::too_many_arguments)]
    pub fn from_encoded(
        wire: &[u8],
        ttl_offsets: &[u16],
        ext_rcode: u8,
        kind: EntryKind,
        now: Duration,
        ttl: u32,
        retention: Duration,
        rule: &'static str,
    ) -> Entry {
        let mut data = pack(wire, ttl_offsets);
        normalize(&mut data[..wire.len()]);
        let expires = now.saturating_add(Duration::from_secs(u64::from(ttl)));
        Entry {
            data,
            wire_len: wire.len(),
            forms: Vec::new(),
            ext_rcode,
            kind,
            stored_at: now,
            ttl,
            keep_until: expires.saturating_add(retention),
            rule,
            failures: 0,
            provenance: Provenance::default(),
        }
    }

    /// The same entry with its provenance.
    pub fn with_provenance(mut self, provenance: Provenance) -> Entry {
        self.provenance = provenance;
        self
    }

    /// Sets and clears header flag bits of the stored message (the engine normalizes AA, RA and
    /// AD before storing: RFC 6840 5.7-5.8, issue 12). Before any fitted form is kept: forms
    /// carry their own header.
    pub fn set_flags(&mut self, set: u16, clear: u16) {
        if let Some(f) = self.data[..self.wire_len].get_mut(2..4) {
            let v = (u16::from_be_bytes([f[0], f[1]]) & !clear) | set;
            f.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// The stored header flags.
    pub fn flags(&self) -> u16 {
        self.wire()
            .get(2..4)
            .map_or(0, |f| u16::from_be_bytes([f[0], f[1]]))
    }

    /// Heap bytes this entry owns (its bytes and offsets, its fitted forms, as malloc rounds
    /// them, and an upstream EDE text). The entry itself lives inline in its key's slot, counted by [`key_cost`].
    pub fn cost(&self) -> usize {
        heap(self.data.len())
            + if self.forms.is_empty() {
                0
            } else {
                heap(self.forms.capacity() * core::mem::size_of::<FittedForm>())
                    + self.forms.iter().map(|f| heap(f.data.len())).sum::<usize>()
            }
            + self.provenance.cost()
    }

    /// The stored message (ID zero, no OPT, TTLs as received).
    pub fn wire(&self) -> &[u8] {
        &self.data[..self.wire_len]
    }

    /// Offsets of every TTL field in [`Entry::wire`].
    pub fn ttl_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        offsets(&self.data, self.wire_len)
    }

    /// The fitted form kept for this limit.
    pub fn form(&self, limit: usize) -> Option<&FittedForm> {
        self.forms.iter().find(|f| f.limit == limit)
    }

    /// The fitted forms kept.
    pub fn forms(&self) -> &[FittedForm] {
        &self.forms
    }

    /// Keeps a fitted form (unless [`MAX_FORMS`] are kept already); returns the bytes it adds.
    pub fn keep_form(&mut self, form: FittedForm) -> usize {
        if self.forms.len() >= MAX_FORMS || self.form(form.limit).is_some() {
            return 0;
        }
        let before = self.cost();
        if self.forms.capacity() == 0 {
            self.forms.reserve_exact(MAX_FORMS);
        }
        self.forms.push(form);
        self.cost() - before
    }

    pub fn expires(&self) -> Duration {
        self.stored_at
            .saturating_add(Duration::from_secs(u64::from(self.ttl)))
    }

    /// The policy's view of it.
    pub fn stored(&self) -> Stored {
        Stored {
            inserted: self.stored_at,
            ttl: self.ttl,
        }
    }
}

impl FittedForm {
    /// A fitted message (any ID, question case, no OPT) for `limit`, its TTL offsets found by
    /// one walk.
    pub fn new(limit: usize, fitted: &[u8], steps: FitSteps) -> Result<FittedForm, WireError> {
        let view = MessageView::new(fitted)?;
        let mut found = Vec::new();
        for r in view.records() {
            let r = r?;
            if r.rtype == RType::OPT {
                return Err(WireError::invalid("fitted form", "carries an OPT record"));
            }
            found.push(
                u16::try_from(r.ttl_offset)
                    .map_err(|_| WireError::invalid("response", "larger than 65535 bytes"))?,
            );
        }
        let mut data = pack(fitted, &found);
        normalize(&mut data[..fitted.len()]);
        Ok(FittedForm {
            limit,
            data,
            wire_len: fitted.len(),
            steps,
        })
    }

    pub fn wire(&self) -> &[u8] {
        &self.data[..self.wire_len]
    }

    pub fn ttl_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        offsets(&self.data, self.wire_len)
    }
}

/// What a key holds: its positive answer, and a negative, suspect-negative or failure entry
/// beside it (the policy's "shadow"). Keeping both is what lets a failure or a suspect negative
/// never hide a usable positive answer.
///
/// The shadow is boxed: most keys have none, and inline it would double every slot and push
/// the fields a hit reads apart.
#[derive(Debug, Clone, Default)]
#[repr(C)]
pub struct Slot {
    pub positive: Option<Entry>,
    pub shadow: Option<Box<Entry>>,
}

impl Slot {
    fn cost(&self) -> usize {
        self.positive.as_ref().map_or(0, Entry::cost)
            + self
                .shadow
                .as_ref()
                .map_or(0, |e| e.cost() + heap(core::mem::size_of::<Entry>()))
    }

    fn keep_until(&self) -> Duration {
        let p = self
            .positive
            .as_ref()
            .map_or(Duration::ZERO, |e| e.keep_until);
        let s = self
            .shadow
            .as_ref()
            .map_or(Duration::ZERO, |e| e.keep_until);
        p.max(s)
    }

    /// The policy's view of this slot.
    pub fn lookup(&self) -> Lookup {
        Lookup {
            positive: self.positive.as_ref().map(Entry::stored),
            shadow: self.shadow.as_ref().map(|e| match e.kind {
                EntryKind::Negative | EntryKind::Positive => Shadow::Negative(e.stored()),
                EntryKind::SuspectNegative => Shadow::SuspectNegative(e.stored()),
                EntryKind::Failure => Shadow::Failure(e.stored()),
            }),
        }
    }
}

/// Counters the store keeps for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "CacheStats"))]
pub struct StoreStats {
    pub keys: usize,
    pub bytes: usize,
    pub evictions: u64,
    pub inserts: u64,
}

// `repr(C)`, like [`Entry`]: the CLOCK bit and the positive entry's hot fields first.
#[repr(C)]
struct Held {
    referenced: bool,
    slot: Slot,
    /// The key, shared with the index (one allocation).
    key: Arc<[u8]>,
}

impl core::fmt::Debug for Held {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Held")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Slots per chunk of [`Slots`].
const CHUNK: usize = 64;
/// Slots of a store's first allocation: the last chunk grows by doubling from here up to
/// [`CHUNK`].
const FIRST_SLOTS: usize = 1;

/// The store's slots, indexed from 0, in chunks of [`CHUNK`]; only the last chunk may be
/// partly filled. It grows by doubling up to a whole chunk, so the spare capacity stays under
/// one chunk (a doubling vector could leave half of it unused, uncounted), and a shard holding
/// a few keys takes a few hundred bytes for them rather than a whole 22 KB chunk: a server's
/// 1 GiB cache has 1,024 shards, which took 22 MB before they held anything worth it
/// (`tests/store_memory.rs`).
#[derive(Debug, Default)]
struct Slots {
    chunks: Vec<Vec<Option<Held>>>,
    len: usize,
}

impl Slots {
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn at(&self, i: usize) -> &Option<Held> {
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    #[inline]
    fn at_mut(&mut self, i: usize) -> &mut Option<Held> {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }

    /// Adds a slot at the end; returns its index.
    fn push(&mut self, h: Held) -> usize {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => {
                if last.len() == last.capacity() {
                    last.reserve_exact((2 * last.len()).min(CHUNK) - last.len());
                }
                last.push(Some(h));
            }
            _ => {
                let mut chunk = Vec::with_capacity(if self.chunks.is_empty() {
                    FIRST_SLOTS
                } else {
                    CHUNK
                });
                chunk.push(Some(h));
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
        self.len - 1
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    fn iter(&self) -> impl Iterator<Item = &Held> {
        self.chunks.iter().flat_map(|c| c.iter()).flatten()
    }
}

/// The store: a hash map from key to slot index, and slots swept by a CLOCK hand.
#[derive(Debug)]
pub struct Store {
    index: HashMap<Arc<[u8]>, usize, rustc_hash::FxBuildHasher>,
    /// The slots, in chunks of [`CHUNK`]: growing adds one chunk, so the spare capacity is
    /// at most one chunk (a doubling vector could leave half of it unused, uncounted).
    held: Slots,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
    max_bytes: usize,
    evictions: u64,
    inserts: u64,
}

/// Heap bytes glibc's malloc takes for `n` requested bytes: 16-byte chunks with an 8-byte
/// header, 32 at least; an empty boxed slice does not allocate.
pub fn heap(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// What a key costs besides its entries' bytes: the key once (an `Arc` the index and the slot
/// share: two counters and the bytes), its slot (both entries inline) and its index entry
/// (hashbrown: the pair plus a control byte, at a load factor of 7/8).
/// `core/tests/store_memory.rs` checks the sum against the heap.
pub fn key_cost(key_len: usize) -> usize {
    heap(2 * core::mem::size_of::<usize>() + key_len)
        + core::mem::size_of::<Option<Held>>()
        + (core::mem::size_of::<(Arc<[u8]>, usize)>() + 1) * 8 / 7
}

impl Store {
    pub fn new(max_bytes: usize) -> Store {
        Store {
            index: HashMap::default(),
            held: Slots::default(),
            free: Vec::new(),
            hand: 0,
            bytes: 0,
            max_bytes,
            evictions: 0,
            inserts: 0,
        }
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats {
            keys: self.index.len(),
            bytes: self.bytes,
            evictions: self.evictions,
            inserts: self.inserts,
        }
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Changes the budget (a reload), evicting at once down to a smaller one.
    pub fn set_max_bytes(&mut self, max_bytes: usize, now: Duration) {
        self.max_bytes = max_bytes;
        while self.bytes > self.max_bytes && !self.index.is_empty() {
            self.evict_one(now);
        }
    }

    /// The slot for a key. Entries past their `keep_until` are still returned; the policy
    /// decides what they are good for.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Slot> {
        let &i = self.index.get(key)?;
        self.held.at(i).as_ref().map(|h| &h.slot)
    }

    /// The slot for a key, marked as used (its second chance under CLOCK): one hash lookup on
    /// the hit path.
    #[inline]
    pub fn get_touched(&mut self, key: &[u8]) -> Option<&Slot> {
        let &i = self.index.get(key)?;
        let h = self.held.at_mut(i).as_mut()?;
        // Written only when it changes: a hot entry read by several workers keeps its cache
        // line shared instead of bouncing between their cores on every hit.
        if !h.referenced {
            h.referenced = true;
        }
        Some(&h.slot)
    }

    /// Marks a key as used (its second chance under CLOCK).
    #[inline]
    pub fn touch(&mut self, key: &[u8]) {
        if let Some(&i) = self.index.get(key) {
            if let Some(h) = self.held.at_mut(i).as_mut().filter(|h| !h.referenced) {
                h.referenced = true;
            }
        }
    }

    /// Stores an entry for a key: a positive entry replaces the positive one (and clears a
    /// shadow that is older); any other kind replaces the shadow. A confirmed negative also
    /// drops the positive entry. Returns false if the entry alone exceeds the budget.
    pub fn insert(&mut self, key: &[u8], entry: Entry, now: Duration) -> bool {
        // A shadow entry is boxed (see [`Slot`]).
        let boxed = match entry.kind {
            EntryKind::Positive => 0,
            _ => heap(core::mem::size_of::<Entry>()),
        };
        let cost = entry.cost() + boxed + key_cost(key.len());
        if cost > self.max_bytes {
            return false;
        }
        if !self.index.contains_key(key) {
            return self.insert_new(key, entry, cost, now);
        }
        let mut slot = self.remove(key).unwrap_or_default();
        match entry.kind {
            EntryKind::Positive => {
                slot.shadow = None;
                slot.positive = Some(entry);
            }
            EntryKind::Negative => {
                slot.positive = None;
                slot.shadow = Some(Box::new(entry));
            }
            EntryKind::SuspectNegative | EntryKind::Failure => slot.shadow = Some(Box::new(entry)),
        }
        let total = slot.cost() + key_cost(key.len());
        self.place(key, slot, total, now)
    }

    /// [`Store::insert`] for a key not held: its slot holds only `entry` (`cost`: its cost
    /// with the key's), built in place.
    fn insert_new(&mut self, key: &[u8], entry: Entry, cost: usize, now: Duration) -> bool {
        let slot = match entry.kind {
            EntryKind::Positive => Slot {
                positive: Some(entry),
                shadow: None,
            },
            _ => Slot {
                positive: None,
                shadow: Some(Box::new(entry)),
            },
        };
        self.place(key, slot, cost, now)
    }

    /// Holds `slot` for a key the index does not have, costing `cost` with the key: evicts
    /// until the budget has room, then takes a free slot or a new one.
    fn place(&mut self, key: &[u8], slot: Slot, cost: usize, now: Duration) -> bool {
        while self.bytes + cost > self.max_bytes && !self.index.is_empty() {
            self.evict_one(now);
        }
        self.bytes += cost;
        self.inserts += 1;
        let key: Arc<[u8]> = Arc::from(key);
        let held = Held {
            key: key.clone(),
            slot,
            referenced: false,
        };
        let i = match self.free.pop() {
            Some(i) => {
                *self.held.at_mut(i) = Some(held);
                i
            }
            None => self.held.push(held),
        };
        self.index.insert(key, i);
        true
    }

    /// Keeps a fitted form on a key's positive entry (`shadow`: on its shadow entry) if the
    /// budget has room for it; nothing is evicted for it.
    pub fn keep_form(&mut self, key: &[u8], shadow: bool, form: FittedForm) {
        let Some(&i) = self.index.get(key) else {
            return;
        };
        let room = self.max_bytes.saturating_sub(self.bytes);
        if heap(form.data.len()) + heap(MAX_FORMS * core::mem::size_of::<FittedForm>()) > room {
            return;
        }
        let Some(h) = self.held.at_mut(i).as_mut() else {
            return;
        };
        let e = if shadow {
            h.slot.shadow.as_deref_mut()
        } else {
            h.slot.positive.as_mut()
        };
        if let Some(e) = e {
            self.bytes += e.keep_form(form);
        }
    }

    /// Removes every key; returns how many went.
    pub fn clear(&mut self) -> usize {
        let n = self.index.len();
        self.index.clear();
        self.held.clear();
        self.free.clear();
        self.hand = 0;
        self.bytes = 0;
        n
    }

    /// Removes the keys `pred` returns true for; returns how many went.
    pub fn remove_where(&mut self, mut pred: impl FnMut(&[u8]) -> bool) -> usize {
        let gone: Vec<Arc<[u8]>> = self
            .held
            .iter()
            .filter(|h| pred(&h.key))
            .map(|h| h.key.clone())
            .collect();
        for k in &gone {
            self.remove(k);
        }
        gone.len()
    }

    /// Every key and its slot, in no particular order (the admin API's listing: a scan, which
    /// is fine for an operator's question and never on the per-packet path).
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<[u8]>, &Slot)> {
        self.held.iter().map(|h| (&h.key, &h.slot))
    }

    /// The keys whose name is `name` (lowercase wire form), or ends with it on a label boundary
    /// when `suffix` (the root matches every key).
    pub fn keys_for(&self, name: &[u8], suffix: bool) -> Vec<Arc<[u8]>> {
        self.held
            .iter()
            .filter(|h| name_matches(key_name(&h.key), name, suffix))
            .map(|h| h.key.clone())
            .collect()
    }

    /// Removes every key of [`Store::keys_for`]; returns how many went.
    pub fn remove_for(&mut self, name: &[u8], suffix: bool) -> usize {
        self.remove_where(|k| name_matches(key_name(k), name, suffix))
    }

    /// Removes a key's slot.
    pub fn remove(&mut self, key: &[u8]) -> Option<Slot> {
        let i = self.index.remove(key)?;
        let h = self.held.at_mut(i).take()?;
        self.bytes -= h.slot.cost() + key_cost(h.key.len());
        self.free.push(i);
        Some(h.slot)
    }

    /// CLOCK: a slot past its keep time goes at once; a referenced one gets a second chance.
    fn evict_one(&mut self, now: Duration) {
        let n = self.held.len();
        for _ in 0..2 * n + 1 {
            self.hand = (self.hand + 1) % n;
            let Some(h) = self.held.at_mut(self.hand) else {
                continue;
            };
            if h.referenced && now < h.slot.keep_until() {
                h.referenced = false;
                continue;
            }
            let key = h.key.clone();
            self.remove(&key);
            self.evictions += 1;
            return;
        }
    }
}

/// The name part of a key (lowercase wire form).
pub fn key_name(key: &[u8]) -> &[u8] {
    key.get(5..).unwrap_or_default()
}

/// Whether the wire-form name `name` is `want`, or (with `suffix`) a name at or under it: the
/// match is on a label boundary, so `ample.com.` does not match `example.com.`. Both lowercase.
pub fn name_matches(name: &[u8], want: &[u8], suffix: bool) -> bool {
    if !suffix {
        return name == want;
    }
    let mut i = 0;
    while i < name.len() {
        if name[i..] == *want {
            return true;
        }
        let l = usize::from(name[i]);
        if l == 0 || l & 0xc0 != 0 {
            return false;
        }
        i += 1 + l;
    }
    false
}

/// Splits a response into what the store keeps: the bytes without OPT, the TTL offsets, and
/// the extended RCODE bits. The OPT record must be the last record (it is, in every response
/// this engine stores, because the engine's own encoder and `fit` put it there); otherwise the
/// message is re-encoded.
/// The stored bytes, the TTL offsets and the extended RCODE bits.
type Storable = (Box<[u8]>, Box<[u16]>, u8);

fn storable(response: &[u8]) -> Result<Storable, WireError> {
    let view = MessageView::new(response)?;
    let scan = view.scan()?;
    let mut offsets = Vec::with_capacity(
        usize::from(view.ancount()) + usize::from(view.nscount()) + usize::from(view.arcount()),
    );
    let mut opt_range = None;
    for r in view.records() {
        let r = r?;
        if r.rtype == RType::OPT {
            opt_range = Some(r.offset..r.end());
        } else {
            offsets.push(
                u16::try_from(r.ttl_offset)
                    .map_err(|_| WireError::invalid("response", "larger than 65535 bytes"))?,
            );
        }
    }
    let ext_rcode = scan.opt.as_ref().map_or(0, |o| o.ext_rcode);
    let mut wire = response[..scan.end].to_vec();
    if let Some(range) = opt_range {
        if range.end == scan.end {
            wire.truncate(range.start);
            let ar = view.arcount() - 1;
            wire[10..12].copy_from_slice(&ar.to_be_bytes());
        } else {
            // OPT in the middle of the additional section: rebuild without it.
            let mut m = crate::wire::Message::from_wire(response)?;
            m.edns = None;
            return storable(&m.to_wire()?);
        }
    }
    wire[0] = 0;
    wire[1] = 0;
    // Lowercase the question name in place so every client's case can be patched over it.
    if view.qdcount() > 0 {
        let mut pos = HEADER_LEN;
        while pos < wire.len() && wire[pos] != 0 && wire[pos] & 0xc0 == 0 {
            let l = usize::from(wire[pos]);
            let end = (pos + 1 + l).min(wire.len());
            wire[pos + 1..end].make_ascii_lowercase();
            pos += 1 + l;
        }
    }
    Ok((
        wire.into_boxed_slice(),
        offsets.into_boxed_slice(),
        ext_rcode,
    ))
}

/// Writes a cached answer for a client into `out`: ID, the client's question bytes (its letter
/// case), RD and CD from the query, TTLs set to the entry's remaining lifetime (or to `fixed_ttl`
/// for stale answers, RFC 8767 4), and an OPT record when the client sent one.
pub fn write_answer(
    e: &Entry,
    query: &[u8],
    now: Duration,
    fixed_ttl: Option<u32>,
    opt: Option<OptOut>,
    out: &mut Vec<u8>,
) {
    write_answer_form(e, None, query, now, fixed_ttl, out);
    if let Some(o) = opt {
        o.append(out, 0, e.ext_rcode);
    }
}

/// [`write_answer`] without the OPT, from the entry's fitted `form` when given (the message a
/// client with a smaller limit gets), else from the entry itself.
pub fn write_answer_form(
    e: &Entry,
    form: Option<&FittedForm>,
    query: &[u8],
    now: Duration,
    fixed_ttl: Option<u32>,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    let wire = form.map_or(e.wire(), FittedForm::wire);
    out.extend_from_slice(wire);
    let m = &mut out[start..];
    m[0] = query[0];
    m[1] = query[1];
    let qflags = u16::from_be_bytes([query[2], query[3]]);
    let mut f = u16::from_be_bytes([m[2], m[3]]);
    f = (f & !(flags::RD | flags::CD)) | (qflags & (flags::RD | flags::CD));
    m[2..4].copy_from_slice(&f.to_be_bytes());
    // The question name occupies the same bytes in both (no pointer can precede offset 12,
    // and the key matched, so the labels have the same lengths): one copy of the client's.
    let mut pos = HEADER_LEN;
    while pos < m.len() && m[pos] != 0 && m[pos] & 0xc0 == 0 {
        pos += 1 + usize::from(m[pos]);
    }
    let end = pos.min(m.len());
    if end <= query.len() && m.get(HEADER_LEN..end).is_some() {
        m[HEADER_LEN..end].copy_from_slice(&query[HEADER_LEN..end]);
    }
    let aged = u32::try_from(now.saturating_sub(e.stored_at).as_secs()).unwrap_or(u32::MAX);
    // Every record shows the entry's remaining lifetime: the policy already took the smallest
    // TTL, clamped it and capped negatives, so no record outlives what the cache promised.
    let left = (e.ttl > 0).then(|| e.ttl.saturating_sub(aged));
    let (data, wire_len) = match form {
        Some(f) => (&f.data[..], f.wire_len),
        None => (&e.data[..], e.wire_len),
    };
    let offsets = data.get(wire_len..).unwrap_or_default().chunks_exact(2);
    let at = |c: &[u8]| usize::from(u16::from_ne_bytes([c[0], c[1]]));
    match fixed_ttl.or(left) {
        // The usual case: every record gets the same value, written without reading the old.
        Some(v) => {
            let v = v.to_be_bytes();
            for c in offsets {
                if let Some(t) = m.get_mut(at(c)..at(c) + 4) {
                    t.copy_from_slice(&v);
                }
            }
        }
        None => {
            for c in offsets {
                if let Some(t) = m.get_mut(at(c)..at(c) + 4) {
                    let old = u32::from_be_bytes([t[0], t[1], t[2], t[3]]);
                    t.copy_from_slice(&old.saturating_sub(aged).to_be_bytes());
                }
            }
        }
    }
}

/// The OPT record a response to an EDNS client carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptOut {
    pub udp_size: u16,
    pub dnssec_ok: bool,
}

impl OptOut {
    /// As an OPT record to write, with this extended RCODE and EDE.
    pub fn opt<'a>(self, ext_rcode: u8, ede: Option<(u16, &'a str)>) -> Opt<'a> {
        Opt {
            udp_size: self.udp_size,
            dnssec_ok: self.dnssec_ok,
            ext_rcode,
            ede,
        }
    }

    /// Appends the OPT record to the message starting at `start` in `out` and bumps ARCOUNT.
    pub fn append(self, out: &mut Vec<u8>, start: usize, ext_rcode: u8) {
        append_opt(out, start, &self.opt(ext_rcode, None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::text::unhex;
    use crate::wire::Message;

    fn seed() -> Vec<u8> {
        unhex(include_str!("../../tests/data/seed000-compressed.hex").trim()).unwrap()
    }

    fn query(name: &str, id: u16) -> Vec<u8> {
        let mut m = Message::default();
        m.header.id = id;
        m.header.rd = true;
        m.questions.push(crate::wire::Question {
            name: name.parse().unwrap(),
            qtype: RType::A,
            class: crate::wire::Class::IN,
        });
        m.to_wire().unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn hit_rewrites_id_case_and_ages_ttls() {
        let mut s = Store::new(1 << 20);
        let q = query("API-push.vivo.com.cn.", 777);
        let key = KeyBuf::for_question(&q, false, false).unwrap();
        let e = Entry::new(&seed(), EntryKind::Positive, secs(1), 60, secs(0), "test").unwrap();
        assert!(s.insert(key.as_bytes(), e, secs(1)));
        let e = s.get(key.as_bytes()).unwrap().positive.as_ref().unwrap();
        let mut out = Vec::new();
        write_answer(e, &q, secs(11), None, None, &mut out);
        let m = Message::from_wire(&out).unwrap();
        assert_eq!(m.header.id, 777);
        assert_eq!(m.questions[0].name.to_string(), "API-push.vivo.com.cn.");
        assert_eq!(m.answers.len(), 20);
        assert!(m.answers.iter().all(|r| r.ttl == 50));
        assert_eq!(out.len(), 358);
        out.clear();
        write_answer(
            e,
            &q,
            secs(11),
            Some(30),
            Some(OptOut {
                udp_size: 1232,
                dnssec_ok: false,
            }),
            &mut out,
        );
        let m = Message::from_wire(&out).unwrap();
        assert!(m.answers.iter().all(|r| r.ttl == 30));
        assert_eq!(m.edns.unwrap().udp_size, 1232);
    }

    #[test]
    fn budget_is_respected_and_clock_evicts() {
        let entry = || Entry::new(&seed(), EntryKind::Positive, secs(0), 60, secs(0), "t").unwrap();
        let one = {
            let mut s = Store::new(1 << 20);
            let k = KeyBuf::for_question(&query("n0.example.", 1), false, false).unwrap();
            s.insert(k.as_bytes(), entry(), secs(0));
            s.stats().bytes
        };
        let mut s = Store::new(one * 3 + one / 2);
        let k0 = KeyBuf::for_question(&query("n0.example.", 1), false, false).unwrap();
        for i in 0..10 {
            let k =
                KeyBuf::for_question(&query(&format!("n{i}.example."), 1), false, false).unwrap();
            assert!(s.insert(k.as_bytes(), entry(), secs(0)));
            s.touch(k0.as_bytes());
            assert!(s.stats().bytes <= s.max_bytes());
        }
        assert_eq!(s.stats().keys, 3);
        assert_eq!(s.stats().evictions, 7);
        assert!(
            s.get(k0.as_bytes()).is_some(),
            "the key used on every round survives CLOCK"
        );
    }

    #[test]
    fn failure_sits_beside_the_positive_entry() {
        let mut s = Store::new(1 << 20);
        let k = KeyBuf::for_question(&query("n0.example.", 1), false, false).unwrap();
        s.insert(
            k.as_bytes(),
            Entry::new(&seed(), EntryKind::Positive, secs(0), 60, secs(0), "t").unwrap(),
            secs(0),
        );
        s.insert(
            k.as_bytes(),
            Entry::new(&seed(), EntryKind::Failure, secs(70), 5, secs(0), "t").unwrap(),
            secs(70),
        );
        let slot = s.get(k.as_bytes()).unwrap();
        assert!(slot.positive.is_some() && slot.shadow.is_some());
        assert!(matches!(slot.lookup().shadow, Some(Shadow::Failure(_))));
        s.insert(
            k.as_bytes(),
            Entry::new(&seed(), EntryKind::Negative, secs(80), 5, secs(0), "t").unwrap(),
            secs(80),
        );
        assert!(s.get(k.as_bytes()).unwrap().positive.is_none());
    }

    #[test]
    fn suffix_matches_on_label_boundaries() {
        let w = |s: &str| s.parse::<crate::wire::Name>().unwrap().as_wire().to_vec();
        let www = w("www.example.com.");
        assert!(name_matches(&www, &w("www.example.com."), false));
        assert!(!name_matches(&www, &w("example.com."), false));
        assert!(name_matches(&www, &w("example.com."), true));
        assert!(name_matches(&www, &w("com."), true));
        assert!(name_matches(&www, &w("."), true));
        assert!(name_matches(&www, &w("www.example.com."), true));
        assert!(!name_matches(&www, &w("ample.com."), true));
        assert!(!name_matches(
            &w("example.com."),
            &w("www.example.com."),
            true
        ));
    }

    #[test]
    fn flush_by_name_suffix_and_all() {
        let mut s = Store::new(1 << 20);
        let e = || Entry::new(&seed(), EntryKind::Positive, secs(0), 60, secs(0), "t").unwrap();
        for n in ["a.example.", "b.example.", "example.", "other.test."] {
            let k = KeyBuf::for_question(&query(n, 1), false, false).unwrap();
            s.insert(k.as_bytes(), e(), secs(0));
            let k = KeyBuf::for_question(&query(n, 1), true, false).unwrap();
            s.insert(k.as_bytes(), e(), secs(0));
        }
        let w = |n: &str| n.parse::<crate::wire::Name>().unwrap().as_wire().to_vec();
        assert_eq!(s.keys_for(&w("example."), false).len(), 2, "DO and not DO");
        assert_eq!(s.keys_for(&w("example."), true).len(), 6);
        let before = s.stats().bytes;
        assert_eq!(s.remove_for(&w("a.example."), false), 2);
        assert!(s.stats().bytes < before);
        assert_eq!(s.remove_for(&w("example."), true), 4);
        assert_eq!(s.stats().keys, 2);
        assert_eq!(s.clear(), 2);
        assert_eq!((s.stats().keys, s.stats().bytes), (0, 0));
        // Usable after a clear.
        let k = KeyBuf::for_question(&query("x.", 1), false, false).unwrap();
        assert!(s.insert(k.as_bytes(), e(), secs(0)));
        assert!(s.get(k.as_bytes()).is_some());
    }

    #[test]
    fn keys_ignore_case_but_not_do_cd_or_type() {
        let a = KeyBuf::for_question(&query("WWW.example.", 1), false, false).unwrap();
        let b = KeyBuf::for_question(&query("www.EXAMPLE.", 2), false, false).unwrap();
        let c = KeyBuf::for_question(&query("www.example.", 2), true, false).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        assert_ne!(a.as_bytes(), c.as_bytes());
    }
}
