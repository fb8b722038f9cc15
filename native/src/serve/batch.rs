//! Batched datagram IO: `recvmmsg` and `sendmmsg` over a nonblocking socket, called inside
//! tokio's `UdpSocket::try_io` (wait for readiness with the one `epoll_wait`, then a batch per
//! system call).
//!
//! Written over `libc` rather than a crate: quinn-udp (built for QUIC) sets IP_MTU_DISCOVER to
//! PROBE (DF on every datagram, so a large DNS answer on a smaller-MTU path fails instead of
//! fragmenting), turns on GRO and packet-info control messages it then parses per datagram, and
//! sends one `sendmsg` per transmit (GSO needs one destination and equal segment sizes; DNS
//! answers go to many clients with many sizes). nix 0.31's `recvmmsg` keeps each header's
//! `msg_namelen` from the previous call, and iterating `sendmmsg`'s results reads addresses it
//! never wrote. The headers here are set up once, over buffers allocated once; each call resets
//! the address lengths and makes one system call. This module is the one place in `native` with
//! `unsafe` (the FFI calls and the sockaddr casts), each block with its reason.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Largest batch (the `[udp] batch` knob's bound).
pub const MAX_BATCH: usize = 1024;
/// Room for any datagram: DNS messages over UDP are read whole up to 65535 bytes (incident 000).
pub const SLOT: usize = 65535;

/// Receive buffers and headers for up to `batch` datagrams. One per worker, shared by every
/// receive loop of the worker: a loop reads a batch and hands each datagram to the engine before
/// it awaits again, so no two loops hold it at once. The buffers are allocated once, zeroed
/// lazily by the kernel's fresh pages (a page is touched only when a datagram is written to it).
pub struct RecvBatch {
    data: Box<[u8]>,
    iov: Box<[libc::iovec]>,
    names: Box<[libc::sockaddr_storage]>,
    hdrs: Box<[libc::mmsghdr]>,
    got: usize,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecvBatch({} x {SLOT} B)", self.hdrs.len())
    }
}

impl RecvBatch {
    pub fn new(batch: usize) -> RecvBatch {
        let n = batch.clamp(1, MAX_BATCH);
        let mut data = vec![0u8; n * SLOT].into_boxed_slice();
        let mut iov: Box<[libc::iovec]> = (0..n)
            .map(|i| libc::iovec {
                // SAFETY: in bounds: slot i of n.
                iov_base: unsafe { data.as_mut_ptr().add(i * SLOT) }.cast(),
                iov_len: SLOT,
            })
            .collect();
        // SAFETY: sockaddr_storage and mmsghdr are plain C structs; all zeroes is valid.
        let mut names: Box<[libc::sockaddr_storage]> =
            (0..n).map(|_| unsafe { zeroed() }).collect();
        let hdrs: Box<[libc::mmsghdr]> = (0..n)
            .map(|i| {
                let mut h: libc::mmsghdr = unsafe { zeroed() };
                h.msg_hdr.msg_iov = &mut iov[i];
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
                h
            })
            .collect();
        // The pointers above point into heap allocations, which stay put when the boxes move.
        RecvBatch {
            data,
            iov,
            names,
            hdrs,
            got: 0,
        }
    }

    /// How many datagrams one call reads at most.
    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Reads up to `capacity()` datagrams from `fd` without blocking; `with_addr`: record each
    /// one's source (an unconnected listener), else not (a connected socket). Returns how many
    /// were read; `WouldBlock` when none was queued.
    pub fn recv(&mut self, fd: RawFd, with_addr: bool) -> io::Result<usize> {
        self.got = 0;
        let namelen = if with_addr {
            size_of::<libc::sockaddr_storage>() as libc::socklen_t
        } else {
            0
        };
        for (h, iov) in self.hdrs.iter_mut().zip(self.iov.iter()) {
            debug_assert_eq!(iov.iov_len, SLOT);
            h.msg_hdr.msg_namelen = namelen;
            h.msg_hdr.msg_controllen = 0;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
        // SAFETY: every header points at its own iovec (one slot of `data`) and its own
        // sockaddr_storage, all alive as long as `self`; the kernel writes at most `SLOT`
        // bytes and `msg_namelen` bytes there.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                self.hdrs.len() as libc::c_uint,
                // c_int on glibc, c_uint on musl (the static image): the same bits either way.
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        self.got = r as usize;
        Ok(self.got)
    }

    /// The `i`th datagram of the last `recv`.
    pub fn bytes(&self, i: usize) -> &[u8] {
        if i >= self.got {
            return &[];
        }
        let len = (self.hdrs[i].msg_len as usize).min(SLOT);
        &self.data[i * SLOT..i * SLOT + len]
    }

    /// The source of the `i`th datagram of the last `recv` (when read `with_addr`).
    pub fn addr(&self, i: usize) -> Option<SocketAddr> {
        if i >= self.got {
            return None;
        }
        from_storage(&self.names[i], self.hdrs[i].msg_hdr.msg_namelen)
    }
}

fn from_storage(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match s.ss_family as libc::c_int {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in; storage is aligned for it.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn to_storage(a: SocketAddr, s: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match a {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            let p = unsafe { &mut *(s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            p.sin_family = libc::AF_INET as libc::sa_family_t;
            p.sin_port = a.port().to_be();
            p.sin_addr = libc::in_addr {
                s_addr: u32::from(*a.ip()).to_be(),
            };
            p.sin_zero = [0; 8];
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let p =
                unsafe { &mut *(s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            p.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            p.sin6_port = a.port().to_be();
            p.sin6_flowinfo = a.flowinfo();
            p.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            p.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Headers for sending up to `batch` datagrams with one `sendmmsg`, allocated once per listener.
pub struct SendBatch {
    iov: Box<[libc::iovec]>,
    names: Box<[libc::sockaddr_storage]>,
    hdrs: Box<[libc::mmsghdr]>,
}

impl std::fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SendBatch({})", self.hdrs.len())
    }
}

impl SendBatch {
    pub fn new(batch: usize) -> SendBatch {
        let n = batch.clamp(1, MAX_BATCH);
        let mut iov: Box<[libc::iovec]> = (0..n)
            .map(|_| libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            })
            .collect();
        // SAFETY: plain C structs; all zeroes is valid.
        let mut names: Box<[libc::sockaddr_storage]> =
            (0..n).map(|_| unsafe { zeroed() }).collect();
        let hdrs = (0..n)
            .map(|i| {
                let mut h: libc::mmsghdr = unsafe { zeroed() };
                h.msg_hdr.msg_iov = &mut iov[i];
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
                h
            })
            .collect();
        SendBatch { iov, names, hdrs }
    }

    /// How many datagrams one call sends at most.
    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Sends the first of `msgs` (up to the batch size) with one `sendmmsg` without blocking.
    /// Returns how many were sent (the first ones); an error only when the first one failed
    /// (`WouldBlock` when the socket's buffer is full).
    pub fn send(&mut self, fd: RawFd, msgs: &[(SocketAddr, Vec<u8>)]) -> io::Result<usize> {
        let n = msgs.len().min(self.hdrs.len());
        if n == 0 {
            return Ok(0);
        }
        for (i, (addr, bytes)) in msgs[..n].iter().enumerate() {
            self.iov[i] = libc::iovec {
                iov_base: bytes.as_ptr().cast_mut().cast(),
                iov_len: bytes.len(),
            };
            let len = to_storage(*addr, &mut self.names[i]);
            let h = &mut self.hdrs[i];
            h.msg_hdr.msg_namelen = len;
            h.msg_len = 0;
        }
        // SAFETY: the first n headers point at their iovec (the bytes of `msgs`, alive for the
        // call; the kernel only reads them) and their filled address.
        let r = unsafe {
            libc::sendmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT as _,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r as usize)
    }
}

/// Sends one datagram on a connected socket without blocking.
pub fn send_connected(fd: RawFd, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: `bytes` is valid for its length during the call.
    let r = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_DONTWAIT) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_batch_round_trips_through_sendmmsg_and_recvmmsg() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let msgs: Vec<(SocketAddr, Vec<u8>)> = (0..5u8)
            .map(|i| (to, vec![i; 1 + usize::from(i) * 700]))
            .collect();
        let mut s = SendBatch::new(4);
        // Four fit in one call, the fifth needs a second.
        assert_eq!(s.send(tx.as_raw_fd(), &msgs).unwrap(), 4);
        assert_eq!(s.send(tx.as_raw_fd(), &msgs[4..]).unwrap(), 1);
        let mut r = RecvBatch::new(8);
        let mut got = Vec::new();
        for _ in 0..100 {
            match r.recv(rx.as_raw_fd(), true) {
                Ok(n) => {
                    for i in 0..n {
                        assert_eq!(r.addr(i), Some(tx.local_addr().unwrap()));
                        got.push(r.bytes(i).to_vec());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if got.len() == 5 {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
        let want: Vec<Vec<u8>> = msgs.into_iter().map(|m| m.1).collect();
        assert_eq!(got, want);
        // Nothing queued: WouldBlock, not a wait.
        let e = r.recv(rx.as_raw_fd(), true).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_whole_64k_datagram_and_an_ipv6_source_are_read() {
        let Ok(rx) = std::net::UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 loopback here
        };
        let tx = std::net::UdpSocket::bind("[::1]:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let big = vec![7u8; 65_000];
        send_connected(tx.as_raw_fd(), &big).unwrap();
        let mut r = RecvBatch::new(2);
        for _ in 0..100 {
            match r.recv(rx.as_raw_fd(), true) {
                Ok(n) => {
                    assert_eq!(n, 1);
                    assert_eq!(r.bytes(0), &big[..]);
                    assert_eq!(r.addr(0), Some(tx.local_addr().unwrap()));
                    return;
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
        panic!("nothing received");
    }
}
