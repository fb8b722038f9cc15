//! More faults end to end: what a flaky or hostile upstream, or an odd client, does to the
//! running `dnspect serve`, and what the client gets. `serve_faults.rs` has the first set
//! (garbage, silence, TC, FORMERR to EDNS, spoofed IDs), `serve_attacks.rs` the RFC 5452
//! acceptance rules, `incidents.rs` the incidents.
//!
//! The upstream here is scripted ([`Scripted`]): it can answer a query with several messages,
//! with bytes that are not a frame, or by closing its TCP connection, which no real server does
//! on demand. Each expectation names the RFC or the peer (BIND, Unbound) it follows.
#![allow(clippy::unwrap_used)]
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dnspect_core::wire::{Message, RType, Rcode};
use dnspect_tests::*;

// ---------------------------------------------------------------------------------------------
// A scripted upstream
// ---------------------------------------------------------------------------------------------

/// What the scripted upstream does for one query, in order.
enum Act {
    /// A message: one datagram over UDP, one length-prefixed frame over TCP.
    Send(Vec<u8>),
    /// Bytes written as they are (over TCP: a broken frame).
    Raw(Vec<u8>),
    /// Close the TCP connection (over UDP: nothing).
    Close,
    /// Wait before the next act.
    Wait(Duration),
}

/// One query the upstream saw: (name lowercased, type, over TCP, with OPT).
type Seen = (String, RType, bool, bool);

type Script = dyn Fn(&Message, bool) -> Vec<Act> + Send + Sync;

/// A UDP (and, when asked, TCP) upstream on 127.0.0.1 running a script per query; every query
/// is recorded. Stops when dropped; its threads end within 50 ms of that, or when their
/// connection is idle for 3 s.
struct Scripted {
    port: u16,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    /// `tcp`: whether it listens on TCP too (without, a TCP connect is refused by the kernel).
    fn start(
        tcp: bool,
        script: impl Fn(&Message, bool) -> Vec<Act> + Send + Sync + 'static,
    ) -> Self {
        let port = free_port();
        let script: Arc<Script> = Arc::new(script);
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = |seen: &Mutex<Vec<Seen>>, m: &Message, tcp: bool| {
            let q = &m.questions[0];
            seen.lock().unwrap().push((
                q.name.to_string().to_lowercase(),
                q.qtype,
                tcp,
                m.edns.is_some(),
            ));
        };
        let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let (s1, st1, seen1) = (script.clone(), stop.clone(), seen.clone());
        let mut threads = vec![std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            while !st1.load(Ordering::Relaxed) {
                let Ok((n, peer)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(m) = Message::from_wire(&buf[..n]) else {
                    continue;
                };
                if m.questions.is_empty() {
                    continue;
                }
                record(&seen1, &m, false);
                for act in s1(&m, false) {
                    match act {
                        Act::Send(b) | Act::Raw(b) => {
                            let _ = udp.send_to(&b, peer);
                        }
                        Act::Wait(d) => std::thread::sleep(d),
                        Act::Close => {}
                    }
                }
            }
        })];
        if tcp {
            let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
            listener.set_nonblocking(true).unwrap();
            let (st2, seen2) = (stop.clone(), seen.clone());
            threads.push(std::thread::spawn(move || {
                while !st2.load(Ordering::Relaxed) {
                    let Ok((mut c, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    let _ = c.set_nonblocking(false);
                    let _ = c.set_read_timeout(Some(Duration::from_secs(3)));
                    let (s3, seen3) = (script.clone(), seen2.clone());
                    std::thread::spawn(move || {
                        let mut len = [0u8; 2];
                        'conn: while c.read_exact(&mut len).is_ok() {
                            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                            if c.read_exact(&mut q).is_err() {
                                break;
                            }
                            let Ok(m) = Message::from_wire(&q) else { break };
                            if m.questions.is_empty() {
                                break;
                            }
                            record(&seen3, &m, true);
                            for act in s3(&m, true) {
                                match act {
                                    Act::Send(b) => {
                                        let mut f = (b.len() as u16).to_be_bytes().to_vec();
                                        f.extend_from_slice(&b);
                                        let _ = c.write_all(&f);
                                    }
                                    Act::Raw(b) => {
                                        let _ = c.write_all(&b);
                                    }
                                    Act::Wait(d) => std::thread::sleep(d),
                                    Act::Close => break 'conn,
                                }
                            }
                        }
                    });
                }
            }));
        }
        Scripted {
            port,
            stop,
            threads,
            seen,
        }
    }

    /// The queries seen so far for `name` (lowercased, with its final dot).
    fn seen_for(&self, name: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.0 == name)
            .cloned()
            .collect()
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// An A answer for the query's name.
fn a_answer(q: &Message, ip: &str, ttl: u32) -> Vec<u8> {
    let name = q.questions[0].name.to_string();
    reply(
        q,
        &[&format!("{name} {ttl} IN A {ip}")],
        &[],
        Rcode::NOERROR,
        true,
    )
}

/// A bare header answering `q`: QR=1, `rcode`, and no sections at all (QDCOUNT=0), as old or
/// minimal servers answer what they cannot parse.
fn bare_header(q: &Message, rcode: Rcode, tc: bool) -> Vec<u8> {
    let id = q.header.id.to_be_bytes();
    let rd = u8::from(q.header.rd);
    let mut h = vec![
        id[0],
        id[1],
        0x80 | rd,
        rcode.0 as u8 & 0xf,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ];
    if tc {
        h[2] |= 0x02;
    }
    h
}

/// dig's header flags (`qr rd ra ...`).
fn flags(out: &str) -> Vec<String> {
    out.lines()
        .find_map(|l| l.strip_prefix(";; flags:"))
        .map(|f| {
            f.split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The "MSG SIZE  rcvd: N" of a dig output.
fn rcvd(out: &str) -> usize {
    out.split("MSG SIZE  rcvd: ")
        .nth(1)
        .and_then(|s| s.trim().split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no MSG SIZE in {out}"))
}

/// Runs dig and measures how long the answer took.
fn timed_dig(port: u16, args: &[&str]) -> (String, Duration) {
    let t = Instant::now();
    let out = dig(port, args);
    (out, t.elapsed())
}

// ---------------------------------------------------------------------------------------------
// Error answers without a question
// ---------------------------------------------------------------------------------------------

/// An old or minimal server answers a query it cannot parse (here: one with OPT) with a bare
/// FORMERR or NOTIMP header, QDCOUNT=0. RFC 1035 does not require the question in an error
/// answer, and the resolvers act on it: BIND takes FORMERR/NOTIMP (and SERVFAIL, REFUSED) by
/// their RCODE before it compares questions (`resquery_response`, then `same_question`), and
/// Unbound's `serviced_udp_callback` falls back to no EDNS on FORMERR/NOTIMP without looking
/// at the question (its scrubber accepts QDCOUNT=0). Dropped as "no question", the query waited
/// out every attempt and the client got SERVFAIL from an upstream that answers plain queries.
#[test]
fn bare_formerr_or_notimp_to_edns_falls_back_without_edns_at_once() {
    for rcode in [Rcode::FORMERR, Rcode::NOTIMP] {
        let up = Scripted::start(false, move |q, _| {
            if q.edns.is_some() {
                vec![Act::Send(bare_header(q, rcode, false))]
            } else {
                vec![Act::Send(a_answer(q, "192.0.2.7", 60))]
            }
        });
        let (server, port, _) = serve(
            "bare-formerr",
            &[up.port],
            "[engine]\nattempt_timeout = \"3s\"\nquery_timeout = \"8s\"\n",
        );
        let (out, took) = timed_dig(port, &["old.test", "A"]);
        let log = server.log_text();
        assert!(out.contains("192.0.2.7"), "{rcode:?}: {out}\n{log}");
        // Well inside the 3 s attempt timeout: acted on, not waited out.
        assert!(
            took < Duration::from_millis(2500),
            "{rcode:?}: {took:?}\n{log}"
        );
        let seen = up.seen_for("old.test.");
        assert_eq!(seen.len(), 2, "one EDNS query, one without: {seen:?}");
        assert!(seen[0].3 && !seen[1].3, "{seen:?}");
        assert!(log.contains("edns-rejected"), "{log}");
    }
}

/// A bare REFUSED (QDCOUNT=0) from the first of two upstreams: the next one is asked at once
/// (BIND acts on REFUSED by its RCODE, `broken_server`, before comparing questions), not after
/// the attempt timeout.
#[test]
fn bare_refused_from_one_upstream_moves_to_the_next_at_once() {
    let refusing = Scripted::start(false, |q, _| {
        vec![Act::Send(bare_header(q, Rcode::REFUSED, false))]
    });
    let good = Scripted::start(false, |q, _| vec![Act::Send(a_answer(q, "192.0.2.8", 60))]);
    let (server, port, _) = serve(
        "bare-refused",
        &[refusing.port, good.port],
        "[engine]\npolicy = \"sequential\"\nattempt_timeout = \"3s\"\nquery_timeout = \"8s\"\n",
    );
    let (out, took) = timed_dig(port, &["r.test", "A"]);
    let log = server.log_text();
    assert!(out.contains("192.0.2.8"), "{out}\n{log}");
    assert_eq!(refusing.seen_for("r.test.").len(), 1, "{log}");
    assert!(took < Duration::from_millis(2500), "{took:?}\n{log}");
}

// ---------------------------------------------------------------------------------------------
// TC=1 over UDP, then the TCP retry fails
// ---------------------------------------------------------------------------------------------

/// The UDP answer is truncated (TC=1, one of the records), and the TCP retry that must follow
/// (RFC 7766 5) fails: the connection is refused, or the upstream closes it inside the length
/// prefix, inside the message, or after a length prefix longer than the message it sent. The
/// client gets SERVFAIL with EDE 23 (Network Error, RFC 8914) at once, when the connection
/// ends, not after the attempt timeout, and never the truncated record (RFC 2181 9: a
/// truncated answer is not to be used as if complete; hickory-dns issue 2608). The pooled
/// connection is replaced: a later retry on a good connection gets the whole answer. TC over
/// TCP too is not retried in a loop: one UDP and one TCP query, then SERVFAIL (EDE 24).
#[test]
fn tcp_retry_after_tc_fails_fast_and_the_pool_recovers() {
    let up = Scripted::start(true, |q, tcp| {
        let name = q.questions[0].name.to_string();
        let full = reply(
            q,
            &[
                &format!("{name} 60 IN A 192.0.2.66"),
                &format!("{name} 60 IN A 192.0.2.67"),
            ],
            &[],
            Rcode::NOERROR,
            true,
        );
        let truncated = || {
            let mut m = Message::from_wire(&full).unwrap();
            m.answers.truncate(1);
            m.header.tc = true;
            m.to_wire().unwrap()
        };
        if !tcp {
            return vec![Act::Send(truncated())];
        }
        let prefix = |n: usize| (n as u16).to_be_bytes().to_vec();
        match name.as_str() {
            "mid-length.test." => vec![Act::Raw(vec![0]), Act::Close],
            "mid-message.test." => {
                let mut b = prefix(full.len());
                b.extend_from_slice(&full[..20]);
                vec![Act::Raw(b), Act::Close]
            }
            "over-length.test." => {
                let mut b = prefix(full.len() + 50);
                b.extend_from_slice(&full);
                vec![Act::Raw(b), Act::Close]
            }
            "tc-always.test." => vec![Act::Send(truncated())],
            _ => vec![Act::Send(full)],
        }
    });
    let (server, port, _) = serve(
        "tc-tcp-fails",
        &[up.port],
        "[engine]\nattempt_timeout = \"3s\"\nquery_timeout = \"8s\"\n",
    );
    for name in ["mid-length.test", "mid-message.test", "over-length.test"] {
        let (out, took) = timed_dig(port, &[name, "A", "+bufsize=1232"]);
        let log = server.log_text();
        assert_eq!(status(&out), "SERVFAIL", "{name}: {out}\n{log}");
        assert!(out.contains("EDE: 23"), "{name}: {out}");
        assert!(
            !out.contains("192.0.2.66"),
            "{name}: truncated data served: {out}"
        );
        assert!(
            took < Duration::from_millis(2500),
            "{name}: {took:?}\n{log}"
        );
        let tcp = up
            .seen_for(&format!("{name}."))
            .iter()
            .filter(|s| s.2)
            .count();
        assert_eq!(tcp, 1, "{name}: one TCP retry");
        // The whole answer over a new connection.
        let ok = dig(port, &[&format!("ok-after-{name}"), "A"]);
        assert!(
            ok.contains("192.0.2.66") && ok.contains("192.0.2.67"),
            "{ok}\n{log}"
        );
    }
    let (out, _) = timed_dig(port, &["tc-always.test", "A"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    assert!(out.contains("EDE: 24"), "{out}");
    assert!(!out.contains("192.0.2.66"), "{out}");
    let seen = up.seen_for("tc-always.test.");
    assert_eq!(
        seen.iter().map(|s| s.2).collect::<Vec<_>>(),
        [false, true],
        "one UDP query, one TCP retry, no loop"
    );
    // No TCP listener at all: the retry's connection is refused.
    let udp_only = Scripted::start(false, |q, _| {
        let mut m = Message::from_wire(&a_answer(q, "192.0.2.66", 60)).unwrap();
        m.header.tc = true;
        vec![Act::Send(m.to_wire().unwrap())]
    });
    let (server, port, _) = serve(
        "tc-tcp-refused",
        &[udp_only.port],
        "[engine]\nattempt_timeout = \"3s\"\nquery_timeout = \"8s\"\n",
    );
    let (out, took) = timed_dig(port, &["refused.test", "A"]);
    let log = server.log_text();
    assert_eq!(status(&out), "SERVFAIL", "{out}\n{log}");
    assert!(out.contains("EDE: 23"), "{out}");
    assert!(!out.contains("192.0.2.66"), "{out}");
    assert!(took < Duration::from_millis(2500), "{took:?}\n{log}");
}
