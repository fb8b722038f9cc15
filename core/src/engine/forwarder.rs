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
use std::collections::{BinaryHeap, HashMap, VecDeque};

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
use crate::cache::store::{write_answer, Entry, EntryKind, KeyBuf, OptOut, Store};
use crate::wire::fit::fit;
use crate::wire::view::{flags, MessageView, HEADER_LEN};
use crate::wire::{Message, Name, Opcode, RType, Rcode};

/// A client, as the runtime identifies it (an index, a hash of its address: the engine only
/// needs identity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientId(pub u64);

/// One upstream in the configuration.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpstreamConfig {
    /// How events name it (its address).
    pub label: String,
    /// Always use TCP (CoreDNS `force_tcp`).
    #[serde(default)]
    pub force_tcp: bool,
}

/// An active health probe: a query whose answer must come back whole or with TC.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProbeConfig {
    pub interval_ms: u64,
    pub name: String,
    pub qtype: String,
    /// Send the probe with EDNS. Without EDNS (the default) a large answer checks that the
    /// upstream truncates properly instead of sending what a 512-byte reader cannot take.
    #[serde(default)]
    pub edns: bool,
}

/// The engine's configuration. Every knob has a default; see the native server's docs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub upstreams: Vec<UpstreamConfig>,
    pub policy: Policy,
    /// Largest UDP answer we send a client, and the size our OPT advertises to clients: 1232.
    pub max_udp_payload: u16,
    /// The UDP payload size our queries advertise upstream: 1232. Answers of any size up to
    /// 65535 bytes are accepted whatever this says (incident 000).
    pub upstream_udp_payload: u16,
    /// How long one attempt waits for its answer: 1500 ms.
    pub attempt_timeout_ms: u64,
    /// How long one client query may take in all: 4000 ms.
    pub query_timeout_ms: u64,
    /// Upstream queries per client query: default 2 x upstreams (at least 2).
    pub max_attempts: Option<u16>,
    /// Cache budget in bytes: 32 MiB.
    pub cache_bytes: usize,
    #[serde(skip)]
    pub cache: CachePolicy,
    /// Transactions in flight at once, prefetches and verifications included: 4096; beyond it
    /// new queries get SERVFAIL and refreshes are skipped.
    pub max_inflight: usize,
    /// Clients waiting on one transaction: 8192. A flash crowd for one name shares one upstream
    /// query; each waiter keeps only its header and question (at most 271 bytes).
    pub max_waiters: usize,
    /// Clients waiting on all transactions together: 65536.
    pub max_waiting: usize,
    /// Largest query accepted from a client, in bytes: 4096 (larger ones get FORMERR).
    pub max_query_size: usize,
    pub probe: Option<ProbeConfig>,
    /// Emit events (the query log, the simulator's trace). Off, the hot path allocates nothing
    /// but the answer.
    pub events: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            upstreams: Vec::new(),
            policy: Policy::default(),
            max_udp_payload: decide::DEFAULT_MAX_PAYLOAD,
            upstream_udp_payload: decide::DEFAULT_MAX_PAYLOAD,
            attempt_timeout_ms: 1500,
            query_timeout_ms: 4000,
            max_attempts: None,
            cache_bytes: 32 << 20,
            cache: CachePolicy::default(),
            max_inflight: 4096,
            max_waiters: 8192,
            max_waiting: 65536,
            max_query_size: 4096,
            probe: None,
            events: true,
        }
    }
}

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
    /// Time passed.
    Tick { now: Duration },
}

/// Who a transmit goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Client(ClientId),
    Upstream(UpstreamId),
}

/// Bytes to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub to: Peer,
    pub transport: Transport,
    pub bytes: Vec<u8>,
    /// Identifies an upstream transmit in [`Input::Failure`]; 0 for answers to clients.
    pub token: u64,
}

/// What comes out of the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Transmit(Transmit),
    /// Boxed: events are rare on the hot path (off unless asked for) and large.
    Event(Box<Event>),
    /// The engine no longer waits on the upstream transmit with this token (answered, timed
    /// out, failed or abandoned): its socket, or its ID on a TCP connection, can be released.
    UpstreamDone {
        token: u64,
    },
    /// The client's message was dropped without an answer (no header, or not a query): the
    /// runtime can forget the client. Every other query gets exactly one transmit.
    ClientDropped {
        client: ClientId,
    },
    /// Nothing more to do until this time (or until new input); `None`: no timer pending.
    Wake(Option<Duration>),
}

/// Upstream messages dropped before they reached a decision, by reason (RFC 5452).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
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

impl Dropped {
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
pub struct Stats {
    pub queries: u64,
    pub bad_queries: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub stale_answers: u64,
    pub coalesced: u64,
    pub prefetches: u64,
    pub verifications: u64,
    pub answers_by_rcode: [u64; 24],
    pub recompressed: u64,
    pub truncated: u64,
    pub gave_up: u64,
    pub dropped_responses: u64,
    /// `dropped_responses` by reason.
    pub dropped: Dropped,
    pub busy: u64,
    /// Prefetches and verifications skipped because the in-flight budget was used up.
    pub refreshes_skipped: u64,
    /// Answers without OPT to a DO or CD query that went out with EDNS, not used (RFC 6840 5.7).
    pub stripped_edns: u64,
    pub fallbacks: HashMap<&'static str, u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Client,
    Prefetch,
    Verify,
    Probe,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Client => "client query",
            Purpose::Prefetch => "prefetch",
            Purpose::Verify => "verifying a suspect negative",
            Purpose::Probe => "health probe",
        }
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
    stale_fallback: Option<StaleFallback>,
    /// The last attempt's give-up text, for the EDE if the deadline ends it.
    last_problem: Option<(u16, String)>,
    /// For a verification: the upstream whose negative answer is being checked.
    verifying: Option<UpstreamId>,
}

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
    Probe,
}

/// The forwarding engine.
#[derive(Debug)]
pub struct Forwarder {
    cfg: Config,
    limits: FallbackLimits,
    rng: Rng,
    store: Store,
    upstreams: Upstreams,
    txns: Vec<Option<Txn>>,
    free_txns: Vec<usize>,
    active: usize,
    gen: u32,
    pending: HashMap<Box<[u8]>, usize, rustc_hash::FxBuildHasher>,
    /// Upstream transmits awaited, by token: the transaction and its generation.
    outstanding: HashMap<u64, (usize, u32), rustc_hash::FxBuildHasher>,
    /// Clients waiting on all transactions.
    waiting: usize,
    timers: BinaryHeap<Reverse<(Duration, u64, Timer)>>,
    timer_seq: u64,
    out: VecDeque<Output>,
    next_token: u64,
    stats: Stats,
    probes_started: bool,
    /// The latest time an input carried.
    now: Duration,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Forwarder {
    pub fn new(cfg: Config, seed: [u8; 32]) -> Forwarder {
        let n = u16::try_from(cfg.upstreams.len()).unwrap_or(u16::MAX);
        let mut limits = FallbackLimits::for_upstreams(n);
        limits.query_timeout = Duration::from_millis(cfg.query_timeout_ms);
        if let Some(m) = cfg.max_attempts {
            limits.max_attempts = m.max(1);
        }
        let upstreams = Upstreams::new(
            cfg.upstreams.iter().map(|u| (u.label.clone(), u.force_tcp)),
            cfg.policy,
        );
        Forwarder {
            store: Store::new(cfg.cache_bytes),
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
            out: VecDeque::new(),
            next_token: 1,
            stats: Stats::default(),
            probes_started: false,
            now: Duration::ZERO,
            cfg,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Replaces the configuration (SIGHUP reload), keeping the cache (resized to the new
    /// budget), the state of the upstreams that stay (matched by label), and everything in
    /// flight. An attempt in flight to an upstream that is gone is abandoned
    /// ([`Output::UpstreamDone`]) and its transaction tries again among the new upstreams at the
    /// next input; an upstream that moved in the list keeps its attempts under its new index.
    pub fn reconfigure(&mut self, cfg: Config) {
        let n = u16::try_from(cfg.upstreams.len()).unwrap_or(u16::MAX);
        self.limits = FallbackLimits::for_upstreams(n);
        self.limits.query_timeout = Duration::from_millis(cfg.query_timeout_ms);
        if let Some(m) = cfg.max_attempts {
            self.limits.max_attempts = m.max(1);
        }
        if cfg.upstreams != self.cfg.upstreams || cfg.policy != self.cfg.policy {
            let old = core::mem::replace(
                &mut self.upstreams,
                Upstreams::new(
                    cfg.upstreams.iter().map(|u| (u.label.clone(), u.force_tcp)),
                    cfg.policy,
                ),
            );
            // Old index -> new index, by label.
            let moved: Vec<Option<UpstreamId>> = old
                .list
                .iter()
                .map(|u| {
                    self.upstreams
                        .list
                        .iter()
                        .position(|x| x.label == u.label)
                        .map(|i| UpstreamId(i as u16))
                })
                .collect();
            for (u, to) in old.list.into_iter().zip(&moved) {
                if let Some(to) = to {
                    let new = self.upstreams.get_mut(*to);
                    let force_tcp = new.force_tcp;
                    *new = u;
                    new.force_tcp = force_tcp;
                }
            }
            let remap = |u: UpstreamId| moved.get(usize::from(u.0)).copied().flatten();
            let mut abandoned = Vec::new();
            for (i, slot) in self.txns.iter_mut().enumerate() {
                let Some(txn) = slot.as_mut() else { continue };
                let mut tried = 0;
                for (old_i, to) in moved.iter().enumerate() {
                    if let (true, Some(to)) = (old_i < 64 && txn.tried & (1 << old_i) != 0, to) {
                        tried |= bit(*to);
                    }
                }
                txn.tried = tried;
                txn.verifying = txn.verifying.and_then(remap);
                if let Some(sent) = txn.current.as_mut() {
                    match remap(sent.upstream) {
                        Some(to) => sent.upstream = to,
                        None => {
                            abandoned.push((i, txn.gen, sent.token));
                            txn.current = None;
                        }
                    }
                }
            }
            for (t, gen, token) in abandoned {
                self.outstanding.remove(&token);
                self.out.push_back(Output::UpstreamDone { token });
                self.schedule(self.now, Timer::Retry { txn: t, gen });
            }
        }
        self.store.set_max_bytes(cfg.cache_bytes, self.now);
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

    /// Upstreams usable now: not marked down by consecutive failed attempts. A down upstream
    /// whose backoff has expired stays unusable until an attempt to it succeeds (readiness).
    pub fn upstreams_usable(&self) -> usize {
        self.upstreams
            .list
            .iter()
            .filter(|u| u.consecutive_failures < super::upstreams::MAX_FAILS)
            .count()
    }

    pub fn cache_stats(&self) -> crate::cache::store::StoreStats {
        self.store.stats()
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
                .and_then(|x| x.current)
                .filter(|s| s.upstream == upstream && s.id == id && s.token == token)
                .map(|_| token)
        })
    }

    /// Whether the engine still waits on the upstream transmit with this token.
    pub fn awaits(&self, token: u64) -> bool {
        self.outstanding.contains_key(&token)
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
        let now = match input {
            Input::Query { now, .. }
            | Input::Response { now, .. }
            | Input::Failure { now, .. }
            | Input::Tick { now } => now,
        };
        self.now = self.now.max(now);
        if !self.probes_started {
            self.probes_started = true;
            if self.cfg.probe.is_some() && !self.upstreams.is_empty() {
                self.schedule(now, Timer::Probe);
            }
        }
        self.run_timers(now);
        match input {
            Input::Query {
                now,
                client,
                transport,
                bytes,
            } => self.on_query(now, client, transport, bytes),
            Input::Response {
                now,
                token,
                transport,
                bytes,
            } => self.on_response(now, token, transport, bytes),
            Input::Failure { now, token } => self.on_failure(now, token),
            Input::Tick { .. } => {}
        }
    }

    fn event(&mut self, now: Duration, kind: impl FnOnce() -> EventKind) {
        if self.cfg.events {
            self.out.push_back(Output::Event(Box::new(Event {
                at_ms: ms(now),
                kind: kind(),
            })));
        }
    }

    fn schedule(&mut self, at: Duration, t: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, t)));
    }

    fn send_client(&mut self, client: ClientId, transport: Transport, bytes: Vec<u8>) {
        if bytes.len() >= 4 {
            let rcode = usize::from(bytes[3] & 0xf);
            self.stats.answers_by_rcode[rcode] += 1;
        }
        self.out.push_back(Output::Transmit(Transmit {
            to: Peer::Client(client),
            transport,
            bytes,
            token: 0,
        }));
    }

    // -----------------------------------------------------------------------------------------
    // Client queries
    // -----------------------------------------------------------------------------------------

    fn on_query(&mut self, now: Duration, client: ClientId, transport: Transport, bytes: &[u8]) {
        self.stats.queries += 1;
        let Ok(view) = MessageView::new(bytes) else {
            self.stats.bad_queries += 1;
            self.event(now, || EventKind::BadQuery {
                client: client.0,
                rcode: None,
                why: format!("{} bytes: shorter than a DNS header, dropped", bytes.len()),
            });
            self.out.push_back(Output::ClientDropped { client });
            return;
        };
        if view.is_response() {
            self.stats.bad_queries += 1;
            self.event(now, || EventKind::BadQuery {
                client: client.0,
                rcode: None,
                why: "QR is set: a response, not a query; dropped".into(),
            });
            self.out.push_back(Output::ClientDropped { client });
            return;
        }
        if bytes.len() > self.cfg.max_query_size {
            return self.reject(
                now,
                client,
                transport,
                bytes,
                Rcode::FORMERR,
                format!(
                    "query of {} B is larger than max_query_size {} B",
                    bytes.len(),
                    self.cfg.max_query_size
                ),
            );
        }
        // A query carries one question, no answer or authority records, and at most an OPT and
        // a signature (TSIG or SIG(0)) in the additional section (RFC 1035 4.1.2, RFC 6891).
        if view.ancount() != 0 || view.nscount() != 0 || view.arcount() > 2 {
            return self.reject(
                now,
                client,
                transport,
                bytes,
                Rcode::FORMERR,
                format!(
                    "section counts {}/{}/{}/{}: a query has 1 question, no answers or authority, \
                     at most 2 additional records",
                    view.qdcount(),
                    view.ancount(),
                    view.nscount(),
                    view.arcount()
                ),
            );
        }
        let scan = match view.scan() {
            Ok(s) => s,
            Err(e) => {
                return self.reject(
                    now,
                    client,
                    transport,
                    bytes,
                    Rcode::FORMERR,
                    format!("query does not decode: {e}"),
                )
            }
        };
        if view.opcode() != Opcode::QUERY {
            return self.reject(
                now,
                client,
                transport,
                bytes,
                Rcode::NOTIMP,
                format!("opcode {} is not supported", view.opcode()),
            );
        }
        let Some(q) = scan.question.filter(|_| view.qdcount() == 1) else {
            return self.reject(
                now,
                client,
                transport,
                bytes,
                Rcode::FORMERR,
                format!("{} questions: exactly one is supported", view.qdcount()),
            );
        };
        if let Some(o) = &scan.opt {
            if o.version != 0 {
                return self.reject(
                    now,
                    client,
                    transport,
                    bytes,
                    Rcode::BADVERS,
                    format!("EDNS version {} (RFC 6891 6.1.3)", o.version),
                );
            }
        }
        let edns = scan.opt.as_ref().map(|o| o.udp_size);
        let dnssec_ok = scan.opt.as_ref().is_some_and(|o| o.dnssec_ok);
        let pl = payload_limit(edns, self.cfg.max_udp_payload);
        let (limit, limit_rule) = match transport {
            Transport::Tcp => (usize::from(u16::MAX), "TCP"),
            Transport::Udp => (usize::from(pl.bytes), pl.rule.as_str()),
        };
        let opt = edns.map(|_| OptOut {
            udp_size: self.cfg.max_udp_payload,
            dnssec_ok,
        });
        let cd = view.checking_disabled();
        let Ok(key) = KeyBuf::from_question(bytes, &q, dnssec_ok, cd) else {
            return self.reject(
                now,
                client,
                transport,
                bytes,
                Rcode::FORMERR,
                "question does not decode".into(),
            );
        };
        let qtype = q.qtype;
        if self.cfg.events {
            let name = name_text(bytes, q.name_start);
            self.event(now, || EventKind::Query {
                client: client.0,
                name,
                qtype: qtype.to_string(),
                transport: transport.as_str(),
                edns_size: edns,
                dnssec_ok,
                limit,
                limit_rule,
            });
        }
        let waiter = Waiter {
            client,
            transport,
            query: Vec::new(),
            opt,
            limit,
        };
        let mut stale_fallback = None;
        if let Some(slot) = self.store.get_touched(key.as_bytes()) {
            let d = policy::serve(&slot.lookup(), &self.cfg.cache, now);
            let served = match d.serve {
                Serve::Fresh { .. } => slot.positive.as_ref().map(|e| (e, None, None, "cache")),
                Serve::Negative { .. } => slot.shadow.as_ref().map(|e| (e, None, None, "cache")),
                Serve::Stale { ttl } => slot.positive.as_ref().map(|e| {
                    (
                        e,
                        Some(ttl),
                        Some((ede::STALE_ANSWER, d.rule.why())),
                        "stale cache",
                    )
                }),
                Serve::CachedFailure { .. } => slot.shadow.as_ref().map(|e| {
                    (
                        e,
                        None,
                        Some((ede::CACHED_ERROR, d.rule.why())),
                        "cached failure",
                    )
                }),
                Serve::Forward { stale_fallback: sf } => {
                    stale_fallback = sf;
                    None
                }
            };
            if let Some((entry, fixed_ttl, ede, source)) = served {
                let mut answer = Vec::with_capacity(entry.wire().len() + 64);
                write_answer(entry, bytes, now, fixed_ttl, None, &mut answer);
                if let Some(o) = opt {
                    append_opt(&mut answer, o, entry.ext_rcode, ede);
                }
                let rule = d.rule;
                let prefetch = matches!(d.serve, Serve::Fresh { prefetch: true, .. });
                match d.serve {
                    Serve::Stale { .. } => self.stats.stale_answers += 1,
                    _ => self.stats.cache_hits += 1,
                }
                if self.cfg.events {
                    let ttl = match d.serve {
                        Serve::Fresh { ttl, .. }
                        | Serve::Negative { ttl }
                        | Serve::Stale { ttl }
                        | Serve::CachedFailure { ttl } => ttl,
                        Serve::Forward { .. } => 0,
                    };
                    let name = name_text(bytes, q.name_start);
                    self.event(now, || EventKind::CacheServe {
                        client: client.0,
                        name,
                        qtype: qtype.to_string(),
                        rule: rule.as_str(),
                        why: rule.why(),
                        ttl,
                    });
                }
                self.deliver(now, &waiter, bytes, answer, source);
                if prefetch && !self.pending.contains_key(key.as_bytes()) && self.refresh_allowed()
                {
                    self.stats.prefetches += 1;
                    self.start_txn(
                        now,
                        key,
                        bytes,
                        q.name_start,
                        q.end,
                        dnssec_ok,
                        cd,
                        Purpose::Prefetch,
                        None,
                        None,
                        None,
                    );
                }
                return;
            }
            self.event_miss(
                now,
                bytes,
                q.name_start,
                qtype,
                d.rule.as_str(),
                d.rule.why(),
            );
        } else {
            self.event_miss(now, bytes, q.name_start, qtype, "miss", "not in the cache");
        }
        self.stats.cache_misses += 1;
        let waiter = Waiter {
            query: header_and_question(bytes, q.end),
            ..waiter
        };
        if self.waiting >= self.cfg.max_waiting {
            self.stats.busy += 1;
            return self.servfail(
                now,
                &waiter,
                ede::OTHER,
                "too many clients waiting for answers".into(),
            );
        }
        if let Some(&t) = self.pending.get(key.as_bytes()) {
            let max = self.cfg.max_waiters;
            if let Some(txn) = self.txns[t].as_mut() {
                if txn.waiters.len() < max {
                    txn.waiters.push(waiter);
                    self.waiting += 1;
                    if txn.stale_fallback.is_none() {
                        txn.stale_fallback = stale_fallback;
                    }
                    let n = txn.waiters.len();
                    self.stats.coalesced += 1;
                    if self.cfg.events {
                        let name = name_text(bytes, q.name_start);
                        self.event(now, || EventKind::Coalesced {
                            client: client.0,
                            name,
                            qtype: qtype.to_string(),
                            waiters: n,
                        });
                    }
                    return;
                }
            }
            self.stats.busy += 1;
            return self.servfail(
                now,
                &waiter,
                ede::OTHER,
                "too many clients waiting for the same answer".into(),
            );
        }
        if self.active >= self.cfg.max_inflight || self.upstreams.is_empty() {
            self.stats.busy += 1;
            let why = if self.upstreams.is_empty() {
                "no upstreams configured"
            } else {
                "too many queries in flight"
            };
            return self.servfail(now, &waiter, ede::OTHER, why.into());
        }
        self.start_txn(
            now,
            key,
            bytes,
            q.name_start,
            q.end,
            dnssec_ok,
            cd,
            Purpose::Client,
            Some(waiter),
            stale_fallback,
            None,
        );
    }

    fn event_miss(
        &mut self,
        now: Duration,
        bytes: &[u8],
        name_start: usize,
        qtype: RType,
        rule: &'static str,
        why: &'static str,
    ) {
        if self.cfg.events {
            let name = name_text(bytes, name_start);
            self.event(now, || EventKind::CacheMiss {
                name,
                qtype: qtype.to_string(),
                rule,
                why,
            });
        }
    }

    /// Answers a query that cannot be served with `rcode` and no answer.
    fn reject(
        &mut self,
        now: Duration,
        client: ClientId,
        transport: Transport,
        query: &[u8],
        rcode: Rcode,
        why: String,
    ) {
        self.stats.bad_queries += 1;
        let r = rcode;
        self.event(now, || EventKind::BadQuery {
            client: client.0,
            rcode: Some(r.to_string()),
            why: why.clone(),
        });
        let out = rcode_answer(query, rcode, self.cfg.max_udp_payload);
        self.send_client(client, transport, out);
    }

    // -----------------------------------------------------------------------------------------
    // Transactions and attempts
    // -----------------------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn start_txn(
        &mut self,
        now: Duration,
        key: KeyBuf,
        query: &[u8],
        name_start: usize,
        q_end: usize,
        dnssec_ok: bool,
        checking_disabled: bool,
        purpose: Purpose,
        waiter: Option<Waiter>,
        stale_fallback: Option<StaleFallback>,
        only: Option<UpstreamId>,
    ) {
        self.gen = self.gen.wrapping_add(1);
        let gen = self.gen;
        let deadline = self.limits.deadline(now);
        let waiter_count = usize::from(waiter.is_some());
        let txn = Txn {
            gen,
            key,
            question: query[name_start..q_end].to_vec(),
            dnssec_ok,
            checking_disabled,
            waiters: waiter.into_iter().collect(),
            purpose,
            deadline,
            attempts: 0,
            tried: 0,
            current: None,
            stale_fallback,
            last_problem: None,
            verifying: if purpose == Purpose::Verify {
                only
            } else {
                None
            },
        };
        let t = match self.free_txns.pop() {
            Some(t) => {
                self.txns[t] = Some(txn);
                t
            }
            None => {
                self.txns.push(Some(txn));
                self.txns.len() - 1
            }
        };
        self.active += 1;
        self.waiting += usize::from(waiter_count > 0);
        if purpose != Purpose::Probe {
            self.pending.insert(key.as_bytes().into(), t);
        }
        self.schedule(deadline, Timer::Deadline { txn: t, gen });
        if let Some(sf) = stale_fallback {
            self.schedule(now + sf.answer_after, Timer::StaleAnswer { txn: t, gen });
        }
        if purpose == Purpose::Verify {
            if let Some(ex) = only {
                // Verification goes to another upstream than the one that answered.
                if let Some(txn) = self.txns[t].as_mut() {
                    txn.tried |= bit(ex);
                }
            }
            self.attempt(now, t, None, None, None, "verify with another upstream");
        } else {
            let why = if purpose == Purpose::Probe {
                "the answer must come back whole or with TC"
            } else {
                ""
            };
            self.attempt(now, t, only, None, None, why);
        }
    }

    /// Sends the next attempt of transaction `t`.
    fn attempt(
        &mut self,
        now: Duration,
        t: usize,
        upstream: Option<UpstreamId>,
        transport: Option<Transport>,
        edns: Option<bool>,
        why: &str,
    ) {
        let Some(txn) = self.txns[t].as_ref() else {
            return;
        };
        let tried = txn.tried;
        let (up, pick_why) = match upstream {
            Some(u) => (u, String::new()),
            None => match self.upstreams.pick(tried, now, &mut self.rng) {
                Some((u, r)) => (u, r),
                None => return,
            },
        };
        let why = if why.is_empty() {
            pick_why
        } else if pick_why.is_empty() {
            why.to_string()
        } else {
            format!("{why}; {pick_why}")
        };
        let state = self.upstreams.get(up);
        let transport = transport.unwrap_or(if state.force_tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        });
        let probe_edns = (self.txns[t].as_ref().map(|x| x.purpose) == Some(Purpose::Probe))
            .then(|| self.cfg.probe.as_ref().map(|p| p.edns))
            .flatten();
        // A DO or CD query always goes with EDNS: an upstream learned to reject EDNS cannot
        // give it a usable answer without (RFC 6840 5.7); the fallback asks another one.
        let needs_edns = self.txns[t]
            .as_ref()
            .is_some_and(|x| x.dnssec_ok || x.checking_disabled);
        let edns = edns
            .or(probe_edns)
            .unwrap_or_else(|| needs_edns || self.upstreams.edns_ok(up, now));
        // A fresh CSPRNG draw per attempt (RFC 5452 9.2): answers are bound to their transmit
        // by token, so IDs need not be unique across upstreams to be matched.
        let id = self.rng.next_u16();
        let Some(txn) = self.txns[t].as_mut() else {
            return;
        };
        let mut q = Vec::with_capacity(HEADER_LEN + txn.question.len() + 11);
        q.extend_from_slice(&id.to_be_bytes());
        let f = flags::RD | if txn.checking_disabled { flags::CD } else { 0 };
        q.extend_from_slice(&f.to_be_bytes());
        q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        q.extend_from_slice(&txn.question);
        if edns {
            append_opt(
                &mut q,
                OptOut {
                    udp_size: self.cfg.upstream_udp_payload,
                    dnssec_ok: txn.dnssec_ok,
                },
                0,
                None,
            );
        }
        let token = self.next_token;
        self.next_token += 1;
        txn.attempts += 1;
        txn.tried |= bit(up);
        txn.current = Some(Sent {
            upstream: up,
            transport,
            id,
            edns,
            at: now,
            token,
        });
        let gen = txn.gen;
        let attempt_no = txn.attempts;
        let purpose = txn.purpose;
        let name = if self.cfg.events {
            name_text(&txn.question, 0)
        } else {
            String::new()
        };
        let qtype = txn.key.qtype().to_string();
        self.outstanding.insert(token, (t, gen));
        self.upstreams.get_mut(up).counters.queries += 1;
        let label = self.upstreams.get(up).label.clone();
        self.event(now, || EventKind::Forwarded {
            name,
            qtype,
            upstream: label,
            transport: transport.as_str(),
            edns,
            id,
            attempt: attempt_no,
            purpose: purpose.as_str(),
            why,
        });
        self.out.push_back(Output::Transmit(Transmit {
            to: Peer::Upstream(up),
            transport,
            bytes: q,
            token,
        }));
        let timeout = Duration::from_millis(self.cfg.attempt_timeout_ms);
        self.schedule(now + timeout, Timer::Attempt { txn: t, gen, token });
    }

    fn on_failure(&mut self, now: Duration, token: u64) {
        let Some(&(t, gen)) = self.outstanding.get(&token) else {
            return;
        };
        let Some(sent) = self.txns[t]
            .as_ref()
            .filter(|x| x.gen == gen)
            .and_then(|x| x.current)
            .filter(|s| s.token == token)
        else {
            self.outstanding.remove(&token);
            return;
        };
        self.release(&sent);
        self.upstreams
            .get_mut(sent.upstream)
            .counters
            .network_errors += 1;
        self.after_attempt(now, t, sent, Outcome::NetworkError, None);
    }

    /// Stops waiting on an upstream transmit and tells the runtime so.
    fn release(&mut self, sent: &Sent) {
        if self.outstanding.remove(&sent.token).is_some() {
            self.out
                .push_back(Output::UpstreamDone { token: sent.token });
        }
    }

    /// Whether a prefetch or a verification may start: they share the in-flight budget with
    /// client queries, and yield to them (at most half of it).
    fn refresh_allowed(&mut self) -> bool {
        let ok = self.active < self.cfg.max_inflight / 2;
        if !ok {
            self.stats.refreshes_skipped += 1;
        }
        ok
    }

    // -----------------------------------------------------------------------------------------
    // Upstream responses
    // -----------------------------------------------------------------------------------------

    /// An upstream message for the transmit `token`. It is accepted only if it answers that
    /// transmit (RFC 5452 9.1): the ID sent, QR=1, opcode QUERY, QDCOUNT=1 and the question sent
    /// (name case-insensitively, type, class). Anything else is dropped, counted by reason, and
    /// the attempt goes on waiting for the real answer.
    fn on_response(&mut self, now: Duration, token: u64, transport: Transport, bytes: &[u8]) {
        let found = self.outstanding.get(&token).and_then(|&(t, gen)| {
            self.txns[t]
                .as_ref()
                .filter(|x| x.gen == gen)
                .and_then(|x| x.current)
                .filter(|s| s.token == token)
                .map(|s| (t, s))
        });
        let Some((t, sent)) = found else {
            self.stats.dropped_responses += 1;
            self.stats.dropped.late += 1;
            self.event(now, || EventKind::Dropped {
                upstream: String::from("?"),
                why: format!(
                    "{} B for no query in flight (late or unsolicited)",
                    bytes.len()
                ),
            });
            return;
        };
        let upstream = sent.upstream;
        let problem: Option<(&'static str, String)> = match MessageView::new(bytes) {
            Err(_) => Some(("short", format!("{} bytes: no DNS header", bytes.len()))),
            Ok(v) if v.id() != sent.id => Some((
                "wrong_id",
                format!("ID {} is not the ID {} sent (RFC 5452)", v.id(), sent.id),
            )),
            Ok(v) if !v.is_response() => Some((
                "not_response",
                "QR=0: an echoed query, not a response".into(),
            )),
            Ok(v) if v.opcode() != Opcode::QUERY => {
                Some(("opcode", format!("opcode {} is not QUERY", v.opcode())))
            }
            Ok(v) if v.qdcount() != 1 => Some((
                "qdcount",
                format!(
                    "QDCOUNT {}: an answer repeats the one question",
                    v.qdcount()
                ),
            )),
            Ok(v) => {
                let txn_q = self.txns[t].as_ref().map(|x| x.question.as_slice());
                let same = match (v.question(), txn_q) {
                    (Ok(Some(q)), Some(mine)) => {
                        v.bytes().get(q.name_start..q.end).is_some()
                            && question_matches(bytes, q.name_start, q.end, mine)
                    }
                    // A question that does not decode is a broken answer from the upstream
                    // asked, with its ID, on its socket: the fallback rules deal with it.
                    (Err(_), _) => true,
                    _ => false,
                };
                (!same).then(|| {
                    (
                        "question",
                        "question does not match the query (RFC 5452)".to_string(),
                    )
                })
            }
        };
        if let Some((reason, why)) = problem {
            self.stats.dropped_responses += 1;
            let d = &mut self.stats.dropped;
            match reason {
                "short" => d.short += 1,
                "wrong_id" => d.wrong_id += 1,
                "not_response" => d.not_response += 1,
                "opcode" => d.opcode += 1,
                "qdcount" => d.qdcount += 1,
                _ => d.question += 1,
            }
            self.upstreams.get_mut(upstream).counters.mismatched += 1;
            let l = self.upstreams.get(upstream).label.clone();
            self.event(now, || EventKind::Dropped { upstream: l, why });
            return;
        }
        let label_s = self.upstreams.get(upstream).label.clone();
        let label = || label_s.clone();
        self.release(&sent);
        let (outcome, msg) = match Message::from_wire(bytes) {
            Ok(m) => (Outcome::from_response(m.rcode(), m.header.tc), Some(m)),
            Err(e) => (
                Outcome::Undecodable {
                    size: bytes.len(),
                    offset: e.offset,
                },
                None,
            ),
        };
        let needs_edns = self.txns[t]
            .as_ref()
            .is_some_and(|x| x.dnssec_ok || x.checking_disabled);
        let outcome = match (&msg, outcome) {
            (Some(m), Outcome::Answer | Outcome::Truncated)
                if sent.edns && needs_edns && m.edns.is_none() =>
            {
                self.stats.stripped_edns += 1;
                Outcome::EdnsStripped
            }
            (_, o) => o,
        };
        let rtt = now.saturating_sub(sent.at);
        self.conformance(now, upstream, transport, sent, bytes, msg.as_ref(), outcome);
        if self.cfg.events {
            let l = label();
            let rcode = msg.as_ref().map(|m| m.rcode().to_string());
            let oc = match outcome {
                Outcome::Undecodable { offset, .. } => {
                    format!("does not decode at offset {offset}")
                }
                o => format!("{o:?}").to_lowercase(),
            };
            self.event(now, || EventKind::UpstreamResponse {
                upstream: l,
                transport: transport.as_str(),
                size: bytes.len(),
                rcode,
                rtt_ms: ms(rtt),
                outcome: oc,
            });
        }
        self.after_attempt(
            now,
            t,
            Sent { transport, ..sent },
            outcome,
            msg.map(|m| (m, bytes)),
        );
    }

    /// Counts what the upstream did wrong and says so.
    #[allow(clippy::too_many_arguments)]
    fn conformance(
        &mut self,
        now: Duration,
        up: UpstreamId,
        transport: Transport,
        sent: Sent,
        bytes: &[u8],
        msg: Option<&Message>,
        outcome: Outcome,
    ) {
        let advertised = if sent.edns {
            usize::from(self.cfg.upstream_udp_payload)
        } else {
            512
        };
        let mut notes: Vec<String> = Vec::new();
        let c = &mut self.upstreams.get_mut(up).counters;
        c.answers += 1;
        if transport == Transport::Udp && bytes.len() > advertised {
            c.oversized += 1;
            notes.push(format!(
                "UDP answer of {} B is larger than the {advertised} B we advertised",
                bytes.len()
            ));
        }
        match outcome {
            Outcome::Undecodable { .. } => c.undecodable += 1,
            Outcome::ServFail => c.servfail += 1,
            Outcome::Truncated => c.truncated += 1,
            _ => {}
        }
        if let Some(m) = msg {
            if sent.edns && m.edns.is_none() && outcome != Outcome::ServFail {
                c.no_opt += 1;
                notes.push("answer without OPT to a query with OPT".into());
            }
            let negative = !m.header.tc
                && (m.rcode() == Rcode::NXDOMAIN
                    || (m.rcode() == Rcode::NOERROR && m.answers.is_empty()));
            if negative
                && !m.authority.iter().any(|r| r.rtype == RType::SOA)
                && !m.authority.iter().any(|r| r.rtype == RType::NS)
            {
                c.negative_without_soa += 1;
                notes.push("negative answer without SOA (not cacheable, RFC 2308 5)".into());
            }
            // Uncompressed: only worth checking when there are several names.
            if m.answers.len() + m.authority.len() + m.additional.len() >= 2 {
                if let Ok(comp) = m.to_wire() {
                    if comp.len() + 16 <= bytes.len() {
                        c.uncompressed += 1;
                        c.uncompressed_bytes_lost += (bytes.len() - comp.len()) as u64;
                        notes.push(format!(
                            "answer of {} B is not compressed: {} B compressed",
                            bytes.len(),
                            comp.len()
                        ));
                    }
                }
            }
        }
        if !notes.is_empty() && self.cfg.events {
            let label = self.upstreams.get(up).label.clone();
            for what in notes {
                let l = label.clone();
                self.event(now, || EventKind::Nonconforming { upstream: l, what });
            }
        }
    }

    /// Decides and acts after an attempt ended.
    fn after_attempt(
        &mut self,
        now: Duration,
        t: usize,
        sent: Sent,
        outcome: Outcome,
        msg: Option<(Message, &[u8])>,
    ) {
        let Some(txn) = self.txns[t].as_mut() else {
            return;
        };
        txn.current = None;
        let label = self.upstreams.get(sent.upstream).label.clone();
        if txn.purpose == Purpose::Probe {
            let healthy = matches!(outcome, Outcome::Answer | Outcome::Truncated);
            // A probe that comes back broken counts like an unreachable upstream: the point of
            // checking content is that "it answers" is not "it answers usably" (incident 000).
            let verdict = if healthy {
                UpstreamVerdict::Answered
            } else {
                UpstreamVerdict::Unreachable
            };
            self.upstreams.record(
                sent.upstream,
                verdict,
                Some(now.saturating_sub(sent.at)),
                now,
            );
            let why = match outcome {
                Outcome::Answer => "answer came back whole".to_string(),
                Outcome::Truncated => "answer came back with TC".to_string(),
                Outcome::Undecodable { size, offset } => {
                    format!("answer of {size} B does not decode at offset {offset}")
                }
                o => format!("{o:?}").to_lowercase(),
            };
            self.event(now, || EventKind::Probe {
                upstream: label,
                healthy,
                why,
            });
            self.finish(t);
            return;
        }
        let attempt = Attempt {
            upstream: Upstream {
                id: sent.upstream,
                label: &label,
            },
            transport: sent.transport,
            edns: sent.edns,
            edns_required: txn.dnssec_ok || txn.checking_disabled,
            outcome,
        };
        let meta_query = is_meta_type(txn.key.qtype());
        let budget = Budget {
            attempts: txn.attempts,
            max_attempts: self.limits.max_attempts,
            upstreams: self.upstreams.len() as u16,
            now,
            deadline: txn.deadline,
        };
        let fb = fallback(&attempt, &budget);
        let rtt = match outcome {
            Outcome::Timeout | Outcome::NetworkError => None,
            _ => Some(now.saturating_sub(sent.at)),
        };
        // One query's FORMERR says nothing about the upstream's EDNS when the query is of a
        // meta or unknown type (RFC 8906 8): the fallback stays per query then.
        let verdict = match fb.verdict {
            UpstreamVerdict::NoEdns if meta_query => UpstreamVerdict::CouldNotAnswer,
            v => v,
        };
        self.upstreams.record(sent.upstream, verdict, rtt, now);
        if sent.edns && msg.as_ref().is_some_and(|(m, _)| m.edns.is_some()) {
            self.upstreams.edns_works(sent.upstream);
        }
        if fb.next != Next::Accept {
            *self.stats.fallbacks.entry(fb.rule.as_str()).or_insert(0) += 1;
            let (rule, next, why) = (fb.rule.as_str(), fb.next.as_str(), fb.rule.why());
            let l = label.clone();
            self.event(now, || EventKind::Fallback {
                upstream: l,
                rule,
                next,
                why,
            });
        }
        match fb.next {
            Next::Accept => {
                if let Some((m, bytes)) = msg {
                    self.accept(now, t, sent.upstream, m, bytes);
                }
            }
            Next::RetrySameUpstreamTcp => self.attempt(
                now,
                t,
                Some(sent.upstream),
                Some(Transport::Tcp),
                Some(sent.edns),
                fb.rule.why(),
            ),
            Next::RetrySameUpstreamWithoutEdns => self.attempt(
                now,
                t,
                Some(sent.upstream),
                Some(sent.transport),
                Some(false),
                fb.rule.why(),
            ),
            Next::NextUpstream => {
                if let Some(txn) = self.txns[t].as_mut() {
                    txn.last_problem = Some((
                        ede::NO_REACHABLE_AUTHORITY,
                        format!("upstream {label}: {}", fb.rule.why()),
                    ));
                }
                self.attempt(now, t, None, None, None, fb.rule.why());
            }
            Next::GiveUp { ede_code, text } => self.give_up(now, t, ede_code, text),
        }
    }

    /// An answer to pass on: cache it by the policy, then answer every waiting client.
    fn accept(
        &mut self,
        now: Duration,
        t: usize,
        from: UpstreamId,
        mut msg: Message,
        bytes: &[u8],
    ) {
        let Some(txn) = self.txns[t].as_ref() else {
            return;
        };
        let key = txn.key;
        let purpose = txn.purpose;
        let mut facts = ResponseFacts::from_message(&msg);
        // RFC 2181 8: a TTL with the top bit set means zero.
        if let Some(t) = facts.answer_min_ttl {
            if t >= 1 << 31 {
                facts.answer_min_ttl = Some(0);
            }
        }
        facts.other_upstream = self.upstreams.len() > 1;
        facts.verifies_suspect = purpose == Purpose::Verify && txn.verifying != Some(from);
        let history = self.history(&msg, &key, now);
        let lifetime = policy::lifetime(&facts, &self.cfg.cache, &history, now);
        let name = if self.cfg.events {
            name_text(&txn.question, 0)
        } else {
            String::new()
        };
        let qtype = key.qtype().to_string();
        let retention = self.retention();
        let (kind, ttl) = match lifetime {
            Lifetime::DoNotCache { .. } => (None, 0),
            Lifetime::Positive { ttl, .. } => (Some(EntryKind::Positive), ttl),
            Lifetime::Negative { ttl, .. } => (Some(EntryKind::Negative), ttl),
            Lifetime::SuspectNegative { ttl, .. } if ttl > 0 => {
                (Some(EntryKind::SuspectNegative), ttl)
            }
            Lifetime::SuspectNegative { .. } => (None, 0),
            Lifetime::Failure { ttl, .. } => (Some(EntryKind::Failure), ttl),
        };
        let rule = lifetime.rule();
        // The stored form drops OPT; rebuild from the decoded message when the upstream's
        // bytes are not the best form to keep (uncompressed answers get compressed here).
        msg.edns = None;
        let compact = msg.to_wire().ok();
        let (wire, recompressed): (&[u8], Option<String>) = match &compact {
            Some(c) if c.len() < bytes.len() => {
                self.stats.recompressed += 1;
                (
                    c,
                    Some(format!(
                        "upstream answer of {} B re-compressed to {} B",
                        bytes.len(),
                        c.len()
                    )),
                )
            }
            _ => (bytes, None),
        };
        let entry = Entry::new(
            wire,
            kind.unwrap_or(EntryKind::Positive),
            now,
            ttl,
            retention,
            rule.as_str(),
        );
        let Ok(entry) = entry else {
            // Decoded above, so this only fails for a message over 65535 bytes.
            return self.give_up(
                now,
                t,
                ede::INVALID_DATA,
                "answer could not be stored".into(),
            );
        };
        if let Some(k) = kind {
            let mut stored = entry.clone();
            stored.kind = k;
            self.store.insert(key.as_bytes(), stored, now);
            let kind_s = match k {
                EntryKind::Positive => "positive",
                EntryKind::Negative => "negative",
                EntryKind::SuspectNegative => "suspect negative",
                EntryKind::Failure => "failure",
            };
            let (n, q) = (name.clone(), qtype.clone());
            self.event(now, || EventKind::Cached {
                name: n,
                qtype: q,
                kind: kind_s,
                ttl,
                rule: rule.as_str(),
                why: rule.why(),
            });
        } else {
            let (n, q) = (name.clone(), qtype.clone());
            self.event(now, || EventKind::NotCached {
                name: n,
                qtype: q,
                rule: rule.as_str(),
                why: rule.why(),
            });
        }
        let waiters = self.txns[t]
            .as_mut()
            .map(|x| core::mem::take(&mut x.waiters))
            .unwrap_or_default();
        self.waiting = self.waiting.saturating_sub(waiters.len());
        let keep_positive = matches!(
            lifetime,
            Lifetime::SuspectNegative {
                keep_serving_positive: true,
                ..
            }
        );
        let verify = matches!(
            lifetime,
            Lifetime::SuspectNegative {
                verify_with_another_upstream: true,
                ..
            }
        );
        let stale_ttl = self.cfg.cache.serve_stale.ttl;
        for w in &waiters {
            let positive = if keep_positive {
                self.store
                    .get(key.as_bytes())
                    .and_then(|s| s.positive.clone())
            } else {
                None
            };
            let (e, fixed, ede, source) = match &positive {
                Some(p) => (
                    p,
                    Some(stale_ttl),
                    Some((
                        ede::STALE_ANSWER,
                        "negative answer is suspect: last positive answer served",
                    )),
                    "last positive answer (suspect negative)",
                ),
                None => (&entry, None, None, "upstream"),
            };
            let note = if positive.is_none() {
                recompressed.clone()
            } else {
                None
            };
            let answer = answer_from(e, w, now, fixed, ede);
            self.deliver_noted(now, w, &w.query, answer, source, note);
        }
        self.finish(t);
        if verify && purpose != Purpose::Verify && self.refresh_allowed() {
            self.stats.verifications += 1;
            if let Some(w) = waiters.first() {
                let q = w.query.clone();
                if let Ok(Some(qr)) = MessageView::new(&q).and_then(|v| v.question()) {
                    self.start_txn(
                        now,
                        key,
                        &q,
                        qr.name_start,
                        qr.end,
                        key.as_bytes()[0] & 1 != 0,
                        key.as_bytes()[0] & 2 != 0,
                        Purpose::Verify,
                        None,
                        None,
                        Some(from),
                    );
                }
            } else {
                let q = self.synth_query(&key);
                self.start_txn(
                    now,
                    key,
                    &q,
                    HEADER_LEN,
                    q.len(),
                    key.as_bytes()[0] & 1 != 0,
                    key.as_bytes()[0] & 2 != 0,
                    Purpose::Verify,
                    None,
                    None,
                    Some(from),
                );
            }
        }
    }

    /// A query for a key (for refreshes started without a client).
    fn synth_query(&self, key: &KeyBuf) -> Vec<u8> {
        let mut q = vec![0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(key.name_wire());
        q.extend_from_slice(&key.as_bytes()[1..5]);
        q
    }

    /// How long the store keeps an entry past its expiry.
    fn retention(&self) -> Duration {
        let c = &self.cfg.cache;
        let stale = if c.serve_stale.enabled {
            c.serve_stale.window
        } else {
            Duration::ZERO
        };
        stale.max(c.suspect_window)
    }

    /// What the store remembers about the names of a response's CNAME chain.
    fn history(&self, msg: &Message, key: &KeyBuf, _now: Duration) -> NameHistory {
        let mut h = NameHistory::default();
        let flags_byte = key.as_bytes()[0];
        let type_class = &key.as_bytes()[1..5];
        let mut buf = [0u8; crate::cache::store::MAX_KEY_LEN];
        for name in policy::cname_chain(msg) {
            let lower = name.to_lowercase();
            let w = lower.as_wire();
            buf[0] = flags_byte;
            buf[1..5].copy_from_slice(type_class);
            buf[5..5 + w.len()].copy_from_slice(w);
            if let Some(slot) = self.store.get(&buf[..5 + w.len()]) {
                if let Some(p) = &slot.positive {
                    let lp = LastPositive {
                        received: p.stored_at,
                        ttl: p.ttl,
                    };
                    if h.last_positive.is_none_or(|x| x.received < lp.received) {
                        h.last_positive = Some(lp);
                    }
                }
                if w == key.name_wire() {
                    if let Some(s) = slot
                        .shadow
                        .as_ref()
                        .filter(|s| s.kind == EntryKind::Failure)
                    {
                        h.consecutive_failures = s.failures;
                    }
                }
            }
        }
        h
    }

    /// The engine stops trying: cache the failure (RFC 9520) and answer SERVFAIL with an EDE,
    /// or the stale answer when there is one (RFC 8767).
    fn give_up(&mut self, now: Duration, t: usize, ede_code: u16, text: String) {
        self.stats.gave_up += 1;
        let Some(txn) = self.txns[t].as_mut() else {
            return;
        };
        let key = txn.key;
        let waiters = core::mem::take(&mut txn.waiters);
        self.waiting = self.waiting.saturating_sub(waiters.len());
        let stale_ok = txn.stale_fallback;
        let purpose = txn.purpose;
        let name = if self.cfg.events {
            name_text(&txn.question, 0)
        } else {
            String::new()
        };
        let qtype = key.qtype().to_string();
        {
            let (n, q, tx) = (name.clone(), qtype.clone(), text.clone());
            self.event(now, || EventKind::GaveUp {
                name: n,
                qtype: q,
                ede: ede_code,
                text: tx,
            });
        }
        if purpose != Purpose::Probe {
            let prev = self
                .store
                .get(key.as_bytes())
                .and_then(|s| {
                    s.shadow
                        .as_ref()
                        .filter(|e| e.kind == EntryKind::Failure)
                        .map(|e| e.failures)
                })
                .unwrap_or(0);
            let history = NameHistory {
                last_positive: None,
                consecutive_failures: prev,
            };
            let lifetime =
                policy::lifetime(&ResponseFacts::failure(), &self.cfg.cache, &history, now);
            if let Lifetime::Failure { ttl, rule } = lifetime {
                let q = self.synth_query(&key);
                let fail = servfail_for(&q, None, ede_code, &text);
                if let Ok(mut e) = Entry::new(
                    &fail,
                    EntryKind::Failure,
                    now,
                    ttl,
                    Duration::ZERO,
                    rule.as_str(),
                ) {
                    e.failures = prev + 1;
                    self.store.insert(key.as_bytes(), e, now);
                    let (n, q) = (name.clone(), qtype.clone());
                    self.event(now, || EventKind::Cached {
                        name: n,
                        qtype: q,
                        kind: "failure",
                        ttl,
                        rule: rule.as_str(),
                        why: rule.why(),
                    });
                }
            }
        }
        let stale = stale_ok.and_then(|sf| {
            self.store
                .get(key.as_bytes())
                .and_then(|s| s.positive.clone())
                .map(|p| (p, sf.ttl))
        });
        for w in &waiters {
            match &stale {
                Some((p, ttl)) => {
                    self.stats.stale_answers += 1;
                    let answer =
                        answer_from(p, w, now, Some(*ttl), Some((ede::STALE_ANSWER, &text)));
                    self.deliver(now, w, &w.query, answer, "stale cache (upstreams failed)");
                }
                None => self.servfail(now, w, ede_code, text.clone()),
            }
        }
        self.finish(t);
    }

    fn servfail(&mut self, now: Duration, w: &Waiter, ede_code: u16, text: String) {
        let q = if w.query.is_empty() { return } else { &w.query };
        let answer = servfail_for(q, w.opt, ede_code, &text);
        let w2 = w.clone();
        self.deliver(now, &w2, &w2.query, answer, "synthesized SERVFAIL");
    }

    /// Fits an answer to the client's limit and sends it.
    fn deliver(
        &mut self,
        now: Duration,
        w: &Waiter,
        query: &[u8],
        answer: Vec<u8>,
        source: &'static str,
    ) {
        self.deliver_noted(now, w, query, answer, source, None);
    }

    fn deliver_noted(
        &mut self,
        now: Duration,
        w: &Waiter,
        query: &[u8],
        mut answer: Vec<u8>,
        source: &'static str,
        note: Option<String>,
    ) {
        let mut fit_note = note;
        if answer.len() > w.limit {
            match fit(&answer, w.limit) {
                Ok(f) => {
                    if f.recompressed < f.original {
                        self.stats.recompressed += 1;
                    }
                    let mut note = fit_note.take().map_or(String::new(), |n| format!("{n}; "))
                        + &format!("{} B", f.original);
                    if f.recompressed < f.original {
                        note.push_str(&format!(", re-compressed to {} B", f.recompressed));
                    }
                    if let Some(m) = f.minimized {
                        note.push_str(&format!(", minimal response {m} B"));
                    }
                    if let Some(t) = &f.truncation {
                        self.stats.truncated += 1;
                        note.push_str(&format!(", truncated to {} B{} ({} answer, {} authority, {} additional records dropped)", t.size, if t.tc { " with TC" } else { "" }, t.dropped[0], t.dropped[1], t.dropped[2]));
                    }
                    fit_note = Some(note);
                    answer = f.bytes;
                }
                Err(e) => {
                    fit_note = Some(format!("could not fit: {e}"));
                    answer = servfail_for(
                        query,
                        w.opt,
                        ede::OTHER,
                        "answer could not be fitted to the client",
                    );
                }
            }
        }
        if self.cfg.events {
            let name = MessageView::new(query)
                .ok()
                .and_then(|v| v.question().ok().flatten())
                .map(|q| (name_text(query, q.name_start), q.qtype.to_string()))
                .unwrap_or_default();
            let rcode = if answer.len() >= 4 {
                Rcode(u16::from(answer[3] & 0xf)).to_string()
            } else {
                String::new()
            };
            let (size, limit, client) = (answer.len(), w.limit, w.client.0);
            self.event(now, || EventKind::Answered {
                client,
                name: name.0,
                qtype: name.1,
                rcode,
                size,
                limit,
                source,
                fit: fit_note,
            });
        }
        self.send_client(w.client, w.transport, answer);
    }

    fn finish(&mut self, t: usize) {
        if let Some(txn) = self.txns[t].take() {
            if let Some(s) = txn.current {
                self.release(&s);
            }
            self.waiting = self.waiting.saturating_sub(txn.waiters.len());
            if self.pending.get(txn.key.as_bytes()) == Some(&t) {
                self.pending.remove(txn.key.as_bytes());
            }
            self.free_txns.push(t);
            self.active -= 1;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Timers
    // -----------------------------------------------------------------------------------------

    fn run_timers(&mut self, now: Duration) {
        // Bounded: each timer is popped once; new ones are due later than `now` except for
        // immediate retries, which do not schedule timers before `now`.
        let mut budget = self.timers.len() + 64;
        while budget > 0 {
            budget -= 1;
            match self.timers.peek() {
                Some(Reverse((at, _, _))) if *at <= now => {}
                _ => break,
            }
            let Some(Reverse((at, _, timer))) = self.timers.pop() else {
                break;
            };
            self.fire(at.max(Duration::ZERO).min(now), timer);
        }
    }

    fn alive(&self, t: usize, gen: u32) -> bool {
        self.txns
            .get(t)
            .and_then(Option::as_ref)
            .is_some_and(|x| x.gen == gen)
    }

    fn fire(&mut self, now: Duration, timer: Timer) {
        match timer {
            Timer::Attempt { txn: t, gen, token } => {
                if !self.alive(t, gen) {
                    return;
                }
                let Some(sent) = self.txns[t]
                    .as_ref()
                    .and_then(|x| x.current)
                    .filter(|s| s.token == token)
                else {
                    return;
                };
                self.release(&sent);
                self.upstreams.get_mut(sent.upstream).counters.timeouts += 1;
                let label = self.upstreams.get(sent.upstream).label.clone();
                let after = ms(now.saturating_sub(sent.at));
                self.event(now, || EventKind::UpstreamTimeout {
                    upstream: label,
                    transport: sent.transport.as_str(),
                    id: sent.id,
                    after_ms: after,
                });
                self.after_attempt(now, t, sent, Outcome::Timeout, None);
            }
            Timer::Deadline { txn: t, gen } => {
                if !self.alive(t, gen) {
                    return;
                }
                let timeout = self.cfg.query_timeout_ms;
                let (code, text) = self.txns[t]
                    .as_ref()
                    .and_then(|x| x.last_problem.clone())
                    .unwrap_or((
                        ede::NO_REACHABLE_AUTHORITY,
                        String::from("no usable answer"),
                    ));
                self.give_up(now, t, code, format!("{text}; gave up after {timeout} ms"));
            }
            Timer::StaleAnswer { txn: t, gen } => {
                if !self.alive(t, gen) {
                    return;
                }
                let Some(txn) = self.txns[t].as_mut() else {
                    return;
                };
                let Some(sf) = txn.stale_fallback else { return };
                let key = txn.key;
                let waiters = core::mem::take(&mut txn.waiters);
                self.waiting = self.waiting.saturating_sub(waiters.len());
                let Some(p) = self
                    .store
                    .get(key.as_bytes())
                    .and_then(|s| s.positive.clone())
                else {
                    self.waiting += waiters.len();
                    if let Some(txn) = self.txns[t].as_mut() {
                        txn.waiters = waiters;
                    }
                    return;
                };
                for w in &waiters {
                    self.stats.stale_answers += 1;
                    let ede = (
                        ede::STALE_ANSWER,
                        "upstream slow: stale answer after the client timer (RFC 8767)",
                    );
                    let answer = answer_from(&p, w, now, Some(sf.ttl), Some(ede));
                    self.deliver(now, w, &w.query, answer, "stale cache (client timer)");
                }
            }
            Timer::Retry { txn: t, gen } => {
                let Some(txn) = self.txns.get(t).and_then(Option::as_ref) else {
                    return;
                };
                if txn.gen != gen || txn.current.is_some() {
                    return;
                }
                if txn.purpose == Purpose::Probe {
                    return self.finish(t);
                }
                if txn.attempts >= self.limits.max_attempts || now >= txn.deadline {
                    return self.give_up(
                        now,
                        t,
                        ede::NO_REACHABLE_AUTHORITY,
                        "the upstream asked was removed by a reload".into(),
                    );
                }
                self.attempt(
                    now,
                    t,
                    None,
                    None,
                    None,
                    "the upstream asked was removed by a reload",
                );
            }
            Timer::Probe => {
                let Some(p) = self.cfg.probe.clone() else {
                    return;
                };
                let name: Result<Name, _> = p.name.parse();
                let qtype: Result<RType, _> = p.qtype.parse();
                if let (Ok(name), Ok(qtype)) = (name, qtype) {
                    let mut q = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
                    q.extend_from_slice(name.as_wire());
                    q.extend_from_slice(&qtype.0.to_be_bytes());
                    q.extend_from_slice(&1u16.to_be_bytes());
                    if let Ok(key) = KeyBuf::for_question(&q, false, false) {
                        for i in 0..self.upstreams.len() {
                            let up = UpstreamId(i as u16);
                            self.start_txn(
                                now,
                                key,
                                &q,
                                HEADER_LEN,
                                q.len(),
                                false,
                                false,
                                Purpose::Probe,
                                None,
                                None,
                                Some(up),
                            );
                        }
                    }
                }
                self.schedule(
                    now + Duration::from_millis(p.interval_ms.max(100)),
                    Timer::Probe,
                );
            }
        }
    }
}

fn bit(u: UpstreamId) -> u64 {
    if u.0 < 64 {
        1 << u.0
    } else {
        0
    }
}

/// The answer a waiter gets from a stored or transient entry: the entry's bytes with the
/// client's ID and question case, TTLs aged (or fixed), and an OPT (with an optional EDE) when
/// the client sent one.
fn answer_from(
    e: &Entry,
    w: &Waiter,
    now: Duration,
    fixed_ttl: Option<u32>,
    ede: Option<(u16, &str)>,
) -> Vec<u8> {
    let mut answer = Vec::with_capacity(e.wire().len() + 64);
    write_answer(e, &w.query, now, fixed_ttl, None, &mut answer);
    if let Some(o) = w.opt {
        append_opt(&mut answer, o, e.ext_rcode, ede);
    }
    answer
}

/// Meta and unknown-range query types (RFC 6895 3.1: 0, OPT, 128-255; private use from
/// 65280): an upstream may reject a query for its type alone.
fn is_meta_type(t: RType) -> bool {
    matches!(t.0, 0 | 41 | 128..=255) || t.0 >= 65280
}

/// A query's header and question (the question ends at `q_end`), with the counts saying so:
/// all a waiting client needs kept to be answered later.
fn header_and_question(query: &[u8], q_end: usize) -> Vec<u8> {
    let mut q = query[..q_end.min(query.len())].to_vec();
    if q.len() >= HEADER_LEN {
        q[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    }
    q
}

/// The question at `start..end` of `msg` equals `mine` (name case-insensitively, type, class).
fn question_matches(msg: &[u8], start: usize, end: usize, mine: &[u8]) -> bool {
    let (Ok(a), Ok(b)) = (
        crate::wire::name::read_name(msg, start),
        crate::wire::name::read_name(mine, 0),
    ) else {
        return false;
    };
    let tail_a = msg.get(end - 4..end);
    let tail_b = mine.get(b.1..b.1 + 4);
    a.0.eq_ignore_case(&b.0) && tail_a.is_some() && tail_a == tail_b
}

/// The name at `start` as text (for events).
fn name_text(msg: &[u8], start: usize) -> String {
    crate::wire::name::read_name(msg, start)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|_| "<bad name>".into())
}

/// Appends an OPT record (with an optional EDE option) to a message and bumps ARCOUNT.
fn append_opt(out: &mut Vec<u8>, o: OptOut, ext_rcode: u8, ede: Option<(u16, &str)>) {
    out.push(0);
    out.extend_from_slice(&RType::OPT.0.to_be_bytes());
    out.extend_from_slice(&o.udp_size.to_be_bytes());
    out.push(ext_rcode);
    out.push(0);
    out.extend_from_slice(&(if o.dnssec_ok { 0x8000u16 } else { 0 }).to_be_bytes());
    match ede {
        Some((code, text)) => {
            let text = &text.as_bytes()[..text.len().min(400)];
            let len = 4 + 2 + text.len();
            out.extend_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(&15u16.to_be_bytes());
            out.extend_from_slice(&((2 + text.len()) as u16).to_be_bytes());
            out.extend_from_slice(&code.to_be_bytes());
            out.extend_from_slice(text);
        }
        None => out.extend_from_slice(&[0, 0]),
    }
    let ar = u16::from_be_bytes([out[10], out[11]]).wrapping_add(1);
    out[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// SERVFAIL for a query, with an EDE when the client speaks EDNS.
fn servfail_for(query: &[u8], opt: Option<OptOut>, ede_code: u16, text: &str) -> Vec<u8> {
    let end = MessageView::new(query)
        .ok()
        .and_then(|v| v.question().ok().flatten())
        .map_or(HEADER_LEN.min(query.len()), |q| q.end);
    let mut out = Vec::with_capacity(end + 64);
    out.extend_from_slice(&query[..end.max(HEADER_LEN).min(query.len())]);
    while out.len() < HEADER_LEN {
        out.push(0);
    }
    let qf = u16::from_be_bytes([out[2], out[3]]);
    let f = flags::QR | (qf & (0x7800 | flags::RD | flags::CD)) | flags::RA | Rcode::SERVFAIL.0;
    out[2..4].copy_from_slice(&f.to_be_bytes());
    out[4..6].copy_from_slice(&u16::from(end > HEADER_LEN).to_be_bytes());
    out[6..12].copy_from_slice(&[0; 6]);
    if let Some(o) = opt {
        append_opt(&mut out, o, 0, Some((ede_code, text)));
    }
    out
}

/// An answer with `rcode` and no records to `query` (a header of at least 12 bytes): the
/// question is echoed unless the query is malformed, and an OPT is added when the query had one
/// or the rcode needs the EDNS extension. Runtimes use it to REFUSE clients outside the ACL.
pub fn rcode_answer(query: &[u8], rcode: Rcode, udp_size: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    if query.len() < HEADER_LEN {
        return out;
    }
    let q = MessageView::new(query)
        .ok()
        .and_then(|v| v.question().ok().flatten());
    out.extend_from_slice(&query[..2]);
    let qf = u16::from_be_bytes([query[2], query[3]]);
    let f = flags::QR | (qf & (0x7800 | flags::RD | flags::CD)) | flags::RA | (rcode.0 & 0xf);
    out.extend_from_slice(&f.to_be_bytes());
    let qd = u16::from(q.is_some() && rcode != Rcode::FORMERR);
    out.extend_from_slice(&[0, qd as u8, 0, 0, 0, 0, 0, 0]);
    if let (Some(q), 1) = (q, qd) {
        out.extend_from_slice(&query[HEADER_LEN..q.end]);
    }
    let has_opt = MessageView::new(query)
        .ok()
        .and_then(|v| v.scan().ok())
        .is_some_and(|s| s.opt.is_some());
    if has_opt || rcode.0 > 15 {
        append_opt(
            &mut out,
            OptOut {
                udp_size,
                dnssec_ok: false,
            },
            (rcode.0 >> 4) as u8,
            None,
        );
    }
    out
}
