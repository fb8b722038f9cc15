//! Client TCP under abuse, end to end against the built binary over loopback: clients that
//! never read, slowloris, and connection caps. The server's descriptors are counted in
//! /proc/PID/fd before, during and after, and a normal `dig +tcp` must be answered throughout.
#![allow(clippy::unwrap_used)]
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnspect_core::wire::{Class, Message, Question, RType, Rcode};
use dnspect_tests::*;

/// Descriptors the process holds now.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The descriptor count once the server has settled (three equal readings 100 ms apart, at
/// most 3 s): a server just started may still be opening its runtime's descriptors, and a
/// baseline read too early makes "back to the baseline" fail on a loaded machine.
fn settled_fds(pid: u32) -> usize {
    let until = Instant::now() + Duration::from_secs(3);
    let mut last = fds(pid);
    let mut same = 0;
    while same < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
        let n = fds(pid);
        same = if n == last { same + 1 } else { 0 };
        last = n;
    }
    last
}

/// The value of one sample (`name` with its labels, as exposed).
fn metric(text: &str, sample: &str) -> u64 {
    scraped(text, sample).unwrap_or_else(|| panic!("no sample {sample} in:\n{text}")) as u64
}

/// Metrics after the workers' next publication (twice a second).
fn scrape(port: u16) -> String {
    std::thread::sleep(Duration::from_millis(700));
    http_get(port, "/metrics").1
}

/// A length-prefixed query for TCP.
fn tcp_query(id: u16, name: &str, qtype: RType) -> Vec<u8> {
    let mut q = Message::default();
    q.header.id = id;
    q.header.rd = true;
    q.questions = vec![Question {
        name: name.parse().unwrap(),
        qtype,
        class: Class::IN,
    }];
    let b = q.to_wire().unwrap();
    let mut f = (b.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(&b);
    f
}

/// Whether the server has closed (FIN or RST) this connection, without blocking.
fn closed_by_server(mut c: &TcpStream) -> bool {
    c.set_nonblocking(true).unwrap();
    let mut b = [0u8; 4096];
    loop {
        match c.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// An upstream whose `big.test` TXT answer is about 16 KB; every other name gets an A record.
fn upstream() -> FakeUpstream {
    FakeUpstream::start(|q, _, _| {
        let name = q.questions[0].name.to_string();
        if name == "big.test." {
            let recs: Vec<String> = (0..64)
                .map(|i| format!("big.test. 300 IN TXT \"{i:03}{}\"", "x".repeat(240)))
                .collect();
            let refs: Vec<&str> = recs.iter().map(String::as_str).collect();
            return Some(reply(q, &refs, &[], Rcode::NOERROR, true));
        }
        Some(reply(
            q,
            &[&format!("{name} 300 IN A 192.0.2.1")],
            &[],
            Rcode::NOERROR,
            true,
        ))
    })
}

fn server(dir_name: &str, up: &FakeUpstream, tcp: &str) -> (Proc, u16, u16, std::path::PathBuf) {
    let dir = temp_dir(dir_name);
    let port = free_port();
    let mport = free_port();
    let conf = config(
        port,
        &[up.port],
        &format!("log_queries = false\n[tcp]\n{tcp}"),
    )
    .replace(
        "metrics = \"\"",
        &format!("metrics = \"127.0.0.1:{mport}\""),
    )
    .replace("log_queries = true\n", "");
    let p = start_dnspect(&dir, &conf, port, &[]);
    (p, port, mport, dir)
}

fn dig_tcp_ok(port: u16, name: &str) -> bool {
    let out = dig(port, &[name, "A", "+tcp"]);
    status(&out) == "NOERROR" && out.contains("192.0.2.1")
}

#[test]
fn never_reading_clients_and_slowloris_are_reclaimed() {
    const CLIENTS: usize = 300;
    const QUERIES: u16 = 100;
    const SLOW: usize = 20;
    let up = upstream();
    let (srv, port, mport, _dir) = server(
        "tcp-abuse",
        &up,
        "idle_timeout = \"3s\"\nread_timeout = \"2s\"\nwrite_timeout = \"1s\"\n\
         max_queued = 32\nmax_connections = 1000\nmax_connections_per_client = 1000\n",
    );
    let pid = srv.pid();
    // Warm the cache with the big answer; check it comes whole over TCP.
    let out = dig(port, &["big.test", "TXT", "+tcp"]);
    assert_eq!(answer_lines(&out).len(), 64, "{out}");
    assert!(dig_tcp_ok(port, "warm.test"));
    std::thread::sleep(Duration::from_millis(500));
    let before = settled_fds(pid);

    // Count the server's descriptors every 50 ms while the attack runs.
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(before));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            for _ in 0..1200 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                peak.fetch_max(fds(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let start = Instant::now();

    // Slowloris: one byte a second of one query, on SLOW connections. Each must be closed by
    // the message deadline (2 s from its first byte), long before the query is sent whole.
    let slow = std::thread::spawn(move || {
        let msg = tcp_query(7, "slow.test.", RType::A);
        let mut conns: Vec<(TcpStream, Option<(usize, Duration)>)> = (0..SLOW)
            .map(|_| (TcpStream::connect(("127.0.0.1", port)).unwrap(), None))
            .collect();
        let t0 = Instant::now();
        for (sent, byte) in msg.iter().enumerate() {
            for (c, closed) in conns.iter_mut().filter(|(_, d)| d.is_none()) {
                if closed_by_server(c) || c.write_all(&[*byte]).is_err() {
                    *closed = Some((sent, t0.elapsed()));
                }
            }
            if conns.iter().all(|(_, d)| d.is_some()) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        let len = msg.len();
        conns
            .into_iter()
            .map(|(_, d)| d.unwrap_or((len, t0.elapsed())))
            .collect::<Vec<_>>()
    });

    // CLIENTS connections that pipeline QUERIES queries for the 16 KB answer and never read:
    // 1.6 MB of answers each, far more than the kernel buffers take.
    let mut hogs = Vec::new();
    for i in 0..CLIENTS {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut burst = Vec::new();
        for q in 0..QUERIES {
            burst.extend_from_slice(&tcp_query(q ^ i as u16, "big.test.", RType::TXT));
        }
        c.write_all(&burst).unwrap();
        hogs.push(c);
    }
    let opened = start.elapsed();

    // A normal client is answered throughout, and the descriptors come back while the
    // attackers still hold their ends open.
    let mut digs = 0;
    let mut recovered = None;
    for round in 0..40 {
        assert!(
            dig_tcp_ok(port, &format!("alive{round}.test")),
            "dig +tcp failed during the attack (round {round}, {:?})\n{}",
            start.elapsed(),
            srv.log_text()
        );
        digs += 1;
        if start.elapsed() > Duration::from_secs(3) && fds(pid) <= before + 3 {
            recovered = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let slow = slow.join().unwrap();
    let after = fds(pid);
    let peak = peak.load(Ordering::Relaxed);
    let m = scrape(mport);
    let closed = |r: &str| {
        metric(
            &m,
            &format!("dnspect_tcp_connections_closed_total{{reason=\"{r}\"}}"),
        )
    };
    let slow_max = slow.iter().map(|(_, t)| *t).max().unwrap();
    let slow_bytes = slow.iter().map(|(n, _)| *n).max().unwrap();
    println!(
        "fds before {before}, peak {peak}, after {after}; {CLIENTS} never-reading clients opened in \
         {opened:?}, descriptors back at {recovered:?}; {digs} dig +tcp answered during the attack; \
         slowloris: {SLOW} closed after at most {slow_max:?} and {slow_bytes} bytes; closed by \
         write_deadline {}, read_deadline {}, idle {}, eof {}, linger {}, stalled {}, error {}; \
         answers dropped: closed {}, unwritten {}; connections open now {}",
        closed("write_deadline"),
        closed("read_deadline"),
        closed("idle"),
        closed("eof"),
        closed("linger"),
        closed("stalled"),
        closed("error"),
        metric(&m, "dnspect_tcp_answers_dropped_total{reason=\"closed\"}"),
        metric(&m, "dnspect_tcp_answers_dropped_total{reason=\"unwritten\"}"),
        metric(&m, "dnspect_tcp_connections"),
    );
    assert!(
        peak >= before + CLIENTS,
        "the attack did not hold connections: {before} -> {peak}"
    );
    let recovered = recovered.unwrap_or_else(|| {
        panic!(
            "descriptors not reclaimed: before {before}, peak {peak}, after {after}\n{}",
            srv.log_text()
        )
    });
    assert!(recovered < Duration::from_secs(15), "{recovered:?}");
    assert!(after <= before + 3, "before {before}, after {after}");
    // The never-readers were closed by the write deadline (a full kernel buffer), not later.
    assert!(closed("write_deadline") >= CLIENTS as u64 * 9 / 10, "{m}");
    // Every slowloris connection was cut by the whole-message deadline.
    assert!(closed("read_deadline") >= SLOW as u64, "{m}");
    assert!(slow_max < Duration::from_secs(5), "{slow:?}");
    assert!(
        slow_bytes < 8,
        "a slowloris got {slow_bytes} bytes in: {slow:?}"
    );
    assert_eq!(metric(&m, "dnspect_tcp_connections"), 0, "{m}");
    // Every query read was either written (and counted as sent) or counted as dropped.
    let sent = metric(
        &m,
        "dnspect_dns_responses_total{proto=\"tcp\",rcode=\"NOERROR\"}",
    );
    let asked = metric(&m, "dnspect_dns_requests_total{proto=\"tcp\"}");
    let dropped = metric(&m, "dnspect_tcp_answers_dropped_total{reason=\"closed\"}")
        + metric(
            &m,
            "dnspect_tcp_answers_dropped_total{reason=\"unwritten\"}",
        );
    println!("TCP queries read {asked}, answers written {sent}, dropped {dropped}");
    assert_eq!(sent + dropped, asked, "{m}");
    assert!(dropped > 0, "nothing dropped although clients never read");
    drop(hogs);
    assert!(dig_tcp_ok(port, "after.test"));
}

#[test]
fn per_client_cap_closes_the_excess() {
    const CAP: usize = 8;
    let up = upstream();
    let (srv, port, mport, _dir) = server(
        "tcp-cap",
        &up,
        &format!("idle_timeout = \"10s\"\nmax_connections_per_client = {CAP}\n"),
    );
    let pid = srv.pid();
    assert!(dig_tcp_ok(port, "warm.test"));
    std::thread::sleep(Duration::from_millis(300));
    let before = settled_fds(pid);
    let conns: Vec<TcpStream> = (0..CAP + 12)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let closed = conns.iter().filter(|c| closed_by_server(c)).count();
    let during = fds(pid);
    // One more from the same address, while the cap is taken, is closed too.
    let refused = dig(port, &["capped.test", "A", "+tcp"]);
    let m = scrape(mport);
    let rejected = metric(
        &m,
        "dnspect_tcp_connections_rejected_total{reason=\"client_limit\"}",
    );
    println!(
        "cap {CAP}: {} connections, {closed} closed at accept; fds before {before}, with the cap \
         taken {during}; rejected (client_limit) {rejected}",
        conns.len()
    );
    assert_eq!(closed, 12, "the excess over the per-client cap is closed");
    assert_eq!(status(&refused), "none", "{refused}");
    assert_eq!(rejected, 13, "{m}");
    assert_eq!(metric(&m, "dnspect_tcp_connections"), CAP as u64, "{m}");
    assert!(
        during <= before + CAP + 2,
        "before {before}, during {during}"
    );
    // Once the client closes them, the slots are free again.
    drop(conns);
    let until = Instant::now() + Duration::from_secs(5);
    while fds(pid) > before + 1 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(dig_tcp_ok(port, "after.test"), "{}", srv.log_text());
    assert!(fds(pid) <= before + 1);
}

#[test]
fn acl_drop_closes_at_accept_and_refused_clients_are_bounded() {
    let up = upstream();
    for refuse in ["drop", "refused"] {
        let dir = temp_dir("tcp-acl");
        let port = free_port();
        let conf = config(
            port,
            &[up.port],
            &format!(
                "allow = [\"10.0.0.0/8\"]\nrefuse = \"{refuse}\"\n[tcp]\nidle_timeout = \"1s\"\n\
                 read_timeout = \"1s\"\n"
            ),
        );
        let srv = start_dnspect(&dir, &conf, port, &[]);
        let before = settled_fds(srv.pid());
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // With "drop" the server may already have closed the connection (with RST) by now.
        let wrote = c.write_all(&tcp_query(1, "x.test.", RType::A));
        assert!(refuse == "drop" || wrote.is_ok(), "{wrote:?}");
        std::thread::sleep(Duration::from_millis(300));
        if refuse == "drop" {
            assert!(closed_by_server(&c), "refuse = drop closes at accept");
        } else {
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut len = [0u8; 2];
            c.read_exact(&mut len).unwrap();
            let mut a = vec![0u8; usize::from(u16::from_be_bytes(len))];
            c.read_exact(&mut a).unwrap();
            assert_eq!(a[3] & 0xf, 5, "REFUSED");
            // ...and then bounded like anyone: a message never finished is cut at its deadline.
            c.write_all(&[0]).unwrap();
            std::thread::sleep(Duration::from_millis(1600));
            assert!(
                closed_by_server(&c),
                "refused client kept past the deadline"
            );
        }
        let until = Instant::now() + Duration::from_secs(3);
        while fds(srv.pid()) > before && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        println!(
            "refuse = {refuse}: fds before {before}, after {}",
            fds(srv.pid())
        );
        assert!(fds(srv.pid()) <= before, "{refuse}");
    }
}

/// A TCP connection from `ip` to the server.
fn connect_from(ip: [u8; 4], port: u16) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&std::net::SocketAddr::from((ip, 0)).into()).unwrap();
    s.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    s.into()
}

/// The per-client TCP cap groups addresses by the client prefix, as the rate and waiting
/// limits do: with `client_prefix_v4 = 24`, 127.0.1.2 and 127.0.1.3 are one client and share
/// one cap (not 127.0.0.x: the harness's own connection from 127.0.0.1, checking that the port
/// is open, may still hold a slot of that /24) (with the default /32 each would have its own, and a host with many addresses, such
/// as an IPv6 /64, would multiply the cap).
#[test]
fn per_client_cap_groups_addresses_by_the_client_prefix() {
    const CAP: usize = 4;
    let up = upstream();
    let (_srv, port, mport, _dir) = server(
        "tcp-cap-prefix",
        &up,
        &format!(
            "idle_timeout = \"10s\"\nmax_connections_per_client = {CAP}\n[engine.limits]\nclient_prefix_v4 = 24\n"
        ),
    );
    let conns: Vec<TcpStream> = (0..CAP + 4)
        .map(|i| connect_from([127, 0, 1, 2 + (i % 2) as u8], port))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let closed = conns.iter().filter(|c| closed_by_server(c)).count();
    let m = scrape(mport);
    let rejected = metric(
        &m,
        "dnspect_tcp_connections_rejected_total{reason=\"client_limit\"}",
    );
    println!(
        "cap {CAP} per /24: {} connections from two addresses, {closed} closed, rejected {rejected}",
        conns.len()
    );
    assert_eq!(closed, 4, "the two addresses share one cap of {CAP}");
    assert_eq!(rejected, 4, "{m}");
}
