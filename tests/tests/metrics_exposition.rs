//! The /metrics scrape of a running server, read by real Prometheus parsers (promtool from
//! Debian's prometheus package, the Python prometheus-client parser), and the operator files
//! that read it: every metric the Grafana dashboard (deploy/grafana/dnspect.json) and the alert
//! rules (deploy/prometheus/dnspect-alerts.yml) use must be in a real scrape; the rules pass
//! `promtool check rules` and their unit tests; every exported family is documented in
//! docs/metrics.md. And the counters that used to mislead: `recompressed_total` no longer
//! counts the OPT record dropped from every stored answer, `upstream_network_errors_total`
//! counts refused upstream ports, `suspect_negatives_total` counts incident 004's guard.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnspect_core::wire::Rcode;
use dnspect_tests::{
    config, dig, free_port, http_get, python, reply, require, run, scraped, start_dnspect,
    start_nsd, status, temp_dir, wait_tcp, FakeUpstream, Proc,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const ZONE: &str = "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 900 604800 60\n@ IN NS ns\nns IN A 192.0.2.53\nwww IN A 192.0.2.80\nalias IN CNAME www\n";

/// dnspect with its metrics listener on a free port: (process, DNS port, metrics port).
fn serve_with_metrics(name: &str, upstreams: &[u16], extra: &str) -> (Proc, u16, u16) {
    let dir = temp_dir(name);
    let (port, mport) = (free_port(), free_port());
    let metrics = format!("127.0.0.1:{mport}");
    let p = start_dnspect(
        &dir,
        &config(port, upstreams, extra),
        port,
        &["--metrics", &metrics],
    );
    wait_tcp(
        SocketAddr::from(([127, 0, 0, 1], mport)),
        Duration::from_secs(10),
    );
    (p, port, mport)
}

/// Scrapes until `series` has a value meeting `ok` (workers publish twice a second), within
/// 5 s; the last scrape either way.
fn scrape_until(mport: u16, series: &str, ok: impl Fn(f64) -> bool) -> String {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let (code, body) = http_get(mport, "/metrics");
        assert_eq!(code, 200, "{body}");
        if scraped(&body, series).is_some_and(&ok) || Instant::now() > until {
            return body;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `dnspect_*` names an operator file refers to.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("dnspect_") {
        let start = i + at;
        let before_ok =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        let mut end = start;
        while end < b.len()
            && (b[end].is_ascii_lowercase() || b[end].is_ascii_digit() || b[end] == b'_')
        {
            end += 1;
        }
        if before_ok {
            out.insert(text[start..end].to_string());
        }
        i = end.max(start + 1);
    }
    out
}

#[test]
fn scrape_parses_and_has_every_metric_the_dashboard_and_alerts_use() {
    let dir = temp_dir("metrics-nsd");
    let nsd_port = free_port();
    let _nsd = start_nsd(&dir, nsd_port, &[("example.test.", ZONE.to_string())]);
    let (_server, port, mport) = serve_with_metrics("metrics-exposition", &[nsd_port], "");
    // Traffic over both transports, a hit, a miss, a negative answer.
    for args in [
        &["www.example.test", "A"][..],
        &["www.example.test", "A"],
        &["+tcp", "alias.example.test", "A"],
        &["nothing.example.test", "A"],
    ] {
        let out = dig(port, args);
        assert_ne!(status(&out), "none", "{out}");
    }
    let text = scrape_until(mport, "dnspect_cache_hits_total", |v| v >= 1.0);

    // promtool: parses and lints the exposition (names, types, HELP); prints nothing when clean.
    let dir = temp_dir("metrics-promtool");
    let file = dir.join("scrape.txt");
    std::fs::write(&file, &text).expect("write scrape");
    let out = run(
        Command::new("sh").arg("-c").arg(format!(
            "{} check metrics < {}",
            require("promtool").display(),
            file.display()
        )),
        Duration::from_secs(30),
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}"
    );

    // The Python client's parser: every family and every sample name it sees.
    let parsed = python(&format!(
        r#"
from prometheus_client.parser import text_string_to_metric_families
text = open({file:?}).read()
for f in text_string_to_metric_families(text):
    print("family", f.name, f.type)
    for s in f.samples:
        print("sample", s.name)
"#,
        file = file.display().to_string()
    ));
    assert!(!parsed.contains("Traceback"), "prometheus_client: {parsed}");
    let mut samples = BTreeSet::new();
    let mut families = BTreeSet::new();
    for l in parsed.lines() {
        let mut w = l.split_whitespace();
        match (w.next(), w.next(), w.next()) {
            (Some("sample"), Some(n), _) => {
                samples.insert(n.to_string());
            }
            // The client strips `_total` from counter family names.
            (Some("family"), Some(n), Some(t)) => {
                families.insert(if t == "counter" {
                    format!("{n}_total")
                } else {
                    n.to_string()
                });
            }
            _ => {}
        }
    }
    assert!(families.len() > 40, "{parsed}");

    // Every name the dashboard and the rules use is a sample in the scrape.
    let dashboard =
        std::fs::read_to_string(repo().join("deploy/grafana/dnspect.json")).expect("dashboard");
    let rules = std::fs::read_to_string(repo().join("deploy/prometheus/dnspect-alerts.yml"))
        .expect("alert rules");
    let used: BTreeSet<String> = names_in(&dashboard)
        .into_iter()
        .chain(names_in(&rules))
        .collect();
    assert!(used.len() > 30, "{used:?}");
    let missing: Vec<&String> = used.iter().filter(|n| !samples.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "used by deploy/grafana or deploy/prometheus but not in a real scrape: {missing:?}"
    );
    // And the other way round: the dashboard shows every family the server exports.
    let dash_names = names_in(&dashboard);
    let unshown: Vec<&String> = families
        .iter()
        .filter(|f| !dash_names.contains(*f) && !dash_names.contains(&format!("{f}_bucket")))
        .collect();
    assert!(
        unshown.is_empty(),
        "exported but not on the dashboard: {unshown:?}"
    );
    // Every family is documented.
    let doc = std::fs::read_to_string(repo().join("docs/metrics.md")).expect("docs/metrics.md");
    let undocumented: Vec<&String> = families
        .iter()
        .filter(|f| !doc.contains(&format!("`{f}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/metrics.md: {undocumented:?}"
    );
    // And the other way round: every metric name the operator's documents mention (README,
    // docs/*.md, the default configuration's comments, ARCHITECTURE.md) is one a server
    // exports, as a family or a sample (`_bucket`, `_sum`, `_count`), so an alert or a query
    // written from the docs finds its series.
    let mut docs = vec![
        "README.md".to_string(),
        "ARCHITECTURE.md".to_string(),
        "native/src/default.toml".to_string(),
    ];
    for e in std::fs::read_dir(repo().join("docs")).expect("docs/") {
        let p = e.expect("docs/ entry").path();
        if p.extension().is_some_and(|x| x == "md") {
            docs.push(format!("docs/{}", p.file_name().unwrap().to_string_lossy()));
        }
    }
    let mut unexported = Vec::new();
    let mut mentioned = 0;
    for rel in &docs {
        let text = std::fs::read_to_string(repo().join(rel)).expect("doc");
        // Rust paths (`dnspect_core::engine`) are crates, not metrics.
        let paths: BTreeSet<String> = names_in(&text)
            .into_iter()
            .filter(|n| text.contains(&format!("{n}::")))
            .collect();
        for n in names_in(&text).difference(&paths) {
            mentioned += 1;
            if !families.contains(n) && !samples.contains(n) {
                unexported.push(format!("{rel}: {n}"));
            }
        }
    }
    assert!(
        mentioned > 60,
        "only {mentioned} metric names found in {docs:?}"
    );
    assert!(
        unexported.is_empty(),
        "documented but not exported by a running server: {unexported:?}"
    );
    // docs/metrics.md's tables give each family's labels (second column, backticked; values
    // in parentheses): the scrape has exactly those.
    let mut labels_scraped: std::collections::BTreeMap<String, BTreeSet<String>> =
        Default::default();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let name_end = l.find(['{', ' ']).unwrap_or(l.len());
        let mut name = &l[..name_end];
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if families.contains(base) {
                    name = base;
                }
            }
        }
        let set = labels_scraped.entry(name.to_string()).or_default();
        if let Some(inner) = l[name_end..]
            .strip_prefix('{')
            .and_then(|r| r.split('}').next())
        {
            for kv in inner.split(',') {
                let k = kv.split('=').next().unwrap_or("");
                if k != "le" && !k.is_empty() {
                    set.insert(k.to_string());
                }
            }
        }
    }
    let mut rows = 0;
    for row in doc.lines().filter(|l| l.starts_with("| `dnspect_")) {
        let cols: Vec<&str> = row.split('|').collect();
        let name = cols[1].trim().trim_matches('`');
        let mut col = cols[2].to_string();
        while let (Some(a), Some(b)) = (col.find('('), col.find(')')) {
            if b < a {
                break;
            }
            col.replace_range(a..=b, "");
        }
        let documented: BTreeSet<String> = col
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        let scraped = labels_scraped.get(name).cloned().unwrap_or_default();
        assert_eq!(
            scraped, documented,
            "labels of {name}: the scrape (left) against docs/metrics.md (right)"
        );
        rows += 1;
    }
    assert!(rows > 60, "only {rows} rows in docs/metrics.md's tables");

    // The dashboard is Grafana JSON: unique panel ids, every target with an expression.
    let dash: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    let panels = dash["panels"].as_array().expect("panels");
    let ids: BTreeSet<u64> = panels.iter().filter_map(|p| p["id"].as_u64()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids must be unique");
    for p in panels.iter().filter(|p| p["type"] != "row") {
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {} has no query", p["title"]);
        assert!(targets
            .iter()
            .all(|t| t["expr"].as_str().is_some_and(|e| !e.is_empty())));
    }
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let promtool = require("promtool");
    let dir = repo().join("deploy/prometheus");
    for args in [
        &["check", "rules", "dnspect-alerts.yml"][..],
        &["test", "rules", "dnspect-alerts.test.yml"],
    ] {
        let out = run(
            Command::new(&promtool).current_dir(&dir).args(args),
            Duration::from_secs(60),
        );
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool {args:?}: {said}");
        assert!(said.contains("SUCCESS"), "promtool {args:?}: {said}");
    }
    let rules = std::fs::read_to_string(dir.join("dnspect-alerts.yml")).expect("rules");
    for alert in [
        "DnspectUpstreamDown",
        "DnspectUpstreamsDown",
        "DnspectServfailRate",
        "DnspectSuspectNegatives",
        "DnspectClientsRateLimited",
    ] {
        assert!(rules.contains(&format!("alert: {alert}\n")), "{alert}");
        let tests = std::fs::read_to_string(dir.join("dnspect-alerts.test.yml")).expect("tests");
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "no promtool unit test for {alert}"
        );
    }
}

#[test]
fn recompressed_counts_recompression_not_the_dropped_opt_record() {
    // NSD compresses its answers: with EDNS (dig's default) every stored answer loses its OPT
    // record and gets shorter, which is not re-compression.
    let dir = temp_dir("metrics-recompress");
    let nsd_port = free_port();
    let _nsd = start_nsd(&dir, nsd_port, &[("example.test.", ZONE.to_string())]);
    let (_server, port, mport) = serve_with_metrics("metrics-recompress-nsd", &[nsd_port], "");
    for name in ["www.example.test", "alias.example.test", "ns.example.test"] {
        let out = dig(port, &["+edns=0", "+bufsize=1232", name, "A"]);
        assert_eq!(status(&out), "NOERROR", "{out}");
    }
    let text = scrape_until(mport, "dnspect_cache_misses_total", |v| v >= 3.0);
    assert_eq!(
        scraped(&text, "dnspect_cache_misses_total"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        scraped(&text, "dnspect_recompressed_total"),
        Some(0.0),
        "NSD's compressed answers counted as re-compressed"
    );

    // An upstream that does not compress (incident 000): those answers are re-compressed.
    let fake = FakeUpstream::start(|q, _, _| {
        let n = q.questions[0].name.to_string();
        Some(reply(
            q,
            &[
                &format!("{n} 300 IN CNAME target.{n}"),
                &format!("target.{n} 300 IN A 192.0.2.1"),
            ],
            &[],
            Rcode::NOERROR,
            false,
        ))
    });
    let (_server, port, mport) = serve_with_metrics("metrics-recompress-fake", &[fake.port], "");
    for name in ["a.example.test", "b.example.test"] {
        let out = dig(port, &[name, "A"]);
        assert_eq!(status(&out), "NOERROR", "{out}");
    }
    let text = scrape_until(mport, "dnspect_recompressed_total", |v| v >= 2.0);
    assert_eq!(
        scraped(&text, "dnspect_recompressed_total"),
        Some(2.0),
        "{text}"
    );
    let to = format!("{{to=\"127.0.0.1:{}\"}}", fake.port);
    assert_eq!(
        scraped(&text, &format!("dnspect_upstream_uncompressed_total{to}")),
        Some(2.0)
    );
}

#[test]
fn network_errors_count_a_refused_upstream() {
    // Nothing listens on this port: the connected UDP socket gets ECONNREFUSED (ICMP port
    // unreachable), a transport failure, not a timeout.
    let closed = free_port();
    let (_server, port, mport) = serve_with_metrics("metrics-neterr", &[closed], "");
    let out = dig(port, &["www.example.test", "A"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    let series = format!("dnspect_upstream_network_errors_total{{to=\"127.0.0.1:{closed}\"}}");
    let text = scrape_until(mport, &series, |v| v >= 1.0);
    assert!(scraped(&text, &series).is_some_and(|v| v >= 1.0), "{text}");
    assert_eq!(
        scraped(
            &text,
            &format!("dnspect_upstream_timeouts_total{{to=\"127.0.0.1:{closed}\"}}")
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        scraped(
            &text,
            "dnspect_dns_responses_total{proto=\"udp\",rcode=\"SERVFAIL\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn suspect_negatives_count_the_incident_004_guard() {
    // A name answers with TTL 1, then the upstream says NXDOMAIN: a negative for a name that
    // was answering a moment ago is suspect (incident 004).
    let negative = Arc::new(AtomicBool::new(false));
    let neg = negative.clone();
    let fake = FakeUpstream::start(move |q, _, _| {
        let n = q.questions[0].name.to_string();
        Some(if neg.load(Ordering::SeqCst) {
            reply(
                q,
                &[],
                &["example.test. 300 IN SOA ns.example.test. h.example.test. 1 3600 900 604800 300"],
                Rcode::NXDOMAIN,
                true,
            )
        } else {
            reply(
                q,
                &[&format!("{n} 1 IN A 192.0.2.1")],
                &[],
                Rcode::NOERROR,
                true,
            )
        })
    });
    let (_server, port, mport) = serve_with_metrics("metrics-suspect", &[fake.port], "");
    let out = dig(port, &["www.example.test", "A"]);
    assert_eq!(status(&out), "NOERROR", "{out}");
    let text = scrape_until(mport, "dnspect_cache_misses_total", |v| v >= 1.0);
    assert_eq!(scraped(&text, "dnspect_suspect_negatives_total"), Some(0.0));
    negative.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    let _ = dig(port, &["www.example.test", "A"]);
    let text = scrape_until(mport, "dnspect_suspect_negatives_total", |v| v >= 1.0);
    assert!(
        scraped(&text, "dnspect_suspect_negatives_total").is_some_and(|v| v >= 1.0),
        "{text}"
    );
}

/// The metrics listener is bounded like the DNS ports: `admin.max_connections` at once (more
/// are closed at accept) and `admin.timeout` to send a request. Two silent connections fill a
/// listener of two; a third is closed at once; after the timeout both are gone, counted, and
/// /metrics answers again.
#[test]
fn the_metrics_listener_bounds_connections_and_counts_what_it_closes() {
    use std::io::Read;
    let fake = FakeUpstream::start(|_, _, _| None);
    let (_server, _port, mport) = serve_with_metrics(
        "metrics-http-bounds",
        &[fake.port],
        "[admin]\nmax_connections = 2\ntimeout = \"1s\"\n",
    );
    let at = SocketAddr::from(([127, 0, 0, 1], mport));
    // The accept loop runs (the connection `serve_with_metrics` waited with is done).
    assert_eq!(http_get(mport, "/health").0, 200);
    let silent: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(at).unwrap())
        .collect();
    // Let the listener take both before the third.
    std::thread::sleep(Duration::from_millis(200));
    let mut third = std::net::TcpStream::connect(at).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut buf = [0u8; 64];
    let started = Instant::now();
    let r = third.read(&mut buf);
    assert!(
        matches!(r, Ok(0))
            || matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection over the limit is closed at once: {r:?} after {:?}",
        started.elapsed()
    );
    // The silent two time out 1 s after they were taken; then a scrape gets through.
    std::thread::sleep(Duration::from_millis(1300));
    let body = scrape_until(
        mport,
        "dnspect_http_connections_rejected_total{reason=\"timeout\"}",
        |v| v >= 2.0,
    );
    let limit = scraped(
        &body,
        "dnspect_http_connections_rejected_total{reason=\"limit\"}",
    );
    let timeout = scraped(
        &body,
        "dnspect_http_connections_rejected_total{reason=\"timeout\"}",
    );
    println!("closed unserved: limit {limit:?}, timeout {timeout:?}");
    assert!(limit.is_some_and(|v| v >= 1.0), "{body}");
    assert!(timeout.is_some_and(|v| v >= 2.0), "{body}");
    drop(silent);
}

/// Reloads are counted by result, and a rejected one leaves the load time of the configuration
/// in force as it was: what the DnspectConfigReloadRejected alert and the dashboard read.
#[test]
fn reloads_are_counted_and_a_rejected_one_keeps_the_load_time() {
    let fake = FakeUpstream::start(|_, _, _| None);
    let dir = temp_dir("metrics-reloads");
    let (port, mport) = (free_port(), free_port());
    let good = config(port, &[fake.port], "");
    let metrics = format!("127.0.0.1:{mport}");
    let server = start_dnspect(&dir, &good, port, &["--metrics", &metrics]);
    wait_tcp(
        SocketAddr::from(([127, 0, 0, 1], mport)),
        Duration::from_secs(10),
    );
    let loaded = |body: &str| {
        scraped(body, "dnspect_config_last_load_success_timestamp_seconds").unwrap_or(-1.0)
    };
    let (_, body) = http_get(mport, "/metrics");
    let started = loaded(&body);
    assert!(started > 1.7e9, "{body}");
    assert_eq!(
        scraped(&body, "dnspect_reloads_total{result=\"ok\"}"),
        Some(0.0)
    );
    // A bad file: rejected, counted, the load time unchanged.
    std::fs::write(
        dir.join("dnspect.toml"),
        format!("{good}\nno_such_key = 1\n"),
    )
    .unwrap();
    server.reload_expecting("configuration rejected");
    let body = scrape_until(mport, "dnspect_reloads_total{result=\"rejected\"}", |v| {
        v >= 1.0
    });
    assert_eq!(
        scraped(&body, "dnspect_reloads_total{result=\"rejected\"}"),
        Some(1.0)
    );
    assert_eq!(loaded(&body), started, "{body}");
    // Mended: applied, counted, loaded again (at least one second later).
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(dir.join("dnspect.toml"), &good).unwrap();
    server.reload_expecting("configuration reloaded");
    let body = scrape_until(mport, "dnspect_reloads_total{result=\"ok\"}", |v| v >= 1.0);
    assert_eq!(
        scraped(&body, "dnspect_reloads_total{result=\"ok\"}"),
        Some(1.0)
    );
    assert!(loaded(&body) > started, "{body}");
}
