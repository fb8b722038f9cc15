//! The engine's configuration: upstreams, limits, timeouts, cache policy, probes.

use super::*;

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
