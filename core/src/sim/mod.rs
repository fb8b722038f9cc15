//! The deterministic simulator: runs the forwarder against scripted upstreams on a virtual
//! clock. Scenarios are data (TOML in the tests, JS objects in the npm package, the web page's
//! form), each stating the clients' queries, how every upstream behaves over time and what the
//! clients must get. Shared by the engine's tests, `simulate()` in the npm package and the page.
//!
//! Scripted upstreams are right here because they produce what no real server does on demand:
//! uncompressed or garbage answers, silence, flapping NODATA, spoofed IDs.

use core::time::Duration;
use std::collections::{BTreeMap, BinaryHeap};

use crate::engine::event::Event;
use crate::engine::forwarder::{ClientId, Config, Forwarder, Input, Output, UpstreamConfig};
use crate::engine::Transport;
use crate::wire::view::{MessageView, HEADER_LEN};
use crate::wire::{Edns, EdnsOption, Message, Name, Question, RType, Rcode, Record};

/// A scenario.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub title: String,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub description: String,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub seed: u64,
    /// The engine's configuration, as every shell reads it. Its `upstreams` must stay empty:
    /// they are the scripted upstreams below. `events` is always on, `loop_check` always off
    /// (a scripted upstream never forwards back).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub config: Config,
    pub upstreams: Vec<ScriptedUpstream>,
    pub queries: Vec<ClientQuery>,
    /// Stop the clock here (default: when nothing is left to happen, at most 1 day).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub run_until_ms: Option<u64>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub expect: Expect,
}

/// An upstream that follows a script.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ScriptedUpstream {
    pub label: String,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub force_tcp: bool,
    /// Checked in order; the first whose name and type match handles the query.
    pub rules: Vec<Rule>,
}

/// How an upstream answers queries for a name (and type).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Match this name (any when absent).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub qtype: Option<String>,
    /// One behaviour per matching query, in turn; after the last, the last repeats (or the
    /// list starts over with `cycle`).
    pub respond: Vec<Behaviour>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub cycle: bool,
}

/// One scripted reaction to a query.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// `answer` (default), `hex` (the packet in `hex`, with the query's ID), `garbage`
    /// (`garbage_len` bytes after the query's ID), `silence`, `servfail`, `refused`, `nxdomain`.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable, type = "\"answer\" | \"hex\" | \"garbage\" | \"silence\" | \"servfail\" | \"refused\" | \"nxdomain\" | \"\""))]
    pub kind: String,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub rcode: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub answer: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub authority: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub additional: Vec<String>,
    /// Encode without name compression (incident 000's upstream).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub uncompressed: bool,
    /// Over UDP, answer with TC=1 and no records.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub tc_over_udp: bool,
    /// Answer FORMERR to any query carrying OPT.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub reject_edns: bool,
    /// Leave OPT out of the answer.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub no_opt: bool,
    /// First send a spoofed answer on the query's own socket: `wrong_id`, `wrong_question`,
    /// `echo` (the query back, QR=0) or `no_question` (a negative answer with QDCOUNT=0).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable, type = "\"wrong_id\" | \"wrong_question\" | null"))]
    pub spoof: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub hex: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub garbage_len: Option<usize>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub delay_ms: u64,
}

/// A client query.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ClientQuery {
    pub at_ms: u64,
    #[serde(default = "one")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub client: u64,
    pub name: String,
    #[serde(rename = "type", default = "type_a")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub qtype: String,
    /// The client's EDNS UDP size; none: no EDNS (as `dig +noedns`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub edns: Option<u16>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub dnssec_ok: bool,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub tcp: bool,
    /// Retry over TCP on TC, as dig and stub resolvers do (default true).
    #[serde(default = "yes")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub retry_tcp_on_tc: bool,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub expect: Option<ExpectAnswer>,
}

fn one() -> u64 {
    1
}
fn yes() -> bool {
    true
}
fn type_a() -> String {
    "A".into()
}

/// What a client must end up with.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ExpectAnswer {
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub rcode: Option<String>,
    /// Number of answer records.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub answers: Option<usize>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub max_size: Option<usize>,
    /// TC on the final answer (after any TCP retry).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub tc: Option<bool>,
    /// AA on the answer (set only on local answers).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub aa: Option<bool>,
    /// Every answer record's TTL.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub ttl: Option<u32>,
    /// The EDE info code.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub ede: Option<u16>,
    /// Text every answer's presentation must contain (one entry per substring).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub contains: Vec<String>,
    /// The answer arrives within this many ms of the query.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub within_ms: Option<u64>,
    /// The answer went over TCP in the end.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub via_tcp: Option<bool>,
}

/// What must hold over the whole run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub max_upstream_queries: Option<usize>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub min_upstream_queries: Option<usize>,
    /// Lines of the decision log that must appear (substrings).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub log_contains: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub log_lacks: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub no_servfail: bool,
}

/// One line of the run's timeline.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TraceLine {
    pub at_ms: u64,
    /// `client`, `upstream`, `engine`.
    #[cfg_attr(feature = "ts", ts(type = "\"client\" | \"upstream\" | \"engine\""))]
    pub actor: &'static str,
    pub text: String,
}

/// What a client received.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ClientAnswer {
    pub query: usize,
    pub at_ms: u64,
    #[cfg_attr(feature = "ts", ts(type = "\"UDP\" | \"TCP\""))]
    pub transport: &'static str,
    pub size: usize,
    pub hex: String,
    pub rcode: String,
    pub tc: bool,
    /// AA: answered from local data.
    pub aa: bool,
    pub answers: Vec<String>,
    pub ede: Option<(u16, String)>,
}

/// The outcome of a run.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SimResult {
    pub title: String,
    pub events: Vec<Event>,
    pub trace: Vec<TraceLine>,
    pub answers: Vec<ClientAnswer>,
    pub upstream_queries: usize,
    /// Expectations that did not hold; empty means the scenario passed.
    pub failures: Vec<String>,
    /// The engine's counters at the end.
    pub stats: Option<crate::engine::forwarder::Stats>,
    /// Largest number of transactions in flight and cache bytes seen during the run.
    pub peak_in_flight: usize,
    pub peak_cache_bytes: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Query {
        index: usize,
        tcp: bool,
    },
    Reply {
        upstream: u16,
        /// The transmit this reply answers (what arrives on its socket or connection).
        token: u64,
        tcp: bool,
        bytes: Vec<u8>,
        note: String,
    },
    Tick,
}

/// Runs a scenario. Errors are problems with the scenario itself (bad names, records).
pub fn run(s: &Scenario) -> Result<SimResult, String> {
    if !s.config.upstreams.is_empty() {
        return Err("config.upstreams: the scenario's upstreams are its scripted upstreams".into());
    }
    // Forward groups name scripted upstreams by label; the default group is every scripted
    // upstream no forward group names.
    let scripted = |label: &str| s.upstreams.iter().position(|u| u.label == label);
    let mut forward = s.config.forward.clone();
    for (i, f) in forward.iter_mut().enumerate() {
        for (j, u) in f.upstreams.iter_mut().enumerate() {
            let k = scripted(&u.label).ok_or_else(|| {
                format!(
                    "config.forward[{i}].upstreams[{j}]: {:?} is not a scripted upstream",
                    u.label
                )
            })?;
            u.force_tcp |= s.upstreams[k].force_tcp;
        }
    }
    let in_forward = |label: &str| {
        forward
            .iter()
            .any(|f| f.upstreams.iter().any(|u| u.label == label))
    };
    let cfg = Config {
        events: true,
        // Scripted upstreams never forward a query back: a loop probe could only consume
        // their scripted behaviours.
        loop_check: false,
        upstreams: s
            .upstreams
            .iter()
            .filter(|u| !in_forward(&u.label))
            .map(|u| UpstreamConfig {
                label: u.label.clone(),
                force_tcp: u.force_tcp,
                ..UpstreamConfig::default()
            })
            .collect(),
        forward: forward.clone(),
        ..s.config.clone()
    };
    // Engine upstream index -> scripted upstream.
    let by_id: Vec<usize> = crate::engine::forwarder::upstream_labels(&cfg)
        .iter()
        .filter_map(|u| scripted(&u.label))
        .collect();
    cfg.validate()
        .map_err(|e| format!("config.{}: {}", e.field, e.message))?;
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&s.seed.to_le_bytes());
    let mut fwd = Forwarder::new(cfg, seed);

    let queries: Vec<Vec<u8>> = s
        .queries
        .iter()
        .enumerate()
        .map(|(i, q)| build_query(q, i))
        .collect::<Result<_, _>>()?;
    let mut used: Vec<Vec<usize>> = s.upstreams.iter().map(|u| vec![0; u.rules.len()]).collect();
    let mut agenda: BinaryHeap<core::cmp::Reverse<(u64, u64, Action)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |agenda: &mut BinaryHeap<_>, at: u64, a: Action| {
        seq += 1;
        agenda.push(core::cmp::Reverse((at, seq, a)));
    };
    // The runtime starts the engine's clock at 0: probes and other timers begin there.
    push(&mut agenda, 0, Action::Tick);
    for (i, q) in s.queries.iter().enumerate() {
        push(
            &mut agenda,
            q.at_ms,
            Action::Query {
                index: i,
                tcp: q.tcp,
            },
        );
    }
    let until = s.run_until_ms.unwrap_or(86_400_000);
    let mut r = SimResult {
        title: s.title.clone(),
        ..SimResult::default()
    };
    let mut final_answer: BTreeMap<usize, ClientAnswer> = BTreeMap::new();
    let mut ticks = std::collections::BTreeSet::new();
    let mut steps = 0;
    while let Some(core::cmp::Reverse((at, _, action))) = agenda.pop() {
        steps += 1;
        if at > until || steps > 200_000 {
            break;
        }
        let now = Duration::from_millis(at);
        match &action {
            Action::Query { index, tcp } => {
                let q = &s.queries[*index];
                let t = if *tcp { Transport::Tcp } else { Transport::Udp };
                r.trace.push(TraceLine {
                    at_ms: at,
                    actor: "client",
                    text: format!(
                        "client {} asks {} {} over {t}{}",
                        q.client,
                        q.name,
                        q.qtype,
                        q.edns
                            .map_or(" without EDNS".into(), |e| format!(" with EDNS {e}"))
                    ),
                });
                fwd.handle(Input::Query {
                    now,
                    client: ClientId(*index as u64),
                    transport: t,
                    bytes: &queries[*index],
                });
            }
            Action::Reply {
                upstream,
                token,
                tcp,
                bytes,
                note,
            } => {
                let t = if *tcp { Transport::Tcp } else { Transport::Udp };
                r.trace.push(TraceLine {
                    at_ms: at,
                    actor: "upstream",
                    text: format!("{} {note}", s.upstreams[usize::from(*upstream)].label),
                });
                fwd.handle(Input::Response {
                    now,
                    token: *token,
                    transport: t,
                    bytes,
                });
            }
            Action::Tick => {
                ticks.remove(&at);
                fwd.handle(Input::Tick { now });
            }
        }
        r.peak_in_flight = r.peak_in_flight.max(fwd.in_flight());
        r.peak_cache_bytes = r.peak_cache_bytes.max(fwd.cache_stats().bytes);
        // Drain the engine.
        for _ in 0..100_000 {
            match fwd.poll() {
                Output::Event(e) => {
                    r.trace.push(TraceLine {
                        at_ms: e.at_ms,
                        actor: "engine",
                        text: e.to_string(),
                    });
                    r.events.push(*e);
                }
                Output::Query(tx) => {
                    let u = tx.upstream;
                    r.upstream_queries += 1;
                    {
                        let k = by_id.get(usize::from(u.0)).copied().unwrap_or(0);
                        let up = &s.upstreams[k];
                        let tcp = tx.transport == Transport::Tcp;
                        for (delay, bytes, note) in
                            respond(up, &mut used[k], &tx.bytes, tcp, s.seed)?
                        {
                            push(
                                &mut agenda,
                                at + delay,
                                Action::Reply {
                                    upstream: k as u16,
                                    token: tx.token,
                                    tcp,
                                    bytes,
                                    note,
                                },
                            );
                        }
                    }
                }
                Output::Answer(tx) => {
                    let index = tx.client.0 as usize;
                    let ans = client_answer(index, at, tx.transport, &tx.bytes);
                    r.trace.push(TraceLine {
                        at_ms: at,
                        actor: "client",
                        text: format!(
                            "client {} gets {} B over {}: {}{}, {} answer record(s)",
                            s.queries[index].client,
                            ans.size,
                            ans.transport,
                            ans.rcode,
                            if ans.tc { " TC" } else { "" },
                            ans.answers.len()
                        ),
                    });
                    let retry = ans.tc
                        && tx.transport == Transport::Udp
                        && s.queries[index].retry_tcp_on_tc;
                    if retry {
                        push(&mut agenda, at + 1, Action::Query { index, tcp: true });
                    }
                    r.answers.push(ans.clone());
                    final_answer.insert(index, ans);
                }
                Output::Wake(Some(w)) => {
                    let w = w.as_millis() as u64;
                    if w <= until && ticks.insert(w) {
                        push(&mut agenda, w.max(at), Action::Tick);
                    }
                    break;
                }
                Output::Wake(None) => break,
                Output::UpstreamDone { .. } => {}
                Output::ClientDropped { client } => r.trace.push(TraceLine {
                    at_ms: at,
                    actor: "engine",
                    text: format!("client {} dropped without an answer", client.0),
                }),
            }
        }
    }
    r.failures = check(s, &r, &final_answer);
    r.stats = Some(fwd.stats().clone());
    Ok(r)
}

fn check(s: &Scenario, r: &SimResult, finals: &BTreeMap<usize, ClientAnswer>) -> Vec<String> {
    let mut f = Vec::new();
    for (i, q) in s.queries.iter().enumerate() {
        let Some(e) = &q.expect else { continue };
        let Some(a) = finals.get(&i) else {
            f.push(format!(
                "query #{i} ({} {} at {} ms) got no answer",
                q.name, q.qtype, q.at_ms
            ));
            continue;
        };
        let who = format!("query #{i} ({} {} at {} ms)", q.name, q.qtype, q.at_ms);
        if let Some(rc) = &e.rcode {
            if !a.rcode.eq_ignore_ascii_case(rc) {
                f.push(format!("{who}: rcode {} but expected {rc}", a.rcode));
            }
        }
        if let Some(n) = e.answers {
            if a.answers.len() != n {
                f.push(format!(
                    "{who}: {} answer records but expected {n}",
                    a.answers.len()
                ));
            }
        }
        if let Some(m) = e.max_size {
            if a.size > m {
                f.push(format!("{who}: {} B but expected at most {m}", a.size));
            }
        }
        if let Some(tc) = e.tc {
            if a.tc != tc {
                f.push(format!("{who}: TC={} but expected {tc}", a.tc));
            }
        }
        if let Some(aa) = e.aa {
            if a.aa != aa {
                f.push(format!("{who}: AA={} but expected {aa}", a.aa));
            }
        }
        if let Some(ttl) = e.ttl {
            for line in &a.answers {
                let t: Option<u32> = line.split('\t').nth(1).and_then(|x| x.parse().ok());
                if t != Some(ttl) {
                    f.push(format!(
                        "{who}: record {line:?} has TTL {t:?}, expected {ttl}"
                    ));
                }
            }
        }
        if let Some(code) = e.ede {
            if a.ede.as_ref().map(|x| x.0) != Some(code) {
                f.push(format!("{who}: EDE {:?} but expected {code}", a.ede));
            }
        }
        for c in &e.contains {
            if !a.answers.iter().any(|l| l.contains(c.as_str())) {
                f.push(format!(
                    "{who}: no answer record contains {c:?} (got {:?})",
                    a.answers
                ));
            }
        }
        if let Some(w) = e.within_ms {
            if a.at_ms > q.at_ms + w {
                f.push(format!(
                    "{who}: answered after {} ms, expected within {w}",
                    a.at_ms - q.at_ms
                ));
            }
        }
        if let Some(tcp) = e.via_tcp {
            if (a.transport == "TCP") != tcp {
                f.push(format!(
                    "{who}: final answer over {}, expected {}",
                    a.transport,
                    if tcp { "TCP" } else { "UDP" }
                ));
            }
        }
    }
    let x = &s.expect;
    if let Some(m) = x.max_upstream_queries {
        if r.upstream_queries > m {
            f.push(format!(
                "{} upstream queries, expected at most {m}",
                r.upstream_queries
            ));
        }
    }
    if let Some(m) = x.min_upstream_queries {
        if r.upstream_queries < m {
            f.push(format!(
                "{} upstream queries, expected at least {m}",
                r.upstream_queries
            ));
        }
    }
    for want in &x.log_contains {
        if !r.trace.iter().any(|t| t.text.contains(want.as_str())) {
            f.push(format!("no log line contains {want:?}"));
        }
    }
    for bad in &x.log_lacks {
        if let Some(t) = r.trace.iter().find(|t| t.text.contains(bad.as_str())) {
            f.push(format!("log line {:?} contains {bad:?}", t.text));
        }
    }
    if x.no_servfail {
        for a in &r.answers {
            if a.rcode == "SERVFAIL" {
                f.push(format!("query #{} got SERVFAIL at {} ms", a.query, a.at_ms));
            }
        }
    }
    f
}

fn build_query(q: &ClientQuery, i: usize) -> Result<Vec<u8>, String> {
    let name: Name = q.name.parse().map_err(|e| format!("query #{i}: {e}"))?;
    let qtype: RType = q.qtype.parse().map_err(|e| format!("query #{i}: {e}"))?;
    let mut m = Message::default();
    m.header.id = 0x1000 + i as u16;
    m.header.rd = true;
    m.questions.push(Question {
        name,
        qtype,
        class: crate::wire::Class::IN,
    });
    if let Some(size) = q.edns {
        let mut e = Edns::new(size);
        e.dnssec_ok = q.dnssec_ok;
        m.edns = Some(e);
    }
    m.to_wire().map_err(|e| format!("query #{i}: {e}"))
}

fn client_answer(index: usize, at: u64, t: Transport, bytes: &[u8]) -> ClientAnswer {
    let m = Message::from_wire(bytes).ok();
    ClientAnswer {
        query: index,
        at_ms: at,
        transport: t.as_str(),
        size: bytes.len(),
        hex: crate::wire::text::hex(bytes),
        rcode: m
            .as_ref()
            .map_or("undecodable".into(), |m| m.rcode().to_string()),
        tc: m.as_ref().is_some_and(|m| m.header.tc),
        aa: m.as_ref().is_some_and(|m| m.header.aa),
        answers: m
            .as_ref()
            .map_or(vec![], |m| m.answers.iter().map(Record::to_text).collect()),
        ede: m
            .as_ref()
            .and_then(|m| m.edns.as_ref())
            .and_then(|e| e.extended_error())
            .map(|(c, t)| (c, t.to_string())),
    }
}

/// The behaviour kinds `respond` knows (an empty kind is `answer`).
const KINDS: &[&str] = &[
    "answer", "hex", "garbage", "silence", "servfail", "refused", "nxdomain",
];

/// The scripted upstream's replies to one query: (delay, bytes, what it did).
fn respond(
    up: &ScriptedUpstream,
    used: &mut [usize],
    query: &[u8],
    tcp: bool,
    seed: u64,
) -> Result<Vec<(u64, Vec<u8>, String)>, String> {
    let q =
        Message::from_wire(query).map_err(|e| format!("engine sent an undecodable query: {e}"))?;
    let Some(question) = q.questions.first() else {
        return Ok(vec![]);
    };
    let rule = up.rules.iter().enumerate().find(|(_, r)| {
        r.name.as_ref().is_none_or(|n| {
            n.parse::<Name>()
                .is_ok_and(|n| n.eq_ignore_case(&question.name))
        }) && r
            .qtype
            .as_ref()
            .is_none_or(|t| t.parse::<RType>().is_ok_and(|t| t == question.qtype))
    });
    let Some((ri, rule)) = rule else {
        return Ok(vec![(
            1,
            servfail_reply(&q),
            "has no script for it: SERVFAIL".into(),
        )]);
    };
    if rule.respond.is_empty() {
        return Ok(vec![]);
    }
    let n = used[ri];
    used[ri] += 1;
    let b = if rule.cycle {
        &rule.respond[n % rule.respond.len()]
    } else {
        &rule.respond[n.min(rule.respond.len() - 1)]
    };
    if !b.kind.is_empty() && !KINDS.contains(&b.kind.as_str()) {
        return Err(format!(
            "unknown behaviour kind {:?} (valid: {})",
            b.kind,
            KINDS.join(", ")
        ));
    }
    let delay = b.delay_ms.max(1);
    let mut out = Vec::new();
    if let Some(sp) = &b.spoof {
        let mut fake = ok_reply(&q, b)?;
        match sp.as_str() {
            "wrong_id" => {
                let id = u16::from_be_bytes([fake[0], fake[1]]).wrapping_add(1);
                fake[..2].copy_from_slice(&id.to_be_bytes());
            }
            "wrong_question" => {
                let mut m = Message::from_wire(&fake).map_err(|e| e.to_string())?;
                m.questions[0].name = "spoofed.invalid."
                    .parse()
                    .map_err(|e: crate::wire::WireError| e.to_string())?;
                fake = m.to_wire().map_err(|e| e.to_string())?;
            }
            "echo" => {
                // The query sent back as it came (QR=0), as a reflector would.
                fake = query.to_vec();
            }
            "no_question" => {
                // A negative answer with QDCOUNT=0: nothing ties it to the query but the ID.
                let mut m = Message::from_wire(&fake).map_err(|e| e.to_string())?;
                m.questions.clear();
                m.answers.clear();
                fake = m.to_wire().map_err(|e| e.to_string())?;
            }
            other => return Err(format!("unknown spoof {other:?}")),
        }
        out.push((
            (delay / 2).max(1),
            fake,
            format!("sends a spoofed answer ({sp})"),
        ));
    }
    let edns = q.edns.is_some();
    let (bytes, note) = match b.kind.as_str() {
        "silence" => return Ok(out),
        "garbage" => {
            // The query's header (QR set, nine answers claimed) and question, then bytes that do
            // not decode: a broken answer from the upstream asked, not a spoof (those are the
            // `spoof` kinds), so it passes the RFC 5452 checks and reaches the fallback rules.
            let q_end = MessageView::new(query)
                .ok()
                .and_then(|v| v.question().ok().flatten())
                .map_or(HEADER_LEN.min(query.len()), |q| q.end);
            let len = b.garbage_len.unwrap_or(40).max(q_end + 1);
            let mut g = query[..q_end].to_vec();
            if g.len() >= HEADER_LEN {
                g[2] |= 0x80;
                g[6..12].copy_from_slice(&[0, 9, 0, 0, 0, 0]);
            }
            let mut x = seed ^ 0x9e37_79b9_7f4a_7c15 ^ (n as u64);
            while g.len() < len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                g.push(x as u8);
            }
            (g, format!("answers {len} bytes of garbage"))
        }
        "hex" => {
            let h = b.hex.as_deref().ok_or("kind hex needs hex")?;
            let mut bytes = crate::wire::text::unhex(h.trim())?;
            if bytes.len() >= 2 {
                bytes[..2].copy_from_slice(&query[..2]);
            }
            let l = bytes.len();
            (bytes, format!("answers the given {l}-byte packet"))
        }
        "servfail" => (
            rcode_reply(&q, Rcode::SERVFAIL),
            "answers SERVFAIL".to_string(),
        ),
        "refused" => (
            rcode_reply(&q, Rcode::REFUSED),
            "answers REFUSED".to_string(),
        ),
        _ if b.reject_edns && edns => (
            rcode_reply_no_opt(&q, Rcode::FORMERR),
            "answers FORMERR to a query with EDNS".to_string(),
        ),
        _ if b.tc_over_udp && !tcp => {
            let mut m = reply_base(&q);
            m.header.tc = true;
            (
                m.to_wire().map_err(|e| e.to_string())?,
                "answers TC=1 over UDP".to_string(),
            )
        }
        _ => {
            let bytes = ok_reply(&q, b)?;
            let l = bytes.len();
            (
                bytes,
                format!(
                    "answers {l} B{}",
                    if b.uncompressed {
                        " (uncompressed)"
                    } else {
                        ""
                    }
                ),
            )
        }
    };
    out.push((delay, bytes, note));
    Ok(out)
}

fn reply_base(q: &Message) -> Message {
    let mut m = Message {
        header: q.header.clone(),
        questions: q.questions.clone(),
        ..Message::default()
    };
    m.header.qr = true;
    m.header.ra = true;
    if q.edns.is_some() {
        m.edns = Some(Edns::new(1232));
    }
    m
}

fn rcode_reply(q: &Message, rc: Rcode) -> Vec<u8> {
    let mut m = reply_base(q);
    m.set_rcode(rc);
    m.to_wire().unwrap_or_default()
}

fn rcode_reply_no_opt(q: &Message, rc: Rcode) -> Vec<u8> {
    let mut m = reply_base(q);
    m.edns = None;
    m.set_rcode(rc);
    m.to_wire().unwrap_or_default()
}

fn servfail_reply(q: &Message) -> Vec<u8> {
    rcode_reply(q, Rcode::SERVFAIL)
}

fn ok_reply(q: &Message, b: &Behaviour) -> Result<Vec<u8>, String> {
    let mut m = reply_base(q);
    let parse = |lines: &[String]| -> Result<Vec<Record>, String> {
        lines
            .iter()
            .map(|l| Record::from_text(l).map_err(|e| e.to_string()))
            .collect()
    };
    m.answers = parse(&b.answer)?;
    m.authority = parse(&b.authority)?;
    m.additional = parse(&b.additional)?;
    let rc = match (b.kind.as_str(), &b.rcode) {
        ("nxdomain", _) => Rcode::NXDOMAIN,
        (_, Some(r)) => r.parse::<Rcode>()?,
        _ => Rcode::NOERROR,
    };
    m.set_rcode(rc);
    if b.no_opt {
        m.edns = None;
    }
    if let Some(e) = &mut m.edns {
        e.options
            .retain(|o| !matches!(o, EdnsOption::Padding { .. }));
    }
    let bytes = if b.uncompressed {
        m.to_wire_uncompressed()
    } else {
        m.to_wire()
    };
    bytes.map_err(|e| e.to_string())
}
