//! Upstream transports. Every answer is bound to the transmit it answers before the engine sees
//! it (RFC 5452 9.1): over UDP, each query has its own connected socket on a fresh random port
//! (the kernel drops datagrams from any other address or port), and what arrives on it is handed
//! to the engine with that query's token; over TCP, each connection keeps the IDs of its own
//! queries and hands an answer over with the token of the query that had its ID on that
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
use std::rc::Rc;
use std::time::Duration;

use dnspect_core::engine::Transport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::worker::State;

/// How long an upstream TCP connection stays open with no query waiting on it.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// How long a TCP connect may take.
const TCP_CONNECT: Duration = Duration::from_secs(3);
/// How long the rest of a frame may take once its length has arrived.
const TCP_FRAME: Duration = Duration::from_secs(3);
/// Queries queued on one connection before new ones fail at once.
const TCP_QUEUE: usize = 1024;

/// One UDP query on its own connected socket. Ends when the engine no longer waits on the token
/// (it aborts the task on [`dnspect_core::engine::forwarder::Output::UpstreamDone`]) or at
/// `timeout`, whichever comes first.
pub async fn udp_query(
    state: Rc<RefCell<State>>,
    addr: SocketAddr,
    bytes: Vec<u8>,
    token: u64,
    timeout: Duration,
) {
    let r = tokio::time::timeout(timeout, udp(&state, addr, &bytes, token)).await;
    if let Ok(Err(e)) = r {
        tracing::debug!("upstream {addr} over UDP: {e}");
        state.borrow_mut().failure(token);
    }
}

async fn udp(
    state: &Rc<RefCell<State>>,
    addr: SocketAddr,
    bytes: &[u8],
    token: u64,
) -> std::io::Result<()> {
    let local: SocketAddr = if addr.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(addr).await?;
    sock.send(bytes).await?;
    // Room for any DNS message (incident 000), but not zeroed: `recv_buf` writes into the
    // spare capacity.
    let mut buf = Vec::with_capacity(65535);
    // A spoofed datagram does not end the wait: the engine drops it and the real answer may
    // follow. The engine's attempt timer, and the caller's timeout, bound the loop.
    loop {
        buf.clear();
        sock.recv_buf(&mut buf).await?;
        let mut st = state.borrow_mut();
        st.response(token, Transport::Udp, &buf);
        if !st.fwd.awaits(token) {
            return Ok(());
        }
    }
}

/// Where queries for one upstream TCP connection are queued: (message, token).
pub type TcpQueue = mpsc::Sender<(Vec<u8>, u64)>;

/// Opens the pooled connection to an upstream address; returns its queue.
pub fn connect_tcp(state: Rc<RefCell<State>>, addr: SocketAddr) -> TcpQueue {
    let (tx, rx) = mpsc::channel(TCP_QUEUE);
    tokio::task::spawn_local(tcp_connection(state, addr, tx.clone(), rx));
    tx
}

/// The queries waiting on one connection: ID -> token.
type Waiting = Rc<RefCell<HashMap<u16, u64>>>;

async fn tcp_connection(
    state: Rc<RefCell<State>>,
    addr: SocketAddr,
    me: TcpQueue,
    mut rx: mpsc::Receiver<(Vec<u8>, u64)>,
) {
    let stream = match tokio::time::timeout(TCP_CONNECT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        other => {
            tracing::debug!("upstream {addr} over TCP: cannot connect: {other:?}");
            rx.close();
            let mut failed = Vec::new();
            while let Ok((_, token)) = rx.try_recv() {
                failed.push(token);
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
    let writer = tokio::task::spawn_local(async move {
        while let Some((bytes, token)) = rx.recv().await {
            if bytes.len() < 2 || bytes.len() > usize::from(u16::MAX) {
                st2.borrow_mut().failure(token);
                continue;
            }
            let id = u16::from_be_bytes([bytes[0], bytes[1]]);
            // Two queries with one ID on one connection could not be told apart: the older
            // one fails now rather than take the newer one's answer.
            if let Some(old) = w2.borrow_mut().insert(id, token) {
                st2.borrow_mut().failure(old);
            }
            let mut framed = Vec::with_capacity(bytes.len() + 2);
            framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            framed.extend_from_slice(&bytes);
            if wr.write_all(&framed).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let why = read_frames(&state, rd, &waiting).await;
    tracing::debug!("upstream {addr} over TCP: connection closed: {why}");
    writer.abort();
    let failed: Vec<u64> = waiting.borrow_mut().drain().map(|(_, t)| t).collect();
    let mut st = state.borrow_mut();
    st.tcp_pool_remove(addr, &me);
    for token in failed {
        st.failure(token);
    }
}

/// Reads whole frames until the connection ends, is idle, or breaks framing; says why.
async fn read_frames(
    state: &Rc<RefCell<State>>,
    mut rd: tokio::net::tcp::OwnedReadHalf,
    waiting: &Waiting,
) -> &'static str {
    let mut buf = vec![0u8; 65535];
    loop {
        // Forget queries the engine stopped waiting for (timed out, answered over UDP...).
        {
            let st = state.borrow();
            waiting.borrow_mut().retain(|_, t| st.fwd.awaits(*t));
        }
        let idle = if waiting.borrow().is_empty() {
            TCP_IDLE
        } else {
            TCP_IDLE * 3
        };
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, rd.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return "closed by the upstream",
            Err(_) if waiting.borrow().is_empty() => return "idle",
            Err(_) => return "no answer in time",
        }
        let n = usize::from(u16::from_be_bytes(len));
        match tokio::time::timeout(TCP_FRAME, rd.read_exact(&mut buf[..n])).await {
            Ok(Ok(_)) => {}
            _ => return "frame cut short",
        }
        let token = if n >= 2 {
            waiting
                .borrow_mut()
                .remove(&u16::from_be_bytes([buf[0], buf[1]]))
        } else {
            None
        };
        let mut st = state.borrow_mut();
        match token {
            Some(token) => st.response(token, Transport::Tcp, &buf[..n]),
            // An ID no query on this connection has: late, or not ours. Token 0 is never
            // issued, so the engine drops it and counts it as late.
            None => st.response(0, Transport::Tcp, &buf[..n]),
        }
    }
}
