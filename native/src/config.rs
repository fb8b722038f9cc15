//! The server's configuration: a TOML file (every knob has a default, documented in
//! docs/configuration.md), overridden by flags. Errors name the line and the field.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::ClientConfig;

use crate::tls::{parse_target, Target, TlsName};

use dnspect_core::engine::admission::LimitAction;
use dnspect_core::engine::forwarder::{
    upstream_labels, zone_name, Config as EngineConfig, ForwardZone, UpstreamConfig, ZoneCache,
};
use dnspect_core::local::{hosts::parse_hosts, HostsText};
use dnspect_core::units;
use serde::Deserialize;
use toml_edit::{ImDocument, Item, Table, Value};

/// The embedded default configuration (what `dnspect serve` runs with no arguments).
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// The file: the server's own settings, and the engine's configuration (the core's `Config`,
/// the same the npm package and the simulator read) under `[engine]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    /// The engine's upstreams, given by address (`"IP"`, `"IP:PORT"`,
    /// `"tls://ADDR[:PORT][#SERVER_NAME]"` or a table with `address` and `force_tcp`); empty:
    /// the nameservers of /etc/resolv.conf. They live here, not in `[engine]`, because the
    /// server resolves them to addresses.
    #[serde(default)]
    pub upstreams: Vec<UpstreamConfig>,
    /// A PEM file of the CA certificates TLS upstreams are checked against, instead of the
    /// public roots built in (`webpki-roots`). For every TLS upstream, of every group.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    #[serde(default = "default_metrics")]
    pub metrics: String,
    #[serde(default = "default_allow")]
    pub allow: Vec<String>,
    #[serde(default = "default_refuse")]
    pub refuse: String,
    #[serde(default = "cores")]
    pub workers: usize,
    /// The query log: the engine's events, one line each.
    #[serde(default)]
    pub log_queries: bool,
    /// How long SIGTERM waits for queries in flight before exiting.
    #[serde(default = "default_drain", with = "units::duration")]
    pub drain_timeout: Duration,
    /// Selection, timeouts, limits, `[engine.cache]`, `[engine.limits]`: the core's `Config`
    /// but for `upstreams` (above) and `events` (`log_queries`).
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub tcp: TcpKnobs,
    /// Hosts files (`/etc/hosts` format), answered locally; read at start, on SIGHUP and when
    /// they change.
    #[serde(default)]
    pub hosts: Vec<PathBuf>,
    /// How often hosts files are checked for changes; "0s": only on SIGHUP.
    #[serde(default = "default_hosts_reload", with = "units::duration")]
    pub hosts_reload: Duration,
    /// The largest hosts file read; a larger one is an error naming it.
    #[serde(default = "default_hosts_max_size", with = "units::bytes")]
    pub hosts_max_size: usize,
    #[serde(default)]
    pub udp: UdpKnobs,
    #[serde(default)]
    pub admin: AdminKnobs,
}

/// `[udp]`: batched datagram IO and the pooled upstream sockets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UdpKnobs {
    /// Datagrams read (recvmmsg) or written (sendmmsg) per system call.
    pub batch: usize,
    /// Connected sockets per upstream address and worker, opened as queries need them.
    pub upstream_sockets: usize,
    /// Queries one upstream socket carries before it is replaced.
    pub upstream_socket_queries: u64,
    /// How long one upstream socket is used before it is replaced.
    #[serde(with = "units::duration")]
    pub upstream_socket_lifetime: Duration,
}

impl Default for UdpKnobs {
    fn default() -> Self {
        UdpKnobs {
            batch: 32,
            upstream_sockets: 64,
            upstream_socket_queries: 1000,
            upstream_socket_lifetime: Duration::from_secs(60),
        }
    }
}

/// The admin API on the metrics listener (native/src/serve/admin.rs, docs/admin-api.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminKnobs {
    /// Serve clients that are not on loopback too (off: the metrics listener may be reachable
    /// by Prometheus from elsewhere; the cache routes stay local).
    pub allow_remote: bool,
    /// A file whose first line is a bearer token every admin request must carry; "" for none.
    pub token_file: String,
    /// Connections the metrics listener serves at once; more are closed at accept.
    pub max_connections: usize,
    /// How long a connection to the metrics listener may take to send its request, and then
    /// to take its answer.
    #[serde(with = "units::duration")]
    pub timeout: Duration,
}

impl Default for AdminKnobs {
    fn default() -> Self {
        AdminKnobs {
            allow_remote: false,
            token_file: String::new(),
            max_connections: 64,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The admin API's settings in force.
#[derive(Debug, Clone, Default)]
pub struct AdminSettings {
    pub allow_remote: bool,
    /// The token read from `token_file` (read again on SIGHUP).
    pub token: Option<String>,
    /// The metrics listener's bounds (applied at start).
    pub max_connections: usize,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpKnobs {
    #[serde(with = "units::duration")]
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    #[serde(with = "units::duration")]
    pub read_timeout: Duration,
    #[serde(with = "units::duration")]
    pub write_timeout: Duration,
    pub max_queued: usize,
    pub send_buffer_bytes: usize,
    /// How long a connection to an upstream may take to open.
    #[serde(with = "units::duration")]
    pub upstream_connect_timeout: Duration,
    /// How long a pooled upstream connection stays open with no query on it (three times this
    /// while queries wait on it); also the time the rest of an answer may take once its length
    /// has arrived.
    #[serde(with = "units::duration")]
    pub upstream_idle_timeout: Duration,
    /// Queries queued on one upstream connection before new ones fail at once (to the next
    /// attempt).
    pub upstream_max_queued: usize,
}

impl Default for TcpKnobs {
    fn default() -> Self {
        TcpKnobs {
            idle_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_connections_per_client: 64,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_queued: 32,
            send_buffer_bytes: 256 * 1024,
            upstream_connect_timeout: Duration::from_secs(3),
            upstream_idle_timeout: Duration::from_secs(10),
            upstream_max_queued: 1024,
        }
    }
}

/// The default DNS address: loopback, port 8553. Not 5353, which is mDNS (avahi-daemon and
/// systemd-resolved listen there on most desktops), not 53, which needs privileges; 8553 is
/// unassigned in the IANA registry (8504-8553), below Linux's ephemeral range (32768-60999) so no
/// outgoing socket can hold it, and ends in 53 so it reads as DNS.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8553";

fn default_listen() -> Vec<String> {
    vec![DEFAULT_LISTEN.into()]
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
/// Default workers: one per core (all share one cache).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(256))
}
fn default_drain() -> Duration {
    Duration::from_secs(5)
}
fn default_hosts_max_size() -> usize {
    64 << 20
}
fn default_hosts_reload() -> Duration {
    Duration::from_secs(2)
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
    /// For each of `upstreams`: the name a TLS upstream's certificate must match; None: plain
    /// UDP/TCP.
    pub upstream_tls: Vec<Option<TlsName>>,
    /// `tls_ca`, and the client configuration of TLS upstreams (built when there is one).
    pub tls_ca: Option<PathBuf>,
    pub tls: Option<Arc<ClientConfig>>,
    pub metrics: Option<SocketAddr>,
    pub allow: Vec<Net>,
    pub refuse_drop: bool,
    pub workers: usize,
    pub log_queries: bool,
    /// The engine's configuration, validated; its `limits` are the per-client admission limits.
    pub engine: EngineConfig,
    pub tcp_idle: Duration,
    /// Client TCP connections of the whole process (all workers).
    pub tcp_max_connections: usize,
    pub tcp_max_per_client: usize,
    /// The deadline for one whole message, from its first byte.
    pub tcp_read_timeout: Duration,
    /// How long SIGTERM waits for queries in flight.
    pub drain: Duration,
    /// The resolv.conf the upstreams were read from (None: configured or given as flags).
    pub resolv_conf: Option<PathBuf>,
    pub tcp_write_timeout: Duration,
    /// Queries in flight plus answers waiting to be written, per connection.
    pub tcp_max_queued: usize,
    /// SO_SNDBUF of a client connection; 0 leaves the kernel's autotuning.
    pub tcp_send_buffer: usize,
    /// `[tcp] upstream_*`: the pooled upstream connections.
    pub tcp_upstream_connect: Duration,
    pub tcp_upstream_idle: Duration,
    pub tcp_upstream_queued: usize,
    /// `[udp]`: datagrams per recvmmsg/sendmmsg, and the upstream socket pool.
    pub udp: UdpKnobs,
    /// Hosts files, read into `engine.local.hosts` after the `inline_hosts` given in the file.
    pub hosts: Vec<PathBuf>,
    pub inline_hosts: usize,
    /// How often the hosts files are checked for changes (zero: only on SIGHUP).
    pub hosts_reload: Duration,
    /// The largest hosts file read (`hosts_max_size`).
    pub hosts_max_size: usize,
    pub admin: AdminSettings,
    /// Where each listen address and each upstream (in `upstreams`' order) was set: its field
    /// (`listen[0]`, `upstreams[1]`, `engine.forward[0].upstreams[0]`, a flag) and line, for
    /// [`check_loops`].
    pub listen_at: Vec<(String, Option<usize>)>,
    pub upstream_at: Vec<(String, Option<usize>)>,
}

impl Settings {
    /// Clients over a per-client limit get nothing (true) or REFUSED (false).
    pub fn limit_drop(&self) -> bool {
        self.engine.limits.action == LimitAction::Drop
    }
}

/// A configuration error: what and where.
#[derive(Debug)]
pub struct ConfigError {
    pub line: Option<usize>,
    /// The field's dotted path from the top of the file (`engine.cache.max_ttl`), or the flag.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // One line, whatever the parser said (toml's messages can span lines), and no empty
        // field name when the error is not about one field (an unreadable file, a bad header).
        let message = self
            .message
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(": ");
        match (self.line, self.field.is_empty()) {
            (Some(l), false) => write!(f, "line {l}, field `{}`: {message}", self.field),
            (Some(l), true) => write!(f, "line {l}: {message}"),
            (None, false) => write!(f, "field `{}`: {message}", self.field),
            (None, true) => f.write_str(&message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The parsed text with the position of every key and value, to name the line and the field of
/// an error (toml's own spans: nothing searches the text).
struct Spans<'a> {
    text: &'a str,
    doc: Option<ImDocument<&'a str>>,
}

/// A key's children in the document: tables, inline tables, arrays.
enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
    Table(&'a Table),
}

type Child<'a> = (String, Option<Range<usize>>, Node<'a>);

impl<'a> Node<'a> {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Value(v) => v.span(),
            Node::Table(t) => t.span(),
        }
    }

    fn children(&self) -> Vec<Child<'a>> {
        let value = |v: &'a Value| -> Vec<Child<'a>> {
            match v {
                Value::InlineTable(t) => t
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            t.key(k).and_then(|k| k.span()),
                            Node::Value(v),
                        )
                    })
                    .collect(),
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("[{i}]"), None, Node::Value(v)))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let table = |t: &'a Table| -> Vec<Child<'a>> {
            t.iter()
                .map(|(k, i)| {
                    (
                        k.to_string(),
                        t.key(k).and_then(|k| k.span()),
                        Node::Item(i),
                    )
                })
                .collect()
        };
        match self {
            Node::Table(t) => table(t),
            Node::Value(v) => value(v),
            Node::Item(Item::Table(t)) => table(t),
            Node::Item(Item::Value(v)) => value(v),
            Node::Item(Item::ArrayOfTables(a)) => a
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("[{i}]"), None, Node::Table(t)))
                .collect(),
            Node::Item(Item::None) => Vec::new(),
        }
    }
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() || seg.starts_with('[') {
        format!("{path}{seg}")
    } else {
        format!("{path}.{seg}")
    }
}

/// The innermost key whose name or value holds byte `pos`.
fn field_at(node: &Node<'_>, pos: usize, path: &str) -> Option<String> {
    for (seg, key, child) in node.children() {
        let p = join(path, &seg);
        if let Some(found) = field_at(&child, pos, &p) {
            return Some(found);
        }
        let holds = |r: Option<Range<usize>>| r.is_some_and(|r| r.contains(&pos));
        if holds(key) || holds(child.span()) {
            return Some(p);
        }
    }
    None
}

impl<'a> Spans<'a> {
    fn new(text: &'a str) -> Spans<'a> {
        Spans {
            text,
            doc: ImDocument::parse(text).ok(),
        }
    }

    fn line(&self, pos: usize) -> usize {
        self.text[..pos.min(self.text.len())].matches('\n').count() + 1
    }

    /// Where `field` (a dotted path, `[i]` for array elements) is set; None when the file
    /// leaves it at its default.
    fn line_of(&self, field: &str) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let mut node = Node::Table(doc.as_table());
        let mut at = None;
        let segs = field.split('.').flat_map(|s| {
            let (name, idx) = s.split_once('[').map_or((s, ""), |(n, i)| (n, i));
            std::iter::once(name.to_string()).chain(
                idx.split('[')
                    .filter(|i| !i.is_empty())
                    .map(|i| format!("[{}", i)),
            )
        });
        for seg in segs {
            let (_, key, child) = node.children().into_iter().find(|(s, _, _)| *s == seg)?;
            at = key.or_else(|| child.span()).or(at);
            node = child;
        }
        at.map(|r| self.line(r.start))
    }

    /// A parse error from toml: its line, and the field its span falls in.
    fn parse_error(&self, e: &toml::de::Error) -> ConfigError {
        let pos = e.span().map(|s| s.start);
        let field = match (&self.doc, pos) {
            (Some(doc), Some(pos)) => field_at(&Node::Table(doc.as_table()), pos, ""),
            _ => None,
        };
        ConfigError {
            line: pos.map(|p| self.line(p)),
            field: field.unwrap_or_default(),
            message: e.message().trim().to_string(),
        }
    }

    fn err(&self, field: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            line: self.line_of(field),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses and validates configuration text. `resolv_conf` supplies upstreams when none are set.
pub fn parse(
    text: &str,
    resolv_conf: impl FnOnce() -> std::io::Result<String>,
) -> Result<Settings, ConfigError> {
    let spans = Spans::new(text);
    let file: File = toml::from_str(text).map_err(|e| spans.parse_error(&e))?;
    settle(file, &spans, resolv_conf)
}

/// A network, `ADDR/PREFIX` or a bare address (a host).
pub fn net(n: &str) -> Result<Net, String> {
    let (a, p) = n.split_once('/').map_or((n, None), |(a, p)| (a, Some(p)));
    let addr: IpAddr = a
        .parse()
        .map_err(|_| format!("{n:?} is not a network (expected ADDR/PREFIX)"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|&x| x <= max)
            .ok_or_else(|| format!("{n:?}: prefix must be 0..={max}"))?,
    };
    Ok(Net { addr, prefix })
}

impl Net {
    /// Whether every address of the network is a loopback address (127.0.0.0/8, ::1,
    /// ::ffff:127.0.0.0/104).
    pub fn is_loopback(&self) -> bool {
        match self.addr {
            IpAddr::V4(a) => self.prefix >= 8 && a.is_loopback(),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.prefix >= 104 && v4.is_loopback(),
                None => self.prefix == 128 && a.is_loopback(),
            },
        }
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The warning `serve` logs at start (and `check-config` prints) when the server listens
/// beyond loopback and lets clients beyond loopback query it: an open resolver is one
/// misconfigured firewall away. None when either side is loopback only.
pub fn exposure_warning(s: &Settings) -> Option<String> {
    let exposed: Vec<String> = s
        .listen
        .iter()
        .filter(|a| !a.ip().is_loopback())
        .map(ToString::to_string)
        .collect();
    let wide: Vec<String> = s
        .allow
        .iter()
        .filter(|n| !n.is_loopback())
        .map(ToString::to_string)
        .collect();
    (!exposed.is_empty() && !wide.is_empty()).then(|| {
        format!(
            "listening beyond loopback ({}) and allowing clients beyond loopback ({}): make sure only the clients you mean can reach it (an open resolver is abused for amplification); narrow `allow` / --allow to their networks",
            exposed.join(", "),
            wide.join(", ")
        )
    })
}

fn socket(s: &str, default_port: u16) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    Err(format!(
        "{s:?} is not an address (expected IP:PORT, [IPv6]:PORT or IP)"
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
    sp: &Spans<'_>,
    resolv_conf: impl FnOnce() -> std::io::Result<String>,
) -> Result<Settings, ConfigError> {
    let listen = f
        .listen
        .iter()
        .enumerate()
        .map(|(i, s)| socket(s, 53).map_err(|m| sp.err(&format!("listen[{i}]"), m)))
        .collect::<Result<Vec<_>, _>>()?;
    if listen.is_empty() {
        return Err(sp.err("listen", "at least one address is needed"));
    }
    for (key, instead) in [
        ("engine.events", "`log_queries` (or --log-queries)"),
        ("engine.upstreams", "`upstreams`, at the top of the file"),
    ] {
        if sp.line_of(key).is_some() {
            return Err(sp.err(key, format!("the server's is {instead}")));
        }
    }
    let mut engine = f.engine;
    engine.events = f.log_queries;
    engine.upstreams = f.upstreams;
    let mut upstreams = Vec::new();
    for (i, u) in engine.upstreams.iter_mut().enumerate() {
        let t = target(&u.label).map_err(|m| sp.err(&format!("upstreams[{i}]"), m))?;
        upstreams.push(t.addr);
        u.label = t.label();
    }
    for (i, g) in engine.forward.iter_mut().enumerate() {
        for (j, u) in g.upstreams.iter_mut().enumerate() {
            let field = format!("engine.forward[{i}].upstreams[{j}]");
            u.label = target(&u.label).map_err(|m| sp.err(&field, m))?.label();
        }
    }
    let from_resolv = upstreams.is_empty() && !forwards_root(&engine.forward);
    if from_resolv {
        let rc = resolv_conf().map_err(|e| {
            sp.err(
                "upstreams",
                format!("none configured and resolv.conf is unreadable: {e}"),
            )
        })?;
        upstreams = resolv_nameservers(&rc);
        if upstreams.is_empty() {
            return Err(sp.err(
                "upstreams",
                "none configured and resolv.conf lists no nameserver",
            ));
        }
        engine.upstreams = labels(&upstreams);
    }
    let inline_hosts = engine.local.hosts.len();
    let files = read_hosts(&f.hosts, f.hosts_max_size, |j| {
        sp.err(&format!("hosts[{j}]"), "")
    })?;
    engine.local.hosts.extend(files);
    engine
        .validate()
        .map_err(|e| sp.err(&file_field(&e.field), e.message))?;
    let (upstreams, upstream_tls) =
        flat_upstreams(&engine).map_err(|m| sp.err("engine.forward", m))?;
    let tls = tls_config(&upstream_tls, f.tls_ca.as_deref()).map_err(|m| sp.err("tls_ca", m))?;
    let metrics = if f.metrics.is_empty() {
        None
    } else {
        Some(socket(&f.metrics, 9153).map_err(|m| sp.err("metrics", m))?)
    };
    if let Some(m) = metrics_clash(&listen, metrics) {
        return Err(sp.err("metrics", m));
    }
    let allow = f
        .allow
        .iter()
        .enumerate()
        .map(|(i, n)| net(n).map_err(|m| sp.err(&format!("allow[{i}]"), m)))
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let refuse_drop = match f.refuse.as_str() {
        "refused" => false,
        "drop" => true,
        other => {
            return Err(sp.err(
                "refuse",
                format!("{other:?}: expected \"refused\" or \"drop\""),
            ))
        }
    };
    if f.workers == 0 || f.workers > 256 {
        return Err(sp.err("workers", "must be 1..=256"));
    }
    let t = &f.tcp;
    for (field, d) in [
        ("tcp.idle_timeout", t.idle_timeout),
        ("tcp.read_timeout", t.read_timeout),
        ("tcp.write_timeout", t.write_timeout),
    ] {
        if d.is_zero() {
            return Err(sp.err(field, "must be above 0"));
        }
    }
    for (field, n) in [
        ("tcp.max_connections", t.max_connections),
        (
            "tcp.max_connections_per_client",
            t.max_connections_per_client,
        ),
    ] {
        if n == 0 {
            return Err(sp.err(field, "must be at least 1"));
        }
    }
    if !(1..=4096).contains(&t.max_queued) {
        return Err(sp.err("tcp.max_queued", "must be 1..=4096"));
    }
    if t.upstream_connect_timeout.is_zero() {
        return Err(sp.err("tcp.upstream_connect_timeout", "must be above 0"));
    }
    if t.upstream_idle_timeout.is_zero() {
        return Err(sp.err("tcp.upstream_idle_timeout", "must be above 0"));
    }
    if !(1..=65536).contains(&t.upstream_max_queued) {
        return Err(sp.err("tcp.upstream_max_queued", "must be 1..=65536"));
    }
    let u = &f.udp;
    if !(1..=1024).contains(&u.batch) {
        return Err(sp.err("udp.batch", "must be 1..=1024"));
    }
    if !(1..=4096).contains(&u.upstream_sockets) {
        return Err(sp.err("udp.upstream_sockets", "must be 1..=4096"));
    }
    if u.upstream_socket_queries == 0 {
        return Err(sp.err("udp.upstream_socket_queries", "must be at least 1"));
    }
    if u.upstream_socket_lifetime.is_zero() {
        return Err(sp.err("udp.upstream_socket_lifetime", "must be above 0"));
    }
    if f.admin.max_connections == 0 {
        return Err(sp.err("admin.max_connections", "must be at least 1"));
    }
    if f.admin.timeout.is_zero() {
        return Err(sp.err("admin.timeout", "must be above 0"));
    }
    let admin = AdminSettings {
        max_connections: f.admin.max_connections,
        timeout: f.admin.timeout,
        allow_remote: f.admin.allow_remote,
        token: match f.admin.token_file.as_str() {
            "" => None,
            path => Some(
                crate::serve::read_token(&PathBuf::from(path))
                    .map_err(|m| sp.err("admin.token_file", m))?,
            ),
        },
    };
    let listen_at = (0..listen.len())
        .map(|i| {
            let f = format!("listen[{i}]");
            let line = sp.line_of(&f);
            (f, line)
        })
        .collect();
    let upstream_at = upstream_fields(&engine, from_resolv, |f| sp.line_of(f));
    Ok(Settings {
        listen_at,
        upstream_at,
        admin,
        listen,
        upstreams,
        upstream_tls,
        tls_ca: f.tls_ca,
        tls,
        metrics,
        allow,
        refuse_drop,
        workers: f.workers,
        log_queries: f.log_queries,
        engine,
        tcp_idle: t.idle_timeout,
        tcp_max_connections: t.max_connections,
        tcp_max_per_client: t.max_connections_per_client,
        tcp_read_timeout: t.read_timeout,
        drain: f.drain_timeout,
        resolv_conf: from_resolv.then(|| PathBuf::from(RESOLV_CONF)),
        tcp_write_timeout: t.write_timeout,
        tcp_max_queued: t.max_queued,
        tcp_send_buffer: t.send_buffer_bytes,
        tcp_upstream_connect: t.upstream_connect_timeout,
        tcp_upstream_idle: t.upstream_idle_timeout,
        tcp_upstream_queued: t.upstream_max_queued,
        udp: f.udp.clone(),
        hosts: f.hosts,
        inline_hosts,
        hosts_reload: f.hosts_reload,
        hosts_max_size: f.hosts_max_size,
    })
}

/// The field (and line) of every upstream in the engine's flat order: the default group's
/// (`upstreams[i]`, or the resolv.conf's nameservers), then each forward group's.
fn upstream_fields(
    engine: &EngineConfig,
    from_resolv: bool,
    line: impl Fn(&str) -> Option<usize>,
) -> Vec<(String, Option<usize>)> {
    let mut out = Vec::new();
    for i in 0..engine.upstreams.len() {
        if from_resolv {
            out.push((
                format!(
                    "upstreams (none configured: nameserver {} of {RESOLV_CONF})",
                    i + 1
                ),
                line("upstreams"),
            ));
        } else {
            let f = format!("upstreams[{i}]");
            let l = line(&f);
            out.push((f, l));
        }
    }
    for (g, f) in engine.forward.iter().enumerate() {
        for j in 0..f.upstreams.len() {
            let field = format!("engine.forward[{g}].upstreams[{j}]");
            let l = line(&field);
            out.push((field, l));
        }
    }
    out
}

/// Whether `ip` is an address of this host: loopback, unspecified, or one a socket can be
/// bound to (the kernel's own answer; with `net.ipv4.ip_nonlocal_bind` any address binds,
/// which only makes [`loop_warnings`] warn more).
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback()
        || ip.is_unspecified()
        || std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// The address as the kernel matches it: an IPv4-mapped IPv6 address is its IPv4 one.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// The static half of the loop check (the engine's probes are the dynamic half,
/// `forwarder::loops`): an upstream that is one of this server's own listen addresses (same
/// IP and port) forwards every query back to it. Always a mistake (the resolv.conf of a node
/// whose nameserver is this cache, an `upstreams` copied from `listen`), so it is an error
/// naming both fields and their lines: `check-config` fails, `serve` does not start, a reload
/// keeps the running configuration. Wildcard listeners are [`loop_warnings`].
pub fn check_loops(s: &Settings) -> Result<(), ConfigError> {
    for (i, u) in s.upstreams.iter().enumerate() {
        let u = canonical(*u);
        for (j, l) in s.listen.iter().enumerate() {
            let l = canonical(*l);
            if l.ip().is_unspecified() || l != u {
                continue;
            }
            let (field, line) = s.upstream_at.get(i).cloned().unwrap_or_default();
            let (lfield, lline) = s.listen_at.get(j).cloned().unwrap_or_default();
            let at = lline.map_or(String::new(), |n| format!(", line {n}"));
            return Err(ConfigError {
                line,
                field,
                message: format!(
                    "{u} is this server's own listen address ({lfield}{at}): every query would be forwarded back to dnspect (a forwarding loop); upstreams must be the resolvers dnspect asks, not dnspect itself"
                ),
            });
        }
    }
    Ok(())
}

/// Upstreams that may be this server through a wildcard listener: `0.0.0.0:P` (or `[::]:P`)
/// takes every local address of its family on port P, so an upstream on port P at a loopback
/// or local address reaches it, unless another server is bound to that very address (with
/// SO_REUSEPORT as the same user, the more specific socket wins): legitimate, if rare, so a
/// warning (logged at start and on reload, printed by `check-config`). The loop probes settle
/// it at run time.
pub fn loop_warnings(s: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    for (i, u) in s.upstreams.iter().enumerate() {
        let u = canonical(*u);
        for (j, l) in s.listen.iter().enumerate() {
            let l = canonical(*l);
            if !l.ip().is_unspecified()
                || l.port() != u.port()
                || l.is_ipv4() != u.is_ipv4()
                || !is_local(u.ip())
            {
                continue;
            }
            let (field, _) = s.upstream_at.get(i).cloned().unwrap_or_default();
            let (lfield, _) = s.listen_at.get(j).cloned().unwrap_or_default();
            out.push(format!(
                "{field} = {u} is a local address on the port of the wildcard listener {lfield} = {l}: unless another server is bound to {u} itself, queries forwarded there come back to dnspect (a forwarding loop); the loop check will tell"
            ));
        }
    }
    out
}

/// Whether a forward group serves `.` (then it is the default group, and no resolv.conf is
/// read).
fn forwards_root(forward: &[ForwardZone]) -> bool {
    forward
        .iter()
        .flat_map(|g| &g.zones)
        .any(|z| zone_name(z).is_ok_and(|n| n.is_root()))
}

/// Every upstream's address in the engine's [`UpstreamId`] order (the default group, then each
/// forward group): what the workers send an engine query to. Labels are addresses here.
///
/// [`UpstreamId`]: dnspect_core::engine::UpstreamId
fn flat_upstreams(
    engine: &EngineConfig,
) -> Result<(Vec<SocketAddr>, Vec<Option<TlsName>>), String> {
    let targets = upstream_labels(engine)
        .iter()
        .map(|u| target(&u.label))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(targets.into_iter().map(|t| (t.addr, t.tls)).unzip())
}

/// An upstream as written: an address, or `tls://ADDR[:PORT][#SERVER_NAME]`.
fn target(s: &str) -> Result<Target, String> {
    parse_target(s, socket)
}

/// The TLS client configuration when some upstream is a TLS one (the CA file is read only
/// then, so a `tls_ca` left in place while no upstream uses TLS costs nothing).
fn tls_config(
    tls: &[Option<TlsName>],
    ca: Option<&Path>,
) -> Result<Option<Arc<ClientConfig>>, String> {
    if tls.iter().all(Option::is_none) {
        return Ok(None);
    }
    crate::tls::client_config(ca).map(Some)
}

/// Reads hosts files; an unreadable or bad file is an error naming it, its line and field.
/// `at(j)` is the error for the j-th path (its field and line in the configuration).
/// A file over `max` bytes is an error (checked while reading, so a file that grows meanwhile
/// is caught too).
fn read_hosts(
    paths: &[PathBuf],
    max: usize,
    at: impl Fn(usize) -> ConfigError,
) -> Result<Vec<HostsText>, ConfigError> {
    use std::io::Read;
    let mut out = Vec::new();
    for (j, p) in paths.iter().enumerate() {
        let fail = |m: String| ConfigError {
            message: m,
            ..at(j)
        };
        let cannot =
            |e: std::io::Error| fail(format!("cannot read hosts file {}: {e}", p.display()));
        let mut text = String::new();
        std::fs::File::open(p)
            .and_then(|f| f.take(max as u64 + 1).read_to_string(&mut text))
            .map_err(cannot)?;
        if text.len() > max {
            return Err(fail(format!(
                "hosts file {} is larger than hosts_max_size ({})",
                p.display(),
                units::format_bytes(max)
            )));
        }
        parse_hosts(&text).map_err(|e| fail(format!("hosts file {}: {e}", p.display())))?;
        out.push(HostsText {
            name: p.display().to_string(),
            text,
        });
    }
    Ok(out)
}

/// A `--forward ZONE=ADDR[:PORT][,ADDR[:PORT]...]` flag as a forward group.
pub fn parse_forward_flag(v: &str) -> Result<ForwardZone, String> {
    let (zone, addrs) = v
        .split_once('=')
        .ok_or_else(|| format!("{v:?}: expected ZONE=ADDR[:PORT][,ADDR[:PORT]...]"))?;
    let name = zone_name(zone).map_err(|e| format!("{v:?}: zone {e}"))?;
    let upstreams = addrs
        .split(',')
        .map(|a| {
            target(a.trim()).map(|t| UpstreamConfig {
                label: t.label(),
                force_tcp: false,
                trusted: false,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| format!("{v:?}: {m}"))?;
    Ok(ForwardZone {
        zones: vec![name.to_string()],
        upstreams,
        policy: None,
        force_tcp: false,
        upstream_udp_payload: None,
        probe: None,
        cache: ZoneCache::default(),
    })
}

/// Where a field of the engine's `Config` is in the file: under `[engine]`, but for the
/// upstreams, at the top.
fn file_field(engine_field: &str) -> String {
    if engine_field.starts_with("upstreams") {
        engine_field.to_string()
    } else {
        format!("engine.{engine_field}")
    }
}

/// The engine's upstreams, labelled by address.
fn labels(addrs: &[SocketAddr]) -> Vec<UpstreamConfig> {
    addrs
        .iter()
        .map(|a| UpstreamConfig {
            label: a.to_string(),
            ..UpstreamConfig::default()
        })
        .collect()
}

/// The engine's upstreams, labelled as [`Target::label`] says.
fn target_labels(targets: &[Target]) -> Vec<UpstreamConfig> {
    targets
        .iter()
        .map(|t| UpstreamConfig {
            label: t.label(),
            ..UpstreamConfig::default()
        })
        .collect()
}

/// The metrics listener (HTTP over TCP) on a port a DNS listener also holds, on the same
/// address or where either is a wildcard: both bind with SO_REUSEPORT, so the kernel would hand
/// HTTP connections to the DNS listener and DNS connections to the HTTP one.
fn metrics_clash(listen: &[SocketAddr], metrics: Option<SocketAddr>) -> Option<String> {
    let m = metrics?;
    let l = listen.iter().find(|l| {
        l.port() == m.port()
            && l.is_ipv4() == m.is_ipv4()
            && (l.ip() == m.ip() || l.ip().is_unspecified() || m.ip().is_unspecified())
    })?;
    Some(format!(
        "{m} is also a DNS listener ({l} in `listen`): the metrics, health and admin listener needs a port of its own"
    ))
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
    let s = overrides.apply(s)?;
    check_loops(&s)?;
    Ok(s)
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
    .map_err(|mut e| {
        // parse() does not know which file it read the nameservers from; name it, so that
        // `--resolv-conf PATH` (or a container's empty one) is seen in the error.
        // (An unreadable one is already named by the I/O error.)
        if e.field == "upstreams"
            && e.message == "none configured and resolv.conf lists no nameserver"
        {
            e.message = e.message.replacen(
                "resolv.conf",
                &format!("the resolv.conf {}", resolv.display()),
                1,
            );
        }
        e
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_equal_to_a_listen_address_is_an_error_and_a_wildcard_one_a_warning() {
        let with = |listen: &str, ups: &str| {
            parse(&format!("listen = [{listen}]\nupstreams = [{ups}]\n"), rc).unwrap()
        };
        // Same IP and port: an error naming both fields and lines.
        let s = with("\"127.0.0.1:5300\"", "\"192.0.2.1\", \"127.0.0.1:5300\"");
        let e = check_loops(&s).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(2), "upstreams[1]"));
        assert!(e.message.contains("(listen[0], line 1)"), "{e}");
        // An IPv4-mapped upstream is the same address.
        let s = with("\"127.0.0.1:5300\"", "\"[::ffff:127.0.0.1]:5300\"");
        assert!(check_loops(&s).is_err());
        // Another port, another loopback address: no loop known.
        for ups in ["\"127.0.0.1:5301\"", "\"127.0.0.2:5300\""] {
            let s = with("\"127.0.0.1:5300\"", ups);
            assert!(check_loops(&s).is_ok(), "{ups}");
            assert!(loop_warnings(&s).is_empty(), "{ups}");
        }
        // A wildcard listener: a loopback upstream on its port is a warning, not an error; the
        // other family's wildcard does not take it.
        let s = with("\"0.0.0.0:5300\"", "\"127.0.0.1:5300\"");
        assert!(check_loops(&s).is_ok());
        let w = loop_warnings(&s);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("upstreams[0] = 127.0.0.1:5300 is a local address on the port of the wildcard listener listen[0] = 0.0.0.0:5300"), "{w:?}");
        assert!(loop_warnings(&with("\"[::]:5300\"", "\"127.0.0.1:5300\"")).is_empty());
        assert_eq!(
            loop_warnings(&with("\"[::]:5300\"", "\"[::1]:5300\"")).len(),
            1
        );
        // A documentation address is not this host's: no warning.
        assert!(loop_warnings(&with("\"0.0.0.0:5300\"", "\"192.0.2.1:5300\"")).is_empty());
        // From the resolv.conf: named as such.
        let s = parse("listen = [\"192.0.2.53:53\"]\n", rc).unwrap();
        let e = check_loops(&s).unwrap_err();
        assert!(e.field.contains("nameserver 1 of /etc/resolv.conf"), "{e}");
        // Flags: the flag is the field.
        let o = Overrides {
            upstreams: vec!["127.0.0.1:5300".into()],
            listen: vec!["127.0.0.1:5300".into()],
            ..Overrides::default()
        };
        let s = o.apply(parse(DEFAULT_TOML, rc).unwrap()).unwrap();
        assert_eq!(check_loops(&s).unwrap_err().field, "--upstream");
    }

    fn rc() -> std::io::Result<String> {
        Ok("nameserver 192.0.2.53\nnameserver 2001:db8::53\n".into())
    }

    #[test]
    fn default_config_is_valid_and_uses_resolv_conf() {
        let s = parse(DEFAULT_TOML, rc).unwrap();
        assert_eq!(
            s.listen,
            vec!["127.0.0.1:8553".parse::<SocketAddr>().unwrap()]
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

    fn err(text: &str) -> (Option<usize>, String) {
        let e = parse(text, rc).unwrap_err();
        (e.line, e.field)
    }

    fn at(line: usize, field: &str) -> (Option<usize>, String) {
        (Some(line), field.to_string())
    }

    #[test]
    fn errors_name_line_and_field() {
        let l = "listen = [\"127.0.0.1:53\"]\n";
        assert_eq!(err(&format!("{l}workers = 0\n")), at(2, "workers"));
        // A type error names its field (it used to print an empty name).
        assert_eq!(
            err(&format!("{l}\n[engine.cache]\nmax_ttl = \"x\"\n")),
            at(4, "engine.cache.max_ttl")
        );
        assert_eq!(
            err(&format!("{l}[engine]\nquery_timeout = 4000\n")),
            at(3, "engine.query_timeout")
        );
        assert_eq!(
            err("[tcp]\nidle_timeout = \"10 parsecs\"\n"),
            at(2, "tcp.idle_timeout")
        );
        // An unknown key names itself, wherever it is.
        assert_eq!(err("bogus = 1\n"), at(1, "bogus"));
        assert_eq!(
            err("[engine]\nattempt_timeout_ms = 1500\n"),
            at(2, "engine.attempt_timeout_ms")
        );
        assert_eq!(
            err("\nupstreams = [\"192.0.2.1\", { adress = \"192.0.2.2\" }]\n"),
            at(2, "upstreams[1].adress")
        );
        assert_eq!(
            err("\nupstreams = [\"192.0.2.1\", \"nonsense\"]\n"),
            at(2, "upstreams[1]")
        );
        let e = parse("allow = [\"10.0.0.0/33\"]\n", rc).unwrap_err();
        assert!(e.to_string().contains("prefix"), "{e}");
        assert_eq!((e.line, e.field.as_str()), (Some(1), "allow[0]"));
    }

    #[test]
    fn limits_name_the_field_they_were_set_in() {
        // `attempt_timeout = 0` used to be reported as query_timeout.
        let t = "listen = [\"127.0.0.1:53\"]\n\n[engine]\npolicy = \"random\"\nattempt_timeout = \"0s\"\n";
        assert_eq!(err(t), at(5, "engine.attempt_timeout"));
        assert_eq!(
            err("[engine]\nquery_timeout = \"0s\"\n"),
            at(2, "engine.query_timeout")
        );
        // Longer than the default query_timeout: named even though only one side is set.
        let e = parse("[engine]\nattempt_timeout = \"5s\"\n", rc).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(2), "engine.attempt_timeout")
        );
        assert!(e.message.contains("query_timeout"), "{e}");
        assert_eq!(
            err("[engine]\nmax_udp_payload = 511\n"),
            at(2, "engine.max_udp_payload")
        );
        assert_eq!(
            err("[engine.limits]\nclient_prefix_v4 = 33\n"),
            at(2, "engine.limits.client_prefix_v4")
        );
        assert_eq!(
            err("engine.limits.client_prefix_v6 = 129\n"),
            at(1, "engine.limits.client_prefix_v6")
        );
        assert_eq!(
            err("[engine]\nprobe = { interval = \"1s\", name = \".\", qtype = \"NOPE\" }\n"),
            at(2, "engine.probe.qtype")
        );
        let many: Vec<String> = (0..65).map(|i| format!("\"10.0.0.{i}\"")).collect();
        let e = parse(&format!("\nupstreams = [{}]\n", many.join(", ")), rc).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(2), "upstreams"));
        assert!(e.message.contains("at most 64"), "{e}");
        assert_eq!(err("[tcp]\nmax_queued = 0\n"), at(2, "tcp.max_queued"));
        assert_eq!(
            err("[tcp]\nupstream_connect_timeout = \"0s\"\n"),
            at(2, "tcp.upstream_connect_timeout")
        );
        assert_eq!(
            err("[tcp]\nupstream_idle_timeout = \"0s\"\n"),
            at(2, "tcp.upstream_idle_timeout")
        );
        assert_eq!(
            err("[tcp]\nupstream_max_queued = 0\n"),
            at(2, "tcp.upstream_max_queued")
        );
        assert_eq!(err("[udp]\nbatch = 0\n"), at(2, "udp.batch"));
        assert_eq!(err("[udp]\nbatch = 1025\n"), at(2, "udp.batch"));
        assert_eq!(
            err("[udp]\nupstream_sockets = 0\n"),
            at(2, "udp.upstream_sockets")
        );
        assert_eq!(
            err("\n[udp]\nupstream_socket_queries = 0\n"),
            at(3, "udp.upstream_socket_queries")
        );
        assert_eq!(
            err("[udp]\nupstream_socket_lifetime = \"0s\"\n"),
            at(2, "udp.upstream_socket_lifetime")
        );
        assert_eq!(
            err("[admin]\nmax_connections = 0\n"),
            at(2, "admin.max_connections")
        );
        assert_eq!(err("[admin]\ntimeout = \"0s\"\n"), at(2, "admin.timeout"));
        assert_eq!(err("\n[engine]\nevents = true\n"), at(3, "engine.events"));
        assert_eq!(
            err("[engine]\nupstreams = [\"192.0.2.1\"]\n"),
            at(2, "engine.upstreams")
        );
        // Values the file leaves at their default have no line.
        let e = parse("[engine]\nquery_timeout = \"1s\"\n", rc).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (None, "engine.attempt_timeout"));
    }

    #[test]
    fn the_file_reads_units_and_the_core_config() {
        let s = parse(
            "drain_timeout = \"1m30s\"\nlog_queries = true\nupstreams = [\"192.0.2.1\", \
             { address = \"192.0.2.2:5300\", force_tcp = true }]\n[engine]\nattempt_timeout = \"700ms\"\n\
             [engine.cache]\nsize = \"2MiB\"\nserve_stale = false\n[engine.limits]\naction = \"drop\"\n\
             [tcp]\nidle_timeout = \"2s\"\n",
            rc,
        )
        .unwrap();
        assert_eq!(s.drain, Duration::from_secs(90));
        assert_eq!(s.engine.upstreams[0].label, "192.0.2.1:53");
        assert!(s.engine.upstreams[1].force_tcp);
        assert_eq!(s.upstreams[1], "192.0.2.2:5300".parse().unwrap());
        assert_eq!(s.engine.attempt_timeout, Duration::from_millis(700));
        assert_eq!(s.engine.cache.size, 2 << 20);
        assert!(!s.engine.cache.serve_stale.enabled);
        assert!(s.engine.events, "log_queries turns the engine's events on");
        assert!(s.limit_drop());
        assert_eq!(s.tcp_idle, Duration::from_secs(2));
        assert_eq!(s.resolv_conf, None);
    }

    #[test]
    fn the_default_file_states_the_core_defaults() {
        let f: File = toml::from_str(DEFAULT_TOML).unwrap();
        let d = EngineConfig::default();
        assert_eq!(f.engine, d, "default.toml and Config::default() disagree");
        assert_eq!(
            f.udp,
            UdpKnobs::default(),
            "default.toml's [udp] is not the default"
        );
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
    fn tls_upstreams_in_the_file_groups_and_flags() {
        let text = "upstreams = [\"tls://9.9.9.9#dns.quad9.net\", \"192.0.2.1\"]\n\n[[engine.forward]]\nzones = [\"corp.example\"]\nupstreams = [\"tls://10.0.0.53:8853\"]\n";
        let s = parse(text, rc).unwrap();
        let ups: Vec<String> = s.upstreams.iter().map(ToString::to_string).collect();
        assert_eq!(ups, ["9.9.9.9:853", "192.0.2.1:53", "10.0.0.53:8853"]);
        assert_eq!(
            s.engine.upstreams[0].label,
            "tls://9.9.9.9:853#dns.quad9.net"
        );
        assert!(s.engine.upstreams[0].stream_only() && !s.engine.upstreams[1].stream_only());
        assert_eq!(
            s.engine.forward[0].upstreams[0].label,
            "tls://10.0.0.53:8853"
        );
        let tls: Vec<bool> = s.upstream_tls.iter().map(Option::is_some).collect();
        assert_eq!(tls, [true, false, true]);
        assert!(
            s.tls.is_some(),
            "the client configuration is built for TLS upstreams"
        );
        assert!(parse("upstreams = [\"192.0.2.1\"]\n", rc)
            .unwrap()
            .tls
            .is_none());
        // Errors name the field and say what is wrong.
        let e = parse("\nupstreams = [\"tls://9.9.9.9#not a name\"]\n", rc).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(2), "upstreams[0]"));
        assert!(
            e.message
                .contains("server name \"not a name\" is not a valid host name"),
            "{e}"
        );
        let e = parse(
            "[[engine.forward]]\nzones = [\"x.example\"]\nupstreams = [\"tls://dns.example\"]\n",
            rc,
        )
        .unwrap_err();
        assert_eq!(e.field, "engine.forward[0].upstreams[0]", "{e}");
        let e = parse(
            "upstreams = [\"tls://9.9.9.9#dns.quad9.net\"]\ntls_ca = \"/nonexistent/ca.pem\"\n",
            rc,
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(2), "tls_ca"));
        assert!(e.message.contains("cannot read /nonexistent/ca.pem"), "{e}");
        // --upstream takes the same syntax, and its errors name the flag.
        let flags = Overrides {
            upstreams: vec!["tls://127.0.0.1:8853#dns.example".into()],
            ..Overrides::default()
        };
        let s = flags.apply(parse(DEFAULT_TOML, rc).unwrap()).unwrap();
        assert_eq!(
            s.upstreams,
            ["127.0.0.1:8853".parse::<SocketAddr>().unwrap()]
        );
        assert!(s.upstream_tls[0].is_some() && s.tls.is_some());
        let flags = Overrides {
            upstreams: vec!["tls://127.0.0.1#".into()],
            ..Overrides::default()
        };
        let e = flags.apply(parse(DEFAULT_TOML, rc).unwrap()).unwrap_err();
        assert_eq!(e.field, "--upstream");
        assert!(e.message.contains("empty"), "{e}");
    }

    #[test]
    fn allow_flags_replace_the_list_and_exposure_is_warned() {
        let s = parse(DEFAULT_TOML, rc).unwrap();
        assert_eq!(exposure_warning(&s), None, "the defaults are loopback only");
        let with = |listen: &[&str], allow: &[&str]| {
            Overrides {
                listen: listen.iter().map(ToString::to_string).collect(),
                allow: allow.iter().map(ToString::to_string).collect(),
                ..Overrides::default()
            }
            .apply(parse(DEFAULT_TOML, rc).unwrap())
        };
        let s = with(&["0.0.0.0:53"], &["10.0.0.0/8", "::1"]).unwrap();
        assert_eq!(
            s.allow,
            vec![
                Net {
                    addr: "10.0.0.0".parse().unwrap(),
                    prefix: 8
                },
                Net {
                    addr: "::1".parse().unwrap(),
                    prefix: 128
                }
            ]
        );
        let w = exposure_warning(&s).unwrap();
        assert!(w.contains("0.0.0.0:53") && w.contains("10.0.0.0/8"), "{w}");
        assert!(
            !w.contains("::1/128"),
            "loopback networks are not named: {w}"
        );
        // Either side loopback only: no warning.
        assert_eq!(
            exposure_warning(
                &with(&["0.0.0.0:53"], &["127.0.0.1/32", "::ffff:127.0.0.1"]).unwrap()
            ),
            None
        );
        assert_eq!(
            exposure_warning(&with(&["127.0.0.1:53"], &["0.0.0.0/0"]).unwrap()),
            None
        );
        // 127.0.0.0/7 reaches beyond loopback.
        assert!(exposure_warning(&with(&["[::]:53"], &["127.0.0.0/7"]).unwrap()).is_some());
        let e = with(&[], &["10.0.0.0/33"]).unwrap_err();
        assert_eq!(e.field, "--allow");
        assert!(e.message.contains("prefix must be 0..=32"), "{e}");
        assert!(with(&[], &["ten"])
            .unwrap_err()
            .message
            .contains("not a network"));
    }

    #[test]
    fn forward_groups_and_hosts_files() {
        let dir = std::env::temp_dir().join(format!("dnspect-cfg-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("hosts");
        std::fs::write(&good, "192.168.1.10 nas.lab nas\n").unwrap();
        let bad = dir.join("bad");
        std::fs::write(&bad, "127.0.0.1 localhost\n\n10.0.0.999 typo\n").unwrap();
        let text = format!(
            "upstreams = [\"192.0.2.1\"]\nhosts = [{:?}]\n\n[[engine.forward]]\nzones = [\"cluster.local\", \"in-addr.arpa\"]\nupstreams = [\"10.96.0.10\", \"10.96.0.11:5353\"]\n",
            good.display().to_string()
        );
        let s = parse(&text, rc).unwrap();
        // The workers' list: the default group, then each forward group, in engine order.
        let ups: Vec<String> = s.upstreams.iter().map(|a| a.to_string()).collect();
        assert_eq!(ups, ["192.0.2.1:53", "10.96.0.10:53", "10.96.0.11:5353"]);
        assert_eq!(s.engine.forward[0].upstreams[0].label, "10.96.0.10:53");
        assert_eq!(s.engine.local.hosts.len(), 1);
        assert_eq!(s.engine.local.hosts[0].name, good.display().to_string());
        // A bad hosts file: its path, line and field, and the config line that names it.
        let e = parse(&text.replace("/hosts\"", "/bad\""), rc).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(2), "hosts[0]"));
        assert!(e.message.contains("line 3, field 1"), "{e}");
        assert!(e.message.contains("10.0.0.999"), "{e}");
        // A hosts file over hosts_max_size: named, with the limit; at the limit it is read.
        let e = parse(&format!("hosts_max_size = \"16B\"\n{text}"), rc).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(3), "hosts[0]"));
        assert!(
            e.message.contains("larger than hosts_max_size (16B)"),
            "{e}"
        );
        assert!(parse(&format!("hosts_max_size = \"25B\"\n{text}"), rc).is_ok());
        // A forward upstream that is no address, a zone twice: named in the file.
        let e = parse(&text.replace("10.96.0.11:5353", "kube-dns"), rc).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(6), "engine.forward[0].upstreams[1]")
        );
        let e = parse(&text.replace("\"in-addr.arpa\"", "\"Cluster.Local.\""), rc).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(5), "engine.forward[0].zones[1]")
        );
        // A forward group for `.` replaces the resolv.conf.
        let s = parse(
            "[[engine.forward]]\nzones = [\".\"]\nupstreams = [\"192.0.2.9\"]\n",
            rc,
        )
        .unwrap();
        assert_eq!(s.resolv_conf, None);
        assert_eq!(
            s.upstreams,
            vec!["192.0.2.9:53".parse::<SocketAddr>().unwrap()]
        );
        // Flags.
        let flags = Overrides {
            upstreams: vec!["192.0.2.2".into()],
            forward: vec![
                "corp.example=10.0.0.1,10.0.0.2:5300".into(),
                "ip6.arpa=[2001:db8::1]:53".into(),
                "10.0.0.0/8=10.0.0.53".into(),
            ],
            hosts: vec![good.clone()],
            ..Overrides::default()
        };
        let s = flags.apply(parse(DEFAULT_TOML, rc).unwrap()).unwrap();
        let ups: Vec<String> = s.upstreams.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            ups,
            [
                "192.0.2.2:53",
                "10.0.0.1:53",
                "10.0.0.2:5300",
                "[2001:db8::1]:53",
                "10.0.0.53:53"
            ]
        );
        assert_eq!(s.engine.forward[0].zones, ["corp.example."]);
        assert_eq!(s.engine.forward[2].zones, ["10.in-addr.arpa."]);
        assert_eq!(s.hosts, vec![good.clone()]);
        for (bad_flag, what) in [
            ("corp.example", "ZONE=ADDR"),
            ("a..b=10.0.0.1", "not a domain name"),
            ("corp.example=kube-dns", "not an address"),
        ] {
            let o = Overrides {
                forward: vec![bad_flag.into()],
                ..Overrides::default()
            };
            let e = o.apply(parse(DEFAULT_TOML, rc).unwrap()).unwrap_err();
            assert_eq!(e.field, "--forward");
            assert!(e.message.contains(what), "{e}");
        }
        let o = Overrides {
            hosts: vec![bad.clone()],
            ..Overrides::default()
        };
        let e = o.apply(parse(DEFAULT_TOML, rc).unwrap()).unwrap_err();
        assert_eq!(e.field, "--hosts");
        assert!(e.message.contains("line 3, field 1"), "{e}");
        let o = Overrides {
            forward: vec![".=192.0.2.3".into()],
            ..Overrides::default()
        };
        let s = o.apply(parse(DEFAULT_TOML, rc).unwrap()).unwrap();
        assert_eq!(
            s.upstreams,
            vec!["192.0.2.3:53".parse::<SocketAddr>().unwrap()]
        );
        assert!(s.engine.forward.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The TOML examples of docs/configuration.md are valid configurations.
    #[test]
    fn the_documented_examples_are_valid() {
        let doc = include_str!("../../docs/configuration.md");
        let hosts = std::env::temp_dir().join(format!("dnspect-doc-hosts-{}", std::process::id()));
        std::fs::write(&hosts, "192.168.1.10 nas.lab nas\n").unwrap();
        let mut n = 0;
        for block in doc.split("```toml\n").skip(1) {
            let text = block.split("```").next().unwrap();
            let text = text.replace("/etc/dnspect/lab.hosts", &hosts.display().to_string());
            if let Err(e) = parse(&text, rc) {
                panic!("docs/configuration.md example {n}: {e}\n{text}");
            }
            n += 1;
        }
        assert!(n >= 4, "{n} examples");
        let _ = std::fs::remove_file(&hosts);
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
    /// Client networks (`--allow`, repeatable): replace the file's `allow`.
    pub allow: Vec<String>,
    pub metrics: Option<String>,
    pub log_queries: bool,
    pub workers: Option<usize>,
    /// `--forward ZONE=ADDR[,ADDR...]`: replace the file's forward groups (`.=` is
    /// `--upstream`).
    pub forward: Vec<String>,
    /// `--hosts FILE`: replace the file's hosts files.
    pub hosts: Vec<PathBuf>,
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
                .map(|a| socket(a, 53).map_err(|m| flag("listen", m)))
                .collect::<Result<_, _>>()?;
            s.listen_at = vec![("--listen".into(), None); s.listen.len()];
        }
        let mut root: Vec<Target> = Vec::new();
        if !self.forward.is_empty() {
            let mut groups = Vec::new();
            for v in &self.forward {
                let g = parse_forward_flag(v).map_err(|m| flag("forward", m))?;
                if g.zones[0] == "." {
                    for u in &g.upstreams {
                        root.push(target(&u.label).map_err(|m| flag("forward", m))?);
                    }
                } else {
                    groups.push(g);
                }
            }
            s.engine.forward = groups;
        }
        let default_flag = if !self.upstreams.is_empty() {
            Some("--upstream")
        } else if !root.is_empty() {
            Some("--forward")
        } else {
            None
        };
        if !self.upstreams.is_empty() || !root.is_empty() {
            s.resolv_conf = None;
            let mut ups: Vec<Target> = self
                .upstreams
                .iter()
                .map(|a| target(a).map_err(|m| flag("upstream", m)))
                .collect::<Result<_, _>>()?;
            ups.extend(root);
            s.engine.upstreams = target_labels(&ups);
        }
        if !self.hosts.is_empty() {
            s.engine.local.hosts.truncate(s.inline_hosts);
            let files = read_hosts(&self.hosts, s.hosts_max_size, |_| {
                flag("hosts", String::new())
            })?;
            s.engine.local.hosts.extend(files);
            s.hosts = self.hosts.clone();
        }
        if !self.upstreams.is_empty() || !self.forward.is_empty() || !self.hosts.is_empty() {
            let name = if !self.forward.is_empty() {
                "forward"
            } else if !self.upstreams.is_empty() {
                "upstream"
            } else {
                "hosts"
            };
            s.engine.validate().map_err(|e| flag(name, e.to_string()))?;
            (s.upstreams, s.upstream_tls) = flat_upstreams(&s.engine).map_err(|m| flag(name, m))?;
            s.tls = tls_config(&s.upstream_tls, s.tls_ca.as_deref()).map_err(|m| flag(name, m))?;
            // Where each upstream now comes from: a flag, or the file as before.
            let file = core::mem::take(&mut s.upstream_at);
            let from_resolv = s.resolv_conf.is_some();
            let n = s.engine.upstreams.len();
            let mut at = upstream_fields(&s.engine, from_resolv, |_| None);
            for (k, a) in at.iter_mut().enumerate() {
                let flagged = match (k < n, default_flag) {
                    (true, f) => f,
                    (false, _) => (!self.forward.is_empty()).then_some("--forward"),
                };
                match flagged {
                    Some(f) => *a = (f.to_string(), None),
                    None => {
                        if let Some(f) = file.iter().find(|f| f.0 == a.0) {
                            *a = f.clone();
                        }
                    }
                }
            }
            s.upstream_at = at;
        }
        if !self.allow.is_empty() {
            s.allow = self
                .allow
                .iter()
                .map(|n| net(n).map_err(|m| flag("allow", m)))
                .collect::<Result<_, _>>()?;
        }
        if let Some(m) = &self.metrics {
            s.metrics = if m.is_empty() {
                None
            } else {
                Some(socket(m, 9153).map_err(|m| flag("metrics", m))?)
            };
        }
        if !self.listen.is_empty() || self.metrics.is_some() {
            if let Some(m) = metrics_clash(&s.listen, s.metrics) {
                let name = if self.metrics.is_some() {
                    "metrics"
                } else {
                    "listen"
                };
                return Err(flag(name, m));
            }
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
