//! What the engine tells the world: every decision as an event with its reason. The native
//! server turns them into the query log and metrics; the simulator and the web page into a
//! timeline. Events are plain data (serde), never formatted log lines: names, types, RCODEs,
//! transports and rules are typed values, and `Display` makes the log line.

use core::fmt;

use super::decide::{FallbackRule, PayloadRule};
use super::Transport;
use crate::cache::policy::{LifetimeRule, ServeRule};
use crate::local::LocalSource;
use crate::wire::{Name, RType, Rcode};

/// An event and the time it happened, in milliseconds on the caller's clock.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Event {
    pub at_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A client query arrived; `limit` is the size its answer must fit.
    Query {
        client: u64,
        name: Name,
        qtype: RType,
        #[cfg_attr(feature = "ts", ts(type = "\"UDP\" | \"TCP\""))]
        transport: Transport,
        edns_size: Option<u16>,
        dnssec_ok: bool,
        limit: usize,
        /// None over TCP (no size limit): serialized as "TCP".
        #[serde(serialize_with = "limit_rule_name")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        limit_rule: Option<PayloadRule>,
    },
    /// A client packet that could not be served as a query.
    BadQuery {
        client: u64,
        rcode: Option<Rcode>,
        why: String,
    },
    /// Answered from the cache (fresh, negative, stale or a cached failure).
    CacheServe {
        client: u64,
        name: Name,
        qtype: RType,
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        rule: ServeRule,
        why: &'static str,
        ttl: u32,
    },
    /// Answered from local data (a hosts file line, a local record, a local zone) with AA set,
    /// never asked upstream.
    Local {
        client: u64,
        name: Name,
        qtype: RType,
        rcode: Rcode,
        answers: usize,
        source: LocalSource,
    },
    /// A reload forwards some names to other upstreams than before: their cached answers
    /// (`dropped` names) are dropped.
    ZonesMoved { dropped: usize },
    /// Not answerable from the cache: the query goes upstream.
    CacheMiss {
        name: Name,
        qtype: RType,
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        rule: ServeRule,
        why: &'static str,
    },
    /// Joined an identical query already in flight.
    Coalesced {
        client: u64,
        name: Name,
        qtype: RType,
        waiters: usize,
    },
    /// A query sent upstream.
    Forwarded {
        name: Name,
        qtype: RType,
        upstream: String,
        #[cfg_attr(feature = "ts", ts(type = "\"UDP\" | \"TCP\""))]
        transport: Transport,
        edns: bool,
        id: u16,
        attempt: u16,
        purpose: &'static str,
        why: String,
    },
    /// An upstream's response arrived (before it is judged).
    UpstreamResponse {
        upstream: String,
        #[cfg_attr(feature = "ts", ts(type = "\"UDP\" | \"TCP\""))]
        transport: Transport,
        size: usize,
        rcode: Option<Rcode>,
        rtt_ms: u64,
        outcome: String,
    },
    /// No response within the attempt timeout.
    UpstreamTimeout {
        upstream: String,
        #[cfg_attr(feature = "ts", ts(type = "\"UDP\" | \"TCP\""))]
        transport: Transport,
        id: u16,
        after_ms: u64,
    },
    /// A response dropped without being used (RFC 5452 matching, late answers).
    Dropped { upstream: String, why: String },
    /// Something the upstream did wrong, even if the answer was usable.
    Nonconforming { upstream: String, what: String },
    /// What the engine does after an attempt, and why.
    Fallback {
        upstream: String,
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        rule: FallbackRule,
        next: &'static str,
        why: &'static str,
    },
    /// Stored in the cache.
    Cached {
        name: Name,
        qtype: RType,
        kind: &'static str,
        ttl: u32,
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        rule: LifetimeRule,
        why: &'static str,
    },
    /// Not stored in the cache.
    NotCached {
        name: Name,
        qtype: RType,
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        rule: LifetimeRule,
        why: &'static str,
    },
    /// An operator flushed the cache (everything, a name, or a suffix).
    Flushed { what: String, keys: usize },
    /// The client got its answer.
    Answered {
        client: u64,
        name: Name,
        qtype: RType,
        rcode: Rcode,
        size: usize,
        limit: usize,
        source: &'static str,
        fit: Option<String>,
    },
    /// The engine stopped trying.
    GaveUp {
        name: Name,
        qtype: RType,
        ede: u16,
        text: String,
    },
    /// An active health probe's result.
    Probe {
        upstream: String,
        healthy: bool,
        why: String,
    },
    /// A forwarding loop: `upstream` (of the group `zone`) forwards back to this server. It is
    /// no longer asked until a reload. Emitted even when events are off (the query log).
    LoopDetected {
        upstream: String,
        zone: String,
        how: String,
        /// The client (the looped query's sender) when a probe came back as a query.
        client: Option<u64>,
    },
    /// A loop check ended without finding a loop (the probe answered, or never).
    LoopCheck {
        upstream: String,
        zone: String,
        result: String,
    },
}

fn limit_rule_name<S: serde::Serializer>(r: &Option<PayloadRule>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.map_or("TCP", PayloadRule::as_str))
}

impl Event {
    /// The client this event is about, by the engine's client token, if it names one.
    pub fn client(&self) -> Option<u64> {
        use EventKind as E;
        match &self.kind {
            E::Query { client, .. }
            | E::BadQuery { client, .. }
            | E::CacheServe { client, .. }
            | E::Coalesced { client, .. }
            | E::Local { client, .. }
            | E::Answered { client, .. } => Some(*client),
            _ => None,
        }
    }

    /// The log line with the client named by `client` (given the engine's token): the shells
    /// know a client's address and port, the engine only its token.
    pub fn line<'a, C: fmt::Display>(
        &'a self,
        client: impl Fn(u64) -> C + 'a,
    ) -> impl fmt::Display + 'a {
        Line {
            event: self,
            client,
        }
    }
}

/// An event's log line, with its client named by a shell.
struct Line<'a, F> {
    event: &'a Event,
    client: F,
}

impl fmt::Display for Event {
    /// One line per decision, in the spirit of dnsmasq's `-q` log, but saying why. The client
    /// is named by its token (`client 4294967296`); [`Event::line`] names it otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.line(|c| c).fmt(f)
    }
}

impl<C: fmt::Display, F: Fn(u64) -> C> fmt::Display for Line<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EventKind as E;
        match &self.event.kind {
            E::Query { client, name, qtype, transport, edns_size, limit, limit_rule, .. } => {
                let edns = edns_size.map_or("no EDNS".to_string(), |s| format!("EDNS {s}"));
                let rule = limit_rule.map_or("TCP", PayloadRule::as_str);
                let client = (self.client)(*client);
                write!(f, "query[{qtype}] {name} from client {client} over {transport} ({edns}; answer limit {limit} B: {rule})")
            }
            E::BadQuery { client, rcode, why } => write!(f, "bad query from client {}: {why}{}", (self.client)(*client), rcode.map_or(String::new(), |r| format!(" -> {r}"))),
            E::CacheServe { name, qtype, rule, why, ttl, .. } => write!(f, "from cache {name} {qtype} TTL {ttl} ({rule}: {why})"),
            E::Local { client, name, qtype, rcode, answers, source } => write!(f, "local {name} {qtype} to client {}: {rcode}, {answers} answer record(s) from {source}", (self.client)(*client)),
            E::ZonesMoved { dropped } => write!(f, "reload: {dropped} cached name(s) now forwarded to other upstreams, dropped from the cache"),
            E::CacheMiss { name, qtype, rule, why } => write!(f, "miss {name} {qtype} ({rule}: {why})"),
            E::Coalesced { name, qtype, waiters, .. } => write!(f, "coalesced {name} {qtype} with a query in flight ({waiters} waiting)"),
            E::Forwarded { name, qtype, upstream, transport, edns, id, attempt, purpose, why } => write!(
                f,
                "forwarded {name} {qtype} to {upstream} over {transport}{} id {id} (attempt {attempt}, {purpose}: {why})",
                if *edns { " with EDNS" } else { " without EDNS" }
            ),
            E::UpstreamResponse { upstream, transport, size, rcode, rtt_ms, outcome } => write!(
                f,
                "reply from {upstream} over {transport}: {size} B, {} in {rtt_ms} ms ({outcome})",
                rcode.map_or_else(|| "undecodable".to_string(), |r| r.to_string())
            ),
            E::UpstreamTimeout { upstream, transport, id, after_ms } => write!(f, "timeout: {upstream} over {transport} id {id} after {after_ms} ms"),
            E::Dropped { upstream, why } => write!(f, "dropped a reply from {upstream}: {why}"),
            E::Nonconforming { upstream, what } => write!(f, "upstream {upstream}: {what}"),
            E::Fallback { upstream, rule, next, why } => write!(f, "after {upstream}: {next} ({rule}: {why})"),
            E::Cached { name, qtype, kind, ttl, rule, why } => write!(f, "cached {name} {qtype} {kind} for {ttl} s ({rule}: {why})"),
            E::NotCached { name, qtype, rule, why } => write!(f, "not cached {name} {qtype} ({rule}: {why})"),
            E::Flushed { what, keys } => write!(f, "flushed {what} from the cache: {keys} key(s)"),
            E::Answered { client, name, qtype, rcode, size, limit, source, fit } => write!(
                f,
                "reply {name} {qtype} to client {}: {rcode}, {size} B of {limit} from {source}{}",
                (self.client)(*client),
                fit.as_ref().map_or(String::new(), |x| format!(" ({x})"))
            ),
            E::GaveUp { name, qtype, ede, text } => write!(f, "gave up on {name} {qtype}: SERVFAIL with EDE {ede} ({text})"),
            E::Probe { upstream, healthy, why } => write!(f, "probe {upstream}: {} ({why})", if *healthy { "healthy" } else { "unhealthy" }),
            E::LoopDetected { upstream, zone, how, client } => write!(
                f,
                "forwarding loop via {upstream} (zone {zone}): {how}{}; {upstream} is not asked until a reload, and queries only it could answer get SERVFAIL at once",
                client.map_or(String::new(), |c| format!(" from client {}", (self.client)(c)))
            ),
            E::LoopCheck { upstream, zone, result } => write!(f, "loop check {upstream} (zone {zone}): {result}"),
        }?;
        Ok(())
    }
}
