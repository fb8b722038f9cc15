//! Upstream transports: UDP from a fresh socket (a fresh random source port) per query, read
//! with a 65535-byte buffer whatever size we advertised (incident 000); TCP with 2-byte framing.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use dnspect_core::engine::{Transport, UpstreamId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::worker::State;

pub async fn query(
    state: Rc<RefCell<State>>,
    up: UpstreamId,
    addr: SocketAddr,
    transport: Transport,
    bytes: Vec<u8>,
    token: u64,
    timeout: Duration,
) {
    let r = match transport {
        Transport::Udp => tokio::time::timeout(timeout, udp(&state, up, addr, &bytes)).await,
        Transport::Tcp => tokio::time::timeout(timeout, tcp(&state, up, addr, &bytes)).await,
    };
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!("upstream {addr} over {transport}: {e}");
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
    let mut buf = vec![0u8; 65535];
    // A spoofed or late datagram does not end the wait: the engine drops it, the real answer
    // may follow. The caller's timeout bounds this loop.
    for _ in 0..8 {
        let n = sock.recv(&mut buf).await?;
        let mut st = state.borrow_mut();
        let before = st.fwd.stats().dropped_responses;
        st.response(up, Transport::Udp, &buf[..n]);
        if st.fwd.stats().dropped_responses == before {
            return Ok(());
        }
    }
    Ok(())
}

async fn tcp(
    state: &Rc<RefCell<State>>,
    up: UpstreamId,
    addr: SocketAddr,
    bytes: &[u8],
) -> std::io::Result<()> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let n = usize::from(u16::from_be_bytes(len));
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).await?;
    state.borrow_mut().response(up, Transport::Tcp, &buf);
    Ok(())
}
