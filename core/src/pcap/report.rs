//! The capture analyzer: frames in, message rows out, and a per-server conformance and health
//! report at any time. Queries and responses are paired by (client, server, ID, transport);
//! every table it keeps is bounded and expires on capture time, so the report of a 1 GB
//! capture takes the memory of a small one.

use core::net::{IpAddr, SocketAddr};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};

use rustc_hash::FxBuildHasher;

use crate::wire::{Name, RType, Rcode};

use super::message::{row, CaptureMessage, Facts};
use super::net::{DnsPayload, NetStats, Network, Transport};
use super::reader::{CaptureError, Format, FrameReader};

/// Servers reported one by one, at most; the rest are added up as one row.
pub const MAX_SERVERS: usize = 1024;
/// Queries awaiting their response, names followed for flapping, retries followed: at most.
pub const MAX_TRACKED: usize = 200_000;
/// Flaps listed per server (all are counted).
pub const MAX_FLAPS_LISTED: usize = 50;

/// What to read and what to keep.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureOptions {
    /// Ports that carry DNS (either end); empty: every UDP and TCP port. Default 53 and 5353.
    pub ports: Vec<u16>,
    /// Only messages whose question is this name or under it.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub name: Option<String>,
    /// Only messages to or from this server (an address, or address:port).
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub server: Option<String>,
    /// Only responses with this RCODE (rows only: the report still counts every message).
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub rcode: Option<String>,
    /// A name flaps when it answers, then fails or has no data, then answers again, all within
    /// this window (ms).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub flap_window_ms: u64,
    /// A query with no response after this long (ms) is unanswered; a second query for the
    /// same question within it, while unanswered, is a retry.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub timeout_ms: u64,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            ports: vec![53, 5353],
            name: None,
            server: None,
            rcode: None,
            flap_window_ms: 300_000,
            timeout_ms: 5_000,
        }
    }
}

/// The checked form of the filters.
#[derive(Clone, Debug, Default)]
struct Filter {
    /// Lowercased wire form of the name.
    name: Option<Vec<u8>>,
    server: Option<ServerMatch>,
    rcode: Option<Rcode>,
}

#[derive(Clone, Copy, Debug)]
enum ServerMatch {
    Ip(IpAddr),
    Addr(SocketAddr),
}

impl ServerMatch {
    fn matches(self, a: SocketAddr) -> bool {
        match self {
            ServerMatch::Ip(ip) => a.ip() == ip,
            ServerMatch::Addr(s) => a == s,
        }
    }
}

/// Query-to-response time, per server.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Latency {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub count: u64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// (upper bound in ms, count) of each non-empty bucket: 8 buckets per doubling.
    pub histogram: Vec<(f64, u64)>,
}

/// How random a 16-bit field of the queries to a server looks (RFC 5452 9.2: IDs and source
/// ports should both be unpredictable).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Randomness {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub samples: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub distinct: u64,
    /// Distinct values expected from that many uniformly random draws.
    pub expected_distinct: f64,
    /// Consecutive samples that differ by 0 or 1 (counters, fixed values).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub sequential: u64,
    /// The largest |share of ones - 0.5| over the 16 bits (IDs only).
    pub max_bit_bias: Option<f64>,
    /// `random`, `too few samples`, or what looks predictable.
    pub verdict: String,
}

/// A name that answered, then did not, then answered again.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Flap {
    pub name: String,
    pub qtype: String,
    /// Seconds since the epoch of the last answer before, the failure, and the answer after.
    pub answered_at: f64,
    pub failed_at: f64,
    pub back_at: f64,
    /// `NODATA`, `NXDOMAIN` or `SERVFAIL`.
    pub failure: String,
    /// How long an RFC 2308 negative cache would have kept the failure (seconds): the SOA's
    /// min(TTL, MINIMUM); none when there was no SOA (not cacheable) or for SERVFAIL.
    pub negative_ttl: Option<u32>,
    /// What a cache would have done with it, in words.
    pub note: String,
}

/// Conformance and health of one server, as seen in the capture.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ServerReport {
    /// address:port, or `(other servers)` past the first MAX_SERVERS.
    pub server: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub queries: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub responses: u64,
    /// Responses with records for the question.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub answers: u64,
    /// Responses that compression would shrink by 16 bytes or more, and the bytes lost.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub uncompressed: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub uncompressed_bytes_lost: u64,
    /// UDP responses over 512 bytes to queries without EDNS (RFC 1035 4.2.1; incident 000).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub over_512_without_edns: u64,
    /// UDP responses larger than the EDNS size the query advertised.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub over_advertised: u64,
    /// UDP responses with TC, and how many of those the client asked again over TCP.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub truncated: u64,
    pub tc_rate: f64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub tc_retried_over_tcp: u64,
    /// Queries with OPT, and FORMERR responses to them.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub edns_queries: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub formerr_to_edns: u64,
    /// NXDOMAIN and NODATA responses, and those without an SOA (RFC 2308 5: not cacheable).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub negative: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub negative_without_soa: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub servfail: u64,
    pub servfail_rate: f64,
    /// Names that flapped (all counted; the first MAX_FLAPS_LISTED listed).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub flaps_total: u64,
    pub flaps: Vec<Flap>,
    pub latency: Latency,
    /// Queries never answered within the timeout, and retries of an unanswered question.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unanswered: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub retries: u64,
    /// Responses that matched no query in the capture.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unmatched_responses: u64,
    /// Messages that do not decode.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub malformed: u64,
    pub query_ids: Randomness,
    pub source_ports: Randomness,
}

/// The whole capture's report.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CaptureReport {
    pub format: Option<Format>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub frames: u64,
    /// DNS messages read, and those the filters let through.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub messages: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub shown: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub queries: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub responses: u64,
    pub first_time: Option<f64>,
    pub last_time: Option<f64>,
    /// Response sizes: (lower bound in bytes, count) of each 32-byte bucket up to 4096, then one
    /// bucket for everything larger; separately for UDP and TCP.
    pub udp_sizes: Vec<(u32, u64)>,
    pub tcp_sizes: Vec<(u32, u64)>,
    pub servers: Vec<ServerReport>,
    /// What the network layers skipped, by reason.
    pub skipped: NetStats,
    /// Where the capture stopped being readable; everything before it is in the report.
    pub error: Option<CaptureError>,
}

const LAT_BUCKETS: usize = 8 * 26;
const SIZE_BUCKETS: usize = 4096 / 32 + 1;

#[derive(Debug)]
struct FieldStats {
    samples: u64,
    seen: Vec<u64>,
    distinct: u64,
    ones: [u64; 16],
    sequential: u64,
    last: Option<u16>,
}

impl FieldStats {
    fn new() -> Self {
        FieldStats {
            samples: 0,
            seen: Vec::new(),
            distinct: 0,
            ones: [0; 16],
            sequential: 0,
            last: None,
        }
    }

    fn add(&mut self, v: u16) {
        if self.seen.is_empty() {
            self.seen = vec![0; 1024];
        }
        self.samples += 1;
        let (w, b) = (usize::from(v >> 6), v & 63);
        if self.seen[w] & (1 << b) == 0 {
            self.seen[w] |= 1 << b;
            self.distinct += 1;
        }
        for (i, o) in self.ones.iter_mut().enumerate() {
            *o += u64::from((v >> i) & 1);
        }
        if let Some(l) = self.last {
            if v.wrapping_sub(l) <= 1 {
                self.sequential += 1;
            }
        }
        self.last = Some(v);
    }

    fn report(&self, space: f64, bits: bool) -> Randomness {
        let n = self.samples as f64;
        let expected = space * (1.0 - (-n / space).exp());
        let bias = bits.then(|| {
            self.ones
                .iter()
                .map(|&o| (o as f64 / n.max(1.0) - 0.5).abs())
                .fold(0.0, f64::max)
        });
        let verdict = if self.samples < 16 {
            "too few samples".to_string()
        } else if self.distinct == 1 {
            "fixed: every query uses the same value".to_string()
        } else if self.sequential as f64 > 0.05 * (n - 1.0) {
            format!(
                "predictable: {} of {} follow the previous value by 0 or 1",
                self.sequential, self.samples
            )
        } else if (self.distinct as f64) < 0.8 * expected {
            format!(
                "predictable: {} distinct values where random draws give about {expected:.0}",
                self.distinct
            )
        } else if bias.is_some_and(|b| self.samples >= 200 && b > 0.15) {
            "biased: a bit is set far more or less than half the time".to_string()
        } else {
            "random".to_string()
        };
        Randomness {
            samples: self.samples,
            distinct: self.distinct,
            expected_distinct: (expected * 10.0).round() / 10.0,
            sequential: self.sequential,
            max_bit_bias: bias.map(|b| (b * 1000.0).round() / 1000.0),
            verdict,
        }
    }
}

#[derive(Debug)]
struct Server {
    label: String,
    r: ServerReport,
    latency: [u64; LAT_BUCKETS],
    lat_max_ns: i64,
    ids: FieldStats,
    ports: FieldStats,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PendingKey {
    client: SocketAddr,
    server: SocketAddr,
    id: u16,
    transport: Transport,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    time_ns: i64,
    qhash: u64,
    edns: Option<u16>,
    server: usize,
}

#[derive(Clone, Copy, Debug, Default)]
struct NameState {
    last_positive: Option<i64>,
    /// (kind, when, negative TTL) of a failure after a positive answer.
    failure: Option<(&'static str, i64, Option<u32>)>,
    last_seen: i64,
}

/// A matched query/response pair kept for `--replay`.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub query_ns: i64,
    pub latency_ns: i64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub transport: Transport,
    pub name: String,
    pub qtype: RType,
    pub edns: Option<u16>,
    pub response: Vec<u8>,
}

/// The analyzer: feed it the file in chunks.
#[derive(Debug)]
pub struct CaptureAnalyzer {
    opts: CaptureOptions,
    filter: Filter,
    reader: FrameReader,
    net: Network,
    st: State,
    error: Option<CaptureError>,
    finished: bool,
}

#[derive(Debug)]
struct State {
    timeout_ns: i64,
    window_ns: i64,
    messages: u64,
    shown: u64,
    queries: u64,
    responses: u64,
    first_ns: Option<i64>,
    last_ns: i64,
    udp_sizes: [u64; SIZE_BUCKETS],
    tcp_sizes: [u64; SIZE_BUCKETS],
    servers: Vec<Server>,
    server_index: HashMap<SocketAddr, usize, FxBuildHasher>,
    pending: HashMap<PendingKey, Pending, FxBuildHasher>,
    expiry: VecDeque<(i64, PendingKey)>,
    asks: HashMap<(IpAddr, usize, u64), (i64, bool), FxBuildHasher>,
    tc_seen: HashMap<(IpAddr, IpAddr, u64), i64, FxBuildHasher>,
    names: HashMap<(usize, u64), NameState, FxBuildHasher>,
    last_sweep_ns: i64,
    /// Pairs kept for the replay, up to the bound given.
    exchanges: Option<(usize, Vec<Exchange>)>,
    pending_queries: HashMap<PendingKey, (String, RType), FxBuildHasher>,
}

impl CaptureAnalyzer {
    /// Checks the options (filters, windows); errors name the field.
    pub fn new(opts: CaptureOptions) -> Result<Self, String> {
        let mut filter = Filter::default();
        if let Some(n) = opts.name.as_deref().filter(|n| !n.is_empty()) {
            let name = n
                .parse::<Name>()
                .map_err(|e| format!("name: {n:?} is not a domain name: {e}"))?;
            filter.name = Some(name.as_wire().to_ascii_lowercase());
        }
        if let Some(s) = opts.server.as_deref().filter(|s| !s.is_empty()) {
            filter.server = Some(if let Ok(a) = s.parse::<SocketAddr>() {
                ServerMatch::Addr(a)
            } else if let Ok(ip) = s.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
                ServerMatch::Ip(ip)
            } else {
                return Err(format!("server: {s:?} is not an address or address:port"));
            });
        }
        if let Some(r) = opts.rcode.as_deref().filter(|r| !r.is_empty()) {
            filter.rcode = Some(Rcode::from_mnemonic(r).ok_or_else(|| {
                format!("rcode: {r:?} is not an RCODE (NOERROR, NXDOMAIN, SERVFAIL, ...)")
            })?);
        }
        if opts.timeout_ms == 0 || opts.timeout_ms > 3_600_000 {
            return Err(format!(
                "timeout_ms: {} is outside 1..=3600000",
                opts.timeout_ms
            ));
        }
        if opts.flap_window_ms == 0 || opts.flap_window_ms > 86_400_000 {
            return Err(format!(
                "flap_window_ms: {} is outside 1..=86400000",
                opts.flap_window_ms
            ));
        }
        let st = State {
            timeout_ns: opts.timeout_ms as i64 * 1_000_000,
            window_ns: opts.flap_window_ms as i64 * 1_000_000,
            messages: 0,
            shown: 0,
            queries: 0,
            responses: 0,
            first_ns: None,
            last_ns: 0,
            udp_sizes: [0; SIZE_BUCKETS],
            tcp_sizes: [0; SIZE_BUCKETS],
            servers: Vec::new(),
            server_index: HashMap::with_hasher(FxBuildHasher),
            pending: HashMap::with_hasher(FxBuildHasher),
            expiry: VecDeque::new(),
            asks: HashMap::with_hasher(FxBuildHasher),
            tc_seen: HashMap::with_hasher(FxBuildHasher),
            names: HashMap::with_hasher(FxBuildHasher),
            last_sweep_ns: i64::MIN,
            exchanges: None,
            pending_queries: HashMap::with_hasher(FxBuildHasher),
        };
        Ok(CaptureAnalyzer {
            net: Network::new(opts.ports.clone()),
            opts,
            filter,
            reader: FrameReader::new(),
            st,
            error: None,
            finished: false,
        })
    }

    /// Keeps up to `max` matched query/response pairs for [`super::replay`].
    pub fn keep_exchanges(&mut self, max: usize) {
        self.st.exchanges = Some((max, Vec::new()));
    }

    pub fn exchanges(&self) -> &[Exchange] {
        self.st
            .exchanges
            .as_ref()
            .map_or(&[], |(_, v)| v.as_slice())
    }

    pub fn options(&self) -> &CaptureOptions {
        &self.opts
    }

    /// File bytes read so far (whole records).
    pub fn bytes_read(&self) -> u64 {
        self.reader.consumed()
    }

    /// Reads the next chunk of the file; every message the filters let through goes to
    /// `on_message` in capture order, with its DNS bytes. After an error, the report keeps what
    /// came before.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        on_message: &mut dyn FnMut(&CaptureMessage, &[u8]),
    ) -> Result<(), CaptureError> {
        let CaptureAnalyzer {
            reader,
            net,
            st,
            filter,
            ..
        } = self;
        let result = reader.feed(chunk, &mut |frame| {
            net.frame(&frame, &mut |p| st.message(&p, filter, on_message));
        });
        if let Err(e) = &result {
            self.error.get_or_insert_with(|| e.clone());
        }
        result
    }

    /// The end of the file: expires the queries still waiting and says whether the file was
    /// cut inside a record.
    pub fn finish(&mut self) -> Result<(), CaptureError> {
        let result = self.reader.finish();
        if !self.finished {
            self.finished = true;
            self.net.finish();
            self.st.expire(i64::MAX);
        }
        if let Err(e) = &result {
            self.error.get_or_insert_with(|| e.clone());
        }
        result
    }

    /// The report of everything read so far.
    pub fn report(&self) -> CaptureReport {
        let st = &self.st;
        let sizes = |h: &[u64; SIZE_BUCKETS]| -> Vec<(u32, u64)> {
            h.iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(i, &c)| ((i * 32) as u32, c))
                .collect()
        };
        CaptureReport {
            format: self.reader.format(),
            bytes: self.reader.consumed(),
            frames: self.reader.frames(),
            messages: st.messages,
            shown: st.shown,
            queries: st.queries,
            responses: st.responses,
            first_time: st.first_ns.map(secs),
            last_time: st.first_ns.map(|_| secs(st.last_ns)),
            udp_sizes: sizes(&st.udp_sizes),
            tcp_sizes: sizes(&st.tcp_sizes),
            servers: st.servers.iter().map(Server::report).collect(),
            skipped: self.net.stats.clone(),
            error: self.error.clone(),
        }
    }
}

fn secs(ns: i64) -> f64 {
    (ns / 1000) as f64 / 1e6
}

fn qhash(f: &Facts) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    f.qname_key.hash(&mut h);
    f.qtype.map_or(0, |t| t.0).hash(&mut h);
    h.finish()
}

/// HDR-style latency buckets in microseconds: 8 per doubling (the power of two and the next
/// three bits), integer-only.
fn latency_bucket(us: u64) -> usize {
    let e = 63 - us.leading_zeros() as usize;
    let m = if e >= 3 {
        (us >> (e - 3)) & 7
    } else {
        (us << (3 - e)) & 7
    } as usize;
    (e * 8 + m).min(LAT_BUCKETS - 1)
}

/// The upper bound (µs) of a latency bucket.
fn bucket_upper_us(i: usize) -> f64 {
    let (e, m) = (i / 8, i % 8);
    (1u64 << e) as f64 * (9 + m) as f64 / 8.0
}

fn size_bucket(len: usize) -> usize {
    (len / 32).min(SIZE_BUCKETS - 1)
}

impl Server {
    fn new(label: String) -> Self {
        Server {
            r: ServerReport {
                server: label.clone(),
                ..ServerReport::default()
            },
            label,
            latency: [0; LAT_BUCKETS],
            lat_max_ns: 0,
            ids: FieldStats::new(),
            ports: FieldStats::new(),
        }
    }

    fn add_latency(&mut self, ns: i64) {
        let i = latency_bucket((ns / 1000).max(1) as u64);
        self.latency[i] += 1;
        self.lat_max_ns = self.lat_max_ns.max(ns);
    }

    fn report(&self) -> ServerReport {
        let mut r = self.r.clone();
        r.server = self.label.clone();
        let count: u64 = self.latency.iter().sum();
        let upper = |i: usize| -> f64 { bucket_upper_us(i).round() / 1000.0 };
        let pct = |p: f64| -> Option<f64> {
            if count == 0 {
                return None;
            }
            let want = ((count as f64) * p).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, &c) in self.latency.iter().enumerate() {
                seen += c;
                if seen >= want {
                    return Some(upper(i).min(self.lat_max_ns as f64 / 1e6));
                }
            }
            None
        };
        r.latency = Latency {
            count,
            p50_ms: pct(0.5),
            p90_ms: pct(0.9),
            p99_ms: pct(0.99),
            max_ms: (count > 0).then(|| (self.lat_max_ns as f64 / 1000.0).round() / 1000.0),
            histogram: self
                .latency
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(i, &c)| (upper(i), c))
                .collect(),
        };
        let udp = r.responses.max(1) as f64;
        r.tc_rate = ((r.truncated as f64 / udp) * 10000.0).round() / 10000.0;
        r.servfail_rate =
            ((r.servfail as f64 / r.responses.max(1) as f64) * 10000.0).round() / 10000.0;
        r.query_ids = self.ids.report(65536.0, true);
        // Linux's default ephemeral range (32768-60999): the smallest common pool.
        r.source_ports = self.ports.report(28232.0, false);
        r
    }
}

impl State {
    fn server(&mut self, addr: SocketAddr) -> usize {
        if let Some(&i) = self.server_index.get(&addr) {
            return i;
        }
        if self.servers.len() >= MAX_SERVERS {
            let other = SocketAddr::new(IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED), 0);
            if let Some(&i) = self.server_index.get(&other) {
                return i;
            }
            self.servers.push(Server::new("(other servers)".into()));
            self.server_index.insert(other, self.servers.len() - 1);
            return self.servers.len() - 1;
        }
        self.servers.push(Server::new(addr.to_string()));
        self.server_index.insert(addr, self.servers.len() - 1);
        self.servers.len() - 1
    }

    fn message(
        &mut self,
        p: &DnsPayload<'_>,
        filter: &Filter,
        on_message: &mut dyn FnMut(&CaptureMessage, &[u8]),
    ) {
        let f = Facts::read(p.bytes);
        // The server is the side that answers: the destination of a query.
        let (client, server_addr) = if f.response {
            (p.dst, p.src)
        } else {
            (p.src, p.dst)
        };
        if let Some(s) = filter.server {
            if !s.matches(server_addr) {
                return;
            }
        }
        if let Some(n) = &filter.name {
            let k = &f.qname_key;
            let under = k.len() >= n.len()
                && k.ends_with(n)
                && (k.len() == n.len() || label_boundary(k, k.len() - n.len()));
            if !under {
                return;
            }
        }
        self.messages += 1;
        if p.time_ns.saturating_sub(self.last_sweep_ns) > 1_000_000_000 {
            self.sweep(p.time_ns);
        }
        self.first_ns.get_or_insert(p.time_ns);
        self.last_ns = self.last_ns.max(p.time_ns);
        let si = self.server(server_addr);
        let mut m = row(self.messages, p, &f);
        let udp = p.transport == Transport::Udp;
        let qh = qhash(&f);
        let key = PendingKey {
            client,
            server: server_addr,
            id: f.id,
            transport: p.transport,
        };
        if f.error.is_some() {
            self.servers[si].r.malformed += 1;
        }
        if !f.response {
            self.queries += 1;
            let s = &mut self.servers[si];
            s.r.queries += 1;
            s.ids.add(f.id);
            if udp {
                s.ports.add(client.port());
            }
            if f.edns.is_some() {
                s.r.edns_queries += 1;
            }
            // A retry: the same client asks the same server the same question again while the
            // last one is unanswered.
            let ask = (client.ip(), si, qh);
            let room = self.asks.len() < MAX_TRACKED;
            match self.asks.get_mut(&ask) {
                Some((t, answered)) => {
                    if !*answered && p.time_ns.saturating_sub(*t) <= self.timeout_ns {
                        self.servers[si].r.retries += 1;
                        m.warnings.push("retry of an unanswered query".into());
                    }
                    *t = p.time_ns;
                    *answered = false;
                }
                None if room => {
                    self.asks.insert(ask, (p.time_ns, false));
                }
                None => {}
            }
            if !udp {
                if let Some(t) = self.tc_seen.remove(&(client.ip(), server_addr.ip(), qh)) {
                    if p.time_ns.saturating_sub(t) <= self.timeout_ns {
                        self.servers[si].r.tc_retried_over_tcp += 1;
                    }
                }
            }
            if self.pending.len() < MAX_TRACKED {
                self.pending.insert(
                    key,
                    Pending {
                        time_ns: p.time_ns,
                        qhash: qh,
                        edns: f.edns,
                        server: si,
                    },
                );
                self.expiry.push_back((p.time_ns, key));
                if let (Some((max, v)), Some(name), Some(t)) = (&self.exchanges, &f.name, f.qtype) {
                    if v.len() < *max {
                        self.pending_queries.insert(key, (name.clone(), t));
                    }
                }
            }
        } else {
            self.responses += 1;
            let hist = if udp {
                &mut self.udp_sizes
            } else {
                &mut self.tcp_sizes
            };
            hist[size_bucket(p.bytes.len())] += 1;
            let query = self
                .pending
                .get(&key)
                .filter(|q| q.qhash == qh || f.qname_key.is_empty())
                .copied();
            if query.is_some() {
                self.pending.remove(&key);
            }
            let s = &mut self.servers[si];
            s.r.responses += 1;
            let query_edns = match query {
                Some(q) => {
                    // Damaged or reordered captures can put a response before its query.
                    let lat = p.time_ns.saturating_sub(q.time_ns).max(0);
                    s.add_latency(lat);
                    m.latency_ms = Some((lat as f64 / 1000.0).round() / 1000.0);
                    if let Some(a) = self.asks.get_mut(&(client.ip(), si, qh)) {
                        a.1 = true;
                    }
                    q.edns
                }
                None => {
                    s.r.unmatched_responses += 1;
                    // Servers echo OPT: without the query, the response's own OPT stands in.
                    f.edns
                }
            };
            if let Some(((max, v), (name, qtype))) = self
                .exchanges
                .as_mut()
                .zip(query.and_then(|_| self.pending_queries.remove(&key)))
            {
                if v.len() < *max {
                    v.push(Exchange {
                        query_ns: query.map_or(p.time_ns, |q| q.time_ns),
                        latency_ns: query.map_or(0, |q| p.time_ns.saturating_sub(q.time_ns)),
                        client,
                        server: server_addr,
                        transport: p.transport,
                        name,
                        qtype,
                        edns: query_edns,
                        response: p.bytes.to_vec(),
                    });
                }
            }
            let s = &mut self.servers[si];
            let size = p.bytes.len();
            if f.positive() {
                s.r.answers += 1;
            }
            if udp && size > 512 && query_edns.is_none() {
                s.r.over_512_without_edns += 1;
                m.warnings.push(format!(
                    "{size} B over UDP to a query without EDNS (the limit is 512 B, RFC 1035 4.2.1)"
                ));
            } else if let Some(adv) =
                query_edns.filter(|&a| udp && query.is_some() && size > usize::from(a.max(512)))
            {
                s.r.over_advertised += 1;
                m.warnings.push(format!(
                    "{size} B over UDP, larger than the {adv} B the query advertised"
                ));
            }
            if udp && f.tc {
                s.r.truncated += 1;
                m.warnings
                    .push("truncated (TC): the client should retry over TCP".into());
                if self.tc_seen.len() < MAX_TRACKED {
                    self.tc_seen
                        .insert((client.ip(), server_addr.ip(), qh), p.time_ns);
                }
            }
            if f.rcode == Rcode::FORMERR && query.is_some() && query_edns.is_some() {
                s.r.formerr_to_edns += 1;
                m.warnings
                    .push("FORMERR to a query with EDNS (RFC 6891 7: retry without it)".into());
            }
            if f.rcode == Rcode::SERVFAIL {
                s.r.servfail += 1;
            }
            let negative = f.negative_kind();
            if matches!(negative, Some("NXDOMAIN" | "NODATA")) {
                s.r.negative += 1;
                if f.soa.is_none() {
                    s.r.negative_without_soa += 1;
                    m.warnings
                        .push("negative answer without SOA (not cacheable, RFC 2308 5)".into());
                }
            }
            if f.maybe_uncompressed {
                if let Ok(comp) = crate::wire::fit::recompress(p.bytes) {
                    if comp.len() + 16 <= size {
                        s.r.uncompressed += 1;
                        s.r.uncompressed_bytes_lost += (size - comp.len()) as u64;
                        m.warnings.push(format!(
                            "not compressed: {} B, {} B compressed ({} B lost)",
                            size,
                            comp.len(),
                            size - comp.len()
                        ));
                    }
                }
            }
            self.flap(si, qh, &f, negative, p.time_ns, &mut m);
        }
        if let Some(r) = filter.rcode {
            if !f.response || f.rcode != r {
                return;
            }
        }
        self.shown += 1;
        on_message(&m, p.bytes);
    }

    fn flap(
        &mut self,
        si: usize,
        qh: u64,
        f: &Facts,
        negative: Option<&'static str>,
        now: i64,
        m: &mut CaptureMessage,
    ) {
        let positive = f.positive();
        if !positive && negative.is_none() {
            return;
        }
        let window = self.window_ns;
        let key = (si, qh);
        if !self.names.contains_key(&key) {
            if !positive || self.names.len() >= MAX_TRACKED {
                return;
            }
            self.names.insert(key, NameState::default());
        }
        let Some(st) = self.names.get_mut(&key) else {
            return;
        };
        st.last_seen = now;
        if positive {
            if let (Some(before), Some((kind, at, ttl))) = (st.last_positive, st.failure) {
                if now.saturating_sub(before) <= window {
                    let s = &mut self.servers[si];
                    s.r.flaps_total += 1;
                    let note = match (kind, ttl) {
                        ("SERVFAIL", _) => "RFC 9520: a cache keeps a failure 1 s to 5 min; dnspect keeps serving the answer beside it".to_string(),
                        (_, Some(t)) => format!("a negative cache would have answered {kind} for {t} s while the name resolved"),
                        (_, None) => format!("{kind} without SOA: not cacheable (RFC 2308 5), a cache that kept it hid the name"),
                    };
                    m.warnings.push(format!(
                        "flap: answered, {kind} {:.3} s later, answered again {:.3} s after that",
                        (at - before) as f64 / 1e9,
                        now.saturating_sub(at) as f64 / 1e9
                    ));
                    if s.r.flaps.len() < MAX_FLAPS_LISTED {
                        s.r.flaps.push(Flap {
                            name: f.name.clone().unwrap_or_default(),
                            qtype: f.qtype.map(|t| t.to_string()).unwrap_or_default(),
                            answered_at: secs(before),
                            failed_at: secs(at),
                            back_at: secs(now),
                            failure: kind.to_string(),
                            negative_ttl: ttl,
                            note,
                        });
                    }
                }
            }
            st.last_positive = Some(now);
            st.failure = None;
        } else if let (Some(kind), Some(before)) = (negative, st.last_positive) {
            if st.failure.is_none() && now.saturating_sub(before) <= window {
                let ttl = if kind == "SERVFAIL" {
                    None
                } else {
                    f.soa.map(|(ttl, min)| ttl.min(min))
                };
                st.failure = Some((kind, now, ttl));
            }
        }
    }

    /// Expires what is older than the windows: queries become unanswered, names and retries
    /// are forgotten.
    fn sweep(&mut self, now: i64) {
        self.last_sweep_ns = now;
        self.expire(now);
        let (timeout, window) = (self.timeout_ns, self.window_ns);
        self.asks
            .retain(|_, (t, _)| now.saturating_sub(*t) <= timeout);
        self.tc_seen
            .retain(|_, t| now.saturating_sub(*t) <= timeout);
        self.names
            .retain(|_, s| now.saturating_sub(s.last_seen) <= window);
    }

    fn expire(&mut self, now: i64) {
        while let Some(&(t, key)) = self.expiry.front() {
            if now != i64::MAX && now.saturating_sub(t) <= self.timeout_ns {
                break;
            }
            self.expiry.pop_front();
            if let Some(q) = self.pending.get(&key) {
                if q.time_ns == t {
                    let si = q.server;
                    self.pending.remove(&key);
                    self.pending_queries.remove(&key);
                    self.servers[si].r.unanswered += 1;
                }
            }
        }
    }
}

/// Whether `at` in a wire-form name is the start of a label.
fn label_boundary(name: &[u8], at: usize) -> bool {
    let mut i = 0;
    while i < name.len() {
        if i == at {
            return true;
        }
        i += 1 + usize::from(name[i]);
    }
    i == at
}

#[cfg(test)]
mod tests {
    use super::FieldStats;

    fn verdict(values: impl Iterator<Item = u16>, space: f64, bits: bool) -> String {
        let mut f = FieldStats::new();
        values.for_each(|v| f.add(v));
        f.report(space, bits).verdict
    }

    #[test]
    fn latency_buckets_hold_their_values_within_an_eighth() {
        let mut last = 0;
        for us in 1..200_000u64 {
            let i = super::latency_bucket(us);
            assert!(i >= last, "{us}");
            last = i;
            let up = super::bucket_upper_us(i);
            assert!(
                up >= us as f64 && up <= us as f64 * 1.25 + 1.0,
                "{us} -> {i} -> {up}"
            );
        }
    }

    #[test]
    fn rfc5452_verdicts() {
        // A counter, a fixed port, a small pool, and a ChaCha20 stream as the random reference.
        assert!(verdict(1000..2000, 65536.0, true).starts_with("predictable: 999 of 1000"));
        assert!(verdict(std::iter::repeat_n(5353, 500), 28232.0, false).starts_with("fixed"));
        assert!(verdict(
            (0..2000u32).map(|i| (i.wrapping_mul(7919) % 64) as u16 * 3),
            65536.0,
            true
        )
        .starts_with("predictable: 64 distinct values"));
        let mut rng = crate::engine::rng::Rng::from_seed([7; 32]);
        let random: Vec<u16> = (0..2000).map(|_| rng.next_u16()).collect();
        assert_eq!(verdict(random.iter().copied(), 65536.0, true), "random");
        assert_eq!(
            verdict(random.iter().copied().take(10), 65536.0, true),
            "too few samples"
        );
    }
}
