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
    /// Wait before the next act (the upstream's thread for UDP, or the connection's).
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
                        Act::Close => {}
                        Act::Wait(d) => std::thread::sleep(d),
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
                                    Act::Close => break 'conn,
                                    Act::Wait(d) => std::thread::sleep(d),
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
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
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

// ---------------------------------------------------------------------------------------------
// Odd client messages
// ---------------------------------------------------------------------------------------------

/// A raw UDP client connected to the server, with a 1.5 s read timeout.
fn raw_client(port: u16) -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    s.connect(("127.0.0.1", port)).unwrap();
    s
}

/// A query message for `name` and `qtype`, with RD.
fn query(id: u16, name: &str, qtype: RType) -> Message {
    let mut m = Message::default();
    m.header.id = id;
    m.header.rd = true;
    m.questions = vec![dnspect_core::wire::Question {
        name: name.parse().unwrap(),
        qtype,
        class: dnspect_core::wire::Class::IN,
    }];
    m
}

/// Sends `bytes` and returns the answer with ID `id`, if one comes within the timeout.
fn ask_raw(s: &UdpSocket, bytes: &[u8], id: u16) -> Option<Message> {
    s.send(bytes).unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.recv(&mut buf) {
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            return Message::from_wire(&buf[..n]).ok();
        }
    }
    None
}

/// Messages a forwarder must not pass on, each answered as Unbound's `worker_check_request`
/// answers it: a response (QR=1) is dropped without an answer (no reflection, RFC 5358 spirit;
/// Unbound drops "request bad, has QR bit on"); a bare 12-byte header and a query with two
/// questions get FORMERR (RFC 1035 4.1.2 has one question; Unbound: FORMERR when QDCOUNT is
/// not 1); two OPT records get FORMERR and an OPT of version 1 BADVERS (RFC 6891 6.1.1,
/// 6.1.3); UPDATE and NOTIFY get NOTIMP (RFC 2136 3, RFC 1996 3.7: a server that does not
/// implement them answers NOTIMP; Unbound checks the opcode before the section counts, so an
/// UPDATE with records in its update section is NOTIMP, not FORMERR). Nothing reaches the
/// upstream; a normal query on the same socket is answered after all of it.
#[test]
fn odd_client_messages_are_dropped_or_answered_never_forwarded() {
    let up = Scripted::start(false, |q, _| vec![Act::Send(a_answer(q, "192.0.2.1", 60))]);
    let (server, port, _) = serve("odd-clients", &[up.port], "");
    let s = raw_client(port);
    // A response sent to the server.
    let mut resp = query(0x1111, "reflect.test", RType::A);
    resp.header.qr = true;
    assert!(
        ask_raw(&s, &resp.to_wire().unwrap(), 0x1111).is_none(),
        "a response was answered"
    );
    // A bare header.
    let r = ask_raw(&s, &[0x22, 0x22, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0x2222).expect("answer");
    assert_eq!(r.rcode(), Rcode::FORMERR, "{r:?}");
    // Two questions.
    let mut two = query(0x3333, "one.test", RType::A);
    two.questions
        .push(query(0, "two.test", RType::A).questions[0].clone());
    let r = ask_raw(&s, &two.to_wire().unwrap(), 0x3333).expect("answer");
    assert_eq!(r.rcode(), Rcode::FORMERR, "{r:?}");
    // Two OPT records (RFC 6891 6.1.1: FORMERR), an OPT of version 1 (6.1.3: BADVERS).
    let mut two_opts = query(0x6666, "two-opts.test", RType::A);
    two_opts.edns = Some(dnspect_core::wire::Edns::new(1232));
    let mut b = two_opts.to_wire().unwrap();
    b.extend_from_slice(&RAW_OPT);
    bump(&mut b, 10);
    let r = ask_raw(&s, &b, 0x6666).expect("answer");
    assert_eq!(r.rcode(), Rcode::FORMERR, "{r:?}");
    let mut v1 = query(0x7777, "v1.test", RType::A);
    let mut e = dnspect_core::wire::Edns::new(1232);
    e.version = 1;
    v1.edns = Some(e);
    let r = ask_raw(&s, &v1.to_wire().unwrap(), 0x7777).expect("answer");
    assert_eq!(r.rcode(), Rcode::BADVERS, "{r:?}");
    // UPDATE (nsupdate's message: zone, no prerequisites, one update) and NOTIFY (with the
    // SOA in its answer section, RFC 1996 3.7), from dnspython.
    let script = format!(
        r#"
import dns.update, dns.message, dns.query, dns.opcode, dns.rcode, dns.rrset, dns.flags
u = dns.update.UpdateMessage('zone.test')
u.add('host', 300, 'A', '192.0.2.44')
r = dns.query.udp(u, '127.0.0.1', port={port}, timeout=3)
print('update', dns.opcode.to_text(r.opcode()), dns.rcode.to_text(r.rcode()))
n = dns.message.make_query('zone.test', 'SOA')
n.set_opcode(dns.opcode.NOTIFY)
n.flags &= ~dns.flags.RD
n.answer.append(dns.rrset.from_text('zone.test.', 300, 'IN', 'SOA', 'ns.zone.test. h.zone.test. 2 3600 900 604800 60'))
r = dns.query.udp(n, '127.0.0.1', port={port}, timeout=3)
print('notify', dns.opcode.to_text(r.opcode()), dns.rcode.to_text(r.rcode()))
"#
    );
    let out = python(&script);
    let log = server.log_text();
    assert!(out.contains("update UPDATE NOTIMP"), "{out}\n{log}");
    assert!(out.contains("notify NOTIFY NOTIMP"), "{out}\n{log}");
    assert_eq!(
        up.count(),
        0,
        "nothing was forwarded: {:?}",
        up.seen.lock().unwrap()
    );
    // Still serving the same socket.
    let r = ask_raw(
        &s,
        &query(0x4444, "fine.test", RType::A).to_wire().unwrap(),
        0x4444,
    )
    .expect("answer");
    assert_eq!(r.rcode(), Rcode::NOERROR, "{r:?}");
}

/// Zone transfers are not a forwarder's business: AXFR (over TCP) and IXFR (over UDP) are
/// answered REFUSED and never forwarded, as Unbound answers them ("refused zone transfer").
/// Forwarded, an AXFR's answer is a stream of messages: the forwarder passed on the first one
/// only, so the client got part of a zone, and cached it as the answer to the name.
#[test]
fn zone_transfers_are_refused_not_forwarded() {
    let up = Scripted::start(true, |q, _| {
        let soa = "zone.test. 300 IN SOA ns.zone.test. h.zone.test. 1 3600 900 604800 60";
        vec![
            Act::Send(reply(
                q,
                &[soa, "a.zone.test. 300 IN A 192.0.2.1"],
                &[],
                Rcode::NOERROR,
                true,
            )),
            Act::Send(reply(
                q,
                &["b.zone.test. 300 IN A 192.0.2.2", soa],
                &[],
                Rcode::NOERROR,
                true,
            )),
        ]
    });
    let (server, port, _) = serve("xfr", &[up.port], "");
    let axfr = dig(port, &["zone.test", "AXFR"]);
    let log = server.log_text();
    assert!(
        axfr.contains("Transfer failed") || axfr.contains("REFUSED"),
        "{axfr}\n{log}"
    );
    assert!(
        !axfr.contains("192.0.2.1"),
        "part of a zone transfer: {axfr}"
    );
    // IXFR over UDP (RFC 1995 2), with the client's SOA in the authority section.
    let mut ixfr = query(0x5555, "zone.test", RType::IXFR);
    ixfr.authority.push(
        dnspect_core::wire::Record::from_text(
            "zone.test. 300 IN SOA ns.zone.test. h.zone.test. 1 3600 900 604800 60",
        )
        .unwrap(),
    );
    let r = ask_raw(&raw_client(port), &ixfr.to_wire().unwrap(), 0x5555).expect("answer");
    assert_eq!(r.rcode(), Rcode::REFUSED, "{r:?}\n{log}");
    let log = server.log_text();
    assert!(
        log.contains("AXFR: a zone transfer") && log.contains("IXFR: a zone"),
        "{log}"
    );
    assert_eq!(up.count(), 0, "forwarded: {:?}", up.seen.lock().unwrap());
}

/// Header bits and the question are the client's (RFC 1035 4.1.1: ID and RD are copied from
/// the query into the response): a query without RD gets an answer without RD, from the
/// upstream and from the cache; an upstream answer whose question differs from the query only
/// in letter case (DNS 0x20, RFC 5452 9.1: names compare case-insensitively) is accepted, and
/// the client sees its question as it asked it (Unbound restores the client's case).
#[test]
fn rd_and_the_question_case_are_the_clients() {
    let up = Scripted::start(false, |q, _| {
        let mut m = Message::from_wire(&a_answer(q, "192.0.2.5", 300)).unwrap();
        let upper: String = q.questions[0].name.to_string().to_uppercase();
        m.questions[0].name = upper.parse().unwrap();
        vec![Act::Send(m.to_wire().unwrap())]
    });
    let (server, port, _) = serve("rd-case", &[up.port], "");
    for round in ["upstream", "cache"] {
        let out = dig(port, &["MiXeD.CaSe.test", "A", "+nord"]);
        let log = server.log_text();
        assert!(out.contains("192.0.2.5"), "{round}: {out}\n{log}");
        assert!(!flags(&out).contains(&"rd".to_string()), "{round}: {out}");
        assert!(out.contains(";MiXeD.CaSe.test.\t"), "{round}: {out}");
        let rd = dig(port, &["MiXeD.CaSe.test", "A"]);
        assert!(flags(&rd).contains(&"rd".to_string()), "{round}: {rd}");
    }
    assert_eq!(up.count(), 1, "the second round came from the cache");
}

// ---------------------------------------------------------------------------------------------
// TTLs and sizes
// ---------------------------------------------------------------------------------------------

/// A TTL with the top bit set (2^31 + 1) is read as 0 (RFC 2181 8), so the answer is passed on
/// but not cached, and the client sees TTL 0, as Unbound gives it (`rdata_copy` reads such a
/// TTL as 0), whether the upstream compressed its answer (kept as sent) or not (re-encoded).
/// A large valid TTL (2^31 - 1) is capped by `max_ttl` (86400 by default) for the client too.
#[test]
fn ttls_with_the_top_bit_set_reach_the_client_as_zero_and_are_not_cached() {
    let up = Scripted::start(false, |q, _| {
        let name = q.questions[0].name.to_string();
        let ttl: u32 = if name.starts_with("big") {
            0x7fff_ffff
        } else {
            0x8000_0001
        };
        let rec = format!("{name} {ttl} IN A 192.0.2.11");
        let other = format!("{name} 300 IN A 192.0.2.12");
        let compressed = !name.starts_with("plain");
        vec![Act::Send(reply(
            q,
            &[&rec, &other],
            &[],
            Rcode::NOERROR,
            compressed,
        ))]
    });
    let (server, port, _) = serve("ttl-msb", &[up.port], "");
    for name in ["msb.test", "plain.test"] {
        for _ in 0..2 {
            let out = dig(port, &[name, "A", "+noall", "+answer"]);
            let log = server.log_text();
            let ttls: Vec<u64> = out
                .lines()
                .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
                .collect();
            assert_eq!(ttls.len(), 2, "{name}: {out}\n{log}");
            assert!(
                ttls.iter().all(|&t| t <= 300),
                "{name}: TTLs {ttls:?}\n{out}"
            );
            assert!(ttls.contains(&0), "{name}: TTLs {ttls:?}\n{out}");
        }
        assert_eq!(
            up.seen_for(&format!("{name}.")).len(),
            2,
            "{name}: not cached"
        );
    }
    let out = dig(port, &["big.test", "A", "+noall", "+answer"]);
    let ttls: Vec<u64> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert!(
        !ttls.is_empty() && ttls.iter().all(|&t| t <= 86400),
        "{ttls:?}\n{out}"
    );
}

/// The answer exactly at the client's advertised size is sent whole; one byte more and it is
/// truncated (RFC 6891 6.2.5: a response over UDP is at most the requestor's payload size, and
/// what does not fit is cut with TC, RFC 2181 9). dig +ignore shows what came over UDP.
#[test]
fn an_answer_at_the_clients_size_is_whole_and_one_byte_over_is_truncated() {
    // A TXT answer of exactly `size` bytes (with the upstream's 11-byte OPT, which dnspect
    // replaces by its own 11-byte OPT: the client's answer has the same size).
    fn sized(q: &Message, size: usize) -> Vec<u8> {
        let name = q.questions[0].name.to_string();
        for n in 1..2000usize {
            let strings: Vec<String> = (0..n.div_ceil(200))
                .map(|i| format!("\"{}\"", "x".repeat((n - i * 200).min(200))))
                .collect();
            let rec = format!("{name} 60 IN TXT {}", strings.join(" "));
            let r = reply(q, &[&rec], &[], Rcode::NOERROR, true);
            if r.len() == size {
                return r;
            }
        }
        panic!("no TXT answer of {size} B");
    }
    let up = Scripted::start(true, |q, _| {
        let size = if q.questions[0].name.to_string().starts_with("exact") {
            1232
        } else {
            1233
        };
        vec![Act::Send(sized(q, size))]
    });
    let (server, port, _) = serve("size-edge", &[up.port], "");
    let exact = dig(port, &["exact.test", "TXT", "+bufsize=1232", "+ignore"]);
    let log = server.log_text();
    assert_eq!(rcvd(&exact), 1232, "{exact}\n{log}");
    assert!(!flags(&exact).contains(&"tc".to_string()), "{exact}");
    let over = dig(port, &["over.test", "TXT", "+bufsize=1232", "+ignore"]);
    assert!(flags(&over).contains(&"tc".to_string()), "{over}\n{log}");
    assert!(rcvd(&over) <= 1232, "{over}");
    // Over TCP the whole answer.
    let tcp = dig(port, &["over.test", "TXT", "+tcp"]);
    assert_eq!(rcvd(&tcp), 1233, "{tcp}");
}

// ---------------------------------------------------------------------------------------------
// Odd upstream answers
// ---------------------------------------------------------------------------------------------

/// An OPT record (root owner, 1232, no options) as bytes.
const RAW_OPT: [u8; 11] = [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0];

/// Adds 1 to the 16-bit count at `at` of a message.
fn bump(msg: &mut [u8], at: usize) {
    let n = u16::from_be_bytes([msg[at], msg[at + 1]]) + 1;
    msg[at..at + 2].copy_from_slice(&n.to_be_bytes());
}

/// What the first of two upstreams does wrong with EDNS, and what the client gets: an OPT in
/// the answer section, or two OPT records, break RFC 6891 6.1.1 (one OPT, in the additional
/// section): the answer is not used (Unbound's parser rejects both), the other upstream is
/// asked, and the client never sees the misplaced OPT. FORMERR or NOTIMP to the query with OPT
/// and again without: the other upstream is asked (BIND: a broken server, next one). A SERVFAIL with an Extended DNS Error
/// from the first is not the final word either: the second's answer reaches the client
/// without that EDE (RFC 8914 3: an EDE describes the answer it is in). The upstream's own
/// options (here an unknown one, 65001) stay with the upstream: the client gets dnspect's OPT.
#[test]
fn broken_edns_or_servfail_from_one_upstream_and_the_other_answers() {
    let bad = Scripted::start(true, |q, _| {
        let name = q.questions[0].name.to_string();
        let mut m = Message::from_wire(&a_answer(q, "198.51.100.1", 60)).unwrap();
        match name.as_str() {
            "opt-in-answer.test." => {
                m.edns = None;
                let mut b = m.to_wire().unwrap();
                b.extend_from_slice(&RAW_OPT);
                bump(&mut b, 6);
                vec![Act::Send(b)]
            }
            "two-opts.test." => {
                let mut b = m.to_wire().unwrap();
                b.extend_from_slice(&RAW_OPT);
                bump(&mut b, 10);
                vec![Act::Send(b)]
            }
            // Rejected with OPT and without: not an EDNS problem, this upstream cannot answer.
            "formerr.test." | "notimp.test." => {
                let rcode = if name.starts_with("formerr") {
                    Rcode::FORMERR
                } else {
                    Rcode::NOTIMP
                };
                vec![Act::Send(reply(q, &[], &[], rcode, true))]
            }
            _ => {
                let mut f = Message::from_wire(&reply(q, &[], &[], Rcode::SERVFAIL, true)).unwrap();
                if let Some(e) = f.edns.as_mut() {
                    e.options
                        .push(dnspect_core::wire::EdnsOption::ExtendedError {
                            code: 6,
                            text: "bogus here".into(),
                        });
                }
                vec![Act::Send(f.to_wire().unwrap())]
            }
        }
    });
    let good = Scripted::start(true, |q, _| {
        let mut m = Message::from_wire(&a_answer(q, "192.0.2.20", 60)).unwrap();
        if let Some(e) = m.edns.as_mut() {
            e.options.push(dnspect_core::wire::EdnsOption::Unknown {
                code: 65001,
                data: vec![1, 2, 3],
            });
        }
        vec![Act::Send(m.to_wire().unwrap())]
    });
    let (server, port, _) = serve(
        "broken-edns",
        &[bad.port, good.port],
        "[engine]\npolicy = \"sequential\"\n",
    );
    for name in [
        "opt-in-answer.test",
        "two-opts.test",
        "formerr.test",
        "notimp.test",
        "servfail-ede.test",
    ] {
        let out = dig(port, &[name, "A"]);
        let log = server.log_text();
        assert_eq!(status(&out), "NOERROR", "{name}: {out}\n{log}");
        assert!(out.contains("192.0.2.20"), "{name}: {out}\n{log}");
        assert!(!out.contains("198.51.100.1"), "{name}: {out}");
        assert!(
            !out.contains("EDE"),
            "{name}: another upstream's EDE: {out}"
        );
        assert!(
            !out.contains("65001"),
            "{name}: the upstream's option: {out}"
        );
        assert_eq!(answer_lines(&out).len(), 1, "{name}: {out}");
        assert!(
            !bad.seen_for(&format!("{name}.")).is_empty(),
            "{name}: the bad one was asked first"
        );
    }
}

/// BADVERS (extended RCODE 16) to our version-0 OPT says the upstream cannot take our EDNS:
/// asked again without OPT (RFC 6891 7: a responder that rejects EDNS; BIND and Unbound fall
/// back the same way for FORMERR/NOTIMP), and the client gets the answer.
#[test]
fn badvers_from_the_upstream_falls_back_without_edns() {
    let up = Scripted::start(false, |q, _| {
        if q.edns.is_some() {
            let mut m = Message::from_wire(&reply(q, &[], &[], Rcode::NOERROR, true)).unwrap();
            m.questions = q.questions.clone();
            m.set_rcode(Rcode::BADVERS);
            vec![Act::Send(m.to_wire().unwrap())]
        } else {
            vec![Act::Send(a_answer(q, "192.0.2.30", 60))]
        }
    });
    let (server, port, _) = serve("badvers", &[up.port], "");
    let out = dig(port, &["v.test", "A"]);
    let log = server.log_text();
    assert!(out.contains("192.0.2.30"), "{out}\n{log}");
    let seen = up.seen_for("v.test.");
    assert_eq!(
        seen.iter().map(|s| s.3).collect::<Vec<_>>(),
        [true, false],
        "{seen:?}"
    );
}

/// A positive answer with TTL 0 is passed on but not cached (RFC 1035 3.2.1: TTL 0 means
/// "only for the transaction in progress"): the next query goes upstream again. A chain of
/// 20 CNAMEs (more than any real one) reaches the client whole and is cached for its smallest
/// TTL, one link's 2 s (RFC 2181 5.2: the chain is as fresh as its shortest-lived record).
#[test]
fn ttl_zero_is_not_cached_and_a_long_cname_chain_lives_as_long_as_its_shortest_link() {
    let up = Scripted::start(false, |q, _| {
        let name = q.questions[0].name.to_string();
        if name == "zero.test." {
            return vec![Act::Send(a_answer(q, "192.0.2.50", 0))];
        }
        let mut lines = Vec::new();
        let mut owner = name.clone();
        for i in 0..20 {
            let ttl = if i == 7 { 2 } else { 300 };
            let target = format!("link{i}.chain.test.");
            lines.push(format!("{owner} {ttl} IN CNAME {target}"));
            owner = target;
        }
        lines.push(format!("{owner} 300 IN A 192.0.2.51"));
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        vec![Act::Send(reply(q, &refs, &[], Rcode::NOERROR, true))]
    });
    let (server, port, _) = serve("ttl0-chain", &[up.port], "");
    for _ in 0..2 {
        let out = dig(port, &["zero.test", "A"]);
        assert!(out.contains("192.0.2.50"), "{out}");
    }
    assert_eq!(up.seen_for("zero.test.").len(), 2, "TTL 0 was cached");
    let out = dig(port, &["start.chain.test", "A"]);
    let log = server.log_text();
    assert_eq!(answer_lines(&out).len(), 21, "{out}\n{log}");
    let cached = dig(port, &["start.chain.test", "A"]);
    assert_eq!(answer_lines(&cached).len(), 21, "{cached}");
    assert_eq!(up.seen_for("start.chain.test.").len(), 1, "from the cache");
    let ttls: Vec<u64> = answer_lines(&cached)
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert!(
        ttls.iter().all(|&t| t <= 2),
        "cached past the chain's shortest TTL: {ttls:?}"
    );
    std::thread::sleep(Duration::from_millis(3000));
    let later = dig(port, &["start.chain.test", "A"]);
    assert_eq!(answer_lines(&later).len(), 21, "{later}");
    assert!(
        up.seen_for("start.chain.test.").len() >= 2,
        "expired after 2 s:\n{}",
        server.log_text()
    );
}

/// A burst of queries pipelined on one upstream TCP connection, and an upstream that closes
/// the connection after each answer: real NSD with `tcp-query-count: 1` (RFC 7766 6.2.3 lets a
/// server close a connection whenever it likes; RFC 1035 4.2.2 only asks it to wait for
/// outstanding queries). dnspect asks it over TCP only (`force_tcp`). Every query is answered
/// with its own record: one NSD closed the connection under is sent again on a new one, as
/// CoreDNS retries a cached connection the upstream closed (`ErrCachedClosed`). Before, the
/// queries behind the first failed at once (the connection closed) or waited out their
/// attempt (still queued when the writer stopped) and got SERVFAIL.
#[test]
fn nsd_closing_tcp_after_each_query_loses_no_pipelined_query() {
    require("nsd");
    let dir = temp_dir("nsd-tcp-query-count");
    let nsd_port = free_port();
    let mut zone = String::from(
        "$ORIGIN pipe.test.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 900 604800 60\n@ IN NS ns\nns IN A 192.0.2.53\n",
    );
    for i in 0..20 {
        zone.push_str(&format!("p{i} IN A 192.0.2.{}\n", 100 + i));
    }
    let _nsd = start_nsd_with(
        &dir,
        nsd_port,
        &[("pipe.test", zone)],
        "server:\n  tcp-query-count: 1\n",
    );
    let port = free_port();
    let conf = format!(
        "listen = [\"127.0.0.1:{port}\"]\nupstreams = [{{ address = \"127.0.0.1:{nsd_port}\", force_tcp = true }}]\nmetrics = \"\"\nlog_queries = true\nworkers = 1\n"
    );
    let server = start_dnspect(&dir, &conf, port, &[]);
    let s = raw_client(port);
    s.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
    for i in 0..20u16 {
        s.send(
            &query(i, &format!("p{i}.pipe.test"), RType::A)
                .to_wire()
                .unwrap(),
        )
        .unwrap();
    }
    let mut good = 0;
    let mut bad = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..20 {
        let Ok(k) = s.recv(&mut buf) else { break };
        let r = Message::from_wire(&buf[..k]).unwrap();
        let want = format!("192.0.2.{}", 100 + r.header.id);
        let got = r
            .answers
            .first()
            .map(|a| a.rdata.to_string())
            .unwrap_or_default();
        if r.rcode() == Rcode::NOERROR && got == want {
            good += 1;
        } else {
            bad.push(format!("{}: {:?} {got}", r.header.id, r.rcode()));
        }
    }
    assert_eq!(good, 20, "{bad:?}\n{}", server.log_text());
}

/// Over TCP a client's message is read whole whatever its length, so the stream keeps its
/// framing (RFC 7766 8: the 2-byte length delimits every message): a 65535-byte message (over
/// `max_query_size`) gets FORMERR, an empty frame and a 5-byte one are dropped, and the query
/// pipelined after them on the same connection is answered. (Unbound reads a whole message of
/// any length before checking it, too.)
#[test]
fn a_tcp_client_keeps_its_framing_through_huge_empty_and_short_messages() {
    let up = Scripted::start(false, |q, _| vec![Act::Send(a_answer(q, "192.0.2.70", 60))]);
    let (server, port, _) = serve("tcp-framing", &[up.port], "");
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // A query with a 65535-byte total length: its question, then an OPT with padding.
    let mut huge = query(0x0101, "huge.test", RType::A);
    huge.edns = Some(dnspect_core::wire::Edns::new(1232));
    let base = huge.to_wire().unwrap().len();
    if let Some(e) = huge.edns.as_mut() {
        e.options.push(dnspect_core::wire::EdnsOption::Padding {
            data: vec![0; 65535 - base - 4],
        });
    }
    let huge = huge.to_wire().unwrap();
    assert_eq!(huge.len(), 65535);
    let mut stream = Vec::new();
    let mut frame = |b: &[u8]| {
        stream.extend_from_slice(&(b.len() as u16).to_be_bytes());
        stream.extend_from_slice(b);
    };
    frame(&huge);
    frame(&[]);
    frame(&[1, 2, 3, 4, 5]);
    frame(&query(0x0202, "after.test", RType::A).to_wire().unwrap());
    c.write_all(&stream).unwrap();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let mut len = [0u8; 2];
        if c.read_exact(&mut len).is_err() {
            break;
        }
        let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
        c.read_exact(&mut m).unwrap();
        answers.push(Message::from_wire(&m).unwrap());
    }
    let log = server.log_text();
    assert_eq!(answers.len(), 2, "{answers:?}\n{log}");
    let by_id = |id: u16| answers.iter().find(|m| m.header.id == id);
    assert_eq!(
        by_id(0x0101).map(Message::rcode),
        Some(Rcode::FORMERR),
        "{log}"
    );
    let after = by_id(0x0202).expect("the query after is answered");
    assert_eq!(after.rcode(), Rcode::NOERROR);
    assert!(after.answers[0].rdata.to_string().contains("192.0.2.70"));
    assert_eq!(up.count(), 1, "only the last query went upstream");
}

/// An upstream slower than the attempt timeout: every answer comes 2.5 s after its query, and
/// dnspect gives each attempt 1.5 s (the default) within 4 s. The answer to the first attempt
/// arrives while the second is in flight, from the upstream asked, with the ID and question
/// sent on that socket: it is used (dnsmasq keeps a forwarded query open for any of its
/// answers the same way). Dropped as late, the query waited for the second attempt's answer
/// (5 s) past its deadline, and the client got SERVFAIL for an upstream that answers.
#[test]
fn an_answer_to_an_earlier_attempt_is_used_while_the_query_waits() {
    let up = Scripted::start(false, |q, _| {
        vec![
            Act::Wait(Duration::from_millis(2500)),
            Act::Send(a_answer(q, "192.0.2.80", 60)),
        ]
    });
    let (server, port, _) = serve("slow-upstream", &[up.port], "");
    let (out, took) = timed_dig(port, &["slow.test", "A", "+time=8"]);
    let log = server.log_text();
    assert!(out.contains("192.0.2.80"), "{out}\n{log}");
    // Before the 4 s deadline: the first attempt's answer (the second's comes at 5 s).
    assert!(took < Duration::from_secs(4), "{took:?}\n{log}");
    assert_eq!(up.seen_for("slow.test.").len(), 2, "{log}");
}

/// An upstream that rejects some queries whatever their OPT (NOTIMP to type HTTPS, which an
/// old server or appliance may not implement, with OPT and without) says nothing about its EDNS: after many such
/// queries, the next ordinary one still goes with OPT. Only a query rejected with OPT and
/// answered without is evidence (BIND marks a server as not speaking EDNS only after the plain
/// query was answered; RFC 6891 7, RFC 8906). Counted as evidence, four NOTIMPs switched EDNS
/// off for that upstream for ten minutes, and answers over 512 bytes needed TCP.
#[test]
fn rejections_with_and_without_opt_keep_edns_on() {
    // HTTPS is an ordinary type (RFC 9460), not a meta type: its FORMERR or NOTIMP would count.
    let up = Scripted::start(false, |q, _| {
        if q.questions[0].qtype == RType(65) {
            // Without OPT, as a server that does not implement the query would answer.
            let mut m = Message::from_wire(&reply(q, &[], &[], Rcode::NOERROR, true)).unwrap();
            m.edns = None;
            m.set_rcode(Rcode::NOTIMP);
            vec![Act::Send(m.to_wire().unwrap())]
        } else {
            vec![Act::Send(a_answer(q, "192.0.2.95", 60))]
        }
    });
    // One worker: each worker keeps its own view of an upstream's EDNS.
    let (server, port, _) = serve("notimp-https", &[up.port], "workers = 1\n");
    for i in 0..4 {
        let out = dig(port, &[&format!("any{i}.test"), "TYPE65"]);
        assert_eq!(status(&out), "SERVFAIL", "{out}");
    }
    let seen = up.seen_for("any0.test.");
    assert_eq!(
        seen.iter().map(|s| s.3).collect::<Vec<_>>(),
        [true, false],
        "{seen:?}"
    );
    let out = dig(port, &["plain.test", "A"]);
    let log = server.log_text();
    assert!(out.contains("192.0.2.95"), "{out}\n{log}");
    let seen = up.seen_for("plain.test.");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].3, "the ordinary query went without OPT:\n{log}");
}
