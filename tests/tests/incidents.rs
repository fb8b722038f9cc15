//! The incident library end to end (`dnspect_core::incidents`): each incident's upstream
//! behaviour scripted on 127.0.0.1 (FakeUpstream: the faults no real server produces on demand),
//! `dnspect serve` in front of it, and real dig as the client, asserting what the client sees.
//! The same behaviours run on the simulator in `core/tests/scenarios/incident-*.toml`.
#![allow(clippy::unwrap_used)]
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnspect_core::wire::{Message, Rcode};
use dnspect_tests::*;

const SEED: &str = include_str!("../../core/tests/data/seed000-uncompressed.hex");

fn a_lines(name: &str, ttl: u32, prefix: &str, n: u32) -> Vec<String> {
    (1..=n)
        .map(|i| format!("{name} {ttl} IN A {prefix}.{i}"))
        .collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The "MSG SIZE  rcvd: N" of a dig output.
fn rcvd(out: &str) -> usize {
    out.lines()
        .find_map(|l| l.split("MSG SIZE  rcvd: ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no MSG SIZE in {out}"))
}

fn flags(out: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or_else(|| panic!("no flags in {out}"))
        .to_string()
}

#[test]
fn incident_000_dig_noedns_gets_all_20_records() {
    let seed = dnspect_core::wire::text::unhex(SEED.trim()).unwrap();
    let up = FakeUpstream::start(move |q, _, _| {
        // The incident's upstream: the 758-byte uncompressed answer, whatever EDNS we sent.
        let mut r = seed.clone();
        r[..2].copy_from_slice(&q.header.id.to_be_bytes());
        Some(r)
    });
    let (server, port, _) = serve("incident000", &[up.port], "");
    let out = dig(port, &["api-push.vivo.com.cn", "A", "+noedns", "+ignore"]);
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert_eq!(answer_lines(&out).len(), 20, "{out}");
    assert!(out.contains("MSG SIZE  rcvd: 358"), "{out}");
    assert_eq!(up.count(), 1, "one upstream query, no retry loop");
    let log = server.log_text();
    assert!(
        log.contains("answer of 758 B is not compressed: 358 B compressed"),
        "{log}"
    );
}

#[test]
fn incident_004_flapping_upstream_never_stops_the_name() {
    // Upstream 1 flaps: the chain, then NODATA at its end, then SERVFAIL; upstream 2 answers.
    let n1 = Arc::new(AtomicUsize::new(0));
    let c1 = n1.clone();
    let chain = [
        "repo1.maven.org. 2 IN CNAME central.maven.org.",
        "central.maven.org. 2 IN CNAME sonatype.map.fastly.net.",
    ];
    let full = [
        "repo1.maven.org. 2 IN CNAME central.maven.org.",
        "central.maven.org. 2 IN CNAME sonatype.map.fastly.net.",
        "sonatype.map.fastly.net. 2 IN A 151.101.36.209",
    ];
    let soa =
        ["fastly.net. 300 IN SOA ns1.fastly.net. hostmaster.fastly.com. 1 3600 600 604800 300"];
    let up1 = FakeUpstream::start(move |q, _, _| {
        Some(match c1.fetch_add(1, Ordering::SeqCst) % 3 {
            0 => reply(q, &full, &[], Rcode::NOERROR, true),
            1 => reply(q, &chain, &soa, Rcode::NOERROR, true),
            _ => reply(q, &[], &[], Rcode::SERVFAIL, true),
        })
    });
    let up2 = FakeUpstream::start(move |q, _, _| Some(reply(q, &full, &[], Rcode::NOERROR, true)));
    let (server, port, _) = serve(
        "incident004",
        &[up1.port, up2.port],
        "[engine]\npolicy = \"sequential\"\n",
    );
    for round in 0..8 {
        let out = dig(port, &["repo1.maven.org", "A"]);
        assert_eq!(
            status(&out),
            "NOERROR",
            "round {round}: {out}\n{}",
            server.log_text()
        );
        assert!(
            out.contains("151.101.36.209"),
            "round {round}: the name stopped resolving\n{out}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert!(
        n1.load(Ordering::SeqCst) >= 3,
        "the flapping upstream was asked again"
    );
}

#[test]
fn coredns_5998_answer_over_512_bytes_reaches_the_client() {
    // The upstream answers with more than 512 bytes (30 A records, compressed: 534 B), whatever
    // the query said. CoreDNS 1.10.1 answered SERVFAIL after ~10 s ("overflow unpacking uint16").
    let name = "cluster-us-east-1-152269.prevops.com.";
    let lines = a_lines(name, 30, "198.51.100", 30);
    let up = FakeUpstream::start(move |q, _, _| {
        let mut r =
            Message::from_wire(&reply(q, &refs(&lines), &[], Rcode::NOERROR, true)).unwrap();
        r.edns = None;
        Some(r.to_wire().unwrap())
    });
    let (server, port, _) = serve("inc5998", &[up.port], "");
    // The client without EDNS, as nslookup: over UDP it gets TC and at most 512 bytes...
    let t = Instant::now();
    let udp = dig(port, &[name, "A", "+noedns", "+ignore", "+tries=1"]);
    assert_eq!(status(&udp), "NOERROR", "{udp}\n{}", server.log_text());
    assert!(flags(&udp).contains(" tc"), "{udp}");
    assert!(rcvd(&udp) <= 512, "{udp}");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "answered at once, not after ~10 s of retries"
    );
    // ...and its TCP retry (what dig and stub resolvers do) gets all 30 records.
    let full = dig(port, &[name, "A", "+noedns"]);
    assert_eq!(status(&full), "NOERROR", "{full}");
    assert_eq!(answer_lines(&full).len(), 30, "{full}");
    assert_eq!(
        up.count(),
        1,
        "one upstream query: the TCP retry is answered from the cache"
    );
}

#[test]
fn coredns_5366_client_without_edns_gets_no_opt_and_512_bytes() {
    let name = "longdns1.pahealy.com.";
    let lines = a_lines(name, 300, "203.0.113", 32);
    let up = FakeUpstream::start(move |q, _, _| {
        Some(reply(q, &refs(&lines), &[], Rcode::NOERROR, true))
    });
    let (server, port, _) = serve("inc5366", &[up.port], "[engine]\nmax_udp_payload = 1232\n");
    let udp = dig(port, &[name, "A", "+noedns", "+ignore", "+tries=1"]);
    assert_eq!(status(&udp), "NOERROR", "{udp}\n{}", server.log_text());
    assert!(
        !udp.contains("OPT PSEUDOSECTION"),
        "OPT sent to a client that sent none:\n{udp}"
    );
    assert!(rcvd(&udp) <= 512, "{udp}");
    assert!(flags(&udp).contains(" tc"), "{udp}");
    // busybox nslookup's "Parse error" came from the oversized answer; dnspython, as strict a
    // parser, reads ours and sees TC and no EDNS.
    let py = python(&format!(
        "import dns.message, dns.query, dns.flags\n\
         q = dns.message.make_query('{name}', 'A', use_edns=False)\n\
         r = dns.query.udp(q, '127.0.0.1', port={port}, timeout=5, ignore_trailing=False)\n\
         print('edns', r.edns, 'tc', bool(r.flags & dns.flags.TC), 'answers', sum(len(x) for x in r.answer))\n"
    ));
    assert!(py.contains("edns -1 tc True"), "{py}");
    let tcp = dig(port, &[name, "A", "+noedns", "+tcp"]);
    assert_eq!(answer_lines(&tcp).len(), 32, "{tcp}");
    assert!(!tcp.contains("OPT PSEUDOSECTION"), "{tcp}");
    // A client that did send EDNS gets OPT back.
    let edns = dig(port, &[name, "A", "+bufsize=1232"]);
    assert!(edns.contains("OPT PSEUDOSECTION"), "{edns}");
}

#[test]
fn coredns_7956_stale_answer_not_cached_servfail() {
    // The upstream answers, fails with SERVFAIL for a while, then recovers with a new address.
    let failing = Arc::new(AtomicBool::new(false));
    let recovered = Arc::new(AtomicBool::new(false));
    let (f, r) = (failing.clone(), recovered.clone());
    let up = FakeUpstream::start(move |q, _, _| {
        Some(if f.load(Ordering::SeqCst) {
            reply(q, &[], &[], Rcode::SERVFAIL, true)
        } else if r.load(Ordering::SeqCst) {
            reply(
                q,
                &["app.example. 1 IN A 192.0.2.20"],
                &[],
                Rcode::NOERROR,
                true,
            )
        } else {
            reply(
                q,
                &["app.example. 1 IN A 192.0.2.10"],
                &[],
                Rcode::NOERROR,
                true,
            )
        })
    });
    // The failure is kept for the RFC 8767 recheck time while the stale answer is served
    // (the scenario incident-coredns-7956.toml checks the rule); 3 s keeps this test short.
    let (server, port, _) = serve(
        "inc7956",
        &[up.port],
        "[engine.cache.serve_stale]\nfailure_recheck = \"3s\"\n",
    );
    let out = dig(port, &["app.example.", "A"]);
    assert!(out.contains("192.0.2.10"), "{out}");
    failing.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    // Expired, the refresh fails: the stale answer (TTL 30, EDE 3 Stale Answer), never SERVFAIL.
    for round in 0..3 {
        let out = dig(port, &["app.example.", "A", "+bufsize=1232"]);
        assert_eq!(
            status(&out),
            "NOERROR",
            "round {round}: {out}\n{}",
            server.log_text()
        );
        assert!(out.contains("192.0.2.10"), "round {round}: {out}");
        assert!(
            answer_lines(&out)
                .iter()
                .all(|l| l.split_whitespace().nth(1) == Some("30")),
            "{out}"
        );
        assert!(out.contains("EDE: 3"), "round {round}: {out}");
        std::thread::sleep(Duration::from_millis(700));
    }
    // The upstream recovers: the new address shows up (after the RFC 8767 recheck timer), and
    // no client ever got SERVFAIL meanwhile.
    failing.store(false, Ordering::SeqCst);
    recovered.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let out = dig(port, &["app.example.", "A"]);
        assert_eq!(status(&out), "NOERROR", "{out}");
        if out.contains("192.0.2.20") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the recovered answer never came\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn coredns_7956_with_serve_stale_off_dnspect_answers_the_cached_servfail() {
    // dnspect with that policy, not CoreDNS: serve_stale = false, so once the answer expired the
    // failing refresh is what clients get, and the cached failure says so (EDE 13).
    let failing = Arc::new(AtomicBool::new(false));
    let f = failing.clone();
    let up = FakeUpstream::start(move |q, _, _| {
        Some(if f.load(Ordering::SeqCst) {
            reply(q, &[], &[], Rcode::SERVFAIL, true)
        } else {
            reply(
                q,
                &["app.example. 1 IN A 192.0.2.10"],
                &[],
                Rcode::NOERROR,
                true,
            )
        })
    });
    let (_server, port, _) = serve(
        "inc7956p",
        &[up.port],
        "[engine.cache]\nserve_stale = false\n",
    );
    assert!(dig(port, &["app.example.", "A"]).contains("192.0.2.10"));
    failing.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    let out = dig(port, &["app.example.", "A"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    let out = dig(port, &["app.example.", "A", "+bufsize=1232"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    assert!(out.contains("EDE: 13"), "{out}");
}

#[test]
fn hickory_2608_truncated_answer_is_never_cached() {
    // Over UDP: TC=1 with 4 of the 8 records. Over TCP: nothing until `tcp_up`, then all 8.
    let tcp_up = Arc::new(AtomicBool::new(false));
    let tcp_asked = Arc::new(AtomicUsize::new(0));
    let (t, n) = (tcp_up.clone(), tcp_asked.clone());
    let up = FakeUpstream::start(move |q, _, tcp| {
        let name = "big.example.";
        if !tcp {
            let mut m = Message::from_wire(&reply(
                q,
                &refs(&a_lines(name, 300, "192.0.2", 4)),
                &[],
                Rcode::NOERROR,
                true,
            ))
            .unwrap();
            m.header.tc = true;
            return Some(m.to_wire().unwrap());
        }
        n.fetch_add(1, Ordering::SeqCst);
        t.load(Ordering::SeqCst).then(|| {
            reply(
                q,
                &refs(&a_lines(name, 300, "192.0.2", 8)),
                &[],
                Rcode::NOERROR,
                true,
            )
        })
    });
    let (server, port, _) = serve("inc2608", &[up.port], "");
    // The TCP retry fails: SERVFAIL (as BIND and Unbound answer), not the 4 records.
    let out = dig(
        port,
        &["big.example.", "A", "+bufsize=1232", "+tries=1", "+time=8"],
    );
    assert_eq!(status(&out), "SERVFAIL", "{out}\n{}", server.log_text());
    assert!(answer_lines(&out).is_empty(), "{out}");
    assert!(
        tcp_asked.load(Ordering::SeqCst) >= 1,
        "dnspect retried over TCP"
    );
    // TCP works again: once the failure's second is over, the next query asks again and gets
    // the whole set; the 4-record answer was never cached.
    tcp_up.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1200));
    for _ in 0..2 {
        let out = dig(port, &["big.example.", "A", "+bufsize=1232"]);
        assert_eq!(status(&out), "NOERROR", "{out}\n{}", server.log_text());
        assert_eq!(answer_lines(&out).len(), 8, "{out}");
        assert!(!flags(&out).contains(" tc"), "{out}");
    }
}

#[test]
fn kubernetes_dns_121_nodata_expires_and_the_name_resolves() {
    // z.alp.im: NOERROR, no answer, Cloudflare's SOA (TTL 1799, MINIMUM 3600), as in the thread;
    // then the A record is added. max_negative_ttl = 2 keeps the test short (the default, 300 s,
    // is what the scenario measures): the NODATA is kept 2 s, never the days of the thread.
    let added = Arc::new(AtomicBool::new(false));
    let a = added.clone();
    let up = FakeUpstream::start(move |q, _, _| {
        Some(if a.load(Ordering::SeqCst) {
            reply(
                q,
                &["z.alp.im. 300 IN A 192.0.2.1"],
                &[],
                Rcode::NOERROR,
                true,
            )
        } else {
            reply(q, &[], &["alp.im. 1799 IN SOA ivan.ns.cloudflare.com. dns.cloudflare.com. 2025042470 10000 2400 604800 3600"], Rcode::NOERROR, true)
        })
    });
    let (server, port, _) = serve(
        "inc121",
        &[up.port],
        "[engine.cache]\nmax_negative_ttl = 2\n",
    );
    let out = dig(port, &["z.alp.im.", "A"]);
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(answer_lines(&out).is_empty(), "{out}");
    added.store(true, Ordering::SeqCst);
    let cached = dig(port, &["z.alp.im.", "A"]);
    assert!(
        answer_lines(&cached).is_empty(),
        "the NODATA is cached for its lifetime: {cached}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    let out = dig(port, &["z.alp.im.", "A"]);
    assert!(
        out.contains("192.0.2.1"),
        "the added record is served after the NODATA's lifetime\n{out}\n{}",
        server.log_text()
    );
    assert!(
        server
            .log_text()
            .contains("negative for 2 s (negative-capped"),
        "{}",
        server.log_text()
    );
}

#[test]
fn pdns_3469_servfail_is_cached_briefly() {
    let failing = Arc::new(AtomicBool::new(true));
    let f = failing.clone();
    let up = FakeUpstream::start(move |q, _, _| {
        Some(if f.load(Ordering::SeqCst) {
            reply(q, &[], &[], Rcode::SERVFAIL, true)
        } else {
            reply(
                q,
                &["down.example. 300 IN A 192.0.2.53"],
                &[],
                Rcode::NOERROR,
                true,
            )
        })
    });
    let (server, port, dir) = serve("inc3469", &[up.port], "[engine]\nmax_attempts = 1\n");
    let out = dig(port, &["down.example.", "A"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    failing.store(false, Ordering::SeqCst);
    // Within the failure's second: the cached failure, labelled as such (EDE 13 Cached Error).
    let out = dig(port, &["down.example.", "A", "+bufsize=1232"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    assert!(out.contains("EDE: 13"), "{out}");
    std::thread::sleep(Duration::from_millis(1300));
    let out = dig(port, &["down.example.", "A"]);
    assert_eq!(status(&out), "NOERROR", "{out}\n{}", server.log_text());
    assert!(out.contains("192.0.2.53"), "{out}");
    // "Forever" cannot be configured: a failure_max_ttl over 5 minutes is refused with its field.
    let conf = dir.join("long-failures.toml");
    std::fs::write(
        &conf,
        config(
            port,
            &[up.port],
            "[engine.cache]\nfailure_max_ttl = 86400\n",
        ),
    )
    .unwrap();
    let check = run(
        std::process::Command::new(dnspect_bin())
            .arg("check-config")
            .arg(&conf),
        Duration::from_secs(10),
    );
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{err}");
    assert!(
        err.contains("failure_max_ttl") && err.contains("at most 300"),
        "{err}"
    );
}
