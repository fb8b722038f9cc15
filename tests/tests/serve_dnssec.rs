//! DNSSEC and EDNS semantics end to end, with real software only: a zone signed by
//! ldns-signzone (one record's signature broken on purpose), served by NSD, behind a validating
//! Unbound with the zone's DS as its trust anchor, as dnspect's upstream. dig asks through
//! dnspect with +dnssec, +adflag, +cdflag, +subnet, +cookie and an unknown option; the admin API
//! shows what was cached under which key.
#![allow(clippy::unwrap_used)]
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dnspect_tests::*;

const ZONE: &str = "$ORIGIN secure.test.
$TTL 300
@ IN SOA ns.secure.test. host.secure.test. 1 3600 600 604800 60
@ IN NS ns.secure.test.
ns IN A 127.0.0.1
www IN A 192.0.2.80
bogus IN A 192.0.2.66
";

/// Signs the zone with a fresh KSK and ZSK (ECDSA P-256), then breaks `bogus`'s signature by
/// changing its address after signing. Returns the signed zone text and the KSK's DS record.
fn signed_zone(dir: &Path) -> (String, String) {
    std::fs::write(dir.join("secure.test.zone"), ZONE).unwrap();
    let keygen = |ksk: bool| {
        let mut c = Command::new(require("ldns-keygen"));
        c.current_dir(dir).args(["-a", "ECDSAP256SHA256"]);
        if ksk {
            c.arg("-k");
        }
        let out = run(c.arg("secure.test"), Duration::from_secs(30));
        assert!(out.status.success(), "ldns-keygen: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let (ksk, zsk) = (keygen(true), keygen(false));
    let out = run(
        Command::new(require("ldns-signzone"))
            .current_dir(dir)
            .args(["secure.test.zone", &ksk, &zsk]),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "ldns-signzone: {out:?}");
    let signed = std::fs::read_to_string(dir.join("secure.test.zone.signed")).unwrap();
    let broken = signed.replace(
        "bogus.secure.test.\t300\tIN\tA\t192.0.2.66",
        "bogus.secure.test.\t300\tIN\tA\t192.0.2.67",
    );
    assert_ne!(broken, signed, "the record to break is in the signed zone");
    let ds = std::fs::read_to_string(dir.join(format!("{ksk}.ds"))).unwrap();
    // "secure.test.\tIN\tDS\t..." -> "secure.test. DS ..." for Unbound's trust-anchor.
    let f: Vec<&str> = ds.split_whitespace().collect();
    let anchor = format!("{} {}", f[0], f[2..].join(" "));
    (broken, anchor)
}

/// A validating Unbound on 127.0.0.1:port: the trust anchor, `secure.test.` from NSD, and every
/// other name (the root included) sent to NSD too, which refuses it: nothing leaves loopback.
fn start_unbound(dir: &Path, port: u16, nsd_port: u16, anchor: &str) -> Proc {
    let d = dir.display();
    let conf = format!(
        "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  verbosity: 1\n  do-ip6: no\n  do-daemonize: no\n  do-not-query-localhost: no\n  trust-anchor: \"{anchor}\"\n  ede: yes\n  val-log-level: 2\n  local-zone: \"test.\" nodefault\n  qname-minimisation: no\n  target-fetch-policy: \"0 0 0 0 0\"\nremote-control:\n  control-enable: no\nstub-zone:\n  name: \"secure.test.\"\n  stub-addr: 127.0.0.1@{nsd_port}\nstub-zone:\n  name: \".\"\n  stub-addr: 127.0.0.1@{nsd_port}\n"
    );
    start_unbound_with(dir, &conf, &[port])
}

fn flags(dig_out: &str) -> Vec<String> {
    dig_out
        .lines()
        .find_map(|l| l.strip_prefix(";; flags: "))
        .map(|l| {
            l.split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn has(dig_out: &str, flag: &str) -> bool {
    flags(dig_out).iter().any(|f| f == flag)
}

fn entries(mport: u16, name: &str) -> serde_json::Value {
    let (st, body) = http_get(mport, &format!("/cache/entries?name={name}"));
    assert_eq!(st, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// NSD with the signed zone, Unbound validating it, and dnspect in front (`trusted`: whether
/// dnspect believes Unbound's AD). Returns the processes (stopped when dropped) and the ports.
fn stack(name: &str, trusted: bool) -> (Vec<Proc>, u16, u16) {
    let dir = temp_dir(name);
    let (signed, anchor) = signed_zone(&dir);
    let nsd_port = free_port();
    let nsd = start_nsd(&dir, nsd_port, &[("secure.test.", signed)]);
    let ub_port = free_port();
    let unbound = start_unbound(&dir, ub_port, nsd_port, &anchor);
    let (port, mport) = (free_port(), free_port());
    let config = format!(
        "listen = [\"127.0.0.1:{port}\"]\nupstreams = [{{ address = \"127.0.0.1:{ub_port}\", trusted = {trusted} }}]\nmetrics = \"127.0.0.1:{mport}\"\nlog_queries = true\n"
    );
    let dnspect = start_dnspect(&dir, &config, port, &[]);
    wait_tcp(
        SocketAddr::from(([127, 0, 0, 1], mport)),
        Duration::from_secs(10),
    );
    (vec![dnspect, unbound, nsd], port, mport)
}

#[test]
fn dnssec_through_a_trusted_validating_upstream() {
    let (procs, port, mport) = stack("dnssec-trusted", true);
    let log = || procs[0].log_text();

    // +dnssec: AD (Unbound validated, and we trust it), the RRSIG, RA, no AA, no warning.
    let out = dig(port, &["www.secure.test", "A", "+dnssec"]);
    assert_eq!(status(&out), "NOERROR", "{out}\n{}", log());
    assert!(
        has(&out, "ad") && has(&out, "ra") && !has(&out, "aa"),
        "{out}"
    );
    assert!(
        !out.contains("recursion requested but not available"),
        "{out}"
    );
    let lines = answer_lines(&out);
    assert!(
        lines.iter().any(|l| l.contains("\tRRSIG\tA 13 3 300")),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.ends_with("192.0.2.80")), "{out}");
    // Again: from the cache, still AD and RRSIG.
    let again = dig(port, &["www.secure.test", "A", "+dnssec"]);
    assert!(has(&again, "ad"), "{again}");
    assert_eq!(answer_lines(&again).len(), 2, "{again}");

    // No DO: +noadflag gets no AD and no RRSIG; +adflag gets AD (RFC 6840 5.7).
    let plain = dig(port, &["www.secure.test", "A", "+noadflag"]);
    assert!(!has(&plain, "ad") && has(&plain, "ra"), "{plain}");
    assert_eq!(
        answer_lines(&plain).len(),
        1,
        "no RRSIG without DO: {plain}"
    );
    let adflag = dig(port, &["www.secure.test", "A", "+adflag"]);
    assert!(has(&adflag, "ad"), "{adflag}");

    // The bogus record: SERVFAIL with Unbound's EDE 6 (DNSSEC Bogus) passed on; with +cdflag,
    // the data, unvalidated, without AD.
    let bogus = dig(port, &["bogus.secure.test", "A", "+dnssec"]);
    assert_eq!(status(&bogus), "SERVFAIL", "{bogus}");
    assert!(
        bogus.contains("EDE: 6 (DNSSEC Bogus)"),
        "{bogus}\n{}",
        log()
    );
    let cd = dig(port, &["bogus.secure.test", "A", "+dnssec", "+cdflag"]);
    assert_eq!(status(&cd), "NOERROR", "{cd}");
    assert!(has(&cd, "cd") && !has(&cd, "ad"), "{cd}");
    assert!(
        answer_lines(&cd).iter().any(|l| l.ends_with("192.0.2.67")),
        "{cd}"
    );
    // The CD answer did not leak into the validated key: without CD it is still SERVFAIL.
    let bogus2 = dig(port, &["bogus.secure.test", "A", "+dnssec"]);
    assert_eq!(status(&bogus2), "SERVFAIL", "{bogus2}");

    // The cache keeps DO, no-DO and CD answers apart, each from Unbound.
    let v = entries(mport, "www.secure.test");
    let keys: Vec<(bool, bool, String)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(
                e["upstream"].as_str().unwrap().starts_with("127.0.0.1:"),
                "{e}"
            );
            (
                e["dnssec_ok"].as_bool().unwrap(),
                e["checking_disabled"].as_bool().unwrap(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            (false, false, "positive".into()),
            (true, false, "positive".into())
        ],
        "{v}"
    );
    let v = entries(mport, "bogus.secure.test");
    let kinds: Vec<(bool, String)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["checking_disabled"].as_bool().unwrap(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(kinds.contains(&(false, "failure".into())), "{v}");
    assert!(kinds.contains(&(true, "positive".into())), "{v}");
    let failure = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "failure")
        .unwrap();
    assert!(
        failure["ede"].as_str().unwrap().starts_with("6: "),
        "{failure}"
    );
}

#[test]
fn an_untrusted_upstream_never_gives_ad_and_client_options_stay_with_us() {
    let (procs, port, _mport) = stack("dnssec-untrusted", false);
    let out = dig(port, &["www.secure.test", "A", "+dnssec", "+adflag"]);
    assert_eq!(status(&out), "NOERROR", "{out}\n{}", procs[0].log_text());
    assert!(
        !has(&out, "ad"),
        "AD from an untrusted upstream is cleared: {out}"
    );
    assert!(has(&out, "ra") && !has(&out, "aa"), "{out}");
    assert!(
        answer_lines(&out).iter().any(|l| l.contains("RRSIG")),
        "{out}"
    );

    // ECS, a cookie and an unknown option from the client: answered normally, none echoed
    // (ECS stripped per RFC 7871 7.1.2's default; cookies ignored as by a server without
    // cookie support, RFC 7873 5.2.3; unknown options ignored, RFC 6891 6.1.2).
    let out = dig(
        port,
        &[
            "www.secure.test",
            "A",
            "+subnet=198.51.100.0/24",
            "+cookie",
            "+ednsopt=65001:dead",
        ],
    );
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(
        answer_lines(&out).iter().any(|l| l.ends_with("192.0.2.80")),
        "{out}"
    );
    let opt_section: String = out
        .split(";; OPT PSEUDOSECTION:")
        .nth(1)
        .unwrap_or("")
        .split("\n\n")
        .next()
        .unwrap_or("")
        .to_string();
    assert!(opt_section.contains("EDNS: version: 0"), "{out}");
    for opt in ["CLIENT-SUBNET", "COOKIE", "65001", "dead"] {
        assert!(!opt_section.contains(opt), "{opt} echoed: {out}");
    }
    assert!(
        !out.contains("recursion requested but not available"),
        "{out}"
    );
}

#[test]
fn an_authoritative_upstream_answer_is_relayed_with_ra_and_without_aa() {
    // NSD answers with AA and without RA; dig through dnspect must see a recursive answer and
    // no "recursion requested but not available" warning, fresh and from the cache.
    let dir = temp_dir("dnssec-aa");
    let nsd_port = free_port();
    let _nsd = start_nsd(&dir, nsd_port, &[("secure.test.", ZONE.to_string())]);
    let direct = dig(nsd_port, &["www.secure.test", "A"]);
    assert!(
        has(&direct, "aa") && !has(&direct, "ra"),
        "NSD itself: {direct}"
    );
    let (server, port, _) = serve("dnssec-aa-srv", &[nsd_port], "");
    for round in ["relayed", "cached"] {
        let out = dig(port, &["www.secure.test", "A"]);
        assert_eq!(
            status(&out),
            "NOERROR",
            "{round}: {out}\n{}",
            server.log_text()
        );
        assert!(has(&out, "ra") && !has(&out, "aa"), "{round}: {out}");
        assert!(
            !out.contains("recursion requested but not available"),
            "{round}: {out}"
        );
        // NXDOMAIN from the authoritative server too.
        let nx = dig(port, &["nope.secure.test", "A"]);
        assert_eq!(status(&nx), "NXDOMAIN", "{round}: {nx}");
        assert!(has(&nx, "ra") && !has(&nx, "aa"), "{round}: {nx}");
    }
}

#[test]
fn ecs_passthrough_with_dig_subnet() {
    use dnspect_core::wire::{Edns, EdnsOption, Rcode};
    use std::sync::{Arc, Mutex};
    // A scripted upstream (no real server here tailors answers by subnet on demand): it records
    // the subnet it was given and answers with scope /16.
    /// The subnet (source prefix, address) each upstream query carried.
    type Seen = Arc<Mutex<Vec<Option<(u8, Vec<u8>)>>>>;
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let up = FakeUpstream::start(move |q, _, _| {
        let ecs = q.edns.as_ref().and_then(|e| {
            e.options.iter().find_map(|o| match o {
                EdnsOption::ClientSubnet {
                    source_prefix,
                    address,
                    ..
                } => Some((*source_prefix, address.clone())),
                _ => None,
            })
        });
        s2.lock().unwrap().push(ecs.clone());
        let name = q.questions[0].name.to_string();
        let mut r = dnspect_core::wire::Message::from_wire(&reply(
            q,
            &[&format!("{name} 300 IN A 192.0.2.7")],
            &[],
            Rcode::NOERROR,
            true,
        ))
        .unwrap();
        if let Some((source, address)) = ecs {
            let mut e = Edns::new(1232);
            e.options.push(EdnsOption::ClientSubnet {
                family: 1,
                source_prefix: source,
                scope_prefix: 16,
                address,
            });
            r.edns = Some(e);
        }
        Some(r.to_wire().unwrap())
    });
    let (server, port, _) = serve(
        "ecs-passthrough",
        &[up.port],
        "[engine.client_subnet]\npassthrough = true\n",
    );
    let out = dig(port, &["cdn.example", "A", "+subnet=198.51.100.77/32"]);
    assert_eq!(status(&out), "NOERROR", "{out}\n{}", server.log_text());
    assert!(
        out.contains("CLIENT-SUBNET: 198.51.100.77/32/16"),
        "echoed with the scope: {out}"
    );
    assert_eq!(
        seen.lock().unwrap().last().cloned().flatten(),
        Some((24, vec![198, 51, 100])),
        "sent upstream capped at /24"
    );
    // Not cached: asked again. Without ECS: cached as usual, and no ECS upstream.
    dig(port, &["cdn.example", "A", "+subnet=198.51.100.77/32"]);
    assert_eq!(up.count(), 2);
    let plain = dig(port, &["cdn.example", "A"]);
    assert!(!plain.contains("CLIENT-SUBNET"), "{plain}");
    dig(port, &["cdn.example", "A"]);
    assert_eq!(
        up.count(),
        3,
        "the plain answer came from the cache the second time"
    );
    assert_eq!(seen.lock().unwrap().last().cloned().flatten(), None);
}
