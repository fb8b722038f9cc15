//! One worker: its sockets, its engine, and the local tasks that feed the engine.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnspect_core::engine::admission::SharedAdmission;
use dnspect_core::engine::event::EventKind;
use dnspect_core::engine::forwarder::{rcode_answer, ClientId, Forwarder, Input, Output};
use dnspect_core::engine::Transport;
use dnspect_core::wire::Rcode;
use std::os::fd::AsRawFd;

use tokio::io::Interest;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};

use super::batch::{RecvBatch, SendBatch};
use super::metrics::Metrics;
use super::udp_fd::UdpFd;
use super::{tcp, upstream, Control, RunningGuard, Shared};
use crate::config::Settings;

/// Where a client's answer goes.
#[derive(Debug)]
pub(super) enum Reply {
    Udp {
        socket: usize,
        addr: SocketAddr,
    },
    /// A reserved place in the connection's bounded answer queue.
    Tcp(mpsc::OwnedPermit<tcp::Answer>),
}

#[derive(Debug)]
struct Pending {
    reply: Reply,
    started: Instant,
    tcp: bool,
    /// The client's address and port: its admission count, and its name in the query log.
    peer: SocketAddr,
    /// Counted as waiting in the admission table: its answer takes the count back.
    admitted: bool,
}

/// The worker's state, borrowed by its tasks between awaits.
pub struct State {
    pub fwd: Forwarder,
    /// Per-client limits, checked before the engine sees a query: one table for all workers
    /// (reloaded once by the main thread), on the clock of `Shared::epoch`.
    admission: Arc<SharedAdmission>,
    admission_epoch: Instant,
    epoch: Instant,
    pub(super) settings: Settings,
    /// The client UDP listeners, each with its answers waiting for the next `sendmmsg`.
    listeners: Vec<Listener>,
    /// While a loop hands a batch of datagrams to the engine: answers wait in the listeners'
    /// queues until the batch ends (one `sendmmsg`); otherwise each input's answers go out at once.
    batching: bool,
    /// The time of the batch being handed over (see [`State::begin_batch`]).
    clock: Option<Instant>,
    /// The worker's receive buffers, shared by its receive loops.
    recv: Rc<RefCell<RecvBatch>>,
    /// The pooled upstream UDP sockets.
    pub(super) udp: upstream::UdpPools,
    clients: Vec<Option<Pending>>,
    free: Vec<u32>,
    gens: Vec<u32>,
    pub metrics: Metrics,
    wake: Option<Duration>,
    timer: Rc<Notify>,
    /// Wakes the task that sends the answers of upstream batches (see
    /// [`State::end_batch_deferred`]); `flush_queued` while it is due to run.
    flusher: Rc<Notify>,
    flush_queued: bool,
    me: Option<std::rc::Weak<RefCell<State>>>,
    /// One reused, pipelined TCP connection per upstream address (RFC 7766 6.2.1).
    /// Keyed by address and TLS name: a TLS upstream's connection is its own.
    tcp_pool: std::collections::HashMap<upstream::StreamKey, upstream::TcpQueue>,
}

/// A client UDP listener and its answers not yet sent.
struct Listener {
    fd: Rc<UdpFd>,
    out: Vec<(SocketAddr, Vec<u8>)>,
    send: SendBatch,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Listener({:?}, {} queued)", self.fd, self.out.len())
    }
}

impl State {
    pub fn now(&self) -> Duration {
        self.instant().saturating_duration_since(self.epoch)
    }

    /// The clock: read once per batch while a loop hands a batch to the engine (the datagrams
    /// of one `recvmmsg` arrived together), else now.
    fn instant(&self) -> Instant {
        self.clock.unwrap_or_else(Instant::now)
    }

    /// A loop starts handing a batch to the engine: answers wait for one `sendmmsg` at its end,
    /// and the clock is read once.
    pub(super) fn begin_batch(&mut self) {
        self.batching = true;
        self.clock = Some(Instant::now());
    }

    /// The batch is handed over: send its answers.
    pub(super) fn end_batch(&mut self) {
        self.batching = false;
        self.clock = None;
        self.flush();
    }

    /// A batch of upstream answers is handed over: its client answers are sent once the other
    /// sockets made ready by the same wake-up have been read (the flush task runs after the
    /// tasks already woken), so answers from many upstream sockets share one `sendmmsg`.
    pub(super) fn end_batch_deferred(&mut self) {
        self.batching = false;
        self.clock = None;
        if !self.flush_queued && self.listeners.iter().any(|l| !l.out.is_empty()) {
            self.flush_queued = true;
            self.flusher.notify_one();
        }
    }

    /// Before a batch of client queries: the answers of upstream batches still waiting for the
    /// flush task go out first. They are done, and the client batch may take a while (each of
    /// its misses sends an upstream query); the flush task then finds nothing to send.
    fn flush_deferred(&mut self) {
        if self.flush_queued {
            self.flush();
        }
    }

    /// Queues a query on the pooled TCP connection to `addr`, opening one when there is none
    /// (or it closed). False: it could not be queued (the queue is full), and the engine
    /// should count a transport failure.
    pub fn tcp_send(
        &mut self,
        me: Rc<RefCell<State>>,
        key: upstream::StreamKey,
        q: upstream::TcpQuery,
    ) -> bool {
        let live = self.tcp_pool.get(&key).filter(|c| !c.is_closed());
        let queue = match live {
            Some(c) => c.clone(),
            None => {
                let c = upstream::connect_tcp(me, &self.settings, key.clone());
                self.tcp_pool.insert(key.clone(), c.clone());
                c
            }
        };
        match queue.try_send(q) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!("upstream {} over the stream: {e}", key.0);
                false
            }
        }
    }

    /// Forgets the pooled connection to `addr` if it is still `queue` (not a newer one).
    pub fn tcp_pool_remove(&mut self, key: &upstream::StreamKey, queue: &upstream::TcpQueue) {
        if self
            .tcp_pool
            .get(key)
            .is_some_and(|q| q.same_channel(queue))
        {
            self.tcp_pool.remove(key);
        }
    }

    fn client(&mut self, p: Pending) -> ClientId {
        let slot = match self.free.pop() {
            Some(s) => {
                self.clients[s as usize] = Some(p);
                s
            }
            None => {
                self.clients.push(Some(p));
                self.gens.push(0);
                (self.clients.len() - 1) as u32
            }
        };
        self.gens[slot as usize] = self.gens[slot as usize].wrapping_add(1);
        ClientId(u64::from(self.gens[slot as usize]) << 32 | u64::from(slot))
    }

    /// The address and port of a waiting client, by its engine token (the query log names
    /// clients by address; the engine knows only the token).
    fn client_addr(&self, id: u64) -> Option<SocketAddr> {
        let (slot, gen) = ((id & 0xffff_ffff) as usize, (id >> 32) as u32);
        if self.gens.get(slot) != Some(&gen) {
            return None;
        }
        self.clients.get(slot)?.as_ref().map(|p| p.peer)
    }

    /// Clients waiting for an answer: the slots in use.
    fn waiting(&self) -> usize {
        self.clients.len() - self.free.len()
    }

    /// A waiting client, by its engine token.
    fn pending_mut(&mut self, id: ClientId) -> Option<&mut Pending> {
        let (slot, gen) = ((id.0 & 0xffff_ffff) as usize, (id.0 >> 32) as u32);
        if self.gens.get(slot) != Some(&gen) {
            return None;
        }
        self.clients.get_mut(slot)?.as_mut()
    }

    fn take_client(&mut self, id: ClientId) -> Option<Pending> {
        let slot = (id.0 & 0xffff_ffff) as usize;
        let gen = (id.0 >> 32) as u32;
        if self.gens.get(slot) != Some(&gen) {
            return None;
        }
        let p = self.clients.get_mut(slot)?.take()?;
        self.free.push(slot as u32);
        if p.admitted {
            self.admission.done(p.peer.ip());
        }
        Some(p)
    }

    pub(super) fn allowed(&self, addr: SocketAddr) -> bool {
        self.settings.allow.iter().any(|n| n.contains(addr.ip()))
    }

    /// A query the server will not take (outside the allow list, over a per-client limit):
    /// REFUSED, or nothing when configured to drop (and always nothing for what is not a query).
    fn turn_away(&mut self, bytes: &[u8], reply: Reply, tcp: bool, drop: bool) {
        if !drop && bytes.len() >= 12 && bytes[2] & 0x80 == 0 {
            let a = rcode_answer(bytes, Rcode::REFUSED, self.settings.engine.max_udp_payload);
            if self.send(reply, a, self.instant()) {
                self.metrics.responses[usize::from(tcp)][usize::from(Rcode::REFUSED.0)] += 1;
            }
        }
    }

    /// A query from a client.
    pub(super) fn query(&mut self, bytes: &[u8], reply: Reply, peer: SocketAddr, tcp: bool) {
        self.metrics.requests[usize::from(tcp)] += 1;
        if !self.allowed(peer) {
            self.metrics.refused_acl += 1;
            let drop = self.settings.refuse_drop;
            self.turn_away(bytes, reply, tcp, drop);
            if self.settings.log_queries {
                tracing::info!(target: "query", "refused {peer}: not in the allow list");
            }
            return;
        }
        let now = self.now();
        let at = self
            .instant()
            .saturating_duration_since(self.admission_epoch);
        // The rate applies to every query, cache hits included (no lock without a rate
        // limit). The waiting limit applies only to a query about to wait on an upstream: the
        // engine asks for it after its cache lookup, so a hit never takes that lock.
        if let Err(why) = self.admission.admit_rate(at, peer.ip()) {
            self.limited(bytes, reply, peer, tcp, why);
            return;
        }
        // The engine answers every query it takes by its deadline, or says it dropped it (no
        // header, QR set): either way the slot is freed in `drain`.
        let id = self.client(Pending {
            reply,
            started: self.instant(),
            tcp,
            peer,
            admitted: false,
        });
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        // None: answered at once, never asked.
        let mut verdict = None;
        let admission = &self.admission;
        self.fwd.handle_query(now, id, transport, bytes, || {
            let v = admission.admit_waiting(at, peer.ip());
            verdict = Some(v);
            v.is_ok()
        });
        match verdict {
            // Waiting on an upstream: its answer takes the count back.
            Some(Ok(())) => {
                if let Some(p) = self.pending_mut(id) {
                    p.admitted = true;
                }
            }
            // The engine keeps nothing of it. Its query-log lines (written while the slot
            // still names the client), then the slot is freed and the query turned away.
            Some(Err(why)) => {
                self.drain_outputs();
                if let Some(p) = self.take_client(id) {
                    self.limited(bytes, p.reply, peer, tcp, why);
                }
            }
            None => {}
        }
        self.drain();
    }

    /// A query over a per-client limit: counted, answered REFUSED (or dropped) and logged.
    fn limited(
        &mut self,
        bytes: &[u8],
        reply: Reply,
        peer: SocketAddr,
        tcp: bool,
        why: dnspect_core::engine::admission::Refusal,
    ) {
        self.metrics.limited[why as usize] += 1;
        let drop = self.settings.limit_drop();
        self.turn_away(bytes, reply, tcp, drop);
        if self.settings.log_queries {
            tracing::info!(target: "query", "limited {peer}: over its {} limit", why.as_str());
        }
    }

    /// Bytes that arrived for the upstream transmit `token` (on its UDP socket, or with its ID
    /// on its TCP connection).
    pub fn response(&mut self, token: u64, transport: Transport, bytes: &[u8]) {
        let now = self.now();
        self.fwd.handle(Input::Response {
            now,
            token,
            transport,
            bytes,
        });
        self.drain();
    }

    pub fn failure(&mut self, token: u64) {
        let now = self.now();
        self.fwd.handle(Input::Failure { now, token });
        self.drain();
    }

    /// A network error the shell can word (a TLS handshake's): the EDE text says it.
    pub fn failure_why(&mut self, token: u64, why: &str) {
        let now = self.now();
        self.fwd.handle(Input::FailureWhy { now, token, why });
        self.drain();
    }

    fn tick(&mut self) {
        let now = self.now();
        self.fwd.handle(Input::Tick { now });
        self.drain();
    }

    /// Sends an answer. True when it is sent now and the caller counts it; a TCP answer is
    /// counted by its connection once written, or as dropped.
    fn send(&mut self, reply: Reply, bytes: Vec<u8>, started: Instant) -> bool {
        match reply {
            Reply::Udp { socket, addr } => {
                let Some(l) = self.listeners.get_mut(socket) else {
                    return false;
                };
                l.out.push((addr, bytes));
                if l.out.len() >= l.send.capacity() {
                    self.flush_listener(socket);
                }
                true
            }
            Reply::Tcp(permit) => {
                // The place was reserved when the query was read; only a closed connection
                // loses the answer.
                if permit.send(tcp::Answer { bytes, started }).is_closed() {
                    self.metrics.tcp_answers_dropped[tcp::DROP_CLOSED] += 1;
                }
                false
            }
        }
    }

    /// Sends the answers waiting for `sendmmsg` on every listener.
    pub(super) fn flush(&mut self) {
        for i in 0..self.listeners.len() {
            if !self.listeners[i].out.is_empty() {
                self.flush_listener(i);
            }
        }
    }

    fn flush_listener(&mut self, i: usize) {
        let Some(l) = self.listeners.get_mut(i) else {
            return;
        };
        let fd = l.fd.as_raw_fd();
        let mut sent = 0;
        while sent < l.out.len() {
            match l.send.send(fd, &l.out[sent..]) {
                Ok(n) => sent += n.max(1),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // The socket's buffer is full: the rest go out when it has room.
                    let rest: Vec<_> = l.out.drain(sent..).collect();
                    tokio::task::spawn_local(send_later(l.fd.clone(), rest));
                    break;
                }
                Err(e) => {
                    // This answer cannot be sent (to this address); the others still can.
                    tracing::debug!("UDP answer to {}: {e}", l.out[sent].0);
                    self.metrics.udp_send_errors += 1;
                    sent += 1;
                }
            }
        }
        l.out.clear();
    }

    /// Drains the engine's outputs.
    fn drain(&mut self) {
        self.drain_outputs();
        if !self.batching {
            self.flush();
        }
    }

    fn drain_outputs(&mut self) {
        for _ in 0..1_000_000 {
            match self.fwd.poll() {
                Output::Answer(t) => {
                    if let Some(p) = self.take_client(t.client) {
                        let rcode = usize::from(t.bytes.get(3).map_or(0, |b| b & 0xf));
                        if self.send(p.reply, t.bytes, p.started) {
                            self.metrics.responses[usize::from(p.tcp)][rcode] += 1;
                            let took = self.instant().saturating_duration_since(p.started);
                            self.metrics.observe(took);
                        }
                    }
                }
                Output::Query(t) => {
                    let u = t.upstream;
                    {
                        let Some(&addr) = self.settings.upstreams.get(usize::from(u.0)) else {
                            let now = self.now();
                            self.fwd.handle(Input::Failure {
                                now,
                                token: t.token,
                            });
                            continue;
                        };
                        let Some(me) = self.me.as_ref().and_then(std::rc::Weak::upgrade) else {
                            continue;
                        };
                        match t.transport {
                            Transport::Udp => {
                                let env = upstream::Env {
                                    state: &me,
                                    recv: &self.recv,
                                    knobs: &self.settings.udp,
                                };
                                if self.udp.send(&env, addr, t.bytes, t.token).is_err() {
                                    let now = self.now();
                                    self.fwd.handle(Input::Failure {
                                        now,
                                        token: t.token,
                                    });
                                }
                            }
                            Transport::Tcp => {
                                let q = upstream::TcpQuery {
                                    bytes: t.bytes,
                                    token: t.token,
                                    resent: false,
                                };
                                let tls = self
                                    .settings
                                    .upstream_tls
                                    .get(usize::from(u.0))
                                    .cloned()
                                    .flatten();
                                if !self.tcp_send(me, (addr, tls), q) {
                                    let now = self.now();
                                    self.fwd.handle(Input::Failure {
                                        now,
                                        token: t.token,
                                    });
                                }
                            }
                        }
                    }
                }
                Output::UpstreamDone { token } => self.udp.done(token),
                Output::ClientDropped { client } => {
                    if self.take_client(client).is_some() {
                        self.metrics.malformed += 1;
                    }
                }
                Output::Event(e) => {
                    // A forwarding loop is logged whether the query log is on or not: the
                    // engine emits it even with events off (`forwarder::loops`).
                    if matches!(e.kind, EventKind::LoopDetected { .. }) {
                        let line = e.line(|c| match self.client_addr(c) {
                            Some(a) => a.to_string(),
                            None => format!("#{c}"),
                        });
                        tracing::error!("{line}");
                    } else if self.settings.log_queries {
                        // Events come before the answer that frees the client's slot, so a
                        // client named in one is still waiting; `#token` if not.
                        let line = e.line(|c| match self.client_addr(c) {
                            Some(a) => a.to_string(),
                            None => format!("#{c}"),
                        });
                        tracing::info!(target: "query", "{line}");
                    }
                }
                Output::Wake(w) => {
                    if w != self.wake {
                        self.wake = w;
                        self.timer.notify_one();
                    }
                    break;
                }
            }
        }
    }
}

/// The worker thread's body.
#[allow(clippy::too_many_arguments)]
pub fn run(
    index: usize,
    settings: Settings,
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<std::net::TcpListener>,
    shared: Arc<Shared>,
    cache: Arc<dnspect_core::cache::SharedCache>,
    admission: Arc<SharedAdmission>,
    mut stop: watch::Receiver<bool>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let _running = RunningGuard::new(shared.clone(), index);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("worker {index}: cannot start a runtime: {e}");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let mut seed = [0u8; 32];
        if getrandom::fill(&mut seed).is_err() {
            tracing::error!("worker {index}: no OS randomness for upstream IDs; refusing to run");
            return;
        }
        let udp: Vec<Rc<UdpFd>> = match udp
            .into_iter()
            .map(UdpFd::new)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(v) => v.into_iter().map(Rc::new).collect(),
            Err(e) => {
                tracing::error!("worker {index}: {e}");
                return;
            }
        };
        let batch = settings.udp.batch;
        let listeners = udp
            .iter()
            .map(|fd| Listener {
                fd: fd.clone(),
                out: Vec::with_capacity(batch),
                send: SendBatch::new(batch),
            })
            .collect();
        let recv = Rc::new(RefCell::new(RecvBatch::new(batch)));
        let pool_seed = u64::from_le_bytes([
            seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7],
        ]);
        // The engine's seed is drawn again: the pool's spreading RNG must not reveal it.
        if getrandom::fill(&mut seed).is_err() {
            tracing::error!("worker {index}: no OS randomness for upstream IDs; refusing to run");
            return;
        }
        let timer = Rc::new(Notify::new());
        let flusher = Rc::new(Notify::new());
        let state = Rc::new(RefCell::new(State {
            fwd: Forwarder::with_cache(settings.engine.clone(), seed, cache)
                .with_loop_table(shared.loops.clone()),
            admission,
            admission_epoch: shared.epoch,
            epoch: Instant::now(),
            settings: settings.clone(),
            listeners,
            batching: false,
            clock: None,
            recv: recv.clone(),
            udp: upstream::UdpPools::new(pool_seed),
            clients: Vec::new(),
            free: Vec::new(),
            gens: Vec::new(),
            metrics: Metrics::default(),
            wake: None,
            timer: timer.clone(),
            flusher: flusher.clone(),
            flush_queued: false,
            me: None,
            tcp_pool: std::collections::HashMap::new(),
        }));
        state.borrow_mut().me = Some(Rc::downgrade(&state));
        // Start the engine's clock: probes and other timers begin now, not at the first query.
        state.borrow_mut().tick();
        let mut udp_tasks = Vec::new();
        let mut tasks = Vec::new();
        for (i, s) in udp.iter().enumerate() {
            udp_tasks.push(tokio::task::spawn_local(udp_loop(
                state.clone(),
                recv.clone(),
                s.clone(),
                i,
            )));
        }
        for l in tcp {
            match TcpListener::from_std(l) {
                Ok(l) => tasks.push(tokio::task::spawn_local(tcp::accept(
                    state.clone(),
                    l,
                    shared.clone(),
                ))),
                Err(e) => tracing::error!("worker {index}: {e}"),
            }
        }
        tokio::task::spawn_local(timer_loop(state.clone(), timer));
        tokio::task::spawn_local(flush_loop(state.clone(), flusher));
        // Publish metrics and the heartbeat twice a second; apply reloads; wait for the stop
        // signal.
        let mut publish = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = publish.tick() => {
                    shared.beat(index);
                    {
                        let mut st = state.borrow_mut();
                        let st = &mut *st;
                        st.udp.sweep(&st.settings.udp, &st.settings.upstreams);
                    }
                    publish_snapshot(&state, &shared, index);
                }
                Some(c) = control.recv() => match c {
                    Control::Reload(s) => {
                        let mut st = state.borrow_mut();
                        st.fwd.reconfigure(s.engine.clone());
                        st.settings = *s;
                        // Attempts abandoned by the reload are retried now, not at the next
                        // input; their UDP tasks stop through UpstreamDone.
                        st.tick();
                    }
                    Control::Cache(req) => {
                        let mut st = state.borrow_mut();
                        let now = st.now();
                        let reply = super::admin::answer(&mut st.fwd, now, req.op);
                        // The engine may have logged the flush.
                        st.drain();
                        let _ = req.reply.send(reply);
                    }
                },
                _ = stop.changed() => break,
            }
        }
        stop_and_drain(index, &state, &shared, &udp, udp_tasks, tasks).await;
    });
}

/// Where a UDP listener is connected to leave its SO_REUSEPORT group: a connected UDP socket
/// only matches datagrams from that address, so the kernel steers every other source to the
/// rest of the group (or, if none, answers with port unreachable), while the datagrams already
/// in its receive queue stay readable. Port 9 on loopback: privileged (no unprivileged local
/// process can send from it), never a source from outside (martian), and not port 0 (which
/// `connect` would refuse).
fn leave_address(local: SocketAddr) -> Option<SocketAddr> {
    if local.ip().is_unspecified() {
        // Connecting would also bind the socket to one local address (the route's source),
        // so answers to other addresses would leave from the wrong one.
        return None;
    }
    Some(match local {
        SocketAddr::V4(_) => SocketAddr::from(([127, 0, 0, 1], 9)),
        SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 9)),
    })
}

/// SIGTERM, in phases, each logged: (1) stop taking new queries: close the TCP listeners and
/// take the UDP sockets out of the reuseport group; (2) read and answer every datagram already
/// queued; (3) wait for the queries in flight, up to the drain deadline; (4) stop.
async fn stop_and_drain(
    index: usize,
    state: &Rc<RefCell<State>>,
    shared: &Shared,
    udp: &[Rc<UdpFd>],
    udp_tasks: Vec<tokio::task::JoinHandle<()>>,
    tcp_tasks: Vec<tokio::task::JoinHandle<()>>,
) {
    let started = Instant::now();
    let deadline = started + state.borrow().settings.drain;
    let received = |st: &Rc<RefCell<State>>| st.borrow().metrics.requests[0];
    let before = received(state);
    // (1) Closing the listeners: dropping an accept task drops its listener. Connections
    // already accepted keep being served until the end of the drain.
    for t in tcp_tasks {
        t.abort();
    }
    let mut left = 0;
    let mut wildcard = Vec::new();
    for s in udp {
        let Ok(local) = s.local_addr() else {
            continue;
        };
        match leave_address(local) {
            Some(to) => match s.socket().connect(to) {
                Ok(()) => left += 1,
                Err(e) => tracing::error!(
                    "worker {index}: {local}: cannot leave the reuseport group ({e}); it is read until the drain ends"
                ),
            },
            None => wildcard.push(local),
        }
    }
    tracing::info!(
        "worker {index}: drain 1/3: TCP listeners closed, {left} of {} UDP socket(s) out of the reuseport group",
        udp.len()
    );
    if !wildcard.is_empty() {
        tracing::warn!(
            "worker {index}: wildcard listener(s) {wildcard:?} cannot leave the reuseport group without changing their address: they keep answering until the drain ends"
        );
    }
    // (2) The receive loops keep running: they read what the kernel queued before the sockets
    // left the group (and datagrams still on their way in), until 100 ms pass without one.
    let mut last = received(state);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline && quiet_since.elapsed() < Duration::from_millis(100) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        shared.beat(index);
        let now = received(state);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
    tracing::info!(
        "worker {index}: drain 2/3: {} queued datagram(s) read after SIGTERM, {} client(s) waiting for an answer",
        last - before,
        state.borrow().waiting()
    );
    // (3) Queries in flight, up to the deadline.
    while state.borrow().waiting() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        shared.beat(index);
    }
    // The deadline passed with clients waiting: they get SERVFAIL (or a stale answer) now,
    // with the reason, rather than their own timeout: a stub moves to its next server at once.
    let answered = {
        let mut st = state.borrow_mut();
        let now = st.now();
        let n = st.fwd.answer_waiting_now(
            now,
            "dnspect is shutting down: no upstream answer before the drain deadline",
        );
        st.drain();
        n
    };
    // Answers that met a full send buffer are sent by tasks of their own, and TCP answers by
    // their connections' tasks: let them run.
    tokio::time::sleep(Duration::from_millis(20)).await;
    for t in udp_tasks {
        t.abort();
    }
    if answered > 0 {
        tracing::warn!(
            "worker {index}: drain 3/3: deadline reached after {} ms; {answered} client(s) still waiting answered SERVFAIL (or stale) now",
            started.elapsed().as_millis()
        );
    } else {
        tracing::info!(
            "worker {index}: drain 3/3: every query answered, {} ms after SIGTERM",
            started.elapsed().as_millis()
        );
    }
    publish_snapshot(state, shared, index);
}

fn publish_snapshot(state: &Rc<RefCell<State>>, shared: &Shared, index: usize) {
    let mut st = state.borrow_mut();
    let verdict = st.fwd.loop_verdict();
    if let Some(w) = shared.workers.get(index) {
        if let Ok(mut v) = w.loop_verdict.lock() {
            *v = verdict;
        }
        w.upstreams_usable.store(
            st.fwd.upstreams_usable() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        w.upstreams_total.store(
            st.fwd.upstreams_total() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    let mut m = st.metrics.clone();
    m.upstream_udp_open = st.udp.open() as u64;
    m.upstream_udp_opened = st.udp.opened;
    m.upstream_udp_replaced = st.udp.replaced;
    m.upstream_udp_no_socket = st.udp.no_socket;
    m.upstream_udp_send_errors = st.udp.send_errors;
    let snap = m.snapshot(&mut st.fwd);
    if let Ok(mut v) = shared.snapshots.lock() {
        if let Some(x) = v.get_mut(index) {
            *x = snap;
        }
    }
}

async fn flush_loop(state: Rc<RefCell<State>>, notify: Rc<Notify>) {
    loop {
        notify.notified().await;
        let mut st = state.borrow_mut();
        st.flush_queued = false;
        st.flush();
    }
}

async fn timer_loop(state: Rc<RefCell<State>>, notify: Rc<Notify>) {
    loop {
        let wake = state.borrow().wake;
        let now = state.borrow().now();
        match wake {
            Some(w) if w <= now => state.borrow_mut().tick(),
            Some(w) => {
                let _ = tokio::time::timeout(w - now, notify.notified()).await;
            }
            None => notify.notified().await,
        }
    }
}

/// Sends answers that met a full socket buffer, when it has room.
async fn send_later(fd: Rc<UdpFd>, msgs: Vec<(SocketAddr, Vec<u8>)>) {
    let mut send = SendBatch::new(msgs.len().min(super::batch::MAX_BATCH));
    let mut sent = 0;
    // Bounded: each round sends at least one answer, or drops one that cannot be sent.
    for _ in 0..msgs.len() * 2 + 64 {
        if sent >= msgs.len() {
            return;
        }
        match fd
            .send_when_writable(|| send.send(fd.as_raw_fd(), &msgs[sent..]))
            .await
        {
            Ok(n) => sent += n.max(1),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => sent += 1,
        }
    }
}

/// One client UDP listener: wait for readiness, then read a batch per `recvmmsg` and hand each
/// query to the engine; the batch's answers go out together at its end (`sendmmsg`).
async fn udp_loop(
    state: Rc<RefCell<State>>,
    recv: Rc<RefCell<RecvBatch>>,
    fd: Rc<UdpFd>,
    index: usize,
) {
    let reply = |addr| Reply::Udp {
        socket: index,
        addr,
    };
    loop {
        let Ok(mut ready) = fd.ready(Interest::READABLE).await else {
            return;
        };
        let mut rb = recv.borrow_mut();
        let cap = rb.capacity();
        // One recvmmsg. A short batch means the queue was emptied: report WouldBlock to tokio
        // so it clears the readiness (no second, empty read) and keep what was read.
        let mut got = 0;
        let r = ready.try_io(|s| {
            got = rb.recv(s.as_raw_fd(), true)?;
            if got < cap {
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        });
        if got > 0 {
            let mut st = state.borrow_mut();
            st.flush_deferred();
            st.begin_batch();
            for i in 0..got {
                if let Some(peer) = rb.addr(i) {
                    st.query(rb.bytes(i), reply(peer), peer, false);
                }
            }
            st.end_batch();
        }
        // Any other error is one queued on the socket (an ICMP error for an answer, on a
        // listener connected to leave its group): it is consumed by the read; go on.
        drop(r);
    }
}
