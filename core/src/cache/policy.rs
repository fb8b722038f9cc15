//! The cache policy: how long a response is kept, and what a lookup serves.
//!
//! Owns: the lifetime rules (positive TTL clamping, RFC 2308 negative caching, RFC 9520 failure
//! caching with backoff, RFC 8767 serve-stale, prefetch) and the guard against incident 004,
//! where one transient NODATA for `sonatype.map.fastly.net` was cached and answered for a name
//! that had resolved moments before. Every function returns the rule that decided, so the
//! engine's events can say which one.
//!
//! Must not know: the store, the clock, the upstreams, IO. The store's memory of a name reaches
//! [`lifetime`] as a [`NameHistory`] and its entries reach [`serve`] as a [`Lookup`]; time is a
//! [`Duration`] since the caller's epoch; TTLs are whole seconds as on the wire.
//!
//! Defaults (see [`CachePolicy::default`]):
//!
//! | setting                      | default | source                                         |
//! |------------------------------|---------|------------------------------------------------|
//! | `min_ttl` / `max_ttl`        | 0 / 86400 s | Unbound `cache-min-ttl` / `cache-max-ttl`  |
//! | `max_negative_ttl`           | 300 s   | issue 3 (0 turns negative caching off)         |
//! | `suspect_window`             | 120 s after the last positive answer expired | our choice |
//! | `suspect_negative_max_ttl`   | 5 s     | our choice                                     |
//! | `failure_min_ttl` / `_max_`  | 1 / 300 s, doubling per failure | RFC 9520 3.2          |
//! | serve-stale                  | on; TTL 30 s; window 1 day; client timer 1.8 s; failure recheck 30 s | RFC 8767 |
//! | prefetch                     | on, in the last 10% of the lifetime | Unbound `prefetch` |

use core::time::Duration;

use crate::wire::{AnswerKind, Message, RData, RType, Rcode};

/// The longest a failure may be cached, in seconds: RFC 2308 7.1 ("MUST NOT cache it for longer
/// than five (5) minutes") and RFC 9520 3.2. `Config::validate` refuses a longer
/// `failure_min_ttl` or `failure_max_ttl`, and [`lifetime`] never returns more (PowerDNS/pdns#3469:
/// a SERVFAIL cached with no bound).
pub const FAILURE_TTL_LIMIT: u32 = 300;

/// An entry asked for in the last this-many percent of its lifetime is refreshed ahead of expiry.
pub const PREFETCH_PERCENT: u32 = 10;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Serve-stale settings (RFC 8767). In a file, a table of these, or `serve_stale = false` for
/// `{ enabled = false }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct ServeStale {
    /// On by default: both incidents behind this project were availability incidents, and an
    /// answer a little past its TTL beats SERVFAIL (RFC 8767 1). Unbound's `serve-expired` is off
    /// by default; ours is on on purpose.
    pub enabled: bool,
    /// TTL of a stale answer: 30 s (RFC 8767 4, "stale answer TTL").
    pub ttl: u32,
    /// How long past expiry data may still be served: 1 day (RFC 8767 5 suggests 1 to 3 days as
    /// the "maximum stale timer").
    #[serde(with = "crate::units::duration")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub window: Duration,
    /// How long a client waits for a refresh before it gets the stale answer: 1.8 s
    /// (RFC 8767 5, "client response timer").
    #[serde(with = "crate::units::duration")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub client_answer_timer: Duration,
    /// After a failed refresh, how long stale data is served before the next attempt: 30 s
    /// (RFC 8767 5, "failure recheck timer").
    #[serde(with = "crate::units::duration")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub failure_recheck: Duration,
}

impl Default for ServeStale {
    fn default() -> Self {
        ServeStale {
            enabled: true,
            ttl: 30,
            window: Duration::from_secs(86_400),
            client_answer_timer: Duration::from_millis(1800),
            failure_recheck: Duration::from_secs(30),
        }
    }
}

/// The cache's budget and lifetime rules. TTLs are whole seconds, as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct CachePolicy {
    /// The cache's budget in bytes of heap: 32 MiB. In a file, bytes or `"32MiB"`.
    #[serde(with = "crate::units::bytes")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub size: usize,
    /// Positive TTLs below this are raised to it. 0 by default: the owner's TTL is respected.
    pub min_ttl: u32,
    /// Positive TTLs above this are lowered to it: 86400 s. When `min_ttl > max_ttl`, the maximum
    /// wins.
    pub max_ttl: u32,
    /// Cap on negative TTLs: 300 s. 0 turns negative caching off (dnsmasq `--no-negcache`).
    pub max_negative_ttl: u32,
    /// A negative answer for a name that had a positive answer whose lifetime ended less than
    /// this long ago (or has not ended) is suspect: 120 s. Counting from the end of the positive
    /// answer's TTL matters: incident 004's NODATA arrived when the expired chain was refetched,
    /// i.e. a full TTL after the positive answer was received. 120 s spans the refetch at expiry
    /// plus three 30 s failure-recheck cycles of an upstream that alternates SERVFAIL and NODATA,
    /// while a name that is really gone is believed two minutes after its TTL ran out (sooner
    /// when a second upstream confirms it).
    #[serde(with = "crate::units::duration")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub suspect_window: Duration,
    /// The longest a suspect negative is kept before it is asked again: 5 s.
    pub suspect_negative_max_ttl: u32,
    /// A failure is kept at least this long: 1 s (RFC 9520 3.2: at least 1 second). 0 reads as 1.
    pub failure_min_ttl: u32,
    /// And at most this long: 300 s (RFC 9520 3.2 and RFC 2308 7: at most 5 minutes).
    pub failure_max_ttl: u32,
    #[serde(deserialize_with = "serve_stale_or_bool")]
    pub serve_stale: ServeStale,
    /// Refresh entries asked for in their last [`PREFETCH_PERCENT`] of lifetime.
    pub prefetch: bool,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            size: 32 << 20,
            min_ttl: 0,
            max_ttl: 86_400,
            max_negative_ttl: 300,
            suspect_window: Duration::from_secs(120),
            suspect_negative_max_ttl: 5,
            failure_min_ttl: 1,
            failure_max_ttl: 300,
            serve_stale: ServeStale::default(),
            prefetch: true,
        }
    }
}

/// `serve_stale = false` or a table of [`ServeStale`]'s fields.
fn serve_stale_or_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ServeStale, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = ServeStale;
        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("true, false or a table of serve-stale settings")
        }
        fn visit_bool<E: serde::de::Error>(self, enabled: bool) -> Result<ServeStale, E> {
            Ok(ServeStale {
                enabled,
                ..ServeStale::default()
            })
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ServeStale, A::Error> {
            serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(V)
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// The two kinds of negative answer (RFC 2308 1 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NegativeKind {
    /// RCODE 3: the name does not exist (RFC 2308 2.1).
    NxDomain,
    /// NOERROR without data of the type asked for, at the end of any CNAME chain (RFC 2308 2.2).
    NoData,
}

/// What the policy needs to know about a response and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseFacts {
    /// The EDNS-extended RCODE. A timeout or a query the engine gave up on is a SERVFAIL here
    /// (see [`ResponseFacts::failure`]).
    pub rcode: Rcode,
    pub negative: Option<NegativeKind>,
    /// The smallest TTL in the answer section: the whole CNAME chain and the data at its end.
    pub answer_min_ttl: Option<u32>,
    /// The first SOA of the authority section: (its TTL, its MINIMUM field).
    pub soa: Option<(u32, u32)>,
    /// TC was set.
    pub truncated: bool,
    /// NOERROR without data and with NS but no SOA in the authority section: a referral, which a
    /// recursive upstream should never send a forwarder (RFC 2308 2.2 tells it from NODATA).
    pub referral: bool,
    /// An upstream other than the one that answered can be asked to verify a suspect negative.
    pub other_upstream: bool,
    /// This response answers such a verification query: two upstreams now agree.
    pub verifies_suspect: bool,
}

impl ResponseFacts {
    /// The facts of a failure: SERVFAIL from upstream, all attempts timed out, or the engine gave
    /// up (RFC 9520 2 counts all of them as resolution failures).
    pub fn failure() -> ResponseFacts {
        ResponseFacts {
            rcode: Rcode::SERVFAIL,
            negative: None,
            answer_min_ttl: None,
            soa: None,
            truncated: false,
            referral: false,
            other_upstream: false,
            verifies_suspect: false,
        }
    }

    /// Reads the facts off a decoded response, following the CNAME chain from the question
    /// (RFC 1034 3.6.2) to tell an answer from a NODATA at the chain's end. `other_upstream` and
    /// `verifies_suspect` are left false for the engine to set.
    pub fn from_message(msg: &Message) -> ResponseFacts {
        ResponseFacts::from_classified(msg, msg.classify())
    }

    /// [`ResponseFacts::from_message`] with the message's [`Message::classify`] already
    /// computed (the engine classifies each upstream answer once).
    pub fn from_classified(msg: &Message, kind: AnswerKind) -> ResponseFacts {
        let rcode = msg.rcode();
        let answer_min_ttl = msg.answers.iter().map(|r| r.ttl).min();
        let soa = msg
            .authority
            .iter()
            .find_map(|r| match (&r.rdata, r.rtype) {
                (RData::Soa { minimum, .. }, RType::SOA) => Some((r.ttl, *minimum)),
                _ => None,
            });
        let (negative, referral) = match kind {
            AnswerKind::NxDomain => (Some(NegativeKind::NxDomain), false),
            AnswerKind::NoData => (Some(NegativeKind::NoData), false),
            AnswerKind::Referral => (None, true),
            AnswerKind::Positive | AnswerKind::Error => (None, false),
        };
        ResponseFacts {
            rcode,
            negative,
            answer_min_ttl,
            soa,
            truncated: msg.header.tc,
            referral,
            other_upstream: false,
            verifies_suspect: false,
        }
    }
}

pub use crate::wire::classify::cname_chain;

/// The last positive answer the store saw for a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastPositive {
    /// When it was received.
    pub received: Duration,
    /// The TTL it was cached with.
    pub ttl: u32,
}

impl LastPositive {
    /// When its lifetime ended (or ends).
    pub fn expires(&self) -> Duration {
        expiry(self.received, self.ttl)
    }
}

/// What the store remembers about the key being cached and the names on its CNAME chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameHistory {
    /// The most recent positive answer for the question's name or any name on the response's
    /// CNAME chain ([`cname_chain`]), same type and class; `None` if there was none or the store
    /// has forgotten it.
    pub last_positive: Option<LastPositive>,
    /// Failures cached for this key in a row, before this one (0 for a first failure).
    pub consecutive_failures: u32,
}

// ---------------------------------------------------------------------------------------------
// Lifetime
// ---------------------------------------------------------------------------------------------

/// How long a response is kept, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// Not stored. The response still goes to the client.
    DoNotCache { rule: LifetimeRule },
    /// Stored for `ttl` seconds; replaces any negative, suspect or failure entry of the key.
    Positive { ttl: u32, rule: LifetimeRule },
    /// Stored for `ttl` seconds; replaces the key's positive entry.
    Negative { ttl: u32, rule: LifetimeRule },
    /// Stored beside the key's positive entry for `ttl` seconds (0: not stored at all).
    /// `keep_serving_positive`: clients keep getting the last positive answer instead of this
    /// one. `verify_with_another_upstream`: ask a different upstream the same question now.
    SuspectNegative {
        ttl: u32,
        rule: LifetimeRule,
        keep_serving_positive: bool,
        verify_with_another_upstream: bool,
    },
    /// Stored beside the key's positive entry for `ttl` seconds; clients get SERVFAIL with
    /// EDE 13 (Cached Error) unless there is a positive answer to serve ([`serve`]).
    Failure { ttl: u32, rule: LifetimeRule },
}

impl Lifetime {
    pub fn rule(&self) -> LifetimeRule {
        match *self {
            Lifetime::DoNotCache { rule }
            | Lifetime::Positive { rule, .. }
            | Lifetime::Negative { rule, .. }
            | Lifetime::SuspectNegative { rule, .. }
            | Lifetime::Failure { rule, .. } => rule,
        }
    }

    /// The TTL the entry is stored with; `None` when it is not stored.
    pub fn ttl(&self) -> Option<u32> {
        match *self {
            Lifetime::DoNotCache { .. } => None,
            Lifetime::Positive { ttl, .. }
            | Lifetime::Negative { ttl, .. }
            | Lifetime::SuspectNegative { ttl, .. }
            | Lifetime::Failure { ttl, .. } => Some(ttl),
        }
    }
}

rules! {
    /// The rule that decided a [`Lifetime`].
    pub enum LifetimeRule {
        /// The smallest TTL over the answer, CNAME chain included (RFC 2181 5.2: an RRset's TTLs
        /// are one; a chain is only as fresh as its shortest link).
        PositiveMinTtl => "positive-min-ttl",
            "smallest TTL across the answer and its CNAME chain";
        /// As above, raised to `min_ttl`.
        PositiveRaisedToMin => "positive-raised-to-min",
            "smallest answer TTL, raised to the configured minimum";
        /// As above, lowered to `max_ttl`.
        PositiveCappedAtMax => "positive-capped-at-max",
            "smallest answer TTL, lowered to the configured maximum";
        /// TTL 0 means use once, do not cache (RFC 1035 3.2.1).
        ZeroTtl => "zero-ttl",
            "TTL 0: use once, do not cache (RFC 1035 3.2.1)";
        /// A positive NOERROR without any answer record to take a TTL from.
        NoAnswerRecords => "no-answer-records",
            "no answer record to take a TTL from";
        /// RFC 2308 5: min(SOA TTL, SOA MINIMUM), and no longer than the CNAMEs of the answer.
        NegativeSoa => "negative-rfc2308-soa",
            "negative answer: min(SOA TTL, SOA MINIMUM) (RFC 2308 5)";
        /// RFC 2308 5, lowered to `max_negative_ttl` (RFC 2308 5 asks for a configurable cap).
        NegativeCapped => "negative-capped",
            "negative answer: RFC 2308 TTL capped at max_negative_ttl";
        /// RFC 2308 5: a negative answer without an SOA should not be cached.
        NegativeWithoutSoa => "negative-without-soa",
            "negative answer without SOA is not cached (RFC 2308 5)";
        /// `max_negative_ttl = 0`: negative caching is off.
        NegativeCachingOff => "negative-caching-off",
            "negative caching is off (max_negative_ttl = 0)";
        /// Incident 004's guard: a negative answer for a name (or a name on its chain) that had a
        /// positive answer within the suspect window is kept a few seconds at most, checked with
        /// another upstream, and the positive answer keeps being served meanwhile.
        SuspectRecentPositive => "suspect-negative-recent-positive",
            "negative answer for a name that was answering: suspect, kept briefly, verified, \
                 last positive answer still served";
        /// A second upstream confirmed the suspect negative: it is served, still only briefly, so a
        /// flapping name comes back within seconds.
        SuspectConfirmed => "suspect-negative-confirmed",
            "suspect negative answer confirmed by another upstream: served, kept briefly";
        /// RFC 9520 3.2 (and RFC 2308 7): a failure is kept at least 1 s and at most 5 min,
        /// doubling with each consecutive failure.
        FailureBackoff => "failure-rfc9520-backoff",
            "failure cached 1 s to 5 min with backoff (RFC 9520 3.2)";
        /// As above, but a stale positive answer is being served, so the upstream is asked again
        /// only after the failure recheck timer (RFC 8767 5: 30 s).
        FailureStaleRecheck => "failure-stale-recheck",
            "failure while serving stale data: retry after the recheck timer (RFC 8767 5)";
        /// TC=1: the answer is incomplete (RFC 2181 9: do not cache truncated data).
        Truncated => "truncated",
            "truncated answer is not cached (RFC 2181 9)";
        /// A referral: the upstream is not recursive for us; nothing to cache.
        Referral => "referral",
            "referral from a recursive upstream is not cached";
        /// An answer to a query passed through with the client's subnet (RFC 7871 7.3): tailored
        /// to that subnet, so not kept for others.
        ClientSubnet => "client-subnet",
            "answer tailored to a client subnet (RFC 7871 7.3): not cached";
        /// FORMERR, NOTIMP, REFUSED and other RCODEs describe the query or the upstream, not the
        /// name.
        UncacheableRcode => "uncacheable-rcode",
            "this RCODE says nothing about the name; not cached";
    }
}

/// The cache lifetime of a response received at `now`.
///
/// Order of the rules: failures (SERVFAIL, and timeouts and give-ups presented as SERVFAIL) by
/// RFC 9520; other RCODEs than NOERROR/NXDOMAIN not cached; truncated answers and referrals not
/// cached; negative answers first checked against the name's history (the incident 004 guard),
/// then RFC 2308; positive answers by their smallest TTL, clamped.
pub fn lifetime(
    resp: &ResponseFacts,
    cfg: &CachePolicy,
    history: &NameHistory,
    now: Duration,
) -> Lifetime {
    use LifetimeRule as R;
    if resp.rcode == Rcode::SERVFAIL {
        return failure_lifetime(cfg, history, now);
    }
    if resp.rcode != Rcode::NOERROR && resp.rcode != Rcode::NXDOMAIN {
        return Lifetime::DoNotCache {
            rule: R::UncacheableRcode,
        };
    }
    if resp.truncated {
        return Lifetime::DoNotCache { rule: R::Truncated };
    }
    if resp.negative.is_some() {
        return negative_lifetime(resp, cfg, history, now);
    }
    if resp.referral {
        return Lifetime::DoNotCache { rule: R::Referral };
    }
    positive_lifetime(resp, cfg)
}

/// Positive: min TTL across the answer, clamped to [`min_ttl`, `max_ttl`] (max wins).
fn positive_lifetime(resp: &ResponseFacts, cfg: &CachePolicy) -> Lifetime {
    use LifetimeRule as R;
    let Some(ttl) = resp.answer_min_ttl else {
        return Lifetime::DoNotCache {
            rule: R::NoAnswerRecords,
        };
    };
    let (ttl, rule) = if ttl > cfg.max_ttl {
        (cfg.max_ttl, R::PositiveCappedAtMax)
    } else if ttl < cfg.min_ttl {
        (cfg.min_ttl.min(cfg.max_ttl), R::PositiveRaisedToMin)
    } else {
        (ttl, R::PositiveMinTtl)
    };
    if ttl == 0 {
        return Lifetime::DoNotCache { rule: R::ZeroTtl };
    }
    Lifetime::Positive { ttl, rule }
}

/// Negative: the incident 004 guard first, then RFC 2308 5.
fn negative_lifetime(
    resp: &ResponseFacts,
    cfg: &CachePolicy,
    history: &NameHistory,
    now: Duration,
) -> Lifetime {
    use LifetimeRule as R;
    // RFC 2308 5, bounded by the CNAMEs the negative answer carries with it.
    let rfc2308 = resp
        .soa
        .map(|(ttl, minimum)| ttl.min(minimum))
        .map(|t| resp.answer_min_ttl.map_or(t, |a| t.min(a)));

    let recent_positive = history
        .last_positive
        .is_some_and(|p| now < p.expires().saturating_add(cfg.suspect_window));
    if recent_positive {
        let cap = cfg.suspect_negative_max_ttl.min(cfg.max_negative_ttl);
        let ttl = rfc2308.map_or(cap, |t| t.min(cap));
        return if resp.verifies_suspect {
            Lifetime::SuspectNegative {
                ttl,
                rule: R::SuspectConfirmed,
                keep_serving_positive: false,
                verify_with_another_upstream: false,
            }
        } else {
            Lifetime::SuspectNegative {
                ttl,
                rule: R::SuspectRecentPositive,
                keep_serving_positive: true,
                verify_with_another_upstream: resp.other_upstream,
            }
        };
    }

    if cfg.max_negative_ttl == 0 {
        return Lifetime::DoNotCache {
            rule: R::NegativeCachingOff,
        };
    }
    match rfc2308 {
        None => Lifetime::DoNotCache {
            rule: R::NegativeWithoutSoa,
        },
        Some(0) => Lifetime::DoNotCache { rule: R::ZeroTtl },
        Some(t) if t > cfg.max_negative_ttl => Lifetime::Negative {
            ttl: cfg.max_negative_ttl,
            rule: R::NegativeCapped,
        },
        Some(t) => Lifetime::Negative {
            ttl: t,
            rule: R::NegativeSoa,
        },
    }
}

/// Failure: `failure_min_ttl` x 2^consecutive failures, within [1 s, `failure_max_ttl`]
/// (RFC 9520 3.2); at least the failure recheck timer while stale data is served (RFC 8767 5).
fn failure_lifetime(cfg: &CachePolicy, history: &NameHistory, now: Duration) -> Lifetime {
    let floor = cfg.failure_min_ttl.clamp(1, FAILURE_TTL_LIMIT);
    let ceiling = cfg.failure_max_ttl.max(floor).min(FAILURE_TTL_LIMIT);
    let shift = history.consecutive_failures.min(32);
    let backoff = (u64::from(floor) << shift).min(u64::from(ceiling));
    let backoff = u32::try_from(backoff).unwrap_or(ceiling);
    let stale = &cfg.serve_stale;
    let stale_served = stale.enabled
        && history
            .last_positive
            .is_some_and(|p| now < p.expires().saturating_add(stale.window));
    if stale_served {
        let recheck = u32::try_from(stale.failure_recheck.as_secs()).unwrap_or(u32::MAX);
        Lifetime::Failure {
            ttl: backoff.max(recheck).min(ceiling),
            rule: LifetimeRule::FailureStaleRecheck,
        }
    } else {
        Lifetime::Failure {
            ttl: backoff,
            rule: LifetimeRule::FailureBackoff,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Serving
// ---------------------------------------------------------------------------------------------

/// A stored entry's age and lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub inserted: Duration,
    pub ttl: u32,
}

impl Stored {
    pub fn expires(&self) -> Duration {
        expiry(self.inserted, self.ttl)
    }

    pub fn is_fresh(&self, now: Duration) -> bool {
        now < self.expires()
    }

    /// Whole seconds left, rounded down: the TTL a client gets.
    pub fn remaining(&self, now: Duration) -> u32 {
        let left = self.expires().saturating_sub(now).as_secs();
        u32::try_from(left).unwrap_or(u32::MAX)
    }
}

/// An entry stored beside a key's positive entry (or alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shadow {
    Negative(Stored),
    SuspectNegative(Stored),
    Failure(Stored),
}

impl Shadow {
    fn stored(&self) -> Stored {
        match *self {
            Shadow::Negative(s) | Shadow::SuspectNegative(s) | Shadow::Failure(s) => s,
        }
    }
}

/// What the store holds for a key at lookup time, expired entries included (within the stale
/// window the store keeps them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    pub positive: Option<Stored>,
    pub shadow: Option<Shadow>,
}

/// What to answer the client from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serve {
    /// The positive answer with TTLs aged to `ttl`. `prefetch`: also refresh it upstream now.
    Fresh { ttl: u32, prefetch: bool },
    /// The cached negative answer with its SOA TTL aged to `ttl`.
    Negative { ttl: u32 },
    /// The expired positive answer with TTL `ttl` and EDE 3 (Stale Answer), without asking
    /// upstream (RFC 8767 4).
    Stale { ttl: u32 },
    /// SERVFAIL with EDE 13 (Cached Error); `ttl` seconds remain on the failure (RFC 9520).
    CachedFailure { ttl: u32 },
    /// Ask upstream. With a fallback, if no answer comes within `answer_after` or the attempts
    /// fail, answer the stale positive entry with TTL `ttl` (RFC 8767 5).
    Forward {
        stale_fallback: Option<StaleFallback>,
    },
}

/// Stale data to answer with if a refresh is slow or fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaleFallback {
    pub ttl: u32,
    pub answer_after: Duration,
}

/// A serve decision and the rule that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeDecision {
    pub serve: Serve,
    pub rule: ServeRule,
}

rules! {
    /// The rule behind a [`ServeDecision`].
    pub enum ServeRule {
        /// Nothing stored.
        Miss => "miss",
            "not in the cache";
        /// A fresh positive entry.
        Fresh => "fresh",
            "fresh positive answer";
        /// A fresh positive entry in its last 10%: served and refreshed (prefetch).
        FreshPrefetch => "fresh-prefetch",
            "fresh positive answer in its last 10%: refreshed ahead";
        /// A fresh positive entry beside a newer cached failure: a failure never hides a usable
        /// positive answer (CoreDNS issue #7956).
        FreshDespiteFailure => "fresh-despite-failure",
            "fresh positive answer; a cached failure never hides it";
        /// A fresh positive entry beside a suspect negative: the incident 004 guard.
        FreshDuringSuspicion => "fresh-during-suspicion",
            "fresh positive answer kept while a negative is suspect";
        /// A fresh negative entry (RFC 2308).
        Negative => "negative",
            "cached negative answer (RFC 2308)";
        /// An expired positive entry served while a suspect negative is held: the incident 004 guard.
        SuspectKeepsPositive => "suspect-keeps-positive",
            "negative answer is suspect: last positive answer served stale";
        /// A suspect negative with no positive entry left to serve: the negative is served.
        SuspectWithoutPositive => "suspect-without-positive",
            "suspect negative answer and no positive answer left";
        /// An expired positive entry served because the last refresh failed (RFC 8767 4 and 5).
        StaleOverFailure => "stale-over-failure",
            "upstream failing: stale answer served (RFC 8767)";
        /// A cached failure and nothing to serve instead (RFC 9520 3).
        CachedFailure => "cached-failure",
            "cached failure (RFC 9520), nothing stale to serve";
        /// An expired entry with stale data to fall back on: refresh, answer stale after the
        /// client timer or on failure (RFC 8767 5).
        ExpiredWithStaleFallback => "expired-with-stale-fallback",
            "expired: refresh, stale answer after the client timer (RFC 8767)";
        /// An expired entry with nothing usable: refresh.
        Expired => "expired",
            "expired: refresh";
    }
}

/// What to serve for a key, given what the store holds.
///
/// 1. A fresh confirmed negative newer than the positive entry is served (RFC 2308).
/// 2. A fresh positive entry is served, whatever failure or suspect negative sits beside it;
///    prefetch in its last 10%, unless a failure or suspect negative is fresh (the engine is
///    already waiting before asking again).
/// 3. Past expiry, a fresh suspect negative keeps the positive entry served stale (within the
///    suspect window or the stale window, whichever is longer); a fresh failure serves it stale
///    if serve-stale is on and it is within the stale window (RFC 8767 4), otherwise SERVFAIL
///    with EDE 13; a fresh negative is served.
/// 4. Otherwise ask upstream, with the positive entry as a stale fallback when serve-stale
///    allows it, or when an expired suspect negative is being re-verified within the suspect
///    window.
pub fn serve(lookup: &Lookup, cfg: &CachePolicy, now: Duration) -> ServeDecision {
    use ServeRule as R;
    let decided = |serve, rule| ServeDecision { serve, rule };
    let positive = lookup.positive;
    let shadow = lookup.shadow.filter(|s| s.stored().is_fresh(now));

    if let Some(Shadow::Negative(n)) = shadow {
        if positive.is_none_or(|p| n.inserted >= p.inserted) {
            return decided(
                Serve::Negative {
                    ttl: n.remaining(now),
                },
                R::Negative,
            );
        }
    }

    // The hit path: the expiry is computed once for the check and the remaining TTL.
    let fresh = positive.and_then(|p| {
        let expires = p.expires();
        (now < expires).then(|| {
            (
                p,
                u32::try_from((expires - now).as_secs()).unwrap_or(u32::MAX),
            )
        })
    });
    if let Some((p, ttl)) = fresh {
        let (prefetch, rule) = match shadow {
            Some(Shadow::Failure(_)) => (false, R::FreshDespiteFailure),
            Some(Shadow::SuspectNegative(_)) => (false, R::FreshDuringSuspicion),
            _ if cfg.prefetch && should_prefetch(p.inserted, p.ttl, now) => {
                (true, R::FreshPrefetch)
            }
            _ => (false, R::Fresh),
        };
        return decided(Serve::Fresh { ttl, prefetch }, rule);
    }

    let stale = &cfg.serve_stale;
    let stale_usable = |p: &Stored| stale.enabled && within(p, stale.window, now);

    match shadow {
        Some(Shadow::SuspectNegative(s)) => {
            return serve_during_suspicion(positive, cfg, now).unwrap_or(decided(
                Serve::Negative {
                    ttl: s.remaining(now),
                },
                R::SuspectWithoutPositive,
            ));
        }
        Some(Shadow::Failure(f)) => {
            return match positive.filter(stale_usable) {
                Some(_) => decided(Serve::Stale { ttl: stale.ttl }, R::StaleOverFailure),
                None => decided(
                    Serve::CachedFailure {
                        ttl: f.remaining(now),
                    },
                    R::CachedFailure,
                ),
            };
        }
        Some(Shadow::Negative(_)) | None => {}
    }

    let re_verifying = matches!(lookup.shadow, Some(Shadow::SuspectNegative(_)));
    let fallback = positive.filter(|p| {
        if re_verifying {
            guard_usable(p, cfg, now)
        } else {
            stale_usable(p)
        }
    });
    match (positive, fallback) {
        (_, Some(_)) => decided(
            Serve::Forward {
                stale_fallback: Some(StaleFallback {
                    ttl: stale.ttl,
                    answer_after: stale.client_answer_timer,
                }),
            },
            R::ExpiredWithStaleFallback,
        ),
        (None, None) if lookup.shadow.is_none() => decided(
            Serve::Forward {
                stale_fallback: None,
            },
            R::Miss,
        ),
        _ => decided(
            Serve::Forward {
                stale_fallback: None,
            },
            R::Expired,
        ),
    }
}

/// What to answer while a negative answer is suspect (a [`Lifetime::SuspectNegative`] with
/// `keep_serving_positive`, just received or held in the store): the positive entry, fresh, or
/// stale with the stale TTL if it expired less than the suspect window (or, with serve-stale on,
/// the stale window) ago. This holds with serve-stale off: it is the incident 004 guard, not
/// RFC 8767. `None`: there is no positive answer left to serve, so the negative one is served.
pub fn serve_during_suspicion(
    positive: Option<Stored>,
    cfg: &CachePolicy,
    now: Duration,
) -> Option<ServeDecision> {
    let p = positive?;
    if p.is_fresh(now) {
        return Some(ServeDecision {
            serve: Serve::Fresh {
                ttl: p.remaining(now),
                prefetch: false,
            },
            rule: ServeRule::FreshDuringSuspicion,
        });
    }
    guard_usable(&p, cfg, now).then_some(ServeDecision {
        serve: Serve::Stale {
            ttl: cfg.serve_stale.ttl,
        },
        rule: ServeRule::SuspectKeepsPositive,
    })
}

fn within(p: &Stored, window: Duration, now: Duration) -> bool {
    now < p.expires().saturating_add(window)
}

/// Whether an expired positive entry may stand in for a suspect negative answer.
fn guard_usable(p: &Stored, cfg: &CachePolicy, now: Duration) -> bool {
    let stale = &cfg.serve_stale;
    within(p, cfg.suspect_window, now) || (stale.enabled && within(p, stale.window, now))
}

/// Whether an entry asked for now is in the last [`PREFETCH_PERCENT`] of its lifetime, so the
/// engine refreshes it ahead of expiry (as Unbound's `prefetch` does) and a popular name never
/// goes through a miss.
pub fn should_prefetch(inserted: Duration, ttl: u32, now: Duration) -> bool {
    if ttl == 0 || now < inserted {
        return false;
    }
    // In u64: `life` is below 2^42 ms, so `life * 100` and (when `age < life`) `age * 100`
    // cannot overflow; an age past u64 milliseconds is past any lifetime.
    let age = u64::try_from((now - inserted).as_millis()).unwrap_or(u64::MAX);
    let life = u64::from(ttl) * 1000;
    age < life && age * 100 >= life * u64::from(100 - PREFETCH_PERCENT)
}

fn expiry(inserted: Duration, ttl: u32) -> Duration {
    inserted.saturating_add(Duration::from_secs(u64::from(ttl)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Name;
    use crate::wire::{Class, Header, Question, Record};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn cfg() -> CachePolicy {
        CachePolicy::default()
    }

    fn positive(ttl: u32) -> ResponseFacts {
        ResponseFacts {
            rcode: Rcode::NOERROR,
            negative: None,
            answer_min_ttl: Some(ttl),
            soa: None,
            truncated: false,
            referral: false,
            other_upstream: false,
            verifies_suspect: false,
        }
    }

    fn negative(kind: NegativeKind, soa: Option<(u32, u32)>) -> ResponseFacts {
        ResponseFacts {
            rcode: if kind == NegativeKind::NxDomain {
                Rcode::NXDOMAIN
            } else {
                Rcode::NOERROR
            },
            negative: Some(kind),
            answer_min_ttl: None,
            soa,
            ..positive(0)
        }
    }

    fn seen(received: u64, ttl: u32) -> NameHistory {
        NameHistory {
            last_positive: Some(LastPositive {
                received: secs(received),
                ttl,
            }),
            consecutive_failures: 0,
        }
    }

    fn failures(n: u32) -> NameHistory {
        NameHistory {
            last_positive: None,
            consecutive_failures: n,
        }
    }

    const NEVER: NameHistory = NameHistory {
        last_positive: None,
        consecutive_failures: 0,
    };

    // --- defaults ----------------------------------------------------------------------------

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = cfg();
        assert_eq!((c.min_ttl, c.max_ttl, c.max_negative_ttl), (0, 86_400, 300));
        assert_eq!(c.suspect_window, secs(120));
        assert_eq!(c.suspect_negative_max_ttl, 5);
        assert_eq!((c.failure_min_ttl, c.failure_max_ttl), (1, 300));
        let s = c.serve_stale;
        assert!(s.enabled);
        assert_eq!(s.ttl, 30);
        assert_eq!(s.window, secs(86_400));
        assert_eq!(s.client_answer_timer, Duration::from_millis(1800));
        assert_eq!(s.failure_recheck, secs(30));
        assert!(c.prefetch);
    }

    // --- lifetime: one table -----------------------------------------------------------------

    /// A policy: the defaults with one tweak.
    fn with(tweak: impl FnOnce(&mut CachePolicy)) -> CachePolicy {
        let mut c = cfg();
        tweak(&mut c);
        c
    }

    fn nxdomain(soa: Option<(u32, u32)>) -> ResponseFacts {
        negative(NegativeKind::NxDomain, soa)
    }

    fn nodata(soa: Option<(u32, u32)>) -> ResponseFacts {
        negative(NegativeKind::NoData, soa)
    }

    /// The facts of `base` with one tweak.
    fn facts(base: ResponseFacts, tweak: impl FnOnce(&mut ResponseFacts)) -> ResponseFacts {
        let mut f = base;
        tweak(&mut f);
        f
    }

    fn keep(rule: LifetimeRule) -> Lifetime {
        Lifetime::DoNotCache { rule }
    }

    fn pos(ttl: u32, rule: LifetimeRule) -> Lifetime {
        Lifetime::Positive { ttl, rule }
    }

    fn neg(ttl: u32, rule: LifetimeRule) -> Lifetime {
        Lifetime::Negative { ttl, rule }
    }

    fn fail(ttl: u32, rule: LifetimeRule) -> Lifetime {
        Lifetime::Failure { ttl, rule }
    }

    /// A suspect negative that keeps the positive answer served; `verify`: another upstream is
    /// asked.
    fn suspect(ttl: u32, verify: bool) -> Lifetime {
        Lifetime::SuspectNegative {
            ttl,
            rule: LifetimeRule::SuspectRecentPositive,
            keep_serving_positive: true,
            verify_with_another_upstream: verify,
        }
    }

    /// Every lifetime rule, one row a case: what the response says, the policy, what the store
    /// remembers of the name, the time in seconds, and the lifetime it gets.
    #[test]
    fn lifetime_table() {
        use LifetimeRule::*;
        let failure = ResponseFacts::failure;
        let off = |c: &mut CachePolicy| c.max_negative_ttl = 0;
        #[rustfmt::skip]
        let cases: &[(&str, ResponseFacts, CachePolicy, NameHistory, u64, Lifetime)] = &[
            // positive
            ("positive uses the smallest answer TTL",
                positive(60), cfg(), NEVER, 0, pos(60, PositiveMinTtl)),
            ("positive is raised to min_ttl",
                positive(5), with(|c| c.min_ttl = 30), NEVER, 0, pos(30, PositiveRaisedToMin)),
            ("positive is capped at max_ttl",
                positive(604_800), with(|c| c.max_ttl = 3600), NEVER, 0, pos(3600, PositiveCappedAtMax)),
            ("max_ttl wins over a larger min_ttl, below both",
                positive(5), with(|c| { c.min_ttl = 600; c.max_ttl = 60 }), NEVER, 0, pos(60, PositiveRaisedToMin)),
            ("max_ttl wins over a larger min_ttl, above both",
                positive(900), with(|c| { c.min_ttl = 600; c.max_ttl = 60 }), NEVER, 0, pos(60, PositiveCappedAtMax)),
            ("positive TTL 0 is not cached",
                positive(0), cfg(), NEVER, 0, keep(ZeroTtl)),
            ("positive TTL 0 is raised by min_ttl",
                positive(0), with(|c| c.min_ttl = 10), NEVER, 0, pos(10, PositiveRaisedToMin)),
            ("positive without records is not cached",
                facts(positive(0), |f| f.answer_min_ttl = None), cfg(), NEVER, 0, keep(NoAnswerRecords)),
            ("positive: the name's history does not matter",
                positive(60), cfg(), seen(0, 60), 10, pos(60, PositiveMinTtl)),
            // not cacheable
            ("truncated positive is not cached",
                facts(positive(60), |f| f.truncated = true), cfg(), NEVER, 0, keep(Truncated)),
            ("truncated negative is not cached",
                facts(nodata(Some((60, 60))), |f| f.truncated = true), cfg(), NEVER, 0, keep(Truncated)),
            ("referral is not cached",
                facts(positive(0), |f| { f.referral = true; f.answer_min_ttl = None }), cfg(), NEVER, 0, keep(Referral)),
            ("REFUSED is not cached",
                facts(positive(60), |f| f.rcode = Rcode::REFUSED), cfg(), NEVER, 0, keep(UncacheableRcode)),
            ("FORMERR is not cached",
                facts(positive(60), |f| f.rcode = Rcode::FORMERR), cfg(), NEVER, 0, keep(UncacheableRcode)),
            ("NOTIMP is not cached",
                facts(positive(60), |f| f.rcode = Rcode::NOTIMP), cfg(), NEVER, 0, keep(UncacheableRcode)),
            ("YXDOMAIN is not cached",
                facts(positive(60), |f| f.rcode = Rcode::YXDOMAIN), cfg(), NEVER, 0, keep(UncacheableRcode)),
            ("BADVERS is not cached",
                facts(positive(60), |f| f.rcode = Rcode::BADVERS), cfg(), NEVER, 0, keep(UncacheableRcode)),
            // negative (RFC 2308)
            ("NXDOMAIN uses min(SOA TTL, MINIMUM): the MINIMUM",
                nxdomain(Some((3600, 120))), cfg(), NEVER, 0, neg(120, NegativeSoa)),
            ("NXDOMAIN uses min(SOA TTL, MINIMUM): the SOA TTL",
                nxdomain(Some((90, 3600))), cfg(), NEVER, 0, neg(90, NegativeSoa)),
            ("NODATA uses RFC 2308 too",
                nodata(Some((600, 200))), cfg(), NEVER, 0, neg(200, NegativeSoa)),
            ("negative with CNAMEs is bounded by their TTL",
                facts(nodata(Some((600, 200))), |f| f.answer_min_ttl = Some(30)), cfg(), NEVER, 0, neg(30, NegativeSoa)),
            ("negative without SOA is not cached",
                nodata(None), cfg(), NEVER, 0, keep(NegativeWithoutSoa)),
            ("negative is capped at max_negative_ttl",
                nxdomain(Some((86_400, 86_400))), cfg(), NEVER, 0, neg(300, NegativeCapped)),
            ("max_negative_ttl 0 turns negative caching off: NXDOMAIN",
                nxdomain(Some((3600, 3600))), with(off), NEVER, 0, keep(NegativeCachingOff)),
            ("max_negative_ttl 0 turns negative caching off: NODATA",
                nodata(Some((3600, 3600))), with(off), NEVER, 0, keep(NegativeCachingOff)),
            ("negative TTL 0 is not cached",
                nxdomain(Some((0, 3600))), cfg(), NEVER, 0, keep(ZeroTtl)),
            // Incident 004's control case: a genuine NXDOMAIN for a name that never answered.
            ("never-positive NXDOMAIN with SOA gets the RFC 2308 TTL",
                nxdomain(Some((900, 60))), cfg(), NEVER, 1000, neg(60, NegativeSoa)),
            ("never-positive NXDOMAIN after failures gets the RFC 2308 TTL",
                nxdomain(Some((900, 60))), cfg(), failures(3), 1000, neg(60, NegativeSoa)),
            // suspect negative (incident 004)
            ("NXDOMAIN after positive is suspect too",
                nxdomain(Some((3600, 3600))), cfg(), seen(100, 300), 120, suspect(5, false)),
            // A positive with TTL 300 at t=0 expires at 300; negatives until 420 are suspect.
            ("suspect window counts from the positive expiry: 330",
                nodata(Some((3600, 3600))), cfg(), seen(0, 300), 330, suspect(5, false)),
            ("suspect window counts from the positive expiry: 419",
                nodata(Some((3600, 3600))), cfg(), seen(0, 300), 419, suspect(5, false)),
            ("suspect window counts from the positive expiry: 420 is past it",
                nodata(Some((3600, 3600))), cfg(), seen(0, 300), 420, neg(300, NegativeCapped)),
            ("negative long after positive is believed",
                nodata(Some((120, 120))), cfg(), seen(0, 30), 1000, neg(120, NegativeSoa)),
            ("suspect window is configurable: longer",
                nodata(Some((120, 120))), with(|c| c.suspect_window = secs(600)), seen(0, 30), 500, suspect(5, false)),
            ("suspect window is configurable: none",
                nodata(Some((120, 120))), with(|c| c.suspect_window = Duration::ZERO), seen(0, 30), 31, neg(120, NegativeSoa)),
            ("suspect keeps the positive served, verified only when there is another upstream",
                nodata(Some((3600, 3600))), cfg(), seen(0, 30), 40, suspect(5, false)),
            ("suspect TTL is the lower SOA TTL",
                nodata(Some((2, 3600))), cfg(), seen(0, 30), 10, suspect(2, false)),
            ("suspect TTL is the suspect cap",
                nodata(Some((3600, 3600))), with(|c| c.suspect_negative_max_ttl = 3), seen(0, 30), 10, suspect(3, false)),
            ("suspect without SOA is still held briefly",
                nodata(None), cfg(), seen(0, 30), 40, suspect(5, false)),
            ("suspect with negative caching off stores nothing",
                facts(nodata(Some((3600, 3600))), |f| f.other_upstream = true), with(off), seen(0, 30), 40, suspect(0, true)),
            ("suspect confirmed by another upstream is served briefly",
                facts(nodata(Some((3600, 3600))), |f| { f.other_upstream = true; f.verifies_suspect = true }),
                cfg(), seen(0, 30), 41,
                Lifetime::SuspectNegative { ttl: 5, rule: SuspectConfirmed, keep_serving_positive: false, verify_with_another_upstream: false }),
            // failures (RFC 9520)
            ("first failure is cached one second",
                failure(), cfg(), NEVER, 0, fail(1, FailureBackoff)),
            ("failure_min_ttl 0 still caches one second",
                failure(), with(|c| c.failure_min_ttl = 0), NEVER, 0, fail(1, FailureBackoff)),
            ("SERVFAIL is a failure whatever else it says",
                facts(positive(60), |f| { f.rcode = Rcode::SERVFAIL; f.truncated = true }), cfg(), NEVER, 0, fail(1, FailureBackoff)),
            ("failure while stale data is served waits for the recheck timer",
                failure(), cfg(), seen(0, 60), 100, fail(30, FailureStaleRecheck)),
            ("failure while stale data is served: backoff above the recheck timer still applies",
                failure(), cfg(), NameHistory { consecutive_failures: 6, ..seen(0, 60) }, 100, fail(64, FailureStaleRecheck)),
            ("failure with serve-stale off uses plain backoff",
                failure(), no_stale(), seen(0, 60), 100, fail(1, FailureBackoff)),
            ("failure with the positive past the stale window uses plain backoff",
                failure(), cfg(), seen(0, 60), 200_000, fail(1, FailureBackoff)),
        ];
        for (case, facts, policy, history, now, want) in cases {
            let got = lifetime(facts, policy, history, secs(*now));
            assert_eq!(got, *want, "{case}");
        }
    }

    // --- suspect negative (incident 004) -----------------------------------------------------

    /// Incident 004: `repo1.maven.org -> central.maven.org -> sonatype.map.fastly.net -> A`
    /// resolves at t=0 (TTL 30); at t=40 s a refetch gets NODATA for the chain's last name.
    /// That NODATA is suspect: kept at most 5 s, checked with the other upstream, and the
    /// positive answer keeps being served.
    #[test]
    fn incident_004_nodata_after_positive_chain_is_suspect() {
        let nodata = ResponseFacts {
            other_upstream: true,
            answer_min_ttl: Some(30),
            ..negative(NegativeKind::NoData, Some((3600, 3600)))
        };
        let l = lifetime(&nodata, &cfg(), &seen(0, 30), secs(40));
        assert_eq!(
            l,
            Lifetime::SuspectNegative {
                ttl: 5,
                rule: LifetimeRule::SuspectRecentPositive,
                keep_serving_positive: true,
                verify_with_another_upstream: true,
            }
        );

        // Meanwhile the store holds the expired positive beside the suspect: it is served.
        let lookup = Lookup {
            positive: Some(Stored {
                inserted: secs(0),
                ttl: 30,
            }),
            shadow: Some(Shadow::SuspectNegative(Stored {
                inserted: secs(40),
                ttl: 5,
            })),
        };
        let d = serve(&lookup, &cfg(), secs(41));
        assert_eq!(d.serve, Serve::Stale { ttl: 30 });
        assert_eq!(d.rule, ServeRule::SuspectKeepsPositive);

        // When the suspect expires, the engine re-verifies with the positive as fallback.
        let d = serve(&lookup, &cfg(), secs(46));
        assert_eq!(d.rule, ServeRule::ExpiredWithStaleFallback);
        assert!(matches!(
            d.serve,
            Serve::Forward {
                stale_fallback: Some(_)
            }
        ));

        // The refetch brings NODATA again, still inside the window: suspect again.
        let l = lifetime(&nodata, &cfg(), &seen(0, 30), secs(46));
        assert_eq!(l.rule(), LifetimeRule::SuspectRecentPositive);
    }

    // --- failures (RFC 9520) -----------------------------------------------------------------

    #[test]
    fn failure_backoff_doubles_up_to_five_minutes() {
        let ttls: Vec<_> = (0..12)
            .map(|n| lifetime(&ResponseFacts::failure(), &cfg(), &failures(n), secs(0)).ttl())
            .collect();
        let want = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300].map(Some);
        assert_eq!(ttls, want);
    }

    #[test]
    fn failure_backoff_survives_huge_counts() {
        for n in [31, 32, 33, 64, u32::MAX] {
            let l = lifetime(&ResponseFacts::failure(), &cfg(), &failures(n), secs(0));
            assert_eq!(l.ttl(), Some(300), "{n}");
        }
    }

    #[test]
    fn failure_bounds_are_configurable() {
        let c = CachePolicy {
            failure_min_ttl: 5,
            failure_max_ttl: 60,
            ..cfg()
        };
        let f = |n| lifetime(&ResponseFacts::failure(), &c, &failures(n), secs(0)).ttl();
        assert_eq!(
            (f(0), f(1), f(2), f(3), f(4)),
            (Some(5), Some(10), Some(20), Some(40), Some(60))
        );
    }

    // --- serve -------------------------------------------------------------------------------

    fn stored(inserted: u64, ttl: u32) -> Stored {
        Stored {
            inserted: secs(inserted),
            ttl,
        }
    }

    fn with_positive(inserted: u64, ttl: u32) -> Lookup {
        Lookup {
            positive: Some(stored(inserted, ttl)),
            shadow: None,
        }
    }

    const NO_FALLBACK: Serve = Serve::Forward {
        stale_fallback: None,
    };
    const FALLBACK: Serve = Serve::Forward {
        stale_fallback: Some(StaleFallback {
            ttl: 30,
            answer_after: Duration::from_millis(1800),
        }),
    };

    fn no_stale() -> CachePolicy {
        CachePolicy {
            serve_stale: ServeStale {
                enabled: false,
                ..ServeStale::default()
            },
            ..cfg()
        }
    }

    fn only(shadow: Shadow) -> Lookup {
        Lookup {
            positive: None,
            shadow: Some(shadow),
        }
    }

    fn both(positive: Stored, shadow: Shadow) -> Lookup {
        Lookup {
            positive: Some(positive),
            shadow: Some(shadow),
        }
    }

    fn decided(serve: Serve, rule: ServeRule) -> ServeDecision {
        ServeDecision { serve, rule }
    }

    const fn fresh(ttl: u32) -> Serve {
        Serve::Fresh {
            ttl,
            prefetch: false,
        }
    }

    /// Every serve rule, one row a case: what the store holds for the key, the policy, the time,
    /// and what the client is served.
    #[test]
    fn serve_table() {
        use ServeRule as R;
        use Shadow::{Failure, Negative, SuspectNegative};
        let ms = Duration::from_millis;
        let no_prefetch = with(|c| c.prefetch = false);
        #[rustfmt::skip]
        let cases: &[(&str, Lookup, CachePolicy, Duration, ServeDecision)] = &[
            ("empty lookup is a miss",
                Lookup::default(), cfg(), secs(5), decided(NO_FALLBACK, R::Miss)),
            ("fresh positive is served with aged TTL",
                with_positive(100, 300), cfg(), ms(160_500), decided(fresh(239), R::Fresh)),
            ("fresh positive in its last tenth is prefetched",
                with_positive(0, 100), cfg(), secs(95), decided(Serve::Fresh { ttl: 5, prefetch: true }, R::FreshPrefetch)),
            ("fresh positive in its last tenth, prefetch off",
                with_positive(0, 100), no_prefetch, secs(95), decided(fresh(5), R::Fresh)),
            // CoreDNS issue #7956.
            ("fresh positive wins over a cached failure",
                both(stored(0, 300), Failure(stored(290, 30))), cfg(), secs(295), decided(fresh(5), R::FreshDespiteFailure)),
            ("fresh positive wins over a suspect negative",
                both(stored(0, 300), SuspectNegative(stored(100, 5))), cfg(), secs(101), decided(fresh(199), R::FreshDuringSuspicion)),
            ("fresh negative is served",
                only(Negative(stored(10, 60))), cfg(), secs(20), decided(Serve::Negative { ttl: 50 }, R::Negative)),
            ("newer negative replaces the positive",
                both(stored(0, 300), Negative(stored(100, 60))), cfg(), secs(110), decided(Serve::Negative { ttl: 50 }, R::Negative)),
            ("older negative does not replace the positive",
                both(stored(100, 300), Negative(stored(0, 300))), cfg(), secs(110), decided(fresh(290), R::Fresh)),
            ("expired negative is refreshed",
                only(Negative(stored(0, 60))), cfg(), secs(60), decided(NO_FALLBACK, R::Expired)),
            ("suspect without positive serves the negative",
                only(SuspectNegative(stored(10, 5))), cfg(), secs(12), decided(Serve::Negative { ttl: 3 }, R::SuspectWithoutPositive)),
            ("suspect keeps the positive even with serve-stale off",
                both(stored(0, 30), SuspectNegative(stored(40, 5))), no_stale(), secs(42),
                decided(Serve::Stale { ttl: 30 }, R::SuspectKeepsPositive)),
            ("re-verifying a suspect falls back on the positive within the suspect window...",
                both(stored(0, 30), SuspectNegative(stored(40, 5))), no_stale(), secs(50),
                decided(FALLBACK, R::ExpiredWithStaleFallback)),
            ("...but not past it",
                both(stored(0, 30), SuspectNegative(stored(40, 5))), no_stale(), secs(150), decided(NO_FALLBACK, R::Expired)),
            ("suspect with the positive past every window serves the negative",
                both(stored(0, 30), SuspectNegative(stored(150, 5))), no_stale(), secs(151),
                decided(Serve::Negative { ttl: 4 }, R::SuspectWithoutPositive)),
            ("failure serves the stale positive",
                both(stored(0, 60), Failure(stored(100, 30))), cfg(), secs(110), decided(Serve::Stale { ttl: 30 }, R::StaleOverFailure)),
            ("failure without stale data is served as a cached failure",
                only(Failure(stored(100, 4))), cfg(), secs(101), decided(Serve::CachedFailure { ttl: 3 }, R::CachedFailure)),
            ("failure with serve-stale off is a cached failure",
                both(stored(0, 60), Failure(stored(100, 30))), no_stale(), secs(110),
                decided(Serve::CachedFailure { ttl: 20 }, R::CachedFailure)),
            ("failure with the positive past the stale window is a cached failure",
                both(stored(0, 60), Failure(stored(90_000, 30))), cfg(), secs(90_001),
                decided(Serve::CachedFailure { ttl: 29 }, R::CachedFailure)),
            ("expired failure rechecks with stale fallback",
                both(stored(0, 60), Failure(stored(100, 30))), cfg(), secs(130), decided(FALLBACK, R::ExpiredWithStaleFallback)),
            ("expired positive refreshes with stale fallback",
                with_positive(0, 60), cfg(), secs(61), decided(FALLBACK, R::ExpiredWithStaleFallback)),
            ("expired positive exactly at its TTL is not fresh",
                with_positive(0, 60), cfg(), secs(60), decided(FALLBACK, R::ExpiredWithStaleFallback)),
            ("expired positive past the stale window just refreshes",
                with_positive(0, 60), cfg(), secs(60 + 86_400), decided(NO_FALLBACK, R::Expired)),
            ("expired positive with serve-stale off just refreshes",
                with_positive(0, 60), no_stale(), secs(61), decided(NO_FALLBACK, R::Expired)),
        ];
        for (case, lookup, policy, now, want) in cases {
            assert_eq!(serve(lookup, policy, *now), *want, "{case}");
        }
    }

    #[test]
    fn stored_remaining_rounds_down_and_saturates() {
        let s = stored(10, 60);
        assert_eq!(s.remaining(secs(10)), 60);
        assert_eq!(s.remaining(Duration::from_millis(10_001)), 59);
        assert_eq!(s.remaining(secs(100)), 0);
        assert!(s.is_fresh(Duration::from_millis(69_999)));
        assert!(!s.is_fresh(secs(70)));
        let far = Stored {
            inserted: Duration::MAX,
            ttl: u32::MAX,
        };
        assert_eq!(far.expires(), Duration::MAX);
    }

    #[test]
    fn serve_during_suspicion_prefers_fresh_then_stale_then_nothing() {
        let c = no_stale();
        let fresh = serve_during_suspicion(Some(stored(0, 300)), &c, secs(100));
        assert_eq!(
            fresh,
            Some(ServeDecision {
                serve: Serve::Fresh {
                    ttl: 200,
                    prefetch: false
                },
                rule: ServeRule::FreshDuringSuspicion,
            })
        );
        let stale = serve_during_suspicion(Some(stored(0, 30)), &c, secs(100));
        assert_eq!(
            stale,
            Some(ServeDecision {
                serve: Serve::Stale { ttl: 30 },
                rule: ServeRule::SuspectKeepsPositive,
            })
        );
        assert_eq!(
            serve_during_suspicion(Some(stored(0, 30)), &c, secs(150)),
            None
        );
        assert_eq!(serve_during_suspicion(None, &c, secs(0)), None);
        // With serve-stale on, the stale window also counts.
        assert!(serve_during_suspicion(Some(stored(0, 30)), &cfg(), secs(10_000)).is_some());
    }

    // --- incident 004, end to end over the pure functions -------------------------------------

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Up {
        A,
        NoData,
        NxDomain,
        ServFail,
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Got {
        Positive,
        Negative,
        ServFail,
    }

    /// A client asks every second for `repo1.maven.org A`; the cache is a single key, wired the
    /// way the engine will wire it; a single upstream answers from `pattern` in turn each time it
    /// is asked. Returns what the client got at each second and how often the upstream was
    /// asked. A negative entry never shares the key with a positive one (`Negative` replaces it).
    fn flapping(pattern: &[Up], c: &CachePolicy, seconds: u64) -> (Vec<Got>, usize, bool) {
        let mut lookup = Lookup::default();
        let mut history = NameHistory::default();
        let mut asked = 0;
        let mut stored_negative = false;
        let mut got = Vec::new();
        for t in 0..seconds {
            let now = secs(t);
            let d = serve(&lookup, c, now);
            let answer = match d.serve {
                Serve::Fresh { .. } | Serve::Stale { .. } => Got::Positive,
                Serve::Negative { .. } => Got::Negative,
                Serve::CachedFailure { .. } => Got::ServFail,
                Serve::Forward { stale_fallback } => {
                    let up = pattern[asked % pattern.len()];
                    asked += 1;
                    let facts = match up {
                        Up::A => positive(30),
                        Up::NoData => ResponseFacts {
                            answer_min_ttl: Some(300), // the CNAMEs of the chain
                            ..negative(NegativeKind::NoData, Some((3600, 3600)))
                        },
                        Up::NxDomain => negative(NegativeKind::NxDomain, Some((900, 60))),
                        Up::ServFail => ResponseFacts::failure(),
                    };
                    match lifetime(&facts, c, &history, now) {
                        Lifetime::Positive { ttl, .. } => {
                            lookup = Lookup {
                                positive: Some(Stored { inserted: now, ttl }),
                                shadow: None,
                            };
                            history = NameHistory {
                                last_positive: Some(LastPositive { received: now, ttl }),
                                consecutive_failures: 0,
                            };
                            Got::Positive
                        }
                        Lifetime::Negative { ttl, .. } => {
                            stored_negative = true;
                            lookup = Lookup {
                                positive: None,
                                shadow: Some(Shadow::Negative(Stored { inserted: now, ttl })),
                            };
                            Got::Negative
                        }
                        Lifetime::SuspectNegative {
                            ttl,
                            keep_serving_positive,
                            ..
                        } => {
                            stored_negative |= ttl > 0;
                            lookup.shadow =
                                Some(Shadow::SuspectNegative(Stored { inserted: now, ttl }));
                            match serve_during_suspicion(lookup.positive, c, now) {
                                Some(_) if keep_serving_positive => Got::Positive,
                                _ => Got::Negative,
                            }
                        }
                        Lifetime::Failure { ttl, .. } => {
                            lookup.shadow = Some(Shadow::Failure(Stored { inserted: now, ttl }));
                            history.consecutive_failures += 1;
                            if stale_fallback.is_some() {
                                Got::Positive
                            } else {
                                Got::ServFail
                            }
                        }
                        Lifetime::DoNotCache { .. } => match up {
                            Up::A => Got::Positive,
                            Up::NoData | Up::NxDomain => Got::Negative,
                            Up::ServFail => Got::ServFail,
                        },
                    }
                }
            };
            got.push(answer);
        }
        (got, asked, stored_negative)
    }

    /// Incident 004 replayed: the upstream flaps between the A record, NODATA and SERVFAIL for
    /// the chain's last name. Clients keep getting the A record, for ten minutes.
    #[test]
    fn incident_004_flapping_upstream_never_shadows_the_answer() {
        for pattern in [
            &[Up::A, Up::NoData, Up::ServFail][..],
            &[Up::A, Up::ServFail, Up::NoData],
            &[Up::A, Up::NoData, Up::NoData, Up::NoData, Up::NoData],
            &[Up::A, Up::ServFail, Up::ServFail, Up::ServFail, Up::NoData],
        ] {
            let (got, asked, _) = flapping(pattern, &cfg(), 600);
            assert!(
                got.iter().all(|g| *g == Got::Positive),
                "{pattern:?}: {got:?}"
            );
            assert!(
                asked < 600 / 4,
                "{pattern:?}: the cache still absorbs most queries ({asked})"
            );
        }
    }

    /// The same with negative caching off: clients still get the A record, nothing negative is
    /// stored.
    #[test]
    fn incident_004_with_negative_caching_off_stores_nothing_negative() {
        let c = CachePolicy {
            max_negative_ttl: 0,
            ..cfg()
        };
        let (got, _, stored_negative) = flapping(&[Up::A, Up::NoData, Up::ServFail], &c, 600);
        assert!(got.iter().all(|g| *g == Got::Positive), "{got:?}");
        assert!(!stored_negative);
    }

    /// A genuine NXDOMAIN for a name that never answered: RFC 2308 holds (SOA MINIMUM 60 s), so
    /// the upstream is asked once a minute.
    #[test]
    fn incident_004_genuine_nxdomain_keeps_its_rfc2308_ttl() {
        let (got, asked, stored_negative) = flapping(&[Up::NxDomain], &cfg(), 600);
        assert!(got.iter().all(|g| *g == Got::Negative));
        assert_eq!(asked, 10);
        assert!(stored_negative);
    }

    /// A name that is really gone: after the suspect window, the NODATA is believed.
    #[test]
    fn a_name_that_is_really_gone_is_believed_after_the_window() {
        let mut pattern = vec![Up::A];
        pattern.extend([Up::NoData; 1000]);
        let (got, _, _) = flapping(&pattern, &cfg(), 600);
        let first_negative = got.iter().position(|g| *g == Got::Negative);
        // The A record expires at 30 s; the window ends 120 s later.
        assert_eq!(first_negative, Some(150));
        assert!(got[150..].iter().all(|g| *g == Got::Negative));
    }

    /// With serve-stale on, an upstream that only fails after the first answer never costs the
    /// client its answer (RFC 8767), and the upstream is asked at most every 30 s.
    #[test]
    fn failing_upstream_serves_stale_and_rechecks_every_30_s() {
        let mut pattern = vec![Up::A];
        pattern.extend([Up::ServFail; 1000]);
        let (got, asked, _) = flapping(&pattern, &cfg(), 600);
        assert!(got.iter().all(|g| *g == Got::Positive));
        // 1 answer, then a recheck at 30, 60, ... (backoff stays under 30 s until the 6th
        // failure, then 32, 64, 128, 256 s).
        assert!(asked <= 1 + 600 / 30, "{asked}");
        // Without serve-stale, the client sees SERVFAIL once the answer expires.
        let (got, _, _) = flapping(&pattern, &no_stale(), 600);
        assert_eq!(got[29], Got::Positive);
        assert_eq!(got[30], Got::ServFail);
    }

    // --- prefetch ----------------------------------------------------------------------------

    #[test]
    fn prefetch_only_in_the_last_tenth() {
        assert!(!should_prefetch(secs(0), 100, secs(0)));
        assert!(!should_prefetch(
            secs(0),
            100,
            Duration::from_millis(89_999)
        ));
        assert!(should_prefetch(secs(0), 100, secs(90)));
        assert!(should_prefetch(secs(0), 100, Duration::from_millis(99_999)));
        assert!(
            !should_prefetch(secs(0), 100, secs(100)),
            "expired is not prefetch"
        );
    }

    #[test]
    fn prefetch_edge_cases() {
        assert!(!should_prefetch(secs(0), 0, secs(0)), "TTL 0");
        assert!(
            !should_prefetch(secs(10), 100, secs(5)),
            "clock before insertion"
        );
        assert!(should_prefetch(secs(0), 1, Duration::from_millis(950)));
        assert!(!should_prefetch(secs(0), 1, Duration::from_millis(850)));
        assert!(should_prefetch(
            secs(0),
            u32::MAX,
            secs(u64::from(u32::MAX) - 1)
        ));
    }

    // --- facts from a message ----------------------------------------------------------------

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn rec(owner: &str, rtype: RType, ttl: u32, rdata: RData) -> Record {
        Record {
            name: name(owner),
            rtype,
            class: Class::IN,
            ttl,
            rdata,
        }
    }

    fn cname(owner: &str, ttl: u32, target: &str) -> Record {
        rec(
            owner,
            RType::CNAME,
            ttl,
            RData::Name {
                target: name(target),
            },
        )
    }

    fn a(owner: &str, ttl: u32) -> Record {
        rec(
            owner,
            RType::A,
            ttl,
            RData::A {
                address: [151, 101, 0, 1].into(),
            },
        )
    }

    fn soa(owner: &str, ttl: u32, minimum: u32) -> Record {
        rec(
            owner,
            RType::SOA,
            ttl,
            RData::Soa {
                mname: name("ns1.example."),
                rname: name("hostmaster.example."),
                serial: 1,
                refresh: 3600,
                retry: 600,
                expire: 86_400,
                minimum,
            },
        )
    }

    fn response(qname: &str, rcode: u8, answers: Vec<Record>, authority: Vec<Record>) -> Message {
        Message {
            header: Header {
                qr: true,
                rd: true,
                ra: true,
                rcode,
                ..Header::default()
            },
            questions: vec![Question {
                name: name(qname),
                qtype: RType::A,
                class: Class::IN,
            }],
            answers,
            authority,
            ..Message::default()
        }
    }

    fn maven_chain() -> Vec<Record> {
        vec![
            cname("repo1.maven.org.", 300, "central.maven.org."),
            cname("central.maven.org.", 60, "sonatype.map.fastly.net."),
        ]
    }

    #[test]
    fn facts_of_a_positive_chain_take_the_smallest_ttl() {
        let mut answers = maven_chain();
        answers.push(a("sonatype.map.fastly.net.", 30));
        answers.push(a("sonatype.map.fastly.net.", 30));
        let m = response("repo1.maven.org.", 0, answers, vec![]);
        let f = ResponseFacts::from_message(&m);
        assert_eq!(f.negative, None);
        assert_eq!(f.answer_min_ttl, Some(30));
        assert!(!f.referral && !f.truncated);
        let chain: Vec<String> = cname_chain(&m).iter().map(|n| n.to_string()).collect();
        assert_eq!(
            chain,
            [
                "repo1.maven.org.",
                "central.maven.org.",
                "sonatype.map.fastly.net."
            ]
        );
        assert_eq!(lifetime(&f, &cfg(), &NEVER, secs(0)).ttl(), Some(30));
    }

    #[test]
    fn facts_of_a_chain_ending_in_nodata() {
        let m = response(
            "repo1.maven.org.",
            0,
            maven_chain(),
            vec![soa("fastly.net.", 3600, 30)],
        );
        let f = ResponseFacts::from_message(&m);
        assert_eq!(f.negative, Some(NegativeKind::NoData));
        assert_eq!(f.soa, Some((3600, 30)));
        assert_eq!(f.answer_min_ttl, Some(60));
        assert_eq!(lifetime(&f, &cfg(), &NEVER, secs(0)).ttl(), Some(30));
    }

    #[test]
    fn facts_of_an_nxdomain() {
        let m = response("nope.example.", 3, vec![], vec![soa("example.", 900, 60)]);
        let f = ResponseFacts::from_message(&m);
        assert_eq!(f.rcode, Rcode::NXDOMAIN);
        assert_eq!(f.negative, Some(NegativeKind::NxDomain));
        assert_eq!(f.soa, Some((900, 60)));
        assert_eq!(f.answer_min_ttl, None);
    }

    #[test]
    fn facts_of_a_referral() {
        let ns = rec(
            "example.",
            RType::NS,
            3600,
            RData::Name {
                target: name("ns1.example."),
            },
        );
        let m = response("www.example.", 0, vec![], vec![ns]);
        let f = ResponseFacts::from_message(&m);
        assert!(f.referral);
        assert_eq!(f.negative, None);
        assert_eq!(
            lifetime(&f, &cfg(), &NEVER, secs(0)).rule(),
            LifetimeRule::Referral
        );
    }

    #[test]
    fn facts_of_nodata_with_ns_and_soa_is_nodata() {
        let ns = rec(
            "example.",
            RType::NS,
            3600,
            RData::Name {
                target: name("ns1.example."),
            },
        );
        let m = response("www.example.", 0, vec![], vec![soa("example.", 60, 60), ns]);
        assert_eq!(
            ResponseFacts::from_message(&m).negative,
            Some(NegativeKind::NoData)
        );
    }

    #[test]
    fn facts_keep_tc() {
        let mut m = response("www.example.", 0, vec![a("www.example.", 60)], vec![]);
        m.header.tc = true;
        assert!(ResponseFacts::from_message(&m).truncated);
    }

    #[test]
    fn facts_data_for_another_name_is_nodata() {
        // An A record for a name that is not on the chain does not answer the question.
        let m = response("www.example.", 0, vec![a("other.example.", 60)], vec![]);
        assert_eq!(
            ResponseFacts::from_message(&m).negative,
            Some(NegativeKind::NoData)
        );
    }

    #[test]
    fn facts_owner_names_compare_case_insensitively() {
        let m = response(
            "WWW.Example.",
            0,
            vec![
                cname("www.example.", 60, "Cdn.Example."),
                a("cdn.example.", 60),
            ],
            vec![],
        );
        assert_eq!(ResponseFacts::from_message(&m).negative, None);
        assert_eq!(cname_chain(&m).len(), 2);
    }

    #[test]
    fn cname_loop_ends_the_chain() {
        let m = response(
            "a.example.",
            0,
            vec![
                cname("a.example.", 60, "b.example."),
                cname("b.example.", 60, "a.example."),
            ],
            vec![],
        );
        assert_eq!(cname_chain(&m).len(), 2);
        assert_eq!(
            ResponseFacts::from_message(&m).negative,
            Some(NegativeKind::NoData)
        );
    }

    #[test]
    fn cname_query_is_answered_by_the_cname_itself() {
        let mut m = response(
            "www.example.",
            0,
            vec![cname("www.example.", 60, "cdn.example.")],
            vec![],
        );
        m.questions[0].qtype = RType::CNAME;
        assert_eq!(cname_chain(&m).len(), 1);
        assert_eq!(ResponseFacts::from_message(&m).negative, None);
    }

    #[test]
    fn message_without_question_has_no_chain() {
        let m = Message::default();
        assert!(cname_chain(&m).is_empty());
    }

    #[test]
    fn failure_facts_are_servfail() {
        let f = ResponseFacts::failure();
        assert_eq!(f.rcode, Rcode::SERVFAIL);
        assert_eq!(f.negative, None);
    }

    // --- names -------------------------------------------------------------------------------

    #[test]
    fn rule_names_are_unique_and_explained() {
        // Over ALL, which the rules! macro builds from the declaration: a new rule is covered.
        crate::rules::check(LifetimeRule::ALL, LifetimeRule::as_str, LifetimeRule::why);
        crate::rules::check(ServeRule::ALL, ServeRule::as_str, ServeRule::why);
        assert!(LifetimeRule::NegativeSoa.why().contains("RFC 2308"));
        assert!(LifetimeRule::FailureBackoff.why().contains("RFC 9520"));
        assert_eq!(
            ServeRule::StaleOverFailure.to_string(),
            "stale-over-failure"
        );
    }
}
