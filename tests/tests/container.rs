//! The container image as an operator runs it: built by `scripts/build-image.sh` (a static musl
//! binary FROM scratch), run by podman as a non-root user on a read-only root filesystem with
//! DNS and metrics published on loopback ports, queried by dig through the published port,
//! its HEALTHCHECK run by podman. The upstream is a real NSD started inside the container's own
//! network namespace (nsenter), so nothing listens beyond loopback and the namespace podman made
//! for this test.
//!
//! podman is installed by scripts/setup.sh and runs with deploy/container/containers.conf (runc,
//! cgroupfs). `DNSPECT_SKIP_CONTAINER=1` skips this test, saying so; CI does not set it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use dnspect_tests::{answer_lines, free_port, http_get, require, run, status, temp_dir};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn podman(args: &[&str], limit: Duration) -> Output {
    run(
        Command::new(require("podman"))
            .env(
                "CONTAINERS_CONF",
                repo().join("deploy/container/containers.conf"),
            )
            .args(args),
        limit,
    )
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Stops and removes the container and the image (by ID and tag) when the test ends, however.
struct Cleanup {
    container: Option<String>,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(id) = &self.container {
            let _ = podman(&["rm", "-f", "-t", "1", id], Duration::from_secs(30));
        }
        let _ = podman(&["rmi", "-f", &self.image], Duration::from_secs(30));
    }
}

const ZONE: &str = "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 900 604800 60\n@ IN NS ns\nns IN A 192.0.2.53\nwww IN A 192.0.2.80\n";

#[test]
fn image_runs_read_only_as_non_root_and_answers_through_a_published_port() {
    if std::env::var_os("DNSPECT_SKIP_CONTAINER").is_some() {
        eprintln!("SKIPPED: DNSPECT_SKIP_CONTAINER is set; the container image was not tested");
        return;
    }
    let tag = format!("localhost/dnspect:test-{}", std::process::id());
    let mut cleanup = Cleanup {
        container: None,
        image: tag.clone(),
    };
    let build = run(
        Command::new("bash")
            .arg(repo().join("scripts/build-image.sh"))
            .arg(&tag),
        Duration::from_secs(1500),
    );
    assert!(build.status.success(), "build-image.sh:\n{}", text(&build));

    // What an image is made of: one user, no shell, the healthcheck.
    let inspect = podman(
        &["image", "inspect", "--format", "{{.Config.User}}", &tag],
        Duration::from_secs(30),
    );
    assert_eq!(text(&inspect).trim(), "65532:65532");
    let inspect = podman(
        &["image", "inspect", "--format", "{{json .}}", &tag],
        Duration::from_secs(30),
    );
    let img: String = text(&inspect).split_whitespace().collect();
    assert!(
        img.contains("\"Healthcheck\"") && img.contains("\"/dnspect\",\"health\""),
        "no HEALTHCHECK running `dnspect health` in the image:\n{img}"
    );
    let size: u64 = text(&podman(
        &["image", "inspect", "--format", "{{.Size}}", &tag],
        Duration::from_secs(30),
    ))
    .trim()
    .parse()
    .unwrap_or(u64::MAX);
    assert!(
        size < 30 << 20,
        "image of {size} bytes: more than the binary?"
    );

    // DNS on published loopback ports (podman's bridge network, port mapping), the upstream a
    // NSD that will run on the container's loopback.
    let (dns, metrics, nsd_port) = (free_port(), free_port(), free_port());
    let upstream = format!("127.0.0.1:{nsd_port}");
    let udp = format!("127.0.0.1:{dns}:1053/udp");
    let tcp = format!("127.0.0.1:{dns}:1053/tcp");
    let met = format!("127.0.0.1:{metrics}:9153/tcp");
    let started = podman(
        &[
            "run",
            "-d",
            "--read-only",
            "--cap-drop=all",
            "--security-opt=no-new-privileges",
            "-p",
            &udp,
            "-p",
            &tcp,
            "-p",
            &met,
            &tag,
            "serve",
            "--config",
            "/etc/dnspect/dnspect.toml",
            "--upstream",
            &upstream,
            "--log-queries",
        ],
        Duration::from_secs(60),
    );
    let out = text(&started);
    // podman may log (not fail) that it cannot schedule healthchecks without systemd: the ID
    // is the last line.
    let id = String::from_utf8_lossy(&started.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string();
    assert!(
        started.status.success() && id.len() >= 12,
        "podman run failed:\n{out}"
    );
    cleanup.container = Some(id.clone());
    let logs = || text(&podman(&["logs", &id], Duration::from_secs(30)));

    // Running as uid 65532, not root, with a read-only root filesystem.
    let pid = text(&podman(
        &["inspect", "--format", "{{.State.Pid}}", &id],
        Duration::from_secs(30),
    ))
    .trim()
    .to_string();
    let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}\n{}", logs()));
    let uid = proc_status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap_or("");
    assert!(
        uid.split_whitespace().skip(1).all(|u| u == "65532"),
        "the server does not run as 65532: {uid}"
    );
    let ro = text(&podman(
        &["inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", &id],
        Duration::from_secs(30),
    ));
    assert_eq!(ro.trim(), "true");
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mounts")).unwrap_or_default();
    let root = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/"))
        .unwrap_or("");
    assert!(
        root.split_whitespace()
            .nth(3)
            .is_some_and(|o| o.split(',').any(|f| f == "ro")),
        "root filesystem not mounted read-only: {root}"
    );

    // The upstream: NSD in the container's network namespace, on its loopback.
    let dir = temp_dir("container");
    let conf = format!(
        "server:\n  ip-address: 127.0.0.1@{nsd_port}\n  port: {nsd_port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  verbosity: 1\nremote-control:\n  control-enable: no\nzone:\n  name: \"example.test.\"\n  zonefile: \"example.test.zone\"\n",
        d = dir.display()
    );
    std::fs::write(dir.join("example.test.zone"), ZONE).expect("zone file");
    std::fs::write(dir.join("nsd.conf"), conf).expect("nsd.conf");
    let nsd = Command::new(require("nsenter"))
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .arg(require("nsd"))
        .args(["-d", "-c"])
        .arg(dir.join("nsd.conf"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nsenter nsd");
    let _nsd = dnspect_tests::Proc {
        child: nsd,
        name: "nsd".into(),
        log: dir.join("nsd.log"),
    };

    // dig through the published port, until NSD is up (bounded).
    let until = Instant::now() + Duration::from_secs(30);
    let mut out = String::new();
    while Instant::now() < until {
        out = dnspect_tests::dig(dns, &["www.example.test", "A"]);
        if status(&out) == "NOERROR" {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(status(&out), "NOERROR", "{out}\n{}", logs());
    assert!(
        answer_lines(&out).iter().any(|l| l.ends_with("192.0.2.80")),
        "{out}"
    );
    // TCP through the published port too.
    let out = dnspect_tests::dig(dns, &["+tcp", "www.example.test", "A"]);
    assert!(
        answer_lines(&out).iter().any(|l| l.ends_with("192.0.2.80")),
        "over TCP: {out}"
    );
    // The query went through the server in the container (its query log).
    assert!(logs().contains("www.example.test"), "{}", logs());

    // Metrics, /health and /ready through the published port.
    // Workers publish upstream health twice a second, and the first dig attempts (before NSD
    // was up) marked the upstream down until the answers above: wait for /ready (bounded).
    let until = Instant::now() + Duration::from_secs(5);
    let (mut code, mut body) = http_get(metrics, "/ready");
    while code != 200 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
        (code, body) = http_get(metrics, "/ready");
    }
    assert_eq!(code, 200, "/ready: {body}");
    let (code, body) = http_get(metrics, "/metrics");
    assert_eq!(code, 200);
    assert!(body.contains("dnspect_dns_requests_total{proto=\"udp\"}"));

    // The image's HEALTHCHECK, run by podman inside the container (no curl there).
    let hc = podman(&["healthcheck", "run", &id], Duration::from_secs(30));
    assert!(
        hc.status.success(),
        "HEALTHCHECK failed on a healthy server: {}",
        text(&hc)
    );
    // The same probe fails on a path that is not 200, so the healthcheck can fail.
    let bad = podman(
        &[
            "exec",
            &id,
            "/dnspect",
            "health",
            "--url",
            "http://127.0.0.1:9153/nothing-here",
        ],
        Duration::from_secs(30),
    );
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(text(&bad).contains("404"), "{}", text(&bad));
    // A scratch image: no shell to exec.
    let sh = podman(
        &["exec", &id, "/bin/sh", "-c", "true"],
        Duration::from_secs(30),
    );
    assert!(!sh.status.success(), "the image has a shell");

    // SIGTERM from `podman stop`: drains and exits 0.
    let stop = podman(&["stop", "-t", "10", &id], Duration::from_secs(30));
    assert!(stop.status.success(), "{}", text(&stop));
    let code = text(&podman(
        &["inspect", "--format", "{{.State.ExitCode}}", &id],
        Duration::from_secs(30),
    ));
    assert_eq!(code.trim(), "0", "exit code after podman stop:\n{}", logs());
    assert!(logs().contains("stopped"), "{}", logs());
}
