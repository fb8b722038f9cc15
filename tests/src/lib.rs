//! Shared helpers for the end-to-end tests: free loopback ports, processes stopped by PID on
//! drop, a real authoritative upstream (NSD) with generated zones, the dnspect server, a scripted
//! faulty upstream for what no real server does on demand, and the real clients (dig, kdig,
//! dnspython). Everything listens on 127.0.0.1 only; every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dnspect_core::wire::{Message, Rcode, Record};

/// A port free on 127.0.0.1 for both UDP and TCP (best effort: bound then released), never one
/// handed out before in this process, and below the kernel's ephemeral range when there is
/// room: a port from that range can be taken between the check and the server's bind by any
/// client's or upstream socket's own port (a test's dig, or dnspect's random upstream ports).
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    // Ports 10000 up to the ephemeral range, from a per-process pseudo-random start.
    let (from, span) = (10_000u32, u32::from(low).saturating_sub(10_000));
    let mut x = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() << 3);
    for _ in 0..1000 {
        let candidate = if span >= 1000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            Some(u16::try_from(from + (x >> 8) % span).unwrap_or(0))
        } else {
            None
        };
        let port = match candidate {
            Some(p) if TcpListener::bind(("127.0.0.1", p)).is_ok() => p,
            Some(_) => continue,
            None => {
                let Ok(t) = TcpListener::bind("127.0.0.1:0") else {
                    continue;
                };
                let Ok(port) = t.local_addr().map(|a| a.port()) else {
                    continue;
                };
                port
            }
        };
        if UdpSocket::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        let mut seen = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
        if seen.insert(port) {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1");
}

/// A child process killed (by PID) and reaped when dropped.
#[derive(Debug)]
pub struct Proc {
    pub child: Child,
    pub name: String,
    pub log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (by PID).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
    }

    /// Waits for exit within `limit`; returns the exit status if it exited.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Panics with the log if the process has exited before saying it serves DNS; returns when
    /// it has said so, or after `limit` (a configuration that logs less says nothing).
    pub fn expect_started(&mut self, limit: Duration) {
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!("{} exited ({s}) at start:\n{}", self.name, self.log_text());
            }
            if self.log_text().contains("serving DNS on") || Instant::now() > until {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `limit` for `text` in the log; whether it came.
    pub fn wait_log(&self, text: &str, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.log_text().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        false
    }

    /// Sends SIGHUP and waits (up to 3 s) for `text` in the log; panics with the log otherwise.
    #[track_caller]
    pub fn reload_expecting(&self, text: &str) {
        self.signal("HUP");
        assert!(
            self.wait_log(text, Duration::from_secs(3)),
            "no {text:?} after SIGHUP:\n{}",
            self.log_text()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh temporary directory under target/e2e.
pub fn temp_dir(name: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    let d = base.join(format!("{name}-{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("cannot create {}: {e}", d.display()));
    d
}

/// The dnspect binary, built (once per test process) from the current sources so an end-to-end
/// test never runs a stale binary; a no-op rebuild takes well under a second.
///
/// `DNSPECT_BIN=/path/to/dnspect` runs the tests against another build instead (an older commit,
/// to see that a test fails without the fix it guards).
pub fn dnspect_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DNSPECT_BIN") {
        return PathBuf::from(p);
    }
    static BUILT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = BUILT.get_or_init(|| {
        Command::new(env!("CARGO"))
            .args(["build", "-p", "dnspect", "--bin", "dnspect"])
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(*ok, "could not build the dnspect binary");
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/dnspect")
}

/// Requires a tool, with a message that says how to get it.
pub fn require(tool: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("{tool} is not installed: run scripts/setup.sh");
}

/// Polls until a TCP connect to `addr` succeeds, within `limit`.
pub fn wait_tcp(addr: SocketAddr, limit: Duration) {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    panic!("nothing listens on {addr} after {limit:?}");
}

/// Starts `dnspect serve` with a config file and flags; waits until it listens.
pub fn start_dnspect(dir: &Path, config: &str, port: u16, extra: &[&str]) -> Proc {
    let conf = dir.join("dnspect.toml");
    std::fs::write(&conf, config).unwrap_or_else(|e| panic!("{e}"));
    let log = dir.join("dnspect.log");
    let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
    let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(dnspect_bin())
        .arg("serve")
        .arg("--config")
        .arg(&conf)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start dnspect: {e}"));
    let mut p = Proc {
        child,
        name: "dnspect".into(),
        log,
    };
    wait_tcp(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(10),
    );
    // Something listening is not proof that it is this server (another process may hold the
    // port, and then this one exits at once): wait for its own start line, or its exit.
    p.expect_started(Duration::from_secs(5));
    p
}

/// Runs a client command with a hard time limit; returns its output.
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    // The pipes are read while the child runs: a child writing more than the pipe buffer
    // (64 KiB) would otherwise block until the limit and be killed with its output cut.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let until = Instant::now() + limit;
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            break child.wait().unwrap_or_else(|e| panic!("{e}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `dig @127.0.0.1 -p PORT args...`, stdout as text.
pub fn dig(port: u16, args: &[&str]) -> String {
    let out = run(
        Command::new(require("dig"))
            .arg("@127.0.0.1")
            .arg("-p")
            .arg(port.to_string())
            .args(["+tries=1", "+time=5"])
            .args(args),
        Duration::from_secs(20),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kdig @127.0.0.1 -p PORT args...`.
pub fn kdig(port: u16, args: &[&str]) -> String {
    let out = run(
        Command::new(require("kdig"))
            .arg("@127.0.0.1")
            .arg("-p")
            .arg(port.to_string())
            .args(["+retry=0", "+time=5"])
            .args(args),
        Duration::from_secs(20),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The records of dig's ANSWER SECTION.
pub fn answer_lines(dig_out: &str) -> Vec<String> {
    let mut on = false;
    let mut out = Vec::new();
    for l in dig_out.lines() {
        if l.starts_with(";; ANSWER SECTION") {
            on = true;
            continue;
        }
        if on {
            if l.trim().is_empty() || l.starts_with(";;") {
                break;
            }
            out.push(l.to_string());
        }
    }
    out
}

/// dig's `status:`.
pub fn status(dig_out: &str) -> String {
    dig_out
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("none")
        .to_string()
}

/// NSD serving generated zones on 127.0.0.1:port.
pub fn start_nsd(dir: &Path, port: u16, zones: &[(&str, String)]) -> Proc {
    start_nsd_with(dir, port, zones, "")
}

/// NSD with `extra` configuration clauses.
pub fn start_nsd_with(dir: &Path, port: u16, zones: &[(&str, String)], extra: &str) -> Proc {
    let nsd = require("nsd");
    let mut conf = format!(
        "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  verbosity: 1\n  hide-version: yes\n  tcp-count: 100\nremote-control:\n  control-enable: no\n",
        d = dir.display()
    );
    for (origin, text) in zones {
        let file = format!("{}.zone", origin.trim_end_matches('.'));
        std::fs::write(dir.join(&file), text).unwrap_or_else(|e| panic!("{e}"));
        conf.push_str(&format!(
            "zone:\n  name: \"{origin}\"\n  zonefile: \"{file}\"\n"
        ));
    }
    conf.push_str(extra);
    let cf = dir.join("nsd.conf");
    std::fs::write(&cf, conf).unwrap_or_else(|e| panic!("{e}"));
    let check = run(
        Command::new(require("nsd-checkconf")).arg(&cf),
        Duration::from_secs(10),
    );
    assert!(
        check.status.success(),
        "nsd-checkconf: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let log = dir.join("nsd.stderr");
    let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(nsd)
        .arg("-d")
        .arg("-c")
        .arg(&cf)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap_or_else(|e| panic!("{e}")))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start nsd: {e}"));
    let p = Proc {
        child,
        name: "nsd".into(),
        log,
    };
    wait_tcp(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(10),
    );
    p
}

/// A dnstap collector (`fstrm_capture`) listening on a unix socket and writing a file: NSD's
/// query log. Stop it (after the server) with [`DnstapLog::questions`].
#[derive(Debug)]
pub struct DnstapLog {
    pub socket: PathBuf,
    pub file: PathBuf,
    proc: Option<Proc>,
}

impl DnstapLog {
    /// A collector for NSD (`dnstap-socket-path`), started before it.
    pub fn collector(dir: &Path) -> DnstapLog {
        // Unix socket paths are short (108 bytes): under /tmp, not the work tree.
        let socket = short_socket("tap");
        let file = dir.join("nsd.tap");
        let log = dir.join("fstrm.log");
        let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(require("fstrm_capture"))
            .args(["-t", "protobuf:dnstap.Dnstap", "-u"])
            .arg(&socket)
            .arg("-w")
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start fstrm_capture: {e}"));
        let until = Instant::now() + Duration::from_secs(10);
        while !socket.exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        DnstapLog {
            socket,
            file,
            proc: Some(Proc {
                child,
                name: "fstrm_capture".into(),
                log,
            }),
        }
    }

    /// A log Knot writes itself (`mod-dnstap` with a file sink).
    pub fn file(file: PathBuf) -> DnstapLog {
        DnstapLog {
            socket: PathBuf::new(),
            file,
            proc: None,
        }
    }

    /// The questions of every query in the log (`name TYPE`, lowercased), read with `kdig -G`
    /// once the server that wrote it has stopped (and the collector, stopped here by PID).
    pub fn questions(mut self) -> Vec<String> {
        if let Some(mut p) = self.proc.take() {
            p.signal("TERM");
            let _ = p.wait_exit(Duration::from_secs(5));
        }
        let _ = std::fs::remove_file(&self.socket);
        let out = run(
            Command::new(require("kdig"))
                .arg("-G")
                .arg(&self.file)
                .arg("+qr"),
            Duration::from_secs(20),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let mut qs = Vec::new();
        while let Some(l) = lines.next() {
            if l.starts_with(";; QUESTION SECTION") {
                let q = lines.next().unwrap_or_default();
                let w: Vec<&str> = q.trim_start_matches(";;").split_whitespace().collect();
                if w.len() >= 3 {
                    qs.push(format!("{} {}", w[0].to_lowercase(), w[2]));
                }
            }
        }
        qs
    }
}

impl Drop for DnstapLog {
    fn drop(&mut self) {
        // The collector (if still running) is killed by its Proc's drop; its socket stays.
        if !self.socket.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.socket);
        }
    }
}

/// A fresh unix socket path under the temporary directory, short enough for `sun_path`.
fn short_socket(what: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!(
        "dnspect-{what}-{}-{}.sock",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_file(&p);
    p
}

/// Stops a server by PID with SIGTERM and waits for it (so its logs are complete).
pub fn stop(mut p: Proc) {
    p.signal("TERM");
    let _ = p.wait_exit(Duration::from_secs(10));
}

/// NSD serving zones on 127.0.0.1:port and logging every query to `tap` (dnstap).
pub fn start_nsd_logged(dir: &Path, port: u16, zones: &[(&str, String)], tap: &DnstapLog) -> Proc {
    let extra = format!(
        "dnstap:\n  dnstap-enable: yes\n  dnstap-socket-path: \"{}\"\n  dnstap-log-auth-query-messages: yes\n",
        tap.socket.display()
    );
    start_nsd_with(dir, port, zones, &extra)
}

/// Unbound in the foreground with `conf` written to `dir/unbound.conf` (checked by
/// `unbound-checkconf` first), its output in `dir/unbound.stderr`; waits until each of `ports`
/// accepts TCP on 127.0.0.1.
pub fn start_unbound_with(dir: &Path, conf: &str, ports: &[u16]) -> Proc {
    let cf = dir.join("unbound.conf");
    std::fs::write(&cf, conf).unwrap_or_else(|e| panic!("{}: {e}", cf.display()));
    let check = run(
        Command::new(require("unbound-checkconf")).arg(&cf),
        Duration::from_secs(10),
    );
    assert!(check.status.success(), "unbound-checkconf: {check:?}");
    let log = dir.join("unbound.stderr");
    let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(require("unbound"))
        .arg("-d")
        .arg("-c")
        .arg(&cf)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap_or_else(|e| panic!("{e}")))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start unbound: {e}"));
    let p = Proc {
        child,
        name: "unbound".into(),
        log,
    };
    for &port in ports {
        wait_tcp(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(10),
        );
    }
    p
}

/// Knot (knotd) serving zones on 127.0.0.1:port, logging every query it receives to a dnstap
/// file (`mod-dnstap`): the process and its query log.
pub fn start_knot(dir: &Path, port: u16, zones: &[(&str, String)]) -> (Proc, DnstapLog) {
    let knotd = require("knotd");
    let d = dir.display();
    let tap = dir.join("knot.tap");
    let mut conf = format!(
        "server:\n  listen: 127.0.0.1@{port}\n  rundir: {d}\n  user: root:root\n\
         log:\n  - target: stderr\n    any: info\n\
         database:\n  storage: {d}\n\
         mod-dnstap:\n  - id: tap\n    sink: {}\n    log-queries: on\n    log-responses: off\n\
         template:\n  - id: default\n    storage: {d}\n    global-module: mod-dnstap/tap\n\
         zone:\n",
        tap.display()
    );
    for (origin, text) in zones {
        let file = dir.join(format!("{}.knot.zone", origin.trim_end_matches('.')));
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
        conf.push_str(&format!(
            "  - domain: {origin}\n    file: {}\n",
            file.display()
        ));
    }
    let cf = dir.join("knot.conf");
    std::fs::write(&cf, conf).unwrap_or_else(|e| panic!("{e}"));
    let log = dir.join("knotd.log");
    let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(knotd)
        .arg("-c")
        .arg(&cf)
        .arg("-s")
        .arg(short_socket("knot"))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap_or_else(|e| panic!("{e}")))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start knotd: {e}"));
    let p = Proc {
        child,
        name: "knotd".into(),
        log,
    };
    wait_tcp(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(10),
    );
    // Listening is not serving: wait for the zones to load.
    let until = Instant::now() + Duration::from_secs(10);
    while !p.log_text().contains("server started") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(30));
    }
    (p, DnstapLog::file(tap))
}

/// A scripted upstream on 127.0.0.1 (UDP and TCP): `answer` maps each query to the reply bytes
/// (or None for silence). Stops when dropped.
#[derive(Debug)]
pub struct FakeUpstream {
    pub port: u16,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub queries: Arc<std::sync::atomic::AtomicUsize>,
}

type Script = dyn Fn(&Message, &[u8], bool) -> Option<Vec<u8>> + Send + Sync;

impl FakeUpstream {
    pub fn start(
        script: impl Fn(&Message, &[u8], bool) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> FakeUpstream {
        let port = free_port();
        let script: Arc<Script> = Arc::new(script);
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap_or_else(|e| panic!("{e}"));
        let tcp = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
        tcp.set_nonblocking(true).unwrap_or_else(|e| panic!("{e}"));
        let (s1, st1, q1) = (script.clone(), stop.clone(), queries.clone());
        let t1 = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            while !st1.load(Ordering::Relaxed) {
                let Ok((n, peer)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                q1.fetch_add(1, Ordering::Relaxed);
                if let Ok(m) = Message::from_wire(&buf[..n]) {
                    if let Some(r) = s1(&m, &buf[..n], false) {
                        let _ = udp.send_to(&r, peer);
                    }
                }
            }
        });
        let (s2, st2, q2) = (script, stop.clone(), queries.clone());
        let t2 = std::thread::spawn(move || {
            use std::io::{Read, Write};
            while !st2.load(Ordering::Relaxed) {
                let Ok((mut c, _)) = tcp.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = c.set_nonblocking(false);
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                // Each connection on its own thread, as a real server serves them: with
                // several workers, each keeps its own pooled connection open. A thread ends
                // when its connection closes or is idle for 2 s.
                let (s3, q3) = (s2.clone(), q2.clone());
                std::thread::spawn(move || {
                    let mut len = [0u8; 2];
                    while c.read_exact(&mut len).is_ok() {
                        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if c.read_exact(&mut q).is_err() {
                            break;
                        }
                        q3.fetch_add(1, Ordering::Relaxed);
                        let Ok(m) = Message::from_wire(&q) else { break };
                        if let Some(r) = s3(&m, &q, true) {
                            let mut f = (r.len() as u16).to_be_bytes().to_vec();
                            f.extend_from_slice(&r);
                            let _ = c.write_all(&f);
                        }
                    }
                });
            }
        });
        FakeUpstream {
            port,
            stop,
            threads: vec![t1, t2],
            queries,
        }
    }

    pub fn count(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A response to `q` with these records (presentation lines), compressed or not.
pub fn reply(
    q: &Message,
    answers: &[&str],
    authority: &[&str],
    rcode: dnspect_core::wire::Rcode,
    compressed: bool,
) -> Vec<u8> {
    let mut m = Message {
        header: q.header.clone(),
        questions: q.questions.clone(),
        ..Message::default()
    };
    m.header.qr = true;
    m.header.ra = true;
    m.answers = answers
        .iter()
        .map(|l| Record::from_text(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    m.authority = authority
        .iter()
        .map(|l| Record::from_text(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    m.set_rcode(rcode);
    if q.edns.is_some() {
        m.edns = Some(dnspect_core::wire::Edns::new(1232));
    }
    let b = if compressed {
        m.to_wire()
    } else {
        m.to_wire_uncompressed()
    };
    b.unwrap_or_else(|e| panic!("{e}"))
}

/// The minimal config for a test server.
pub fn config(port: u16, upstreams: &[u16], extra: &str) -> String {
    let ups: Vec<String> = upstreams
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect();
    format!("listen = [\"127.0.0.1:{port}\"]\nupstreams = [{}]\nmetrics = \"\"\nlog_queries = true\n{extra}\n", ups.join(", "))
}

/// A dnspect serving on a free port with `config(port, upstreams, extra)`, in a fresh
/// `temp_dir(name)`: the process, its port and its directory.
pub fn serve(name: &str, upstreams: &[u16], extra: &str) -> (Proc, u16, PathBuf) {
    let dir = temp_dir(name);
    let port = free_port();
    let server = start_dnspect(&dir, &config(port, upstreams, extra), port, &[]);
    (server, port, dir)
}

/// A scripted upstream answering every question with `name ttl IN A 192.0.2.1`.
pub fn a_record_upstream(ttl: u32) -> FakeUpstream {
    FakeUpstream::start(move |q, _, _| {
        let name = q.questions[0].name.to_string();
        Some(reply(
            q,
            &[&format!("{name} {ttl} IN A 192.0.2.1")],
            &[],
            Rcode::NOERROR,
            true,
        ))
    })
}

/// GET http://127.0.0.1:port/path (the metrics listener), in one write: (status, body); (0, the
/// error) when the request fails.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(s) => s,
        Err(e) => return (0, e.to_string()),
    };
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout on a TCP stream");
    // One write: a request split over segments must not be what the test measures.
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let _ = s.write_all(req.as_bytes());
    let mut text = String::new();
    if let Err(e) = s.read_to_string(&mut text) {
        return (0, e.to_string());
    }
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// The value of one sample line (`name{labels} value`, the series exactly as exposed) in a
/// Prometheus scrape.
pub fn scraped(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Runs a python3 script within 20 s; its stdout, then its stderr.
pub fn python(script: &str) -> String {
    let out = run(
        Command::new("python3").arg("-c").arg(script),
        Duration::from_secs(20),
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
