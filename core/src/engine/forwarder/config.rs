//! The engine's configuration: upstreams, limits, timeouts, cache policy, per-client limits,
//! probes. One serde type read by every shell: the native server's TOML (its `[engine]` table),
//! the npm package's JSON and the simulator's scenarios. Durations are [`Duration`] here and
//! text in files (`"1500ms"`, `"4s"`, `"2m"`: [`crate::units`]). [`Config::validate`] holds every
//! limit, so no shell can hand the engine a configuration it would misbehave with.

use super::*;
use crate::engine::admission::AdmissionConfig;
use crate::local::{LocalConfig, LocalData};

/// At most this many upstreams: the engine remembers the upstreams a query tried in a `u64`.
pub const MAX_UPSTREAMS: usize = 64;

/// One upstream in the configuration. In a file, its address alone (`"192.0.2.53"`) or a table
/// (`{ label = "192.0.2.53", force_tcp = true, trusted = true }`; `address` is another name for
/// `label`, `trust_ad` for `trusted`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UpstreamConfig {
    /// How events name it (its address).
    pub label: String,
    /// Always use TCP (CoreDNS `force_tcp`).
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub force_tcp: bool,
    /// Its AD bit is believed: a validating resolver reached over a path the operator trusts
    /// (RFC 6840 5.8, RFC 4035 4.9.3). Off by default: AD from an untrusted upstream is cleared
    /// before the answer is cached, so no client ever sees it.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub trusted: bool,
}

impl UpstreamConfig {
    /// A DNS-over-TLS upstream (RFC 7858), written `tls://ADDR[:PORT][#SERVER_NAME]`. TLS is
    /// the shell's; the engine only knows such an upstream is asked over the stream, never UDP.
    pub fn is_tls(&self) -> bool {
        is_tls_label(&self.label)
    }

    /// Asked only over the stream (TCP or TLS): `force_tcp`, or a TLS upstream.
    pub fn stream_only(&self) -> bool {
        self.force_tcp || self.is_tls()
    }
}

/// Whether an upstream label names a DNS-over-TLS upstream (`tls://...`, any case).
pub fn is_tls_label(label: &str) -> bool {
    label
        .get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("tls://"))
}

impl<'de> serde::Deserialize<'de> for UpstreamConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            #[serde(alias = "address")]
            label: String,
            #[serde(default)]
            force_tcp: bool,
            #[serde(default, alias = "trust_ad")]
            trusted: bool,
        }
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = UpstreamConfig;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("an address or a table { label, force_tcp, trusted }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<UpstreamConfig, E> {
                Ok(UpstreamConfig {
                    label: v.to_string(),
                    ..UpstreamConfig::default()
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<UpstreamConfig, A::Error> {
                let t: Table = serde::Deserialize::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(UpstreamConfig {
                    label: t.label,
                    force_tcp: t.force_tcp,
                    trusted: t.trusted,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// An active health probe: a query whose answer must come back whole or with TC.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// How often each upstream is probed (at least every 100 ms).
    #[serde(with = "crate::units::duration")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub interval: Duration,
    /// The name asked for, e.g. `"."`.
    pub name: String,
    /// Its type's mnemonic, e.g. `"NS"`.
    pub qtype: String,
    /// Send the probe with EDNS. Without EDNS (the default) a large answer checks that the
    /// upstream truncates properly instead of sending what a 512-byte reader cannot take.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub edns: bool,
}

/// Forwarding for some zones: names at or under any of `zones` go to these upstreams instead of
/// the default ones (the longest matching zone wins; `.` is the default group). Like a CoreDNS
/// `forward` block, a kube-dns stub domain, dnsmasq's `server=/zone/addr` or an Unbound
/// `forward-zone`. Each group has its own selection, health, EDNS size, TCP setting, probe and
/// cache overrides; the upstreams' state is the group's own, even for an address that is also
/// in another group.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ForwardZone {
    /// The zones, e.g. `["cluster.local", "in-addr.arpa", "ip6.arpa"]`.
    pub zones: Vec<String>,
    /// At least one, at most [`MAX_UPSTREAMS`].
    pub upstreams: Vec<UpstreamConfig>,
    /// Selection among them (default: the top-level `policy`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub policy: Option<Policy>,
    /// Every upstream of the group over TCP.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub force_tcp: bool,
    /// The EDNS size the group's queries advertise (default: the top-level one); at least 512.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub upstream_udp_payload: Option<u16>,
    /// The group's own active probe (the top-level `probe` is the default group's).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub probe: Option<ProbeConfig>,
    /// Cache rules for names in these zones, over `cache`.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub cache: ZoneCache,
}

/// Per-zone cache overrides; unset knobs follow `cache`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct ZoneCache {
    /// Cap on positive TTLs.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub max_ttl: Option<u32>,
    /// Cap on negative TTLs; 0 turns negative caching off for the zone.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub max_negative_ttl: Option<u32>,
    /// Serve stale answers (RFC 8767) for the zone.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub serve_stale: Option<bool>,
}

impl ZoneCache {
    /// `base` with these overrides.
    pub fn apply(&self, base: &CachePolicy) -> CachePolicy {
        let mut c = *base;
        if let Some(t) = self.max_ttl {
            c.max_ttl = t;
        }
        if let Some(t) = self.max_negative_ttl {
            c.max_negative_ttl = t;
        }
        if let Some(s) = self.serve_stale {
            c.serve_stale.enabled = s;
        }
        c
    }
}

/// EDNS Client Subnet (RFC 7871). Off by default: a client's ECS option is dropped (never sent
/// upstream, never echoed), as a resolver without ECS support does, and every answer is cached
/// for everyone. With `passthrough`, a query carrying ECS is sent upstream with it (its source
/// prefix capped at the limits below, RFC 7871 11.1), is answered with the option echoed and the
/// upstream's scope (RFC 7871 7.2.2), and neither uses nor fills the cache (RFC 7871 7.3 allows
/// not caching tailored answers); only identical subnets share one upstream query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct ClientSubnetConfig {
    pub passthrough: bool,
    /// Longest IPv4 source prefix sent upstream: 24 (RFC 7871 11.1). At most 32.
    pub max_source_prefix_v4: u8,
    /// Longest IPv6 source prefix sent upstream: 56 (RFC 7871 11.1). At most 128.
    pub max_source_prefix_v6: u8,
}

impl Default for ClientSubnetConfig {
    fn default() -> Self {
        ClientSubnetConfig {
            passthrough: false,
            max_source_prefix_v4: 24,
            max_source_prefix_v6: 56,
        }
    }
}

/// The engine's configuration. Every knob has a default; docs/configuration.md describes them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "EngineConfig"))]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// At most [`MAX_UPSTREAMS`].
    pub upstreams: Vec<UpstreamConfig>,
    pub policy: Policy,
    /// Largest UDP answer we send a client, and the size our OPT advertises to clients: 1232.
    /// At least 512.
    pub max_udp_payload: u16,
    /// The UDP payload size our queries advertise upstream: 1232, at least 512. Answers of any
    /// size up to 65535 bytes are accepted whatever this says (incident 000).
    pub upstream_udp_payload: u16,
    /// How long one attempt waits for its answer: 1500 ms. Above 0, at most `query_timeout`.
    #[serde(with = "crate::units::duration")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub attempt_timeout: Duration,
    /// How long one client query may take in all: 4 s. Above 0.
    #[serde(with = "crate::units::duration")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub query_timeout: Duration,
    /// Upstream queries per client query: default 2 x upstreams (at least 2). At least 1.
    pub max_attempts: Option<u16>,
    /// Transactions in flight at once, prefetches and verifications included: 4096; beyond it
    /// new queries get SERVFAIL and refreshes are skipped. At least 1.
    pub max_inflight: usize,
    /// Clients waiting on one transaction: 8192. A flash crowd for one name shares one upstream
    /// query; each waiter keeps only its header and question (at most 271 bytes). At least 1.
    pub max_waiters: usize,
    /// Clients waiting on all transactions together: 65536. At least 1.
    pub max_waiting: usize,
    /// Largest query accepted from a client, in bytes: 4096 (larger ones get FORMERR).
    /// 17..=65535 (17: the smallest query, a header and a root question).
    pub max_query_size: usize,
    pub probe: Option<ProbeConfig>,
    /// Emit events (the query log, the simulator's trace). Off, the hot path allocates nothing
    /// but the answer.
    pub events: bool,
    /// The cache's budget and lifetime rules.
    pub cache: CachePolicy,
    /// Per-client limits, applied by the shell before a query reaches the engine
    /// ([`crate::engine::admission`]).
    pub limits: AdmissionConfig,
    /// Per-zone forwarding groups; names in no zone of theirs use `upstreams`.
    pub forward: Vec<ForwardZone>,
    /// Names answered locally: hosts files, records, local zones.
    pub local: LocalConfig,
    /// EDNS Client Subnet: stripped, or passed through (RFC 7871).
    pub client_subnet: ClientSubnetConfig,
    /// Probe every upstream for a forwarding loop back to this server at start and after each
    /// reload (`HINFO <random>.dnspect-loop-check.<zone>`, as CoreDNS's `loop` plugin). Off by
    /// default, as that plugin is a line of the Corefile: the probes are queries of our own to
    /// every upstream; the shipped Kubernetes layouts turn it on. An upstream found looping is
    /// not asked until a reload. The simulator keeps it off (its scripted upstreams never
    /// forward back).
    pub loop_check: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            upstreams: Vec::new(),
            policy: Policy::default(),
            max_udp_payload: decide::DEFAULT_MAX_PAYLOAD,
            upstream_udp_payload: decide::DEFAULT_MAX_PAYLOAD,
            attempt_timeout: Duration::from_millis(1500),
            query_timeout: Duration::from_secs(4),
            max_attempts: None,
            max_inflight: 4096,
            max_waiters: 8192,
            max_waiting: 65536,
            max_query_size: 4096,
            probe: None,
            events: true,
            cache: CachePolicy::default(),
            limits: AdmissionConfig::default(),
            forward: Vec::new(),
            local: LocalConfig::default(),
            client_subnet: ClientSubnetConfig::default(),
            loop_check: false,
        }
    }
}

/// A configuration value out of its limits: which field (a dotted path such as
/// `cache.serve_stale.window`, relative to [`Config`]) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn check(ok: bool, field: &str, message: impl FnOnce() -> String) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            field: field.into(),
            message: message(),
        })
    }
}

impl Config {
    /// Checks every limit; the error names the first field out of its limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use crate::units::format_duration as d;
        check(self.upstreams.len() <= MAX_UPSTREAMS, "upstreams", || {
            format!(
                "at most {MAX_UPSTREAMS} upstreams, got {}",
                self.upstreams.len()
            )
        })?;
        for (i, u) in self.upstreams.iter().enumerate() {
            check(
                !u.label.is_empty(),
                &format!("upstreams[{i}].label"),
                || "must not be empty".into(),
            )?;
        }
        check(self.max_udp_payload >= 512, "max_udp_payload", || {
            format!("must be at least 512, got {}", self.max_udp_payload)
        })?;
        check(
            self.upstream_udp_payload >= 512,
            "upstream_udp_payload",
            || format!("must be at least 512, got {}", self.upstream_udp_payload),
        )?;
        check(!self.query_timeout.is_zero(), "query_timeout", || {
            "must be above 0".into()
        })?;
        check(!self.attempt_timeout.is_zero(), "attempt_timeout", || {
            "must be above 0".into()
        })?;
        check(
            self.attempt_timeout <= self.query_timeout,
            "attempt_timeout",
            || {
                format!(
                    "{} is longer than query_timeout ({})",
                    d(self.attempt_timeout),
                    d(self.query_timeout)
                )
            },
        )?;
        check(self.max_attempts != Some(0), "max_attempts", || {
            "must be at least 1".into()
        })?;
        for (field, v) in [
            ("max_inflight", self.max_inflight),
            ("max_waiters", self.max_waiters),
            ("max_waiting", self.max_waiting),
        ] {
            check(v >= 1, field, || "must be at least 1".into())?;
        }
        check(
            (17..=65535).contains(&self.max_query_size),
            "max_query_size",
            || format!("must be 17..=65535, got {}", self.max_query_size),
        )?;
        if let Some(p) = &self.probe {
            check_probe(p, "probe")?;
        }
        let c = &self.cache;
        let s = &c.serve_stale;
        self.validate_forward()?;
        LocalData::build(&self.local).map_err(|e| ConfigError {
            field: e.field,
            message: e.message,
        })?;
        check(
            !s.enabled || !s.client_answer_timer.is_zero(),
            "cache.serve_stale.client_answer_timer",
            || "must be above 0".into(),
        )?;
        check(
            !s.enabled || !s.failure_recheck.is_zero(),
            "cache.serve_stale.failure_recheck",
            || "must be above 0".into(),
        )?;
        let limit = crate::cache::policy::FAILURE_TTL_LIMIT;
        for (field, v) in [
            ("cache.failure_min_ttl", c.failure_min_ttl),
            ("cache.failure_max_ttl", c.failure_max_ttl),
        ] {
            check(v <= limit, field, || {
                format!("must be at most {limit} s (RFC 2308 7.1: a failure is never cached longer than 5 minutes), got {v}")
            })?;
        }
        let l = &self.limits;
        check(l.prefix_v4 <= 32, "limits.client_prefix_v4", || {
            format!("must be 0..=32, got {}", l.prefix_v4)
        })?;
        check(l.prefix_v6 <= 128, "limits.client_prefix_v6", || {
            format!("must be 0..=128, got {}", l.prefix_v6)
        })?;
        check(l.max_clients >= 1, "limits.max_clients", || {
            "must be at least 1".into()
        })?;
        let e = &self.client_subnet;
        check(
            e.max_source_prefix_v4 <= 32,
            "client_subnet.max_source_prefix_v4",
            || format!("must be 0..=32, got {}", e.max_source_prefix_v4),
        )?;
        check(
            e.max_source_prefix_v6 <= 128,
            "client_subnet.max_source_prefix_v6",
            || format!("must be 0..=128, got {}", e.max_source_prefix_v6),
        )?;
        Ok(())
    }
}

fn check_probe(p: &ProbeConfig, at: &str) -> Result<(), ConfigError> {
    check(!p.interval.is_zero(), &format!("{at}.interval"), || {
        "must be above 0".into()
    })?;
    check(
        p.name.parse::<Name>().is_ok(),
        &format!("{at}.name"),
        || format!("{:?} is not a domain name", p.name),
    )?;
    check(
        p.qtype.parse::<RType>().is_ok(),
        &format!("{at}.qtype"),
        || format!("{:?} is not a record type", p.qtype),
    )
}

impl Config {
    fn validate_forward(&self) -> Result<(), ConfigError> {
        // Zone (lowercased wire) -> where it was first listed.
        let mut seen: BTreeMap<Vec<u8>, String> = BTreeMap::new();
        for (i, g) in self.forward.iter().enumerate() {
            let at = format!("forward[{i}]");
            check(!g.zones.is_empty(), &format!("{at}.zones"), || {
                "at least one zone is needed".into()
            })?;
            for (j, z) in g.zones.iter().enumerate() {
                let field = format!("{at}.zones[{j}]");
                let name = super::zones::zone_name(z).map_err(|message| ConfigError {
                    field: field.clone(),
                    message,
                })?;
                let key = name.to_lowercase().as_wire().to_vec();
                if let Some(first) = seen.get(&key) {
                    return Err(ConfigError {
                        field,
                        message: format!("zone {name} is already forwarded by {first}"),
                    });
                }
                check(!name.is_root() || self.upstreams.is_empty(), &field, || {
                    "zone `.` is the default group: its upstreams are `upstreams`".into()
                })?;
                seen.insert(key, field);
            }
            check(!g.upstreams.is_empty(), &format!("{at}.upstreams"), || {
                "at least one upstream is needed".into()
            })?;
            check(
                g.upstreams.len() <= MAX_UPSTREAMS,
                &format!("{at}.upstreams"),
                || {
                    format!(
                        "at most {MAX_UPSTREAMS} upstreams, got {}",
                        g.upstreams.len()
                    )
                },
            )?;
            for (j, u) in g.upstreams.iter().enumerate() {
                check(
                    !u.label.is_empty(),
                    &format!("{at}.upstreams[{j}].label"),
                    || "must not be empty".into(),
                )?;
            }
            if let Some(p) = g.upstream_udp_payload {
                check(p >= 512, &format!("{at}.upstream_udp_payload"), || {
                    format!("must be at least 512, got {p}")
                })?;
            }
            if let Some(p) = &g.probe {
                check_probe(p, &format!("{at}.probe"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(i: usize) -> UpstreamConfig {
        UpstreamConfig {
            label: format!("10.0.0.{i}"),
            ..UpstreamConfig::default()
        }
    }

    fn up_empty() -> UpstreamConfig {
        UpstreamConfig::default()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn field_of(f: impl FnOnce(&mut Config)) -> String {
        let mut c = Config::default();
        f(&mut c);
        c.validate().expect_err("out of limits").field
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn each_limit_names_its_field() {
        type Case = (&'static str, fn(&mut Config));
        let cases: Vec<Case> = vec![
            ("upstreams", |c| c.upstreams = (0..65).map(up).collect()),
            ("upstreams[1].label", |c| {
                c.upstreams = vec![up(1), up_empty()]
            }),
            ("max_udp_payload", |c| c.max_udp_payload = 511),
            ("upstream_udp_payload", |c| c.upstream_udp_payload = 100),
            ("attempt_timeout", |c| c.attempt_timeout = Duration::ZERO),
            ("query_timeout", |c| c.query_timeout = Duration::ZERO),
            ("attempt_timeout", |c| c.attempt_timeout = ms(4001)),
            ("max_attempts", |c| c.max_attempts = Some(0)),
            ("max_inflight", |c| c.max_inflight = 0),
            ("max_waiters", |c| c.max_waiters = 0),
            ("max_waiting", |c| c.max_waiting = 0),
            ("max_query_size", |c| c.max_query_size = 16),
            ("max_query_size", |c| c.max_query_size = 65536),
            ("probe.interval", |c| {
                c.probe = Some(probe(Duration::ZERO, ".", "NS"))
            }),
            ("probe.name", |c| {
                c.probe = Some(probe(ms(100), "a..b", "NS"))
            }),
            ("probe.qtype", |c| {
                c.probe = Some(probe(ms(100), ".", "NOPE"))
            }),
            ("cache.serve_stale.client_answer_timer", |c| {
                c.cache.serve_stale.client_answer_timer = Duration::ZERO
            }),
            ("cache.serve_stale.failure_recheck", |c| {
                c.cache.serve_stale.failure_recheck = Duration::ZERO
            }),
            ("cache.failure_min_ttl", |c| c.cache.failure_min_ttl = 301),
            ("cache.failure_max_ttl", |c| c.cache.failure_max_ttl = 3600),
            ("limits.client_prefix_v4", |c| c.limits.prefix_v4 = 33),
            ("limits.client_prefix_v6", |c| c.limits.prefix_v6 = 129),
            ("limits.max_clients", |c| c.limits.max_clients = 0),
            ("forward[0].zones", |c| {
                c.forward = vec![fz(&[], &["10.0.0.1"])]
            }),
            ("forward[0].zones[1]", |c| {
                c.forward = vec![fz(&["a.example", "b..example"], &["10.0.0.1"])]
            }),
            ("forward[1].zones[0]", |c| {
                c.forward = vec![
                    fz(&["a.example"], &["10.0.0.1"]),
                    fz(&["A.example."], &["10.0.0.2"]),
                ]
            }),
            ("forward[0].zones[0]", |c| {
                c.upstreams = vec![up(1)];
                c.forward = vec![fz(&["."], &["10.0.0.1"])]
            }),
            ("forward[0].upstreams", |c| {
                c.forward = vec![fz(&["a"], &[])]
            }),
            ("forward[0].upstreams[0].label", |c| {
                c.forward = vec![fz(&["a"], &[""])]
            }),
            ("forward[0].upstream_udp_payload", |c| {
                let mut f = fz(&["a"], &["10.0.0.1"]);
                f.upstream_udp_payload = Some(511);
                c.forward = vec![f]
            }),
            ("forward[0].probe.qtype", |c| {
                let mut f = fz(&["a"], &["10.0.0.1"]);
                f.probe = Some(probe(ms(100), "a.", "NOPE"));
                c.forward = vec![f]
            }),
            ("local.records[0]", |c| {
                c.local.records = vec!["x. 60 IN A 1.2.3".into()]
            }),
            ("local.hosts[0]", |c| {
                c.local.hosts = vec![crate::local::HostsText {
                    name: "h".into(),
                    text: "not-an-address x\n".into(),
                }]
            }),
            ("client_subnet.max_source_prefix_v4", |c| {
                c.client_subnet.max_source_prefix_v4 = 33
            }),
            ("client_subnet.max_source_prefix_v6", |c| {
                c.client_subnet.max_source_prefix_v6 = 129
            }),
        ];
        for (field, f) in cases {
            assert_eq!(field_of(f), field);
        }
        // The limits themselves are accepted.
        let mut c = Config {
            upstreams: (0..64).map(up).collect(),
            max_udp_payload: 512,
            upstream_udp_payload: 512,
            attempt_timeout: ms(4000),
            max_query_size: 17,
            probe: Some(probe(ms(1), ".", "NS")),
            ..Config::default()
        };
        c.limits.prefix_v4 = 0;
        c.limits.prefix_v6 = 128;
        assert_eq!(c.validate(), Ok(()));
    }

    fn fz(zones: &[&str], ups: &[&str]) -> ForwardZone {
        ForwardZone {
            zones: zones.iter().map(|z| z.to_string()).collect(),
            upstreams: ups
                .iter()
                .map(|u| UpstreamConfig {
                    label: u.to_string(),
                    force_tcp: false,
                    trusted: false,
                })
                .collect(),
            policy: None,
            force_tcp: false,
            upstream_udp_payload: None,
            probe: None,
            cache: ZoneCache::default(),
        }
    }

    #[test]
    fn forward_and_local_tables_read_from_toml() {
        let c: Config = toml::from_str(
            r#"
            [[forward]]
            zones = ["cluster.local", "in-addr.arpa"]
            upstreams = ["10.96.0.10:53"]
            policy = "sequential"
            force_tcp = true
            cache = { max_negative_ttl = 0, max_ttl = 30, serve_stale = false }
            [local]
            records = ["printer.lan. 300 IN A 192.168.1.20"]
            zones = [{ zone = "ads.example", answer = "refused" }]
            "#,
        )
        .unwrap();
        assert_eq!(c.validate(), Ok(()));
        let f = &c.forward[0];
        assert_eq!(f.policy, Some(Policy::Sequential));
        let eff = f.cache.apply(&c.cache);
        assert_eq!((eff.max_negative_ttl, eff.max_ttl), (0, 30));
        assert!(!eff.serve_stale.enabled);
        assert_eq!(eff.min_ttl, c.cache.min_ttl, "the rest follows `cache`");
        let e =
            toml::from_str::<Config>("[[forward]]\nzones = [\"a\"]\nupstreams = []\nbogus = 1\n")
                .unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    fn probe(interval: Duration, name: &str, qtype: &str) -> ProbeConfig {
        ProbeConfig {
            interval,
            name: name.into(),
            qtype: qtype.into(),
            edns: false,
        }
    }

    #[test]
    fn reads_files_with_units_and_shorthands() {
        let c: Config = toml::from_str(
            r#"
            upstreams = ["192.0.2.1", { address = "192.0.2.2", force_tcp = true, trust_ad = true }]
            attempt_timeout = "500ms"
            query_timeout = "2s"
            probe = { interval = "5s", name = ".", qtype = "NS" }
            [cache]
            size = "2MiB"
            suspect_window = "2m"
            serve_stale = false
            [limits]
            client_qps = 10
            action = "drop"
            "#,
        )
        .unwrap();
        assert_eq!(c.upstreams[1].label, "192.0.2.2");
        assert!(c.upstreams[1].force_tcp);
        assert!(c.upstreams[1].trusted && !c.upstreams[0].trusted);
        assert_eq!(c.attempt_timeout, Duration::from_millis(500));
        assert_eq!(c.cache.size, 2 << 20);
        assert_eq!(c.cache.suspect_window, Duration::from_secs(120));
        assert!(!c.cache.serve_stale.enabled);
        assert_eq!(c.cache.serve_stale.ttl, 30, "the rest stays default");
        assert_eq!(c.limits.qps, 10);
        assert_eq!(c.limits.action, crate::engine::admission::LimitAction::Drop);
        // The JSON form round-trips, durations as text.
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""attempt_timeout":"500ms""#), "{json}");
        let back: Config = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        // A number where a duration belongs is refused: its unit would be a guess.
        let e = toml::from_str::<Config>("attempt_timeout = 1500").unwrap_err();
        assert!(e.to_string().contains("1500ms"), "{e}");
        let e = toml::from_str::<Config>("attempt_timeout_ms = 1500").unwrap_err();
        assert!(e.to_string().contains("attempt_timeout_ms"), "{e}");
    }
}
