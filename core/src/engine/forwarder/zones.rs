//! Per-zone forwarding: which group of upstreams a name goes to (the longest configured zone
//! it is at or under; `.` is the default group), and each group's own settings (EDNS size,
//! probe, cache rules, attempt bound).
//!
//! A name's group is a function of the name under one configuration, so the cache key (which
//! holds the name) and the transaction a query joins never mix groups. A reload that moves a
//! zone re-routes the transactions in flight for it (`Forwarder::reconfigure`).

use super::*;
use crate::engine::forwarder::config::ProbeConfig;

/// One forwarding group: group 0 is the top-level `upstreams`, group `i + 1` is `forward[i]`.
#[derive(Clone, Debug)]
pub(super) struct Group {
    /// How events and reloads name it: its zones, lowercased, joined by spaces (`.` for the
    /// default group).
    pub name: String,
    pub cache: CachePolicy,
    pub udp_payload: u16,
    pub probe: Option<ProbeConfig>,
    pub max_attempts: u16,
}

/// The groups and the zone table.
#[derive(Clone, Debug)]
pub(super) struct Zones {
    pub groups: Vec<Group>,
    /// Lowercased wire zone -> group. Empty when only the default group exists.
    by_zone: HashMap<Box<[u8]>, u16, rustc_hash::FxBuildHasher>,
    /// Bit `n` set when some zone in `by_zone` is `n` bytes long in wire form: a suffix of
    /// another length is not hashed or looked up (most names try one suffix, not one a label).
    lens: [u64; 4],
    /// The same zones as a list, searched instead of `by_zone` when there are at most
    /// [`LINEAR_ZONES`]: comparing a suffix with the one or two zones of its length is cheaper
    /// than hashing it.
    list: Vec<(Box<[u8]>, u16)>,
    /// The group of names in no configured zone: 0, or the group that lists `.`.
    default: u16,
}

impl Zones {
    pub fn new(cfg: &Config) -> Zones {
        let attempts = |n: usize| {
            let n = u16::try_from(n).unwrap_or(u16::MAX);
            cfg.max_attempts
                .map_or_else(|| decide::attempt_bound(n), |m| m.max(1))
        };
        let mut groups = vec![Group {
            name: ".".into(),
            cache: cfg.cache,
            udp_payload: cfg.upstream_udp_payload,
            probe: cfg.probe.clone(),
            max_attempts: attempts(cfg.upstreams.len()),
        }];
        let mut by_zone = HashMap::default();
        let mut lens = [0u64; 4];
        let mut list: Vec<(Box<[u8]>, u16)> = Vec::new();
        let mut default = 0;
        for (i, f) in cfg.forward.iter().enumerate() {
            let g = (i + 1) as u16;
            let mut names = Vec::new();
            for z in &f.zones {
                if let Ok(n) = zone_name(z) {
                    let n = n.to_lowercase();
                    names.push(n.to_string());
                    if n.is_root() {
                        default = g;
                    } else {
                        let len = n.as_wire().len();
                        lens[len / 64 % 4] |= 1 << (len % 64);
                        by_zone.insert(n.as_wire().into(), g);
                        // A zone listed twice: the last group wins, as in the map.
                        match list.iter_mut().find(|(z, _)| &z[..] == n.as_wire()) {
                            Some((_, at)) => *at = g,
                            None => list.push((n.as_wire().into(), g)),
                        }
                    }
                }
            }
            groups.push(Group {
                name: names.join(" "),
                cache: f.cache.apply(&cfg.cache),
                udp_payload: f.upstream_udp_payload.unwrap_or(cfg.upstream_udp_payload),
                probe: f.probe.clone(),
                max_attempts: attempts(f.upstreams.len()),
            });
        }
        Zones {
            groups,
            by_zone,
            lens,
            list,
            default,
        }
    }

    /// The upstreams of every group in order, for [`Upstreams::grouped`].
    pub fn upstreams(cfg: &Config) -> Upstreams {
        let group = |ups: &[UpstreamConfig], force: bool| -> Vec<(String, bool)> {
            ups.iter()
                .map(|u| (u.label.clone(), u.stream_only() || force))
                .collect()
        };
        Upstreams::grouped(
            core::iter::once((group(&cfg.upstreams, false), cfg.policy)).chain(
                cfg.forward.iter().map(|f| {
                    (
                        group(&f.upstreams, f.force_tcp),
                        f.policy.unwrap_or(cfg.policy),
                    )
                }),
            ),
        )
    }

    /// The group of a name (lowercased, wire form): the longest zone it is at or under.
    #[inline]
    pub fn group_of(&self, lower: &[u8]) -> usize {
        if self.by_zone.is_empty() {
            return usize::from(self.default);
        }
        let mut at = 0;
        while let Some(&len) = lower.get(at) {
            if len == 0 {
                break;
            }
            let n = lower.len() - at;
            if self.lens[n / 64 % 4] & 1 << (n % 64) != 0 {
                let suffix = &lower[at..];
                if self.by_zone.len() <= LINEAR_ZONES {
                    for (z, g) in &self.list {
                        if same(z, suffix) {
                            return usize::from(*g);
                        }
                    }
                } else if let Some(&g) = self.by_zone.get(suffix) {
                    return usize::from(g);
                }
            }
            at += 1 + usize::from(len);
        }
        usize::from(self.default)
    }

    pub fn get(&self, g: usize) -> &Group {
        &self.groups[g.min(self.groups.len() - 1)]
    }

    /// Whether events should say which zone a query went by (only with forward groups).
    pub fn named(&self) -> bool {
        self.groups.len() > 1
    }
}

/// Zones up to which `group_of` compares a name's suffixes with a list instead of hashing.
const LINEAR_ZONES: usize = 16;

/// Byte equality of two slices, eight bytes at a time and without a call to `memcmp` (names
/// are short): whole words, then the last eight bytes (overlapping) for the tail.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    fn word(s: &[u8], i: usize) -> Option<u64> {
        s.get(i..i + 8)
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
            .map(u64::from_ne_bytes)
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    i == n || word(a, n - 8) == word(b, n - 8)
}

/// A zone as configuration writes it: a domain name, or a network in CIDR notation for its
/// reverse zone, as CoreDNS accepts (`10.0.0.0/8` is `10.in-addr.arpa.`, `2001:db8::/32` is
/// `8.b.d.0.1.0.0.2.ip6.arpa.`). The prefix must end on a label: a multiple of 8 bits for IPv4,
/// of 4 for IPv6.
pub fn zone_name(z: &str) -> Result<Name, String> {
    let Some((addr, prefix)) = z.split_once('/') else {
        return z
            .parse::<Name>()
            .map_err(|e| format!("{z:?} is not a domain name: {e}"));
    };
    let ip: std::net::IpAddr = addr.parse().map_err(|_| {
        format!("{z:?}: {addr:?} is not an IP address (a reverse zone is ADDR/PREFIX)")
    })?;
    let (max, step) = if ip.is_ipv4() { (32, 8) } else { (128, 4) };
    let p: u32 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= max && p % step == 0)
        .ok_or_else(|| {
            format!("{z:?}: the prefix must be 0..={max} and a multiple of {step} (a reverse zone ends on a label)")
        })?;
    let full = crate::local::hosts::reverse_name(ip);
    // Keep the labels the prefix covers, then the in-addr.arpa/ip6.arpa suffix.
    let keep = (p / step) as usize;
    let labels: Vec<&[u8]> = full.labels().collect();
    let n = (max / step) as usize;
    let start = n - keep;
    Name::from_labels(&labels[start..]).map_err(|e| format!("{z:?}: {e}"))
}

/// The flat list of upstream labels, in [`UpstreamId`] order: the default group's, then each
/// `forward` group's. Shells map an [`UpstreamQuery`]'s upstream to an address with it.
pub fn upstream_labels(cfg: &Config) -> Vec<&UpstreamConfig> {
    cfg.upstreams
        .iter()
        .chain(cfg.forward.iter().flat_map(|f| f.upstreams.iter()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::forwarder::ForwardZone;

    fn zone(zones: &[&str], up: &str) -> ForwardZone {
        ForwardZone {
            zones: zones.iter().map(|z| z.to_string()).collect(),
            upstreams: vec![UpstreamConfig {
                label: up.into(),
                force_tcp: false,
                trusted: false,
            }],
            policy: None,
            force_tcp: false,
            upstream_udp_payload: None,
            probe: None,
            cache: Default::default(),
        }
    }

    fn wire(n: &str) -> Vec<u8> {
        n.parse::<Name>().unwrap().to_lowercase().as_wire().to_vec()
    }

    #[test]
    fn reverse_zones_in_cidr_notation() {
        let z = |s: &str| zone_name(s).map(|n| n.to_string());
        assert_eq!(z("10.0.0.0/8").unwrap(), "10.in-addr.arpa.");
        assert_eq!(z("192.168.1.0/24").unwrap(), "1.168.192.in-addr.arpa.");
        assert_eq!(z("0.0.0.0/0").unwrap(), "in-addr.arpa.");
        assert_eq!(z("2001:db8::/32").unwrap(), "8.b.d.0.1.0.0.2.ip6.arpa.");
        assert_eq!(z("cluster.local").unwrap(), "cluster.local.");
        assert!(z("10.0.0.0/12").unwrap_err().contains("multiple of 8"));
        assert!(z("2001:db8::/33").unwrap_err().contains("multiple of 4"));
        assert!(z("10.0.0/8").unwrap_err().contains("not an IP address"));
        assert!(z("a..b").unwrap_err().contains("not a domain name"));
    }

    /// The longest configured zone a name is at or under, the slow way: every suffix against
    /// every zone (the last group listing a zone wins).
    fn naive(cfg: &Config, name: &str) -> usize {
        let n = wire(name);
        let mut best: Option<(usize, usize)> = None;
        for (i, f) in cfg.forward.iter().enumerate() {
            for z in &f.zones {
                let zw = wire(z);
                let mut at = 0;
                while at < n.len() {
                    if n[at..] == zw[..] && best.is_none_or(|(len, _)| zw.len() >= len) {
                        best = Some((zw.len(), i + 1));
                    }
                    if n[at] == 0 {
                        break;
                    }
                    at += 1 + usize::from(n[at]);
                }
            }
        }
        best.map_or(0, |(_, g)| g)
    }

    #[test]
    fn the_list_and_the_map_find_the_same_groups() {
        // Few zones (compared as a list) and many (hashed), zones of the same length as the
        // names' suffixes, one zone listed twice (the last group wins).
        let names = [
            "a.example.com.",
            "example.com.",
            "xample.com.",
            "b.exbmple.com.",
            "deep.a.b.c.zone7.test.",
            "zone7.test.",
            "zone17.test.",
            "other.",
            ".",
            "a-very-long-label-name-of-thirty.zone19.test.",
        ];
        for count in [3usize, LINEAR_ZONES, LINEAR_ZONES + 4] {
            let mut forward: Vec<ForwardZone> = (0..count)
                .map(|i| zone(&[&format!("zone{i}.test")], "u"))
                .collect();
            forward.push(zone(&["example.com", "exbmple.com"], "v"));
            forward.push(zone(&["example.com"], "w"));
            let cfg = Config {
                forward,
                // No loop probe among the upstream queries counted here.
                loop_check: false,
                ..Config::default()
            };
            let z = Zones::new(&cfg);
            for n in names {
                assert_eq!(
                    z.group_of(&wire(n)),
                    naive(&cfg, n),
                    "{n} with {count} zones"
                );
            }
            assert_eq!(z.group_of(&wire("a.example.com.")), count + 2);
        }
    }

    #[test]
    fn same_compares_every_byte() {
        for len in 0..40usize {
            let a: Vec<u8> = (0..len as u8).collect();
            assert!(same(&a, &a.clone()));
            for i in 0..len {
                let mut b = a.clone();
                b[i] ^= 0x20;
                assert!(!same(&a, &b), "len {len}, byte {i}");
            }
            assert!(!same(&a, &a[..len.saturating_sub(1)]) || len == 0);
        }
    }

    #[test]
    fn longest_suffix_wins_and_dot_is_the_default() {
        let cfg = Config {
            forward: vec![
                zone(&["cluster.local", "in-addr.arpa"], "10.96.0.10"),
                zone(&["svc.cluster.local"], "10.96.0.11"),
                zone(&["10.in-addr.arpa"], "10.96.0.12"),
            ],
            // No loop probe among the upstream queries counted here.
            loop_check: false,
            ..Config::default()
        };
        let z = Zones::new(&cfg);
        assert_eq!(z.group_of(&wire("example.com.")), 0);
        assert_eq!(z.group_of(&wire(".")), 0);
        assert_eq!(z.group_of(&wire("cluster.local.")), 1);
        assert_eq!(z.group_of(&wire("a.b.cluster.local.")), 1);
        assert_eq!(z.group_of(&wire("x.svc.cluster.local.")), 2);
        assert_eq!(z.group_of(&wire("1.2.0.10.in-addr.arpa.")), 3);
        assert_eq!(z.group_of(&wire("1.2.0.192.in-addr.arpa.")), 1);
        // Whole labels only: "notcluster.local" is not under "cluster.local".
        assert_eq!(z.group_of(&wire("notcluster.local.")), 0);
        let labels: Vec<&str> = upstream_labels(&cfg)
            .iter()
            .map(|u| u.label.as_str())
            .collect();
        assert_eq!(labels, ["10.96.0.10", "10.96.0.11", "10.96.0.12"]);
        // `.` in a forward group makes it the default.
        let cfg = Config {
            forward: vec![zone(&["."], "192.0.2.1"), zone(&["lan"], "192.168.1.1")],
            // No loop probe among the upstream queries counted here.
            loop_check: false,
            ..Config::default()
        };
        let z = Zones::new(&cfg);
        assert_eq!(z.group_of(&wire("example.com.")), 1);
        assert_eq!(z.group_of(&wire("nas.lan.")), 2);
    }

    fn drain(f: &mut Forwarder) -> Vec<Output> {
        let mut out = Vec::new();
        for _ in 0..1000 {
            match f.poll() {
                Output::Wake(_) => break,
                o => out.push(o),
            }
        }
        out
    }

    #[test]
    fn a_reload_that_moves_a_zone_reroutes_the_query_in_flight() {
        let base = Config {
            upstreams: vec![UpstreamConfig {
                label: "public".into(),
                force_tcp: false,
                trusted: false,
            }],
            events: false,
            // No loop probe among the upstream queries counted here.
            loop_check: false,
            ..Config::default()
        };
        let mut f = Forwarder::new(base.clone(), [7; 32]);
        let n: Name = "a.corp.example.".parse().unwrap();
        let mut question = n.as_wire().to_vec();
        question.extend_from_slice(&[0, 1, 0, 1]);
        let q = build::query(0x4242, false, &question, None);
        f.handle(Input::Query {
            now: Duration::ZERO,
            client: ClientId(1),
            transport: Transport::Udp,
            bytes: &q,
        });
        let sent: Vec<UpstreamQuery> = drain(&mut f)
            .into_iter()
            .filter_map(|o| match o {
                Output::Query(q) => Some(q),
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].upstream, UpstreamId(0), "the default group");
        // The reload forwards corp.example elsewhere: the attempt in flight is abandoned and
        // the query asked again in the zone's group.
        let moved = Config {
            forward: vec![zone(&["corp.example"], "corp")],
            ..base
        };
        f.reconfigure(moved);
        f.handle(Input::Tick {
            now: Duration::from_millis(1),
        });
        let out = drain(&mut f);
        assert!(
            out.contains(&Output::UpstreamDone {
                token: sent[0].token
            }),
            "{out:?}"
        );
        let again: Vec<&UpstreamQuery> = out
            .iter()
            .filter_map(|o| match o {
                Output::Query(q) => Some(q),
                _ => None,
            })
            .collect();
        assert_eq!(again.len(), 1, "{out:?}");
        assert_eq!(
            again[0].upstream,
            UpstreamId(1),
            "the corp group's upstream"
        );
        // A late answer from the old upstream is no answer any more.
        assert!(!f.awaits(sent[0].token));
        assert!(f.awaits(again[0].token));
    }

    #[test]
    fn a_group_has_its_own_transport_and_edns_size() {
        let mut tcp = zone(&["corp.example"], "corp");
        tcp.force_tcp = true;
        tcp.upstream_udp_payload = Some(600);
        let cfg = Config {
            upstreams: vec![UpstreamConfig {
                label: "public".into(),
                force_tcp: false,
                trusted: false,
            }],
            forward: vec![tcp],
            events: false,
            // No loop probe among the upstream queries counted here.
            loop_check: false,
            ..Config::default()
        };
        let mut f = Forwarder::new(cfg, [3; 32]);
        let mut sent = Vec::new();
        for (i, name) in ["a.corp.example.", "a.example.com."].iter().enumerate() {
            let n: Name = name.parse().unwrap();
            let mut question = n.as_wire().to_vec();
            question.extend_from_slice(&[0, 1, 0, 1]);
            let q = build::query(i as u16, false, &question, None);
            f.handle(Input::Query {
                now: Duration::ZERO,
                client: ClientId(i as u64),
                transport: Transport::Udp,
                bytes: &q,
            });
            sent.extend(drain(&mut f).into_iter().filter_map(|o| match o {
                Output::Query(q) => Some(q),
                _ => None,
            }));
        }
        assert_eq!(sent.len(), 2);
        let size = |q: &UpstreamQuery| {
            Message::from_wire(&q.bytes)
                .unwrap()
                .edns
                .map(|e| e.udp_size)
        };
        assert_eq!(
            (sent[0].upstream, sent[0].transport),
            (UpstreamId(1), Transport::Tcp)
        );
        assert_eq!(size(&sent[0]), Some(600));
        assert_eq!(
            (sent[1].upstream, sent[1].transport),
            (UpstreamId(0), Transport::Udp)
        );
        assert_eq!(size(&sent[1]), Some(1232));
    }
}
