//! The server's configuration: a TOML file (every knob has a default, documented in
//! docs/configuration.md), overridden by flags. Errors name the line and the field.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dnspect_core::engine::admission::AdmissionConfig;
use dnspect_core::engine::forwarder::{Config as EngineConfig, ProbeConfig, UpstreamConfig};
use dnspect_core::engine::upstreams::Policy;
use serde::Deserialize;

/// The embedded default configuration (what `dnspect serve` runs with no arguments).
pub const DEFAULT_TOML: &str = include_str!("default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    /// Empty: the nameservers of /etc/resolv.conf.
    #[serde(default)]
    pub upstreams: Vec<UpstreamSpec>,
    #[serde(default = "default_metrics")]
    pub metrics: String,
    #[serde(default = "default_allow")]
    pub allow: Vec<String>,
    #[serde(default = "default_refuse")]
    pub refuse: String,
    #[serde(default = "one")]
    pub workers: usize,
    #[serde(default)]
    pub log_queries: bool,
    /// How long SIGTERM waits for queries in flight before exiting.
    #[serde(default = "default_drain")]
    pub drain_timeout_ms: u64,
    #[serde(default)]
    pub engine: EngineKnobs,
    #[serde(default)]
    pub cache: CacheKnobs,
    #[serde(default)]
    pub tcp: TcpKnobs,
    #[serde(default)]
    pub limits: LimitKnobs,
}

/// Per-client limits (`[limits]`): the admission table's knobs, and what a client over them
/// gets.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitKnobs {
    pub client_qps: u32,
    pub client_burst: u32,
    pub client_max_waiting: u32,
    pub client_prefix_v4: u8,
    pub client_prefix_v6: u8,
    pub max_clients: usize,
    /// "refused" or "drop".
    pub action: String,
}

impl Default for LimitKnobs {
    fn default() -> Self {
        let a = AdmissionConfig::default();
        LimitKnobs {
            client_qps: a.qps,
            client_burst: a.burst,
            client_max_waiting: a.max_waiting,
            client_prefix_v4: a.prefix_v4,
            client_prefix_v6: a.prefix_v6,
            max_clients: a.max_clients,
            action: "refused".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum UpstreamSpec {
    Address(String),
    Full {
        address: String,
        #[serde(default)]
        force_tcp: bool,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineKnobs {
    pub policy: Policy,
    pub max_udp_payload: u16,
    pub upstream_udp_payload: u16,
    pub attempt_timeout_ms: u64,
    pub query_timeout_ms: u64,
    pub max_attempts: Option<u16>,
    pub max_inflight: usize,
    pub max_waiters: usize,
    pub max_waiting: usize,
    pub max_query_size: usize,
    pub probe: Option<ProbeConfig>,
}

impl Default for EngineKnobs {
    fn default() -> Self {
        let c = EngineConfig::default();
        EngineKnobs {
            policy: c.policy,
            max_udp_payload: c.max_udp_payload,
            upstream_udp_payload: c.upstream_udp_payload,
            attempt_timeout_ms: c.attempt_timeout_ms,
            query_timeout_ms: c.query_timeout_ms,
            max_attempts: c.max_attempts,
            max_inflight: c.max_inflight,
            max_waiters: c.max_waiters,
            max_waiting: c.max_waiting,
            max_query_size: c.max_query_size,
            probe: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheKnobs {
    pub size_mb: usize,
    pub min_ttl: u32,
    pub max_ttl: u32,
    pub max_negative_ttl: u32,
    pub suspect_window_s: u64,
    pub suspect_negative_max_ttl: u32,
    pub failure_min_ttl: u32,
    pub failure_max_ttl: u32,
    pub serve_stale: bool,
    pub stale_ttl: u32,
    pub stale_window_s: u64,
    pub prefetch: bool,
}

impl Default for CacheKnobs {
    fn default() -> Self {
        let p = dnspect_core::cache::policy::CachePolicy::default();
        CacheKnobs {
            size_mb: 32,
            min_ttl: p.min_ttl,
            max_ttl: p.max_ttl,
            max_negative_ttl: p.max_negative_ttl,
            suspect_window_s: p.suspect_window.as_secs(),
            suspect_negative_max_ttl: p.suspect_negative_max_ttl,
            failure_min_ttl: p.failure_min_ttl,
            failure_max_ttl: p.failure_max_ttl,
            serve_stale: p.serve_stale.enabled,
            stale_ttl: p.serve_stale.ttl,
            stale_window_s: p.serve_stale.window.as_secs(),
            prefetch: p.prefetch,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpKnobs {
    pub idle_timeout_ms: u64,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    pub read_timeout_ms: u64,
    pub write_timeout_ms: u64,
    pub max_queued: usize,
    pub send_buffer_bytes: usize,
}

impl Default for TcpKnobs {
    fn default() -> Self {
        TcpKnobs {
            idle_timeout_ms: 10_000,
            max_connections: 1024,
            max_connections_per_client: 64,
            read_timeout_ms: 5_000,
            write_timeout_ms: 5_000,
            max_queued: 32,
            send_buffer_bytes: 256 * 1024,
        }
    }
}

fn default_listen() -> Vec<String> {
    vec!["127.0.0.1:5353".into()]
}
fn default_metrics() -> String {
    "127.0.0.1:9153".into()
}
fn default_allow() -> Vec<String> {
    vec!["127.0.0.0/8".into(), "::1/128".into()]
}
fn default_refuse() -> String {
    "refused".into()
}
fn one() -> usize {
    1
}
fn default_drain() -> u64 {
    5000
}

/// Where the nameservers come from when no upstream is configured.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// A network in the allow list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Vec<SocketAddr>,
    pub upstreams: Vec<SocketAddr>,
    pub metrics: Option<SocketAddr>,
    pub allow: Vec<Net>,
    pub refuse_drop: bool,
    pub workers: usize,
    pub log_queries: bool,
    pub engine: EngineConfig,
    pub tcp_idle: Duration,
    /// Client TCP connections of the whole process (all workers).
    pub tcp_max_connections: usize,
    pub tcp_max_per_client: usize,
    /// The deadline for one whole message, from its first byte.
    pub tcp_read_timeout: Duration,
    pub limits: AdmissionConfig,
    /// Clients over a limit get nothing (true) or REFUSED (false).
    pub limit_drop: bool,
    /// How long SIGTERM waits for queries in flight.
    pub drain: Duration,
    /// The resolv.conf the upstreams were read from (None: configured or given as flags).
    pub resolv_conf: Option<PathBuf>,
    pub tcp_write_timeout: Duration,
    /// Queries in flight plus answers waiting to be written, per connection.
    pub tcp_max_queued: usize,
    /// SO_SNDBUF of a client connection; 0 leaves the kernel's autotuning.
    pub tcp_send_buffer: usize,
}

/// A configuration error: what and where.
#[derive(Debug)]
pub struct ConfigError {
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}, field `{}`: {}", self.field, self.message),
            None => write!(f, "field `{}`: {}", self.field, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The line where `key` is set in `text`, for errors found after parsing.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with(key) && t[key.len()..].trim_start().starts_with('=')
        })
        .map(|i| i + 1)
}

/// Parses and validates configuration text. `resolv_conf` supplies upstreams when none are set.
pub fn parse(
    text: &str,
    resolv_conf: impl FnOnce() -> std::io::Result<String>,
) -> Result<Settings, ConfigError> {
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let message = e.message().to_string();
        let field = message.split('`').nth(1).unwrap_or("").to_string();
        ConfigError {
            line,
            field,
            message,
        }
    })?;
    settle(file, text, resolv_conf)
}

fn err(text: &str, key: &str, message: impl Into<String>) -> ConfigError {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    ConfigError {
        line: line_of(text, leaf),
        field: key.into(),
        message: message.into(),
    }
}

fn socket(text: &str, key: &str, s: &str, default_port: u16) -> Result<SocketAddr, ConfigError> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    Err(err(
        text,
        key,
        format!("{s:?} is not an address (expected IP:PORT, [IPv6]:PORT or IP)"),
    ))
}

/// The nameservers of a resolv.conf, port 53.
pub fn resolv_nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next()).flatten()
        })
        .filter_map(|a| a.split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

fn settle(
    f: File,
    text: &str,
    resolv_conf: impl FnOnce() -> std::io::Result<String>,
) -> Result<Settings, ConfigError> {
    let listen = f
        .listen
        .iter()
        .map(|s| socket(text, "listen", s, 53))
        .collect::<Result<Vec<_>, _>>()?;
    if listen.is_empty() {
        return Err(err(text, "listen", "at least one address is needed"));
    }
    let mut upstreams = Vec::new();
    let mut ucfg = Vec::new();
    for u in &f.upstreams {
        let (a, force_tcp) = match u {
            UpstreamSpec::Address(a) => (a.as_str(), false),
            UpstreamSpec::Full { address, force_tcp } => (address.as_str(), *force_tcp),
        };
        let addr = socket(text, "upstreams", a, 53)?;
        upstreams.push(addr);
        ucfg.push(UpstreamConfig {
            label: addr.to_string(),
            force_tcp,
        });
    }
    let from_resolv = upstreams.is_empty();
    if from_resolv {
        let rc = resolv_conf().map_err(|e| {
            err(
                text,
                "upstreams",
                format!("none configured and resolv.conf is unreadable: {e}"),
            )
        })?;
        upstreams = resolv_nameservers(&rc);
        if upstreams.is_empty() {
            return Err(err(
                text,
                "upstreams",
                "none configured and resolv.conf lists no nameserver",
            ));
        }
        ucfg = upstreams
            .iter()
            .map(|a| UpstreamConfig {
                label: a.to_string(),
                force_tcp: false,
            })
            .collect();
    }
    if upstreams.len() > 64 {
        return Err(err(text, "upstreams", "at most 64 upstreams"));
    }
    let metrics = if f.metrics.is_empty() {
        None
    } else {
        Some(socket(text, "metrics", &f.metrics, 9153)?)
    };
    let allow = f
        .allow
        .iter()
        .map(|n| {
            let (a, p) = n
                .split_once('/')
                .map_or((n.as_str(), None), |(a, p)| (a, Some(p)));
            let addr: IpAddr = a.parse().map_err(|_| {
                err(
                    text,
                    "allow",
                    format!("{n:?} is not a network (expected ADDR/PREFIX)"),
                )
            })?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match p {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|&x| x <= max).ok_or_else(|| {
                    err(text, "allow", format!("{n:?}: prefix must be 0..={max}"))
                })?,
            };
            Ok(Net { addr, prefix })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let l = &f.limits;
    if l.client_prefix_v4 > 32 {
        return Err(err(text, "limits.client_prefix_v4", "must be 0..=32"));
    }
    if l.client_prefix_v6 > 128 {
        return Err(err(text, "limits.client_prefix_v6", "must be 0..=128"));
    }
    let limit_drop = match l.action.as_str() {
        "refused" => false,
        "drop" => true,
        other => {
            return Err(err(
                text,
                "limits.action",
                format!("{other:?}: must be \"refused\" or \"drop\""),
            ))
        }
    };
    let limits = AdmissionConfig {
        qps: l.client_qps,
        burst: l.client_burst,
        max_waiting: l.client_max_waiting,
        prefix_v4: l.client_prefix_v4,
        prefix_v6: l.client_prefix_v6,
        max_clients: l.max_clients.max(1),
    };
    let refuse_drop = match f.refuse.as_str() {
        "refused" => false,
        "drop" => true,
        other => {
            return Err(err(
                text,
                "refuse",
                format!("{other:?}: expected \"refused\" or \"drop\""),
            ))
        }
    };
    if f.workers == 0 || f.workers > 256 {
        return Err(err(text, "workers", "must be 1..=256"));
    }
    let e = &f.engine;
    if e.max_udp_payload < 512 {
        return Err(err(text, "engine.max_udp_payload", "must be at least 512"));
    }
    if e.attempt_timeout_ms == 0 || e.query_timeout_ms == 0 {
        return Err(err(
            text,
            "engine.query_timeout_ms",
            "timeouts must be above 0",
        ));
    }
    let c = &f.cache;
    let mut engine = EngineConfig {
        upstreams: ucfg,
        policy: e.policy,
        max_udp_payload: e.max_udp_payload,
        upstream_udp_payload: e.upstream_udp_payload,
        attempt_timeout_ms: e.attempt_timeout_ms,
        query_timeout_ms: e.query_timeout_ms,
        max_attempts: e.max_attempts,
        cache_bytes: c.size_mb.max(1) << 20,
        max_inflight: e.max_inflight.max(1),
        max_waiters: e.max_waiters.max(1),
        max_waiting: e.max_waiting.max(1),
        max_query_size: e.max_query_size.clamp(17, 65535),
        probe: e.probe.clone(),
        events: f.log_queries,
        ..EngineConfig::default()
    };
    let p = &mut engine.cache;
    p.min_ttl = c.min_ttl;
    p.max_ttl = c.max_ttl;
    p.max_negative_ttl = c.max_negative_ttl;
    p.suspect_window = Duration::from_secs(c.suspect_window_s);
    p.suspect_negative_max_ttl = c.suspect_negative_max_ttl;
    p.failure_min_ttl = c.failure_min_ttl;
    p.failure_max_ttl = c.failure_max_ttl;
    p.serve_stale.enabled = c.serve_stale;
    p.serve_stale.ttl = c.stale_ttl;
    p.serve_stale.window = Duration::from_secs(c.stale_window_s);
    p.prefetch = c.prefetch;
    Ok(Settings {
        listen,
        upstreams,
        metrics,
        allow,
        refuse_drop,
        workers: f.workers,
        log_queries: f.log_queries,
        engine,
        tcp_idle: Duration::from_millis(f.tcp.idle_timeout_ms.max(1)),
        tcp_max_connections: f.tcp.max_connections.max(1),
        tcp_max_per_client: f.tcp.max_connections_per_client.max(1),
        tcp_read_timeout: Duration::from_millis(f.tcp.read_timeout_ms.max(1)),
        limits,
        limit_drop,
        drain: Duration::from_millis(f.drain_timeout_ms),
        resolv_conf: from_resolv.then(|| PathBuf::from(RESOLV_CONF)),
        tcp_write_timeout: Duration::from_millis(f.tcp.write_timeout_ms.max(1)),
        tcp_max_queued: f.tcp.max_queued.clamp(1, 4096),
        tcp_send_buffer: f.tcp.send_buffer_bytes,
    })
}

/// Reads a config file; `resolv` is the resolv.conf read when it configures no upstream.
pub fn load(path: &Path, resolv: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        line: None,
        field: String::new(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    with_resolv(parse(&text, || read_resolv(resolv)), resolv)
}

/// The configuration the server runs with: the file (or the embedded default), the resolv.conf
/// when no upstream is configured, then the flags. Used at start and again on SIGHUP, so a
/// changed resolv.conf is read again.
pub fn load_settings(
    path: Option<&Path>,
    resolv: &Path,
    overrides: &Overrides,
) -> Result<Settings, ConfigError> {
    let s = match path {
        Some(p) => load(p, resolv)?,
        None => with_resolv(parse(DEFAULT_TOML, || read_resolv(resolv)), resolv)?,
    };
    overrides.apply(s)
}

fn read_resolv(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn with_resolv(s: Result<Settings, ConfigError>, resolv: &Path) -> Result<Settings, ConfigError> {
    s.map(|mut s| {
        if s.resolv_conf.is_some() {
            s.resolv_conf = Some(resolv.to_path_buf());
        }
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc() -> std::io::Result<String> {
        Ok("nameserver 192.0.2.53\nnameserver 2001:db8::53\n".into())
    }

    #[test]
    fn default_config_is_valid_and_uses_resolv_conf() {
        let s = parse(DEFAULT_TOML, rc).unwrap();
        assert_eq!(
            s.listen,
            vec!["127.0.0.1:5353".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(s.upstreams.len(), 2);
        assert_eq!(s.upstreams[1].port(), 53);
        assert!(s
            .allow
            .iter()
            .any(|n| n.contains("127.0.0.1".parse().unwrap())));
        assert!(!s
            .allow
            .iter()
            .any(|n| n.contains("192.0.2.1".parse().unwrap())));
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = parse("listen = [\"127.0.0.1:53\"]\nworkers = 0\n", rc).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(2), "workers"));
        let e = parse(
            "listen = [\"127.0.0.1:53\"]\n\n[cache]\nmax_ttl = \"x\"\n",
            rc,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        let e = parse("bogus = 1\n", rc).unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = parse("upstreams = [\"nonsense\"]\n", rc).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(1), "upstreams"));
        let e = parse("allow = [\"10.0.0.0/33\"]\n", rc).unwrap_err();
        assert!(e.to_string().contains("prefix"), "{e}");
    }

    #[test]
    fn resolv_conf_path_is_injectable_and_remembered() {
        let path = std::env::temp_dir().join(format!("dnspect-resolv-{}", std::process::id()));
        std::fs::write(&path, "nameserver 192.0.2.7\n").unwrap();
        let s = load_settings(None, &path, &Overrides::default()).unwrap();
        assert_eq!(
            s.upstreams,
            vec!["192.0.2.7:53".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(s.resolv_conf.as_deref(), Some(path.as_path()));
        let flags = Overrides {
            upstreams: vec!["192.0.2.8".into()],
            ..Overrides::default()
        };
        let s = load_settings(None, &path, &flags).unwrap();
        assert_eq!(s.resolv_conf, None, "flags replace the resolv.conf");
        let _ = std::fs::remove_file(&path);
        let e = load_settings(None, &path, &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert_eq!(s.drain, Duration::from_secs(5));
    }

    #[test]
    fn networks() {
        let n = Net {
            addr: "10.0.0.0".parse().unwrap(),
            prefix: 8,
        };
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        let all = Net {
            addr: "::".parse().unwrap(),
            prefix: 0,
        };
        assert!(all.contains("2001:db8::1".parse().unwrap()));
    }
}

/// Command-line flags that override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Vec<String>,
    pub upstreams: Vec<String>,
    pub metrics: Option<String>,
    pub log_queries: bool,
    pub workers: Option<usize>,
}

impl Overrides {
    pub fn apply(&self, mut s: Settings) -> Result<Settings, ConfigError> {
        let flag = |name: &str, m: String| ConfigError {
            line: None,
            field: format!("--{name}"),
            message: m,
        };
        if !self.listen.is_empty() {
            s.listen = self
                .listen
                .iter()
                .map(|a| socket("", "--listen", a, 53).map_err(|e| flag("listen", e.message)))
                .collect::<Result<_, _>>()?;
        }
        if !self.upstreams.is_empty() {
            s.resolv_conf = None;
            s.upstreams = self
                .upstreams
                .iter()
                .map(|a| socket("", "--upstream", a, 53).map_err(|e| flag("upstream", e.message)))
                .collect::<Result<_, _>>()?;
            s.engine.upstreams = s
                .upstreams
                .iter()
                .map(|a| UpstreamConfig {
                    label: a.to_string(),
                    force_tcp: false,
                })
                .collect();
        }
        if let Some(m) = &self.metrics {
            s.metrics = if m.is_empty() {
                None
            } else {
                Some(socket("", "--metrics", m, 9153).map_err(|e| flag("metrics", e.message))?)
            };
        }
        if self.log_queries {
            s.log_queries = true;
            s.engine.events = true;
        }
        if let Some(w) = self.workers {
            if w == 0 || w > 256 {
                return Err(flag("workers", "must be 1..=256".into()));
            }
            s.workers = w;
        }
        Ok(s)
    }
}
