//! Local data on the running binary, with dig: a hosts file answers A, AAAA and PTR with AA and
//! is picked up when it changes (without a restart, and on SIGHUP when polling is off); a bad
//! hosts file is rejected with its line and field while the running data stays; local records
//! and local zones (blocking, split horizon) answer without asking the upstream, NSD, which
//! serves the same names differently and logs every query it gets (dnstap).
#![allow(clippy::unwrap_used)]
use std::time::Duration;

use dnspect_tests::*;

fn zone() -> String {
    "$ORIGIN home.test.\n$TTL 300\n@ IN SOA ns.home.test. host.home.test. 1 3600 600 86400 60\n\
     @ IN NS ns\nns IN A 127.0.0.1\nnas IN A 203.0.113.10\nprinter IN A 203.0.113.20\n\
     tracker.ads IN A 203.0.113.66\nvpn.corp IN A 203.0.113.80\nwww IN A 203.0.113.1\n"
        .to_string()
}

fn has_flag(out: &str, flag: &str) -> bool {
    out.lines()
        .find(|l| l.starts_with(";; flags:"))
        .is_some_and(|l| {
            l.split(';')
                .nth(2)
                .unwrap_or(l)
                .split_whitespace()
                .any(|f| f == flag)
        })
}

fn flags_line(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or("")
}

#[test]
fn hosts_file_records_and_zones_answer_locally_and_changes_are_picked_up() {
    let dir = temp_dir("local");
    let tap = DnstapLog::collector(&dir);
    let nsd_port = free_port();
    let nsd = start_nsd_logged(&dir, nsd_port, &[("home.test.", zone())], &tap);
    let hosts = dir.join("hosts");
    std::fs::write(
        &hosts,
        "# lab\n127.0.0.1 localhost\n192.168.1.10 nas.home.test nas\n2001:db8::10 nas.home.test\n",
    )
    .unwrap();
    let port = free_port();
    let extra = "hosts_reload = \"300ms\"\n[engine.local]\nrecords = [\"printer.home.test. 120 IN A 192.168.1.20\"]\n\
                 zones = [{ zone = \"ads.home.test\", answer = \"nxdomain\" }, { zone = \"corp.home.test\", answer = \"refused\" }]\n";
    let server = start_dnspect(
        &dir,
        &config(port, &[nsd_port], extra),
        port,
        &["--hosts", hosts.to_str().unwrap()],
    );
    // The hosts file: A, AAAA, PTR, a short alias; AA set, the upstream's data not used.
    let out = dig(port, &["nas.home.test", "A"]);
    assert_eq!(answer_lines(&out).len(), 1, "{out}");
    assert!(out.contains("192.168.1.10"), "{out}");
    assert!(
        has_flag(&out, "aa"),
        "AA on local answers: {}",
        flags_line(&out)
    );
    let out = dig(port, &["nas.home.test", "AAAA"]);
    assert!(out.contains("2001:db8::10"), "{out}");
    let out = dig(port, &["-x", "192.168.1.10"]);
    assert!(out.contains("nas.home.test."), "{out}");
    let out = kdig(port, &["-x", "2001:db8::10", "+tcp"]);
    assert!(out.contains("nas.home.test."), "{out}");
    let out = dig(port, &["nas", "A"]);
    assert!(out.contains("192.168.1.10"), "{out}");
    // A local record, a blocked zone, a refused one.
    let out = dig(port, &["printer.home.test", "A"]);
    assert!(out.contains("192.168.1.20"), "{out}");
    assert!(!out.contains("203.0.113.20"), "{out}");
    let out = dig(port, &["tracker.ads.home.test", "A"]);
    assert_eq!(status(&out), "NXDOMAIN", "{out}");
    assert!(has_flag(&out, "aa"), "{out}");
    let out = dig(port, &["vpn.corp.home.test", "A"]);
    assert_eq!(status(&out), "REFUSED", "{out}");
    // Everything else from the upstream (whose AA the relay clears: issue 12 part 4).
    let out = dig(port, &["www.home.test", "A"]);
    assert!(out.contains("203.0.113.1"), "{out}");
    let hosts_path = hosts.display().to_string();
    let log = server.log_text();
    for want in [
        "local nas.home.test. A to client".to_string(),
        format!("from hosts file {hosts_path} line 3"),
        format!("from hosts file {hosts_path} line 4"),
        "from local record local.records[0]".to_string(),
        "from local zone ads.home.test. (nxdomain)".to_string(),
        "from local zone corp.home.test. (refused)".to_string(),
    ] {
        assert!(log.contains(&want), "no {want:?} in the query log:\n{log}");
    }

    // The file changes: picked up without a restart (polled), the cache kept.
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n192.168.1.11 nas.home.test nas\n192.168.1.12 backup.home.test\n",
    )
    .unwrap();
    assert!(
        server.wait_log(
            "hosts file changed: configuration reloaded",
            Duration::from_secs(10)
        ),
        "{}",
        server.log_text()
    );
    let out = dig(port, &["nas.home.test", "A"]);
    assert!(
        out.contains("192.168.1.11") && !out.contains("192.168.1.10"),
        "{out}"
    );
    let out = dig(port, &["backup.home.test", "A"]);
    assert!(out.contains("192.168.1.12"), "{out}");
    // The AAAA line is gone: nas.home.test still has local data, so NODATA, not upstream.
    let out = dig(port, &["nas.home.test", "AAAA"]);
    assert_eq!(
        (status(&out).as_str(), answer_lines(&out).len()),
        ("NOERROR", 0),
        "{out}"
    );
    let out = dig(port, &["www.home.test", "A"]);
    assert!(out.contains("203.0.113.1"), "{out}");
    assert!(
        server
            .log_text()
            .matches("reply www.home.test. A to client")
            .count()
            == 2
            && server.log_text().contains("from cache"),
        "the cache survived the reload: {}",
        server.log_text()
    );

    // A bad line: rejected with its line and field; the running data stays.
    std::fs::write(&hosts, "127.0.0.1 localhost\n192.168.1.300 nas.home.test\n").unwrap();
    assert!(
        server.wait_log("line 2, field 1", Duration::from_secs(10)),
        "{}",
        server.log_text()
    );
    assert!(server
        .log_text()
        .contains("configuration rejected, keeping the running one"));
    let out = dig(port, &["nas.home.test", "A"]);
    assert!(out.contains("192.168.1.11"), "{out}");

    stop(server);
    stop(nsd);
    let asked = tap.questions();
    // NSD saw www.home.test (once: the second came from the cache) and nothing answered
    // locally.
    assert_eq!(
        asked.iter().filter(|q| *q == "www.home.test. A").count(),
        1,
        "{asked:?}"
    );
    for q in &asked {
        assert!(
            !(q.starts_with("nas.")
                || q.starts_with("printer.")
                || q.contains("ads.")
                || q.contains("corp.")
                || q.starts_with("backup.")),
            "the upstream was asked {q}, which is local: {asked:?}"
        );
    }
}

#[test]
fn without_polling_a_hosts_change_waits_for_sighup() {
    let upstream = a_record_upstream(300);
    let hosts = temp_dir("local-hup").join("hosts");
    std::fs::write(&hosts, "10.0.0.1 box.lan\n").unwrap();
    let extra = format!(
        "hosts = [{:?}]\nhosts_reload = \"0s\"\n",
        hosts.display().to_string()
    );
    let (server, port, _dir) = serve("local-hup", &[upstream.port], &extra);
    let out = dig(port, &["box.lan", "A"]);
    assert!(out.contains("10.0.0.1"), "{out}");
    std::fs::write(&hosts, "10.0.0.2 box.lan\n").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let out = dig(port, &["box.lan", "A"]);
    assert!(out.contains("10.0.0.1"), "not polled: {out}");
    server.reload_expecting("SIGHUP: configuration reloaded");
    let out = dig(port, &["box.lan", "A"]);
    assert!(out.contains("10.0.0.2"), "{out}");
    assert_eq!(upstream.count(), 0, "box.lan is local: never forwarded");
    // A hosts file that is gone: rejected on SIGHUP, the running data kept.
    std::fs::remove_file(&hosts).unwrap();
    server.reload_expecting("cannot read hosts file");
    let out = dig(port, &["box.lan", "A"]);
    assert!(out.contains("10.0.0.2"), "{out}");
}
