//! A DNS-over-TLS upstream as the engine sees it (RFC 7858): `tls://...` is asked only over the
//! stream, never UDP (TLS itself is the shell's), and a network error the shell can name
//! (`Input::FailureWhy`: a certificate not valid for the name) ends the query with EDE 23 and
//! that text, after the other upstreams were tried.
#![allow(clippy::unwrap_used)]

mod engine_setup;

use std::time::Duration;

use dnspect_core::engine::forwarder::{
    ClientId, Config, Forwarder, Input, Output, UpstreamConfig, UpstreamQuery,
};
use dnspect_core::engine::Transport;
use dnspect_core::wire::{Message, Rcode};

fn engine(labels: &[&str]) -> Forwarder {
    let cfg = Config {
        upstreams: labels
            .iter()
            .map(|l| UpstreamConfig {
                label: (*l).into(),
                ..UpstreamConfig::default()
            })
            .collect(),
        ..Config::default()
    };
    Forwarder::new(cfg, [7; 32])
}

/// A query for `name` A with ID `id`, RD and EDNS (1232).
fn query(name: &str, id: u16) -> Vec<u8> {
    engine_setup::query(name, id, true)
}

fn poll(f: &mut Forwarder) -> (Vec<Vec<u8>>, Vec<UpstreamQuery>) {
    let (mut answers, mut queries) = (Vec::new(), Vec::new());
    for _ in 0..1000 {
        match f.poll() {
            Output::Answer(a) => answers.push(a.bytes),
            Output::Query(q) => queries.push(q),
            Output::Wake(_) => break,
            _ => {}
        }
    }
    (answers, queries)
}

#[test]
fn a_tls_upstream_is_asked_over_the_stream_and_its_named_failure_is_the_ede() {
    let mut f = engine(&["tls://192.0.2.53:853#dns.example"]);
    let now = Duration::from_secs(1);
    f.handle(Input::Query {
        now,
        client: ClientId(1),
        transport: Transport::Udp,
        bytes: &query("a.example.", 77),
    });
    let (answers, mut queries) = poll(&mut f);
    assert!(answers.is_empty());
    // Every attempt goes over the stream; each fails as the shell's TLS handshake would.
    let mut attempts = 0;
    while let Some(q) = queries.pop() {
        assert_eq!(
            q.transport,
            Transport::Tcp,
            "a TLS upstream is never asked over UDP"
        );
        attempts += 1;
        f.handle(Input::FailureWhy {
            now,
            token: q.token,
            why: "TLS: certificate not valid for dns.example",
        });
        let (a, q2) = poll(&mut f);
        queries.extend(q2);
        if let Some(a) = a.first() {
            let m = Message::from_wire(a).unwrap();
            assert_eq!(m.rcode(), Rcode::SERVFAIL);
            let (code, text) = m.edns.as_ref().unwrap().extended_error().unwrap();
            assert_eq!(code, 23, "EDE 23 Network Error: {text}");
            assert!(
                text.contains("tls://192.0.2.53:853#dns.example")
                    && text.contains("TLS: certificate not valid for dns.example"),
                "{text}"
            );
            assert!(attempts >= 1);
            return;
        }
    }
    panic!("no answer after {attempts} failed attempts");
}

#[test]
fn a_plain_upstream_still_starts_over_udp_and_a_failure_without_reason_keeps_its_text() {
    let mut f = engine(&["192.0.2.53:53"]);
    let now = Duration::from_secs(1);
    f.handle(Input::Query {
        now,
        client: ClientId(1),
        transport: Transport::Udp,
        bytes: &query("b.example.", 78),
    });
    let (_, mut queries) = poll(&mut f);
    assert_eq!(queries[0].transport, Transport::Udp);
    for _ in 0..20 {
        let Some(q) = queries.pop() else { break };
        f.handle(Input::Failure {
            now,
            token: q.token,
        });
        let (a, q2) = poll(&mut f);
        queries.extend(q2);
        if let Some(a) = a.first() {
            let m = Message::from_wire(a).unwrap();
            let (code, text) = m.edns.as_ref().unwrap().extended_error().unwrap();
            assert_eq!(code, 23);
            assert!(text.contains("network error"), "{text}");
            assert!(!text.contains("TLS"), "{text}");
            return;
        }
    }
    panic!("no answer");
}
