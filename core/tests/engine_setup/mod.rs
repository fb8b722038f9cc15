//! The forwarder and the upstream answer that the engine bench (`benches/engine.rs`), the
//! instruction count (`examples/engine_icount.rs`) and `tests/hit_allocations.rs` all use.
#![allow(dead_code)]

use dnspect_core::engine::forwarder::{Config, Forwarder, UpstreamConfig};
use dnspect_core::wire::{Message, Record};

/// A forwarder with one UDP upstream labelled `label`, no events, and a fixed secret.
pub fn forwarder(label: &str) -> Forwarder {
    let cfg = Config {
        upstreams: vec![UpstreamConfig {
            label: label.into(),
            ..UpstreamConfig::default()
        }],
        events: false,
        // No loop probe among the upstream queries counted here.
        loop_check: false,
        ..Config::default()
    };
    Forwarder::new(cfg, [7; 32])
}

/// The same forwarder with per-zone forwarding (`example.com` and the reverse zones in a group
/// of their own, with its own cache rules) and local data the benchmark's name misses (a hosts
/// file, a record, a local zone): what the zone match and the local lookup add to a hit.
pub fn forwarder_with_zones(label: &str) -> Forwarder {
    use dnspect_core::engine::forwarder::{ForwardZone, ZoneCache};
    use dnspect_core::local::{HostsText, LocalAnswer, LocalConfig, LocalZone};
    let up = |l: &str| UpstreamConfig {
        label: l.into(),
        force_tcp: false,
        trusted: false,
    };
    let cfg = Config {
        upstreams: vec![up(label)],
        forward: vec![
            ForwardZone {
                zones: vec!["example.com".into()],
                upstreams: vec![up(label)],
                policy: None,
                force_tcp: false,
                upstream_udp_payload: None,
                probe: None,
                cache: ZoneCache {
                    max_ttl: Some(3600),
                    ..ZoneCache::default()
                },
            },
            ForwardZone {
                zones: vec![
                    "in-addr.arpa".into(),
                    "ip6.arpa".into(),
                    "cluster.local".into(),
                ],
                upstreams: vec![up("kube-dns")],
                policy: None,
                force_tcp: false,
                upstream_udp_payload: None,
                probe: None,
                cache: ZoneCache::default(),
            },
        ],
        local: LocalConfig {
            records: vec!["printer.lan. 300 IN A 192.168.1.20".into()],
            zones: vec![LocalZone {
                zone: "ads.example".into(),
                answer: LocalAnswer::Nxdomain,
            }],
            hosts: vec![HostsText {
                name: "hosts".into(),
                text: "127.0.0.1 localhost\n192.168.1.10 nas.lab nas\n".into(),
            }],
            ..LocalConfig::default()
        },
        events: false,
        // No loop probe among the upstream queries counted here.
        loop_check: false,
        ..Config::default()
    };
    Forwarder::new(cfg, [7; 32])
}

/// Adds the CDN answer: `www.example.com.` a CNAME to two A records.
pub fn add_cdn_answer(m: &mut Message) {
    for r in [
        "www.example.com. 300 IN CNAME www.example-cdn.net.",
        "www.example-cdn.net. 300 IN A 192.0.2.1",
        "www.example-cdn.net. 300 IN A 192.0.2.2",
    ] {
        m.answers.push(Record::from_text(r).unwrap());
    }
}

/// A client query for `name` A with ID `id` and RD set; `edns`: with an OPT of 1232 bytes.
pub fn query(name: &str, id: u16, edns: bool) -> Vec<u8> {
    use dnspect_core::wire::{Class, Edns, Question, RType};
    let mut m = Message::default();
    m.header.id = id;
    m.header.rd = true;
    m.questions.push(Question {
        name: name.parse().unwrap(),
        qtype: RType::A,
        class: Class::IN,
    });
    if edns {
        m.edns = Some(Edns::new(1232));
    }
    m.to_wire().unwrap()
}
