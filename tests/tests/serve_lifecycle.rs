//! The server's lifecycle end to end: /metrics, /health and /ready; SIGTERM under load (stop
//! taking queries, answer what is queued and in flight, exit 0); a rolling restart on the same
//! port; SIGHUP reading a changed resolv.conf again. Every loop is bounded in count and time;
//! every process started is stopped (by PID) when its handle drops.
#![allow(clippy::unwrap_used)]
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dnspect_core::wire::{Message, Rcode};
use dnspect_tests::*;

/// A UDP upstream that answers every A query with `answer_ip` after `delay` (without holding up
/// the queries behind it), or not at all while `silent` is set.
struct SlowUpstream {
    addr: SocketAddr,
    silent: Arc<AtomicBool>,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl SlowUpstream {
    fn start(bind: SocketAddr, delay: Duration, answer_ip: &'static str) -> SlowUpstream {
        let sock = UdpSocket::bind(bind).unwrap_or_else(|e| panic!("cannot bind {bind}: {e}"));
        let addr = sock.local_addr().unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let out = sock.try_clone().unwrap();
        let silent = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>, SocketAddr)>();
        let (si, q, st) = (silent.clone(), queries.clone(), stop.clone());
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            while !st.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                q.fetch_add(1, Ordering::Relaxed);
                if si.load(Ordering::Relaxed) {
                    continue;
                }
                let Ok(m) = Message::from_wire(&buf[..n]) else {
                    continue;
                };
                let name = m.questions[0].name.to_string();
                let r = reply(
                    &m,
                    &[&format!("{name} 300 IN A {answer_ip}")],
                    &[],
                    Rcode::NOERROR,
                    true,
                );
                let _ = tx.send((Instant::now() + delay, r, peer));
            }
        });
        let st = stop.clone();
        let writer = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok((due, r, peer)) = rx.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let _ = out.send_to(&r, peer);
            }
        });
        SlowUpstream {
            addr,
            silent,
            queries,
            stop,
            threads: vec![reader, writer],
        }
    }

    fn local(delay: Duration, answer_ip: &'static str) -> SlowUpstream {
        SlowUpstream::start(SocketAddr::from(([127, 0, 0, 1], 0)), delay, answer_ip)
    }

    fn count(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for SlowUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The tests of this file run one at a time: the load tests are timing-sensitive on a small
/// machine, and SO_REUSEPORT (on the DNS and metrics listeners) would let two of our servers
/// share a port that `free_port` handed out twice, silently.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A server configuration without the query log (the load tests send thousands of queries).
fn conf(port: u16, upstreams: &[SocketAddr], extra: &str) -> String {
    let ups: Vec<String> = upstreams.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "listen = [\"127.0.0.1:{port}\"]\nupstreams = [{}]\nmetrics = \"\"\n{extra}\n",
        ups.join(", ")
    )
}

/// Polls `path` until its status is `want`, within `limit`; returns the last (status, body).
fn wait_status(port: u16, path: &str, want: u16, limit: Duration) -> (u16, String) {
    let until = Instant::now() + limit;
    loop {
        let r = http_get(port, path);
        if r.0 == want || Instant::now() > until {
            return r;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of one sample line (`name{labels} value`) in a Prometheus scrape.
/// 0 when it is missing.
fn sample(text: &str, series: &str) -> f64 {
    scraped(text, series).unwrap_or(0.0)
}

/// A query for `name` A with ID `id`, RD set.
fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// What one query of a flood became.
#[derive(Clone, Copy, Debug, Default)]
struct Fate {
    sent: Option<Instant>,
    /// The answer's rcode and the last octet of its first A record (which upstream answered).
    answer: Option<(u8, u8)>,
}

/// Sends `n` queries (distinct names, IDs 0..n) at one per `every`, round robin over `sockets`
/// client sockets (so SO_REUSEPORT spreads them over the server's sockets), reading answers all
/// along; after the last send, waits up to `linger` for the rest. `sent` counts sends as they
/// happen, for the caller to time a signal.
fn flood(
    port: u16,
    n: usize,
    every: Duration,
    sockets: usize,
    linger: Duration,
    sent: Arc<AtomicUsize>,
) -> Vec<Fate> {
    assert!(n <= 65536);
    let socks: Vec<UdpSocket> = (0..sockets)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let tag = std::process::id();
    let mut fates = vec![Fate::default(); n];
    let mut answered = 0;
    let start = Instant::now();
    let mut next = 0;
    let mut last_send = Instant::now();
    let mut buf = [0u8; 4096];
    // Bounded: the sends take n * every, then at most `linger`.
    let hard = start + every * n as u32 + linger + Duration::from_secs(5);
    while Instant::now() < hard {
        let now = Instant::now();
        if next < n && now >= start + every * next as u32 {
            let q = query(next as u16, &format!("q{next}-{tag}.flood.test"));
            fates[next].sent = Some(Instant::now());
            if let Err(e) = socks[next % sockets].send_to(&q, to) {
                fates[next].sent = None;
                eprintln!("send {next}: {e}");
            }
            next += 1;
            sent.store(next, Ordering::SeqCst);
            last_send = Instant::now();
            continue;
        }
        let mut got = false;
        for s in &socks {
            while let Ok((len, _)) = s.recv_from(&mut buf) {
                got = true;
                if len < 12 {
                    continue;
                }
                let id = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
                let rcode = buf[3] & 0xf;
                // The first answer's RDATA is the last 4 bytes for a one-record A answer.
                let last = if len >= 16 && u16::from_be_bytes([buf[6], buf[7]]) == 1 {
                    buf[len - 1]
                } else {
                    0
                };
                if id < n && fates[id].answer.is_none() {
                    fates[id].answer = Some((rcode, last));
                    answered += 1;
                }
            }
        }
        if next == n
            && (answered == fates.iter().filter(|f| f.sent.is_some()).count()
                || last_send.elapsed() > linger)
        {
            break;
        }
        if !got {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    fates
}

/// Runs `flood` on another thread and returns once `first` queries are sent (or after 20 s).
fn flood_in_background(
    port: u16,
    n: usize,
    every: Duration,
    sockets: usize,
    linger: Duration,
    first: usize,
) -> JoinHandle<Vec<Fate>> {
    let sent = Arc::new(AtomicUsize::new(0));
    let s2 = sent.clone();
    let load = std::thread::spawn(move || flood(port, n, every, sockets, linger, s2));
    let until = Instant::now() + Duration::from_secs(20);
    while sent.load(Ordering::SeqCst) < first && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
    load
}

#[test]
fn metrics_health_and_ready() {
    let _serial = serial();
    let up = SlowUpstream::local(Duration::ZERO, "192.0.2.1");
    // A second upstream that never answers: a socket held open (so no other process can take
    // its port and answer) and never read. Usable until its first attempts time out.
    let hole = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = hole.local_addr().unwrap();
    let dir = temp_dir("lifecycle-metrics");
    let port = free_port();
    let mport = free_port();
    let server = start_dnspect(
        &dir,
        &conf(
            port,
            &[up.addr, dead],
            "[engine]\nattempt_timeout = \"300ms\"\nprobe = { interval = \"300ms\", name = \"probe.test\", qtype = \"A\" }\n",
        ),
        port,
        &["--metrics", &format!("127.0.0.1:{mport}")],
    );
    let (code, body) = wait_status(mport, "/health", 200, Duration::from_secs(5));
    assert_eq!(code, 200, "/health: {body}");
    assert_eq!(body.trim(), "OK");
    let (code, body) = wait_status(mport, "/ready", 200, Duration::from_secs(5));
    assert_eq!(code, 200, "/ready: {body}");
    assert!(body.starts_with("ready: "), "{body}");
    assert_eq!(http_get(mport, "/nothing").0, 404);

    // Counters move: 5 names asked twice (the second time from the cache).
    let before = http_get(mport, "/metrics").1;
    for round in 0..2 {
        for i in 0..5 {
            let out = dig(port, &[&format!("m{i}.metrics.test"), "A"]);
            assert_eq!(status(&out), "NOERROR", "round {round}: {out}");
        }
    }
    let udp = "dnspect_dns_requests_total{proto=\"udp\"}";
    let noerror = "dnspect_dns_responses_total{proto=\"udp\",rcode=\"NOERROR\"}";
    let hits = "dnspect_cache_hits_total";
    let upq = format!("dnspect_upstream_requests_total{{to=\"{}\"}}", up.addr);
    let mut after = String::new();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        after = http_get(mport, "/metrics").1;
        if sample(&after, udp) - sample(&before, udp) >= 10.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let moved = |s: &str| sample(&after, s) - sample(&before, s);
    println!(
        "metrics moved: requests {} NOERROR {} cache hits {} upstream queries {}",
        moved(udp),
        moved(noerror),
        moved(hits),
        moved(&upq)
    );
    assert_eq!(moved(udp), 10.0, "{after}");
    assert_eq!(moved(noerror), 10.0, "{after}");
    assert!(moved(hits) >= 5.0, "{after}");
    assert!(moved(&upq) >= 5.0, "{after}");
    assert!(after.contains("dnspect_healthy 1"), "{after}");

    // Every upstream down: the live one goes silent, the other never listened.
    up.silent.store(true, Ordering::SeqCst);
    let t = Instant::now();
    let (code, body) = wait_status(mport, "/ready", 503, Duration::from_secs(10));
    println!(
        "/ready went {code} after {:?}: {}",
        t.elapsed(),
        body.trim()
    );
    assert_eq!(code, 503, "{body}");
    // With several workers (one per core by default) the first worker seen down is named.
    assert!(
        body.trim()
            .starts_with("not ready: 0 of 2 upstreams usable"),
        "{body}"
    );
    // Still alive: /health is about the process, not the upstreams.
    assert_eq!(http_get(mport, "/health").0, 200);
    let m = http_get(mport, "/metrics").1;
    assert!(m.contains("dnspect_ready 0"), "{m}");

    // One comes back.
    up.silent.store(false, Ordering::SeqCst);
    let t = Instant::now();
    let (code, body) = wait_status(mport, "/ready", 200, Duration::from_secs(10));
    println!(
        "/ready went {code} after {:?}: {}",
        t.elapsed(),
        body.trim()
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body.trim(), "ready: 1 of 2 upstreams usable");
    drop(server);
    drop(hole);
}

#[test]
fn sigterm_under_load_answers_everything_sent_before_it() {
    let _serial = serial();
    // Slow enough that hundreds of queries are in flight when SIGTERM arrives.
    let up = SlowUpstream::local(Duration::from_millis(300), "192.0.2.1");
    let dir = temp_dir("lifecycle-sigterm");
    let port = free_port();
    let mport = free_port();
    let mut server = start_dnspect(
        &dir,
        &conf(port, &[up.addr], "drain_timeout = \"5s\"\n"),
        port,
        &["--metrics", &format!("127.0.0.1:{mport}")],
    );
    assert_eq!(
        wait_status(mport, "/ready", 200, Duration::from_secs(5)).0,
        200
    );
    let n = 2000;
    let load = flood_in_background(
        port,
        n,
        Duration::from_micros(1000),
        16,
        Duration::from_secs(3),
        n / 2,
    );
    let term_at = Instant::now();
    server.signal("TERM");
    // While draining, /ready says so.
    let (code, body) = wait_status(mport, "/ready", 503, Duration::from_secs(2));
    println!("/ready while draining: {code} {}", body.trim());
    assert_eq!(code, 503, "{body}");
    assert_eq!(body.trim(), "not ready: draining (shutting down)");
    let st = server.wait_exit(Duration::from_secs(8));
    let exited_after = term_at.elapsed();
    let fates = load.join().unwrap();
    let before: Vec<&Fate> = fates
        .iter()
        .filter(|f| f.sent.is_some_and(|t| t < term_at))
        .collect();
    let answered = before.iter().filter(|f| f.answer.is_some()).count();
    let noerror = before
        .iter()
        .filter(|f| matches!(f.answer, Some((0, 1))))
        .count();
    let after = fates.len() - before.len();
    let log = server.log_text();
    println!(
        "SIGTERM under load: {answered}/{} sent before SIGTERM answered ({noerror} NOERROR), {after} sent after it; exit {st:?} {exited_after:?} after SIGTERM; upstream saw {} queries",
        before.len(),
        up.count()
    );
    for l in log.lines().filter(|l| l.contains("drain")) {
        println!("  {l}");
    }
    let st = st.expect("dnspect did not exit within 8 s of SIGTERM");
    assert!(st.success(), "exit status {st:?}\n{log}");
    assert!(
        exited_after < Duration::from_secs(6),
        "{exited_after:?}: beyond the drain deadline"
    );
    assert!(
        before.len() >= n / 2,
        "{} sent before SIGTERM",
        before.len()
    );
    assert_eq!(
        answered,
        before.len(),
        "queries sent before SIGTERM unanswered\n{log}"
    );
    assert_eq!(noerror, answered, "every answer is the upstream's");
    assert!(log.contains("drain 1/3"), "{log}");
    assert!(log.contains("drain 3/3: every query answered"), "{log}");
}

/// SIGTERM while clients wait on an upstream that does not answer: when the drain deadline
/// passes, each gets SERVFAIL with EDE 0 saying why, over UDP and TCP, instead of silence until
/// its own timeout (a stub then asks its next server at once). Before, they got nothing.
#[test]
fn clients_still_waiting_at_the_drain_deadline_get_servfail_with_the_reason() {
    let _serial = serial();
    // Counts the queries and never answers.
    let up = SlowUpstream::local(Duration::from_millis(10), "192.0.2.1");
    up.silent.store(true, Ordering::Relaxed);
    let dir = temp_dir("lifecycle-drain-deadline");
    let port = free_port();
    let mut server = start_dnspect(
        &dir,
        &conf(
            port,
            &[up.addr],
            "drain_timeout = \"1s\"\n[engine]\nquery_timeout = \"15s\"\n",
        ),
        port,
        &[],
    );
    let dig = |args: Vec<String>| {
        std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            dig(port, &args)
        })
    };
    let udp = dig(vec![
        "slow-udp.example.".into(),
        "+tries=1".into(),
        "+timeout=10".into(),
    ]);
    let tcp = dig(vec![
        "slow-tcp.example.".into(),
        "+tcp".into(),
        "+tries=1".into(),
        "+timeout=10".into(),
    ]);
    // Both queries reach the upstream before SIGTERM.
    let until = Instant::now() + Duration::from_secs(5);
    while up.count() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(up.count() >= 2, "the upstream saw {} queries", up.count());
    let term_at = Instant::now();
    server.signal("TERM");
    let st = server.wait_exit(Duration::from_secs(8));
    let (udp, tcp) = (udp.join().unwrap(), tcp.join().unwrap());
    let answered_after = term_at.elapsed();
    let log = server.log_text();
    println!("UDP:\n{udp}\nTCP:\n{tcp}\nanswered {answered_after:?} after SIGTERM");
    for l in log.lines().filter(|l| l.contains("drain")) {
        println!("  {l}");
    }
    for (transport, out) in [("UDP", &udp), ("TCP", &tcp)] {
        assert_eq!(status(out), "SERVFAIL", "{transport}: {out}");
        assert!(
            out.contains("EDE: 0 (Other)") && out.contains("shutting down"),
            "{transport}: {out}"
        );
    }
    assert!(
        answered_after < Duration::from_secs(4),
        "{answered_after:?} after SIGTERM"
    );
    assert!(st.expect("dnspect did not exit").success(), "{log}");
    assert!(log.contains("still waiting answered SERVFAIL"), "{log}");
}

#[test]
fn rolling_restart_loses_no_query() {
    let _serial = serial();
    // A's upstream answers 192.0.2.1, B's 192.0.2.2: the answers say who served them.
    let up_a = SlowUpstream::local(Duration::from_millis(100), "192.0.2.1");
    let up_b = SlowUpstream::local(Duration::from_millis(100), "192.0.2.2");
    let port = free_port();
    let (ma, mb) = (free_port(), free_port());
    let dir_a = temp_dir("lifecycle-rolling-a");
    let dir_b = temp_dir("lifecycle-rolling-b");
    let mut a = start_dnspect(
        &dir_a,
        &conf(port, &[up_a.addr], ""),
        port,
        &["--metrics", &format!("127.0.0.1:{ma}")],
    );
    assert_eq!(
        wait_status(ma, "/ready", 200, Duration::from_secs(5)).0,
        200
    );
    // B on the same port while A serves (SO_REUSEPORT).
    let b = start_dnspect(
        &dir_b,
        &conf(port, &[up_b.addr], ""),
        port,
        &["--metrics", &format!("127.0.0.1:{mb}")],
    );
    let (code, body) = wait_status(mb, "/ready", 200, Duration::from_secs(5));
    assert_eq!(code, 200, "B: {body}\n{}", b.log_text());
    let n = 4000;
    let load = flood_in_background(
        port,
        n,
        Duration::from_micros(500),
        64,
        Duration::from_secs(7),
        n / 3,
    );
    let term_at = Instant::now();
    a.signal("TERM");
    let st = a.wait_exit(Duration::from_secs(8));
    let fates = load.join().unwrap();
    let sent_n = fates.iter().filter(|f| f.sent.is_some()).count();
    let answered = fates.iter().filter(|f| f.answer.is_some()).count();
    let by = |ip: u8| {
        fates
            .iter()
            .filter(|f| matches!(f.answer, Some((0, x)) if x == ip))
            .count()
    };
    let after_term = fates
        .iter()
        .filter(|f| f.sent.is_some_and(|t| t >= term_at))
        .count();
    // A leaves the reuseport group as soon as it takes the signal: what is sent later is B's.
    let late_to_a = fates
        .iter()
        .filter(|f| {
            f.sent
                .is_some_and(|t| t >= term_at + Duration::from_millis(200))
        })
        .filter(|f| matches!(f.answer, Some((_, 1))))
        .count();
    println!(
        "rolling restart: {answered}/{sent_n} answered ({} by A, {} by B; {after_term} sent after SIGTERM to A, {late_to_a} of those sent 200 ms or more after it answered by A); A exit {st:?}",
        by(1),
        by(2)
    );
    for l in a.log_text().lines().filter(|l| l.contains("drain")) {
        println!("  A: {l}");
    }
    let st = st.expect("A did not exit within 8 s of SIGTERM");
    assert!(st.success(), "{st:?}");
    assert_eq!(sent_n, n);
    assert_eq!(answered, sent_n, "queries lost in the rolling restart");
    assert_eq!(by(1) + by(2), answered, "every answer is an upstream's");
    assert!(by(1) > 0 && by(2) > 0, "both processes served");
    assert_eq!(late_to_a, 0, "A still took queries 200 ms after SIGTERM");
    // B still serves alone.
    assert_eq!(status(&dig(port, &["after.rolling.test", "A"])), "NOERROR");
    drop(b);
}

#[test]
fn sighup_rereads_resolv_conf() {
    let _serial = serial();
    // resolv.conf has no ports: the upstreams listen on port 53 of two loopback addresses.
    let pid = std::process::id();
    let net = |host: u8| SocketAddr::from(([127, 53, (pid % 250) as u8 + 1, host], 53));
    let one = SlowUpstream::start(net(1), Duration::ZERO, "192.0.2.1");
    let two = SlowUpstream::start(net(2), Duration::ZERO, "192.0.2.2");
    let dir = temp_dir("lifecycle-resolv");
    let resolv = dir.join("resolv.conf");
    std::fs::write(&resolv, format!("# test\nnameserver {}\n", net(1).ip())).unwrap();
    let port = free_port();
    let server = start_dnspect(
        &dir,
        &config(port, &[], ""),
        port,
        &["--resolv-conf", resolv.to_str().unwrap()],
    );
    let out = dig(port, &["first.resolv.test", "A"]);
    assert!(out.contains("192.0.2.1"), "{out}\n{}", server.log_text());
    assert_eq!(two.count(), 0);
    std::fs::write(&resolv, format!("nameserver {}\n", net(2).ip())).unwrap();
    server.reload_expecting("read again from");
    let out = dig(port, &["second.resolv.test", "A"]);
    println!(
        "after SIGHUP: {:?}; upstream one saw {}, two saw {}",
        answer_lines(&out),
        one.count(),
        two.count()
    );
    assert!(out.contains("192.0.2.2"), "{out}\n{}", server.log_text());
    assert!(two.count() >= 1);
    drop(server);
}

#[test]
fn udp_port_cannot_be_taken_with_so_reuseaddr() {
    let _serial = serial();
    // SO_REUSEADDR on both sockets would let any local process, of any user, bind the
    // listener's address and take a share of its queries. The listeners set only SO_REUSEPORT.
    let up = SlowUpstream::local(Duration::ZERO, "192.0.2.1");
    let dir = temp_dir("lifecycle-reuseaddr");
    let port = free_port();
    let server = start_dnspect(&dir, &conf(port, &[up.addr], ""), port, &[]);
    assert_eq!(status(&dig(port, &["x.reuse.test", "A"])), "NOERROR");
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         try:\n    s.bind(('127.0.0.1', {port}))\n    print('BOUND')\n\
         except OSError as e:\n    print('REFUSED', e.errno)\n"
    );
    let out = run(
        std::process::Command::new(require("python3")).args(["-c", &script]),
        Duration::from_secs(10),
    );
    let out = String::from_utf8_lossy(&out.stdout).trim().to_string();
    println!("SO_REUSEADDR bind on the listener's port: {out}");
    assert_eq!(out, "REFUSED 98", "another socket took the listener's port");
    drop(server);
}
