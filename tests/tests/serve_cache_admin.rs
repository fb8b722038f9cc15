//! The cache admin API and `dnspect cache` end to end: dig as the client, a scripted flaky
//! upstream for incident 004's transient NODATA (no real server gives one on demand), the admin
//! routes over HTTP and the CLI on top.
#![allow(clippy::unwrap_used)]
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnspect_core::wire::Rcode;
use dnspect_tests::*;

const CHAIN: [&str; 2] = [
    "repo1.maven.org. 300 IN CNAME central.maven.org.",
    "central.maven.org. 300 IN CNAME sonatype.map.fastly.net.",
];
const A: &str = "sonatype.map.fastly.net. 300 IN A 151.101.36.209";
const SOA: &str =
    "fastly.net. 300 IN SOA ns1.fastly.net. hostmaster.fastly.com. 1 3600 600 604800 300";

/// A dnspect with its metrics (and admin) listener on a free port.
fn serve_admin(name: &str, upstreams: &[u16], extra: &str) -> (Proc, u16, u16, std::path::PathBuf) {
    let dir = temp_dir(name);
    let (port, mport) = (free_port(), free_port());
    let ups: Vec<String> = upstreams
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect();
    let config = format!(
        "listen = [\"127.0.0.1:{port}\"]\nupstreams = [{}]\nmetrics = \"127.0.0.1:{mport}\"\nlog_queries = true\n{extra}\n",
        ups.join(", ")
    );
    let server = start_dnspect(&dir, &config, port, &[]);
    wait_tcp(
        SocketAddr::from(([127, 0, 0, 1], mport)),
        Duration::from_secs(10),
    );
    (server, port, mport, dir)
}

/// One HTTP request to the admin listener: (status, body).
fn http(port: u16, method: &str, target: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!("{method} {target} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        text.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

/// `dnspect cache ARGS`: (exit code, stdout, stderr).
fn cache_cli(args: &[&str]) -> (i32, String, String) {
    let out = run(
        Command::new(dnspect_bin()).arg("cache").args(args),
        Duration::from_secs(20),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls /metrics until `series` reaches `at_least` (workers publish twice a second).
fn wait_metric(mport: u16, series: &str, at_least: f64) -> f64 {
    let until = Instant::now() + Duration::from_secs(5);
    let mut v = 0.0;
    while Instant::now() < until {
        v = scraped(&http_get(mport, "/metrics").1, series).unwrap_or(0.0);
        if v >= at_least {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    v
}

#[test]
fn incident_004_transient_nodata_is_shown_with_its_provenance_and_flushed() {
    // The flaky upstream: the first answer ends the chain in NODATA (nothing on record for the
    // name yet, so the cache keeps it for the RFC 2308 TTL, 300 s); after that it recovers.
    let flaky = Arc::new(AtomicBool::new(true));
    let f2 = flaky.clone();
    let up = FakeUpstream::start(move |q, _, _| {
        Some(if f2.swap(false, Ordering::SeqCst) {
            reply(q, &CHAIN, &[SOA], Rcode::NOERROR, true)
        } else {
            reply(q, &[CHAIN[0], CHAIN[1], A], &[], Rcode::NOERROR, true)
        })
    });
    let (server, port, mport, _dir) = serve_admin("cache-admin-004", &[up.port], "");
    let server_arg = format!("127.0.0.1:{mport}");
    let out = dig(port, &["repo1.maven.org", "A"]);
    assert_eq!(status(&out), "NOERROR");
    assert!(
        !out.contains("151.101.36.209"),
        "the transient NODATA: {out}"
    );
    // The upstream has recovered, but the cache keeps answering NODATA: the incident.
    let out = dig(port, &["repo1.maven.org", "A"]);
    assert!(!out.contains("151.101.36.209"), "still cached: {out}");
    assert_eq!(up.count(), 1, "answered from the cache");

    // What the operator asks first: what does the cache hold, and why?
    let (st, body) = http(mport, "GET", "/cache/entries?name=repo1.maven.org", None);
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["total"], 1, "{body}");
    let e = &v["entries"][0];
    assert_eq!(e["name"], "repo1.maven.org.");
    assert_eq!(e["type"], "A");
    assert_eq!(e["kind"], "negative");
    assert_eq!(e["upstream"], format!("127.0.0.1:{}", up.port));
    assert_eq!(e["rule"], "negative-rfc2308-soa");
    assert_eq!(
        (e["upstream_ttl"].as_u64(), e["ttl"].as_u64()),
        (Some(300), Some(300))
    );
    assert!(e["remaining"].as_u64().unwrap() <= 300);
    assert!(
        e.get("worker").is_none(),
        "one shared cache: no worker per entry"
    );
    let stored = e["stored_unix_ms"].as_u64().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        now_ms.abs_diff(stored) < 60_000,
        "stored {stored}, now {now_ms}"
    );
    assert!(
        e["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("SOA")),
        "{body}"
    );

    // The same through the CLI.
    let (code, text, err) = cache_cli(&["show", "repo1.maven.org", "--server", &server_arg]);
    assert_eq!(code, 0, "{text}{err}");
    assert!(
        text.contains("repo1.maven.org. IN A  negative  NOERROR from 127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("rule negative-rfc2308-soa: negative answer: min(SOA TTL, SOA MINIMUM)"),
        "{text}"
    );
    assert!(text.contains("lifetime 300 s, upstream TTL 300"), "{text}");
    let (code, text, _) = cache_cli(&["show", "nothing.example", "--server", &server_arg]);
    assert_eq!(code, 1, "nothing cached: exit 1: {text}");
    assert!(
        text.contains("nothing cached for nothing.example"),
        "{text}"
    );

    // Flush by suffix through the CLI; the name resolves again.
    let (code, text, err) = cache_cli(&["flush", "maven.org", "--suffix", "--server", &server_arg]);
    assert_eq!(code, 0, "{text}{err}");
    assert!(
        text.contains("flushed maven.org and every name under it: 1 key(s) removed"),
        "{text}"
    );
    let out = dig(port, &["repo1.maven.org", "A"]);
    assert!(
        out.contains("151.101.36.209"),
        "resolves after the flush: {out}"
    );
    assert_eq!(up.count(), 2);
    let log = server.log_text();
    assert!(
        log.contains("flushed maven.org. and below from the cache: 1 key(s)"),
        "{log}"
    );
    assert_eq!(wait_metric(mport, "dnspect_cache_flushes_total", 1.0), 1.0);
    assert_eq!(
        wait_metric(mport, "dnspect_cache_flushed_keys_total", 1.0),
        1.0
    );

    // The entry is now the positive chain.
    let (_, body) = http(mport, "GET", "/cache/entries?name=repo1.maven.org", None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["entries"][0]["kind"], "positive", "{body}");
    assert_eq!(v["entries"][0]["rule"], "positive-min-ttl", "{body}");

    // Flush one name over HTTP with DELETE, then everything with POST.
    let (st, body) = http(mport, "DELETE", "/cache/entries?name=REPO1.maven.org", None);
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"keys\": 1"), "{body}");
    dig(port, &["repo1.maven.org", "A"]);
    // The DO variant is a key of its own.
    dig(port, &["repo1.maven.org", "A", "+dnssec"]);
    let (st, body) = http(mport, "POST", "/cache/flush", None);
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"keys\": 2"), "{body}");
    let (_, body) = http(mport, "GET", "/cache/entries", None);
    assert!(body.contains("\"total\": 0"), "{body}");
}

#[test]
fn bad_requests_and_unreachable_servers_get_clear_errors() {
    let up = a_record_upstream(300);
    let (_server, _port, mport, _dir) = serve_admin("cache-admin-errors", &[up.port], "");
    for (method, target, want_status, want) in [
        (
            "GET",
            "/cache/entries?name=a..b",
            400,
            "name: \\\"a..b\\\" is not a domain name",
        ),
        ("GET", "/cache/entries?limit=0", 400, "limit"),
        ("GET", "/cache/entries?bogus=1", 400, "unknown parameter"),
        ("PUT", "/cache/flush", 405, "use GET /cache/entries"),
        ("DELETE", "/cache/entries", 400, "needs ?name=NAME"),
        ("GET", "/cache/nothing", 404, "no admin route"),
    ] {
        let (st, body) = http(mport, method, target, None);
        assert_eq!(st, want_status, "{method} {target}: {body}");
        assert!(body.contains(want), "{method} {target}: {body}");
    }
    // Nothing listens: the CLI says so and exits 2.
    let dead = free_port();
    let (code, _, err) = cache_cli(&["flush", "--server", &format!("127.0.0.1:{dead}")]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("cannot reach the admin API at 127.0.0.1:{dead}")),
        "{err}"
    );
    let (code, _, err) = cache_cli(&["show", "x", "--server", "not an address"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--server \"not an address\" is not an address"),
        "{err}"
    );
}

#[test]
fn a_token_file_guards_the_admin_api_and_both_workers_are_flushed() {
    let up = a_record_upstream(300);
    let dir = temp_dir("cache-admin-token");
    let token_file = dir.join("admin.token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let extra = format!(
        "workers = 2\n[admin]\ntoken_file = \"{}\"\n",
        token_file.display()
    );
    let (server, port, mport, _d) = serve_admin("cache-admin-token-srv", &[up.port], &extra);
    let server_arg = format!("127.0.0.1:{mport}");
    // Enough queries (each dig from its own port) that both workers cache some.
    for i in 0..16 {
        let out = dig(port, &[&format!("n{i}.example.test"), "A"]);
        assert_eq!(status(&out), "NOERROR");
    }
    let (st, body) = http(mport, "GET", "/cache/entries", None);
    assert_eq!(st, 401, "{body}");
    assert!(body.contains("missing or wrong bearer token"), "{body}");
    let (st, _) = http(mport, "GET", "/cache/entries", Some("wrong"));
    assert_eq!(st, 401);
    let (code, _, err) = cache_cli(&["show", "--server", &server_arg]);
    assert_eq!(code, 2);
    assert!(err.contains("refused: HTTP 401"), "{err}");
    assert!(err.contains("--token-file"), "{err}");
    let tf = token_file.to_str().unwrap();
    let (code, text, err) = cache_cli(&[
        "show",
        "--server",
        &server_arg,
        "--token-file",
        tf,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["total"], 16, "{text}");
    // One shared cache for both workers: each name listed once, whichever worker cached it.
    let names: std::collections::BTreeSet<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 16, "no duplicates: {text}");
    let (code, text, err) = cache_cli(&[
        "flush",
        "example.test",
        "--suffix",
        "--json",
        "--server",
        &server_arg,
        "--token-file",
        tf,
    ]);
    assert_eq!(code, 0, "{err}");
    let f: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(f["keys"], 16, "{text}");
    // Flushed for every worker: the listing is empty and the names go upstream again.
    let (st, body) = http(mport, "GET", "/cache/entries", Some("s3cret-token"));
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["total"], 0, "{body}");
    // A new token on SIGHUP: the old one stops working, the new one works.
    std::fs::write(&token_file, "rotated-token\n").unwrap();
    server.reload_expecting("SIGHUP: configuration reloaded");
    let (st, _) = http(mport, "GET", "/cache/entries", Some("s3cret-token"));
    assert_eq!(st, 401, "the old token after the reload");
    let (st, body) = http(mport, "GET", "/cache/entries", Some("rotated-token"));
    assert_eq!(st, 200, "{body}");
    // An empty token file is rejected at reload, and the running token is kept.
    std::fs::write(&token_file, "\n").unwrap();
    server.reload_expecting("admin.token_file");
    let (st, _) = http(mport, "GET", "/cache/entries", Some("rotated-token"));
    assert_eq!(st, 200, "the running configuration is kept");
    let missing = Path::new("/nonexistent/token");
    let (code, _, err) = cache_cli(&[
        "show",
        "--server",
        &server_arg,
        "--token-file",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read the token file /nonexistent/token"),
        "{err}"
    );
}
