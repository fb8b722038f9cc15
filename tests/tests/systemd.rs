//! The systemd units in deploy/systemd/ and the binary's side of them, as systemd would drive it:
//! `systemd-analyze verify` on the shipped units (any warning fails: an unknown or misspelled
//! key is only a warning to systemd), the sd-notify protocol on a NOTIFY_SOCKET datagram socket
//! this test binds (READY=1 once DNS is answered, STOPPING=1 on SIGTERM), and socket activation
//! with UDP and TCP sockets passed as descriptors 3 and 4 with LISTEN_FDS/LISTEN_PID, the way
//! systemd passes them. PID 1 here is not systemd, so the units themselves are not started.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dnspect_tests::{
    answer_lines, dig, dnspect_bin, free_port, require, run, start_nsd, temp_dir, Proc,
};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

const ZONE: &str = "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 900 604800 60\n@ IN NS ns\nns IN A 192.0.2.53\nwww IN A 192.0.2.80\n";

#[test]
fn units_pass_systemd_analyze_verify_without_warnings() {
    let analyze = require("systemd-analyze");
    let dir = temp_dir("systemd-verify");
    // The units name /usr/local/bin/dnspect, which verify requires to exist: the same files
    // with the freshly built binary's path, and nothing else changed.
    let bin = dnspect_bin();
    let bin = bin.canonicalize().unwrap_or(bin);
    let mut units = Vec::new();
    for unit in ["dnspect.service", "dnspect.socket"] {
        let text = std::fs::read_to_string(repo().join("deploy/systemd").join(unit))
            .unwrap_or_else(|e| panic!("deploy/systemd/{unit}: {e}"));
        assert!(text.contains("/usr/local/bin/dnspect") || unit.ends_with(".socket"));
        let text = text.replace("/usr/local/bin/dnspect", &bin.display().to_string());
        std::fs::write(dir.join(unit), text).expect("write unit");
        units.push(dir.join(unit));
    }
    let service = std::fs::read_to_string(&units[0]).expect("read unit");
    for must in [
        "Type=notify",
        "DynamicUser=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
        // docs/cli.md: a configuration error exits 78, which systemd must not restart.
        "RestartPreventExitStatus=78",
    ] {
        assert!(service.contains(must), "dnspect.service lacks {must}");
    }
    let out = run(
        Command::new(&analyze)
            .arg("verify")
            .args(&units)
            // verify reads the units' dependencies from the system's unit path; it needs no
            // running systemd.
            .env("SYSTEMD_LOG_COLOR", "0"),
        Duration::from_secs(60),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{text}"
    );
    assert!(
        text.trim().is_empty(),
        "systemd-analyze verify warned:\n{text}"
    );
}

/// Receives sd-notify datagrams until one has `want` as a line, within `limit`.
fn wait_notify(sock: &UnixDatagram, want: &str, limit: Duration, seen: &mut Vec<String>) -> bool {
    let until = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let hit = msg.lines().any(|l| l == want);
            seen.push(msg);
            if hit {
                return true;
            }
        }
    }
    false
}

#[test]
fn ready_is_notified_once_dns_is_served_and_stopping_on_sigterm() {
    let dir = temp_dir("systemd-notify");
    let nsd_port = free_port();
    let _nsd = start_nsd(&dir, nsd_port, &[("example.test.", ZONE.to_string())]);
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind NOTIFY_SOCKET");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    let port = free_port();
    let log = dir.join("dnspect.log");
    let out = std::fs::File::create(&log).expect("log");
    let child = Command::new(dnspect_bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--upstream", &format!("127.0.0.1:{nsd_port}")])
        .args(["--metrics", ""])
        .env("NOTIFY_SOCKET", &path)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("start dnspect");
    let mut server = Proc {
        child,
        name: "dnspect".into(),
        log,
    };
    let mut seen = Vec::new();
    assert!(
        wait_notify(&sock, "READY=1", Duration::from_secs(15), &mut seen),
        "no READY=1 on NOTIFY_SOCKET; got {seen:?}\n{}",
        server.log_text()
    );
    // READY means serving: the very first query after it is answered (no polling first).
    let out = dig(port, &["www.example.test", "A"]);
    assert!(
        answer_lines(&out).iter().any(|l| l.ends_with("192.0.2.80")),
        "{out}"
    );
    assert!(
        seen.iter()
            .any(|m| m.lines().any(|l| l.starts_with("STATUS="))),
        "READY without a STATUS line: {seen:?}"
    );
    server.signal("TERM");
    assert!(
        wait_notify(&sock, "STOPPING=1", Duration::from_secs(10), &mut seen),
        "no STOPPING=1 after SIGTERM; got {seen:?}\n{}",
        server.log_text()
    );
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        server.log_text()
    );
}

#[test]
fn without_notify_socket_nothing_is_sent_and_serve_runs() {
    // A NOTIFY_SOCKET naming nothing would fail the send: unset, no attempt is made at all.
    let dir = temp_dir("systemd-nonotify");
    let port = free_port();
    let server = dnspect_tests::start_dnspect(
        &dir,
        &dnspect_tests::config(port, &[free_port()], ""),
        port,
        &[],
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !server.log_text().contains("sd_notify"),
        "{}",
        server.log_text()
    );
}

#[test]
fn socket_activation_serves_on_the_sockets_systemd_passes() {
    let dir = temp_dir("systemd-activate");
    let nsd_port = free_port();
    let _nsd = start_nsd(&dir, nsd_port, &[("example.test.", ZONE.to_string())]);
    let port = free_port();
    // What systemd does for dnspect.socket: bind UDP and TCP, put them at descriptors 3 and
    // 4, set LISTEN_FDS=2 and LISTEN_PID to the service's PID, exec. python3 does the
    // descriptor plumbing, then execs dnspect in its own process (same PID).
    let script = format!(
        r#"
import os, socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", {port}))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("127.0.0.1", {port})); t.listen(128)
os.dup2(u.fileno(), 3); os.dup2(t.fileno(), 4)
os.set_inheritable(3, True); os.set_inheritable(4, True)
env = dict(os.environ, LISTEN_FDS="2", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="dns:dns")
os.execve(sys.argv[1], sys.argv[1:], env)
"#
    );
    let log = dir.join("dnspect.log");
    let out = std::fs::File::create(&log).expect("log");
    // --listen names another port: with sockets passed, it is not bound.
    let unused = free_port();
    let child = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .arg(dnspect_bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{unused}")])
        .args(["--upstream", &format!("127.0.0.1:{nsd_port}")])
        .args(["--metrics", "", "--workers", "2"])
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("start python3");
    let server = Proc {
        child,
        name: "dnspect".into(),
        log,
    };
    assert!(
        server.wait_log("sockets from systemd", Duration::from_secs(15)),
        "{}",
        server.log_text()
    );
    for args in [
        &["www.example.test", "A"][..],
        &["+tcp", "www.example.test", "A"],
    ] {
        let out = dig(port, args);
        assert!(
            answer_lines(&out).iter().any(|l| l.ends_with("192.0.2.80")),
            "{args:?} on the passed sockets: {out}\n{}",
            server.log_text()
        );
    }
    let out = dig(unused, &["+timeout=1", "www.example.test", "A"]);
    assert!(
        answer_lines(&out).is_empty(),
        "--listen was bound although sockets were passed: {out}"
    );
    // A reload keeps systemd's sockets without claiming the listen addresses moved.
    server.reload_expecting("SIGHUP: configuration reloaded");
    assert!(
        !server.log_text().contains("change only on restart"),
        "{}",
        server.log_text()
    );
}

#[test]
fn socket_activation_without_a_tcp_socket_is_refused_with_a_reason() {
    let port = free_port();
    let script = format!(
        r#"
import os, socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", {port}))
os.dup2(u.fileno(), 3); os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execve(sys.argv[1], sys.argv[1:], env)
"#
    );
    let out = run(
        Command::new("python3")
            .arg("-c")
            .arg(&script)
            .arg(dnspect_bin())
            .args(["serve", "--upstream", "127.0.0.1:9", "--metrics", ""]),
        Duration::from_secs(20),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("LISTEN_FDS") && err.contains("1 UDP and 0 TCP"),
        "{err}"
    );
}
