//! Upstream selection and health: which upstream the next attempt goes to, what each upstream
//! has done wrong, and when an unreachable one is tried again.
//!
//! Passive health: consecutive unreachable attempts mark an upstream down with exponential
//! backoff; a bad answer is counted but does not mark it down (incident 000's upstream was alive,
//! just broken for one name). Active probes are ordinary transmits the machine emits; their
//! results come back through the same `record_*` calls.

use core::time::Duration;

use super::decide::UpstreamVerdict;
use super::rng::Rng;
use super::UpstreamId;

/// How the next upstream is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "UpstreamPolicy"))]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// In configured order; the next one only when earlier ones failed (dnsmasq --strict-order).
    Sequential,
    /// Each new query starts at the next upstream.
    RoundRobin,
    /// Uniformly at random (CoreDNS's default).
    #[default]
    Random,
    /// Lowest smoothed RTT, exploring another upstream on 1 query in 16 (dnsmasq-like).
    Fastest,
}

/// What an upstream did wrong (and right): the per-upstream conformance counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "ConformanceCounters"))]
pub struct Counters {
    pub queries: u64,
    pub answers: u64,
    /// UDP answers larger than the payload size we advertised.
    pub oversized: u64,
    /// Answers that were not compressed although they could have been.
    pub uncompressed: u64,
    /// Bytes those answers would have saved compressed.
    pub uncompressed_bytes_lost: u64,
    /// Answers without OPT to a query with OPT.
    pub no_opt: u64,
    /// NXDOMAIN/NODATA without an SOA (not cacheable by RFC 2308).
    pub negative_without_soa: u64,
    /// Answers with a wrong ID or question, dropped (RFC 5452).
    pub mismatched: u64,
    pub undecodable: u64,
    pub timeouts: u64,
    pub network_errors: u64,
    pub servfail: u64,
    pub truncated: u64,
}

/// One upstream's state.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UpstreamState {
    pub label: String,
    /// The forwarding group it belongs to (0: the default group, `.`).
    pub group: u16,
    pub force_tcp: bool,
    /// Learned: it rejects EDNS queries (RFC 6891 6.2.2), until this time.
    #[serde(skip)]
    pub no_edns_until: Option<Duration>,
    /// EDNS queries of ordinary types rejected in a row: evidence, not one query's word.
    #[serde(skip)]
    pub edns_strikes: u32,
    /// Smoothed RTT in microseconds (RFC 6298 style, alpha 1/8).
    pub srtt_us: Option<u64>,
    pub consecutive_failures: u32,
    /// Down (skipped) until this time.
    #[serde(skip)]
    pub down_until: Option<Duration>,
    /// It forwards back to this server (a loop probe came back): never picked until a reload
    /// (`forwarder::loops`).
    pub looping: bool,
    pub counters: Counters,
}

/// How long a learned no-EDNS verdict lasts before EDNS is tried again.
pub const NO_EDNS_MEMORY: Duration = Duration::from_secs(600);
/// EDNS rejections in a row, for queries of ordinary types, before an upstream is queried
/// without EDNS (RFC 8906 8: one FORMERR to one query is no evidence about the server; a
/// meta-type or unknown-type query may be rejected for its type alone and never counts).
pub const NO_EDNS_EVIDENCE: u32 = 3;
/// Consecutive unreachable attempts that mark an upstream down.
pub const MAX_FAILS: u32 = 2;
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// One forwarding group's selection: its upstreams are `list[start..start + len]`.
#[derive(Clone, Debug)]
struct Selection {
    start: usize,
    len: usize,
    policy: Policy,
    next_rr: usize,
}

/// The configured upstreams of every forwarding group, one flat list (an [`UpstreamId`] is an
/// index into it), and each group's selection. Groups never share state: an address listed in
/// two groups is two upstreams.
#[derive(Clone, Debug)]
pub struct Upstreams {
    pub list: Vec<UpstreamState>,
    groups: Vec<Selection>,
}

impl Upstreams {
    /// One group.
    pub fn new(labels: impl IntoIterator<Item = (String, bool)>, policy: Policy) -> Upstreams {
        Upstreams::grouped([(labels.into_iter().collect::<Vec<_>>(), policy)])
    }

    /// Groups in order, each its upstreams (label, force TCP) and policy.
    pub fn grouped(groups: impl IntoIterator<Item = (Vec<(String, bool)>, Policy)>) -> Upstreams {
        let mut list = Vec::new();
        let mut sel = Vec::new();
        for (g, (labels, policy)) in groups.into_iter().enumerate() {
            let start = list.len();
            list.extend(labels.into_iter().map(|(label, force_tcp)| UpstreamState {
                label,
                group: g as u16,
                force_tcp,
                no_edns_until: None,
                edns_strikes: 0,
                srtt_us: None,
                consecutive_failures: 0,
                down_until: None,
                looping: false,
                counters: Counters::default(),
            }));
            sel.push(Selection {
                start,
                len: list.len() - start,
                policy,
                next_rr: 0,
            });
        }
        Upstreams { list, groups: sel }
    }

    /// Upstreams in group `g`.
    pub fn group_len(&self, g: usize) -> usize {
        self.groups.get(g).map_or(0, |s| s.len)
    }

    /// The bit of `id` in a `tried` set: its index within its group (a group has at most 64).
    pub fn bit(&self, id: UpstreamId) -> u64 {
        let i = usize::from(id.0);
        let Some(u) = self.list.get(i) else { return 0 };
        let local = i - self.groups[usize::from(u.group)].start;
        if local < 64 {
            1 << local
        } else {
            0
        }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn get(&self, id: UpstreamId) -> &UpstreamState {
        &self.list[usize::from(id.0)]
    }

    pub fn get_mut(&mut self, id: UpstreamId) -> &mut UpstreamState {
        &mut self.list[usize::from(id.0)]
    }

    fn is_up(&self, i: usize, now: Duration) -> bool {
        self.list[i].down_until.is_none_or(|t| now >= t)
    }

    /// Picks the upstream of group `group` for an attempt, avoiding those in `tried` (a bit per
    /// upstream of the group) while others remain, and down upstreams while up ones remain.
    /// Returns the reason in words.
    pub fn pick(
        &mut self,
        group: usize,
        tried: u64,
        now: Duration,
        rng: &mut Rng,
    ) -> Option<(UpstreamId, String)> {
        self.pick_why(group, tried, now, rng)
            .map(|(u, rule, why)| (u, format!("{rule}{why}")))
    }

    /// [`Upstreams::pick`] with the reason as its two fixed parts (the rule, and what the
    /// candidates were), so the per-query path formats it only when it is logged. Allocates
    /// nothing for up to 64 upstreams.
    pub fn pick_why(
        &mut self,
        group: usize,
        tried: u64,
        now: Duration,
        rng: &mut Rng,
    ) -> Option<(UpstreamId, &'static str, &'static str)> {
        let (base, n, policy) = match self.groups.get(group) {
            Some(s) if s.len > 0 => (s.start, s.len, s.policy),
            _ => return None,
        };
        // An upstream that loops back here is never a candidate.
        let usable = |i: usize| !self.list[base + i].looping;
        let untried = |i: usize| usable(i) && (i >= 64 || tried & (1 << i) == 0);
        // The candidates as a bit set (the configuration allows at most 64 upstreams; past
        // 64 a list is built).
        let set =
            |keep: &dyn Fn(usize) -> bool| -> Vec<usize> { (0..n).filter(|&i| keep(i)).collect() };
        let mask_of = |keep: &dyn Fn(usize) -> bool| -> u64 {
            (0..n.min(64))
                .filter(|&i| keep(i))
                .fold(0u64, |m, i| m | 1 << i)
        };
        let is_up = |i: usize| self.is_up(base + i, now);
        let mut why = "";
        let candidates: Candidates = if n <= 64 {
            let mut m = mask_of(&|i| untried(i) && is_up(i));
            if m == 0 {
                m = mask_of(&untried);
                why = ", all untried upstreams are down";
            }
            if m == 0 {
                m = mask_of(&usable);
                why = ", every upstream tried already";
            }
            if m == 0 {
                return None;
            }
            Candidates::Mask(m)
        } else {
            let mut v = set(&|i| untried(i) && is_up(i));
            if v.is_empty() {
                v = set(&untried);
                why = ", all untried upstreams are down";
            }
            if v.is_empty() {
                v = set(&usable);
                why = ", every upstream tried already";
            }
            if v.is_empty() {
                return None;
            }
            Candidates::List(v)
        };
        let (i, rule) = match policy {
            Policy::Sequential => (candidates.nth(0), "sequential: first upstream in order"),
            Policy::RoundRobin => {
                let sel = &mut self.groups[group];
                let start = sel.next_rr % n;
                sel.next_rr = sel.next_rr.wrapping_add(1);
                let i = candidates
                    .iter()
                    .min_by_key(|&i| (i + n - start) % n)
                    .unwrap_or(candidates.nth(0));
                (i, "round robin")
            }
            Policy::Random => (
                candidates.nth(rng.below(candidates.len() as u32) as usize),
                "random",
            ),
            Policy::Fastest => {
                if candidates.len() > 1 && rng.below(16) == 0 {
                    (
                        candidates.nth(rng.below(candidates.len() as u32) as usize),
                        "fastest: exploring another upstream (1 in 16)",
                    )
                } else {
                    // Unmeasured upstreams go first so every one gets an RTT.
                    let i = candidates
                        .iter()
                        .min_by_key(|&i| self.list[base + i].srtt_us.unwrap_or(0))
                        .unwrap_or(candidates.nth(0));
                    (i, "fastest: lowest smoothed RTT")
                }
            }
        };
        Some((UpstreamId((base + i) as u16), rule, why))
    }

    /// Records an attempt's result for health and RTT.
    pub fn record(
        &mut self,
        id: UpstreamId,
        verdict: UpstreamVerdict,
        rtt: Option<Duration>,
        now: Duration,
    ) {
        let u = self.get_mut(id);
        match verdict {
            UpstreamVerdict::Unreachable => {
                u.consecutive_failures += 1;
                if u.consecutive_failures >= MAX_FAILS {
                    let exp = (u.consecutive_failures - MAX_FAILS).min(10);
                    let backoff = BACKOFF_BASE.saturating_mul(1 << exp).min(BACKOFF_MAX);
                    u.down_until = Some(now + backoff);
                }
            }
            _ => {
                u.consecutive_failures = 0;
                u.down_until = None;
            }
        }
        if verdict == UpstreamVerdict::NoEdns {
            u.edns_strikes += 1;
            if u.edns_strikes >= NO_EDNS_EVIDENCE {
                u.no_edns_until = Some(now + NO_EDNS_MEMORY);
            }
        }
        if let Some(rtt) = rtt {
            let sample = rtt.as_micros() as u64;
            u.srtt_us = Some(match u.srtt_us {
                None => sample,
                Some(s) => s - s / 8 + sample / 8,
            });
        }
    }

    /// An answer with OPT came back to an EDNS query: EDNS works there.
    pub fn edns_works(&mut self, id: UpstreamId) {
        let u = self.get_mut(id);
        u.edns_strikes = 0;
        u.no_edns_until = None;
    }

    /// Whether queries to this upstream should carry EDNS now.
    pub fn edns_ok(&self, id: UpstreamId, now: Duration) -> bool {
        self.get(id).no_edns_until.is_none_or(|t| now >= t)
    }

    pub fn is_down(&self, id: UpstreamId, now: Duration) -> bool {
        !self.is_up(usize::from(id.0), now)
    }
}

/// The upstreams an attempt may pick from: a bit set (up to 64 upstreams) or a list.
enum Candidates {
    Mask(u64),
    List(Vec<usize>),
}

impl Candidates {
    fn len(&self) -> usize {
        match self {
            Candidates::Mask(m) => m.count_ones() as usize,
            Candidates::List(v) => v.len(),
        }
    }

    /// The `k`-th candidate in index order (`k < len()`; the first otherwise).
    fn nth(&self, k: usize) -> usize {
        self.iter()
            .nth(k)
            .unwrap_or_else(|| self.iter().next().unwrap_or(0))
    }

    fn iter(&self) -> CandidateIter<'_> {
        CandidateIter { c: self, at: 0 }
    }
}

/// [`Candidates`] in index order, without allocating.
struct CandidateIter<'a> {
    c: &'a Candidates,
    at: usize,
}

impl Iterator for CandidateIter<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self.c {
            Candidates::Mask(m) => {
                while self.at < 64 {
                    let i = self.at;
                    self.at += 1;
                    if m & (1 << i) != 0 {
                        return Some(i);
                    }
                }
                None
            }
            Candidates::List(v) => {
                let r = v.get(self.at).copied();
                self.at += 1;
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ups(p: Policy) -> Upstreams {
        Upstreams::new((0..3).map(|i| (format!("10.0.0.{i}"), false)), p)
    }

    #[test]
    fn sequential_skips_tried_and_down() {
        let mut u = ups(Policy::Sequential);
        let mut rng = Rng::from_seed([1; 32]);
        let now = Duration::ZERO;
        assert_eq!(u.pick(0, 0, now, &mut rng).unwrap().0, UpstreamId(0));
        assert_eq!(u.pick(0, 0b1, now, &mut rng).unwrap().0, UpstreamId(1));
        u.record(UpstreamId(0), UpstreamVerdict::Unreachable, None, now);
        u.record(UpstreamId(0), UpstreamVerdict::Unreachable, None, now);
        assert!(u.is_down(UpstreamId(0), now));
        assert_eq!(u.pick(0, 0, now, &mut rng).unwrap().0, UpstreamId(1));
        // Backoff ends.
        assert!(!u.is_down(UpstreamId(0), now + Duration::from_secs(1)));
        // All tried: start over.
        assert!(u.pick(0, 0b111, now, &mut rng).is_some());
    }

    #[test]
    fn round_robin_rotates_and_fastest_prefers_low_rtt() {
        let mut u = ups(Policy::RoundRobin);
        let mut rng = Rng::from_seed([1; 32]);
        let picks: Vec<u16> = (0..6)
            .map(|_| u.pick(0, 0, Duration::ZERO, &mut rng).unwrap().0 .0)
            .collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
        let mut f = ups(Policy::Fastest);
        for (i, ms) in [(0u16, 50u64), (1, 5), (2, 30)] {
            f.record(
                UpstreamId(i),
                UpstreamVerdict::Answered,
                Some(Duration::from_millis(ms)),
                Duration::ZERO,
            );
        }
        let mut one = 0;
        for _ in 0..160 {
            if f.pick(0, 0, Duration::ZERO, &mut rng).unwrap().0 == UpstreamId(1) {
                one += 1;
            }
        }
        assert!(one > 130 && one < 160, "{one}");
    }

    #[test]
    fn groups_pick_only_their_own_upstreams() {
        let g = |n: usize, tag: &str| -> Vec<(String, bool)> {
            (0..n).map(|i| (format!("{tag}{i}"), false)).collect()
        };
        let mut u = Upstreams::grouped([
            (g(2, "default"), Policy::RoundRobin),
            (g(3, "zone"), Policy::Sequential),
        ]);
        let mut rng = Rng::from_seed([1; 32]);
        let now = Duration::ZERO;
        for _ in 0..4 {
            let (id, _) = u.pick(0, 0, now, &mut rng).unwrap();
            assert!(id.0 < 2, "{id:?}");
        }
        assert_eq!(u.pick(1, 0, now, &mut rng).unwrap().0, UpstreamId(2));
        // Tried bits are the group's own: the group's first upstream is bit 0.
        assert_eq!(u.bit(UpstreamId(2)), 1);
        assert_eq!(u.pick(1, 0b1, now, &mut rng).unwrap().0, UpstreamId(3));
        // Health is per upstream of the group: the default group's are untouched.
        u.record(UpstreamId(2), UpstreamVerdict::Unreachable, None, now);
        u.record(UpstreamId(2), UpstreamVerdict::Unreachable, None, now);
        assert_eq!(u.pick(1, 0, now, &mut rng).unwrap().0, UpstreamId(3));
        assert!(u.pick(2, 0, now, &mut rng).is_none(), "no such group");
        assert_eq!(u.list[4].group, 1);
    }

    #[test]
    fn no_edns_needs_evidence_and_is_remembered_for_a_while() {
        let mut u = ups(Policy::Random);
        for _ in 1..NO_EDNS_EVIDENCE {
            u.record(UpstreamId(2), UpstreamVerdict::NoEdns, None, Duration::ZERO);
            assert!(u.edns_ok(UpstreamId(2), Duration::from_secs(1)));
        }
        u.record(UpstreamId(2), UpstreamVerdict::NoEdns, None, Duration::ZERO);
        assert!(!u.edns_ok(UpstreamId(2), Duration::from_secs(1)));
        assert!(u.edns_ok(UpstreamId(2), NO_EDNS_MEMORY));
        u.edns_works(UpstreamId(2));
        assert!(u.edns_ok(UpstreamId(2), Duration::from_secs(1)));
        // Strikes reset by an EDNS answer in between never add up.
        for _ in 0..10 {
            u.record(UpstreamId(1), UpstreamVerdict::NoEdns, None, Duration::ZERO);
            u.edns_works(UpstreamId(1));
        }
        assert!(u.edns_ok(UpstreamId(1), Duration::from_secs(1)));
    }
}
