//! The forwarder: a sans-io state machine. Bytes, time and a seed go in; datagrams to send,
//! timer deadlines and events come out. The caller drains [`Forwarder::poll`] after every
//! [`Forwarder::handle`] until it returns [`Output::Wake`].
//!
//! It wires the pure decisions together: the client's payload limit and the fallback after each
//! attempt ([`super::decide`]), what to serve and how long to keep ([`crate::cache::policy`]),
//! which upstream to ask ([`super::upstreams`]), and fitting answers to a client
//! ([`crate::wire::fit`]). It never calls a clock, a socket or an OS RNG.

use core::cmp::Reverse;
use core::time::Duration;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use super::decide::{
    self, ede, fallback, payload_limit, Attempt, Budget, FallbackLimits, Next, Outcome,
    UpstreamVerdict,
};
use super::event::{Event, EventKind};
use super::rng::Rng;
use super::upstreams::{Counters, Policy, Upstreams};
use super::{Transport, Upstream, UpstreamId};
use crate::cache::policy::{
    self, CachePolicy, LastPositive, Lifetime, NameHistory, ResponseFacts, Serve, StaleFallback,
};
use crate::cache::shared::SharedCache;
use crate::cache::store::{
    write_answer, write_answer_form, Entry, EntryKind, FitSteps, FittedForm, KeyBuf, OptOut,
    Provenance,
};
use crate::wire::encode::Encoder;
use crate::wire::fit::fit;
use crate::wire::view::{MessageView, HEADER_LEN};
use crate::wire::{AnswerKind, Message, Name, Opcode, RType, Rcode};

/// A client, as the runtime identifies it (an index, a hash of its address: the engine only
/// needs identity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientId(pub u64);

mod answer;
mod attempt;
mod config;
mod inspect;
mod loops;
mod query;
mod response;
mod subnet;
mod timers;
mod zones;

use crate::local::LocalData;
pub use crate::wire::build::rcode_answer;
use crate::wire::build::{self as build, header_and_question};
use answer::{answer_from, fitted_form, name_text};
pub use config::{
    ClientSubnetConfig, Config, ConfigError, ForwardZone, ProbeConfig, UpstreamConfig, ZoneCache,
    MAX_UPSTREAMS,
};
pub use inspect::{CacheEntryView, CacheListing, Flush, FlushReport};
pub use loops::{LoopTable, LoopingUpstream, LOOP_LABEL};
use response::is_meta_type;
use zones::Zones;
pub use zones::{upstream_labels, zone_name};

/// What goes into the machine.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A client's query.
    Query {
        now: Duration,
        client: ClientId,
        transport: Transport,
        bytes: &'a [u8],
    },
    /// Bytes from an upstream (any size up to 65535) that arrived on the socket (UDP) of the
    /// transmit with this token, or on a TCP connection whose query with this message's ID was
    /// that transmit. Binding an answer to its transmit is what makes a spoofer hit the one
    /// port and ID in use, not any of those in flight (RFC 5452 9.1).
    Response {
        now: Duration,
        token: u64,
        transport: Transport,
        bytes: &'a [u8],
    },
    /// The transmit with this token could not be delivered (ICMP unreachable, refused, reset).
    Failure { now: Duration, token: u64 },
    /// As [`Input::Failure`], with what the shell knows of why (a TLS handshake's error, say:
    /// "TLS: certificate not valid for dns.example"). A network error for the upstream; if the
    /// query ends on it, the SERVFAIL's EDE 23 (Network Error) carries this text.
    FailureWhy {
        now: Duration,
        token: u64,
        why: &'a str,
    },
    /// Time passed.
    Tick { now: Duration },
}

/// An answer for a client, over the transport its query came on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub client: ClientId,
    pub transport: Transport,
    pub bytes: Vec<u8>,
}

/// A query for an upstream. Its answer comes back as [`Input::Response`] with the same token,
/// a delivery failure as [`Input::Failure`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamQuery {
    pub upstream: UpstreamId,
    pub transport: Transport,
    pub bytes: Vec<u8>,
    pub token: u64,
}

/// What comes out of the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send an answer to a client.
    Answer(Answer),
    /// Send a query to an upstream.
    Query(UpstreamQuery),
    /// Boxed: events are rare on the hot path (off unless asked for) and large.
    Event(Box<Event>),
    /// The engine no longer waits on the upstream transmit with this token (answered, timed
    /// out, failed or abandoned): its socket, or its ID on a TCP connection, can be released.
    UpstreamDone { token: u64 },
    /// The client's message was dropped without an answer (no header, or not a query): the
    /// runtime can forget the client. Every other query gets exactly one [`Output::Answer`].
    ClientDropped { client: ClientId },
    /// Nothing more to do until this time (or until new input); `None`: no timer pending.
    Wake(Option<Duration>),
}

/// Upstream messages dropped before they reached a decision, by reason (RFC 5452).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "DroppedResponses"))]
pub struct Dropped {
    /// For no transmit the engine still waits on: late (after a timeout or an earlier answer)
    /// or unsolicited.
    pub late: u64,
    /// Shorter than a DNS header.
    pub short: u64,
    /// Another ID than the transmit's.
    pub wrong_id: u64,
    /// QR=0: an echoed query, not a response.
    pub not_response: u64,
    /// An opcode other than QUERY.
    pub opcode: u64,
    /// QDCOUNT other than 1.
    pub qdcount: u64,
    /// Another question (name case-insensitively, type, class) than the one asked.
    pub question: u64,
}

/// Why an upstream message was dropped (one of [`Dropped`]'s counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DropReason {
    Late,
    Short,
    WrongId,
    NotResponse,
    Opcode,
    Qdcount,
    Question,
}

/// Queries answered SERVFAIL because a limit was reached, by limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "BusyAnswers"))]
pub struct Busy {
    /// `max_inflight` transactions were in flight.
    pub inflight: u64,
    /// `max_waiters` clients already waited on the transaction for the same question.
    pub waiters: u64,
    /// `max_waiting` clients already waited on all transactions.
    pub waiting: u64,
    /// The name's forwarding group has no upstream.
    pub no_upstreams: u64,
}

impl Busy {
    /// (reason, count) pairs for metrics.
    pub fn by_reason(&self) -> [(&'static str, u64); 4] {
        [
            ("inflight", self.inflight),
            ("waiters", self.waiters),
            ("waiting", self.waiting),
            ("no_upstreams", self.no_upstreams),
        ]
    }
}

impl Dropped {
    fn counter(&mut self, r: DropReason) -> &mut u64 {
        match r {
            DropReason::Late => &mut self.late,
            DropReason::Short => &mut self.short,
            DropReason::WrongId => &mut self.wrong_id,
            DropReason::NotResponse => &mut self.not_response,
            DropReason::Opcode => &mut self.opcode,
            DropReason::Qdcount => &mut self.qdcount,
            DropReason::Question => &mut self.question,
        }
    }

    pub fn total(&self) -> u64 {
        self.late
            + self.short
            + self.wrong_id
            + self.not_response
            + self.opcode
            + self.qdcount
            + self.question
    }

    /// (reason, count) pairs for metrics.
    pub fn by_reason(&self) -> [(&'static str, u64); 7] {
        [
            ("late", self.late),
            ("short", self.short),
            ("wrong_id", self.wrong_id),
            ("not_response", self.not_response),
            ("opcode", self.opcode),
            ("qdcount", self.qdcount),
            ("question", self.question),
        ]
    }
}

/// Counters for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "EngineStats"))]
pub struct Stats {
    pub queries: u64,
    pub bad_queries: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Answered from local data (hosts files, local records, local zones).
    pub local_answers: u64,
    pub stale_answers: u64,
    pub coalesced: u64,
    pub prefetches: u64,
    pub verifications: u64,
    /// Negative answers for a name that was answering shortly before, held briefly and
    /// verified instead of cached for their SOA TTL (the incident 004 guard).
    pub suspect_negatives: u64,
    pub answers_by_rcode: [u64; 24],
    pub recompressed: u64,
    pub truncated: u64,
    pub gave_up: u64,
    pub dropped_responses: u64,
    /// `dropped_responses` by reason.
    pub dropped: Dropped,
    /// SERVFAIL answers because a limit was reached; `busy_by` splits them by limit.
    pub busy: u64,
    pub busy_by: Busy,
    /// Prefetches and verifications skipped because the in-flight budget was used up.
    pub refreshes_skipped: u64,
    /// Answers without OPT to a DO or CD query that went out with EDNS, not used (RFC 6840 5.7).
    pub stripped_edns: u64,
    /// Cache flushes asked for (the admin API, `dnspect cache flush`, `Forwarder.cacheFlush`).
    pub cache_flushes: u64,
    /// Keys those flushes removed.
    pub cache_flushed_keys: u64,
    /// Fallbacks by rule name (a BTreeMap: serialized in a stable order).
    pub fallbacks: BTreeMap<&'static str, u64>,
    /// Forwarding loops found: a loop probe back as a client query, or an upstream answering
    /// one with a loop of its own (`forwarder::loops`).
    pub loops_detected: u64,
    /// Queries answered SERVFAIL at once because of a forwarding loop: loop probes that came
    /// back, and misses whose every upstream loops.
    pub loop_answers: u64,
}

impl Stats {
    /// Counts an upstream message dropped before use, in the total and by reason.
    pub(super) fn drop_response(&mut self, r: DropReason) {
        self.dropped_responses += 1;
        *self.dropped.counter(r) += 1;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Client,
    Prefetch,
    Verify,
    Probe,
    /// A forwarding-loop probe (`loops.rs`).
    LoopCheck,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Client => "client query",
            Purpose::Prefetch => "prefetch",
            Purpose::Verify => "verifying a suspect negative",
            Purpose::Probe => "health probe",
            Purpose::LoopCheck => "loop check",
        }
    }

    /// A probe (health or loop): sent to one upstream for itself, never joined by clients,
    /// never cached.
    fn is_probe(self) -> bool {
        matches!(self, Purpose::Probe | Purpose::LoopCheck)
    }
}

#[derive(Clone, Debug)]
struct Waiter {
    client: ClientId,
    transport: Transport,
    /// The client's header and question only (not its OPT or anything after): what an answer
    /// is written from.
    query: Vec<u8>,
    opt: Option<OptOut>,
    limit: usize,
    /// The client's subnet when it is passed through (RFC 7871): echoed in its answer.
    ecs: Option<subnet::Ecs>,
}

#[derive(Clone, Copy, Debug)]
struct Sent {
    upstream: UpstreamId,
    transport: Transport,
    id: u16,
    edns: bool,
    at: Duration,
    token: u64,
}

#[derive(Clone, Debug)]
struct Txn {
    gen: u32,
    key: KeyBuf,
    /// The forwarding group it asks (`zones::Zones`).
    group: u16,
    /// The question as the first client wrote it (name in place, type, class).
    question: Vec<u8>,
    dnssec_ok: bool,
    checking_disabled: bool,
    waiters: Vec<Waiter>,
    purpose: Purpose,
    deadline: Duration,
    attempts: u16,
    tried: u64,
    current: Option<Sent>,
    /// Attempts that timed out, still open to a late answer until the transaction ends: an
    /// upstream slower than the attempt timeout still answers the query (dnsmasq keeps a
    /// forwarded query open to any of its answers the same way). At most `max_attempts`.
    earlier: Vec<Sent>,
    stale_fallback: Option<StaleFallback>,
    /// The last attempt's give-up text, for the EDE if the deadline ends it.
    last_problem: Option<(u16, String)>,
    /// For a verification: the upstream whose negative answer is being checked.
    verifying: Option<UpstreamId>,
    /// The client subnet sent upstream (passthrough, RFC 7871): the answer is not cached.
    ecs: Option<subnet::Ecs>,
}

/// The smallest heap [`Forwarder::compact_timers`] runs on.
const MIN_TIMER_COMPACTION: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Attempt {
        txn: usize,
        gen: u32,
        token: u64,
    },
    Deadline {
        txn: usize,
        gen: u32,
    },
    StaleAnswer {
        txn: usize,
        gen: u32,
    },
    /// The attempt in flight was abandoned (its upstream was removed by a reload): try again.
    Retry {
        txn: usize,
        gen: u32,
    },
    /// Probe the upstreams of a group; `gen` is the probe generation (a reload starts anew).
    Probe {
        group: u16,
        gen: u32,
    },
    /// Send the loop probe of an upstream; `gen` is the loop check's generation.
    LoopCheck {
        upstream: u16,
        gen: u32,
    },
}

/// The forwarding engine.
#[derive(Debug)]
pub struct Forwarder {
    cfg: Config,
    limits: FallbackLimits,
    rng: Rng,
    /// The cache: this engine's own, or one shared with the other workers of a server.
    cache: Arc<SharedCache>,
    upstreams: Upstreams,
    /// Forwarding groups and the zone table.
    zones: Zones,
    /// Hosts files, local records, local zones.
    local: LocalData,
    /// The upstreams' labels, shared with the cache entries they answered (provenance), and
    /// whether each is trusted for AD; both by `UpstreamId`, built by `upstream_meta`.
    labels: Vec<Arc<str>>,
    trusted: Vec<bool>,
    /// Client-subnet transactions in flight, by key and subnet (RFC 7871: only queries for the
    /// same subnet share one); the others are in `pending`.
    pending_ecs: HashMap<Box<[u8]>, usize, rustc_hash::FxBuildHasher>,
    txns: Vec<Option<Txn>>,
    free_txns: Vec<usize>,
    active: usize,
    gen: u32,
    pending: HashMap<KeyBuf, usize, rustc_hash::FxBuildHasher>,
    /// Upstream transmits awaited, by token: the transaction and its generation.
    outstanding: HashMap<u64, (usize, u32), rustc_hash::FxBuildHasher>,
    /// Clients waiting on all transactions.
    waiting: usize,
    /// Due times, earliest first. A timer is not taken out when its transaction ends (a heap
    /// cannot): it fires as a no-op, or [`Forwarder::schedule`] drops it in a compaction.
    timers: BinaryHeap<Reverse<(Duration, u64, Timer)>>,
    timer_seq: u64,
    /// The heap size at which the next compaction runs.
    timers_compact_at: usize,
    out: VecDeque<Output>,
    next_token: u64,
    stats: Stats,
    probes_started: bool,
    probe_gen: u32,
    /// The latest time an input carried.
    now: Duration,
    /// Reused for the one encode of each upstream answer (the cache's form) and its TTL
    /// offsets, so the miss path allocates only what it keeps.
    enc: Encoder,
    ttls: Vec<u16>,
    /// Buffers of finished transactions (their question, their waiters' queries) and their
    /// emptied waiter lists, reused by the next ones: a miss does not allocate them again.
    spare_bufs: Vec<Vec<u8>>,
    spare_waiters: Vec<Vec<Waiter>>,
    /// Why the network error being handled happened ([`Input::FailureWhy`]), from
    /// `on_failure` to the `after_attempt` it calls.
    failure_why: Option<String>,
    /// The forwarding-loop check (`loops.rs`).
    loops: loops::Loops,
}

/// Spare buffers kept at most (a flash crowd's worth is returned to the allocator).
const SPARE: usize = 256;

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Forwarder {
    /// An engine with its own cache (the simulator, the npm `Forwarder`, tests).
    pub fn new(cfg: Config, seed: [u8; 32]) -> Forwarder {
        let cache = Arc::new(SharedCache::private(cfg.cache.size));
        Forwarder::with_cache(cfg, seed, cache)
    }

    /// An engine that uses `cache`, shared with other engines (the workers of one server): a
    /// name one of them cached is a hit for all. The cache's budget is the one it was made
    /// with; [`Forwarder::reconfigure`] sets it to the new configuration's.
    pub fn with_cache(cfg: Config, seed: [u8; 32], cache: Arc<SharedCache>) -> Forwarder {
        let n = u16::try_from(cfg.upstreams.len()).unwrap_or(u16::MAX);
        let mut limits = FallbackLimits::for_upstreams(n);
        limits.query_timeout = cfg.query_timeout;
        if let Some(m) = cfg.max_attempts {
            limits.max_attempts = m.max(1);
        }
        let upstreams = Zones::upstreams(&cfg);
        let (labels, trusted) = upstream_meta(&cfg);
        Forwarder {
            cache,
            zones: Zones::new(&cfg),
            // Shells validate first; an invalid local configuration answers nothing locally.
            local: LocalData::build(&cfg.local).unwrap_or_default(),
            probe_gen: 0,
            labels,
            trusted,
            pending_ecs: HashMap::default(),
            limits,
            rng: Rng::from_seed(seed),
            upstreams,
            txns: Vec::new(),
            free_txns: Vec::new(),
            active: 0,
            gen: 0,
            pending: HashMap::default(),
            outstanding: HashMap::default(),
            waiting: 0,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            timers_compact_at: MIN_TIMER_COMPACTION,
            out: VecDeque::new(),
            next_token: 1,
            stats: Stats::default(),
            probes_started: false,
            now: Duration::ZERO,
            enc: Encoder::new(),
            ttls: Vec::with_capacity(32),
            spare_bufs: Vec::new(),
            spare_waiters: Vec::new(),
            failure_why: None,
            loops: loops::Loops::new(Arc::new(LoopTable::new())),
            cfg,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Replaces the configuration (SIGHUP reload), keeping the cache (resized to the new
    /// budget), the state of the upstreams that stay (matched by group and label), and
    /// everything in flight. Local data is rebuilt from the new configuration. An attempt in
    /// flight to an upstream that is gone, or whose name now belongs to another forwarding
    /// group, is abandoned ([`Output::UpstreamDone`]) and its transaction tries again among the
    /// group's upstreams at the next input; an upstream that moved in the list keeps its
    /// attempts under its new index.
    pub fn reconfigure(&mut self, cfg: Config) {
        let n = u16::try_from(cfg.upstreams.len()).unwrap_or(u16::MAX);
        self.limits = FallbackLimits::for_upstreams(n);
        self.limits.query_timeout = cfg.query_timeout;
        if let Some(m) = cfg.max_attempts {
            self.limits.max_attempts = m.max(1);
        }
        if cfg.local != self.cfg.local {
            self.local = LocalData::build(&cfg.local).unwrap_or_default();
        }
        // Every reload checks for loops anew: the upstreams, or what they forward to, may
        // have changed.
        self.restart_loop_check();
        let routing_changed = cfg.upstreams != self.cfg.upstreams
            || cfg.policy != self.cfg.policy
            || cfg.forward != self.cfg.forward;
        let new_zones = Zones::new(&cfg);
        if cfg.probe != self.cfg.probe || cfg.forward != self.cfg.forward {
            // Probe timers of the old configuration lapse; the next input schedules anew.
            self.probe_gen = self.probe_gen.wrapping_add(1);
            self.probes_started = false;
        }
        if routing_changed {
            self.reroute(Zones::upstreams(&cfg), new_zones);
        } else {
            self.zones = new_zones;
        }
        self.cache.set_max_bytes(cfg.cache.size, self.now);
        (self.labels, self.trusted) = upstream_meta(&cfg);
        self.cfg = cfg;
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn upstream_counters(&self) -> Vec<(String, Counters)> {
        self.upstreams
            .list
            .iter()
            .map(|u| (u.label.clone(), u.counters))
            .collect()
    }

    /// Installs new upstreams and zones, keeping the state of each upstream that stays (same
    /// group, by its zones, and same label) and re-routing transactions in flight: an attempt
    /// whose upstream is gone or no longer serves the transaction's group is abandoned
    /// ([`Output::UpstreamDone`]) and tried again in the group the name now belongs to.
    fn reroute(&mut self, upstreams: Upstreams, zones: Zones) {
        let old = core::mem::replace(&mut self.upstreams, upstreams);
        let old_zones = core::mem::replace(&mut self.zones, zones);
        let group_name = |z: &Zones, g: u16| z.get(usize::from(g)).name.clone();
        // Old index -> new index, by group and label.
        let moved: Vec<Option<UpstreamId>> = old
            .list
            .iter()
            .map(|u| {
                let gname = group_name(&old_zones, u.group);
                self.upstreams
                    .list
                    .iter()
                    .position(|x| x.label == u.label && group_name(&self.zones, x.group) == gname)
                    .map(|i| UpstreamId(i as u16))
            })
            .collect();
        for (u, to) in old.list.iter().zip(&moved) {
            if let Some(to) = to {
                let new = self.upstreams.get_mut(*to);
                let (force_tcp, group) = (new.force_tcp, new.group);
                *new = u.clone();
                new.force_tcp = force_tcp;
                new.group = group;
            }
        }
        // What a group answers with: its zones and upstreams. Cached answers for names whose
        // group answers with something else after the reload are dropped, so a zone moved to
        // other upstreams is never answered from what the old ones said (a cached REFUSED or
        // SERVFAIL included); every other entry stays.
        let identity = |u: &Upstreams, z: &Zones, g: usize| -> (String, Vec<String>) {
            let labels = u
                .list
                .iter()
                .filter(|x| usize::from(x.group) == g)
                .map(|x| x.label.clone())
                .collect();
            (z.get(g).name.clone(), labels)
        };
        let (olds, news) = (old_zones.groups.len(), self.zones.groups.len());
        let before: Vec<_> = (0..olds).map(|g| identity(&old, &old_zones, g)).collect();
        let after: Vec<_> = (0..news)
            .map(|g| identity(&self.upstreams, &self.zones, g))
            .collect();
        let zones = &self.zones;
        // The cache is shared by every worker: the first worker to reload drops, the others
        // find nothing left to drop.
        let dropped = self.cache.remove_where(|key| {
            let name = key.get(5..).unwrap_or_default();
            before.get(old_zones.group_of(name)) != after.get(zones.group_of(name))
        });
        if dropped > 0 {
            self.event(self.now, || EventKind::ZonesMoved { dropped });
        }
        let remap = |u: UpstreamId| moved.get(usize::from(u.0)).copied().flatten();
        let mut abandoned = Vec::new();
        let mut forgotten = Vec::new();
        let mut finished = Vec::new();
        for (i, slot) in self.txns.iter_mut().enumerate() {
            let Some(txn) = slot.as_mut() else { continue };
            let group = if txn.purpose.is_probe() {
                match txn.current.and_then(|s| remap(s.upstream)) {
                    Some(to) => self.upstreams.get(to).group,
                    None => {
                        finished.push(i);
                        continue;
                    }
                }
            } else {
                self.zones.group_of(txn.key.name_wire()) as u16
            };
            let mut tried = 0;
            for (old_i, to) in moved.iter().enumerate() {
                let old_id = UpstreamId(old_i as u16);
                if let Some(to) = to {
                    if txn.tried & old.bit(old_id) != 0
                        && old.list[old_i].group == txn.group
                        && self.upstreams.get(*to).group == group
                    {
                        tried |= self.upstreams.bit(*to);
                    }
                }
            }
            txn.tried = tried;
            txn.group = group;
            txn.verifying = txn.verifying.and_then(remap);
            // Late answers are not awaited across a reload.
            for s in txn.earlier.drain(..) {
                forgotten.push(s.token);
            }
            if let Some(sent) = txn.current.as_mut() {
                match remap(sent.upstream).filter(|to| self.upstreams.get(*to).group == group) {
                    Some(to) => sent.upstream = to,
                    None => {
                        abandoned.push((i, txn.gen, sent.token));
                        txn.current = None;
                    }
                }
            }
        }
        for t in finished {
            self.finish(t);
        }
        for token in forgotten {
            if self.outstanding.remove(&token).is_some() {
                self.out.push_back(Output::UpstreamDone { token });
            }
        }
        for (t, gen, token) in abandoned {
            self.outstanding.remove(&token);
            self.out.push_back(Output::UpstreamDone { token });
            self.schedule(self.now, Timer::Retry { txn: t, gen });
        }
    }

    /// Upstreams of every forwarding group.
    pub fn upstreams_total(&self) -> usize {
        self.upstreams.len()
    }

    /// Upstreams usable now: not marked down by consecutive failed attempts, nor looping back
    /// here (`loops.rs`). A down upstream
    /// whose backoff has expired stays unusable until an attempt to it succeeds (readiness).
    pub fn upstreams_usable(&mut self) -> usize {
        self.sync_loops();
        self.upstreams
            .list
            .iter()
            .filter(|u| u.consecutive_failures < super::upstreams::MAX_FAILS && !u.looping)
            .count()
    }

    /// The cache's counters (the whole cache's, when it is shared).
    pub fn cache_stats(&self) -> crate::cache::store::StoreStats {
        self.cache.stats()
    }

    /// The cache this engine uses.
    pub fn cache(&self) -> &Arc<SharedCache> {
        &self.cache
    }

    /// The token of the transmit awaited from `upstream` with this message ID, for runtimes
    /// that receive an upstream's answers on one shared socket and so cannot bind an answer to
    /// its transmit themselves (the npm `Forwarder` without a token). Prefer binding: the
    /// native server never calls this.
    pub fn token_for(&self, upstream: UpstreamId, id: u16) -> Option<u64> {
        self.outstanding.iter().find_map(|(&token, &(t, gen))| {
            self.txns[t]
                .as_ref()
                .filter(|x| x.gen == gen)
                .and_then(|x| {
                    x.current
                        .iter()
                        .chain(&x.earlier)
                        .find(|s| s.token == token)
                })
                .filter(|s| s.upstream == upstream && s.id == id)
                .map(|_| token)
        })
    }

    /// Whether the engine still waits on the upstream transmit with this token.
    pub fn awaits(&self, token: u64) -> bool {
        self.outstanding.contains_key(&token)
    }

    /// Timers in the engine's heap, including those of ended transactions not yet dropped by
    /// a compaction: at most about twice the live ones, or 1024.
    pub fn timers_scheduled(&self) -> usize {
        self.timers.len()
    }

    /// Clients waiting on transactions (for metrics).
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Transactions in flight (for tests and metrics).
    pub fn in_flight(&self) -> usize {
        self.active
    }

    /// The next output; after the queue is drained, the next wake-up time.
    pub fn poll(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        Output::Wake(self.timers.peek().map(|Reverse((t, _, _))| *t))
    }

    /// Feeds one input.
    pub fn handle(&mut self, input: Input<'_>) {
        let given = match input {
            Input::Query { now, .. }
            | Input::Response { now, .. }
            | Input::Failure { now, .. }
            | Input::FailureWhy { now, .. }
            | Input::Tick { now } => now,
        };
        let now = self.advance(given);
        match input {
            Input::Query {
                client,
                transport,
                bytes,
                ..
            } => {
                self.on_query(now, client, transport, bytes, || true);
            }
            Input::Response {
                token,
                transport,
                bytes,
                ..
            } => self.on_response(now, token, transport, bytes),
            Input::Failure { token, .. } => self.on_failure(now, token, None),
            Input::FailureWhy { token, why, .. } => self.on_failure(now, token, Some(why)),
            Input::Tick { .. } => {}
        }
    }

    /// A client's query, as [`Input::Query`], with a check for the queries that would wait on
    /// an upstream: `admit` is called only when the query is not answered at once (from local
    /// data, the cache, or with an error), before it joins or starts a transaction. When it
    /// says no, the engine does nothing more with the query (no answer for `client` will come)
    /// and this returns false: the caller answers it. A server's per-client limit on queries
    /// waiting thus costs nothing on a cache hit.
    pub fn handle_query(
        &mut self,
        now: Duration,
        client: ClientId,
        transport: Transport,
        bytes: &[u8],
        admit: impl FnOnce() -> bool,
    ) -> bool {
        let now = self.advance(now);
        self.on_query(now, client, transport, bytes, admit)
    }

    /// Takes the time an input carries, starts the probes on the first input and runs the
    /// timers due. Returns the engine's time.
    fn advance(&mut self, given: Duration) -> Duration {
        // Time never runs backwards inside the engine, whatever clock the shell reads: an
        // earlier `now` is taken as the latest one seen (timers, TTLs and deadlines are
        // computed from it).
        let now = self.now.max(given);
        self.now = now;
        if !self.probes_started {
            self.probes_started = true;
            let gen = self.probe_gen;
            for g in 0..self.zones.groups.len() {
                if self.zones.groups[g].probe.is_some() && self.upstreams.group_len(g) > 0 {
                    let group = g as u16;
                    self.schedule(now, Timer::Probe { group, gen });
                }
            }
        }
        if !self.loops.started {
            self.start_loop_check(now);
        }
        // Most inputs find no timer due: checked here, without a call.
        if matches!(self.timers.peek(), Some(Reverse((at, _, _))) if *at <= now) {
            self.run_timers(now);
        }
        now
    }

    fn event(&mut self, now: Duration, kind: impl FnOnce() -> EventKind) {
        if self.cfg.events {
            self.out.push_back(Output::Event(Box::new(Event {
                at_ms: ms(now),
                kind: kind(),
            })));
        }
    }

    /// A buffer holding `bytes`, reused from a finished transaction when one is spare.
    fn buf_from(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut b = self.spare_bufs.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(bytes);
        b
    }

    /// Keeps a buffer for reuse.
    fn spare_buf(&mut self, b: Vec<u8>) {
        if self.spare_bufs.len() < SPARE && b.capacity() > 0 && b.capacity() <= 512 {
            self.spare_bufs.push(b);
        }
    }

    /// Keeps an answered waiter list (and its queries' buffers) for reuse.
    fn spare_waiters(&mut self, mut ws: Vec<Waiter>) {
        for w in ws.drain(..) {
            self.spare_buf(w.query);
        }
        if self.spare_waiters.len() < SPARE && ws.capacity() > 0 && ws.capacity() <= 16 {
            self.spare_waiters.push(ws);
        }
    }

    fn schedule(&mut self, at: Duration, t: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, t)));
        if self.timers.len() >= self.timers_compact_at {
            self.compact_timers();
        }
    }

    /// Drops the timers whose firing would do nothing: those of ended transactions and of
    /// attempts already answered. Without it the heap holds every miss of the last query
    /// timeout (about 500k entries at 100k misses/s), and each push and pop walks a heap far
    /// larger than the cache. The next compaction waits until the heap doubles, so the cost is
    /// constant per timer.
    fn compact_timers(&mut self) {
        let txns = &self.txns;
        let txn = |t: usize, gen: u32| {
            txns.get(t)
                .and_then(Option::as_ref)
                .filter(|x| x.gen == gen)
        };
        self.timers.retain(|Reverse((_, _, timer))| match *timer {
            Timer::Attempt { txn: t, gen, token } => {
                txn(t, gen).is_some_and(|x| x.current.is_some_and(|s| s.token == token))
            }
            Timer::Deadline { txn: t, gen }
            | Timer::StaleAnswer { txn: t, gen }
            | Timer::Retry { txn: t, gen } => txn(t, gen).is_some(),
            Timer::Probe { .. } | Timer::LoopCheck { .. } => true,
        });
        self.timers_compact_at = (self.timers.len() * 2).max(MIN_TIMER_COMPACTION);
    }

    fn send_client(&mut self, client: ClientId, transport: Transport, bytes: Vec<u8>) {
        if bytes.len() >= 4 {
            let rcode = usize::from(bytes[3] & 0xf);
            self.stats.answers_by_rcode[rcode] += 1;
        }
        self.out.push_back(Output::Answer(Answer {
            client,
            transport,
            bytes,
        }));
    }
}

/// Each upstream's label and trust, indexed as the engine's upstream list (`UpstreamId`): the
/// default group's upstreams, then each forward group's ([`upstream_labels`], the order
/// `Zones::upstreams` builds the list in).
fn upstream_meta(cfg: &Config) -> (Vec<Arc<str>>, Vec<bool>) {
    upstream_labels(cfg)
        .into_iter()
        .map(|u| (Arc::from(u.label.as_str()), u.trusted))
        .unzip()
}
