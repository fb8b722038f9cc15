//! Faults end to end, with real dig as the client and a scripted upstream for what no real server
//! does on demand. The incidents are in `incidents.rs`.
#![allow(clippy::unwrap_used)]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dnspect_core::wire::{Message, RType, Rcode};
use dnspect_tests::*;

#[test]
fn faults_garbage_silence_tc_formerr_spoofed() {
    let garbage_asked = Arc::new(AtomicUsize::new(0));
    let spoof_asked = Arc::new(AtomicUsize::new(0));
    let (g2, s2) = (garbage_asked.clone(), spoof_asked.clone());
    let up = FakeUpstream::start(move |q, raw, tcp| {
        let name = q.questions[0].name.to_string();
        let a = |ip: &str| {
            reply(
                q,
                &[&format!("{name} 60 IN A {ip}")],
                &[],
                Rcode::NOERROR,
                true,
            )
        };
        match name.as_str() {
            "garbage.test." => {
                g2.fetch_add(1, Ordering::SeqCst);
                let mut g = raw[..2].to_vec();
                g.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 9, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
                Some(g)
            }
            "silent.test." => None,
            "tc.test." if !tcp => {
                let mut m = Message::from_wire(&a("192.0.2.3")).unwrap();
                m.answers.clear();
                m.header.tc = true;
                Some(m.to_wire().unwrap())
            }
            "tc.test." => Some(a("192.0.2.3")),
            "oldserver.test." if q.edns.is_some() => Some(reply(q, &[], &[], Rcode::FORMERR, true)),
            "oldserver.test." => Some(a("192.0.2.4")),
            "spoof.test." => {
                // Only ever a wrong ID: each is dropped, the attempts time out, and the client
                // gets SERVFAIL, never the forged address.
                s2.fetch_add(1, Ordering::SeqCst);
                let mut r = a("6.6.6.6");
                let id = u16::from_be_bytes([r[0], r[1]]).wrapping_add(1);
                r[..2].copy_from_slice(&id.to_be_bytes());
                Some(r)
            }
            _ => Some(a("192.0.2.1")),
        }
    });
    let (server, port, _) = serve(
        "faults",
        &[up.port],
        "[engine]\nattempt_timeout = \"400ms\"\nquery_timeout = \"1500ms\"\n",
    );
    let out = dig(port, &["garbage.test", "A"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    assert!(out.contains("EDE: 24"), "{out}");
    // The loop is bounded: one UDP attempt, one TCP retry, then give up (2 x 1 upstream).
    assert_eq!(
        garbage_asked.load(Ordering::SeqCst),
        2,
        "garbage answers must not be retried in a loop"
    );
    let out = dig(port, &["silent.test", "A"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    let out = dig(port, &["tc.test", "A"]);
    assert!(out.contains("192.0.2.3"), "{out}");
    let out = dig(port, &["oldserver.test", "A"]);
    assert!(out.contains("192.0.2.4"), "{out}");
    let out = dig(port, &["spoof.test", "A"]);
    assert!(
        !out.contains("6.6.6.6"),
        "a spoofed answer was accepted: {out}"
    );
    // Answered (not a dig timeout, which would pass the check above by itself): SERVFAIL after
    // the bounded attempts, each of which got only the forgery.
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    assert_eq!(spoof_asked.load(Ordering::SeqCst), 2, "{out}");
    let log = server.log_text();
    assert!(
        log.contains("truncated-over-udp")
            && log.contains("edns-rejected")
            && log.contains("is not the ID"),
        "{log}"
    );
}

#[test]
fn malformed_clients_acl_and_flood() {
    let up = a_record_upstream(60);
    let (server, port, dir) = serve("malformed", &[up.port], "allow = [\"10.0.0.0/8\"]\n");
    // Not in the allow list: REFUSED.
    let out = dig(port, &["x.test", "A"]);
    assert_eq!(status(&out), "REFUSED", "{out}");
    drop(server);
    let server = start_dnspect(&dir, &config(port, &[up.port], ""), port, &[]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Room for the flood's 2000 answers: the default 208 KiB receive buffer holds about 270
    // small datagrams, so on a loaded machine the client, not the server, would drop them.
    let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(4 << 20);
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let target = ("127.0.0.1", port);
    // Garbage of every short length, a response, a header with a broken question.
    for n in 0..40usize {
        let g: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
        sock.send_to(&g, target).unwrap();
    }
    let mut broken = vec![
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1,
    ];
    sock.send_to(&broken, target).unwrap();
    let mut buf = [0u8; 512];
    let mut formerr = false;
    for _ in 0..50 {
        match sock.recv_from(&mut buf) {
            Ok((n, _)) if n >= 4 && buf[0] == 0x12 && buf[1] == 0x34 => {
                formerr = buf[3] & 0xf == 1;
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    assert!(formerr, "a query with a looping name gets FORMERR");
    broken.clear();
    // A flood from one client: 2000 queries for 50 names, all answered.
    let mut q = Message::default();
    q.header.rd = true;
    let mut sent = 0;
    for i in 0..2000u16 {
        q.header.id = i;
        q.questions = vec![dnspect_core::wire::Question {
            name: format!("n{}.flood.test.", i % 50).parse().unwrap(),
            qtype: RType::A,
            class: dnspect_core::wire::Class::IN,
        }];
        sock.send_to(&q.to_wire().unwrap(), target).unwrap();
        sent += 1;
    }
    let mut got = std::collections::HashSet::new();
    sock.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        if n >= 2 {
            got.insert(u16::from_be_bytes([buf[0], buf[1]]));
        }
        if got.len() == sent {
            break;
        }
    }
    assert!(
        got.len() * 100 >= sent * 99,
        "answered {} of {sent}",
        got.len()
    );
    // Still alive.
    assert_eq!(status(&dig(port, &["alive.test", "A"])), "NOERROR");
    drop(server);
}

#[test]
fn reload_shutdown_and_idle_tcp_connections() {
    let up = a_record_upstream(300);
    let (server, port, dir) = serve(
        "reload",
        &[up.port],
        "[tcp]\nidle_timeout = \"2s\"\nmax_connections = 100\nmax_connections_per_client = 1000\n",
    );
    assert_eq!(status(&dig(port, &["cached.test", "A"])), "NOERROR");
    // A bad config is rejected and the old one stays.
    std::fs::write(dir.join("dnspect.toml"), "workers = 0\n").unwrap();
    server.reload_expecting("configuration rejected");
    assert_eq!(status(&dig(port, &["cached.test", "A"])), "NOERROR");
    // A good config is taken; the cache survives (no new upstream query).
    std::fs::write(dir.join("dnspect.toml"), config(port, &[up.port], "[tcp]\nidle_timeout = \"2s\"\nmax_connections = 100\nmax_connections_per_client = 1000\n[engine.cache]\nmax_negative_ttl = 10\n")).unwrap();
    let before = up.count();
    server.reload_expecting("configuration reloaded");
    assert_eq!(status(&dig(port, &["cached.test", "A"])), "NOERROR");
    assert_eq!(up.count(), before, "the cache survived the reload");
    // The connection cap (100, after the reload too) is enforced at accept: of 300 idle
    // connections the first 100 are kept and the other 200 closed at once; the kept ones are
    // reclaimed by the idle timeout, and the cap's slots with them.
    let closed_by_server = |c: &Option<std::net::TcpStream>| {
        use std::io::Read;
        let Some(mut c) = c.as_ref() else {
            return true; // reset before connect() even returned
        };
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        !matches!(c.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    };
    let conns: Vec<Option<std::net::TcpStream>> = (0..300)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let early = conns.iter().filter(|c| closed_by_server(c)).count();
    assert_eq!(early, 200, "connections over the cap closed at accept");
    let capped = dig(port, &["capped.test", "A", "+tcp"]);
    assert_eq!(status(&capped), "none", "the cap is taken: {capped}");
    std::thread::sleep(Duration::from_millis(2500));
    let closed = conns.iter().filter(|c| closed_by_server(c)).count();
    assert_eq!(closed, 300, "idle connections closed by the server");
    assert_eq!(status(&dig(port, &["after.test", "A", "+tcp"])), "NOERROR");
    // SIGTERM with queries in flight: serve_lifecycle.rs.
}

/// ESTABLISHED TCP connections on this host (`/proc/net/tcp`, `tcp6`) to `port` on the remote
/// side: dnspect's end of its pooled connections to the upstream listening there.
fn established_to(port: u16) -> usize {
    let mut n = 0;
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines().skip(1) {
            let w: Vec<&str> = line.split_whitespace().collect();
            let remote_port = w
                .get(2)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if remote_port == Some(port) && w.get(3) == Some(&"01") {
                n += 1;
            }
        }
    }
    n
}

/// `[tcp] upstream_idle_timeout`: the pooled connection to an upstream, opened for the TCP
/// retry of a truncated answer, is closed by dnspect once it has carried no query for that long
/// (10 s by default; 1 s here). NSD is the upstream: it keeps an idle connection open far
/// longer (its own `tcp-timeout`), so only dnspect's timeout closes it.
#[test]
fn an_idle_upstream_tcp_connection_is_closed_after_its_idle_timeout() {
    require("nsd");
    let dir = temp_dir("upstream-tcp-idle-nsd");
    let up_port = free_port();
    let mut zone = String::from(
        "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 900 604800 60\n@ IN NS ns\nns IN A 192.0.2.53\n",
    );
    // About 3 KB of TXT: truncated over UDP at dnspect's 1232-byte EDNS size.
    for i in 0..40 {
        zone.push_str(&format!(
            "txt IN TXT \"record {i:02} {}\"\n",
            "x".repeat(60)
        ));
    }
    let _nsd = start_nsd(&dir, up_port, &[("big.test", zone)]);
    let (_server, port, _dir) = serve(
        "upstream-tcp-idle",
        &[up_port],
        "[tcp]\nupstream_idle_timeout = \"1s\"\n",
    );
    let out = dig(port, &["txt.big.test", "TXT", "+tcp"]);
    assert!(out.contains("record 39"), "{out}");
    let open = established_to(up_port);
    assert!(
        open >= 1,
        "the upstream connection is open after the query: {open}"
    );
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while established_to(up_port) > 0 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = established_to(up_port);
    println!(
        "upstream TCP connections: {open} after the query, {left} once 1 s idle (at most 5 s)"
    );
    assert_eq!(left, 0, "closed after its 1 s idle timeout");
}
