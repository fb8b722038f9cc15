//! Prometheus metrics, /health and /ready on a separate listener. Names follow CoreDNS's where
//! one exists (docs/metrics.md maps them), with the `dnspect_` prefix.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dnspect_core::engine::decide::FallbackRule;
use dnspect_core::engine::forwarder::{Busy, Dropped, Forwarder};
use dnspect_core::engine::upstreams::Counters;
use dnspect_core::wire::Rcode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::admin::Admin;
use super::Shared;

/// Request duration buckets in seconds (CoreDNS's: 0.25 ms doubling to 8 s).
pub const BUCKETS: [f64; 16] = [
    0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
    2.048, 4.096, 8.192,
];

/// A worker's own counters (the engine keeps the rest).
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    /// By transport: 0 UDP, 1 TCP.
    pub requests: [u64; 2],
    pub responses: [[u64; 24]; 2],
    pub refused_acl: u64,
    pub malformed: u64,
    /// Queries over a per-client limit, by [`dnspect_core::engine::admission::Refusal`]:
    /// 0 rate, 1 waiting.
    pub limited: [u64; 2],
    /// Answers by the first bucket their duration fits (the exposition sums them up).
    pub duration_buckets: [u64; 16],
    pub duration_count: u64,
    pub duration_sum: f64,
    /// Client TCP connections open now (a gauge).
    pub tcp_open: u64,
    pub tcp_accepted: u64,
    /// By `super::tcp::REJECT` reason.
    pub tcp_rejected: [u64; 3],
    /// By `super::tcp::CLOSE` reason.
    pub tcp_closed: [u64; 7],
    pub tcp_accept_errors: u64,
    /// Answers not written to a TCP client, by `super::tcp::DROP` reason.
    pub tcp_answers_dropped: [u64; 2],
    /// UDP answers the kernel refused to send (not counted as responses).
    pub udp_send_errors: u64,
    /// The pooled upstream UDP sockets (copied from `super::upstream::UdpPools` at each
    /// publication): open now (a gauge), opened, replaced by `super::upstream::REPLACED`
    /// reason, queries that found no socket, sends that failed.
    pub upstream_udp_open: u64,
    pub upstream_udp_opened: u64,
    pub upstream_udp_replaced: [u64; 3],
    pub upstream_udp_no_socket: u64,
    pub upstream_udp_send_errors: u64,
    /// TLS handshakes with upstreams, by [`TLS_HANDSHAKE`] result.
    pub upstream_tls_handshakes: [u64; 2],
}

/// How a TLS handshake with an upstream ended: done, or failed (certificate, protocol,
/// timeout: the query log and the SERVFAIL's EDE say which).
pub const TLS_HANDSHAKE: [&str; 2] = ["ok", "failed"];

impl Metrics {
    pub fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.duration_buckets[i] += 1;
        }
        self.duration_count += 1;
        self.duration_sum += s;
    }

    pub fn snapshot(&self, fwd: &mut Forwarder) -> Snapshot {
        let upstream_loops = fwd.upstream_loops();
        let st = fwd.stats();
        let cache = fwd.cache_stats();
        Snapshot {
            worker: self.clone(),
            cache_keys: cache.keys as u64,
            cache_bytes: cache.bytes as u64,
            cache_evictions: cache.evictions,
            cache_flushes: st.cache_flushes,
            cache_flushed_keys: st.cache_flushed_keys,
            cache_hits: st.cache_hits,
            cache_misses: st.cache_misses,
            stale: st.stale_answers,
            prefetches: st.prefetches,
            coalesced: st.coalesced,
            recompressed: st.recompressed,
            truncated: st.truncated,
            gave_up: st.gave_up,
            suspect_negatives: st.suspect_negatives,
            verifications: st.verifications,
            fallbacks: st
                .fallbacks
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            upstreams: fwd.upstream_counters(),
            upstream_loops,
            loops_detected: st.loops_detected,
            loop_answers: st.loop_answers,
            engine: EngineGauges {
                dropped: st.dropped,
                busy: st.busy_by,
                refreshes_skipped: st.refreshes_skipped,
                stripped_edns: st.stripped_edns,
                waiting: fwd.waiting() as u64,
                in_flight: fwd.in_flight() as u64,
            },
        }
    }
}

/// What a worker publishes.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub worker: Metrics,
    pub cache_keys: u64,
    pub cache_bytes: u64,
    pub cache_evictions: u64,
    /// Flushes through the admin API, and the keys they removed.
    pub cache_flushes: u64,
    pub cache_flushed_keys: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub stale: u64,
    pub prefetches: u64,
    pub coalesced: u64,
    pub recompressed: u64,
    pub truncated: u64,
    pub gave_up: u64,
    pub suspect_negatives: u64,
    pub verifications: u64,
    pub fallbacks: Vec<(String, u64)>,
    pub upstreams: Vec<(String, Counters)>,
    /// Each upstream and whether it loops back here (`forwarder::loops`).
    pub upstream_loops: Vec<(String, bool)>,
    pub loops_detected: u64,
    pub loop_answers: u64,
    pub engine: EngineGauges,
}

/// The engine's limits and drops, as a worker last saw them.
#[derive(Debug, Default, Clone)]
pub struct EngineGauges {
    pub dropped: Dropped,
    pub busy: Busy,
    pub refreshes_skipped: u64,
    pub stripped_edns: u64,
    pub waiting: u64,
    pub in_flight: u64,
}

/// (name, type, help, value) of a metric summed over workers.
type SimpleMetric<'a> = (&'a str, &'a str, &'a str, &'a dyn Fn(&Snapshot) -> u64);
/// (name, help, reasons, value by reason index) of a counter with a `reason` label.
type LabelledMetric<'a> = (
    &'a str,
    &'a str,
    &'a [&'a str],
    &'a dyn Fn(&Snapshot, usize) -> u64,
);
/// (name, help, value) of a per-upstream counter.
type UpstreamMetric = (&'static str, &'static str, fn(&Counters) -> u64);

/// The `# HELP` and `# TYPE` lines that open a metric family.
fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One sample of a family; `labels` is `key="value",...`, or empty for none.
fn sample(o: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    let _ = if labels.is_empty() {
        writeln!(o, "{name} {value}")
    } else {
        writeln!(o, "{name}{{{labels}}} {value}")
    };
}

/// A family of one sample.
fn single(o: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(o, name, kind, help);
    sample(o, name, "", value);
}

/// A family whose samples differ by one label: `label="value"` for each (value, count).
fn by_label<'a>(
    o: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    label: &str,
    samples: impl IntoIterator<Item = (&'a str, u64)>,
) {
    family(o, name, kind, help);
    for (value, n) in samples {
        sample(o, name, &format!("{label}=\"{value}\""), n);
    }
}

/// The Prometheus text exposition of all workers' snapshots.
pub fn render(snaps: &[Snapshot]) -> String {
    const DURATION_BUCKET: &str = "dnspect_dns_request_duration_seconds_bucket";
    let mut o = String::new();
    let sum = |f: &dyn Fn(&Snapshot) -> u64| snaps.iter().map(f).sum::<u64>();
    let proto = ["udp", "tcp"];
    family(
        &mut o,
        "dnspect_dns_requests_total",
        "counter",
        "Client queries received (CoreDNS: coredns_dns_requests_total).",
    );
    for (i, p) in proto.iter().enumerate() {
        let n = sum(&|s| s.worker.requests[i]);
        sample(
            &mut o,
            "dnspect_dns_requests_total",
            &format!("proto=\"{p}\""),
            n,
        );
    }
    family(
        &mut o,
        "dnspect_dns_responses_total",
        "counter",
        "Answers sent by rcode (CoreDNS: coredns_dns_responses_total).",
    );
    for (i, p) in proto.iter().enumerate() {
        for rc in 0..24 {
            let n = sum(&|s| s.worker.responses[i][rc]);
            if n > 0 {
                let labels = format!("proto=\"{p}\",rcode=\"{}\"", Rcode(rc as u16));
                sample(&mut o, "dnspect_dns_responses_total", &labels, n);
            }
        }
    }
    family(
        &mut o,
        "dnspect_dns_request_duration_seconds",
        "histogram",
        "Time from query to answer (CoreDNS: coredns_dns_request_duration_seconds).",
    );
    let mut n = 0;
    for (i, b) in BUCKETS.iter().enumerate() {
        n += sum(&|s| s.worker.duration_buckets[i]);
        sample(&mut o, DURATION_BUCKET, &format!("le=\"{b}\""), n);
    }
    let count = sum(&|s| s.worker.duration_count);
    sample(&mut o, DURATION_BUCKET, "le=\"+Inf\"", count);
    let total: f64 = snaps.iter().map(|s| s.worker.duration_sum).sum();
    sample(
        &mut o,
        "dnspect_dns_request_duration_seconds_sum",
        "",
        total,
    );
    sample(
        &mut o,
        "dnspect_dns_request_duration_seconds_count",
        "",
        count,
    );
    let simple: [SimpleMetric; 27] = [
        (
            "dnspect_loops_detected_total",
            "counter",
            "Forwarding loops found: a loop probe back as a client query, or an upstream answering one with a loop of its own (the upstream is then dnspect_upstream_loop 1).",
            &|s| s.loops_detected,
        ),
        (
            "dnspect_loop_answers_total",
            "counter",
            "Queries answered SERVFAIL at once because of a forwarding loop: loop probes that came back, and misses whose every upstream loops.",
            &|s| s.loop_answers,
        ),
        (
            "dnspect_cache_entries",
            "gauge",
            "Keys in the cache (CoreDNS: coredns_cache_entries).",
            &|s| s.cache_keys,
        ),
        (
            "dnspect_cache_bytes",
            "gauge",
            "Bytes the cache uses against its budget.",
            &|s| s.cache_bytes,
        ),
        (
            "dnspect_cache_hits_total",
            "counter",
            "Answers from the cache (CoreDNS: coredns_cache_hits_total).",
            &|s| s.cache_hits,
        ),
        (
            "dnspect_cache_misses_total",
            "counter",
            "Queries the cache could not answer (CoreDNS: coredns_cache_misses_total).",
            &|s| s.cache_misses,
        ),
        (
            "dnspect_cache_stale_total",
            "counter",
            "Stale answers served, RFC 8767 (CoreDNS: coredns_cache_served_stale_total).",
            &|s| s.stale,
        ),
        (
            "dnspect_cache_evictions_total",
            "counter",
            "Entries evicted for space (CoreDNS: coredns_cache_evictions_total).",
            &|s| s.cache_evictions,
        ),
        (
            "dnspect_cache_flushes_total",
            "counter",
            "Cache flushes through the admin API (everything, a name or a suffix; summed over workers).",
            &|s| s.cache_flushes,
        ),
        (
            "dnspect_cache_flushed_keys_total",
            "counter",
            "Cache keys removed by those flushes.",
            &|s| s.cache_flushed_keys,
        ),
        (
            "dnspect_cache_prefetch_total",
            "counter",
            "Refreshes ahead of expiry (CoreDNS: coredns_cache_prefetch_total).",
            &|s| s.prefetches,
        ),
        (
            "dnspect_coalesced_total",
            "counter",
            "Queries that joined an identical query in flight.",
            &|s| s.coalesced,
        ),
        (
            "dnspect_recompressed_total",
            "counter",
            "Upstream answers stored or sent smaller by re-compression (removing OPT alone does not count).",
            &|s| s.recompressed,
        ),
        (
            "dnspect_truncated_total",
            "counter",
            "Answers truncated with TC to fit a client.",
            &|s| s.truncated,
        ),
        (
            "dnspect_gave_up_total",
            "counter",
            "Client queries answered SERVFAIL after the attempt bound or deadline.",
            &|s| s.gave_up,
        ),
        (
            "dnspect_suspect_negatives_total",
            "counter",
            "Negative answers for a name that was answering, held briefly and verified (incident 004).",
            &|s| s.suspect_negatives,
        ),
        (
            "dnspect_verifications_total",
            "counter",
            "Queries to another upstream to verify a suspect negative answer.",
            &|s| s.verifications,
        ),
        (
            "dnspect_refused_total",
            "counter",
            "Queries from clients outside the allow list.",
            &|s| s.worker.refused_acl,
        ),
        (
            "dnspect_malformed_total",
            "counter",
            "Packets that were not queries, dropped.",
            &|s| s.worker.malformed,
        ),
        (
            "dnspect_tcp_connections",
            "gauge",
            "Client TCP connections open now.",
            &|s| s.worker.tcp_open,
        ),
        (
            "dnspect_tcp_connections_accepted_total",
            "counter",
            "Client TCP connections accepted within the caps.",
            &|s| s.worker.tcp_accepted,
        ),
        (
            "dnspect_tcp_accept_errors_total",
            "counter",
            "Failed accepts of client TCP connections (EMFILE, ENFILE, ENOBUFS, ENOMEM...): accept backs off.",
            &|s| s.worker.tcp_accept_errors,
        ),
        (
            "dnspect_udp_send_errors_total",
            "counter",
            "UDP answers the kernel refused to send (not counted in dnspect_dns_responses_total).",
            &|s| s.worker.udp_send_errors,
        ),
        (
            "dnspect_upstream_udp_sockets",
            "gauge",
            "Pooled upstream UDP sockets open now, all upstreams and workers (at most [udp] upstream_sockets per upstream and worker taking new queries).",
            &|s| s.worker.upstream_udp_open,
        ),
        (
            "dnspect_upstream_udp_sockets_opened_total",
            "counter",
            "Upstream UDP sockets opened (each on a random port).",
            &|s| s.worker.upstream_udp_opened,
        ),
        (
            "dnspect_upstream_udp_no_socket_total",
            "counter",
            "Upstream UDP queries that found no socket: the pool at [udp] upstream_sockets with the query's ID in flight on every socket, or no socket could be opened.",
            &|s| s.worker.upstream_udp_no_socket,
        ),
        (
            "dnspect_upstream_udp_send_errors_total",
            "counter",
            "Upstream UDP queries the kernel refused to send.",
            &|s| s.worker.upstream_udp_send_errors,
        ),
    ];
    // The cache is shared by every worker (issue 11): each snapshot carries the whole cache's
    // figures, so they are read from the latest (largest), not summed.
    let whole_cache = [
        "dnspect_cache_entries",
        "dnspect_cache_bytes",
        "dnspect_cache_evictions_total",
    ];
    for (name, kind, help, f) in simple {
        let v = if whole_cache.contains(&name) {
            snaps.iter().map(f).max().unwrap_or(0)
        } else {
            sum(f)
        };
        single(&mut o, name, kind, help, v);
    }
    let labelled: [LabelledMetric; 5] = [
        (
            "dnspect_upstream_udp_sockets_replaced_total",
            "Upstream UDP sockets retired for a new one, by reason: [udp] upstream_socket_queries reached, upstream_socket_lifetime passed, or a socket error (an ICMP unreachable).",
            &super::upstream::REPLACED,
            &|s, i| s.worker.upstream_udp_replaced[i],
        ),
        (
            "dnspect_tcp_connections_rejected_total",
            "Client TCP connections closed at accept, by reason.",
            &super::tcp::REJECT,
            &|s, i| s.worker.tcp_rejected[i],
        ),
        (
            "dnspect_tcp_connections_closed_total",
            "Client TCP connections closed, by reason.",
            &super::tcp::CLOSE,
            &|s, i| s.worker.tcp_closed[i],
        ),
        (
            "dnspect_tcp_answers_dropped_total",
            "Answers not sent to a TCP client, by reason (never counted in dnspect_dns_responses_total).",
            &super::tcp::DROP,
            &|s, i| s.worker.tcp_answers_dropped[i],
        ),
        (
            "dnspect_upstream_tls_handshakes_total",
            "TLS handshakes with DNS-over-TLS upstreams, by result: ok, or failed (certificate not valid for the name, untrusted issuer, protocol error, [tcp] upstream_connect_timeout). One per connection: pooled connections are reused.",
            &TLS_HANDSHAKE,
            &|s, i| s.worker.upstream_tls_handshakes[i],
        ),
    ];
    for (name, help, reasons, f) in labelled {
        family(&mut o, name, "counter", help);
        for (i, r) in reasons.iter().enumerate() {
            let n: u64 = snaps.iter().map(|s| f(s, i)).sum();
            sample(&mut o, name, &format!("reason=\"{r}\""), n);
        }
    }
    family(
        &mut o,
        "dnspect_fallbacks_total",
        "counter",
        "Fallbacks after upstream attempts, by rule.",
    );
    // Every rule from the start, at 0: a series that appears only on its first increment is
    // invisible to rate() and to alerts until then.
    let mut rules: std::collections::BTreeMap<String, u64> = FallbackRule::ALL
        .iter()
        .filter(|r| !matches!(r, FallbackRule::Answered))
        .map(|r| (r.as_str().to_string(), 0))
        .collect();
    for s in snaps {
        for (k, v) in &s.fallbacks {
            *rules.entry(k.clone()).or_default() += v;
        }
    }
    for (k, v) in rules {
        sample(
            &mut o,
            "dnspect_fallbacks_total",
            &format!("rule=\"{k}\""),
            v,
        );
    }
    family(&mut o, "dnspect_client_limited_total", "counter", "Queries over a per-client limit ([limits]), answered REFUSED or dropped as configured, by limit.");
    for (i, limit) in ["rate", "waiting"].iter().enumerate() {
        let n = sum(&|s| s.worker.limited[i]);
        let labels = format!("limit=\"{limit}\"");
        sample(&mut o, "dnspect_client_limited_total", &labels, n);
    }
    by_label(
        &mut o,
        "dnspect_upstream_dropped_total",
        "counter",
        "Upstream messages dropped before use, by reason (RFC 5452: late, short, wrong_id, not_response, opcode, qdcount, question).",
        "reason",
        Dropped::default()
            .by_reason()
            .iter()
            .enumerate()
            .map(|(i, (reason, _))| (*reason, sum(&|s| s.engine.dropped.by_reason()[i].1))),
    );
    by_label(
        &mut o,
        "dnspect_busy_total",
        "counter",
        "Queries answered SERVFAIL because a limit was reached, by limit (engine.max_inflight: inflight, max_waiters: waiters, max_waiting: waiting; no_upstreams: the name's group has none).",
        "reason",
        Busy::default()
            .by_reason()
            .iter()
            .enumerate()
            .map(|(i, (reason, _))| (*reason, sum(&|s| s.engine.busy.by_reason()[i].1))),
    );
    let limits: [SimpleMetric; 4] = [
        (
            "dnspect_refreshes_skipped_total",
            "counter",
            "Prefetches and verifications skipped to stay within the in-flight budget.",
            &|s| s.engine.refreshes_skipped,
        ),
        (
            "dnspect_edns_stripped_total",
            "counter",
            "Answers without OPT to DO/CD queries, not used (RFC 6840 5.7).",
            &|s| s.engine.stripped_edns,
        ),
        (
            "dnspect_waiting_clients",
            "gauge",
            "Client queries waiting on upstream transactions.",
            &|s| s.engine.waiting,
        ),
        (
            "dnspect_inflight",
            "gauge",
            "Upstream transactions in flight (client queries, prefetches, verifications, probes).",
            &|s| s.engine.in_flight,
        ),
    ];
    for (name, kind, help, f) in limits {
        single(&mut o, name, kind, help, sum(f));
    }
    let per: [UpstreamMetric; 13] = [
        (
            "dnspect_upstream_requests_total",
            "Queries sent upstream (CoreDNS: coredns_forward_requests_total).",
            |c| c.queries,
        ),
        (
            "dnspect_upstream_answers_total",
            "Responses received from upstream.",
            |c| c.answers,
        ),
        (
            "dnspect_upstream_oversized_total",
            "UDP answers larger than the size we advertised.",
            |c| c.oversized,
        ),
        (
            "dnspect_upstream_uncompressed_total",
            "Answers sent without name compression (incident 000).",
            |c| c.uncompressed,
        ),
        (
            "dnspect_upstream_uncompressed_bytes_total",
            "Bytes those answers would have saved compressed.",
            |c| c.uncompressed_bytes_lost,
        ),
        (
            "dnspect_upstream_no_opt_total",
            "Answers without OPT to a query with OPT.",
            |c| c.no_opt,
        ),
        (
            "dnspect_upstream_negative_without_soa_total",
            "Negative answers without SOA (not cacheable).",
            |c| c.negative_without_soa,
        ),
        (
            "dnspect_upstream_mismatched_total",
            "Answers dropped for a wrong ID or question (RFC 5452).",
            |c| c.mismatched,
        ),
        (
            "dnspect_upstream_undecodable_total",
            "Answers that did not decode.",
            |c| c.undecodable,
        ),
        (
            "dnspect_upstream_timeouts_total",
            "Attempts without an answer in time.",
            |c| c.timeouts,
        ),
        (
            "dnspect_upstream_network_errors_total",
            "Attempts that failed in transport.",
            |c| c.network_errors,
        ),
        (
            "dnspect_upstream_servfail_total",
            "SERVFAIL answers (CoreDNS: coredns_forward_responses_total{rcode=\"SERVFAIL\"}).",
            |c| c.servfail,
        ),
        ("dnspect_upstream_truncated_total", "TC answers.", |c| {
            c.truncated
        }),
    ];
    family(
        &mut o,
        "dnspect_upstream_loop",
        "gauge",
        "1 while the upstream forwards back to this server (a loop probe came back); it is not asked until a reload.",
    );
    let mut looping: std::collections::BTreeMap<&str, bool> = std::collections::BTreeMap::new();
    for s in snaps {
        for (label, l) in &s.upstream_loops {
            *looping.entry(label.as_str()).or_default() |= *l;
        }
    }
    for (to, l) in looping {
        sample(
            &mut o,
            "dnspect_upstream_loop",
            &format!("to=\"{to}\""),
            u8::from(l),
        );
    }
    for (name, help, f) in per {
        family(&mut o, name, "counter", help);
        let mut by: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for s in snaps {
            for (label, c) in &s.upstreams {
                *by.entry(label.clone()).or_default() += f(c);
            }
        }
        for (to, v) in by {
            sample(&mut o, name, &format!("to=\"{to}\""), v);
        }
    }
    o
}

/// The health gauges: what /health and /ready decide from.
fn render_health(o: &mut String, shared: &Shared) {
    let ok = |b: bool| u8::from(b);
    single(
        o,
        "dnspect_healthy",
        "gauge",
        "1 while every worker runs and makes progress (/health).",
        ok(shared.health().is_ok()),
    );
    single(
        o,
        "dnspect_ready",
        "gauge",
        "1 while healthy, not draining and an upstream is usable (/ready).",
        ok(shared.ready().is_ok()),
    );
    single(
        o,
        "dnspect_draining",
        "gauge",
        "1 after SIGTERM, while queries queued and in flight are answered.",
        ok(shared.draining.load(Ordering::SeqCst)),
    );
    if let Some(a) = shared.admission.get() {
        single(
            o,
            "dnspect_clients_tracked",
            "gauge",
            "Clients in the per-client admission table (at most engine.limits.max_clients).",
            a.tracked(),
        );
        single(
            o,
            "dnspect_clients_untracked_total",
            "counter",
            "Queries admitted without the per-client limits because the table was full of busy clients (raise engine.limits.max_clients).",
            a.untracked(),
        );
    }
    let load = |a: &[AtomicU64; 2], i: usize| a[i].load(Ordering::Relaxed);
    by_label(
        o,
        "dnspect_reloads_total",
        "counter",
        "Configuration reloads (SIGHUP, a hosts file changed) applied (ok) and rejected (the running configuration kept).",
        "result",
        [("ok", load(&shared.reloads, 0)), ("rejected", load(&shared.reloads, 1))],
    );
    single(
        o,
        "dnspect_config_last_load_success_timestamp_seconds",
        "gauge",
        "When the configuration in force was loaded (at start or by the last reload applied), Unix seconds.",
        shared.last_load.load(Ordering::Relaxed),
    );
    by_label(
        o,
        "dnspect_http_connections_rejected_total",
        "counter",
        "Metrics/admin listener connections closed unserved: over admin.max_connections (limit) or past admin.timeout (timeout).",
        "reason",
        [
            ("limit", load(&shared.http_rejected, 0)),
            ("timeout", load(&shared.http_rejected, 1)),
        ],
    );
    family(
        o,
        "dnspect_upstreams_usable",
        "gauge",
        "Upstreams not marked down nor looping back here, by worker.",
    );
    for (i, w) in shared.workers.iter().enumerate() {
        let n = w.upstreams_usable.load(Ordering::Relaxed);
        sample(o, "dnspect_upstreams_usable", &format!("worker=\"{i}\""), n);
    }
}

/// A tiny HTTP/1.1 server for /metrics, /health and /ready, and the admin API's /cache routes
/// (`super::admin`).
///
/// At most `max_connections` at once (more are closed at accept); each has `timeout` to send
/// its request and `timeout` again to take its answer. Both are counted when they close one.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    admin: Arc<Admin>,
    max_connections: usize,
    timeout: Duration,
) {
    let mut backoff = super::tcp::Backoff::default();
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    loop {
        let (mut s, peer) = match listener.accept().await {
            Ok(x) => {
                backoff.reset();
                x
            }
            Err(e) => {
                backoff.failed("metrics", &e).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            shared.http_rejected[0].fetch_add(1, Ordering::Relaxed);
            drop(s);
            continue;
        };
        let shared = shared.clone();
        let admin = admin.clone();
        tokio::spawn(async move {
            let _slot = slot;
            // The request may come in more than one segment: read until the end of the
            // headers (or 2048 bytes), within the timeout.
            let mut buf = [0u8; 2048];
            let mut n = 0;
            let deadline = tokio::time::Instant::now() + timeout;
            let done = |b: &[u8]| {
                b.windows(4).any(|w| w == b"\r\n\r\n") || b.windows(2).any(|w| w == b"\n\n")
            };
            while n < buf.len() && !done(&buf[..n]) {
                match tokio::time::timeout_at(deadline, s.read(&mut buf[n..])).await {
                    Ok(Ok(0)) => break,
                    Ok(Ok(k)) => n += k,
                    Ok(Err(_)) => return,
                    Err(_) => {
                        shared.http_rejected[1].fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("/");
            if Admin::owns(path) {
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut r = httparse::Request::new(&mut headers);
                let (status, body) = match r.parse(&buf[..n]) {
                    Ok(httparse::Status::Complete(_)) => {
                        let auth = r
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case("authorization"))
                            .and_then(|h| std::str::from_utf8(h.value).ok());
                        admin
                            .handle(r.method.unwrap_or("GET"), r.path.unwrap_or("/"), auth, peer)
                            .await
                    }
                    Ok(httparse::Status::Partial) => (
                        "400 Bad Request",
                        "{\"error\": \"incomplete request headers (at most 2048 bytes)\"}\n"
                            .to_string(),
                    ),
                    Err(e) => (
                        "400 Bad Request",
                        format!(
                            "{}\n",
                            serde_json::json!({ "error": format!("bad request: {e}") })
                        ),
                    ),
                };
                let resp = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                write_within(&mut s, resp.as_bytes(), timeout, &shared).await;
                return;
            }
            let (status, body) = match path {
                "/metrics" => {
                    let snaps = shared
                        .snapshots
                        .lock()
                        .map(|v| v.clone())
                        .unwrap_or_default();
                    let mut text = render(&snaps);
                    render_health(&mut text, &shared);
                    ("200 OK", text)
                }
                "/health" => match shared.health() {
                    Ok(()) => ("200 OK", "OK\n".to_string()),
                    Err(why) => ("503 Service Unavailable", format!("{why}\n")),
                },
                "/ready" => match shared.ready() {
                    Ok(what) => ("200 OK", format!("{what}\n")),
                    Err(why) => ("503 Service Unavailable", format!("{why}\n")),
                },
                _ => (
                    "404 Not Found",
                    "see /metrics, /health, /ready, /cache/entries, /cache/flush\n".to_string(),
                ),
            };
            let resp = format!("HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            write_within(&mut s, resp.as_bytes(), timeout, &shared).await;
        });
    }
}

/// Writes an answer, giving up (counted) when the client does not take it within `timeout`.
async fn write_within(
    s: &mut tokio::net::TcpStream,
    bytes: &[u8],
    timeout: Duration,
    shared: &Shared,
) {
    if tokio::time::timeout(timeout, s.write_all(bytes))
        .await
        .is_err()
    {
        shared.http_rejected[1].fetch_add(1, Ordering::Relaxed);
    }
}
