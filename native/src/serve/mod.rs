//! `dnspect serve`: the tokio shell around the sans-io engine.
//!
//! Each worker is an OS thread with a current-thread runtime, its own SO_REUSEPORT sockets and
//! its own engine; the workers share one cache and one per-client admission table, each in
//! shards behind their own locks. Inside a worker,
//! the UDP receive loops, the TCP connections, the upstream queries and the timer are local
//! tasks that borrow the worker's state between awaits. The main thread handles signals
//! (SIGTERM/SIGINT: leave the reuseport group, drain and stop; SIGHUP: reload the configuration
//! and the resolv.conf) and serves metrics, /health and /ready.

mod admin;
mod batch;
mod metrics;
mod systemd;
mod tcp;
mod udp_fd;
mod upstream;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{mpsc, watch};

use crate::config::{self, Settings};
pub use admin::read_token;
pub use metrics::Snapshot;

/// What the main thread tells a worker.
#[derive(Debug)]
pub enum Control {
    Reload(Box<Settings>),
    /// An admin API request about the worker's cache.
    Cache(admin::Request),
}

/// A worker whose loop has not beaten for this long makes the process unhealthy.
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(3);

/// One worker's liveness, written by the worker, read by /health and /ready.
#[derive(Debug, Default)]
pub struct WorkerHealth {
    /// The worker's loop is running (set when it starts, cleared when its thread ends).
    pub running: AtomicBool,
    /// Milliseconds since `Shared::epoch` when the worker's loop last made progress.
    pub heartbeat_ms: AtomicU64,
    /// Upstreams this worker's engine considers usable, and how many it has.
    pub upstreams_usable: AtomicU64,
    pub upstreams_total: AtomicU64,
    /// A forwarding group whose every upstream loops back here, in words (`Forwarder::loop_verdict`).
    pub loop_verdict: Mutex<Option<String>>,
}

/// Raises the RLIMIT_NOFILE soft limit to the hard limit; returns the limit in force.
fn raise_nofile() -> u64 {
    let (soft, hard) = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("cannot read RLIMIT_NOFILE: {e}; assuming 1024");
            return 1024;
        }
    };
    // An unlimited hard limit is still bounded by the kernel (fs.nr_open, 2^20 by default).
    let want = if hard == rlimit::INFINITY {
        1 << 20
    } else {
        hard
    };
    match rlimit::increase_nofile_limit(want) {
        Ok(now) if now > soft => {
            tracing::info!("RLIMIT_NOFILE: soft limit raised from {soft} to {now} (hard {hard})");
            now
        }
        Ok(_) => {
            tracing::info!("RLIMIT_NOFILE: {soft} (hard {hard})");
            soft
        }
        Err(e) => {
            tracing::warn!("RLIMIT_NOFILE: cannot raise the soft limit {soft} to {want}: {e}");
            soft
        }
    }
}

/// Sizes the TCP caps against the descriptor limit, saying when a cap was lowered.
fn fit_caps(s: &mut Settings, nofile: u64) {
    for w in tcp::fit_caps(s, nofile) {
        tracing::warn!("{w}");
    }
    tracing::info!(
        "client TCP: at most {} connections, {} per client address",
        s.tcp_max_connections,
        s.tcp_max_per_client
    );
}

/// State shared between the workers and the main thread (never on the per-packet path).
#[derive(Debug)]
pub struct Shared {
    pub snapshots: Mutex<Vec<Snapshot>>,
    pub epoch: Instant,
    pub workers: Vec<WorkerHealth>,
    /// Set on SIGTERM: no new queries are taken, in-flight ones are finished.
    pub draining: AtomicBool,
    /// Client TCP connections by client address (checked at accept only).
    pub tcp: tcp::Counts,
    /// Metrics-listener connections closed unserved: over `admin.max_connections`, and
    /// past `admin.timeout`.
    pub http_rejected: [AtomicU64; 2],
    /// Reloads (SIGHUP, a hosts file changed) applied and rejected.
    pub reloads: [AtomicU64; 2],
    /// When the configuration was last loaded whole (at start, or a reload applied), in
    /// seconds since the Unix epoch.
    pub last_load: AtomicU64,
    /// The per-client admission table, for its gauges.
    pub admission: std::sync::OnceLock<Arc<dnspect_core::engine::admission::SharedAdmission>>,
    /// The loop probes and looping upstreams of every worker's engine: a looped probe reaches
    /// whichever worker the kernel picks, and a loop one finds all skip.
    pub loops: Arc<dnspect_core::engine::forwarder::LoopTable>,
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Shared {
    pub fn new(workers: usize) -> Shared {
        Shared {
            snapshots: Mutex::new(vec![Snapshot::default(); workers]),
            epoch: Instant::now(),
            workers: (0..workers).map(|_| WorkerHealth::default()).collect(),
            draining: AtomicBool::new(false),
            tcp: tcp::Counts::default(),
            http_rejected: Default::default(),
            reloads: Default::default(),
            last_load: AtomicU64::new(unix_now()),
            admission: std::sync::OnceLock::new(),
            loops: Arc::new(dnspect_core::engine::forwarder::LoopTable::new()),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A worker's loop made progress.
    pub fn beat(&self, worker: usize) {
        if let Some(w) = self.workers.get(worker) {
            w.heartbeat_ms.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// Ok while the process can serve: every worker thread running and its loop beating within
    /// `HEARTBEAT_STALE`. The error says why not, in one line.
    pub fn health(&self) -> Result<(), String> {
        let now = self.now_ms();
        for (i, w) in self.workers.iter().enumerate() {
            if !w.running.load(Ordering::SeqCst) {
                return Err(format!("unhealthy: worker {i} is not running"));
            }
            let age = now.saturating_sub(w.heartbeat_ms.load(Ordering::Relaxed));
            if age > HEARTBEAT_STALE.as_millis() as u64 {
                return Err(format!(
                    "unhealthy: worker {i} has made no progress for {age} ms"
                ));
            }
        }
        Ok(())
    }

    /// Ok while healthy, not draining, no forwarding group loops back here (every upstream of
    /// it found looping), and every worker has at least one usable upstream.
    /// The error says why not, in one line.
    pub fn ready(&self) -> Result<String, String> {
        self.health().map_err(|e| format!("not ready: {e}"))?;
        if self.draining.load(Ordering::SeqCst) {
            return Err("not ready: draining (shutting down)".into());
        }
        for w in &self.workers {
            if let Some(v) = w.loop_verdict.lock().ok().and_then(|v| v.clone()) {
                return Err(format!("not ready: {v}"));
            }
        }
        let mut worst = (u64::MAX, 0, 0);
        for (i, w) in self.workers.iter().enumerate() {
            let usable = w.upstreams_usable.load(Ordering::Relaxed);
            if usable < worst.0 {
                worst = (usable, w.upstreams_total.load(Ordering::Relaxed), i);
            }
        }
        let (usable, total, worker) = worst;
        if usable == 0 {
            let who = if self.workers.len() > 1 {
                format!(" in worker {worker}")
            } else {
                String::new()
            };
            return Err(format!("not ready: 0 of {total} upstreams usable{who}"));
        }
        Ok(format!("ready: {usable} of {total} upstreams usable"))
    }
}

/// Marks a worker not running when its thread ends, however it ends.
#[derive(Debug)]
pub struct RunningGuard {
    shared: Arc<Shared>,
    index: usize,
}

impl RunningGuard {
    pub fn new(shared: Arc<Shared>, index: usize) -> RunningGuard {
        if let Some(w) = shared.workers.get(index) {
            w.running.store(true, Ordering::SeqCst);
        }
        shared.beat(index);
        RunningGuard { shared, index }
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Some(w) = self.shared.workers.get(self.index) {
            w.running.store(false, Ordering::SeqCst);
        }
    }
}

/// UDP listeners join an SO_REUSEPORT group (one socket per worker, and a new process started
/// before the old one stops: a rolling restart). No SO_REUSEADDR: on UDP it would let another
/// local process, of any user, bind the same address and take queries; SO_REUSEPORT requires the
/// same user.
fn bind_udp(addr: SocketAddr) -> anyhow::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_port(true)?;
    // A burst of 500 queries overflows the default 208 KiB receive buffer.
    let _ = s.set_recv_buffer_size(8 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())
        .with_context(|| format!("cannot bind UDP {addr}"))?;
    Ok(s.into())
}

fn bind_tcp(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())
        .with_context(|| format!("cannot bind TCP {addr}"))?;
    s.listen(1024)?;
    Ok(s.into())
}

/// Runs the server until SIGTERM or SIGINT, then drains and returns.
pub fn run(
    mut settings: Settings,
    config_path: Option<PathBuf>,
    resolv_conf: PathBuf,
    overrides: config::Overrides,
) -> anyhow::Result<()> {
    let nofile = raise_nofile();
    fit_caps(&mut settings, nofile);
    let shared = Arc::new(Shared::new(settings.workers));
    // One cache for every worker (issue 11): a name one worker cached is a hit on all.
    let mut cache_seed = [0u8; 8];
    getrandom::fill(&mut cache_seed).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let cache = Arc::new(dnspect_core::cache::SharedCache::for_workers(
        settings.engine.cache.size,
        settings.workers,
        u64::from_ne_bytes(cache_seed),
    ));
    // One admission table for every worker: the kernel spreads one client's datagrams over the
    // workers by source port, so per-worker tables would multiply its limits by `workers`.
    let mut admission_seed = [0u8; 8];
    getrandom::fill(&mut admission_seed).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let admission = Arc::new(dnspect_core::engine::admission::SharedAdmission::new(
        settings.engine.limits,
        u64::from_ne_bytes(admission_seed),
    ));
    let _ = shared.admission.set(admission.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut controls = Vec::new();
    let mut threads = Vec::new();
    // Socket activation: systemd bound the listeners; every worker reads from its own
    // descriptor of each (the kernel wakes one of them per datagram or connection).
    let activated = systemd::activated()?;
    if let Some(a) = &activated {
        settings.listen = a.addrs();
        settings.listen.sort();
        settings.listen.dedup();
        // The static loop check again, against the addresses systemd bound.
        settings.listen_at = vec![("systemd socket".to_string(), None); settings.listen.len()];
        config::check_loops(&settings).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    }
    for i in 0..settings.workers {
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        if let Some(a) = &activated {
            for s in &a.udp {
                udp.push(s.try_clone()?);
            }
            for l in &a.tcp {
                tcp.push(l.try_clone()?);
            }
        } else {
            for &a in &settings.listen {
                udp.push(bind_udp(a)?);
                tcp.push(bind_tcp(a)?);
            }
        }
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        controls.push(ctl_tx);
        let s = settings.clone();
        let sh = shared.clone();
        let stop = stop_rx.clone();
        let c = cache.clone();
        let adm = admission.clone();
        // Running from now: the thread may not have run its first line by the time the
        // metrics listener (bound next) answers /health; its guard clears this when it ends.
        if let Some(w) = shared.workers.get(i) {
            w.running.store(true, Ordering::SeqCst);
        }
        shared.beat(i);
        threads.push(
            std::thread::Builder::new()
                .name(format!("dnspect-worker-{i}"))
                .spawn(move || worker::run(i, s, udp, tcp, sh, c, adm, stop, ctl_rx))?,
        );
    }
    for a in &settings.listen {
        tracing::info!(
            "serving DNS on {a} (UDP and TCP{}) with {} worker(s), forwarding to {}{}",
            if activated.is_some() {
                ", sockets from systemd"
            } else {
                ""
            },
            settings.workers,
            routes(&settings.engine),
            settings
                .resolv_conf
                .as_ref()
                .map_or(String::new(), |p| format!(" (from {})", p.display()))
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let socket_activated = activated.is_some();
    let admin = Arc::new(admin::Admin::new(controls.clone(), &settings));
    let drain_limit = rt.block_on(async {
        if let Some(m) = settings.metrics {
            let listener = bind_metrics(m).with_context(|| format!("cannot bind metrics {m}"))?;
            tracing::info!("metrics on http://{m}/metrics, health on /health and /ready, cache admin on /cache/entries and /cache/flush");
            tokio::spawn(metrics::serve(
                listener,
                shared.clone(),
                admin.clone(),
                settings.admin.max_connections,
                settings.admin.timeout,
            ));
        }
        systemd::ready(&format!("serving DNS on {:?}", settings.listen));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let mut drain = settings.drain;
        let mut hosts = HostsWatch::new(&settings);
        let mut poll = hosts.interval();
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = hup.recv() => {
                    let r = Reload { path: config_path.as_deref(), resolv: &resolv_conf, overrides: &overrides, nofile, running: &settings, socket_activated, shared: &shared };
                    if let Some(new) = r.apply("SIGHUP", &controls) {
                        admin.reconfigure(&new);
                        admission.reconfigure(new.engine.limits);
                        drain = new.drain;
                        hosts = HostsWatch::new(&new);
                        poll = hosts.interval();
                    }
                }
                _ = poll.tick(), if hosts.active() => {
                    if hosts.changed() {
                        let r = Reload { path: config_path.as_deref(), resolv: &resolv_conf, overrides: &overrides, nofile, running: &settings, socket_activated, shared: &shared };
                        if let Some(new) = r.apply("hosts file changed", &controls) {
                            admin.reconfigure(&new);
                            admission.reconfigure(new.engine.limits);
                            drain = new.drain;
                            let seen = hosts.seen.clone();
                            hosts = HostsWatch::new(&new);
                            // A file that changed again since it was read is read next tick.
                            if hosts.paths.len() == seen.len() { hosts.seen = seen; }
                            poll = hosts.interval();
                        }
                    }
                }
            }
        }
        anyhow::Ok(drain)
    })?;
    // Drain: the workers stop taking new queries, answer what is queued and in flight, and end.
    // The metrics listener keeps answering meanwhile (/ready says "draining"); a second
    // SIGTERM or SIGINT stops at once.
    tracing::info!(
        "SIGTERM: draining: no new queries; answering those queued and in flight (deadline {} ms)",
        drain_limit.as_millis()
    );
    systemd::stopping();
    shared.draining.store(true, Ordering::SeqCst);
    let _ = stop_tx.send(true);
    let finished = rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        // The workers enforce the deadline; this bound only catches a wedged worker.
        let until = Instant::now() + drain_limit + Duration::from_secs(2);
        while !threads.iter().all(std::thread::JoinHandle::is_finished) {
            if Instant::now() >= until {
                return anyhow::Ok(false);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                _ = tokio::signal::ctrl_c() => { tracing::warn!("second signal: stopping without finishing the drain"); return Ok(true); }
                _ = term.recv() => { tracing::warn!("second signal: stopping without finishing the drain"); return Ok(true); }
            }
        }
        Ok(true)
    })?;
    if !finished {
        anyhow::bail!("a worker did not stop within the drain deadline");
    }
    for t in threads {
        if t.is_finished() {
            let _ = t.join();
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// A reload: the configuration read again (the file, the resolv.conf, the hosts files, then
/// the flags) and handed to every worker, whose engine keeps its cache and queries in flight
/// (`Forwarder::reconfigure`). A rejected configuration keeps the running one.
struct Reload<'a> {
    path: Option<&'a std::path::Path>,
    resolv: &'a std::path::Path,
    overrides: &'a config::Overrides,
    nofile: u64,
    /// The settings the process started with (listen addresses and workers stay).
    running: &'a Settings,
    /// With systemd's sockets, `listen` is not ours to compare.
    socket_activated: bool,
    /// Counts the reloads applied and rejected.
    shared: &'a Shared,
}

impl Reload<'_> {
    fn apply(&self, why: &str, controls: &[mpsc::UnboundedSender<Control>]) -> Option<Settings> {
        let from = self.path.map_or_else(
            || "the embedded default".to_string(),
            |p| p.display().to_string(),
        );
        match config::load_settings(self.path, self.resolv, self.overrides) {
            Ok(mut new) => {
                fit_caps(&mut new, self.nofile);
                for w in config::loop_warnings(&new) {
                    tracing::warn!("{why}: {w}");
                }
                let unapplied = restart_only_changes(self.running, &new, self.socket_activated);
                if !unapplied.is_empty() {
                    tracing::warn!(
                        "{why}: {} changed in the file but change only on restart; the running values stay",
                        unapplied.join(", ")
                    );
                }
                let ups = match &new.resolv_conf {
                    Some(p) => format!(
                        "upstreams {} read again from {}",
                        routes(&new.engine),
                        p.display()
                    ),
                    None => format!("upstreams {}", routes(&new.engine)),
                };
                let e = &new.engine;
                let local = format!(
                    "{} forward group(s), {} hosts file(s), {} local record(s), {} local zone(s), cache {} B",
                    e.forward.len(),
                    e.local.hosts.len(),
                    e.local.records.len(),
                    e.local.zones.len(),
                    e.cache.size
                );
                for c in controls {
                    let _ = c.send(Control::Reload(Box::new(new.clone())));
                }
                tracing::info!("{why}: configuration reloaded from {from}, {ups}; {local}; cache and queries in flight kept");
                self.shared.reloads[0].fetch_add(1, Ordering::Relaxed);
                self.shared.last_load.store(unix_now(), Ordering::Relaxed);
                Some(new)
            }
            Err(e) => {
                tracing::error!(
                    "{why}: configuration rejected, keeping the running one: {from}: {e}"
                );
                self.shared.reloads[1].fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// What a hosts file looked like when last read: changed when any of these differ.
type Stamp = Option<(std::time::SystemTime, u64, u64)>;

/// Watches the hosts files by polling their metadata (modification time, size, inode: an
/// editor that writes a new file and renames it over the old one changes the inode), like
/// CoreDNS's `hosts` plugin (`reload`). Polling needs no inotify and sees files replaced
/// through a symlink (a Kubernetes ConfigMap) the same way.
struct HostsWatch {
    paths: Vec<PathBuf>,
    every: Duration,
    seen: Vec<Stamp>,
}

impl HostsWatch {
    fn new(s: &Settings) -> HostsWatch {
        let mut w = HostsWatch {
            paths: s.hosts.clone(),
            every: s.hosts_reload,
            seen: Vec::new(),
        };
        w.seen = w.stamps();
        w
    }

    fn stamps(&self) -> Vec<Stamp> {
        use std::os::unix::fs::MetadataExt;
        self.paths
            .iter()
            .map(|p| {
                std::fs::metadata(p).ok().map(|m| {
                    (
                        m.modified().unwrap_or(std::time::UNIX_EPOCH),
                        m.len(),
                        m.ino(),
                    )
                })
            })
            .collect()
    }

    fn active(&self) -> bool {
        !self.paths.is_empty() && !self.every.is_zero()
    }

    fn interval(&self) -> tokio::time::Interval {
        let every = if self.every.is_zero() {
            Duration::from_secs(3600)
        } else {
            self.every
        };
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    }

    /// Whether a file changed since the last call (or since it was read); a change is
    /// reported once, even when the new text is rejected.
    fn changed(&mut self) -> bool {
        let now = self.stamps();
        let changed = now != self.seen;
        self.seen = now;
        changed
    }
}

/// The metrics listener joins an SO_REUSEPORT group too, so a new process can start on the same
/// address before the old one stops.
fn bind_metrics(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let l = bind_tcp(addr)?;
    Ok(tokio::net::TcpListener::from_std(l)?)
}

/// Where names go, for the start and reload log lines: the default group's upstreams, then each
/// forward group's zones and upstreams (`[192.0.2.53:53]; zone cluster.local. in-addr.arpa. to
/// [10.96.0.10:53]`), so an operator sees which upstream serves which zone rather than one
/// merged list.
pub fn routes(e: &dnspect_core::engine::forwarder::Config) -> String {
    let list = |ups: &[dnspect_core::engine::forwarder::UpstreamConfig]| {
        let l: Vec<&str> = ups.iter().map(|u| u.label.as_str()).collect();
        format!("[{}]", l.join(", "))
    };
    let mut parts = Vec::new();
    if !e.upstreams.is_empty() || e.forward.is_empty() {
        parts.push(list(&e.upstreams));
    }
    for g in &e.forward {
        parts.push(format!(
            "zone {} to {}",
            g.zones.join(" "),
            list(&g.upstreams)
        ));
    }
    parts.join("; ")
}

/// The settings a reload does not apply (they hold sockets, threads or buffers made at start)
/// that differ between the running configuration and a reloaded one, by their names in the file.
fn restart_only_changes(
    running: &Settings,
    new: &Settings,
    socket_activated: bool,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    if new.listen != running.listen && !socket_activated {
        out.push("listen");
    }
    if new.workers != running.workers {
        out.push("workers");
    }
    if new.metrics != running.metrics {
        out.push("metrics");
    }
    if new.udp.batch != running.udp.batch {
        out.push("udp.batch");
    }
    if new.admin.max_connections != running.admin.max_connections {
        out.push("admin.max_connections");
    }
    if new.admin.timeout != running.admin.timeout {
        out.push("admin.timeout");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_needs_every_worker_running_and_beating() {
        let mut sh = Shared::new(2);
        assert_eq!(
            sh.health(),
            Err("unhealthy: worker 0 is not running".to_string())
        );
        for w in &sh.workers {
            w.running.store(true, Ordering::SeqCst);
            w.upstreams_total.store(2, Ordering::SeqCst);
            w.upstreams_usable.store(2, Ordering::SeqCst);
        }
        assert_eq!(sh.health(), Ok(()));
        assert_eq!(sh.ready(), Ok("ready: 2 of 2 upstreams usable".to_string()));
        sh.workers[1].upstreams_usable.store(0, Ordering::SeqCst);
        assert_eq!(
            sh.ready(),
            Err("not ready: 0 of 2 upstreams usable in worker 1".to_string())
        );
        sh.workers[1].upstreams_usable.store(1, Ordering::SeqCst);
        *sh.workers[0].loop_verdict.lock().unwrap() =
            Some("forwarding loop via 127.0.0.1:53".into());
        assert_eq!(
            sh.ready(),
            Err("not ready: forwarding loop via 127.0.0.1:53".to_string())
        );
        *sh.workers[0].loop_verdict.lock().unwrap() = None;
        sh.draining.store(true, Ordering::SeqCst);
        assert_eq!(
            sh.ready(),
            Err("not ready: draining (shutting down)".to_string())
        );
        // A worker whose loop stopped beating 10 s ago.
        sh.epoch = Instant::now() - Duration::from_secs(10);
        sh.beat(0);
        let e = sh.health().unwrap_err();
        assert!(
            e.starts_with("unhealthy: worker 1 has made no progress for"),
            "{e}"
        );
        assert!(sh.ready().unwrap_err().starts_with("not ready: unhealthy"));
    }
}
