//! Per-zone forwarding against two real authoritative servers: NSD serves corp.test and a
//! reverse zone, Knot serves lab.test and is the default upstream. `dig` through dnspect shows
//! each zone answered by its own server, and both servers' query logs (dnstap, read back with
//! `kdig -G`) show that no query went to the wrong one. Reloads (SIGHUP) move zones, keep the
//! cache, and reject a bad configuration with its line and field.
#![allow(clippy::unwrap_used)]
use std::path::Path;

use dnspect_tests::*;

fn soa(origin: &str) -> String {
    format!("$ORIGIN {origin}\n$TTL 300\n@ IN SOA ns.{origin} host.{origin} 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n")
}

fn corp_zone() -> String {
    soa("corp.test.") + "www IN A 10.1.0.1\nmail IN A 10.1.0.25\n"
}

fn reverse_zone() -> String {
    soa("2.0.192.in-addr.arpa.") + "1 IN PTR www.corp.test.\n"
}

fn lab_zone() -> String {
    soa("lab.test.") + "www IN A 10.2.0.1\nnas IN AAAA 2001:db8::10\n"
}

struct Upstreams {
    nsd: Proc,
    nsd_tap: DnstapLog,
    nsd_port: u16,
    knot: Proc,
    knot_tap: DnstapLog,
    knot_port: u16,
}

fn upstreams(dir: &Path) -> Upstreams {
    let nsd_dir = dir.join("nsd");
    let knot_dir = dir.join("knot");
    std::fs::create_dir_all(&nsd_dir).unwrap();
    std::fs::create_dir_all(&knot_dir).unwrap();
    let nsd_tap = DnstapLog::collector(&nsd_dir);
    let nsd_port = free_port();
    let nsd = start_nsd_logged(
        &nsd_dir,
        nsd_port,
        &[
            ("corp.test.", corp_zone()),
            ("2.0.192.in-addr.arpa.", reverse_zone()),
        ],
        &nsd_tap,
    );
    let knot_port = free_port();
    let (knot, knot_tap) = start_knot(&knot_dir, knot_port, &[("lab.test.", lab_zone())]);
    // Each answers its own zone directly (and its query log is connected: these two
    // questions must be in it).
    let out = dig(nsd_port, &["www.corp.test", "A", "+norec"]);
    assert!(out.contains("10.1.0.1"), "NSD: {out}");
    let out = dig(knot_port, &["www.lab.test", "A", "+norec"]);
    assert!(out.contains("10.2.0.1"), "Knot: {out}");
    Upstreams {
        nsd,
        nsd_tap,
        nsd_port,
        knot,
        knot_tap,
        knot_port,
    }
}

/// Stops everything and returns (NSD's questions, Knot's questions).
fn query_logs(server: Proc, u: Upstreams) -> (Vec<String>, Vec<String>) {
    stop(server);
    stop(u.nsd);
    stop(u.knot);
    (u.nsd_tap.questions(), u.knot_tap.questions())
}

#[test]
fn each_zone_goes_to_its_own_upstream_and_no_query_to_the_wrong_one() {
    let dir = temp_dir("zones-flags");
    let u = upstreams(&dir);
    let port = free_port();
    let cfg = format!("listen = [\"127.0.0.1:{port}\"]\nmetrics = \"\"\nlog_queries = true\n");
    // Flags only: Knot is the default, NSD serves corp.test and the reverse zone.
    let nsd = format!("127.0.0.1:{}", u.nsd_port);
    let knot = format!("127.0.0.1:{}", u.knot_port);
    let server = start_dnspect(
        &dir,
        &cfg,
        port,
        &[
            "--upstream",
            &knot,
            "--forward",
            &format!("corp.test={nsd}"),
            "--forward",
            &format!("2.0.192.in-addr.arpa={nsd}"),
        ],
    );
    let out = dig(port, &["www.corp.test", "A"]);
    assert_eq!(answer_lines(&out).len(), 1, "{out}");
    assert!(out.contains("10.1.0.1"), "{out}");
    let out = dig(port, &["MAIL.Corp.Test", "A"]);
    assert!(out.contains("10.1.0.25"), "{out}");
    let out = dig(port, &["-x", "192.0.2.1"]);
    assert!(out.contains("www.corp.test."), "{out}");
    let out = dig(port, &["www.lab.test", "A"]);
    assert!(out.contains("10.2.0.1"), "{out}");
    let out = kdig(port, &["nas.lab.test", "AAAA", "+tcp"]);
    assert!(out.contains("2001:db8::10"), "{out}");
    // Not under corp.test: the default upstream (Knot), which does not serve it.
    let out = dig(port, &["notcorp.test", "A"]);
    assert!(
        !out.contains("NOERROR") || answer_lines(&out).is_empty(),
        "{out}"
    );
    let log = server.log_text();
    for want in [
        format!("forwarded www.corp.test. A to {nsd}"),
        format!("forwarded 1.2.0.192.in-addr.arpa. PTR to {nsd}"),
        format!("forwarded www.lab.test. A to {knot}"),
        format!("forwarded notcorp.test. A to {knot}"),
        "zone corp.test.: random".to_string(),
    ] {
        assert!(log.contains(&want), "no {want:?} in the query log:\n{log}");
    }
    let (nsd_q, knot_q) = query_logs(server, u);
    // NSD saw its zones' names, and nothing else (beyond the direct check above).
    for want in [
        "www.corp.test. A",
        "mail.corp.test. A",
        "1.2.0.192.in-addr.arpa. PTR",
    ] {
        assert!(
            nsd_q.iter().any(|q| q == want),
            "NSD never saw {want}: {nsd_q:?}"
        );
    }
    for q in &nsd_q {
        assert!(
            q.contains(".corp.test.") || q.contains("2.0.192.in-addr.arpa."),
            "NSD was asked {q}, which is not its zone: {nsd_q:?}"
        );
    }
    for want in ["www.lab.test. A", "nas.lab.test. AAAA", "notcorp.test. A"] {
        assert!(
            knot_q.iter().any(|q| q == want),
            "Knot never saw {want}: {knot_q:?}"
        );
    }
    for q in &knot_q {
        assert!(
            !q.contains("corp.test.") || q.starts_with("notcorp.test."),
            "Knot was asked {q}, which belongs to NSD: {knot_q:?}"
        );
        assert!(
            !q.contains("in-addr.arpa"),
            "Knot was asked {q}: {knot_q:?}"
        );
    }
}

#[test]
fn sighup_moves_zones_keeps_the_cache_and_rejects_a_bad_file() {
    let dir = temp_dir("zones-reload");
    let u = upstreams(&dir);
    let port = free_port();
    let base = format!(
        "listen = [\"127.0.0.1:{port}\"]\nmetrics = \"\"\nlog_queries = true\nupstreams = [\"127.0.0.1:{}\"]\n",
        u.knot_port
    );
    let server = start_dnspect(&dir, &base, port, &[]);
    let conf = dir.join("dnspect.toml");
    // Before: corp.test goes to Knot, which refuses it.
    let out = dig(port, &["www.corp.test", "A"]);
    assert!(answer_lines(&out).is_empty(), "{out}");
    let out = dig(port, &["www.lab.test", "A"]);
    assert!(out.contains("10.2.0.1"), "{out}");
    // The reload forwards corp.test to NSD (TOML form), with a smaller cache.
    let forward = format!(
        "\n[[engine.forward]]\nzones = [\"corp.test\"]\nupstreams = [\"127.0.0.1:{}\"]\npolicy = \"sequential\"\n\n[engine.cache]\nsize = \"8MiB\"\n",
        u.nsd_port
    );
    std::fs::write(&conf, format!("{base}{forward}")).unwrap();
    server.reload_expecting("1 forward group(s)");
    // What Knot said about corp.test (a cached failure) went with the move.
    assert!(
        server.wait_log(
            "1 cached name(s) now forwarded to other upstreams",
            std::time::Duration::from_secs(3)
        ),
        "{}",
        server.log_text()
    );
    assert!(
        server.log_text().contains("cache 8388608 B"),
        "{}",
        server.log_text()
    );
    let out = dig(port, &["www.corp.test", "A"]);
    assert!(out.contains("10.1.0.1"), "{out}");
    // The cache survived the reload: www.lab.test comes from it.
    let out = dig(port, &["www.lab.test", "A"]);
    assert!(out.contains("10.2.0.1"), "{out}");
    let log = server.log_text();
    let after = &log[log.find("1 forward group(s)").unwrap()..];
    assert!(
        after.contains("reply www.lab.test. A to client") && after.contains("from cache"),
        "{after}"
    );
    // A bad file: rejected with its line and field, the running configuration kept.
    std::fs::write(
        &conf,
        format!("{base}{}", forward.replace("127.0.0.1:", "nsd-host:")),
    )
    .unwrap();
    server.reload_expecting("configuration rejected");
    let log = server.log_text();
    assert!(
        log.contains("line 8, field `engine.forward[0].upstreams[0]`"),
        "{log}"
    );
    let out = dig(port, &["mail.corp.test", "A"]);
    assert!(out.contains("10.1.0.25"), "still forwarded to NSD: {out}");
    let (nsd_q, knot_q) = query_logs(server, u);
    assert!(nsd_q.iter().any(|q| q == "mail.corp.test. A"), "{nsd_q:?}");
    // Knot was asked www.corp.test only before the reload, and never mail.corp.test.
    assert!(knot_q.iter().any(|q| q == "www.corp.test. A"), "{knot_q:?}");
    assert!(
        !knot_q.iter().any(|q| q.starts_with("mail.corp")),
        "{knot_q:?}"
    );
    // www.lab.test was asked of Knot once (and once directly): the second came from the cache.
    let n = knot_q.iter().filter(|q| *q == "www.lab.test. A").count();
    assert_eq!(n, 2, "{knot_q:?}");
}
