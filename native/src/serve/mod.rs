//! `dnspect serve`: the tokio shell around the sans-io engine.
//!
//! Each worker is an OS thread with a current-thread runtime, its own SO_REUSEPORT sockets and
//! its own engine and cache, so workers share nothing on the per-packet path. Inside a worker,
//! the UDP receive loops, the TCP connections, the upstream queries and the timer are local
//! tasks that borrow the worker's state between awaits. The main thread handles signals
//! (SIGTERM/SIGINT: drain and stop; SIGHUP: reload) and serves metrics.

mod metrics;
mod tcp;
mod upstream;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{mpsc, watch};

use crate::config::{self, Settings};
pub use metrics::Snapshot;

/// What the main thread tells a worker.
#[derive(Debug)]
pub enum Control {
    Reload(Box<Settings>),
}

/// State shared between the workers and the main thread (never on the per-packet path).
#[derive(Debug, Default)]
pub struct Shared {
    pub snapshots: Mutex<Vec<Snapshot>>,
    pub ready: AtomicBool,
    /// Client TCP connections by client address (checked at accept only).
    pub tcp: tcp::Counts,
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

fn bind_udp(addr: SocketAddr) -> anyhow::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
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

/// Runs the server until SIGTERM or SIGINT.
pub fn run(
    mut settings: Settings,
    config_path: Option<PathBuf>,
    overrides: config::Overrides,
) -> anyhow::Result<()> {
    let nofile = raise_nofile();
    fit_caps(&mut settings, nofile);
    let shared = Arc::new(Shared::default());
    *shared
        .snapshots
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))? = vec![Snapshot::default(); settings.workers];
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut controls = Vec::new();
    let mut threads = Vec::new();
    for i in 0..settings.workers {
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for &a in &settings.listen {
            udp.push(bind_udp(a)?);
            tcp.push(bind_tcp(a)?);
        }
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        controls.push(ctl_tx);
        let s = settings.clone();
        let sh = shared.clone();
        let stop = stop_rx.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("dnspect-worker-{i}"))
                .spawn(move || worker::run(i, s, udp, tcp, sh, stop, ctl_rx))?,
        );
    }
    for a in &settings.listen {
        tracing::info!(
            "serving DNS on {a} (UDP and TCP) with {} worker(s), forwarding to {:?}",
            settings.workers,
            settings.upstreams
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        if let Some(m) = settings.metrics {
            let listener = tokio::net::TcpListener::bind(m).await.with_context(|| format!("cannot bind metrics {m}"))?;
            tracing::info!("metrics on http://{m}/metrics, health on /health and /ready");
            tokio::spawn(metrics::serve(listener, shared.clone()));
        }
        shared.ready.store(true, Ordering::SeqCst);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = hup.recv() => {
                    let Some(path) = &config_path else {
                        tracing::warn!("SIGHUP: no --config file to reload");
                        continue;
                    };
                    match config::load(path).map(|s| overrides.apply(s)) {
                        Ok(Ok(mut new)) => {
                            fit_caps(&mut new, nofile);
                            if new.listen != settings.listen || new.workers != settings.workers {
                                tracing::warn!("SIGHUP: listen addresses and workers change only on restart");
                            }
                            for c in &controls {
                                let _ = c.send(Control::Reload(Box::new(new.clone())));
                            }
                            tracing::info!("SIGHUP: configuration reloaded from {}; cache and queries in flight kept", path.display());
                        }
                        Ok(Err(e)) | Err(e) => tracing::error!("SIGHUP: configuration rejected, keeping the old one: {}: {e}", path.display()),
                    }
                }
            }
        }
        tracing::info!("shutting down: no new queries, finishing those in flight");
        shared.ready.store(false, Ordering::SeqCst);
        let _ = stop_tx.send(true);
        anyhow::Ok(())
    })?;
    for t in threads {
        let _ = t.join();
    }
    tracing::info!("stopped");
    Ok(())
}

/// How long a stopping worker waits for queries in flight.
pub const DRAIN: Duration = Duration::from_secs(5);
