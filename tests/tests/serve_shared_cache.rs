//! One cache for all workers (issue 11): `dnspect serve --workers 2` in front of NSD. Each query
//! goes out from a fresh UDP socket (a new source port), so the kernel's SO_REUSEPORT hash
//! spreads them over both workers. A name is missed once, by one worker, and every later query
//! for it is a hit on whichever worker it reaches: the query log (with thread names) shows
//! hits served by the worker that did not cache the name, and the hit rate with two workers
//! equals one worker's. The cache metrics count the one cache once.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use dnspect_core::wire::{Class, Message, Question, RType, Rcode};
use dnspect_tests::{free_port, http_get, scraped, start_dnspect, start_nsd, temp_dir};

const NAMES: usize = 20;
const ASKS: usize = 12;

fn zone() -> String {
    let mut z = String::from("$ORIGIN shared.test.\n$TTL 300\n@ IN SOA ns.shared.test. host.shared.test. 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n");
    for i in 0..NAMES {
        let _ = writeln!(z, "h{i} IN A 10.1.0.{i}");
    }
    z
}

/// One query for `name` A from a fresh socket; the answer's address.
fn ask(port: u16, name: &str, id: u16) -> String {
    let mut m = Message::default();
    m.header.id = id;
    m.header.rd = true;
    m.questions.push(Question {
        name: name.parse().unwrap(),
        qtype: RType::A,
        class: Class::IN,
    });
    let q = m.to_wire().unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    for _ in 0..3 {
        s.send_to(&q, ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 1500];
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            let a = Message::from_wire(&buf[..n]).unwrap();
            assert_eq!(a.header.id, id);
            assert_eq!(a.rcode(), Rcode::NOERROR, "{name}");
            assert_eq!(a.answers.len(), 1, "{name}");
            return a.answers[0].rdata.to_string();
        }
    }
    panic!("no answer for {name} in 9 s");
}

/// The sample's value once the workers published at least `at_least` (twice a second), within
/// 5 s.
fn metric_at_least(metrics: u16, sample: &str, at_least: f64) -> f64 {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let v = scraped(&http_get(metrics, "/metrics").1, sample).unwrap_or(-1.0);
        if v >= at_least || Instant::now() > until {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Run {
    hits: f64,
    misses: f64,
    entries: f64,
    /// Names whose cached answer was served by a worker other than the one that cached it.
    crossed: usize,
    /// Misses per name, from the query log.
    misses_by_name: BTreeMap<String, usize>,
}

/// Starts dnspect with `workers` in front of NSD on `nsd_port`, asks each name `ASKS` times
/// (one at a time, each from a new socket) and reads the log and the metrics.
fn run(name: &str, nsd_port: u16, workers: usize) -> Run {
    let dir = temp_dir(name);
    let port = free_port();
    let metrics = free_port();
    let conf = format!(
        "listen = [\"127.0.0.1:{port}\"]\nupstreams = [\"127.0.0.1:{nsd_port}\"]\nmetrics = \"127.0.0.1:{metrics}\"\nlog_queries = true\nworkers = {workers}\n"
    );
    let server = start_dnspect(&dir, &conf, port, &[]);
    let mut id = 1u16;
    for i in 0..NAMES {
        for _ in 0..ASKS {
            id += 1;
            let addr = ask(port, &format!("h{i}.shared.test."), id);
            assert_eq!(addr, format!("10.1.0.{i}"));
        }
    }
    let total = (NAMES * ASKS) as f64;
    let answered = metric_at_least(metrics, "dnspect_cache_hits_total", total - NAMES as f64);
    let misses = metric_at_least(metrics, "dnspect_cache_misses_total", NAMES as f64);
    let entries = metric_at_least(metrics, "dnspect_cache_entries", NAMES as f64);
    // Lines look like `... INFO dnspect-worker-1 dnspect::...: cached h3.shared.test. A positive
    // for 300 s (...)` when worker 1 stores the answer, `... from cache h3.shared.test. A TTL 299
    // (...)` when a worker serves it from the cache, `... miss h3.shared.test. A (...)`.
    let log = server.log_text();
    let worker = |line: &str| {
        line.split_whitespace()
            .find(|w| w.starts_with("dnspect-worker-"))
            .map(str::to_string)
    };
    let mut stored_by: BTreeMap<String, String> = BTreeMap::new();
    let mut served_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut misses_by_name: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        let Some(w) = worker(line) else { continue };
        for i in 0..NAMES {
            let n = format!("h{i}.shared.test.");
            if line.contains(&format!("cached {n} A positive")) {
                stored_by.insert(n.clone(), w.clone());
            } else if line.contains(&format!("from cache {n} A TTL")) {
                served_by.entry(n.clone()).or_default().push(w.clone());
            } else if line.contains(&format!("miss {n} A")) {
                *misses_by_name.entry(n.clone()).or_default() += 1;
            }
        }
    }
    let crossed = stored_by
        .iter()
        .filter(|(n, w)| served_by.get(*n).is_some_and(|s| s.iter().any(|x| x != *w)))
        .count();
    drop(server);
    Run {
        hits: answered,
        misses,
        entries,
        crossed,
        misses_by_name,
    }
}

#[test]
fn two_workers_share_one_cache() {
    let dir = temp_dir("shared-cache-nsd");
    let nsd_port = free_port();
    let _nsd = start_nsd(&dir, nsd_port, &[("shared.test.", zone())]);

    let two = run("shared-cache-2", nsd_port, 2);
    println!(
        "2 workers: {} hits, {} misses, {} entries; {} of {NAMES} names served by the worker that did not cache them",
        two.hits, two.misses, two.entries, two.crossed
    );
    // Each name is missed once in all, whichever worker its queries reached.
    for i in 0..NAMES {
        let n = format!("h{i}.shared.test.");
        assert_eq!(
            two.misses_by_name.get(&n).copied().unwrap_or(0),
            1,
            "{n}: missed once by the two workers together (a cache per worker misses it on each)"
        );
    }
    assert!(
        two.crossed > 0,
        "no name cached by one worker was served from the cache by the other"
    );
    assert_eq!(two.misses, NAMES as f64);
    assert_eq!(two.hits, (NAMES * (ASKS - 1)) as f64);
    // The one cache is counted once, not once per worker.
    assert_eq!(two.entries, NAMES as f64);

    let one = run("shared-cache-1", nsd_port, 1);
    println!(
        "1 worker: {} hits, {} misses, {} entries",
        one.hits, one.misses, one.entries
    );
    assert_eq!(
        (two.hits, two.misses),
        (one.hits, one.misses),
        "the hit rate with two workers equals one worker's"
    );
    assert_eq!(one.entries, NAMES as f64);
}
