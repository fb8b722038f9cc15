//! One worker: its sockets, its engine, and the local tasks that feed the engine.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnspect_core::engine::forwarder::{rcode_answer, ClientId, Forwarder, Input, Output, Peer};
use dnspect_core::engine::{Transport, UpstreamId};
use dnspect_core::wire::Rcode;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch, Notify};

use super::metrics::Metrics;
use super::{tcp, upstream, Control, Shared, DRAIN};
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
}

/// The worker's state, borrowed by its tasks between awaits.
pub struct State {
    pub fwd: Forwarder,
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
    /// One reused, pipelined TCP connection per upstream (RFC 7766 6.2.1).
    pub tcp_pool: std::collections::HashMap<u16, mpsc::UnboundedSender<(Vec<u8>, u64)>>,
}

impl State {
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
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

    fn take_client(&mut self, id: ClientId) -> Option<Pending> {
        let slot = (id.0 & 0xffff_ffff) as usize;
        let gen = (id.0 >> 32) as u32;
        if self.gens.get(slot) != Some(&gen) {
            return None;
        }
        let p = self.clients.get_mut(slot)?.take()?;
        self.free.push(slot as u32);
        Some(p)
    }

    pub(super) fn allowed(&self, addr: SocketAddr) -> bool {
        self.settings.allow.iter().any(|n| n.contains(addr.ip()))
    }

    /// A query from a client.
    pub(super) fn query(&mut self, bytes: &[u8], reply: Reply, peer: SocketAddr, tcp: bool) {
        self.metrics.requests[usize::from(tcp)] += 1;
        if !self.allowed(peer) {
            self.metrics.refused_acl += 1;
            if !self.settings.refuse_drop && bytes.len() >= 12 && bytes[2] & 0x80 == 0 {
                let a = rcode_answer(bytes, Rcode::REFUSED, self.settings.engine.max_udp_payload);
                if self.send(reply, a, Instant::now()) {
                    self.metrics.responses[usize::from(tcp)][5] += 1;
                }
            }
            if self.settings.log_queries {
                tracing::info!(target: "query", "refused {peer}: not in the allow list");
            }
            return;
        }
        // The engine drops what is not a query at all (no header, QR set) without answering:
        // no client slot for those. Every other query is answered by its deadline.
        if bytes.len() < 12 || bytes[2] & 0x80 != 0 {
            self.metrics.malformed += 1;
            return;
        }
        let now = self.now();
        let id = self.client(Pending {
            reply,
            started: Instant::now(),
            tcp,
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

    pub fn response(&mut self, upstream: UpstreamId, transport: Transport, bytes: &[u8]) {
        let now = self.now();
        self.fwd.handle(Input::Response {
            now,
            upstream,
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
                Output::Transmit(t) => match t.to {
                    Peer::Client(c) => {
                        if let Some(p) = self.take_client(c) {
                            let rcode = usize::from(t.bytes.get(3).map_or(0, |b| b & 0xf));
                            if self.send(p.reply, t.bytes, p.started) {
                                self.metrics.responses[usize::from(p.tcp)][rcode] += 1;
                                self.metrics.observe(p.started.elapsed());
                            }
                        }
                    }
                    Peer::Upstream(u) => {
                        let Some(&addr) = self.settings.upstreams.get(usize::from(u.0)) else {
                            continue;
                        };
                        let timeout =
                            Duration::from_millis(self.settings.engine.attempt_timeout_ms)
                                + Duration::from_millis(500);
                        let Some(me) = self.me.as_ref().and_then(std::rc::Weak::upgrade) else {
                            continue;
                        };
                        match t.transport {
                            Transport::Udp => {
                                tokio::task::spawn_local(upstream::query(
                                    me, u, addr, t.bytes, t.token, timeout,
                                ));
                            }
                            Transport::Tcp => {
                                let live = self.tcp_pool.get(&u.0).filter(|c| !c.is_closed());
                                let sender = match live {
                                    Some(c) => c.clone(),
                                    None => {
                                        let c = upstream::connect_tcp(me, u, addr);
                                        self.tcp_pool.insert(u.0, c.clone());
                                        c
                                    }
                                };
                                if let Err(mpsc::error::SendError((_, token))) =
                                    sender.send((t.bytes, t.token))
                                {
                                    self.tcp_pool.remove(&u.0);
                                    let now = self.now();
                                    self.fwd.handle(Input::Failure { now, token });
                                }
                            }
                        }
                    }
                },
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
        }));
        state.borrow_mut().me = Some(Rc::downgrade(&state));
        // Start the engine's clock: probes and other timers begin now, not at the first query.
        state.borrow_mut().tick();
        let mut tasks = Vec::new();
        for (i, s) in udp.iter().enumerate() {
            tasks.push(tokio::task::spawn_local(udp_loop(
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
        // Publish metrics twice a second; apply reloads; wait for the stop signal.
        let mut publish = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = publish.tick() => publish_snapshot(&state, &shared, index),
                Some(c) = control.recv() => match c {
                    Control::Reload(s) => {
                        let mut st = state.borrow_mut();
                        st.fwd.reconfigure(s.engine.clone());
                        st.settings = *s;
                    }
                },
                _ = stop.changed() => break,
            }
        }
        for t in tasks {
            t.abort();
        }
        let until = Instant::now() + DRAIN;
        while state.borrow().fwd.in_flight() > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        publish_snapshot(&state, &shared, index);
    });
}

fn publish_snapshot(state: &Rc<RefCell<State>>, shared: &Shared, index: usize) {
    let st = state.borrow();
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
        st.query(
            &buf[..n],
            Reply::Udp {
                socket: index,
                addr: peer,
            },
            peer,
            false,
        );
        for _ in 0..64 {
            match socket.try_recv_from(&mut buf) {
                Ok((n, peer)) => st.query(
                    &buf[..n],
                    Reply::Udp {
                        socket: index,
                        addr: peer,
                    },
                    peer,
                    false,
                ),
                Err(_) => break,
            }
        }
    }
}
