//! DNS over TLS to upstreams (RFC 7858), against a real DoT server: Unbound serving its local
//! data over TLS on one port (`tls-port`) and over plain UDP/TCP on another, with a test CA and
//! server certificate made by the `openssl` command at test time (in the test's temporary
//! directory; no key is committed). dig asks through `dnspect serve`; Unbound's own statistics
//! (`unbound-control stats_noreset`: `num.query.tls`) say the queries came over TLS.
#![allow(clippy::unwrap_used)]
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dnspect_tests::*;

/// The test CA (`ca.pem`) and a server certificate for `dns.example` and 127.0.0.1 signed by it
/// (`server.pem`, `server.key`), P-256, valid two days.
fn make_certs(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = run(
            Command::new(require("openssl")).current_dir(dir).args(args),
            Duration::from_secs(30),
        );
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=dnspect test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=dns.example",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:dns.example,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

/// Unbound answering `*.dot.test` from local data, over TLS on `tls_port` and plain DNS on
/// `plain_port`; remote control on a local socket for its statistics.
struct Unbound {
    proc: Proc,
    conf: PathBuf,
    tls_port: u16,
    plain_port: u16,
}

fn start_unbound(dir: &Path) -> Unbound {
    make_certs(dir);
    let (tls_port, plain_port) = (free_port(), free_port());
    let d = dir.display();
    let mut data = String::new();
    for i in 0..8 {
        data.push_str(&format!(
            "  local-data: \"n{i}.dot.test. 300 IN A 192.0.2.{}\"\n",
            10 + i
        ));
    }
    let conf = format!(
        "server:\n  interface: 127.0.0.1@{tls_port}\n  interface: 127.0.0.1@{plain_port}\n  tls-port: {tls_port}\n  tls-service-key: \"{d}/server.key\"\n  tls-service-pem: \"{d}/server.pem\"\n  port: {plain_port}\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  verbosity: 1\n  do-ip6: no\n  do-daemonize: no\n  num-threads: 1\n  statistics-cumulative: yes\n  extended-statistics: yes\n  local-zone: \"dot.test.\" static\n  local-data: \"www.dot.test. 300 IN A 192.0.2.53\"\n{data}remote-control:\n  control-enable: yes\n  control-interface: \"{d}/unbound.ctl\"\n  control-use-cert: no\n"
    );
    let proc = start_unbound_with(dir, &conf, &[tls_port, plain_port]);
    Unbound {
        proc,
        conf: dir.join("unbound.conf"),
        tls_port,
        plain_port,
    }
}

impl Unbound {
    /// One of Unbound's statistics (`num.query.tls`...), cumulative.
    fn stat(&self, name: &str) -> u64 {
        let out = run(
            Command::new(require("unbound-control"))
                .arg("-c")
                .arg(&self.conf)
                .arg("stats_noreset"),
            Duration::from_secs(10),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "unbound-control: {out:?}");
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}="))?.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// dnspect on a free port with one worker (one connection pool), metrics on, the test CA
/// trusted (`ca`), these upstreams (TOML array items) and `extra`; its port and metrics port.
fn dnspect(dir: &Path, name: &str, upstreams: &str, ca: bool, extra: &str) -> (Proc, u16, u16) {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    let (port, mport) = (free_port(), free_port());
    let ca = if ca {
        format!("tls_ca = \"{}\"\n", dir.join("ca.pem").display())
    } else {
        String::new()
    };
    let conf = format!(
        "listen = [\"127.0.0.1:{port}\"]\nupstreams = [{upstreams}]\n{ca}metrics = \"127.0.0.1:{mport}\"\nlog_queries = true\nworkers = 1\n{extra}\n"
    );
    (start_dnspect(&sub, &conf, port, &[]), port, mport)
}

/// Scrapes until `series` reaches `at_least` (workers publish twice a second), within 5 s.
fn wait_metric(mport: u16, series: &str, at_least: f64) -> f64 {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let v = scraped(&http_get(mport, "/metrics").1, series).unwrap_or(-1.0);
        if v >= at_least || Instant::now() > until {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The text of the first EDE dig prints: `; EDE: 23 (Network Error): (text)`.
fn ede(dig_out: &str) -> String {
    dig_out
        .lines()
        .find_map(|l| l.strip_prefix("; EDE: "))
        .unwrap_or("")
        .to_string()
}

#[test]
fn answers_come_from_the_dot_upstream_over_one_reused_connection() {
    let dir = temp_dir("tls-upstream-ok");
    let ub = start_unbound(&dir);
    let p = ub.tls_port;
    // The default group by name, a forward group by IP address (the certificate has both).
    let (server, port, mport) = dnspect(
        &dir,
        "ok",
        &format!("\"tls://127.0.0.1:{p}#dns.example\""),
        true,
        &format!("[[engine.forward]]\nzones = [\"n7.dot.test\"]\nupstreams = [\"tls://127.0.0.1:{p}\"]\n"),
    );
    let out = dig(port, &["www.dot.test", "A"]);
    assert_eq!(status(&out), "NOERROR", "{out}\n{}", server.log_text());
    assert!(answer_lines(&out)[0].ends_with("192.0.2.53"), "{out}");
    // Six more names, one after another, over the same connection.
    for i in 0..6 {
        let out = dig(port, &[&format!("n{i}.dot.test"), "A"]);
        assert!(
            answer_lines(&out)[0].ends_with(&format!("192.0.2.{}", 10 + i)),
            "{out}"
        );
    }
    let ok = "dnspect_upstream_tls_handshakes_total{reason=\"ok\"}";
    assert_eq!(
        wait_metric(mport, ok, 1.0),
        1.0,
        "seven queries, one handshake"
    );
    // Seven queries went to Unbound, all over TLS.
    assert_eq!(ub.stat("num.query.tls"), 7);
    // The forward group's upstream, checked against the IP address in the certificate: its
    // own connection (a second handshake).
    let out = dig(port, &["n7.dot.test", "A"]);
    assert!(answer_lines(&out)[0].ends_with("192.0.2.17"), "{out}");
    assert_eq!(wait_metric(mport, ok, 2.0), 2.0);
    let failed = "dnspect_upstream_tls_handshakes_total{reason=\"failed\"}";
    assert_eq!(wait_metric(mport, failed, 0.0), 0.0);
    assert_eq!(ub.stat("num.query.tls"), 8);
    let answers =
        format!("dnspect_upstream_answers_total{{to=\"tls://127.0.0.1:{p}#dns.example\"}}");
    assert_eq!(wait_metric(mport, &answers, 7.0), 7.0);

    // The same port asked over plain TCP gets nothing usable: the upstream speaks only TLS.
    let (plain, pport, _) = dnspect(
        &dir,
        "plain",
        &format!("{{ address = \"127.0.0.1:{p}\", force_tcp = true }}"),
        false,
        "[engine]\nattempt_timeout = \"500ms\"\nquery_timeout = \"2s\"\n",
    );
    let out = dig(pport, &["www.dot.test", "A"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    assert_eq!(ub.stat("num.query.tls"), 8);
    stop(plain);
    stop(server);
    stop(ub.proc);
}

#[test]
fn a_certificate_not_valid_for_the_name_is_servfail_naming_it() {
    let dir = temp_dir("tls-upstream-name");
    let ub = start_unbound(&dir);
    let p = ub.tls_port;
    // Given on the command line, as operators do for one upstream.
    let sub = dir.join("wrong");
    std::fs::create_dir_all(&sub).unwrap();
    let (port, mport) = (free_port(), free_port());
    // Attempts would time out after 4 s: a failed handshake must end them long before.
    let conf = format!(
        "listen = [\"127.0.0.1:{port}\"]\ntls_ca = \"{}\"\nmetrics = \"127.0.0.1:{mport}\"\nlog_queries = true\nworkers = 1\n[engine]\nattempt_timeout = \"4s\"\nquery_timeout = \"10s\"\n",
        dir.join("ca.pem").display()
    );
    let label = format!("tls://127.0.0.1:{p}#wrong.example");
    let server = start_dnspect(&sub, &conf, port, &["--upstream", &label]);
    let t = Instant::now();
    let out = dig(port, &["www.dot.test", "A"]);
    let took = t.elapsed();
    assert_eq!(status(&out), "SERVFAIL", "{out}\n{}", server.log_text());
    assert_eq!(
        ede(&out),
        format!(
            "23 (Network Error): (upstream {label}: TLS: certificate not valid for wrong.example)"
        ),
        "{out}"
    );
    // Failed handshakes, not timeouts: well within one attempt timeout.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let failed = "dnspect_upstream_tls_handshakes_total{reason=\"failed\"}";
    assert!(wait_metric(mport, failed, 1.0) >= 1.0);
    let errors = format!("dnspect_upstream_network_errors_total{{to=\"{label}\"}}");
    assert!(wait_metric(mport, &errors, 1.0) >= 1.0);
    assert_eq!(ub.stat("num.query.tls"), 0);
    stop(server);

    // Without `tls_ca`, the public roots built in do not know the test CA.
    let (server, port, _) = dnspect(
        &dir,
        "public-roots",
        &format!("\"tls://127.0.0.1:{p}#dns.example\""),
        false,
        "",
    );
    let out = dig(port, &["www.dot.test", "A"]);
    assert_eq!(status(&out), "SERVFAIL", "{out}");
    assert!(
        ede(&out).contains("TLS: certificate of dns.example not issued by a trusted CA"),
        "{out}"
    );
    stop(server);
    stop(ub.proc);
}

#[test]
fn a_broken_tls_upstream_fails_over_to_a_working_udp_one() {
    let dir = temp_dir("tls-upstream-failover");
    let ub = start_unbound(&dir);
    let (p, plain) = (ub.tls_port, ub.plain_port);
    // In order: the TLS upstream (wrong name) is always tried first.
    let (server, port, mport) = dnspect(
        &dir,
        "failover",
        &format!("\"tls://127.0.0.1:{p}#wrong.example\", \"127.0.0.1:{plain}\""),
        true,
        "[engine]\npolicy = \"sequential\"\nattempt_timeout = \"4s\"\nquery_timeout = \"10s\"\n",
    );
    for i in 0..3 {
        // At once, not after the TLS attempt timed out (4 s).
        let t = Instant::now();
        let out = dig(port, &[&format!("n{i}.dot.test"), "A"]);
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "took {:?}",
            t.elapsed()
        );
        assert_eq!(status(&out), "NOERROR", "{out}\n{}", server.log_text());
        assert!(
            answer_lines(&out)[0].ends_with(&format!("192.0.2.{}", 10 + i)),
            "{out}"
        );
    }
    let failed = "dnspect_upstream_tls_handshakes_total{reason=\"failed\"}";
    assert!(wait_metric(mport, failed, 1.0) >= 1.0);
    let answers = format!("dnspect_upstream_answers_total{{to=\"127.0.0.1:{plain}\"}}");
    assert_eq!(wait_metric(mport, &answers, 3.0), 3.0);
    assert!(server
        .log_text()
        .contains(&format!("tls://127.0.0.1:{p}#wrong.example")));
    stop(server);
    stop(ub.proc);
}
