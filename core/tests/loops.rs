//! Forwarding loops (`forwarder::loops`): the engine's probe comes back to it as a client
//! query when an upstream forwards back; the upstream is then marked, never asked again until
//! a reload, and every query it alone could answer gets SERVFAIL at once with the reason
//! instead of waiting for the query timeout. Driven by hand, as a shell would: the probe's
//! bytes are fed back as the client query a loop delivers.
#![allow(clippy::unwrap_used)]

mod engine_setup;

use std::sync::Arc;
use std::time::Duration;

use dnspect_core::engine::event::EventKind;
use dnspect_core::engine::forwarder::{
    ClientId, Config, ForwardZone, Forwarder, Input, LoopTable, Output, UpstreamConfig,
    UpstreamQuery, ZoneCache,
};
use dnspect_core::engine::Transport;
use dnspect_core::local::{LocalAnswer, LocalZone};
use dnspect_core::wire::{Edns, EdnsOption, Message, RType, Rcode};

fn up(label: &str) -> UpstreamConfig {
    UpstreamConfig {
        label: label.into(),
        ..UpstreamConfig::default()
    }
}

/// The loop check is off by default: these engines turn it on.
fn cfg(labels: &[&str]) -> Config {
    Config {
        upstreams: labels.iter().map(|l| up(l)).collect(),
        events: true,
        loop_check: true,
        ..Config::default()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A query for `name` A with ID `id`, RD and EDNS (1232).
fn query(name: &str, id: u16) -> Vec<u8> {
    engine_setup::query(name, id, true)
}

#[derive(Default, Debug)]
struct Out {
    answers: Vec<(ClientId, Message)>,
    queries: Vec<UpstreamQuery>,
    events: Vec<EventKind>,
}

fn drain(f: &mut Forwarder) -> Out {
    let mut o = Out::default();
    for _ in 0..10_000 {
        match f.poll() {
            Output::Answer(a) => o
                .answers
                .push((a.client, Message::from_wire(&a.bytes).unwrap())),
            Output::Query(q) => o.queries.push(q),
            Output::Event(e) => o.events.push(e.kind),
            Output::Wake(_) => break,
            _ => {}
        }
    }
    o
}

fn tick(f: &mut Forwarder, now: Duration) -> Out {
    f.handle(Input::Tick { now });
    drain(f)
}

fn ask(f: &mut Forwarder, now: Duration, client: u64, bytes: &[u8]) -> Out {
    f.handle(Input::Query {
        now,
        client: ClientId(client),
        transport: Transport::Udp,
        bytes,
    });
    drain(f)
}

/// The question of an upstream query.
fn question(q: &UpstreamQuery) -> (String, RType) {
    let m = Message::from_wire(&q.bytes).unwrap();
    (m.questions[0].name.to_string(), m.questions[0].qtype)
}

fn probes(o: &Out) -> Vec<&UpstreamQuery> {
    o.queries
        .iter()
        .filter(|q| question(q).0.contains(".dnspect-loop-check."))
        .collect()
}

fn ede(m: &Message) -> Option<(u16, String)> {
    m.edns
        .as_ref()?
        .extended_error()
        .map(|(c, t)| (c, t.to_string()))
}

#[test]
fn a_probe_that_comes_back_marks_its_upstream_and_misses_are_answered_at_once() {
    let mut f = Forwarder::new(cfg(&["127.0.0.1:53"]), [1; 32]);
    let o = tick(&mut f, ms(0));
    // One probe per upstream at start: HINFO for a random name under the zone.
    let p = probes(&o);
    assert_eq!(p.len(), 1, "{o:?}");
    let (name, qtype) = question(p[0]);
    assert_eq!(qtype, RType::HINFO);
    let random = name.split('.').next().unwrap();
    assert_eq!(random.len(), 16, "{name}");
    assert!(name.ends_with(".dnspect-loop-check."), "{name}");
    assert_eq!(f.loop_verdict(), None);

    // The upstream is this server: the probe arrives as a client query.
    let back = ask(&mut f, ms(3), 77, &p[0].bytes);
    assert!(back.queries.is_empty(), "the loop stops here: {back:?}");
    assert_eq!(back.answers.len(), 1);
    let (client, m) = &back.answers[0];
    assert_eq!(client.0, 77);
    assert_eq!(m.rcode(), Rcode::SERVFAIL);
    let (code, text) = ede(m).expect("an EDE says why");
    assert_eq!(code, 0);
    assert!(
        text.starts_with("forwarding loop via 127.0.0.1:53"),
        "{text}"
    );
    let detected: Vec<_> = back
        .events
        .iter()
        .filter(|e| matches!(e, EventKind::LoopDetected { .. }))
        .collect();
    assert_eq!(detected.len(), 1, "{:?}", back.events);
    assert_eq!(f.stats().loops_detected, 1);
    assert_eq!(
        f.loop_verdict().as_deref(),
        Some("forwarding loop via 127.0.0.1:53")
    );
    assert_eq!(f.upstreams_usable(), 0);
    assert_eq!(f.upstream_loops(), vec![("127.0.0.1:53".to_string(), true)]);

    // Our own SERVFAIL comes back as the probe's answer: no second detection, no "no loop".
    let mut answer = back.answers[0].1.clone();
    answer.header.id = Message::from_wire(&p[0].bytes).unwrap().header.id;
    f.handle(Input::Response {
        now: ms(4),
        token: p[0].token,
        transport: Transport::Udp,
        bytes: &answer.to_wire().unwrap(),
    });
    let o = drain(&mut f);
    assert!(
        !o.events.iter().any(|e| matches!(
            e,
            EventKind::LoopCheck { .. } | EventKind::LoopDetected { .. }
        )),
        "{o:?}"
    );
    assert_eq!(f.stats().loops_detected, 1);

    // A client's miss: SERVFAIL at once, nothing sent upstream, nothing cached.
    let o = ask(&mut f, ms(10), 1, &query("www.example.", 9));
    assert!(o.queries.is_empty(), "{o:?}");
    let (_, m) = &o.answers[0];
    assert_eq!(m.rcode(), Rcode::SERVFAIL);
    let (code, text) = ede(m).unwrap();
    assert_eq!(code, 22);
    assert!(text.contains("forwarding loop via 127.0.0.1:53"), "{text}");
    assert_eq!(
        f.cache_stats().keys,
        0,
        "neither the probe nor the failure is cached"
    );
    assert_eq!(f.stats().loop_answers, 2);

    // A reload clears the mark and probes again, with a new name.
    f.reconfigure(cfg(&["127.0.0.1:53"]));
    assert_eq!(f.loop_verdict(), None);
    let o = tick(&mut f, ms(20));
    let again = probes(&o);
    assert_eq!(again.len(), 1);
    assert_ne!(question(again[0]).0, name, "a new name per check");
    // The old name is forgotten: it is an ordinary query now (forwarded, not a loop).
    let o = ask(&mut f, ms(21), 78, &p[0].bytes);
    assert_eq!(o.queries.len(), 1, "{o:?}");
    assert_eq!(f.loop_verdict(), None);
}

#[test]
fn one_looping_upstream_of_two_is_skipped_and_the_other_answers() {
    let mut f = Forwarder::new(cfg(&["10.0.0.1:53", "10.0.0.2:53"]), [2; 32]);
    let o = tick(&mut f, ms(0));
    let p = probes(&o);
    assert_eq!(p.len(), 2);
    let looping = p.iter().find(|q| q.upstream.0 == 0).unwrap();
    ask(&mut f, ms(1), 5, &looping.bytes);
    assert_eq!(
        f.loop_verdict(),
        None,
        "the group still has a usable upstream"
    );
    assert_eq!(f.upstreams_usable(), 1);
    for i in 0..20u16 {
        let o = ask(
            &mut f,
            ms(2 + u64::from(i)),
            100 + u64::from(i),
            &query(&format!("n{i}.example."), i),
        );
        assert_eq!(o.queries.len(), 1);
        assert_eq!(o.queries[0].upstream.0, 1, "never the looping upstream");
    }
}

#[test]
fn a_query_in_flight_when_the_loop_is_found_gets_servfail_at_its_next_attempt() {
    let mut f = Forwarder::new(cfg(&["127.0.0.1:53"]), [3; 32]);
    let p = tick(&mut f, ms(0)).queries;
    let o = ask(&mut f, ms(1), 1, &query("www.example.", 1));
    assert_eq!(o.queries.len(), 1);
    ask(&mut f, ms(2), 2, &p[0].bytes);
    // The attempt times out (1.5 s); the next one finds no upstream to ask.
    let o = tick(&mut f, ms(1600));
    let mine: Vec<_> = o.answers.iter().filter(|(c, _)| c.0 == 1).collect();
    assert_eq!(
        mine.len(),
        1,
        "answered at the first timeout, not the 4 s deadline: {o:?}"
    );
    assert_eq!(mine[0].1.rcode(), Rcode::SERVFAIL);
    assert!(ede(&mine[0].1).unwrap().1.contains("forwarding loop via"));
    assert!(o.queries.iter().all(|q| !question(q).0.starts_with("www")));
}

#[test]
fn workers_sharing_a_table_see_each_others_probes_and_marks() {
    let table = Arc::new(LoopTable::new());
    let mut a = Forwarder::new(cfg(&["127.0.0.1:53"]), [4; 32]).with_loop_table(table.clone());
    let mut b = Forwarder::new(cfg(&["127.0.0.1:53"]), [5; 32]).with_loop_table(table.clone());
    let pa = tick(&mut a, ms(0)).queries;
    let pb = tick(&mut b, ms(0)).queries;
    assert_ne!(question(&pa[0]).0, question(&pb[0]).0);
    assert_eq!(table.probes(), 2);
    // The kernel hands worker A's probe to worker B.
    let o = ask(&mut b, ms(1), 9, &pa[0].bytes);
    assert_eq!(o.answers[0].1.rcode(), Rcode::SERVFAIL);
    assert!(o.queries.is_empty());
    // A sees the mark without having seen anything itself.
    assert_eq!(
        a.loop_verdict().as_deref(),
        Some("forwarding loop via 127.0.0.1:53")
    );
    let o = ask(&mut a, ms(2), 1, &query("x.example.", 3));
    assert!(o.queries.is_empty(), "{o:?}");
    assert_eq!(table.looping().len(), 1);
    assert_eq!(table.looping()[0].upstream, "127.0.0.1:53");
}

#[test]
fn an_upstream_that_answers_the_probe_is_clear_and_nothing_is_cached() {
    let mut f = Forwarder::new(cfg(&["192.0.2.53:53"]), [6; 32]);
    let p = tick(&mut f, ms(0)).queries;
    let q = Message::from_wire(&p[0].bytes).unwrap();
    let mut a = q.clone();
    a.header.qr = true;
    a.set_rcode(Rcode::NXDOMAIN);
    f.handle(Input::Response {
        now: ms(5),
        token: p[0].token,
        transport: Transport::Udp,
        bytes: &a.to_wire().unwrap(),
    });
    let o = drain(&mut f);
    let checks: Vec<String> = o
        .events
        .iter()
        .filter_map(|e| match e {
            EventKind::LoopCheck { result, .. } => Some(result.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(checks.len(), 1, "{o:?}");
    assert!(checks[0].contains("no loop"), "{checks:?}");
    assert_eq!(f.cache_stats().keys, 0, "a probe's answer is never cached");
    assert_eq!(f.loop_verdict(), None);
    // No more probes for it.
    let o = tick(&mut f, ms(10_000));
    assert!(probes(&o).is_empty(), "{o:?}");
}

#[test]
fn a_probe_without_answer_is_sent_again_with_the_same_name_then_given_up() {
    let mut f = Forwarder::new(cfg(&["192.0.2.53:53"]), [7; 32]);
    let first = tick(&mut f, ms(0)).queries;
    let name = question(&first[0]).0;
    let mut sent = 1;
    let mut gave_up = false;
    let mut now = 0;
    while now < 120_000 {
        now += 100;
        let o = tick(&mut f, ms(now));
        for p in probes(&o) {
            assert_eq!(question(p).0, name);
            sent += 1;
        }
        gave_up |= o.events.iter().any(|e| {
            matches!(e, EventKind::LoopCheck { result, .. } if result.contains("no answer to 15 probes"))
        });
    }
    assert_eq!(sent, 15);
    assert!(gave_up);
    assert_eq!(f.loop_verdict(), None);
}

#[test]
fn an_upstream_reporting_a_loop_is_marked_too() {
    // Another dnspect that found the loop first answers every query with the reason.
    let mut f = Forwarder::new(cfg(&["127.0.0.2:53"]), [8; 32]);
    let p = tick(&mut f, ms(0)).queries;
    let q = Message::from_wire(&p[0].bytes).unwrap();
    let mut a = q.clone();
    a.header.qr = true;
    a.set_rcode(Rcode::SERVFAIL);
    let mut edns = Edns::new(1232);
    edns.options.push(EdnsOption::ExtendedError {
        code: 22,
        text: "forwarding loop via 127.0.0.1:53: every upstream for this name forwards back to dnspect".into(),
    });
    a.edns = Some(edns);
    f.handle(Input::Response {
        now: ms(5),
        token: p[0].token,
        transport: Transport::Udp,
        bytes: &a.to_wire().unwrap(),
    });
    let o = drain(&mut f);
    assert!(
        o.events.iter().any(
            |e| matches!(e, EventKind::LoopDetected { upstream, .. } if upstream == "127.0.0.2:53")
        ),
        "{o:?}"
    );
    assert_eq!(
        f.loop_verdict().as_deref(),
        Some("forwarding loop via 127.0.0.2:53")
    );
}

#[test]
fn probes_go_under_the_groups_zone_and_local_data_never_answers_one() {
    let mut c = cfg(&["192.0.2.1:53"]);
    c.forward = vec![ForwardZone {
        zones: vec!["cluster.local".into()],
        upstreams: vec![up("10.96.0.10:53")],
        policy: None,
        force_tcp: false,
        upstream_udp_payload: None,
        probe: None,
        cache: ZoneCache::default(),
    }];
    // A local zone that would answer any name under it: a probe coming back must still be
    // seen as the loop it is.
    c.local.zones = vec![LocalZone {
        zone: "cluster.local".into(),
        answer: LocalAnswer::Nxdomain,
    }];
    c.events = false;
    let mut f = Forwarder::new(c, [9; 32]);
    let o = tick(&mut f, ms(0));
    let names: Vec<(u16, String)> = o
        .queries
        .iter()
        .map(|q| (q.upstream.0, question(q).0))
        .collect();
    assert_eq!(names.len(), 2);
    let (_, kube) = names.iter().find(|(u, _)| *u == 1).unwrap();
    assert!(
        kube.ends_with(".dnspect-loop-check.cluster.local."),
        "{kube}"
    );
    let probe = o.queries.iter().find(|q| q.upstream.0 == 1).unwrap();
    let back = ask(&mut f, ms(1), 3, &probe.bytes);
    assert_eq!(
        back.answers[0].1.rcode(),
        Rcode::SERVFAIL,
        "not the local NXDOMAIN"
    );
    assert!(!back.answers[0].1.header.aa);
    // Events are off, yet the loop is told.
    assert!(back
        .events
        .iter()
        .any(|e| matches!(e, EventKind::LoopDetected { zone, .. } if zone == "cluster.local.")));
    assert_eq!(
        f.loop_verdict().as_deref(),
        Some("forwarding loop via 10.96.0.10:53 (zone cluster.local.)")
    );
    // The default group still forwards.
    let o = ask(&mut f, ms(2), 4, &query("www.example.", 4));
    assert_eq!(o.queries.len(), 1);
    assert_eq!(o.queries[0].upstream.0, 0);
}

#[test]
fn loop_check_off_sends_no_probe() {
    let mut c = cfg(&["127.0.0.1:53"]);
    c.loop_check = false;
    let mut f = Forwarder::new(c, [10; 32]);
    let o = tick(&mut f, ms(0));
    assert!(o.queries.is_empty(), "{o:?}");
}
