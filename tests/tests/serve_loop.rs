//! Forwarding loops on the running binary (`forwarder::loops`, `config::check_loops`): the
//! Kubernetes incident where the forwarder's upstream is itself, directly or through another
//! forwarder. dnspect must say so (the log without the query log, /ready 503 with the
//! upstream, `dnspect_upstream_loop` 1) and answer at once instead of making every client wait
//! the query timeout; an upstream that is the server's own listen address is refused before it
//! starts; a real authoritative server (NSD) is probed without a loop reported and without its
//! answers disturbed.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use dnspect_tests::*;

/// Polls /ready until its body starts with `want` (or 10 s pass); the last (status, body).
fn ready_until(metrics: u16, want: &str) -> (u16, String) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = http_get(metrics, "/ready");
        if body.starts_with(want) || Instant::now() > until {
            return (code, body);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A dig for `name` at `port`: its output and how long it took.
fn timed_dig(port: u16, name: &str) -> (String, Duration) {
    let t = Instant::now();
    let out = dig(port, &[name, "A"]);
    (out, t.elapsed())
}

#[test]
fn an_upstream_that_is_this_server_through_a_wildcard_listener_is_found_and_answered_at_once() {
    let dir = temp_dir("loop-self");
    let (port, metrics) = (free_port(), free_port());
    // 0.0.0.0:P takes 127.0.0.1:P: the upstream is dnspect itself. Allowed (another server
    // could hold 127.0.0.1:P itself), with a warning; the probes find the loop. No query log:
    // the loop must be logged all the same.
    let conf = format!(
        "listen = [\"0.0.0.0:{port}\"]\nupstreams = [\"127.0.0.1:{port}\"]\nmetrics = \"127.0.0.1:{metrics}\"\nworkers = 2\n[engine]\nloop_check = true\n"
    );
    let server = start_dnspect(&dir, &conf, port, &[]);
    assert!(
        server.wait_log(
            "is a local address on the port of the wildcard listener",
            Duration::from_secs(2)
        ),
        "{}",
        server.log_text()
    );
    let via = format!("forwarding loop via 127.0.0.1:{port}");
    let (code, body) = ready_until(metrics, &format!("not ready: {via}"));
    assert_eq!(code, 503, "{body}\n{}", server.log_text());
    assert_eq!(body.trim(), format!("not ready: {via}"));
    assert!(
        server.wait_log(&via, Duration::from_secs(2)),
        "{}",
        server.log_text()
    );
    assert!(
        server.log_text().contains("ERROR"),
        "logged as an error:\n{}",
        server.log_text()
    );
    let (_, scrape) = http_get(metrics, "/metrics");
    let series = format!("dnspect_upstream_loop{{to=\"127.0.0.1:{port}\"}}");
    assert_eq!(scraped(&scrape, &series), Some(1.0), "{scrape}");
    assert!(scraped(&scrape, "dnspect_loops_detected_total").unwrap() >= 1.0);
    assert_eq!(scraped(&scrape, "dnspect_ready"), Some(0.0));
    // A client is answered at once with the reason, not after the 4 s query timeout.
    let (out, took) = timed_dig(port, "www.example.");
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    assert!(out.contains(&via), "the EDE names the loop:\n{out}");
    assert!(took < Duration::from_millis(1500), "took {took:?}:\n{out}");
    let (_, scrape) = http_get(metrics, "/metrics");
    assert!(
        scraped(&scrape, "dnspect_loop_answers_total").unwrap() >= 1.0,
        "{scrape}"
    );
    // The operator fixes the upstream and reloads: the marks are cleared, the new upstream is
    // probed (and answers it), the server is ready and answers again.
    let up = a_record_upstream(60);
    let fixed = conf.replace(
        &format!("upstreams = [\"127.0.0.1:{port}\"]"),
        &format!("upstreams = [\"127.0.0.1:{}\"]", up.port),
    );
    assert_ne!(fixed, conf);
    std::fs::write(dir.join("dnspect.toml"), fixed).unwrap();
    server.reload_expecting("configuration reloaded");
    let (code, body) = ready_until(metrics, "ready: 1 of 1");
    assert_eq!(code, 200, "{body}\n{}", server.log_text());
    let out = dig(port, &["www.example.", "A"]);
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(out.contains("192.0.2.1"), "{out}");
    stop(server);
}

#[test]
fn two_servers_forwarding_to_each_other_both_find_the_loop() {
    let (pa, pb, ma, mb) = (free_port(), free_port(), free_port(), free_port());
    let conf = |me: u16, other: u16, m: u16| {
        format!("listen = [\"127.0.0.1:{me}\"]\nupstreams = [\"127.0.0.1:{other}\"]\nmetrics = \"127.0.0.1:{m}\"\nlog_queries = true\n[engine]\nloop_check = true\n")
    };
    let da = temp_dir("loop-pair-a");
    let db = temp_dir("loop-pair-b");
    // A starts first: its first probe finds nothing at B's port and is sent again.
    let a = start_dnspect(&da, &conf(pa, pb, ma), pa, &[]);
    let b = start_dnspect(&db, &conf(pb, pa, mb), pb, &[]);
    for (name, m, other, p) in [("A", ma, pb, &a), ("B", mb, pa, &b)] {
        let via = format!("forwarding loop via 127.0.0.1:{other}");
        let (code, body) = ready_until(m, &format!("not ready: {via}"));
        assert_eq!(code, 503, "{name}: {body}\n{}", p.log_text());
        assert!(body.contains(&via), "{name}: {body}");
        let (_, scrape) = http_get(m, "/metrics");
        let series = format!("dnspect_upstream_loop{{to=\"127.0.0.1:{other}\"}}");
        assert_eq!(scraped(&scrape, &series), Some(1.0), "{name}: {scrape}");
    }
    for port in [pa, pb] {
        let (out, took) = timed_dig(port, "www.example.");
        assert_eq!(status(&out), "SERVFAIL", "{out}");
        assert!(out.contains("forwarding loop via"), "{out}");
        assert!(took < Duration::from_millis(1500), "took {took:?}");
    }
    stop(a);
    stop(b);
}

#[test]
fn a_real_authoritative_upstream_is_probed_without_a_loop_and_answers_stay_right() {
    let dir = temp_dir("loop-nsd");
    let nsd_port = free_port();
    let zone = "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 admin 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A 192.0.2.80\n".to_string();
    let nsd = start_nsd(&dir, nsd_port, &[("example.test.", zone)]);
    let (port, metrics) = (free_port(), free_port());
    let conf = format!(
        "listen = [\"127.0.0.1:{port}\"]\nmetrics = \"127.0.0.1:{metrics}\"\nlog_queries = true\n[engine]\nloop_check = true\n[[engine.forward]]\nzones = [\"example.test\"]\nupstreams = [\"127.0.0.1:{nsd_port}\"]\n"
    );
    let server = start_dnspect(
        &dir,
        &conf,
        port,
        &["--upstream", &format!("127.0.0.1:{nsd_port}")],
    );
    // Both groups' probes come back answered by NSD, not through dnspect.
    assert!(
        server.wait_log(
            "(zone example.test.): the probe came back answered",
            Duration::from_secs(5)
        ),
        "{}",
        server.log_text()
    );
    assert!(server.wait_log(
        "(zone .): the probe came back answered",
        Duration::from_secs(5)
    ));
    let log = server.log_text();
    assert!(
        log.contains(".dnspect-loop-check.example.test. HINFO"),
        "{log}"
    );
    assert!(!log.contains("forwarding loop via"), "{log}");
    // (The workers publish their upstream counts twice a second.)
    let (code, body) = ready_until(metrics, "ready: 2 of 2");
    assert_eq!(code, 200, "{body}");
    let (_, scrape) = http_get(metrics, "/metrics");
    let series = format!("dnspect_upstream_loop{{to=\"127.0.0.1:{nsd_port}\"}}");
    assert_eq!(scraped(&scrape, &series), Some(0.0), "{scrape}");
    assert_eq!(scraped(&scrape, "dnspect_loops_detected_total"), Some(0.0));
    let out = dig(port, &["www.example.test.", "A"]);
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert_eq!(answer_lines(&out).len(), 1, "{out}");
    assert!(out.contains("192.0.2.80"), "{out}");
    let out = dig(port, &["nope.example.test.", "A"]);
    assert_eq!(status(&out), "NXDOMAIN", "{out}");
    // The probe's answer was not cached: the cache holds only what clients asked (metrics
    // are published twice a second: wait for the two queries to show).
    let until = Instant::now() + Duration::from_secs(5);
    let mut scrape = String::new();
    while Instant::now() < until {
        scrape = http_get(metrics, "/metrics").1;
        if scraped(&scrape, "dnspect_dns_requests_total{proto=\"udp\"}") >= Some(2.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        scraped(&scrape, "dnspect_cache_entries"),
        Some(2.0),
        "{scrape}"
    );
    stop(server);
    stop(nsd);
}

#[test]
fn an_upstream_that_is_the_listen_address_is_a_configuration_error() {
    let dir = temp_dir("loop-static");
    let port = free_port();
    let file = dir.join("loop.toml");
    std::fs::write(
        &file,
        format!("listen = [\"127.0.0.1:{port}\"]\n\nupstreams = [\"192.0.2.1\", \"127.0.0.1:{port}\"]\n"),
    )
    .unwrap();
    let out = run(
        Command::new(dnspect_bin()).arg("check-config").arg(&file),
        Duration::from_secs(10),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains(&format!("line 3, field `upstreams[1]`: 127.0.0.1:{port} is this server's own listen address (listen[0], line 1)")),
        "{err}"
    );
    // The node-local cache whose resolv.conf names the node-local address itself.
    let resolv = dir.join("resolv.conf");
    std::fs::write(&resolv, "nameserver 192.0.2.9\nnameserver 169.254.20.10\n").unwrap();
    std::fs::write(&file, "listen = [\"169.254.20.10:53\"]\n").unwrap();
    let out = run(
        Command::new(dnspect_bin())
            .arg("check-config")
            .arg(&file)
            .arg("--resolv-conf")
            .arg(&resolv),
        Duration::from_secs(10),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("nameserver 2 of /etc/resolv.conf"), "{err}");
    assert!(
        err.contains("169.254.20.10:53 is this server's own listen address"),
        "{err}"
    );
    // The same through flags: a usage error naming the flag, and nothing is bound.
    let out = run(
        Command::new(dnspect_bin()).args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--upstream",
            &format!("127.0.0.1:{port}"),
            "--metrics",
            "",
        ]),
        Duration::from_secs(10),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("field `--upstream`"), "{err}");
    assert!(err.contains("forwarding loop"), "{err}");
}
