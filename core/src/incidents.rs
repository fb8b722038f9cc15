//! The incident library: eight public DNS incidents, each with what happened (facts taken from
//! its public thread, and the facts the thread does not give said as such), the packets (as
//! built-in examples), a scenario that replays the upstream's behaviour against dnspect's engine,
//! where dnspect's own settings can express the failure a second run with those settings, and
//! the RFCs that apply. One source for the CLI (`dnspect incidents`), the npm package
//! (`incidents()`) and the web page's gallery.
//!
//! The scenarios are the files `core/tests/scenarios/incident-*.toml`: the scenario test runs
//! them all, and the end-to-end tests in `tests/tests/incidents.rs` replay the same behaviour
//! against `dnspect serve`. The analyzer names an incident's pattern when a packet shows it
//! ([`crate::wire::inspect::analyze`]).

/// An RFC and the section of it that applies.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RfcRef {
    /// "RFC 1035 4.1.4".
    pub cite: &'static str,
    /// What it says that matters here.
    pub says: &'static str,
    pub url: &'static str,
}

/// A second run of the same upstream behaviour with dnspect configured the way the peer behaved:
/// dnspect with that policy, never a model of the peer.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PolicyRun {
    /// The settings changed, as a person would say them.
    pub settings: &'static str,
    /// The scenario (TOML, the simulator's `Scenario`).
    pub scenario: &'static str,
    /// The same scenario as JSON (what `simulate()` takes), kept equal to the TOML by a test so
    /// the wasm needs no TOML parser. Not serialized: the npm package gives it parsed.
    #[serde(skip)]
    pub scenario_json: &'static str,
}

/// One incident.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Incident {
    /// Short id, as the CLI, the page's permalink (`#incident/ID`) and the analyzer name it.
    pub id: &'static str,
    pub title: &'static str,
    /// The software that failed, with its version and configuration as the thread gives them.
    pub peer: &'static str,
    /// The public thread.
    pub thread: &'static str,
    /// What happened, from the thread.
    pub happened: &'static str,
    /// What the peer did, in one sentence (the report's table).
    pub peer_behaviour: &'static str,
    /// What dnspect does with the same upstream behaviour, as its tests measure it.
    pub dnspect_behaviour: &'static str,
    /// Facts the thread does not give, and what the packets and scenarios use instead.
    pub not_in_thread: &'static [&'static str],
    pub rfcs: &'static [RfcRef],
    /// Names of the built-in examples ([`crate::examples`]) with this incident's packets.
    pub examples: &'static [&'static str],
    /// The scenario replaying the upstream against dnspect's engine (TOML).
    pub scenario: &'static str,
    /// The same scenario as JSON (what `simulate()` takes), kept equal to the TOML by a test.
    /// Not serialized: the npm package gives it parsed.
    #[serde(skip)]
    pub scenario_json: &'static str,
    /// Its file under `core/tests/scenarios/`.
    pub scenario_file: &'static str,
    /// dnspect configured the way the peer behaved, where its settings can express it.
    pub policy: Option<PolicyRun>,
    /// Why there is no policy run, when there is none.
    pub no_policy_because: &'static str,
    /// The end-to-end test against `dnspect serve` (`tests/tests/incidents.rs`).
    pub e2e_test: &'static str,
}

const RFC1035_234: RfcRef = RfcRef {
    cite: "RFC 1035 2.3.4",
    says: "UDP messages are limited to 512 bytes (without EDNS)",
    url: "https://www.rfc-editor.org/rfc/rfc1035#section-2.3.4",
};
const RFC1035_414: RfcRef = RfcRef {
    cite: "RFC 1035 4.1.4",
    says: "message compression: a repeated name can be a 2-byte pointer to an earlier one",
    url: "https://www.rfc-editor.org/rfc/rfc1035#section-4.1.4",
};
const RFC1035_74: RfcRef = RfcRef {
    cite: "RFC 1035 7.4",
    says: "truncated data should not be cached: a later query could get it as if complete",
    url: "https://www.rfc-editor.org/rfc/rfc1035#section-7.4",
};
const RFC2181_9: RfcRef = RfcRef {
    cite: "RFC 2181 9",
    says: "TC means the answer is incomplete; a resolver retries over TCP and does not cache it",
    url: "https://www.rfc-editor.org/rfc/rfc2181#section-9",
};
const RFC2308_5: RfcRef = RfcRef {
    cite: "RFC 2308 5",
    says: "a negative answer is cached for min(SOA TTL, SOA MINIMUM), with a configurable cap",
    url: "https://www.rfc-editor.org/rfc/rfc2308#section-5",
};
const RFC2308_71: RfcRef = RfcRef {
    cite: "RFC 2308 7.1",
    says: "a server failure MUST NOT be cached for longer than five minutes",
    url: "https://www.rfc-editor.org/rfc/rfc2308#section-7.1",
};
const RFC6891_7: RfcRef = RfcRef {
    cite: "RFC 6891 7",
    says: "no OPT in the request: the responder MUST NOT include OPT in its response",
    url: "https://www.rfc-editor.org/rfc/rfc6891#section-7",
};
const RFC6891_633: RfcRef = RfcRef {
    cite: "RFC 6891 6.2.3",
    says: "the requestor's UDP payload size bounds the response; without EDNS it is 512",
    url: "https://www.rfc-editor.org/rfc/rfc6891#section-6.2.3",
};
const RFC8767: RfcRef = RfcRef {
    cite: "RFC 8767 4-5",
    says: "serve stale data when refreshing fails, with a 30 s TTL and a failure recheck timer",
    url: "https://www.rfc-editor.org/rfc/rfc8767#section-5",
};
const RFC9520_32: RfcRef = RfcRef {
    cite: "RFC 9520 3.2",
    says: "cache resolution failures for at least 1 second and at most 5 minutes, with backoff",
    url: "https://www.rfc-editor.org/rfc/rfc9520#section-3.2",
};

/// The incidents, oldest project incident first.
pub const INCIDENTS: &[Incident] = &[
    Incident {
        id: "000",
        title: "A 758-byte uncompressed answer becomes SERVFAIL behind CoreDNS forward",
        peer: "CoreDNS 1.6.7, forward plugin, in Kubernetes",
        thread: "shared/seeds/000_bda7441da5c80c2f.txt (field report; see shared/seeds/README.md)",
        happened: "Pods got SERVFAIL for api-push.vivo.com.cn while the host resolved it. The upstream \
            answered correctly with 20 A records in a 758-byte UDP packet with no name compression; \
            the client sent no EDNS, so CoreDNS read the answer into a 512-byte buffer, failed to \
            decode it (\"dns: buffer size too small\", \"overflow unpacking uint32\"), asked the next \
            upstream again and again until its deadline, and answered SERVFAIL. Compressed, the same \
            answer is 358 bytes. bufsize 4096 or force_tcp made it go away.",
        peer_behaviour: "reads a 758-byte answer into a 512-byte buffer, retries upstreams in a loop, answers SERVFAIL",
        dnspect_behaviour: "one upstream query; re-compresses 758 to 358 bytes and answers all 20 records over UDP to a client without EDNS",
        not_in_thread: &["the TTL of the records (60 is used)"],
        rfcs: &[RFC1035_414, RFC1035_234, RFC6891_633],
        examples: &["incident-000", "incident-000-compressed"],
        scenario: include_str!("../tests/scenarios/incident-000.toml"),
        scenario_json: include_str!("../tests/data/incidents/incident-000.json"),
        scenario_file: "core/tests/scenarios/incident-000.toml",
        policy: None,
        no_policy_because: "dnspect has no setting that reads upstream answers into a small buffer: every answer is read whole, up to 65535 bytes",
        e2e_test: "incident_000_dig_noedns_gets_all_20_records",
    },
    Incident {
        id: "004",
        title: "One transient NODATA is cached and repo1.maven.org stops resolving (kube-dns dnsmasq)",
        peer: "dnsmasq in kube-dns",
        thread: "shared/seeds/004_1c487ff2e2dc688e.txt (field report; see shared/seeds/README.md)",
        happened: "repo1.maven.org is a CNAME chain to sonatype.map.fastly.net. The chain resolved \
            and was cached; a refetch got NODATA for the end of the chain from one upstream, \
            dnsmasq cached the negative answer, and every later query got \"cached ... \
            NODATA-IPv4\" (\"Bad address\" in the pod) until kube-dns was restarted. The two \
            upstreams answered inconsistently: sometimes the A record, sometimes SERVFAIL. The fix \
            applied was dnsmasq --no-negcache, which throws away every legitimate negative answer too.",
        peer_behaviour: "caches a transient NODATA over a chain that was answering and serves it until restarted",
        dnspect_behaviour: "treats the NODATA as suspect, verifies it with the other upstream, keeps serving the last positive answer: every query gets the A record",
        not_in_thread: &["the record TTLs and the SOA (30 s and fastly.net's SOA with MINIMUM 300 are used)", "the A record's address (151.101.36.209 from the 151.101.x.x of the report)"],
        rfcs: &[RFC2308_5, RFC8767],
        examples: &["nodata"],
        scenario: include_str!("../tests/scenarios/incident-004.toml"),
        scenario_json: include_str!("../tests/data/incidents/incident-004.json"),
        scenario_file: "core/tests/scenarios/incident-004.toml",
        policy: Some(PolicyRun {
            settings: "suspect_window = 0s (no suspect-negative guard), serve_stale = false",
            scenario: include_str!("../tests/scenarios/incident-004-policy.toml"),
            scenario_json: include_str!("../tests/data/incidents/incident-004-policy.json"),
        }),
        no_policy_because: "",
        e2e_test: "incident_004_flapping_upstream_never_stops_the_name",
    },
    Incident {
        id: "coredns-5998",
        title: "CoreDNS 1.10.1 answers SERVFAIL with \"overflow unpacking uint16\" for upstream answers over 512 bytes",
        peer: "CoreDNS 1.10.1 on AKS, forward . /etc/resolv.conf, cache 30, upstream Azure DNS",
        thread: "https://github.com/coredns/coredns/issues/5998",
        happened: "nslookup cluster-us-east-1-152269.prevops.com through CoreDNS 1.10.1 returned \
            SERVFAIL after about 10 seconds, and CoreDNS logged \"dns: overflow unpacking uint16\". \
            The reporter's title says it happens when the upstream DNS response is more than 512 \
            bytes. It did not happen with 1.10.0, 1.9.4 or 1.9.3.",
        peer_behaviour: "fails to unpack an upstream answer over 512 bytes and answers SERVFAIL after about 10 s",
        dnspect_behaviour: "reads the whole answer, answers the client without EDNS with TC; the client's TCP retry gets every record; one upstream query",
        not_in_thread: &[
            "the records and the exact size of the upstream's answer: 30 A records from 198.51.100.0/24 (534 bytes, compressed) stand in",
            "the TTL (30, the Corefile's cache 30, is used)",
            "whether the client sent EDNS (nslookup without EDNS is assumed)",
        ],
        rfcs: &[RFC1035_234, RFC6891_633, RFC2181_9],
        examples: &["coredns-5998"],
        scenario: include_str!("../tests/scenarios/incident-coredns-5998.toml"),
        scenario_json: include_str!("../tests/data/incidents/incident-coredns-5998.json"),
        scenario_file: "core/tests/scenarios/incident-coredns-5998.toml",
        policy: None,
        no_policy_because: "dnspect has no setting that reads upstream answers into a 512-byte buffer",
        e2e_test: "coredns_5998_answer_over_512_bytes_reaches_the_client",
    },
    Incident {
        id: "coredns-5366",
        title: "CoreDNS's bufsize plugin sends an OPT record and oversized UDP answers to clients without EDNS",
        peer: "CoreDNS with the bufsize plugin (1232, as in its documentation)",
        thread: "https://github.com/coredns/coredns/issues/5366",
        happened: "With bufsize enabled, a client that sent no OPT record got a reply with an OPT \
            record, over UDP, as large as the configured buffer size rather than 512 bytes. busybox \
            nslookup longdns1.pahealy.com failed with \"Parse error\". The reporter cites RFC 1035 \
            2.3.4 (512 bytes, else truncate and set TC) and RFC 6891 7 (no OPT in the request, no OPT \
            in the response); coredns/coredns#5368 stopped bufsize from adding OPT to such replies.",
        peer_behaviour: "adds OPT to the reply of a client without EDNS and sends it more than 512 bytes over UDP",
        dnspect_behaviour: "no OPT, at most 512 bytes with TC over UDP; the TCP retry gets every record",
        not_in_thread: &[
            "the records of longdns1.pahealy.com and the reply's size: 32 A records from 203.0.113.0/24 (550 bytes) stand in",
            "the TTL (300 is used)",
        ],
        rfcs: &[RFC6891_7, RFC1035_234, RFC6891_633],
        examples: &["coredns-5366"],
        scenario: include_str!("../tests/scenarios/incident-coredns-5366.toml"),
        scenario_json: include_str!("../tests/data/incidents/incident-coredns-5366.json"),
        scenario_file: "core/tests/scenarios/incident-coredns-5366.toml",
        policy: None,
        no_policy_because: "dnspect has no setting that gives OPT to a client that sent none (RFC 6891 7 is not optional)",
        e2e_test: "coredns_5366_client_without_edns_gets_no_opt_and_512_bytes",
    },
    Incident {
        id: "coredns-7956",
        title: "A cached SERVFAIL shadows a positive answer that serve_stale could have served",
        peer: "CoreDNS cache plugin with serve_stale",
        thread: "https://github.com/coredns/coredns/issues/7956",
        happened: "CoreDNS keeps SERVFAIL in its negative cache and checks it before the positive \
            cache. With serve_stale, a transient SERVFAIL from upstream was cached; the upstream \
            recovered, yet CoreDNS kept answering SERVFAIL while the entry was fresh or within the \
            stale window, over an older positive entry that was still servable. \
            coredns/coredns#8003 made a SERVFAIL hit look for a servable positive entry first.",
        peer_behaviour: "answers the cached SERVFAIL instead of the stale positive answer, and keeps doing so after the upstream recovers",
        dnspect_behaviour: "stores the failure beside the positive entry: clients get the stale answer (TTL 30, EDE 3) while the upstream fails, the new address once it recovers",
        not_in_thread: &[
            "the name, records, TTLs and timings: app.example. A 192.0.2.10 (TTL 10), then 192.0.2.20 after recovery, stand in",
            "the CoreDNS version",
        ],
        rfcs: &[RFC8767, RFC9520_32],
        examples: &["coredns-7956-servfail"],
        scenario: include_str!("../tests/scenarios/incident-coredns-7956.toml"),
        scenario_json: include_str!("../tests/data/incidents/incident-coredns-7956.json"),
        scenario_file: "core/tests/scenarios/incident-coredns-7956.toml",
        policy: Some(PolicyRun {
            settings: "serve_stale = false",
            scenario: include_str!("../tests/scenarios/incident-coredns-7956-policy.toml"),
            scenario_json: include_str!("../tests/data/incidents/incident-coredns-7956-policy.json"),
        }),
        no_policy_because: "",
        e2e_test: "coredns_7956_stale_answer_not_cached_servfail",
    },
    Incident {
        id: "hickory-2608",
        title: "Hickory caches a truncated answer when the TCP retry fails",
        peer: "hickory-dns resolver (NameServerPool)",
        thread: "https://github.com/hickory-dns/hickory-dns/issues/2608",
        happened: "When NameServerPool gets a truncated answer it retries over TCP; when that fails it \
            returns the truncated answer, which may be cached and served to later queries, against \
            the 'should not' of RFC 1035 7.4. The conformance tests of hickory-dns/hickory-dns#2609 \
            (an authoritative server that does not answer over TCP) found BIND and Unbound \
            answering SERVFAIL while Hickory passed the truncated answer on and cached it.",
        peer_behaviour: "passes the TC=1 answer on when TCP fails, caches it and serves it to later queries",
        dnspect_behaviour: "never caches a TC=1 answer; when the TCP retry fails the client gets SERVFAIL with an EDE, and the next query asks again and gets the whole answer",
        not_in_thread: &[
            "the name and records: big.example. with 4 of its A records in the truncated answer (192.0.2.1-4) and 8 in the whole one stand in",
        ],
        rfcs: &[RFC1035_74, RFC2181_9],
        examples: &["hickory-2608-truncated"],
        scenario: include_str!("../tests/scenarios/incident-hickory-2608.toml"),
        scenario_json: include_str!("../tests/data/incidents/incident-hickory-2608.json"),
        scenario_file: "core/tests/scenarios/incident-hickory-2608.toml",
        policy: None,
        no_policy_because: "dnspect has no setting that caches truncated answers (RFC 2181 9)",
        e2e_test: "hickory_2608_truncated_answer_is_never_cached",
    },
    Incident {
        id: "kubernetes-dns-121",
        title: "kube-dns never resolves a name again after one NOERROR answer with no records",
        peer: "kube-dns 1.14.1 (k8s-dns-kube-dns-amd64:1.14.1, with dnsmasq) on minikube, Kubernetes 1.6.0",
        thread: "https://github.com/kubernetes/dns/issues/121",
        happened: "z.alp.im (Cloudflare's name servers) had no A record; dig showed NOERROR, ANSWER 0 \
            and the SOA alp.im. 1799 IN SOA ivan.ns.cloudflare.com. dns.cloudflare.com. 2025042470 \
            10000 2400 604800 3600. After an A record was added the name resolved from a laptop but \
            never from the pods: the reporter waited more than 24 hours, and days. kubernetes/kubernetes#53604 \
            added dnsmasq --no-negcache to kube-dns.",
        peer_behaviour: "keeps the NODATA far past its RFC 2308 lifetime (over 24 hours)",
        dnspect_behaviour: "caches the NODATA for min(SOA TTL 1799, MINIMUM 3600, max_negative_ttl 300) = 300 s; the new record is served after that",
        not_in_thread: &[
            "the address of the A record added later (192.0.2.1 is used)",
            "dnsmasq's version and flags",
        ],
        rfcs: &[RFC2308_5],
        examples: &["kubernetes-dns-121-nodata"],
        scenario: include_str!("../tests/scenarios/incident-kubernetes-dns-121.toml"),
        scenario_json: include_str!("../tests/data/incidents/incident-kubernetes-dns-121.json"),
        scenario_file: "core/tests/scenarios/incident-kubernetes-dns-121.toml",
        policy: Some(PolicyRun {
            settings: "max_negative_ttl = 86400 (the RFC 2308 value, 1799 s, is kept in full)",
            scenario: include_str!("../tests/scenarios/incident-kubernetes-dns-121-policy.toml"),
            scenario_json: include_str!("../tests/data/incidents/incident-kubernetes-dns-121-policy.json"),
        }),
        no_policy_because: "",
        e2e_test: "kubernetes_dns_121_nodata_expires_and_the_name_resolves",
    },
    Incident {
        id: "pdns-3469",
        title: "dnsdist may cache a SERVFAIL forever",
        peer: "dnsdist packet cache (February 2016)",
        thread: "https://github.com/PowerDNS/pdns/issues/3469",
        happened: "A dnsdist maintainer noted that dnsdist looked like it would cache a SERVFAIL \
            forever, and that SERVFAILs are useful to cache for a bit, but not for too long, which \
            would need a setting. PowerDNS/pdns#3501 added a specific TTL for SERVFAIL answers to \
            the packet cache.",
        peer_behaviour: "caches a SERVFAIL with no upper bound",
        dnspect_behaviour: "caches a failure 1 s, doubling with each failure in a row, never over 300 s (a larger failure_max_ttl is refused); the name resolves 1 s after the upstream recovers",
        not_in_thread: &[
            "a name, a duration or a capture: the thread is the maintainer's note; down.example. and an upstream that recovers after one SERVFAIL stand in",
        ],
        rfcs: &[RFC9520_32, RFC2308_71],
        examples: &["pdns-3469-servfail"],
        scenario: include_str!("../tests/scenarios/incident-pdns-3469.toml"),
        scenario_json: include_str!("../tests/data/incidents/incident-pdns-3469.json"),
        scenario_file: "core/tests/scenarios/incident-pdns-3469.toml",
        policy: Some(PolicyRun {
            settings: "failure_min_ttl = 300, failure_max_ttl = 300 (the longest dnspect allows), serve_stale = false",
            scenario: include_str!("../tests/scenarios/incident-pdns-3469-policy.toml"),
            scenario_json: include_str!("../tests/data/incidents/incident-pdns-3469-policy.json"),
        }),
        no_policy_because: "",
        e2e_test: "pdns_3469_servfail_is_cached_briefly",
    },
];

/// Looks an incident up by id (`000`, `coredns-5998`, ...); `incident-` before it is accepted.
pub fn incident(id: &str) -> Option<&'static Incident> {
    let id = id.strip_prefix("incident-").unwrap_or(id);
    INCIDENTS.iter().find(|i| i.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples::example;
    use crate::wire::text::{hex, unhex};
    use crate::wire::{Edns, Message, Question, RType, Rcode, Record};

    fn response(name: &str, id: u16, answers: &[String], authority: &[&str]) -> Message {
        let mut m = Message::default();
        m.header.id = id;
        m.header.qr = true;
        m.header.rd = true;
        m.header.ra = true;
        m.questions.push(Question {
            name: name.parse().unwrap(),
            qtype: RType::A,
            class: crate::wire::Class::IN,
        });
        m.answers = answers
            .iter()
            .map(|l| Record::from_text(l).unwrap())
            .collect();
        m.authority = authority
            .iter()
            .map(|l| Record::from_text(l).unwrap())
            .collect();
        m
    }

    fn a_records(name: &str, ttl: u32, prefix: &str, n: u8) -> Vec<String> {
        (1..=n)
            .map(|i| format!("{name} {ttl} IN A {prefix}.{i}"))
            .collect()
    }

    /// Each incident example rebuilt from zone lines with the core's builders.
    fn built(name: &str) -> Vec<u8> {
        match name {
            "coredns-5998" => {
                let n = "cluster-us-east-1-152269.prevops.com.";
                response(n, 0x4d21, &a_records(n, 30, "198.51.100", 30), &[])
                    .to_wire()
                    .unwrap()
            }
            "coredns-5366" => {
                let n = "longdns1.pahealy.com.";
                let mut m = response(n, 0x5366, &a_records(n, 300, "203.0.113", 32), &[]);
                m.edns = Some(Edns::new(1232));
                m.to_wire().unwrap()
            }
            "coredns-7956-servfail" => {
                let mut m = response("app.example.", 0x7956, &[], &[]);
                m.set_rcode(Rcode::SERVFAIL);
                m.to_wire().unwrap()
            }
            "hickory-2608-truncated" => {
                let mut m = response(
                    "big.example.",
                    0x2608,
                    &a_records("big.example.", 300, "192.0.2", 4),
                    &[],
                );
                m.header.tc = true;
                m.to_wire().unwrap()
            }
            "kubernetes-dns-121-nodata" => {
                // The dig output in the thread: id 64978, qr rd ra, NOERROR, the SOA, EDNS 4096.
                let mut m = response(
                    "z.alp.im.",
                    64978,
                    &[],
                    &["alp.im. 1799 IN SOA ivan.ns.cloudflare.com. dns.cloudflare.com. 2025042470 10000 2400 604800 3600"],
                );
                m.edns = Some(Edns::new(4096));
                m.to_wire().unwrap()
            }
            "pdns-3469-servfail" => {
                let mut m = response("down.example.", 0x3469, &[], &[]);
                m.set_rcode(Rcode::SERVFAIL);
                m.to_wire().unwrap()
            }
            other => panic!("no builder for {other}"),
        }
    }

    const BUILT: &[&str] = &[
        "coredns-5998",
        "coredns-5366",
        "coredns-7956-servfail",
        "hickory-2608-truncated",
        "kubernetes-dns-121-nodata",
        "pdns-3469-servfail",
    ];

    #[test]
    fn examples_are_the_builders_output() {
        for name in BUILT {
            let want = hex(&built(name));
            let e = example(name).unwrap_or_else(|| panic!("no example {name}: {want}"));
            assert_eq!(e.hex.trim(), want, "{name}");
        }
    }

    #[test]
    fn the_packets_have_the_sizes_the_texts_say() {
        let size = |n: &str| unhex(example(n).unwrap().hex.trim()).unwrap().len();
        assert_eq!(size("incident-000"), 758);
        assert_eq!(size("incident-000-compressed"), 358);
        assert_eq!(size("coredns-5998"), 534);
        assert_eq!(size("coredns-5366"), 561);
        let m = Message::from_wire(
            &unhex(example("kubernetes-dns-121-nodata").unwrap().hex.trim()).unwrap(),
        )
        .unwrap();
        assert_eq!(m.header.id, 64978);
        assert!(m.answers.is_empty());
        assert_eq!(m.authority[0].ttl, 1799);
    }

    #[test]
    fn every_incident_is_complete_and_its_parts_exist() {
        assert_eq!(INCIDENTS.len(), 8);
        for i in INCIDENTS {
            assert!(incident(i.id).is_some());
            assert!(!i.examples.is_empty(), "{}", i.id);
            for e in i.examples {
                assert!(example(e).is_some(), "{}: example {e}", i.id);
            }
            assert!(!i.rfcs.is_empty(), "{}", i.id);
            assert!(i.thread.starts_with("https://") || i.thread.starts_with("shared/"));
            assert_eq!(
                i.policy.is_none(),
                !i.no_policy_because.is_empty(),
                "{}",
                i.id
            );
            let mut runs = vec![i.scenario];
            runs.extend(i.policy.map(|p| p.scenario));
            for text in runs {
                assert!(text.contains("title ="), "{}", i.id);
            }
        }
        assert_eq!(incident("incident-000").unwrap().id, "000");
        assert!(incident("nope").is_none());
    }

    fn run(text: &str) -> crate::sim::SimResult {
        let s: crate::sim::Scenario = toml::from_str(text).unwrap();
        crate::sim::run(&s).unwrap()
    }

    #[test]
    fn every_scenario_and_policy_run_holds_its_expectations() {
        for i in INCIDENTS {
            let r = run(i.scenario);
            assert!(r.failures.is_empty(), "{}: {:?}", i.id, r.failures);
            // The JSON twin, as the npm package hands it to simulate().
            let j: crate::sim::Scenario = serde_json::from_str(i.scenario_json).unwrap();
            let rj = crate::sim::run(&j).unwrap();
            assert!(rj.failures.is_empty(), "{} (JSON): {:?}", i.id, rj.failures);
            assert_eq!(rj.trace, r.trace, "{}", i.id);
            if let Some(p) = i.policy {
                let r = run(p.scenario);
                assert!(r.failures.is_empty(), "{} policy: {:?}", i.id, r.failures);
                assert!(p.scenario.contains("dnspect with that policy"), "{}", i.id);
            }
        }
    }

    /// The JSON twins of the scenario files (what the wasm hands to JS) say what the TOML says.
    /// `DNSPECT_UPDATE_INCIDENTS=1` rewrites them.
    #[test]
    fn the_json_scenarios_are_the_toml_ones() {
        let mut pairs = Vec::new();
        for i in INCIDENTS {
            pairs.push((i.scenario_file.to_string(), i.scenario, i.scenario_json));
            if let Some(p) = i.policy {
                let f = i.scenario_file.replace(".toml", "-policy.toml");
                pairs.push((f, p.scenario, p.scenario_json));
            }
        }
        for (file, toml_text, json) in pairs {
            let s: crate::sim::Scenario = toml::from_str(toml_text).unwrap();
            let want = serde_json::to_string_pretty(&s).unwrap() + "\n";
            if std::env::var_os("DNSPECT_UPDATE_INCIDENTS").is_some() {
                let stem = file.rsplit('/').next().unwrap().replace(".toml", ".json");
                let path = format!("{}/tests/data/incidents/{stem}", env!("CARGO_MANIFEST_DIR"));
                std::fs::write(path, &want).unwrap();
                continue;
            }
            assert_eq!(
                json, want,
                "{file}: run with DNSPECT_UPDATE_INCIDENTS=1 to regenerate"
            );
        }
    }

    #[test]
    fn coredns_5366_the_client_without_edns_never_sees_opt_or_more_than_512_bytes() {
        let r = run(incident("coredns-5366").unwrap().scenario);
        let udp: Vec<_> = r.answers.iter().filter(|a| a.transport == "UDP").collect();
        assert!(!udp.is_empty());
        for a in &r.answers {
            let m = Message::from_wire(&unhex(&a.hex).unwrap()).unwrap();
            assert!(m.edns.is_none(), "OPT sent to a client without EDNS: {a:?}");
        }
        for a in udp {
            assert!(a.size <= 512 && a.tc, "{a:?}");
        }
    }

    #[test]
    fn the_policy_runs_fail_where_the_default_runs_do_not() {
        // The side-by-side the gallery shows: the same upstream, two outcomes.
        for id in ["004", "coredns-7956", "kubernetes-dns-121", "pdns-3469"] {
            let i = incident(id).unwrap();
            let good = run(i.scenario);
            let bad = run(i.policy.unwrap().scenario);
            let bad_answers: Vec<_> = bad
                .answers
                .iter()
                .map(|a| (a.rcode.clone(), a.answers.len()))
                .collect();
            let good_answers: Vec<_> = good
                .answers
                .iter()
                .map(|a| (a.rcode.clone(), a.answers.len()))
                .collect();
            assert_ne!(good_answers, bad_answers, "{id}");
        }
    }
}
