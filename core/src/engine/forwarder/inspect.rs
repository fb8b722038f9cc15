//! Cache inspection and control for operators: what the cache holds for a name (or under a
//! suffix) with each entry's provenance, and flushing everything, one name or a suffix. The
//! native admin API (`native/src/serve/admin.rs`), `dnspect cache` and the npm `Forwarder`'s
//! `cacheEntries` / `cacheFlush` all call these.
//!
//! Both scan the store's keys: an operator's question, never on the per-packet path.

use super::*;
use crate::cache::policy::LifetimeRule;
use crate::cache::store::key_name;
use crate::wire::{Class, Record};

/// What to flush.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Every entry.
    All,
    /// Every entry for this name (all types, classes, DO/CD variants).
    Name(Name),
    /// Every entry for this name and the names under it.
    Suffix(Name),
}

/// What a flush removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FlushReport {
    /// Keys (name, type, class, DO, CD) removed, each with its positive and its negative,
    /// suspect or failure entry.
    pub keys: usize,
}

/// One cache entry as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CacheEntryView {
    /// The name, lowercase, as the cache keys it.
    pub name: String,
    #[serde(rename = "type")]
    pub qtype: String,
    pub class: String,
    /// The key's DO bit: answers for DNSSEC-aware clients (with RRSIGs) are kept apart.
    pub dnssec_ok: bool,
    /// The key's CD bit: answers asked for with checking disabled are kept apart.
    pub checking_disabled: bool,
    /// `positive`, `negative`, `suspect_negative` or `failure`.
    pub kind: EntryKind,
    /// The stored answer's RCODE (`NOERROR`, `NXDOMAIN`, `SERVFAIL`).
    pub rcode: String,
    /// The upstream that answered; null when the engine wrote the entry (a failure after no
    /// upstream answered usably).
    pub upstream: Option<String>,
    /// The rule that set its lifetime (`cache::policy::LifetimeRule`, e.g. `positive-min-ttl`),
    /// and its sentence.
    pub rule: String,
    pub rule_why: String,
    /// The TTL the upstream gave, before the policy clamped it (null for failures).
    pub upstream_ttl: Option<u32>,
    /// The lifetime the policy gave it, in seconds.
    pub ttl: u32,
    /// Seconds of that lifetime left (0 once expired).
    pub remaining: u32,
    /// When it was stored, in ms on the engine's clock (the shell's epoch), and how long ago.
    pub stored_at_ms: u64,
    pub age_ms: u64,
    /// Past its lifetime: kept only to serve stale (RFC 8767) or to guard against a suspect
    /// negative (incident 004) until `keep_until_ms`.
    pub expired: bool,
    pub keep_until_ms: u64,
    /// For a failure entry: failures in a row it stands for (RFC 9520 backoff).
    pub failures: u32,
    /// The Extended DNS Error (RFC 8914), as `code: text`: the upstream's, passed on with the
    /// answer; for a failure, why the engine gave up (clients get EDE 13, Cached Error).
    pub ede: Option<String>,
    /// The records a client asking now would get, TTLs aged, in presentation form.
    pub records: Vec<String>,
}

/// A listing: the entries found (at most the limit asked for) and how many there were.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CacheListing {
    pub entries: Vec<CacheEntryView>,
    /// Entries that matched, including those left out past the limit.
    pub total: usize,
    /// True when entries were left out.
    pub truncated: bool,
}

impl Forwarder {
    /// The cache entries for `name` (every type, class and DO/CD variant), or under it with
    /// `suffix`, or all of them when `name` is None; at most `limit`, sorted by name, type and
    /// kind. `now`: the engine's clock (a time before the latest input reads as that input's).
    pub fn cache_entries(
        &self,
        name: Option<&Name>,
        suffix: bool,
        limit: usize,
        now: Duration,
    ) -> CacheListing {
        let now = self.now.max(now);
        let want = name.map(|n| n.to_lowercase());
        // The cache is shared by every worker's engine and sharded: each shard is scanned under
        // its lock for the matching keys (the key shared, not copied, and which of its two
        // entries), without holding more than one lock at a time.
        let mut found: Vec<(Arc<[u8]>, bool, u8)> = Vec::new();
        for i in 0..self.cache.shards() {
            let store = self.cache.lock_shard(i);
            for (key, slot) in store.iter() {
                let matches = want.as_ref().is_none_or(|w| {
                    crate::cache::store::name_matches(key_name(key), w.as_wire(), suffix)
                });
                if !matches {
                    continue;
                }
                found.extend(
                    slot.positive
                        .iter()
                        .map(|e| (key.clone(), false, e.kind as u8)),
                );
                found.extend(
                    slot.shadow
                        .iter()
                        .map(|e| (key.clone(), true, e.kind as u8)),
                );
            }
        }
        let total = found.len();
        // A listing runs on a worker's thread, between queries: when more entries match than
        // are returned, the first `limit` in key order (wire-form name, type, DO/CD, kind:
        // compared in place, no allocation) are picked in linear time, and only those are
        // decoded into views, then sorted by name as people read them.
        let order = |a: &(Arc<[u8]>, bool, u8), b: &(Arc<[u8]>, bool, u8)| {
            (key_name(&a.0), &a.0[1..3], a.0[0], a.2).cmp(&(
                key_name(&b.0),
                &b.0[1..3],
                b.0[0],
                b.2,
            ))
        };
        if found.len() > limit {
            if limit > 0 {
                found.select_nth_unstable_by(limit - 1, order);
            }
            found.truncate(limit);
        }
        // Each picked entry read again under its shard's lock (one gone since is left out).
        let views: Vec<CacheEntryView> = found
            .iter()
            .filter_map(|(k, shadow, _)| {
                let store = self.cache.lock(k);
                let slot = store.get(k)?;
                let e = if *shadow {
                    slot.shadow.as_deref()
                } else {
                    slot.positive.as_ref()
                }?;
                Some(view(k, e, now))
            })
            .collect();
        let mut entries = views;
        entries.sort_by(|a, b| {
            (
                &a.name,
                &a.qtype,
                a.dnssec_ok,
                a.checking_disabled,
                a.kind as u8,
            )
                .cmp(&(
                    &b.name,
                    &b.qtype,
                    b.dnssec_ok,
                    b.checking_disabled,
                    b.kind as u8,
                ))
        });
        CacheListing {
            truncated: entries.len() < total,
            entries,
            total,
        }
    }

    /// Flushes the cache, one name or a suffix; the keys removed are counted in
    /// [`Stats::cache_flushes`] and [`Stats::cache_flushed_keys`]. Transactions in flight are
    /// not touched: their answers are cached when they come (a flush says "forget what you
    /// have", not "never learn it").
    pub fn cache_flush(&mut self, what: &Flush) -> FlushReport {
        let keys = match what {
            Flush::All => self.cache.clear(),
            Flush::Name(n) => self.cache.remove_for(n.to_lowercase().as_wire(), false),
            Flush::Suffix(n) => self.cache.remove_for(n.to_lowercase().as_wire(), true),
        };
        self.stats.cache_flushes += 1;
        self.stats.cache_flushed_keys += keys as u64;
        let what_s = match what {
            Flush::All => "everything".to_string(),
            Flush::Name(n) => n.to_string(),
            Flush::Suffix(n) => format!("{n} and below"),
        };
        let now = self.now;
        self.event(now, || EventKind::Flushed { what: what_s, keys });
        FlushReport { keys }
    }
}

fn view(key: &[u8], e: &Entry, now: Duration) -> CacheEntryView {
    let name = Name::from_wire(key_name(key)).unwrap_or_else(|_| Name::root());
    let qtype = RType(u16::from_be_bytes([key[1], key[2]]));
    let class = Class(u16::from_be_bytes([key[3], key[4]]));
    let rcode = Rcode(u16::from(e.ext_rcode) << 4 | e.flags() & 0xf);
    let rule = LifetimeRule::ALL
        .iter()
        .find(|r| r.as_str() == e.rule)
        .copied();
    // The records a client asking now gets: the store's own answer writer on a query for the
    // entry's question.
    let mut question = key_name(key).to_vec();
    question.extend_from_slice(&key[1..5]);
    let q = build::query(0, false, &question, None);
    let mut out = Vec::with_capacity(e.wire().len());
    write_answer(e, &q, now, None, None, &mut out);
    let records = Message::from_wire(&out)
        .map(|m| {
            m.answers
                .iter()
                .chain(&m.authority)
                .chain(&m.additional)
                .map(Record::to_text)
                .collect()
        })
        .unwrap_or_default();
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    CacheEntryView {
        name: name.to_string(),
        qtype: qtype.to_string(),
        class: class.to_string(),
        dnssec_ok: key[0] & 1 != 0,
        checking_disabled: key[0] & 2 != 0,
        kind: e.kind,
        rcode: rcode.to_string(),
        upstream: e.provenance.upstream.as_deref().map(str::to_string),
        rule: e.rule.to_string(),
        rule_why: rule.map_or("", LifetimeRule::why).to_string(),
        upstream_ttl: e.provenance.upstream_ttl,
        ttl: e.ttl,
        // As the records show it (whole seconds of age off the lifetime, as `write_answer`
        // ages them), so the two never disagree by a second.
        remaining: if now >= e.expires() {
            0
        } else {
            let aged = u32::try_from(now.saturating_sub(e.stored_at).as_secs()).unwrap_or(u32::MAX);
            e.ttl.saturating_sub(aged)
        },
        stored_at_ms: ms(e.stored_at),
        age_ms: ms(now.saturating_sub(e.stored_at)),
        expired: now >= e.expires(),
        keep_until_ms: ms(e.keep_until),
        failures: e.failures,
        ede: e.provenance.ede.as_ref().map(|(c, t)| format!("{c}: {t}")),
        records,
    }
}
