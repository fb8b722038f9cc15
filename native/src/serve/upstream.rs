//! Upstream transports: UDP from a fresh socket (a fresh random source port) per query, read
//! with a 65535-byte buffer whatever size we advertised (incident 000); TCP with 2-byte framing
//! over one reused connection per upstream, queries pipelined and answers matched by the engine
//! (RFC 7766 6.2.1), closed after an idle period.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use dnspect_core::engine::{Transport, UpstreamId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::worker::State;

/// How long an upstream TCP connection stays open without traffic.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// One UDP query.
pub async fn query(
    state: Rc<RefCell<State>>,
    up: UpstreamId,
    addr: SocketAddr,
    bytes: Vec<u8>,
    token: u64,
    timeout: Duration,
) {
    let r = tokio::time::timeout(timeout, udp(&state, up, addr, &bytes)).await;
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!("upstream {addr} over UDP: {e}");
            state.borrow_mut().failure(token);
        }
        // The engine's own attempt timer already decided; nothing to report.
        Err(_) => {}
    }
}

async fn udp(
    state: &Rc<RefCell<State>>,
    up: UpstreamId,
    addr: SocketAddr,
    bytes: &[u8],
) -> std::io::Result<()> {
    let local: SocketAddr = if addr.is_ipv6() {
        "[::]:0".parse().map_err(std::io::Error::other)?
    } else {
        "0.0.0.0:0".parse().map_err(std::io::Error::other)?
    };
    let sock = UdpSocket::bind(local).await?;
    // Connected: the kernel drops datagrams from any other address or port (RFC 5452).
    sock.connect(addr).await?;
    sock.send(bytes).await?;
    // Room for any DNS message (incident 000), but not zeroed: `recv_buf` writes into the
    // spare capacity, so a miss does not pay for clearing 64 KiB.
    let mut buf = Vec::with_capacity(65535);
    // A spoofed or late datagram does not end the wait: the engine drops it, the real answer
    // may follow. The caller's timeout bounds this loop.
    for _ in 0..8 {
        buf.clear();
        let n = sock.recv_buf(&mut buf).await?;
        let mut st = state.borrow_mut();
        let before = st.fwd.stats().dropped_responses;
        st.response(up, Transport::Udp, &buf[..n]);
        if st.fwd.stats().dropped_responses == before {
            return Ok(());
        }
    }
    Ok(())
}

/// Starts the pooled connection to an upstream; returns where to queue (query, token) pairs.
pub fn connect_tcp(
    state: Rc<RefCell<State>>,
    up: UpstreamId,
    addr: SocketAddr,
) -> mpsc::UnboundedSender<(Vec<u8>, u64)> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::task::spawn_local(tcp_connection(state, up, addr, rx));
    tx
}

async fn tcp_connection(
    state: Rc<RefCell<State>>,
    up: UpstreamId,
    addr: SocketAddr,
    mut rx: mpsc::UnboundedReceiver<(Vec<u8>, u64)>,
) {
    let mut in_flight: Vec<u64> = Vec::new();
    let stream = match tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(addr)).await
    {
        Ok(Ok(s)) => s,
        other => {
            tracing::debug!("upstream {addr} over TCP: cannot connect: {other:?}");
            rx.close();
            while let Some((_, token)) = rx.recv().await {
                state.borrow_mut().failure(token);
            }
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut len = [0u8; 2];
    let mut buf = vec![0u8; 65535];
    loop {
        tokio::select! {
            q = rx.recv() => {
                let Some((bytes, token)) = q else { break };
                let mut framed = Vec::with_capacity(bytes.len() + 2);
                framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                framed.extend_from_slice(&bytes);
                if wr.write_all(&framed).await.is_err() {
                    state.borrow_mut().failure(token);
                    break;
                }
                in_flight.push(token);
                if in_flight.len() > 256 {
                    in_flight.drain(..128);
                }
            }
            r = tokio::time::timeout(TCP_IDLE, rd.read_exact(&mut len)) => {
                match r {
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        if in_flight.is_empty() { break } else { in_flight.clear(); continue }
                    }
                }
                let n = usize::from(u16::from_be_bytes(len));
                if tokio::time::timeout(Duration::from_secs(3), rd.read_exact(&mut buf[..n])).await.map_or(true, |r| r.is_err()) {
                    break;
                }
                in_flight.pop();
                state.borrow_mut().response(up, Transport::Tcp, &buf[..n]);
            }
        }
    }
    // Queries still waiting on this connection fail now rather than at their timeout.
    rx.close();
    let mut st = state.borrow_mut();
    st.tcp_pool.remove(&up.0);
    for token in in_flight {
        st.failure(token);
    }
}
