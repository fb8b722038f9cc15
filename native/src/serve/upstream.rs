//! Upstream transports. Every answer is bound to the transmit it answers before the engine sees
//! it (RFC 5452 9.1): over UDP, queries go out on pooled connected sockets on random ports (the
//! kernel drops datagrams from any other address or port), each socket keeps the IDs of its
//! queries in flight, and what arrives on it is handed to the engine with the token of the query
//! that has its ID on that socket ([`UdpPools`]); over TCP, each connection keeps the IDs of its
//! own queries and hands an answer over with the token of the query that had its ID on that
//! connection. Answers of any size up to 65535 bytes are read whole, whatever size was
//! advertised (incident 000).
//!
//! TCP (RFC 7766 6.2.1): one reused, pipelined connection per upstream address, closed when idle.
//! A reader task owns the read half and reads whole frames (2-byte length, then the message)
//! without racing anything, so the framing cannot be lost to a cancelled read; a writer task
//! owns the write half. When the connection dies, exactly the queries still waiting on it fail.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use dnspect_core::engine::Transport;
use rustc_hash::FxHashMap;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::io::{Interest, Ready};
use tokio::net::TcpStream;

use super::udp_fd::UdpFd;
use tokio::sync::mpsc;

use super::batch::{self, RecvBatch};
use super::worker::State;
use crate::config::UdpKnobs;

/// The bounds of one pooled upstream TCP connection (`[tcp] upstream_*`), read when it opens.
#[derive(Debug, Clone, Copy)]
struct TcpBounds {
    /// How long the connect may take.
    connect: Duration,
    /// How long the connection stays open with no query waiting on it (three times this while
    /// queries wait), and how long the rest of a frame may take once its length has arrived.
    idle: Duration,
}

/// The pooled, connected UDP sockets of one worker, per upstream address.
///
/// A query goes out on a socket with no query in flight when there is one (so at ordinary
/// loads each query in flight has a port of its own, as with a socket per query), else on a
/// new one while the pool has room, else on a random socket on which its ID is not in flight.
/// Each socket maps the IDs in flight on it to their queries' tokens: a datagram is handed to
/// the engine with the token of the query that has its ID on that socket, so the engine checks
/// it against exactly that query (ID, question: RFC 5452) and a forgery for a query on another
/// socket is checked against this socket's query and dropped. The kernel drops datagrams from
/// any other address or port (the socket is connected). A socket is replaced after
/// `upstream_socket_queries` queries or `upstream_socket_lifetime`: it takes no new query and
/// closes once its last one is done; a new one gets a new random port from the kernel.
#[derive(Debug, Default)]
pub struct UdpPools {
    pools: FxHashMap<SocketAddr, Pool>,
    /// token -> where its query went: (upstream address, slot, socket generation, ID). Fx
    /// hashing: tokens are the engine's, IDs come from its CSPRNG; neither is chosen by a peer.
    tokens: FxHashMap<u64, (SocketAddr, u32, u32, u16)>,
    rng: u64,
    gen: u32,
    /// Counters for /metrics.
    pub opened: u64,
    /// Sockets replaced, by [`REPLACED`] reason.
    pub replaced: [u64; 3],
    /// Queries that found no socket: the pool full and their ID in flight on every socket, or
    /// no socket could be opened. The engine counts them as transport failures.
    pub no_socket: u64,
    pub send_errors: u64,
}

/// Why a pooled socket was replaced: its query count, its age, a socket error.
pub const REPLACED: [&str; 3] = ["queries", "lifetime", "error"];

#[derive(Debug, Default)]
struct Pool {
    socks: Vec<Option<PooledSocket>>,
    /// Slots of open sockets with no query in flight that take new ones.
    idle: Vec<u32>,
    /// Empty slots.
    free: Vec<u32>,
    /// Sockets taking new queries (not retiring).
    active: usize,
    /// Sockets retiring (open until their last query is done). At most `upstream_sockets`: a
    /// socket due for replacement while that many are retiring stays in use a while longer,
    /// so a pool never holds more than twice `upstream_sockets`.
    retiring: usize,
}

#[derive(Debug)]
struct PooledSocket {
    fd: Rc<UdpFd>,
    gen: u32,
    /// IDs in flight on this socket -> their tokens.
    ids: FxHashMap<u16, u64>,
    used: u64,
    born: Instant,
    /// Takes no new query; closed once `ids` is empty.
    retiring: bool,
    task: tokio::task::AbortHandle,
}

/// What the worker needs to place queries and read answers.
pub struct Env<'a> {
    pub state: &'a Rc<RefCell<State>>,
    pub recv: &'a Rc<RefCell<RecvBatch>>,
    pub knobs: &'a UdpKnobs,
}

impl UdpPools {
    pub fn new(seed: u64) -> UdpPools {
        UdpPools {
            rng: seed | 1,
            ..UdpPools::default()
        }
    }

    fn random(&mut self, n: usize) -> usize {
        // xorshift64*: spreads queries over sockets; the ports themselves come from the kernel.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize % n.max(1)
    }

    /// Sockets open now, over all upstreams.
    pub fn open(&self) -> usize {
        self.pools
            .values()
            .map(|p| p.socks.iter().flatten().count())
            .sum()
    }

    /// Sends `bytes` (a query with its ID in the first two bytes) to `addr` for `token`.
    /// Err: the engine should count a transport failure for it.
    pub fn send(
        &mut self,
        env: &Env<'_>,
        addr: SocketAddr,
        bytes: Vec<u8>,
        token: u64,
    ) -> Result<(), ()> {
        if bytes.len() < 2 {
            return Err(());
        }
        let id = u16::from_be_bytes([bytes[0], bytes[1]]);
        let now = Instant::now();
        let Some(slot) = self.place(env, addr, id, now) else {
            self.no_socket += 1;
            return Err(());
        };
        let pool = self.pools.get_mut(&addr).ok_or(())?;
        let sock = pool.socks[slot as usize].as_mut().ok_or(())?;
        sock.ids.insert(id, token);
        sock.used += 1;
        if sock.used >= env.knobs.upstream_socket_queries
            && !sock.retiring
            && pool.retiring < env.knobs.upstream_sockets
        {
            sock.retiring = true;
            pool.active -= 1;
            pool.retiring += 1;
            self.replaced[0] += 1;
        }
        let gen = sock.gen;
        let fd = sock.fd.clone();
        self.tokens.insert(token, (addr, slot, gen, id));
        let mut r = batch::send_connected(fd.as_raw_fd(), &bytes);
        if matches!(&r, Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED)) {
            // An ICMP error left by an earlier datagram on this socket, reported by this send:
            // the datagram did not go out. Once more.
            r = batch::send_connected(fd.as_raw_fd(), &bytes);
        }
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The socket's buffer is full: send when it has room (the engine's attempt
                // timer bounds the wait).
                tokio::task::spawn_local(async move {
                    let _ = fd
                        .send_when_writable(|| batch::send_connected(fd.as_raw_fd(), &bytes))
                        .await;
                });
                Ok(())
            }
            Err(e) => {
                tracing::debug!("upstream {addr} over UDP: {e}");
                self.send_errors += 1;
                self.done(token);
                Err(())
            }
        }
    }

    /// A slot in `addr`'s pool for a query with ID `id`.
    fn place(&mut self, env: &Env<'_>, addr: SocketAddr, id: u16, now: Instant) -> Option<u32> {
        let lifetime = env.knobs.upstream_socket_lifetime;
        let max = env.knobs.upstream_sockets;
        // An idle socket (no query in flight: the ID is free there), at random.
        loop {
            let pool = self.pools.entry(addr).or_default();
            if pool.idle.is_empty() {
                break;
            }
            let n = pool.idle.len();
            let i = self.random(n);
            let pool = self.pools.get_mut(&addr)?;
            let slot = pool.idle.swap_remove(i);
            let Some(sock) = pool.socks[slot as usize].as_ref() else {
                continue;
            };
            if sock.retiring {
                // Not reached (a retiring socket closes when its last query is done); closed
                // here rather than kept open unused.
                self.close(addr, slot);
                continue;
            }
            if now.duration_since(sock.born) >= lifetime {
                self.replaced[1] += 1;
                self.close(addr, slot);
                continue;
            }
            return Some(slot);
        }
        // A new socket while the pool has room.
        if self.pools.get(&addr).is_some_and(|p| p.active < max) {
            match self.open_socket(env, addr, now) {
                Ok(slot) => return Some(slot),
                // Counted in no_socket when no open socket can take the query either; debug
                // only, since it repeats for every query while descriptors run out.
                Err(e) => tracing::debug!("upstream {addr} over UDP: cannot open a socket: {e}"),
            }
        }
        // A random active socket on which the ID is free.
        let r = self.random(usize::MAX);
        let pool = self.pools.get(&addr)?;
        let n = pool.socks.len();
        (0..n)
            .map(|k| (r + k) % n)
            .find(|&i| {
                pool.socks[i]
                    .as_ref()
                    .is_some_and(|s| !s.retiring && !s.ids.contains_key(&id))
            })
            .map(|i| i as u32)
    }

    fn open_socket(
        &mut self,
        env: &Env<'_>,
        addr: SocketAddr,
        now: Instant,
    ) -> std::io::Result<u32> {
        let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        s.set_nonblocking(true)?;
        let local: SocketAddr = if addr.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        // Port 0: the kernel draws a random free port from the ephemeral range.
        s.bind(&local.into())?;
        s.connect(&addr.into())?;
        let fd = Rc::new(UdpFd::new(std::net::UdpSocket::from(s))?);
        self.gen = self.gen.wrapping_add(1);
        let gen = self.gen;
        let pool = self.pools.entry(addr).or_default();
        let slot = match pool.free.pop() {
            Some(s) => s,
            None => {
                pool.socks.push(None);
                (pool.socks.len() - 1) as u32
            }
        };
        let task = tokio::task::spawn_local(read_answers(
            env.state.clone(),
            env.recv.clone(),
            fd.clone(),
            addr,
            slot,
            gen,
        ));
        pool.socks[slot as usize] = Some(PooledSocket {
            fd,
            gen,
            ids: FxHashMap::default(),
            used: 0,
            born: now,
            retiring: false,
            task: task.abort_handle(),
        });
        pool.active += 1;
        self.opened += 1;
        Ok(slot)
    }

    fn close(&mut self, addr: SocketAddr, slot: u32) {
        let Some(pool) = self.pools.get_mut(&addr) else {
            return;
        };
        if let Some(s) = pool.socks.get_mut(slot as usize).and_then(Option::take) {
            s.task.abort();
            if s.retiring {
                pool.retiring -= 1;
            } else {
                pool.active -= 1;
            }
            pool.idle.retain(|&i| i != slot);
            pool.free.push(slot);
        }
    }

    /// The engine no longer waits on `token`: its ID is free on its socket again.
    pub fn done(&mut self, token: u64) {
        let Some((addr, slot, gen, id)) = self.tokens.remove(&token) else {
            return;
        };
        let Some(pool) = self.pools.get_mut(&addr) else {
            return;
        };
        let Some(s) = pool.socks.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        if s.gen != gen || s.ids.get(&id) != Some(&token) {
            return;
        }
        s.ids.remove(&id);
        if s.ids.is_empty() {
            if s.retiring {
                self.close(addr, slot);
            } else {
                pool.idle.push(slot);
            }
        }
    }

    /// The token a datagram on socket (`addr`, `slot`, `gen`) is handed over with: the query
    /// with its ID on that socket; else any query in flight there (the engine drops it as the
    /// wrong ID and counts it against that upstream); else 0, a token never issued (late).
    pub fn token_for(&self, addr: SocketAddr, slot: u32, gen: u32, bytes: &[u8]) -> u64 {
        let Some(s) = self
            .pools
            .get(&addr)
            .and_then(|p| p.socks.get(slot as usize))
            .and_then(Option::as_ref)
            .filter(|s| s.gen == gen)
        else {
            return 0;
        };
        if bytes.len() >= 2 {
            if let Some(&t) = s.ids.get(&u16::from_be_bytes([bytes[0], bytes[1]])) {
                return t;
            }
        }
        s.ids.values().next().copied().unwrap_or(0)
    }

    /// A socket reported an error (an ICMP unreachable from the upstream, most often): every
    /// query in flight on it failed. Returns their tokens; the socket is replaced.
    pub fn failed(&mut self, addr: SocketAddr, slot: u32, gen: u32, max: usize) -> Vec<u64> {
        let Some(pool) = self.pools.get_mut(&addr) else {
            return Vec::new();
        };
        let room = pool.retiring < max;
        let Some(s) = pool
            .socks
            .get_mut(slot as usize)
            .and_then(Option::as_mut)
            .filter(|s| s.gen == gen)
        else {
            return Vec::new();
        };
        let tokens: Vec<u64> = s.ids.values().copied().collect();
        if !s.retiring && room {
            s.retiring = true;
            pool.active -= 1;
            pool.retiring += 1;
            self.replaced[2] += 1;
            if tokens.is_empty() {
                // Nothing in flight to wait for (an error for an earlier datagram).
                self.close(addr, slot);
            }
        }
        tokens
    }

    /// Twice a second: idle sockets past their lifetime close; pools of upstreams no longer
    /// configured close once empty.
    pub fn sweep(&mut self, knobs: &UdpKnobs, upstreams: &[SocketAddr]) {
        let now = Instant::now();
        let mut close = Vec::new();
        for (&addr, pool) in &self.pools {
            let gone = !upstreams.contains(&addr);
            for &slot in &pool.idle {
                if let Some(s) = &pool.socks[slot as usize] {
                    if gone || now.duration_since(s.born) >= knobs.upstream_socket_lifetime {
                        close.push((addr, slot, !gone));
                    }
                }
            }
        }
        for (addr, slot, aged) in close {
            if aged {
                self.replaced[1] += 1;
            }
            self.close(addr, slot);
        }
        self.pools
            .retain(|a, p| upstreams.contains(a) || p.socks.iter().any(Option::is_some));
    }
}

/// Reads the answers arriving on one pooled socket, a batch per system call, and hands each to
/// the engine with the token [`UdpPools::token_for`] gives. Ends when the socket is closed (the
/// pool aborts this task).
async fn read_answers(
    state: Rc<RefCell<State>>,
    recv: Rc<RefCell<RecvBatch>>,
    fd: Rc<UdpFd>,
    addr: SocketAddr,
    slot: u32,
    gen: u32,
) {
    loop {
        // An ICMP unreachable sets the socket's error without making it readable (EPOLLERR
        // alone), so wait for either.
        let Ok(mut ready) = fd.ready(Interest::READABLE | Interest::ERROR).await else {
            return;
        };
        if ready.ready().is_error() {
            // Take the error (SO_ERROR clears it) and tokio's error readiness with it.
            let err = fd.socket().take_error().ok().flatten();
            ready.clear_ready_matching(Ready::ERROR);
            if let Some(e) = err {
                socket_failed(&state, addr, slot, gen, &e);
            }
            if !ready.ready().is_readable() {
                continue;
            }
        }
        let mut rb = recv.borrow_mut();
        let cap = rb.capacity();
        // As the listeners: one recvmmsg; a short batch clears tokio's readiness.
        let mut got = 0;
        let r = ready.try_io(|s| {
            got = rb.recv(s.as_raw_fd(), false)?;
            if got < cap {
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        });
        let mut st = state.borrow_mut();
        if got > 0 {
            st.begin_batch();
            for i in 0..got {
                let bytes = rb.bytes(i);
                let token = st.udp.token_for(addr, slot, gen, bytes);
                st.response(token, Transport::Udp, bytes);
            }
            st.end_batch_deferred();
        }
        match r {
            Ok(Err(e)) if got == 0 && e.kind() != std::io::ErrorKind::WouldBlock => {
                // The error reported by the read itself.
                drop(st);
                drop(rb);
                socket_failed(&state, addr, slot, gen, &e);
            }
            _ => {}
        }
    }
}

/// An error queued on a pooled socket: an ICMP unreachable from the upstream, most often.
/// Every query waiting on this socket failed (a network error, not a timeout).
fn socket_failed(
    state: &Rc<RefCell<State>>,
    addr: SocketAddr,
    slot: u32,
    gen: u32,
    e: &std::io::Error,
) {
    tracing::debug!("upstream {addr} over UDP: {e}");
    let mut st = state.borrow_mut();
    let max = st.settings.udp.upstream_sockets;
    let tokens = st.udp.failed(addr, slot, gen, max);
    for t in tokens {
        st.failure(t);
    }
}

/// A query for an upstream TCP connection.
#[derive(Debug)]
pub struct TcpQuery {
    pub bytes: Vec<u8>,
    pub token: u64,
    /// Sent once already, on a connection the upstream closed before answering it: it fails,
    /// not goes again, if this one closes too.
    pub resent: bool,
}

/// Where queries for one upstream TCP connection are queued.
pub type TcpQueue = mpsc::Sender<TcpQuery>;

/// Opens the pooled connection to an upstream address; returns its queue.
/// `settings` are the worker's (its `State` is borrowed by the caller).
pub fn connect_tcp(
    state: Rc<RefCell<State>>,
    settings: &crate::config::Settings,
    addr: SocketAddr,
) -> TcpQueue {
    let bounds = TcpBounds {
        connect: settings.tcp_upstream_connect,
        idle: settings.tcp_upstream_idle,
    };
    let (tx, rx) = mpsc::channel(settings.tcp_upstream_queued.max(1));
    tokio::task::spawn_local(tcp_connection(state, addr, bounds, tx.clone(), rx));
    tx
}

/// The queries waiting on one connection, by ID.
type Waiting = Rc<RefCell<HashMap<u16, TcpQuery>>>;

async fn tcp_connection(
    state: Rc<RefCell<State>>,
    addr: SocketAddr,
    bounds: TcpBounds,
    me: TcpQueue,
    mut rx: mpsc::Receiver<TcpQuery>,
) {
    let stream = match tokio::time::timeout(bounds.connect, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        other => {
            tracing::debug!("upstream {addr} over TCP: cannot connect: {other:?}");
            rx.close();
            let mut failed = Vec::new();
            while let Ok(q) = rx.try_recv() {
                failed.push(q.token);
            }
            let mut st = state.borrow_mut();
            st.tcp_pool_remove(addr, &me);
            for token in failed {
                st.failure(token);
            }
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let waiting: Waiting = Rc::default();
    let w2 = waiting.clone();
    let st2 = state.clone();
    // The writer stops when told (the reader is done) or when a write fails, and hands the
    // queue back: what is still queued was never sent, and goes on another connection or
    // fails (dropped with the task, it waited out its attempt timeout).
    let stop = Rc::new(tokio::sync::Notify::new());
    let stop2 = stop.clone();
    let writer = tokio::task::spawn_local(async move {
        loop {
            let q = tokio::select! {
                q = rx.recv() => match q {
                    Some(q) => q,
                    None => break,
                },
                () = stop2.notified() => break,
            };
            if q.bytes.len() < 2 || q.bytes.len() > usize::from(u16::MAX) {
                st2.borrow_mut().failure(q.token);
                continue;
            }
            let id = u16::from_be_bytes([q.bytes[0], q.bytes[1]]);
            let mut framed = Vec::with_capacity(q.bytes.len() + 2);
            framed.extend_from_slice(&(q.bytes.len() as u16).to_be_bytes());
            framed.extend_from_slice(&q.bytes);
            // Two queries with one ID on one connection could not be told apart: the older
            // one fails now rather than take the newer one's answer.
            let old = w2.borrow_mut().insert(id, q);
            if let Some(old) = old {
                st2.borrow_mut().failure(old.token);
            }
            let written = tokio::select! {
                r = wr.write_all(&framed) => r.is_ok(),
                () = stop2.notified() => false,
            };
            if !written {
                break;
            }
        }
        let _ = wr.shutdown().await;
        rx
    });
    let (why, answered) = read_frames(&state, rd, &waiting, bounds.idle).await;
    tracing::debug!(
        "upstream {addr} over TCP: connection closed: {}",
        why.as_str()
    );
    stop.notify_one();
    let unsent: Vec<TcpQuery> = match writer.await {
        Ok(mut rx) => {
            rx.close();
            std::iter::from_fn(|| rx.try_recv().ok()).collect()
        }
        Err(_) => Vec::new(),
    };
    let sent: Vec<TcpQuery> = waiting.borrow_mut().drain().map(|(_, q)| q).collect();
    let mut st = state.borrow_mut();
    st.tcp_pool_remove(addr, &me);
    let progress = why == Closed::Clean && answered > 0;
    let unsent = unsent.into_iter().map(|q| (!q.resent || progress, q));
    for (resend, q) in sent
        .into_iter()
        .map(|q| (why == Closed::Clean && (answered > 0 || !q.resent), q))
        .chain(unsent)
    {
        // The upstream closed the connection cleanly, between messages, with this query
        // unanswered: a server may close a connection at any time (RFC 7766 6.2.3; NSD after
        // `tcp-query-count` queries, or at its `tcp-timeout`), so a query pipelined behind
        // the last one it answered goes again on a new connection (CoreDNS retries a closed
        // cached connection the same way, `ErrCachedClosed`). Again after every connection
        // that answered something (progress: a server answering one query per connection
        // answers them all in turn), once after one that answered nothing; and only while
        // the engine still waits for it. A broken frame or a silence fails it. A query never
        // sent on this connection goes on another one, once (again after progress).
        if resend && st.fwd.awaits(q.token) {
            let token = q.token;
            let again = TcpQuery { resent: true, ..q };
            if !st.tcp_send(state.clone(), addr, again) {
                st.failure(token);
            }
        } else {
            st.failure(q.token);
        }
    }
}

/// Why a pooled upstream connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    /// The upstream closed or reset it between messages (where a length would start).
    Clean,
    /// Closed or broken inside a length or a message.
    CutShort,
    /// Idle with no query waiting.
    Idle,
    /// Queries waiting and nothing came in time.
    Silent,
}

impl Closed {
    fn as_str(self) -> &'static str {
        match self {
            Closed::Clean => "closed by the upstream between messages",
            Closed::CutShort => "frame cut short",
            Closed::Idle => "idle",
            Closed::Silent => "no answer in time",
        }
    }
}

/// Reads whole frames until the connection ends, is idle, or breaks framing; says why.
async fn read_frames(
    state: &Rc<RefCell<State>>,
    mut rd: tokio::net::tcp::OwnedReadHalf,
    waiting: &Waiting,
    idle_for: Duration,
) -> (Closed, u64) {
    let mut buf = vec![0u8; 65535];
    let mut answered = 0;
    loop {
        // Forget queries the engine stopped waiting for (timed out, answered over UDP...).
        {
            let st = state.borrow();
            waiting.borrow_mut().retain(|_, q| st.fwd.awaits(q.token));
        }
        let idle = if waiting.borrow().is_empty() {
            idle_for
        } else {
            idle_for * 3
        };
        let mut len = [0u8; 2];
        // The first byte alone: an end of the stream here, or a reset (a server closing with
        // our later queries unread resets the connection), is a close between messages; one
        // after it (inside the length) is not.
        match tokio::time::timeout(idle, rd.read(&mut len[..1])).await {
            Ok(Ok(1)) => {}
            Ok(Ok(_) | Err(_)) => return (Closed::Clean, answered),
            Err(_) if waiting.borrow().is_empty() => return (Closed::Idle, answered),
            Err(_) => return (Closed::Silent, answered),
        }
        match tokio::time::timeout(idle_for, rd.read_exact(&mut len[1..])).await {
            Ok(Ok(_)) => {}
            _ => return (Closed::CutShort, answered),
        }
        let n = usize::from(u16::from_be_bytes(len));
        match tokio::time::timeout(idle_for, rd.read_exact(&mut buf[..n])).await {
            Ok(Ok(_)) => {}
            _ => return (Closed::CutShort, answered),
        }
        let token = if n >= 2 {
            waiting
                .borrow_mut()
                .remove(&u16::from_be_bytes([buf[0], buf[1]]))
                .map(|q| q.token)
        } else {
            None
        };
        let mut st = state.borrow_mut();
        match token {
            Some(token) => {
                answered += 1;
                st.response(token, Transport::Tcp, &buf[..n]);
            }
            // An ID no query on this connection has: late, or not ours. Token 0 is never
            // issued, so the engine drops it and counts it as late.
            None => st.response(0, Transport::Tcp, &buf[..n]),
        }
    }
}
