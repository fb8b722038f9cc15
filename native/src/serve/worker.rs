//! One worker: its sockets, its engine, and the local tasks that feed the engine.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnspect_core::engine::admission::Admission;
use dnspect_core::engine::forwarder::{rcode_answer, ClientId, Forwarder, Input, Output};
use dnspect_core::engine::Transport;
use dnspect_core::wire::Rcode;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch, Notify};

use super::metrics::Metrics;
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
    /// The client's address, for its admission count.
    peer: std::net::IpAddr,
}

/// The worker's state, borrowed by its tasks between awaits.
pub struct State {
    pub fwd: Forwarder,
    /// Per-client limits, checked before the engine sees a query.
    admission: Admission,
    epoch: Instant,
    pub(super) settings: Settings,
    udp: Vec<Rc<UdpSocket>>,
    clients: Vec<Option<Pending>>,
    free: Vec<u32>,
    gens: Vec<u32>,
    pub metrics: Metrics,
    wake: Option<Duration>,
    timer: Rc<Notify>,
    me: Option<std::rc::Weak<RefCell<State>>>,
    /// One reused, pipelined TCP connection per upstream address (RFC 7766 6.2.1).
    tcp_pool: std::collections::HashMap<SocketAddr, upstream::TcpQueue>,
    /// The task of each UDP upstream query, by token, stopped when the engine is done with it.
    udp_queries: std::collections::HashMap<u64, tokio::task::AbortHandle>,
}

impl State {
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Forgets the pooled connection to `addr` if it is still `queue` (not a newer one).
    pub fn tcp_pool_remove(&mut self, addr: SocketAddr, queue: &upstream::TcpQueue) {
        if self
            .tcp_pool
            .get(&addr)
            .is_some_and(|q| q.same_channel(queue))
        {
            self.tcp_pool.remove(&addr);
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

    /// Clients waiting for an answer: the slots in use.
    fn waiting(&self) -> usize {
        self.clients.len() - self.free.len()
    }

    fn take_client(&mut self, id: ClientId) -> Option<Pending> {
        let slot = (id.0 & 0xffff_ffff) as usize;
        let gen = (id.0 >> 32) as u32;
        if self.gens.get(slot) != Some(&gen) {
            return None;
        }
        let p = self.clients.get_mut(slot)?.take()?;
        self.free.push(slot as u32);
        self.admission.done(p.peer);
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
            if self.send(reply, a, Instant::now()) {
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
        if let Err(why) = self.admission.admit(now, peer.ip()) {
            self.metrics.limited[why as usize] += 1;
            let drop = self.settings.limit_drop();
            self.turn_away(bytes, reply, tcp, drop);
            if self.settings.log_queries {
                tracing::info!(target: "query", "limited {peer}: over its {} limit", why.as_str());
            }
            return;
        }
        // The engine answers every query by its deadline, or says it dropped it (no header,
        // QR set): either way the slot is freed in `drain`.
        let id = self.client(Pending {
            reply,
            started: Instant::now(),
            tcp,
            peer: peer.ip(),
        });
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        self.fwd.handle(Input::Query {
            now,
            client: id,
            transport,
            bytes,
        });
        self.drain();
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
                let s = &self.udp[socket];
                if let Err(e) = s.try_send_to(&bytes, addr) {
                    if e.kind() == std::io::ErrorKind::WouldBlock {
                        let s = s.clone();
                        tokio::task::spawn_local(async move {
                            let _ = s.send_to(&bytes, addr).await;
                        });
                    } else {
                        return false;
                    }
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

    /// Drains the engine's outputs.
    fn drain(&mut self) {
        for _ in 0..1_000_000 {
            match self.fwd.poll() {
                Output::Answer(t) => {
                    if let Some(p) = self.take_client(t.client) {
                        let rcode = usize::from(t.bytes.get(3).map_or(0, |b| b & 0xf));
                        if self.send(p.reply, t.bytes, p.started) {
                            self.metrics.responses[usize::from(p.tcp)][rcode] += 1;
                            self.metrics.observe(p.started.elapsed());
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
                                // A safety net only: the engine's attempt timer ends the task
                                // first, through UpstreamDone.
                                let timeout = self.settings.engine.attempt_timeout
                                    + Duration::from_millis(500);
                                let task = tokio::task::spawn_local(upstream::udp_query(
                                    me, addr, t.bytes, t.token, timeout,
                                ));
                                self.udp_queries.insert(t.token, task.abort_handle());
                            }
                            Transport::Tcp => {
                                let live = self.tcp_pool.get(&addr).filter(|c| !c.is_closed());
                                let queue = match live {
                                    Some(c) => c.clone(),
                                    None => {
                                        let c = upstream::connect_tcp(me, addr);
                                        self.tcp_pool.insert(addr, c.clone());
                                        c
                                    }
                                };
                                if let Err(e) = queue.try_send((t.bytes, t.token)) {
                                    tracing::debug!("upstream {addr} over TCP: {e}");
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
                Output::UpstreamDone { token } => {
                    if let Some(task) = self.udp_queries.remove(&token) {
                        task.abort();
                    }
                }
                Output::ClientDropped { client } => {
                    if self.take_client(client).is_some() {
                        self.metrics.malformed += 1;
                    }
                }
                Output::Event(e) => {
                    if self.settings.log_queries {
                        tracing::info!(target: "query", "{e}");
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
pub fn run(
    index: usize,
    settings: Settings,
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<std::net::TcpListener>,
    shared: Arc<Shared>,
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
        let udp: Vec<Rc<UdpSocket>> = match udp
            .into_iter()
            .map(UdpSocket::from_std)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(v) => v.into_iter().map(Rc::new).collect(),
            Err(e) => {
                tracing::error!("worker {index}: {e}");
                return;
            }
        };
        let timer = Rc::new(Notify::new());
        let state = Rc::new(RefCell::new(State {
            fwd: Forwarder::new(settings.engine.clone(), seed),
            admission: Admission::new(settings.engine.limits),
            epoch: Instant::now(),
            settings: settings.clone(),
            udp: udp.clone(),
            clients: Vec::new(),
            free: Vec::new(),
            gens: Vec::new(),
            metrics: Metrics::default(),
            wake: None,
            timer: timer.clone(),
            me: None,
            tcp_pool: std::collections::HashMap::new(),
            udp_queries: std::collections::HashMap::new(),
        }));
        state.borrow_mut().me = Some(Rc::downgrade(&state));
        // Start the engine's clock: probes and other timers begin now, not at the first query.
        state.borrow_mut().tick();
        let mut udp_tasks = Vec::new();
        let mut tasks = Vec::new();
        for (i, s) in udp.iter().enumerate() {
            udp_tasks.push(tokio::task::spawn_local(udp_loop(
                state.clone(),
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
        // Publish metrics and the heartbeat twice a second; apply reloads; wait for the stop
        // signal.
        let mut publish = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = publish.tick() => {
                    shared.beat(index);
                    publish_snapshot(&state, &shared, index);
                }
                Some(c) = control.recv() => match c {
                    Control::Reload(s) => {
                        let mut st = state.borrow_mut();
                        st.fwd.reconfigure(s.engine.clone());
                        st.admission.reconfigure(s.engine.limits);
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
    udp: &[Rc<UdpSocket>],
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
        let Ok(local) = s.local_addr() else { continue };
        match leave_address(local) {
            Some(to) => match s.connect(to).await {
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
    let waiting = state.borrow().waiting();
    // Answers that met a full send buffer are sent by tasks of their own: let them run.
    tokio::time::sleep(Duration::from_millis(20)).await;
    for t in udp_tasks {
        t.abort();
    }
    if waiting > 0 {
        tracing::warn!(
            "worker {index}: drain 3/3: deadline reached after {} ms with {waiting} client(s) unanswered",
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
    let st = state.borrow();
    if let Some(w) = shared.workers.get(index) {
        w.upstreams_usable.store(
            st.fwd.upstreams_usable() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        w.upstreams_total.store(
            st.fwd.config().upstreams.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    let snap = st.metrics.snapshot(&st.fwd);
    if let Ok(mut v) = shared.snapshots.lock() {
        if let Some(x) = v.get_mut(index) {
            *x = snap;
        }
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

async fn udp_loop(state: Rc<RefCell<State>>, socket: Rc<UdpSocket>, index: usize) {
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        // Answer everything already queued before yielding to other tasks.
        let mut st = state.borrow_mut();
        let reply = |addr| Reply::Udp {
            socket: index,
            addr,
        };
        st.query(&buf[..n], reply(peer), peer, false);
        for _ in 0..64 {
            match socket.try_recv_from(&mut buf) {
                Ok((n, peer)) => st.query(&buf[..n], reply(peer), peer, false),
                Err(_) => break,
            }
        }
    }
}
