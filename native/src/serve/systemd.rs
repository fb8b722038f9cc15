//! systemd integration, both optional and both inert outside systemd: readiness notification
//! (`Type=notify`: `READY=1` once every socket is bound, `STOPPING=1` when the drain starts; only
//! when `NOTIFY_SOCKET` is set) and socket activation (`LISTEN_FDS`: the listeners systemd
//! bound for us, from `deploy/systemd/dnspect.socket`). The `sd-notify` crate speaks the
//! protocol; this module only says when.

use std::net::{SocketAddr, TcpListener, UdpSocket};

use anyhow::Context;
use sd_notify::NotifyState;
use socket2::{Socket, Type};

/// Tells the service manager that the server is serving. A failed notification is logged, not
/// fatal: systemd then fails the unit at its start timeout, which says more than an exit here.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells the service manager that the drain started.
pub fn stopping() {
    notify(&[
        NotifyState::Stopping,
        NotifyState::Status("draining: answering queries in flight"),
    ]);
}

fn notify(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("sd_notify to $NOTIFY_SOCKET failed: {e}");
    }
}

/// Sockets passed by systemd (`LISTEN_FDS`, for this process's `LISTEN_PID`), if any.
#[derive(Debug, Default)]
pub struct Activated {
    pub udp: Vec<UdpSocket>,
    pub tcp: Vec<TcpListener>,
}

impl Activated {
    /// The addresses systemd bound, UDP ones first, for the log.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        let u = self.udp.iter().filter_map(|s| s.local_addr().ok());
        let t = self.tcp.iter().filter_map(|s| s.local_addr().ok());
        u.chain(t).collect()
    }
}

/// Takes the sockets systemd passed, sorted by type. `None` when not socket-activated. An
/// activation with a socket dnspect cannot serve on (a FIFO, a Unix socket, a UDP socket
/// without its TCP twin) is an error naming the descriptor.
pub fn activated() -> anyhow::Result<Option<Activated>> {
    let fds = sd_notify::listen_fds().context("LISTEN_FDS")?;
    if fds.len() == 0 {
        return Ok(None);
    }
    let mut out = Activated::default();
    for fd in fds {
        // SAFETY: systemd passes these descriptors to this process (LISTEN_PID is ours) for it
        // to own; `listen_fds` checked the PID and the count, nothing else in the process
        // uses descriptors 3.. before this runs, and each is adopted exactly once here.
        #[allow(unsafe_code)]
        let s = unsafe { <Socket as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let kind = s
            .r#type()
            .with_context(|| format!("LISTEN_FDS: descriptor {fd}"))?;
        let addr = s
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .with_context(|| format!("LISTEN_FDS: descriptor {fd} is not an IP socket"))?;
        s.set_nonblocking(true)?;
        if kind == Type::DGRAM {
            out.udp.push(s.into());
        } else if kind == Type::STREAM {
            out.tcp.push(s.into());
        } else {
            anyhow::bail!("LISTEN_FDS: descriptor {fd} ({addr}) is neither UDP nor TCP");
        }
    }
    if out.udp.is_empty() || out.tcp.is_empty() {
        anyhow::bail!(
            "LISTEN_FDS: dnspect serves UDP and TCP; systemd passed {} UDP and {} TCP socket(s) \
             (a .socket unit needs ListenDatagram= and ListenStream=)",
            out.udp.len(),
            out.tcp.len()
        );
    }
    Ok(Some(out))
}
