//! A server stopping with clients still waiting past its drain deadline: the engine answers
//! them all at once (`Forwarder::answer_waiting_now`), SERVFAIL with EDE 0 and the reason, or
//! the stale answer where serving stale on failure is on, and caches nothing for it.
#![allow(clippy::unwrap_used)]

mod engine_setup;

use std::time::Duration;

use dnspect_core::engine::forwarder::{ClientId, Config, Forwarder, Input, Output, UpstreamConfig};
use dnspect_core::engine::Transport;
use dnspect_core::wire::{Message, Rcode};

fn engine() -> Forwarder {
    let cfg = Config {
        upstreams: vec![UpstreamConfig {
            label: "192.0.2.53:53".into(),
            ..UpstreamConfig::default()
        }],
        // No loop probe among the upstream queries counted here.
        loop_check: false,
        ..Config::default()
    };
    Forwarder::new(cfg, [3; 32])
}

/// A query for `name` A with ID `id`, RD and EDNS (1232).
fn query(name: &str, id: u16) -> Vec<u8> {
    engine_setup::query(name, id, true)
}

/// Client answers and upstream queries the engine has for the shell now.
fn poll(f: &mut Forwarder) -> (Vec<(ClientId, Vec<u8>)>, usize) {
    let (mut answers, mut queries) = (Vec::new(), 0);
    for _ in 0..1000 {
        match f.poll() {
            Output::Answer(a) => answers.push((a.client, a.bytes)),
            Output::Query(_) => queries += 1,
            Output::Wake(_) => break,
            _ => {}
        }
    }
    (answers, queries)
}

#[test]
fn waiting_clients_are_answered_at_the_drain_deadline_and_nothing_is_cached() {
    let mut f = engine();
    let now = Duration::from_secs(10);
    // Three clients, two names (two of them share one upstream query): none is answered.
    for (c, name) in [(1, "a.example."), (2, "a.example."), (3, "b.example.")] {
        f.handle(Input::Query {
            now,
            client: ClientId(c),
            transport: Transport::Udp,
            bytes: &query(name, 100 + c as u16),
        });
    }
    let (answers, queries) = poll(&mut f);
    assert!(answers.is_empty());
    assert_eq!(queries, 2);
    assert_eq!(f.waiting(), 3);

    let later = now + Duration::from_millis(500);
    assert_eq!(f.answer_waiting_now(later, "shutting down"), 3);
    let (answers, _) = poll(&mut f);
    let mut clients: Vec<u64> = answers.iter().map(|(c, _)| c.0).collect();
    clients.sort_unstable();
    assert_eq!(clients, [1, 2, 3]);
    for (c, bytes) in &answers {
        let m = Message::from_wire(bytes).unwrap();
        assert_eq!(m.rcode(), Rcode::SERVFAIL, "client {}", c.0);
        assert_eq!(m.header.id, 100 + c.0 as u16);
        let (code, text) = m.edns.as_ref().unwrap().extended_error().unwrap();
        assert_eq!((code, text), (0, "shutting down"), "client {}", c.0);
    }
    assert_eq!(f.waiting(), 0);
    // The upstreams did not fail: no failure is cached for the names.
    assert_eq!(f.cache_stats().keys, 0);
    // Nobody is left to answer.
    assert_eq!(f.answer_waiting_now(later, "shutting down"), 0);
    assert!(poll(&mut f).0.is_empty());
}
