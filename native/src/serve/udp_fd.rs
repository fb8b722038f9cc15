//! A UDP socket that tokio watches for reading only.
//!
//! tokio's `UdpSocket` registers with epoll for reading *and* writing (edge-triggered). A UDP
//! send is almost never blocked, but each one wakes a writable entry: on loopback, and on any
//! device that frees a sent datagram at once, `sock_wfree` → `sock_def_write_space` →
//! `ep_poll_callback` queues a write event that nobody waits for. The worker's next `epoll_wait`
//! then returns at once just to clear it. At 20k q/s that was 0.73 `epoll_wait` per cache hit
//! instead of the 0.41 that the reads need (`bench/results/serve-2026-12-03-epoll.md`).
//!
//! So [`UdpFd`] registers for reading only, and the kernel drops those wake-ups in the
//! callback. The rare full send buffer is waited on through a duplicate descriptor registered
//! for writing only while some task waits ([`UdpFd::send_when_writable`]): one registration
//! per socket, shared by its waiting tasks and dropped with the last, so a send buffer that
//! stays full costs one descriptor, not one per waiting answer.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard, AsyncFdRegisterError};
use tokio::io::Interest;

type Registered = AsyncFd<std::net::UdpSocket>;

#[derive(Debug)]
pub struct UdpFd {
    io: Registered,
    /// The write registration while tasks wait for room to send.
    writer: RefCell<Weak<Registered>>,
}

impl UdpFd {
    /// Registers `s` (made non-blocking) with the current runtime, for reading.
    pub fn new(s: std::net::UdpSocket) -> io::Result<UdpFd> {
        s.set_nonblocking(true)?;
        Ok(UdpFd {
            io: register(s, Interest::READABLE)?,
            writer: RefCell::new(Weak::new()),
        })
    }

    pub fn socket(&self) -> &std::net::UdpSocket {
        self.io.get_ref()
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket().local_addr()
    }

    /// Waits for `interest`: READABLE, optionally with ERROR (a queued ICMP error, which epoll
    /// reports without a registration for it). The guard's `try_io` clears the readiness when
    /// its closure reports `WouldBlock`.
    pub async fn ready(
        &self,
        interest: Interest,
    ) -> io::Result<AsyncFdReadyGuard<'_, std::net::UdpSocket>> {
        self.io.ready(interest).await
    }

    /// Runs `send` (a send on this socket) once the socket has room, as many times as it
    /// reports `WouldBlock`, each after the next sign of room. The room is watched through a
    /// duplicate descriptor registered for writing (epoll keys an entry by descriptor number
    /// as well as by socket, so the two registrations do not collide), shared by every task
    /// waiting on this socket and closed when the last one is done.
    pub async fn send_when_writable<R>(
        &self,
        mut send: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        let w = self.writer()?;
        loop {
            let mut ready = w.writable().await?;
            if let Ok(r) = ready.try_io(|_| send()) {
                return r;
            }
        }
    }

    fn writer(&self) -> io::Result<Rc<Registered>> {
        if let Some(w) = self.writer.borrow().upgrade() {
            return Ok(w);
        }
        let w = Rc::new(register(self.socket().try_clone()?, Interest::WRITABLE)?);
        *self.writer.borrow_mut() = Rc::downgrade(&w);
        Ok(w)
    }
}

fn register(s: std::net::UdpSocket, interest: Interest) -> io::Result<Registered> {
    // SAFETY: the `UdpSocket` owns its descriptor; the `AsyncFd` takes the socket by value and
    // neither closes nor replaces the descriptor while it owns it, so it stays valid, open and
    // the same for the `AsyncFd`'s lifetime.
    #[allow(unsafe_code)]
    let r = unsafe { AsyncFd::register_with_interest(s, interest) };
    r.map_err(AsyncFdRegisterError::into_parts)
        .map_err(|(_, e)| e)
}

impl AsRawFd for UdpFd {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The epoll event mask of descriptor `fd` in this process, from `/proc/self/fdinfo` of
    /// the epoll instance watching it.
    fn epoll_mask(fd: RawFd) -> Option<u32> {
        for e in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
            let Ok(link) = std::fs::read_link(e.path()) else {
                continue;
            };
            if link.to_string_lossy() != "anon_inode:[eventpoll]" {
                continue;
            }
            let info = std::fs::read_to_string(
                std::path::Path::new("/proc/self/fdinfo").join(e.file_name()),
            )
            .unwrap_or_default();
            for line in info.lines() {
                // "tfd:        7 events: 8000201d data: ..."
                let mut w = line.split_whitespace();
                if w.next() != Some("tfd:") || w.next() != Some(&fd.to_string()) {
                    continue;
                }
                if w.next() == Some("events:") {
                    return w.next().and_then(|m| u32::from_str_radix(m, 16).ok());
                }
            }
        }
        None
    }

    #[tokio::test]
    async fn registered_for_reading_only() {
        let epollout = libc::EPOLLOUT as u32;
        let mine = UdpFd::new(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let mask = epoll_mask(mine.as_raw_fd()).expect("registered with epoll");
        assert_ne!(mask & libc::EPOLLIN as u32, 0, "{mask:x}");
        assert_eq!(
            mask & epollout,
            0,
            "{mask:x}: each send would wake the worker"
        );
        // What it replaces: tokio's UdpSocket also asks for write events.
        let tokio = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mask = epoll_mask(tokio.as_raw_fd()).expect("registered with epoll");
        assert_ne!(mask & epollout, 0, "{mask:x}");
    }

    #[tokio::test]
    async fn reads_a_datagram_and_waits_for_room_to_send() {
        let rx = UdpFd::new(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"ping", rx.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        let got = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let mut g = rx.ready(Interest::READABLE).await.unwrap();
                if let Ok(r) = g.try_io(|s| s.get_ref().recv_from(&mut buf)) {
                    return r.unwrap();
                }
            }
        })
        .await
        .expect("the datagram is read");
        assert_eq!(&buf[..got.0], b"ping");
        assert_eq!(got.1, tx.local_addr().unwrap());
        // An empty send buffer has room at once, through the duplicate, which is closed after.
        let to = tx.local_addr().unwrap();
        let sent = tokio::time::timeout(
            Duration::from_secs(5),
            rx.send_when_writable(|| rx.socket().send_to(b"pong", to)),
        )
        .await
        .expect("writable at once")
        .unwrap();
        assert_eq!(sent, 4);
        assert!(rx.writer.borrow().upgrade().is_none());
        let n = tx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
    }
}
