//! Cache inspection and control (provenance, listing, flushing) and the DNSSEC and EDNS header
//! semantics of the engine's answers (RFC 6840 5.7-5.9, RFC 7871, RFC 7873, RFC 8914), driven
//! through `Forwarder::handle` / `poll` as every shell drives it.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use dnspect_core::cache::store::EntryKind;
use dnspect_core::engine::forwarder::{
    ClientId, Config, Flush, Forwarder, Input, Output, UpstreamConfig, UpstreamQuery,
};
use dnspect_core::engine::Transport;
use dnspect_core::wire::{Class, Edns, EdnsOption, Message, Name, Question, RType, Rcode, Record};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn engine(trusted: bool) -> Forwarder {
    let cfg = Config {
        upstreams: vec![
            UpstreamConfig {
                label: "192.0.2.53:53".into(),
                trusted,
                ..UpstreamConfig::default()
            },
            UpstreamConfig {
                label: "192.0.2.54:53".into(),
                trusted,
                ..UpstreamConfig::default()
            },
        ],
        events: true,
        // No loop probe among the upstream queries counted here.
        loop_check: false,
        ..Config::default()
    };
    Forwarder::new(cfg, [9; 32])
}

/// A client query; `edns`: Some(DO) adds an OPT, with `options`.
fn query(name: &str, qtype: RType, edns: Option<bool>, ad: bool, cd: bool) -> Message {
    let mut m = Message::default();
    m.header.id = 4242;
    m.header.rd = true;
    m.header.ad = ad;
    m.header.cd = cd;
    m.questions.push(Question {
        name: name.parse().unwrap(),
        qtype,
        class: Class::IN,
    });
    if let Some(dnssec_ok) = edns {
        let mut e = Edns::new(1232);
        e.dnssec_ok = dnssec_ok;
        m.edns = Some(e);
    }
    m
}

struct Run {
    queries: Vec<UpstreamQuery>,
    answers: Vec<Message>,
    events: Vec<String>,
}

fn drain(f: &mut Forwarder) -> Run {
    let mut r = Run {
        queries: vec![],
        answers: vec![],
        events: vec![],
    };
    for _ in 0..1000 {
        match f.poll() {
            Output::Query(q) => r.queries.push(q),
            Output::Answer(a) => r.answers.push(Message::from_wire(&a.bytes).unwrap()),
            Output::Event(e) => r.events.push(e.to_string()),
            Output::Wake(_) => break,
            _ => {}
        }
    }
    r
}

fn ask(f: &mut Forwarder, now: Duration, q: &Message) -> Run {
    let bytes = q.to_wire().unwrap();
    f.handle(Input::Query {
        now,
        client: ClientId(1),
        transport: Transport::Udp,
        bytes: &bytes,
    });
    drain(f)
}

/// The upstream's answer to `q`: `answers` and `authority` as presentation lines, header flags
/// as given, an OPT (with `ede`) when the query had one.
fn respond(
    f: &mut Forwarder,
    now: Duration,
    q: &UpstreamQuery,
    answers: &[&str],
    authority: &[&str],
    flags: (bool, bool, bool),
    ede: Option<(u16, &str)>,
) -> Run {
    let asked = Message::from_wire(&q.bytes).unwrap();
    let mut m = Message {
        header: asked.header.clone(),
        questions: asked.questions.clone(),
        ..Message::default()
    };
    m.header.qr = true;
    (m.header.aa, m.header.ra, m.header.ad) = flags;
    m.answers = answers
        .iter()
        .map(|l| Record::from_text(l).unwrap())
        .collect();
    m.authority = authority
        .iter()
        .map(|l| Record::from_text(l).unwrap())
        .collect();
    if let Some(q_opt) = &asked.edns {
        let mut e = Edns::new(1232);
        e.dnssec_ok = q_opt.dnssec_ok;
        if let Some((code, text)) = ede {
            e.options.push(EdnsOption::ExtendedError {
                code,
                text: text.into(),
            });
        }
        m.edns = Some(e);
    }
    let bytes = m.to_wire().unwrap();
    f.handle(Input::Response {
        now,
        token: q.token,
        transport: q.transport,
        bytes: &bytes,
    });
    drain(f)
}

const AUTH: (bool, bool, bool) = (true, false, false);
const VALIDATED: (bool, bool, bool) = (false, true, true);

#[test]
fn entries_carry_their_provenance() {
    let mut f = engine(false);
    let r = ask(
        &mut f,
        secs(10),
        &query("WWW.Example.COM.", RType::A, None, false, false),
    );
    let up = &r.queries[0];
    let label = ["192.0.2.53:53", "192.0.2.54:53"][usize::from(up.upstream.0)];
    respond(
        &mut f,
        secs(10),
        up,
        &["www.example.com. 172800 IN A 192.0.2.1"],
        &[],
        AUTH,
        None,
    );
    // A negative answer too, for another name.
    let r = ask(
        &mut f,
        secs(10),
        &query("gone.example.com.", RType::A, None, false, false),
    );
    respond(
        &mut f,
        secs(10),
        &r.queries[0],
        &[],
        &["example.com. 3600 IN SOA ns. host. 1 3600 600 604800 60"],
        AUTH,
        None,
    );
    let name: Name = "www.example.com.".parse().unwrap();
    let l = f.cache_entries(Some(&name), false, 100, secs(25));
    assert_eq!((l.total, l.truncated), (1, false));
    let e = &l.entries[0];
    assert_eq!(
        (e.name.as_str(), e.qtype.as_str()),
        ("www.example.com.", "A")
    );
    assert_eq!(e.kind, EntryKind::Positive);
    assert_eq!(e.upstream.as_deref(), Some(label));
    assert_eq!(e.rule, "positive-capped-at-max");
    assert_eq!(
        (e.upstream_ttl, e.ttl, e.remaining),
        (Some(172_800), 86_400, 86_385)
    );
    assert_eq!((e.stored_at_ms, e.age_ms), (10_000, 15_000));
    assert!(!e.expired && !e.dnssec_ok && !e.checking_disabled);
    assert_eq!(e.rcode, "NOERROR");
    assert_eq!(e.records, ["www.example.com.\t86385\tIN\tA\t192.0.2.1"]);

    let gone: Name = "gone.example.com.".parse().unwrap();
    let l = f.cache_entries(Some(&gone), false, 100, secs(10));
    let e = &l.entries[0];
    assert_eq!(
        (e.kind, e.rule.as_str()),
        (EntryKind::Negative, "negative-rfc2308-soa")
    );
    assert_eq!((e.upstream_ttl, e.ttl), (Some(60), 60));
    assert!(e.rule_why.contains("RFC 2308"), "{}", e.rule_why);

    // By suffix, and everything, with a limit.
    let suffix: Name = "example.com.".parse().unwrap();
    assert_eq!(
        f.cache_entries(Some(&suffix), false, 100, secs(10)).total,
        0
    );
    let l = f.cache_entries(Some(&suffix), true, 100, secs(10));
    assert_eq!(l.total, 2);
    assert_eq!(l.entries[0].name, "gone.example.com.", "sorted by name");
    let l = f.cache_entries(None, false, 1, secs(10));
    assert_eq!((l.entries.len(), l.total, l.truncated), (1, 2, true));
}

#[test]
fn failures_say_no_upstream_answered() {
    let mut f = engine(false);
    let r = ask(
        &mut f,
        secs(0),
        &query("down.test.", RType::A, None, false, false),
    );
    assert!(!r.queries.is_empty());
    // Let every attempt time out.
    for s in 1..=10 {
        f.handle(Input::Tick { now: secs(s) });
        drain(&mut f);
    }
    let name: Name = "down.test.".parse().unwrap();
    let l = f.cache_entries(Some(&name), false, 10, secs(10));
    let e = &l.entries[0];
    assert_eq!((e.kind, e.rcode.as_str()), (EntryKind::Failure, "SERVFAIL"));
    assert_eq!((e.upstream.as_deref(), e.upstream_ttl), (None, None));
    assert_eq!(e.failures, 1);
    assert!(
        e.ede.as_deref().is_some_and(|t| t.starts_with("22: ")),
        "{:?}",
        e.ede
    );
}

#[test]
fn flush_a_name_a_suffix_or_everything_and_the_name_is_asked_again() {
    let mut f = engine(false);
    for n in ["a.example.", "b.a.example.", "example.", "other.test."] {
        let r = ask(&mut f, secs(0), &query(n, RType::A, None, false, false));
        let line = format!("{n} 300 IN A 192.0.2.7");
        respond(&mut f, secs(0), &r.queries[0], &[&line], &[], AUTH, None);
        // Also a DO variant of the same name.
        let r = ask(
            &mut f,
            secs(0),
            &query(n, RType::A, Some(true), false, false),
        );
        respond(&mut f, secs(0), &r.queries[0], &[&line], &[], AUTH, None);
    }
    assert_eq!(f.cache_stats().keys, 8);
    let hit = ask(
        &mut f,
        secs(1),
        &query("a.example.", RType::A, None, false, false),
    );
    assert!(hit.queries.is_empty(), "cached");

    let report = f.cache_flush(&Flush::Name("A.Example.".parse().unwrap()));
    assert_eq!(report.keys, 2, "both DO variants of the one name");
    let again = ask(
        &mut f,
        secs(1),
        &query("a.example.", RType::A, None, false, false),
    );
    assert_eq!(again.queries.len(), 1, "flushed: asked upstream again");
    assert!(
        f.cache_flush(&Flush::Name("nothing.here.".parse().unwrap()))
            .keys
            == 0
    );

    let report = f.cache_flush(&Flush::Suffix("example.".parse().unwrap()));
    assert_eq!(report.keys, 4, "b.a.example. and example., DO and not");
    assert_eq!(f.cache_stats().keys, 2);
    let report = f.cache_flush(&Flush::All);
    assert_eq!(report.keys, 2);
    assert_eq!((f.cache_stats().keys, f.cache_stats().bytes), (0, 0));
    let st = f.stats();
    assert_eq!((st.cache_flushes, st.cache_flushed_keys), (4, 8));
    // The flush is in the query log.
    let mut g = engine(false);
    g.cache_flush(&Flush::Suffix("example.".parse().unwrap()));
    let ev = drain(&mut g).events;
    assert!(
        ev.iter()
            .any(|e| e == "flushed example. and below from the cache: 0 key(s)"),
        "{ev:?}"
    );
}

#[test]
fn ra_always_set_and_aa_cleared_on_relayed_answers() {
    let mut f = engine(false);
    let q = query("auth.test.", RType::A, None, false, false);
    let r = ask(&mut f, secs(0), &q);
    let first = respond(
        &mut f,
        secs(0),
        &r.queries[0],
        &["auth.test. 300 IN A 192.0.2.9"],
        &[],
        AUTH,
        None,
    );
    let hit = ask(&mut f, secs(1), &q);
    for (what, a) in [("relayed", &first.answers[0]), ("cached", &hit.answers[0])] {
        assert!(a.header.ra, "{what}: RA set on our answers");
        assert!(
            !a.header.aa,
            "{what}: AA cleared: not answered from local data"
        );
        assert!(a.header.qr && a.header.rd, "{what}");
    }
    // Negative answers too.
    let q = query("nx.auth.test.", RType::A, None, false, false);
    let r = ask(&mut f, secs(0), &q);
    let neg = respond(
        &mut f,
        secs(0),
        &r.queries[0],
        &[],
        &["auth.test. 300 IN SOA ns. host. 1 3600 600 604800 60"],
        AUTH,
        None,
    );
    assert!(neg.answers[0].header.ra && !neg.answers[0].header.aa);
}

#[test]
fn ad_is_asked_for_and_shown_only_from_trusted_upstreams_to_clients_that_ask() {
    for trusted in [false, true] {
        let mut f = engine(trusted);
        // DO client: the upstream query carries DO and AD.
        let do_q = query("signed.test.", RType::A, Some(true), false, false);
        let r = ask(&mut f, secs(0), &do_q);
        let up = Message::from_wire(&r.queries[0].bytes).unwrap();
        assert!(up.header.ad, "AD in upstream queries (RFC 6840 5.7)");
        assert!(up.edns.as_ref().unwrap().dnssec_ok);
        let lines = [
            "signed.test. 300 IN A 192.0.2.10",
            "signed.test. 300 IN RRSIG \\# 26 00010d020000012c00000000000000003039047465737400aaaa",
        ];
        let first = respond(&mut f, secs(0), &r.queries[0], &lines, &[], VALIDATED, None);
        assert_eq!(
            first.answers[0].header.ad, trusted,
            "trusted={trusted}: relayed"
        );
        assert_eq!(
            first.answers[0].answers.len(),
            2,
            "RRSIG kept for a DO client"
        );
        let hit = ask(&mut f, secs(1), &do_q);
        assert!(hit.queries.is_empty());
        assert_eq!(
            hit.answers[0].header.ad, trusted,
            "trusted={trusted}: cached"
        );

        // Without DO: AD only if the client set AD (RFC 6840 5.7); one cache entry serves both.
        let plain = query("plain.test.", RType::A, None, false, false);
        let r = ask(&mut f, secs(0), &plain);
        assert!(Message::from_wire(&r.queries[0].bytes).unwrap().header.ad);
        let a = respond(
            &mut f,
            secs(0),
            &r.queries[0],
            &["plain.test. 300 IN A 192.0.2.11"],
            &[],
            VALIDATED,
            None,
        );
        assert!(!a.answers[0].header.ad, "no DO, no AD in the query: no AD");
        let with_ad = ask(
            &mut f,
            secs(1),
            &query("plain.test.", RType::A, None, true, false),
        );
        assert!(with_ad.queries.is_empty(), "the same cache entry");
        assert_eq!(with_ad.answers[0].header.ad, trusted, "AD asked for");
        let again = ask(&mut f, secs(1), &plain);
        assert!(
            !again.answers[0].header.ad,
            "masked per client, not stored cleared"
        );
    }
}

#[test]
fn do_and_cd_are_separate_cache_keys_and_cd_is_forwarded() {
    let mut f = engine(true);
    let mut n = 0;
    for (dnssec_ok, cd) in [(false, false), (true, false), (false, true), (true, true)] {
        let q = query("keys.test.", RType::A, Some(dnssec_ok), false, cd);
        let r = ask(&mut f, secs(0), &q);
        assert_eq!(r.queries.len(), 1, "DO={dnssec_ok} CD={cd}: its own key");
        let up = Message::from_wire(&r.queries[0].bytes).unwrap();
        assert_eq!(up.header.cd, cd, "CD forwarded");
        assert_eq!(up.edns.as_ref().unwrap().dnssec_ok, dnssec_ok);
        let a = respond(
            &mut f,
            secs(0),
            &r.queries[0],
            &["keys.test. 300 IN A 192.0.2.12"],
            &[],
            VALIDATED,
            None,
        );
        assert_eq!(a.answers[0].header.cd, cd, "CD echoed");
        n += 1;
    }
    let name: Name = "keys.test.".parse().unwrap();
    assert_eq!(f.cache_entries(Some(&name), false, 10, secs(0)).total, n);
}

#[test]
fn upstream_ede_reaches_the_client_fresh_and_cached() {
    let mut f = engine(false);
    let q = query("ede.test.", RType::A, Some(false), false, false);
    let r = ask(&mut f, secs(0), &q);
    let first = respond(
        &mut f,
        secs(0),
        &r.queries[0],
        &["ede.test. 300 IN A 192.0.2.13"],
        &[],
        AUTH,
        Some((18, "prohibited by policy")),
    );
    let hit = ask(&mut f, secs(1), &q);
    for (what, a) in [("relayed", &first.answers[0]), ("cached", &hit.answers[0])] {
        let e = a.edns.as_ref().unwrap();
        assert_eq!(
            e.extended_error(),
            Some((18, "prohibited by policy")),
            "{what}: {e:?}"
        );
    }
    let name: Name = "ede.test.".parse().unwrap();
    let l = f.cache_entries(Some(&name), false, 10, secs(1));
    assert_eq!(
        l.entries[0].ede.as_deref(),
        Some("18: prohibited by policy")
    );
    // A client without EDNS gets no OPT at all.
    let plain = ask(
        &mut f,
        secs(1),
        &query("ede.test.", RType::A, None, false, false),
    );
    assert!(plain.queries.len() <= 1);
}

#[test]
fn client_ecs_cookie_and_unknown_options_are_neither_forwarded_nor_echoed() {
    let mut f = engine(false);
    let mut q = query("opts.test.", RType::A, Some(false), false, false);
    let e = q.edns.as_mut().unwrap();
    e.options.push(EdnsOption::ClientSubnet {
        family: 1,
        source_prefix: 24,
        scope_prefix: 0,
        address: vec![198, 51, 100],
    });
    e.options.push(EdnsOption::Cookie {
        client: vec![1, 2, 3, 4, 5, 6, 7, 8],
        server: vec![],
    });
    e.options.push(EdnsOption::Unknown {
        code: 65001,
        data: vec![0xde, 0xad],
    });
    let r = ask(&mut f, secs(0), &q);
    let up = Message::from_wire(&r.queries[0].bytes).unwrap();
    assert!(
        up.edns.as_ref().unwrap().options.is_empty(),
        "no client option goes upstream: {:?}",
        up.edns
    );
    let a = respond(
        &mut f,
        secs(0),
        &r.queries[0],
        &["opts.test. 300 IN A 192.0.2.14"],
        &[],
        AUTH,
        None,
    );
    let opt = a.answers[0].edns.as_ref().unwrap();
    assert!(opt.options.is_empty(), "nothing echoed: {opt:?}");
    assert_eq!(a.answers[0].rcode(), Rcode::NOERROR);
}

#[test]
fn an_upstream_servfail_with_ede_gives_the_client_that_ede() {
    let mut f = engine(true);
    let q = query("bogus.test.", RType::A, Some(true), false, false);
    let r = ask(&mut f, secs(0), &q);
    let mut answers = Vec::new();
    let mut sent = r.queries;
    for _ in 0..4 {
        let Some(up) = sent.pop() else { break };
        let mut asked = Message::from_wire(&up.bytes).unwrap();
        asked.header.qr = true;
        asked.header.ra = true;
        asked.set_rcode(Rcode::SERVFAIL);
        let mut e = Edns::new(1232);
        e.options.push(EdnsOption::ExtendedError {
            code: 6,
            text: "validation failure".into(),
        });
        asked.edns = Some(e);
        let bytes = asked.to_wire().unwrap();
        f.handle(Input::Response {
            now: secs(0),
            token: up.token,
            transport: up.transport,
            bytes: &bytes,
        });
        let out = drain(&mut f);
        sent.extend(out.queries);
        answers.extend(out.answers);
    }
    assert_eq!(answers.len(), 1);
    let a = &answers[0];
    assert_eq!(a.rcode(), Rcode::SERVFAIL);
    let (code, text) = a.edns.as_ref().unwrap().extended_error().unwrap();
    assert_eq!(
        code, 6,
        "the upstream's DNSSEC Bogus, not our No Reachable Authority"
    );
    assert!(
        text.starts_with("upstream 192.0.2.5") && text.ends_with(": validation failure"),
        "{text}"
    );
}

fn ecs_query(name: &str, addr: &[u8], source: u8) -> Message {
    let mut q = query(name, RType::A, Some(false), false, false);
    q.edns
        .as_mut()
        .unwrap()
        .options
        .push(EdnsOption::ClientSubnet {
            family: 1,
            source_prefix: source,
            scope_prefix: 0,
            address: addr.to_vec(),
        });
    q
}

fn ecs_of(m: &Message) -> Option<(u8, u8, Vec<u8>)> {
    m.edns.as_ref()?.options.iter().find_map(|o| match o {
        EdnsOption::ClientSubnet {
            source_prefix,
            scope_prefix,
            address,
            ..
        } => Some((*source_prefix, *scope_prefix, address.clone())),
        _ => None,
    })
}

#[test]
fn ecs_passthrough_sends_the_capped_subnet_echoes_the_scope_and_caches_nothing() {
    let mut cfg = Config {
        upstreams: vec![UpstreamConfig {
            label: "192.0.2.53:53".into(),
            ..UpstreamConfig::default()
        }],
        // No loop probe among the upstream queries counted here.
        loop_check: false,
        ..Config::default()
    };
    cfg.client_subnet.passthrough = true;
    let mut f = Forwarder::new(cfg, [5; 32]);
    let q = ecs_query("cdn.test.", &[198, 51, 100, 77], 32);
    let r = ask(&mut f, secs(0), &q);
    assert_eq!(r.queries.len(), 1);
    let up = Message::from_wire(&r.queries[0].bytes).unwrap();
    assert_eq!(
        ecs_of(&up),
        Some((24, 0, vec![198, 51, 100])),
        "capped at /24, masked"
    );
    // The same subnet joins the transaction in flight; another subnet gets its own.
    let same = ask(
        &mut f,
        secs(0),
        &ecs_query("cdn.test.", &[198, 51, 100, 1], 32),
    );
    assert!(same.queries.is_empty(), "same /24 upstream: coalesced");
    let other = ask(
        &mut f,
        secs(0),
        &ecs_query("cdn.test.", &[203, 0, 113, 9], 32),
    );
    assert_eq!(
        other.queries.len(),
        1,
        "another subnet: its own upstream query"
    );
    // The upstream answers with scope /20.
    let asked = Message::from_wire(&r.queries[0].bytes).unwrap();
    let mut m = Message {
        header: asked.header.clone(),
        questions: asked.questions.clone(),
        ..Message::default()
    };
    m.header.qr = true;
    m.header.ra = true;
    m.answers
        .push(Record::from_text("cdn.test. 300 IN A 192.0.2.99").unwrap());
    let mut e = Edns::new(1232);
    e.options.push(EdnsOption::ClientSubnet {
        family: 1,
        source_prefix: 24,
        scope_prefix: 20,
        address: vec![198, 51, 100],
    });
    m.edns = Some(e);
    let bytes = m.to_wire().unwrap();
    f.handle(Input::Response {
        now: secs(0),
        token: r.queries[0].token,
        transport: r.queries[0].transport,
        bytes: &bytes,
    });
    let out = drain(&mut f);
    assert_eq!(out.answers.len(), 2, "both clients of that subnet");
    let mut echoed: Vec<_> = out.answers.iter().map(|a| ecs_of(a).unwrap()).collect();
    echoed.sort();
    assert_eq!(
        echoed,
        [
            (32, 20, vec![198, 51, 100, 1]),
            (32, 20, vec![198, 51, 100, 77])
        ],
        "each client's own subnet, with the upstream's scope (RFC 7871 7.2.2)"
    );
    assert!(
        out.events.iter().any(|e| e.contains("client-subnet")),
        "{:?}",
        out.events
    );
    let name: Name = "cdn.test.".parse().unwrap();
    assert_eq!(
        f.cache_entries(Some(&name), false, 10, secs(0)).total,
        0,
        "not cached"
    );
    let again = ask(&mut f, secs(1), &q);
    assert_eq!(again.queries.len(), 1, "asked upstream again");
    // A query without ECS still uses the cache as before.
    let plain = ask(
        &mut f,
        secs(1),
        &query("plain.test.", RType::A, Some(false), false, false),
    );
    assert!(ecs_of(&Message::from_wire(&plain.queries[0].bytes).unwrap()).is_none());
    // A malformed ECS option: FORMERR.
    let bad = ask(
        &mut f,
        secs(1),
        &ecs_query("cdn.test.", &[198, 51, 100, 77], 24),
    );
    assert_eq!(bad.answers[0].rcode(), Rcode::FORMERR);
    assert!(
        bad.events
            .iter()
            .any(|e| e.contains("ECS address of 4 bytes for /24")),
        "{:?}",
        bad.events
    );
}
