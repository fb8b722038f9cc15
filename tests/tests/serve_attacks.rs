//! Attacks on the running `dnspect serve` binary over loopback (issue 9): off-path spoofing on
//! another query's socket, echoed queries and question-less answers, a meta-type FORMERR used to
//! switch EDNS off, a DO query answered without OPT, a reload that removes an upstream with
//! queries in flight, a flash crowd of identical queries, and a random-subdomain flood; per-client
//! limits, also for one client whose source ports spread it over several workers.
//!
//! Real clients (dig) where a person would use one; a raw UDP socket where the test needs
//! hundreds of queries at once. The upstreams are scripted: no real server spoofs or strips OPT
//! on demand. Each test prints the figures it measured.
#![allow(clippy::unwrap_used)]
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dnspect_core::wire::{Edns, Message, Name, Question, RType, Rcode};
use dnspect_tests::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A UDP upstream whose handler may send any datagrams, to anyone, at any time (spoofs, echoes,
/// delayed answers). Stops when dropped.
struct RawUpstream {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    queries: Arc<AtomicUsize>,
}

type Handler = dyn FnMut(&UdpSocket, &Message, &[u8], SocketAddr) + Send;

impl RawUpstream {
    fn start(mut handler: Box<Handler>) -> RawUpstream {
        let port = free_port();
        let sock = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let (st, q) = (stop.clone(), queries.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            while !st.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                q.fetch_add(1, Ordering::Relaxed);
                if let Ok(m) = Message::from_wire(&buf[..n]) {
                    handler(&sock, &m, &buf[..n], peer);
                }
            }
        });
        RawUpstream {
            port,
            stop,
            thread: Some(thread),
            queries,
        }
    }

    /// An upstream that answers every query with an A record of `ip` (TTL 60) after `delay`.
    fn slow(ip: &'static str, delay: Duration) -> RawUpstream {
        RawUpstream::start(Box::new(move |sock, q, _, peer| {
            send_later(sock, a_reply(q, ip, 60), peer, delay);
        }))
    }

    fn count(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends `bytes` to `to` from `sock` after `delay`, on another thread (bounded: one datagram).
fn send_later(sock: &UdpSocket, bytes: Vec<u8>, to: SocketAddr, delay: Duration) {
    let s = sock.try_clone().unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let _ = s.send_to(&bytes, to);
    });
}

/// A query message.
fn query(id: u16, name: &str, qtype: RType, edns: Option<bool>) -> Vec<u8> {
    let mut m = Message::default();
    m.header.id = id;
    m.header.rd = true;
    m.questions.push(Question {
        name: name.parse::<Name>().unwrap(),
        qtype,
        class: dnspect_core::wire::Class(1),
    });
    if let Some(dnssec_ok) = edns {
        let mut e = Edns::new(1232);
        e.dnssec_ok = dnssec_ok;
        m.edns = Some(e);
    }
    m.to_wire().unwrap()
}

/// A server config with a metrics listener.
fn server_config(port: u16, metrics: u16, upstreams: &[u16], extra: &str) -> String {
    let ups: Vec<String> = upstreams
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect();
    format!(
        "listen = [\"127.0.0.1:{port}\"]\nupstreams = [{}]\nmetrics = \"127.0.0.1:{metrics}\"\nlog_queries = true\n{extra}\n",
        ups.join(", ")
    )
}

/// The value of one sample (name with labels, exactly as exposed) in Prometheus text.
/// -1 when it is missing.
fn metric(text: &str, sample: &str) -> f64 {
    scraped(text, sample).unwrap_or(-1.0)
}

/// Scrapes until `sample` reaches `at_least` (workers publish twice a second), within 5 s.
fn wait_metric(metrics: u16, sample: &str, at_least: f64) -> f64 {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let v = metric(&http_get(metrics, "/metrics").1, sample);
        if v >= at_least || Instant::now() > until {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// dnspect with `server_config` (a metrics listener) in a fresh `temp_dir(name)`, with query
/// logging off when `quiet`: the process, its DNS and metrics ports, and its directory.
fn serve_metrics(
    name: &str,
    upstreams: &[u16],
    extra: &str,
    quiet: bool,
) -> (Proc, u16, u16, std::path::PathBuf) {
    let dir = temp_dir(name);
    let (port, mport) = (free_port(), free_port());
    let mut config = server_config(port, mport, upstreams, extra);
    if quiet {
        config = config.replace("log_queries = true\n", "");
    }
    let server = start_dnspect(&dir, &config, port, &[]);
    (server, port, mport, dir)
}

/// Waits for `sample` to reach `at_least` and asserts it did; its value.
#[track_caller]
fn expect_metric(metrics: u16, sample: &str, at_least: f64) -> f64 {
    let v = wait_metric(metrics, sample, at_least);
    assert!(v >= at_least, "{sample} is {v}, not at least {at_least}");
    v
}

/// A client socket connected to the server, with room for a burst of answers (the default
/// 208 KiB receive buffer holds only about 270 small datagrams).
fn burst_client(port: u16) -> UdpSocket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    let _ = s.set_recv_buffer_size(4 << 20);
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let s: UdpSocket = s.into();
    s.connect(("127.0.0.1", port)).unwrap();
    s
}

fn vm_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn a_reply(q: &Message, ip: &str, ttl: u32) -> Vec<u8> {
    let name = q.questions[0].name.to_string();
    reply(
        q,
        &[&format!("{name} {ttl} IN A {ip}")],
        &[],
        Rcode::NOERROR,
        true,
    )
}

// ---------------------------------------------------------------------------------------------
// Answer acceptance (RFC 5452)
// ---------------------------------------------------------------------------------------------

#[test]
fn spoof_on_another_querys_socket_is_dropped() {
    // Two queries in flight to one upstream. The attacker (here the upstream's own address, so
    // the source check passes) sends a forged answer for `victim` — its ID and question — to
    // the socket of `other`. Bound to its socket, the forgery carries the wrong ID there.
    type Seen = HashMap<String, (u16, SocketAddr, Message)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s2 = seen.clone();
    let up = RawUpstream::start(Box::new(move |sock, q, _, peer| {
        let name = q.questions[0].name.to_string();
        let mut seen = s2.lock().unwrap();
        seen.insert(name.clone(), (q.header.id, peer, q.clone()));
        if let (Some((vid, _, vq)), Some((_, opeer, _))) =
            (seen.get("victim.test."), seen.get("other.test."))
        {
            let mut forged = a_reply(vq, "6.6.6.6", 300);
            forged[..2].copy_from_slice(&vid.to_be_bytes());
            let _ = sock.send_to(&forged, *opeer);
            let _ = sock.send_to(&forged, *opeer);
            for (n, ip) in [("victim.test.", "192.0.2.1"), ("other.test.", "192.0.2.2")] {
                let (_, p, m) = &seen[n];
                send_later(sock, a_reply(m, ip, 300), *p, Duration::from_millis(300));
            }
        }
    }));
    let (server, port, mport, _) = serve_metrics("spoof-socket", &[up.port], "", false);
    let t = std::thread::spawn(move || dig(port, &["other.test", "A"]));
    std::thread::sleep(Duration::from_millis(50));
    let victim = dig(port, &["victim.test", "A"]);
    let other = t.join().unwrap();
    let log = server.log_text();
    assert!(victim.contains("192.0.2.1"), "{victim}\n{log}");
    assert!(!victim.contains("6.6.6.6"), "poisoned: {victim}\n{log}");
    assert!(other.contains("192.0.2.2"), "{other}\n{log}");
    // The cache holds the real answer.
    let again = dig(port, &["victim.test", "A"]);
    assert!(
        again.contains("192.0.2.1") && !again.contains("6.6.6.6"),
        "{again}"
    );
    let dropped = wait_metric(
        mport,
        "dnspect_upstream_dropped_total{reason=\"wrong_id\"}",
        1.0,
    );
    assert!(dropped >= 1.0, "forgery not counted: {dropped}\n{log}");
    assert!(log.contains("is not the ID"), "{log}");
    println!("spoof on another query's socket: dropped {dropped}, client got the real answer");
}

#[test]
fn echoed_query_and_question_less_answer_are_dropped() {
    let up = RawUpstream::start(Box::new(move |sock, q, raw, peer| {
        let name = q.questions[0].name.to_string();
        match name.as_str() {
            "echo.test." => {
                // A reflector: the query back as it came (QR=0).
                let _ = sock.send_to(raw, peer);
            }
            "noq.test." => {
                // NXDOMAIN with the right ID and no question at all.
                let mut m = Message::from_wire(&reply(q, &[], &[], Rcode::NXDOMAIN, true)).unwrap();
                m.questions.clear();
                let _ = sock.send_to(&m.to_wire().unwrap(), peer);
            }
            _ => {}
        }
        send_later(
            sock,
            a_reply(q, "192.0.2.9", 300),
            peer,
            Duration::from_millis(200),
        );
    }));
    let (server, port, mport, _) = serve_metrics("echo-noq", &[up.port], "", false);
    for name in ["echo.test", "noq.test"] {
        let out = dig(port, &[name, "A"]);
        assert_eq!(
            status(&out),
            "NOERROR",
            "{name}: {out}\n{}",
            server.log_text()
        );
        assert!(out.contains("192.0.2.9"), "{name}: {out}");
        let cached = dig(port, &[name, "A"]);
        assert!(cached.contains("192.0.2.9"), "{name} from cache: {cached}");
    }
    let qr0 = wait_metric(
        mport,
        "dnspect_upstream_dropped_total{reason=\"not_response\"}",
        1.0,
    );
    let qd0 = wait_metric(
        mport,
        "dnspect_upstream_dropped_total{reason=\"qdcount\"}",
        1.0,
    );
    assert!(qr0 >= 1.0 && qd0 >= 1.0, "qr0 {qr0} qd0 {qd0}");
    assert_eq!(
        up.count(),
        2,
        "one upstream query per name: the cache served the rest"
    );
    println!("echo (QR=0) dropped {qr0}, QDCOUNT=0 NXDOMAIN dropped {qd0}; both names cached with the real answer");
}

// ---------------------------------------------------------------------------------------------
// EDNS fallback is per query and evidence-based
// ---------------------------------------------------------------------------------------------

#[test]
fn meta_type_formerr_does_not_switch_edns_off() {
    // Like BIND or Unbound asked a meta type: FORMERR without OPT. Then DNSSEC clients ask.
    let seen: Arc<Mutex<Vec<(String, bool, bool)>>> = Arc::default();
    let s2 = seen.clone();
    let up = RawUpstream::start(Box::new(move |sock, q, _, peer| {
        let qt = q.questions[0].qtype;
        if qt == RType(128) || qt == RType(65535) || qt == RType(41) {
            let mut m = Message::from_wire(&reply(q, &[], &[], Rcode::FORMERR, true)).unwrap();
            m.edns = None;
            let _ = sock.send_to(&m.to_wire().unwrap(), peer);
            return;
        }
        let name = q.questions[0].name.to_string();
        let (opt, d_o) = (
            q.edns.is_some(),
            q.edns.as_ref().is_some_and(|e| e.dnssec_ok),
        );
        s2.lock().unwrap().push((name, opt, d_o));
        let mut m = Message::from_wire(&a_reply(q, "192.0.2.5", 60)).unwrap();
        if let Some(e) = m.edns.as_mut() {
            e.dnssec_ok = d_o;
        }
        let _ = sock.send_to(&m.to_wire().unwrap(), peer);
    }));
    let (server, port, _) = serve("meta-formerr", &[up.port], "");
    for (i, t) in ["TYPE128", "TYPE65535", "TYPE128", "TYPE128"]
        .iter()
        .enumerate()
    {
        let _ = dig(port, &[&format!("meta{i}.test"), t]);
    }
    let signed = dig(port, &["signed.test", "A", "+dnssec"]);
    let plain = dig(port, &["plain.test", "A"]);
    assert!(
        signed.contains("192.0.2.5"),
        "{signed}\n{}",
        server.log_text()
    );
    assert!(plain.contains("192.0.2.5"), "{plain}");
    let seen = seen.lock().unwrap().clone();
    let get = |n: &str| seen.iter().find(|(x, _, _)| x == n).cloned();
    assert_eq!(
        get("signed.test."),
        Some(("signed.test.".into(), true, true)),
        "the DO query must go upstream with OPT and DO: {seen:?}\n{}",
        server.log_text()
    );
    assert_eq!(
        get("plain.test.").map(|x| x.1),
        Some(true),
        "four meta-type FORMERRs switched EDNS off: {seen:?}"
    );
    println!("after 4 meta-type FORMERRs: DO query upstream with OPT+DO, plain query with OPT");
}

#[test]
fn do_query_is_never_answered_from_an_answer_without_opt() {
    // Upstream 1 strips OPT from every answer; upstream 2 keeps it. A DNSSEC client must get
    // upstream 2's answer; a plain client may get upstream 1's.
    let up1 = RawUpstream::start(Box::new(|sock, q, _, peer| {
        let mut m = Message::from_wire(&a_reply(q, "192.0.2.1", 60)).unwrap();
        m.edns = None;
        let _ = sock.send_to(&m.to_wire().unwrap(), peer);
    }));
    let up2 = RawUpstream::start(Box::new(|sock, q, _, peer| {
        let mut m = Message::from_wire(&a_reply(q, "192.0.2.2", 60)).unwrap();
        if let (Some(e), Some(qe)) = (m.edns.as_mut(), q.edns.as_ref()) {
            e.dnssec_ok = qe.dnssec_ok;
        }
        let _ = sock.send_to(&m.to_wire().unwrap(), peer);
    }));
    let (server, port, mport, _) = serve_metrics(
        "stripped-opt",
        &[up1.port, up2.port],
        "[engine]\npolicy = \"sequential\"\n",
        false,
    );
    let signed = dig(port, &["stripped.test", "A", "+dnssec"]);
    assert!(
        signed.contains("192.0.2.2") && !signed.contains("192.0.2.1"),
        "DO answer from the OPT-stripping upstream: {signed}\n{}",
        server.log_text()
    );
    // The DO key holds upstream 2's answer.
    let again = dig(port, &["stripped.test", "A", "+dnssec"]);
    assert!(again.contains("192.0.2.2"), "{again}");
    let plain = dig(port, &["stripped.test", "A"]);
    assert_eq!(status(&plain), "NOERROR", "{plain}");
    let n = expect_metric(mport, "dnspect_edns_stripped_total", 1.0);
    println!(
        "DO query: OPT-stripped answer refused ({n} counted), answered from the next upstream"
    );
}

// ---------------------------------------------------------------------------------------------
// Reloads and crowds
// ---------------------------------------------------------------------------------------------

#[test]
fn reload_removing_an_upstream_with_queries_in_flight() {
    // Upstream 1 is slow: every query waits on it when the reload removes it.
    let up1 = RawUpstream::slow("192.0.2.1", Duration::from_millis(1500));
    let up2 = FakeUpstream::start(|q, _, _| Some(a_reply(q, "192.0.2.2", 60)));
    let extra = "[engine]\npolicy = \"sequential\"\nattempt_timeout = \"3s\"\n";
    let (server, port, mport, dir) =
        serve_metrics("reload-inflight", &[up1.port, up2.port], extra, false);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let n = 20u16;
    for i in 0..n {
        client
            .send(&query(i, &format!("n{i}.test"), RType::A, None))
            .unwrap();
    }
    // Wait until all are in flight to upstream 1, then reload without it.
    let until = Instant::now() + Duration::from_secs(3);
    while up1.count() < usize::from(n) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        up1.count(),
        usize::from(n),
        "queries did not reach upstream 1"
    );
    std::fs::write(
        dir.join("dnspect.toml"),
        server_config(port, mport, &[up2.port], extra),
    )
    .unwrap();
    server.signal("HUP");
    let mut answered = HashMap::new();
    let until = Instant::now() + Duration::from_secs(6);
    let mut buf = [0u8; 4096];
    while answered.len() < usize::from(n) && Instant::now() < until {
        if let Ok(k) = client.recv(&mut buf) {
            let m = Message::from_wire(&buf[..k]).unwrap();
            answered.insert(m.header.id, m.rcode());
        }
    }
    let log = server.log_text();
    assert_eq!(
        answered.len(),
        usize::from(n),
        "answered {} of {n} after the reload\n{log}",
        answered.len()
    );
    assert!(
        answered.values().all(|r| *r == Rcode::NOERROR),
        "{answered:?}"
    );
    // Still serving, and healthy.
    let out = dig(port, &["after.test", "A"]);
    assert!(out.contains("192.0.2.2"), "{out}\n{log}");
    assert_eq!(http_get(mport, "/health").0, 200);
    assert!(log.contains("removed by a reload"), "{log}");
    println!(
        "reload removed the upstream of {n} queries in flight: {} answered NOERROR",
        answered.len()
    );
}

#[test]
fn flash_crowd_of_500_identical_queries_shares_one_upstream_query() {
    let up = RawUpstream::slow("192.0.2.50", Duration::from_millis(400));
    let dir = temp_dir("flash-crowd");
    let port = free_port();
    let server = start_dnspect(
        &dir,
        &config(port, &[up.port], "log_queries = false\n").replace("log_queries = true\n", ""),
        port,
        &[],
    );
    let client = burst_client(port);
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let n = 500u16;
    let t0 = Instant::now();
    for i in 0..n {
        client
            .send(&query(i, "crowd.test", RType::A, Some(false)))
            .unwrap();
    }
    let mut by_rcode: HashMap<String, usize> = HashMap::new();
    let mut ok = 0;
    let until = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    let mut got = 0;
    while got < usize::from(n) && Instant::now() < until {
        if let Ok(k) = client.recv(&mut buf) {
            got += 1;
            let m = Message::from_wire(&buf[..k]).unwrap();
            *by_rcode.entry(m.rcode().to_string()).or_default() += 1;
            if m.answers.iter().any(|r| {
                matches!(r.rdata, dnspect_core::wire::RData::A { address }
                    if address == std::net::Ipv4Addr::new(192, 0, 2, 50))
            }) {
                ok += 1;
            }
        }
    }
    let took = t0.elapsed();
    assert_eq!(
        ok,
        usize::from(n),
        "{ok} of {n} got the answer: {by_rcode:?}\n{}",
        server.log_text()
    );
    assert!(up.count() <= 2, "{} upstream queries", up.count());
    println!(
        "flash crowd: {ok}/{n} answered NOERROR in {took:?} with {} upstream query(ies)",
        up.count()
    );
}

#[test]
fn random_subdomain_flood_keeps_memory_bounded_and_cached_names_fast() {
    let soa = ["flood.test. 300 IN SOA ns.flood.test. h.flood.test. 1 3600 600 604800 300"];
    let up = FakeUpstream::start(move |q, _, _| {
        let name = q.questions[0].name.to_string();
        Some(if name == "cached.test." {
            a_reply(q, "192.0.2.77", 3600)
        } else {
            reply(q, &[], &soa, Rcode::NXDOMAIN, true)
        })
    });
    let (server, port, mport, _) = serve_metrics(
        "subdomain-flood",
        &[up.port],
        "[engine.cache]\nsize = \"2MiB\"\n",
        true,
    );
    let pid = server.pid();
    assert!(dig(port, &["cached.test", "A"]).contains("192.0.2.77"));
    let rss_before = vm_rss_kb(pid);
    let client = burst_client(port);
    client.set_nonblocking(true).unwrap();
    let total = 20_000u32;
    let mut answered = 0u32;
    let mut buf = [0u8; 4096];
    let mut latencies = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let t0 = Instant::now();
    for batch in 0..total / 200 {
        for i in 0..200 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let name = format!("r{x:016x}.flood.test");
            let _ = client.send(&query((batch * 200 + i) as u16, &name, RType::A, None));
        }
        std::thread::sleep(Duration::from_millis(40));
        while client.recv(&mut buf).is_ok() {
            answered += 1;
        }
        if batch % 20 == 10 {
            let t = Instant::now();
            let out = dig(port, &["cached.test", "A"]);
            latencies.push(t.elapsed());
            assert!(
                out.contains("192.0.2.77"),
                "cached name lost during the flood: {out}"
            );
        }
    }
    let until = Instant::now() + Duration::from_secs(3);
    while answered < total && Instant::now() < until {
        match client.recv(&mut buf) {
            Ok(_) => answered += 1,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let flood_time = t0.elapsed();
    let rss_after = vm_rss_kb(pid);
    let text = http_get(mport, "/metrics").1;
    let cache_bytes = metric(&text, "dnspect_cache_bytes");
    latencies.sort();
    let max = latencies.last().copied().unwrap_or_default();
    println!(
        "random-subdomain flood: {total} names in {flood_time:?}, {answered} answered ({:.1}%), \
         VmRSS {rss_before} -> {rss_after} KiB (+{} KiB), cache {cache_bytes} B of 2 MiB, \
         cached name by dig during the flood: {} lookups, max {max:?}",
        100.0 * f64::from(answered) / f64::from(total),
        rss_after.saturating_sub(rss_before),
        latencies.len()
    );
    assert!(f64::from(answered) >= 0.95 * f64::from(total), "{answered}");
    assert!(
        cache_bytes > 0.0 && cache_bytes <= f64::from(2u32 << 20),
        "{cache_bytes}"
    );
    assert!(
        rss_after.saturating_sub(rss_before) < 40 * 1024,
        "VmRSS grew {rss_before} -> {rss_after} KiB"
    );
    assert!(max < Duration::from_secs(1), "{latencies:?}");
}

// ---------------------------------------------------------------------------------------------
// Fairness: per-client limits
// ---------------------------------------------------------------------------------------------

/// A client socket on a loopback address of its own.
fn client_on(ip: [u8; 4], port: u16) -> UdpSocket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    let _ = s.set_recv_buffer_size(4 << 20);
    s.bind(&SocketAddr::from((ip, 0)).into()).unwrap();
    let s: UdpSocket = s.into();
    s.connect(("127.0.0.1", port)).unwrap();
    s
}

/// Reads answers for `limit`, counting them by RCODE.
fn collect(sock: &UdpSocket, want: usize, limit: Duration) -> HashMap<String, usize> {
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut by: HashMap<String, usize> = HashMap::new();
    let until = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while by.values().sum::<usize>() < want && Instant::now() < until {
        if let Ok(k) = sock.recv(&mut buf) {
            if let Ok(m) = Message::from_wire(&buf[..k]) {
                *by.entry(m.rcode().to_string()).or_default() += 1;
            }
        }
    }
    by
}

fn fairness_setup(limits: &str) -> (RawUpstream, Proc, u16, u16) {
    let up = RawUpstream::start(Box::new(|sock, q, _, peer| {
        let name = q.questions[0].name.to_string();
        let delay = if name.starts_with("slow") { 600 } else { 1 };
        send_later(
            sock,
            a_reply(q, "192.0.2.60", 60),
            peer,
            Duration::from_millis(delay),
        );
    }));
    let (server, port, mport, _) = serve_metrics(
        "fairness",
        &[up.port],
        &format!("[engine.limits]\n{limits}"),
        true,
    );
    (up, server, port, mport)
}

#[test]
fn a_flooding_client_is_rate_limited_and_others_are_served() {
    let (_up, _server, port, mport) =
        fairness_setup("client_qps = 200\nclient_burst = 100\nclient_max_waiting = 0\n");
    // 127.0.0.2 sends 3,000 queries at once; 127.0.0.3 sends 40 in the middle of it.
    let flooder = client_on([127, 0, 0, 2], port);
    let good = client_on([127, 0, 0, 3], port);
    for i in 0..3000u16 {
        let _ = flooder.send(&query(i, &format!("f{i}.flood.test"), RType::A, None));
        if i % 75 == 0 {
            let _ = good.send(&query(i, &format!("g{i}.good.test"), RType::A, None));
        }
    }
    let f = collect(&flooder, 3000, Duration::from_secs(3));
    let g = collect(&good, 40, Duration::from_secs(3));
    println!("rate limit 200 q/s, burst 100: flooder {f:?}, other client {g:?}");
    assert_eq!(
        g.get("NOERROR"),
        Some(&40),
        "the other client was not served: {g:?}"
    );
    let refused = f.get("REFUSED").copied().unwrap_or(0);
    let served = f.get("NOERROR").copied().unwrap_or(0);
    assert!(refused >= 2500, "flooder not limited: {f:?}");
    assert!(
        (90..=400).contains(&served),
        "flooder got {served} answers: {f:?}"
    );
    expect_metric(
        mport,
        "dnspect_client_limited_total{limit=\"rate\"}",
        2500.0,
    );
}

/// The waiting limit counts queries waiting on an upstream: at its limit, the greedy client
/// still gets a cache hit (which waits on nothing), and its further misses are refused.
#[test]
fn one_client_cannot_hold_more_than_its_share_of_waiting_queries() {
    waiting_share("client_max_waiting = 10\n");
}

/// The same with a (generous) rate limit on: the rate is checked for every query, the waiting
/// limit still only for queries that wait.
#[test]
fn with_a_rate_limit_too_a_hit_is_not_refused_for_waiting() {
    waiting_share("client_max_waiting = 10\nclient_qps = 10000\n");
}

fn waiting_share(limits: &str) {
    let (_up, _server, port, mport) = fairness_setup(limits);
    let greedy = client_on([127, 0, 0, 4], port);
    let _ = greedy.send(&query(100, "cached.test", RType::A, None));
    let warm = collect(&greedy, 1, Duration::from_secs(3));
    assert_eq!(warm.get("NOERROR"), Some(&1), "{warm:?}");
    for i in 0..20u16 {
        let _ = greedy.send(&query(i, &format!("slow{i}.test"), RType::A, None));
    }
    let _ = greedy.send(&query(101, "cached.test", RType::A, None));
    // Another client is served while the greedy one waits.
    let other = dig(port, &["quick.test", "A"]);
    assert!(other.contains("192.0.2.60"), "{other}");
    let w = collect(&greedy, 21, Duration::from_secs(3));
    println!("client_max_waiting 10, 20 slow misses and a hit at once: {w:?}");
    assert_eq!(w.get("NOERROR"), Some(&11), "10 misses and the hit: {w:?}");
    assert_eq!(w.get("REFUSED"), Some(&10), "{w:?}");
    expect_metric(
        mport,
        "dnspect_client_limited_total{limit=\"waiting\"}",
        10.0,
    );
}

/// One client (127.0.0.1) spreads a burst over 64 source ports, so SO_REUSEPORT hands it to
/// both workers: the limits are the client's, not each worker's. With per-worker tables each
/// worker admitted its own bucket (about 2 x 50 here).
#[test]
fn a_client_using_many_source_ports_gets_one_bucket_across_workers() {
    let up = RawUpstream::start(Box::new(|sock, q, _, peer| {
        let _ = sock.send_to(&a_reply(q, "192.0.2.61", 300), peer);
    }));
    let (_server, port, mport, _) = serve_metrics(
        "admission-workers",
        &[up.port],
        "workers = 2\n[engine.limits]\nclient_qps = 50\nclient_burst = 50\nclient_max_waiting = 0\n",
        true,
    );
    // Cache the name from another client (127.0.0.5), so every flood query is a hit.
    let warm = client_on([127, 0, 0, 5], port);
    let _ = warm.send(&query(1, "cached.many.test", RType::A, None));
    let w = collect(&warm, 1, Duration::from_secs(3));
    assert_eq!(w.get("NOERROR"), Some(&1), "warming query: {w:?}");

    const PORTS: usize = 64;
    const EACH: usize = 6;
    let socks: Vec<UdpSocket> = (0..PORTS)
        .map(|_| client_on([127, 0, 0, 1], port))
        .collect();
    let started = Instant::now();
    for round in 0..EACH {
        for (i, s) in socks.iter().enumerate() {
            let id = (round * PORTS + i) as u16;
            let _ = s.send(&query(id, "cached.many.test", RType::A, None));
        }
    }
    let sent_in = started.elapsed();
    let mut by: HashMap<String, usize> = HashMap::new();
    for s in &socks {
        for (k, v) in collect(s, EACH, Duration::from_secs(2)) {
            *by.entry(k).or_default() += v;
        }
    }
    let served = by.get("NOERROR").copied().unwrap_or(0);
    let refused = by.get("REFUSED").copied().unwrap_or(0);
    println!(
        "2 workers, client_qps 50, burst 50: {} queries from 127.0.0.1 on {PORTS} ports sent in {} ms: {by:?}",
        PORTS * EACH,
        sent_in.as_millis()
    );
    assert_eq!(
        served + refused,
        PORTS * EACH,
        "unanswered or other: {by:?}"
    );
    // One bucket: 50 at once, plus 50 a second while the burst lasts (well under a second on
    // an idle machine; the bound allows 0.5 s). Per-worker buckets give about 100.
    assert!(
        (40..=75).contains(&served),
        "{served} answered: the limit is not per client across workers ({by:?})"
    );
    // Each refusal counted once, by the worker that refused it.
    let limited = wait_metric(
        mport,
        "dnspect_client_limited_total{limit=\"rate\"}",
        refused as f64,
    );
    assert_eq!(
        limited, refused as f64,
        "limited counter vs REFUSED answers"
    );
}

/// The waiting allowance is the client's too: 20 slow misses from 20 source ports of one
/// address, spread over two workers, leave 10 waiting and 10 refused (per-worker tables let up
/// to 20 wait).
#[test]
fn a_client_using_many_source_ports_gets_one_waiting_allowance_across_workers() {
    let up = RawUpstream::slow("192.0.2.62", Duration::from_millis(800));
    let (_server, port, mport, _) = serve_metrics(
        "admission-waiting",
        &[up.port],
        "workers = 2\n[engine.limits]\nclient_max_waiting = 10\n",
        true,
    );
    let socks: Vec<UdpSocket> = (0..20).map(|_| client_on([127, 0, 0, 1], port)).collect();
    for (i, s) in socks.iter().enumerate() {
        let _ = s.send(&query(i as u16, &format!("w{i}.wait.test"), RType::A, None));
    }
    let mut by: HashMap<String, usize> = HashMap::new();
    for s in &socks {
        for (k, v) in collect(s, 1, Duration::from_secs(3)) {
            *by.entry(k).or_default() += v;
        }
    }
    println!("2 workers, client_max_waiting 10, 20 slow misses from 20 ports: {by:?}");
    assert_eq!(by.get("NOERROR"), Some(&10), "{by:?}");
    assert_eq!(by.get("REFUSED"), Some(&10), "{by:?}");
    let limited = wait_metric(
        mport,
        "dnspect_client_limited_total{limit=\"waiting\"}",
        10.0,
    );
    assert_eq!(limited, 10.0);
}

// ---------------------------------------------------------------------------------------------
// Query sanity
// ---------------------------------------------------------------------------------------------

#[test]
fn oversized_queries_and_queries_with_records_get_formerr() {
    let up = FakeUpstream::start(|q, _, _| Some(a_reply(q, "192.0.2.1", 60)));
    let (_server, port, _) = serve(
        "query-sanity",
        &[up.port],
        "[engine]\nmax_query_size = 512\n",
    );
    let client = burst_client(port);
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut buf = [0u8; 4096];
    // An answer record in a query (ANCOUNT=1).
    let mut m = Message::from_wire(&query(1, "x.test", RType::A, None)).unwrap();
    m.answers
        .push(dnspect_core::wire::Record::from_text("x.test. 60 IN A 192.0.2.9").unwrap());
    client.send(&m.to_wire().unwrap()).unwrap();
    let k = client.recv(&mut buf).unwrap();
    let r = Message::from_wire(&buf[..k]).unwrap();
    assert_eq!(r.rcode(), Rcode::FORMERR, "{r:?}");
    // A 600-byte query (EDNS padding, RFC 7830) over a 512-byte max_query_size.
    let mut m = Message::from_wire(&query(2, "y.test", RType::A, Some(false))).unwrap();
    if let Some(e) = m.edns.as_mut() {
        e.options
            .push(dnspect_core::wire::EdnsOption::Padding { data: vec![0; 540] });
    }
    let big = m.to_wire().unwrap();
    assert!(big.len() > 512);
    client.send(&big).unwrap();
    let k = client.recv(&mut buf).unwrap();
    let r = Message::from_wire(&buf[..k]).unwrap();
    assert_eq!(r.rcode(), Rcode::FORMERR, "{r:?}");
    assert!(k < 100, "the FORMERR must not echo the big query: {k} B");
    assert_eq!(up.count(), 0, "nothing went upstream");
    // A normal query still works.
    client.send(&query(3, "z.test", RType::A, None)).unwrap();
    let k = client.recv(&mut buf).unwrap();
    assert_eq!(
        Message::from_wire(&buf[..k]).unwrap().rcode(),
        Rcode::NOERROR
    );
    println!(
        "ANCOUNT=1 query: FORMERR; {}-byte query over max_query_size 512: FORMERR in {k} B",
        big.len()
    );
}

/// More busy clients than `max_clients`: the table keeps those it has (each has queries
/// waiting, so none can be forgotten) and admits the others unchecked rather than locking them
/// out. That bypass of the limits is counted, so an operator sees the table is too small.
#[test]
fn clients_over_max_clients_are_admitted_untracked_and_counted() {
    let (_up, _server, port, mport) = fairness_setup("client_max_waiting = 5\nmax_clients = 2\n");
    let clients: Vec<UdpSocket> = (2..6u8).map(|i| client_on([127, 0, 0, i], port)).collect();
    for (c, sock) in clients.iter().enumerate() {
        for i in 0..3u16 {
            let _ = sock.send(&query(i, &format!("slow{c}-{i}.test"), RType::A, None));
        }
    }
    // 4 clients, a table of 2: at least 2 clients' 3 queries each are admitted untracked.
    let untracked = expect_metric(mport, "dnspect_clients_untracked_total", 6.0);
    let body = http_get(mport, "/metrics").1;
    let tracked = metric(&body, "dnspect_clients_tracked");
    println!("max_clients 2, 4 busy clients: {tracked} tracked, {untracked} queries untracked");
    assert!((1.0..=2.0).contains(&tracked), "{body}");
    for sock in &clients {
        let got = collect(sock, 3, Duration::from_secs(3));
        assert_eq!(
            got.get("NOERROR"),
            Some(&3),
            "every client is served: {got:?}"
        );
    }
}

/// The engine's own caps, hit against the binary and told apart in `dnspect_busy_total`:
/// `max_inflight = 2` with slow answers turns the third distinct miss into SERVFAIL at once
/// (`reason="inflight"`), and `max_waiters = 2` the third client waiting on one question
/// (`reason="waiters"`); the queries under the caps get their answers.
#[test]
fn inflight_and_waiters_caps_answer_servfail_and_are_counted_by_reason() {
    let (_up, _server, port, mport) =
        fairness_setup("client_max_waiting = 0\n[engine]\nmax_inflight = 2\nmax_waiters = 2\n");
    let c = client_on([127, 0, 0, 7], port);
    for i in 0..5u16 {
        let _ = c.send(&query(i, &format!("slow{i}.test"), RType::A, None));
    }
    for i in 5..8u16 {
        let _ = c.send(&query(i, "slow0.test", RType::A, None));
    }
    let got = collect(&c, 8, Duration::from_secs(3));
    println!("max_inflight 2, max_waiters 2: {got:?}");
    assert_eq!(got.get("SERVFAIL"), Some(&5), "{got:?}");
    assert_eq!(got.get("NOERROR"), Some(&3), "{got:?}");
    expect_metric(mport, "dnspect_busy_total{reason=\"inflight\"}", 3.0);
    expect_metric(mport, "dnspect_busy_total{reason=\"waiters\"}", 2.0);
    let body = http_get(mport, "/metrics").1;
    assert_eq!(
        metric(&body, "dnspect_busy_total{reason=\"waiting\"}"),
        0.0,
        "{body}"
    );
}
