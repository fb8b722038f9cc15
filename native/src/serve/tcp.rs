//! Client TCP connections (RFC 7766): the accept loop and one task per connection.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::worker::{Reply, State};

pub(super) async fn accept(
    state: Rc<RefCell<State>>,
    listener: TcpListener,
    conns: Rc<Cell<usize>>,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let (max, allowed, drop_refused) = {
            let st = state.borrow();
            (
                st.settings.tcp_max_connections,
                st.allowed(peer),
                st.settings.refuse_drop,
            )
        };
        if conns.get() >= max || (!allowed && drop_refused) {
            drop(stream);
            continue;
        }
        conns.set(conns.get() + 1);
        let c = conns.clone();
        let st = state.clone();
        tokio::task::spawn_local(async move {
            conn(st, stream, peer).await;
            c.set(c.get() - 1);
        });
    }
}

/// One client TCP connection (RFC 7766): pipelined queries, answers written as they complete,
/// an idle timeout between messages and a deadline for each message.
async fn conn(state: Rc<RefCell<State>>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::task::spawn_local(async move {
        while let Some(msg) = rx.recv().await {
            let mut framed = Vec::with_capacity(msg.len() + 2);
            framed.extend_from_slice(&(msg.len() as u16).to_be_bytes());
            framed.extend_from_slice(&msg);
            if wr.write_all(&framed).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let (idle, read_timeout) = {
        let st = state.borrow();
        (st.settings.tcp_idle, st.settings.tcp_read_timeout)
    };
    let mut buf = vec![0u8; 65535];
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, rd.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => break,
        }
        let n = usize::from(u16::from_be_bytes(len));
        match tokio::time::timeout(read_timeout, rd.read_exact(&mut buf[..n])).await {
            Ok(Ok(_)) => {}
            _ => break,
        }
        state
            .borrow_mut()
            .query(&buf[..n], Reply::Tcp(tx.clone()), peer, true);
    }
    drop(tx);
    // Answers still in flight are written before the connection closes (bounded by the
    // engine's query timeout).
    let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
}
