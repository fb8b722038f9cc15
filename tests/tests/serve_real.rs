//! dnspect serve between real clients (dig, kdig, dnspython) and a real authoritative upstream
//! (NSD) with generated zones.
#![allow(clippy::unwrap_used)]
use std::fmt::Write;
use std::time::Duration;

use dnspect_tests::*;

fn zone() -> String {
    let mut z = String::from("$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns.example.test. host.example.test. 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n");
    for i in 0..200 {
        let _ = writeln!(z, "h{i} IN A 10.0.{}.{}", i / 250, i % 250);
    }
    for i in 0..20 {
        let _ = writeln!(z, "twenty IN A 10.20.0.{i}");
    }
    z.push_str("www IN CNAME web\nweb IN CNAME edge\nedge IN A 10.9.9.9\nonlytxt IN TXT \"no address here\"\n");
    for i in 0..60 {
        let _ = writeln!(z, "big IN TXT \"{}-{i}\"", "x".repeat(40));
    }
    z
}

struct Setup {
    _nsd: Proc,
    server: Proc,
    port: u16,
}

fn setup(name: &str) -> Setup {
    let dir = temp_dir(name);
    let nsd_port = free_port();
    let nsd = start_nsd(&dir, nsd_port, &[("example.test.", zone())]);
    let port = free_port();
    let server = start_dnspect(&dir, &config(port, &[nsd_port], ""), port, &[]);
    Setup {
        _nsd: nsd,
        server,
        port,
    }
}

#[test]
fn dig_over_udp_and_tcp_with_and_without_edns() {
    let s = setup("dig");
    for flags in [
        vec![],
        vec!["+noedns"],
        vec!["+tcp"],
        vec!["+dnssec"],
        vec!["+noedns", "+tcp"],
    ] {
        let mut args = vec!["h7.example.test", "A"];
        args.extend(flags.iter().copied());
        let out = dig(s.port, &args);
        assert_eq!(status(&out), "NOERROR", "{flags:?}: {out}");
        assert_eq!(answer_lines(&out).len(), 1, "{out}");
        assert!(out.contains("10.0.0.7"), "{out}");
        let has_opt = out.contains("OPT PSEUDOSECTION");
        assert_eq!(
            has_opt,
            !flags.contains(&"+noedns"),
            "OPT mirrors the client's: {flags:?}\n{out}"
        );
    }
    // CNAME chain, NODATA, NXDOMAIN.
    let out = dig(s.port, &["www.example.test", "A"]);
    assert_eq!(answer_lines(&out).len(), 3, "{out}");
    let out = dig(s.port, &["onlytxt.example.test", "A"]);
    assert_eq!(status(&out), "NOERROR");
    assert!(answer_lines(&out).is_empty());
    assert!(out.contains("SOA"), "NODATA keeps its SOA: {out}");
    let out = dig(s.port, &["nothere.example.test", "A"]);
    assert_eq!(status(&out), "NXDOMAIN", "{out}");
    // Second time from the cache.
    let out = dig(s.port, &["nothere.example.test", "A"]);
    assert_eq!(status(&out), "NXDOMAIN", "{out}");
    assert!(
        s.server.log_text().contains("negative answer (RFC 2308)"),
        "{}",
        s.server.log_text()
    );
}

#[test]
fn twenty_records_without_edns_and_a_big_answer_over_tcp() {
    let s = setup("sizes");
    let out = dig(s.port, &["twenty.example.test", "A", "+noedns", "+ignore"]);
    assert_eq!(
        answer_lines(&out).len(),
        20,
        "all 20 records fit in 512 bytes compressed: {out}"
    );
    assert!(!out.contains(" tc"), "{out}");
    // Larger than 1232: TC over UDP, then dig retries over TCP and gets everything.
    let out = dig(s.port, &["big.example.test", "TXT"]);
    assert_eq!(answer_lines(&out).len(), 60, "{out}");
    assert!(
        out.contains("Truncated, retrying in TCP mode") || out.contains("(TCP)"),
        "{out}"
    );
    let udp_only = dig(
        s.port,
        &["big.example.test", "TXT", "+ignore", "+bufsize=1232"],
    );
    assert!(udp_only.contains(" tc"), "{udp_only}");
    assert!(
        udp_only.contains("MSG SIZE  rcvd: ") && !udp_only.contains("rcvd: 2"),
        "{udp_only}"
    );
}

#[test]
fn kdig_and_pipelined_tcp() {
    let s = setup("kdig");
    let out = kdig(s.port, &["h1.example.test", "A", "+tcp"]);
    assert!(out.contains("10.0.0.1"), "{out}");
    let out = kdig(s.port, &["h2.example.test", "A", "+noedns"]);
    assert!(out.contains("10.0.0.2"), "{out}");
    // Several questions in flight on one TCP connection (dnspython sends them back to back and
    // reads the answers in whatever order they come).
    let script = format!(
        r#"
import socket, struct, dns.message
s = socket.create_connection(("127.0.0.1", {port}), timeout=5)
names = ["h%d.example.test" % i for i in range(30, 50)]
for i, n in enumerate(names):
    w = dns.message.make_query(n, "A", id=1000 + i).to_wire()
    s.sendall(struct.pack("!H", len(w)) + w)
got = {{}}
buf = b""
while len(got) < len(names):
    chunk = s.recv(65535)
    if not chunk:
        break
    buf += chunk
    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
        n = struct.unpack("!H", buf[:2])[0]
        m = dns.message.from_wire(buf[2:2+n]); buf = buf[2+n:]
        got[m.id] = m.answer[0][0].address
for i in range(len(names)):
    assert got[1000 + i] == "10.0.0.%d" % (30 + i), got
print("ok", len(got))
"#,
        port = s.port
    );
    let out = python(&script);
    assert!(out.contains("ok 20"), "{out}");
}

#[test]
fn dnspython_client_udp_do_bit() {
    let s = setup("dnspython");
    let script = format!(
        r#"
import dns.message, dns.query, dns.flags
q = dns.message.make_query("h3.example.test", "A", want_dnssec=True)
r = dns.query.udp(q, "127.0.0.1", port={port}, timeout=5)
assert r.rcode() == 0 and r.answer[0][0].address == "10.0.0.3", r
assert r.ednsflags & dns.flags.DO, "DO echoed"
r = dns.query.tcp(dns.message.make_query("twenty.example.test", "A", use_edns=False), "127.0.0.1", port={port}, timeout=5)
assert len(r.answer[0]) == 20
print("ok")
"#,
        port = s.port
    );
    let out = python(&script);
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn ipv6_listener() {
    // IPv6 loopback must work here, or this test proves nothing: fail loudly, never skip.
    let a = std::net::UdpSocket::bind("[::1]:0")
        .expect("no IPv6 loopback ([::1]) on this machine: the IPv6 listener cannot be tested");
    let b = std::net::UdpSocket::bind("[::1]:0").expect("[::1]");
    b.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    a.send_to(b"ping", b.local_addr().unwrap())
        .expect("cannot send over [::1]");
    let mut buf = [0u8; 8];
    let (n, from) = b.recv_from(&mut buf).expect("nothing received over [::1]");
    assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
    let dir = temp_dir("ipv6");
    let nsd_port = free_port();
    let _nsd = start_nsd(&dir, nsd_port, &[("example.test.", zone())]);
    let port = free_port();
    let _server = start_dnspect(
        &dir,
        &config(port, &[nsd_port], ""),
        port,
        &[
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--listen",
            &format!("[::1]:{port}"),
        ],
    );
    for tcp in ["+notcp", "+tcp"] {
        let out = run(
            std::process::Command::new(require("dig")).args([
                "@::1",
                "-p",
                &port.to_string(),
                "+tries=1",
                "+time=5",
                tcp,
                "h9.example.test",
                "A",
            ]),
            Duration::from_secs(15),
        );
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(out.contains("10.0.0.9"), "{tcp}: {out}");
        // The answer really came from the [::1] listener, over the transport asked for.
        let proto = if tcp == "+tcp" { "TCP" } else { "UDP" };
        assert!(
            out.contains(&format!(";; SERVER: ::1#{port}(::1) ({proto})")),
            "{tcp}: {out}"
        );
    }
}
