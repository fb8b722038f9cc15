//! Properties of the engine under random upstream behaviour: it never sends more upstream
//! queries than the attempt bound allows, never answers a client twice, never answers after the
//! query's deadline, and stays within its memory bounds.
#![allow(clippy::unwrap_used)]
use dnspect_core::engine::event::EventKind;
use dnspect_core::engine::forwarder::Config;
use dnspect_core::engine::upstreams::Policy;
use dnspect_core::sim::{run, Behaviour, ClientQuery, Rule, Scenario, ScriptedUpstream};
use proptest::prelude::*;

fn behaviour() -> impl Strategy<Value = Behaviour> {
    let kinds = prop_oneof![
        Just(("answer", false, false)),
        Just(("answer", true, false)),
        Just(("answer", false, true)),
        Just(("servfail", false, false)),
        Just(("refused", false, false)),
        Just(("nxdomain", false, false)),
        Just(("garbage", false, false)),
        Just(("silence", false, false)),
    ];
    (
        kinds,
        0u64..3000,
        prop::option::of(prop_oneof![Just("wrong_id"), Just("wrong_question")]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |((kind, tc, rej), delay_ms, spoof, uncompressed, soa)| Behaviour {
                kind: kind.into(),
                answer: if kind == "answer" {
                    vec![
                        "n.example. 30 IN A 192.0.2.1".into(),
                        "n.example. 30 IN A 192.0.2.2".into(),
                    ]
                } else {
                    vec![]
                },
                authority: if soa {
                    vec!["example. 60 IN SOA ns.example. h.example. 1 2 3 4 20".into()]
                } else {
                    vec![]
                },
                tc_over_udp: tc,
                reject_edns: rej,
                uncompressed,
                spoof: spoof.map(String::from),
                delay_ms,
                garbage_len: Some(30),
                ..Behaviour::default()
            },
        )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let upstream = prop::collection::vec(behaviour(), 1..6).prop_map(|respond| ScriptedUpstream {
        label: "u".into(),
        force_tcp: false,
        rules: vec![Rule {
            name: None,
            qtype: None,
            respond,
            cycle: true,
        }],
    });
    let query = (
        // Bursts: many queries within one attempt timeout, so the in-flight bound is reached.
        prop_oneof![0u64..20_000, 0u64..300],
        0usize..8,
        prop::option::of(prop_oneof![Just(512u16), Just(1232), Just(4096)]),
        any::<bool>(),
    )
        .prop_map(|(at_ms, n, edns, tcp)| ClientQuery {
            at_ms,
            client: 1,
            name: [
                "n.example.",
                "m.example.",
                "N.EXAMPLE.",
                "a.example.",
                "b.example.",
                "c.example.",
                "d.example.",
                "e.example.",
            ][n]
                .into(),
            qtype: "A".into(),
            edns,
            dnssec_ok: false,
            tcp,
            retry_tcp_on_tc: false,
            expect: None,
        });
    (
        prop::collection::vec(upstream, 1..4),
        prop::collection::vec(query, 1..40),
        any::<u64>(),
        1u16..5,
        0u32..2,
        1usize..5,
    )
        .prop_map(
            |(mut upstreams, queries, seed, max_attempts, neg, max_inflight)| {
                for (i, u) in upstreams.iter_mut().enumerate() {
                    u.label = format!("10.0.0.{}", i + 1);
                }
                Scenario {
                    title: "random".into(),
                    seed,
                    config: {
                        let mut c = Config {
                            policy: Policy::Sequential,
                            max_attempts: Some(max_attempts),
                            max_inflight,
                            max_waiters: 3,
                            ..Config::default()
                        };
                        c.cache.max_negative_ttl = neg * 300;
                        c.cache.size = 4096;
                        c
                    },
                    upstreams,
                    queries,
                    run_until_ms: Some(200_000),
                    ..Scenario::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn engine_invariants(s in scenario()) {
        let r = run(&s).unwrap();
        let stats = r.stats.clone().unwrap();
        let max_attempts = u64::from(s.config.max_attempts.unwrap());
        // Every transaction (client miss, prefetch, verification) is bounded by the attempt bound.
        let txns = stats.cache_misses - stats.coalesced + stats.prefetches + stats.verifications;
        prop_assert!(r.upstream_queries as u64 <= txns * max_attempts, "{} upstream queries for {} transactions x {}", r.upstream_queries, txns, max_attempts);
        // And per transaction: no upstream query is an attempt past the bound (a total alone
        // would let one transaction loop while others used fewer).
        let forwarded = r.events.iter().filter_map(|e| match &e.kind {
            EventKind::Forwarded { attempt, .. } => Some(u64::from(*attempt)),
            _ => None,
        });
        let mut n = 0;
        for attempt in forwarded {
            n += 1;
            prop_assert!(attempt <= max_attempts, "attempt {attempt} over the bound {max_attempts}");
        }
        prop_assert_eq!(n, r.upstream_queries, "one Forwarded event per upstream query");
        // Each client query is answered exactly once, within its deadline.
        let deadline = s.config.query_timeout.as_millis() as u64;
        let mut count = vec![0; s.queries.len()];
        for a in &r.answers {
            count[a.query] += 1;
            let q = &s.queries[a.query];
            prop_assert!(a.at_ms <= q.at_ms + deadline, "query {} answered at {} ms, deadline {}", a.query, a.at_ms, q.at_ms + deadline);
            prop_assert!(a.rcode != "undecodable");
            if !q.tcp {
                let limit = q.edns.map_or(512, |e| usize::from(e.clamp(512, 1232)));
                prop_assert!(a.size <= limit, "UDP answer of {} B over the client's {} B", a.size, limit);
            }
        }
        prop_assert!(count.iter().all(|&c| c == 1), "answers per query: {count:?}");
        // The store's own figure against its budget; core/tests/store_memory.rs checks that
        // figure against the heap with a counting allocator.
        prop_assert!(r.peak_cache_bytes <= 4096);
        prop_assert!(r.peak_in_flight <= s.config.max_inflight, "{} transactions in flight, bound {}", r.peak_in_flight, s.config.max_inflight);
    }
}
