//! Client TCP connections (RFC 7766): the accept loop and one task per connection.
//!
//! Every connection is bounded. Reading: an idle timeout until the first byte of a message, then
//! one deadline for the whole message (length and body) from that first byte, so a client
//! trickling bytes cannot hold a slot. Writing: each write must complete within the write
//! deadline, so a client that never reads is closed once the kernel buffers are full. Queueing:
//! at most `max_queued` queries in flight plus answers waiting to be written; beyond that the
//! connection stops reading (backpressure), so no answer is dropped for a full queue.
//!
//! The reader, the writer, the queue and the socket are one future: when a connection breaks a
//! limit it is closed (with RST) and everything it owns ends with it; no task outlives it.
//! Connection counts are process-wide (all workers): a global cap and a cap per client address,
//! checked at accept, where excess connections are closed at once and counted.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

use dnspect_core::engine::admission::ClientKey;

use super::worker::{Reply, State};
use super::Shared;
use crate::config::Settings;

/// Why a connection was closed at accept (the `reason` label of
/// `dnspect_tcp_connections_rejected_total`).
pub const REJECT: [&str; 3] = ["limit", "client_limit", "acl"];
const REJECT_LIMIT: usize = 0;
const REJECT_CLIENT: usize = 1;
const REJECT_ACL: usize = 2;

/// Why a connection ended (the `reason` label of `dnspect_tcp_connections_closed_total`).
pub const CLOSE: [&str; 7] = [
    "eof",
    "idle",
    "read_deadline",
    "write_deadline",
    "stalled",
    "linger",
    "error",
];

/// Why an answer was not written (the `reason` label of `dnspect_tcp_answers_dropped_total`):
/// its connection was closed before the answer was ready, or while it waited to be written.
pub const DROP: [&str; 2] = ["closed", "unwritten"];
pub const DROP_CLOSED: usize = 0;
const DROP_UNWRITTEN: usize = 1;

/// An answer waiting in a connection's queue.
#[derive(Debug)]
pub struct Answer {
    pub bytes: Vec<u8>,
    /// When its query arrived.
    pub started: std::time::Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed its side and every answer was written.
    Eof,
    /// No new message within the idle timeout, and every answer was written.
    Idle,
    /// A message was not complete by its deadline (slowloris).
    ReadDeadline,
    /// A write did not complete by the write deadline (a client that does not read).
    WriteDeadline,
    /// No room for another query in flight for too long.
    Stalled,
    /// After the client stopped sending, its answers were not written in time.
    Linger,
    /// A read or write failed, or a message was cut short.
    Error,
}

impl End {
    /// Closed for breaking a limit: reset, so the kernel drops the buffers at once.
    fn abortive(self) -> bool {
        matches!(
            self,
            End::ReadDeadline | End::WriteDeadline | End::Stalled | End::Linger
        )
    }
}

/// Client TCP connections of the whole process, by client address.
#[derive(Debug, Default)]
pub struct Counts {
    inner: Mutex<CountsInner>,
}

#[derive(Debug, Default)]
struct CountsInner {
    total: usize,
    per_client: HashMap<ClientKey, usize>,
}

impl Counts {
    /// Takes a slot for a connection from `ip`, or says which cap it hits.
    fn admit(
        shared: &Arc<Shared>,
        ip: ClientKey,
        max: usize,
        per_client: usize,
    ) -> Result<Slot, usize> {
        let Ok(mut c) = shared.tcp.inner.lock() else {
            return Err(REJECT_LIMIT);
        };
        if c.total >= max {
            return Err(REJECT_LIMIT);
        }
        let n = c.per_client.entry(ip).or_insert(0);
        if *n >= per_client {
            return Err(REJECT_CLIENT);
        }
        *n += 1;
        c.total += 1;
        Ok(Slot {
            shared: shared.clone(),
            ip,
        })
    }
}

/// One admitted connection's place in the counts; given back when dropped, however the
/// connection ends.
#[derive(Debug)]
struct Slot {
    shared: Arc<Shared>,
    ip: ClientKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut c) = self.shared.tcp.inner.lock() {
            c.total = c.total.saturating_sub(1);
            if let Some(n) = c.per_client.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    c.per_client.remove(&self.ip);
                }
            }
        }
    }
}

/// The client a cap counts against: its address masked to the per-client prefix lengths
/// (`engine.limits.client_prefix_v4`/`_v6`), as the rate and waiting limits group clients, so
/// a host with a /64 of addresses is one client here too; an IPv4-mapped IPv6 address counts
/// as the IPv4 address.
fn client_key(ip: IpAddr, prefix_v4: u8, prefix_v6: u8) -> ClientKey {
    ClientKey::of(ip, prefix_v4, prefix_v6)
}

/// Accept-error backoff: 10 ms doubling to 1 s while accept keeps failing; reset on success.
#[derive(Debug, Default)]
pub struct Backoff {
    delay: Duration,
}

impl Backoff {
    const MIN: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// After a successful accept.
    pub fn reset(&mut self) {
        self.delay = Duration::ZERO;
    }

    /// After a failed accept: whether to log (first failure of a run, then at most once a
    /// second), and waits. Errors about one connection (aborted or reset before accept) retry at
    /// once: only resource errors (EMFILE, ENFILE, ENOBUFS, ENOMEM) and unknown ones wait.
    pub async fn failed(&mut self, what: &str, e: &std::io::Error) {
        use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted};
        if matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted) {
            return;
        }
        self.delay = (self.delay * 2).clamp(Self::MIN, Self::MAX);
        if self.delay == Self::MIN || self.delay == Self::MAX {
            tracing::warn!("{what}: accept failed: {e}; retrying in {:?}", self.delay);
        }
        tokio::time::sleep(self.delay).await;
    }
}

/// A connection's limits, read from the settings when it is accepted.
#[derive(Debug, Clone, Copy)]
struct Limits {
    idle: Duration,
    read: Duration,
    write: Duration,
    queued: usize,
    send_buffer: usize,
    /// How long the reader may wait for room for one more query, and how long answers may
    /// still take after the client stops sending: an answer is due within the engine's query
    /// timeout, and then has one write deadline to go out.
    stall: Duration,
}

impl Limits {
    fn new(s: &Settings) -> Limits {
        Limits {
            idle: s.tcp_idle,
            read: s.tcp_read_timeout,
            write: s.tcp_write_timeout,
            queued: s.tcp_max_queued.max(1),
            send_buffer: s.tcp_send_buffer,
            stall: s.engine.query_timeout + s.tcp_write_timeout,
        }
    }
}

/// The accept loop of one listener.
pub(super) async fn accept(state: Rc<RefCell<State>>, listener: TcpListener, shared: Arc<Shared>) {
    let mut backoff = Backoff::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => {
                backoff.reset();
                x
            }
            Err(e) => {
                state.borrow_mut().metrics.tcp_accept_errors += 1;
                backoff.failed("client TCP", &e).await;
                continue;
            }
        };
        let (max, per_client, allowed, drop_refused, limits, client) = {
            let st = state.borrow();
            let s = &st.settings;
            let l = &s.engine.limits;
            (
                s.tcp_max_connections,
                s.tcp_max_per_client,
                st.allowed(peer),
                s.refuse_drop,
                Limits::new(s),
                client_key(peer.ip(), l.prefix_v4, l.prefix_v6),
            )
        };
        let admitted = if !allowed && drop_refused {
            Err(REJECT_ACL)
        } else {
            Counts::admit(&shared, client, max, per_client)
        };
        let slot = match admitted {
            Ok(slot) => slot,
            Err(reason) => {
                state.borrow_mut().metrics.tcp_rejected[reason] += 1;
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                drop(stream);
                continue;
            }
        };
        {
            let mut st = state.borrow_mut();
            st.metrics.tcp_accepted += 1;
            st.metrics.tcp_open += 1;
        }
        let st = state.clone();
        tokio::task::spawn_local(async move {
            let end = conn(&st, stream, peer, limits).await;
            let mut s = st.borrow_mut();
            s.metrics.tcp_open = s.metrics.tcp_open.saturating_sub(1);
            s.metrics.tcp_closed[end as usize] += 1;
            drop(slot);
        });
    }
}

/// One client TCP connection: pipelined queries, answers written as they complete.
async fn conn(
    state: &Rc<RefCell<State>>,
    mut stream: TcpStream,
    peer: SocketAddr,
    lim: Limits,
) -> End {
    let _ = stream.set_nodelay(true);
    if lim.send_buffer > 0 {
        // A fixed buffer instead of autotuning (up to tcp_wmem's 4 MB on Linux): what a client
        // that does not read can pin in the kernel is bounded, and its writes stall sooner.
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(lim.send_buffer);
    }
    let (tx, mut rx) = mpsc::channel::<Answer>(lim.queued);
    let end = {
        let (mut rd, mut wr) = stream.split();
        let reader = read_loop(state, &mut rd, tx, peer, lim);
        let writer = write_loop(state, &mut wr, &mut rx, lim.write);
        tokio::pin!(writer);
        tokio::select! {
            end = reader => match end {
                // The client is done sending: finish writing its answers, within a bound.
                End::Eof | End::Idle => match timeout(lim.stall, &mut writer).await {
                    Ok(Ok(())) => end,
                    Ok(Err(e)) => e,
                    Err(_) => End::Linger,
                },
                broke => broke,
            },
            // The writer ends early only on a failed or late write; the reader is dropped.
            Err(e) = &mut writer => e,
        }
    };
    // Answers still queued are lost with the connection; those still in the engine will find
    // the queue closed. Both are counted as dropped, never as sent.
    rx.close();
    let mut unwritten = 0;
    while rx.try_recv().is_ok() {
        unwritten += 1;
    }
    state.borrow_mut().metrics.tcp_answers_dropped[DROP_UNWRITTEN] += unwritten;
    drop(rx);
    if end.abortive() {
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    }
    end
}

/// Reads messages and hands them to the engine, each with a reserved place in the queue.
async fn read_loop(
    state: &Rc<RefCell<State>>,
    rd: &mut ReadHalf<'_>,
    tx: mpsc::Sender<Answer>,
    peer: SocketAddr,
    lim: Limits,
) -> End {
    let mut buf = Vec::new();
    loop {
        // Room for this query's answer: at most `queued` queries in flight or answers unwritten.
        let permit = match timeout(lim.stall, tx.clone().reserve_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return End::Error,
            Err(_) => return End::Stalled,
        };
        let mut len = [0u8; 2];
        let first = match timeout(lim.idle, rd.read(&mut len)).await {
            Ok(Ok(0)) => return End::Eof,
            Ok(Ok(n)) => n,
            Ok(Err(_)) => return End::Error,
            Err(_) => return End::Idle,
        };
        // The rest of the message, length and body, by one deadline from its first byte.
        let whole = tokio::time::timeout_at(Instant::now() + lim.read, async {
            if first < 2 {
                rd.read_exact(&mut len[1..]).await?;
            }
            buf.resize(usize::from(u16::from_be_bytes(len)), 0);
            rd.read_exact(&mut buf).await
        })
        .await;
        match whole {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return End::Error,
            Err(_) => return End::ReadDeadline,
        }
        state
            .borrow_mut()
            .query(&buf, Reply::Tcp(permit), peer, true);
    }
}

/// Writes answers as they come, several at once when they are waiting; every write by its
/// deadline. An answer is counted as sent (by rcode, with its duration) once written. Returns
/// when every sender is gone (the reader and every query in flight).
async fn write_loop(
    state: &Rc<RefCell<State>>,
    wr: &mut WriteHalf<'_>,
    rx: &mut mpsc::Receiver<Answer>,
    limit: Duration,
) -> Result<(), End> {
    let mut out = Vec::new();
    let mut batch = Vec::new();
    while let Some(a) = rx.recv().await {
        out.clear();
        batch.clear();
        frame(&mut out, &mut batch, a);
        while out.len() < 16 * 1024 {
            match rx.try_recv() {
                Ok(a) => frame(&mut out, &mut batch, a),
                Err(_) => break,
            }
        }
        let failed = match timeout(limit, wr.write_all(&out)).await {
            Ok(Ok(())) => None,
            Ok(Err(_)) => Some(End::Error),
            Err(_) => Some(End::WriteDeadline),
        };
        let mut st = state.borrow_mut();
        if let Some(end) = failed {
            st.metrics.tcp_answers_dropped[DROP_UNWRITTEN] += batch.len() as u64;
            return Err(end);
        }
        for (rcode, started) in batch.drain(..) {
            st.metrics.responses[1][rcode] += 1;
            st.metrics.observe(started.elapsed());
        }
    }
    let _ = timeout(limit, wr.shutdown()).await;
    Ok(())
}

/// Appends a framed answer to `out`, and its rcode and start to `batch`.
fn frame(out: &mut Vec<u8>, batch: &mut Vec<(usize, std::time::Instant)>, a: Answer) {
    let Ok(n) = u16::try_from(a.bytes.len()) else {
        return;
    };
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&a.bytes);
    batch.push((
        usize::from(a.bytes.get(3).map_or(0, |b| b & 0xf)),
        a.started,
    ));
}

/// Descriptors kept for everything but client TCP: stdio, the runtime's, logs, metrics.
const FD_RESERVE: u64 = 64;

/// Lowers the TCP caps so that client connections cannot take the descriptors the rest of the
/// server needs (listeners, upstream sockets: up to `engine.max_inflight` per worker). Returns
/// the warnings to log.
pub fn fit_caps(s: &mut Settings, nofile: u64) -> Vec<String> {
    let mut warnings = Vec::new();
    let workers = s.workers as u64;
    let fixed = FD_RESERVE + workers * (2 * s.listen.len() as u64 + s.upstreams.len() as u64 + 8);
    let avail = nofile.saturating_sub(fixed);
    // Pooled upstream UDP sockets per worker: at most `udp.upstream_sockets` per upstream
    // taking queries and as many again retiring, each opened for a query in flight (so at most
    // `engine.max_inflight` of each kind).
    let pooled = (2 * s.udp.upstream_sockets as u64 * s.upstreams.len() as u64)
        .min(2 * s.engine.max_inflight as u64);
    let upstream = workers * pooled;
    let mut room = avail.saturating_sub(upstream);
    // Client TCP keeps at least a quarter of what is not reserved, whatever the pool says.
    if room < avail / 4 {
        warnings.push(format!(
            "RLIMIT_NOFILE {nofile} is small for {workers} worker(s) x {pooled} upstream UDP \
             sockets (2 x udp.upstream_sockets {} x {} upstream(s), at most 2 x engine.max_inflight): \
             upstream sockets and client TCP together may run out of descriptors \
             (accept then backs off)",
            s.udp.upstream_sockets,
            s.upstreams.len()
        ));
        room = avail / 4;
    }
    let room = usize::try_from(room.max(1)).unwrap_or(usize::MAX);
    if s.tcp_max_connections > room {
        warnings.push(format!(
            "tcp.max_connections lowered from {} to {room} to fit RLIMIT_NOFILE {nofile}",
            s.tcp_max_connections
        ));
        s.tcp_max_connections = room;
    }
    warnings
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The default settings with one worker (the default is one per core: the arithmetic
    /// below is per worker count).
    fn settings() -> Settings {
        let mut s = crate::config::parse(crate::config::DEFAULT_TOML, || {
            Ok("nameserver 192.0.2.53\n".into())
        })
        .unwrap();
        s.workers = 1;
        s
    }

    #[test]
    fn a_client_is_its_address_masked_to_the_prefix() {
        let k = |ip: &str, v4, v6| client_key(ip.parse().unwrap(), v4, v6);
        // One host's /64 (and a site's /56) is one client, as for the rate limits.
        assert_eq!(k("2001:db8:0:1::1", 32, 56), k("2001:db8:0:1::ff", 32, 56));
        assert_eq!(k("2001:db8:0:1::1", 32, 56), k("2001:db8:0:2::1", 32, 56));
        assert_ne!(k("2001:db8:0:1::1", 32, 64), k("2001:db8:0:2::1", 32, 64));
        assert_ne!(k("2001:db8::1", 32, 128), k("2001:db8::2", 32, 128));
        // IPv4, and IPv4-mapped IPv6 as IPv4.
        assert_ne!(k("192.0.2.1", 32, 56), k("192.0.2.2", 32, 56));
        assert_eq!(k("192.0.2.1", 24, 56), k("192.0.2.200", 24, 56));
        assert_eq!(k("::ffff:192.0.2.1", 32, 56), k("192.0.2.1", 32, 56));
        assert_eq!(k("10.1.2.3", 0, 0), k("192.0.2.1", 0, 0));
    }

    #[test]
    fn caps_fit_the_descriptor_limit() {
        let mut s = settings();
        assert!(fit_caps(&mut s, 1 << 20).is_empty());
        assert_eq!(s.tcp_max_connections, 1024);
        assert_eq!(s.tcp_max_per_client, 64);
        // 1300 descriptors: 128 for the upstream socket pool (2 x 64), over 1024 left for TCP.
        let w = fit_caps(&mut s, 1300);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.tcp_max_connections, 1024);
        // 6000 with a pool of 2 x 2048: 4096 for upstream sockets, about 1800
        // left for TCP.
        let mut s = settings();
        s.udp.upstream_sockets = 2048;
        let w = fit_caps(&mut s, 6000);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.tcp_max_connections, 1024);
        // 3000: TCP gets a quarter of what is not reserved, and both reasons are logged.
        let mut s = settings();
        s.udp.upstream_sockets = 2048;
        let w = fit_caps(&mut s, 3000);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[1].contains("lowered from 1024 to 7"), "{w:?}");
        assert!((700..750).contains(&s.tcp_max_connections));
        assert_eq!(s.tcp_max_per_client, 64);
        let mut s = settings();
        fit_caps(&mut s, 100);
        assert!(s.tcp_max_connections >= 1);
    }
}
