//! From frames to DNS messages: link layers (Ethernet with VLAN tags, Linux cooked v1 and v2,
//! raw IP, BSD loopback), IPv4 and IPv6 with fragment reassembly, UDP, and TCP with stream
//! reassembly and RFC 1035 4.2.2 length framing (several messages in a segment, a message over
//! several segments). Every table is bounded: pending fragments, TCP flows and their buffers
//! are capped and expire on capture time, so a capture of any length needs bounded memory.
//!
//! This is not `wire::capture::paste`'s layer code: that one locates one DNS message in one
//! pasted packet and names each layer for a person (allocating a summary per layer); this one
//! runs on every frame of a capture, allocates nothing on the common path, and keeps state
//! across frames (fragments, TCP streams).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

use super::reader::Frame;

/// Pending IP datagrams being reassembled, at most.
pub const MAX_FRAGMENTED: usize = 1024;
/// TCP flows followed at once, at most (the least recently active is dropped beyond it).
pub const MAX_FLOWS: usize = 8192;
/// Out-of-order bytes kept per TCP flow, at most.
pub const MAX_OUT_OF_ORDER: usize = 256 * 1024;
/// Out-of-order segments kept per TCP flow, at most (each arrival scans them).
pub const MAX_OUT_OF_ORDER_SEGMENTS: usize = 64;
/// Fragments and idle flows expire after this much capture time.
const EXPIRY_NS: i64 = 60_000_000_000;

/// UDP or TCP.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "CaptureTransport"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// One DNS message found in the capture (its bytes borrowed from the frame or a reassembly
/// buffer).
#[derive(Clone, Copy, Debug)]
pub struct DnsPayload<'a> {
    /// The frame that completed the message.
    pub frame: u64,
    /// File offset of that frame's record.
    pub offset: u64,
    pub time_ns: i64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub transport: Transport,
    pub bytes: &'a [u8],
}

/// What was skipped on the way, by reason.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetStats {
    /// Frames of a link type that is not read (counted, not fatal).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unsupported_link: u64,
    /// Frames that are not IPv4 or IPv6 (ARP, ...).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub not_ip: u64,
    /// IP packets that are not UDP or TCP, or not on a DNS port.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub not_dns: u64,
    /// Frames whose headers are cut short or inconsistent (snapshot length, corruption).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub malformed: u64,
    /// DNS over UDP cut by the snapshot length (the message is incomplete, so it is skipped).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub cut_by_snaplen: u64,
    /// IP fragments seen, and datagrams put back together from them.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub fragments: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub reassembled: u64,
    /// Datagrams whose fragments never all arrived (expired or evicted).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub fragments_lost: u64,
    /// TCP segments: retransmitted bytes dropped, gaps that reset a stream, flows evicted.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub tcp_retransmissions: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub tcp_gaps: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub tcp_flows_evicted: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FragKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

#[derive(Debug)]
struct Datagram {
    first_ns: i64,
    /// (offset, bytes) of each fragment received.
    parts: Vec<(usize, Vec<u8>)>,
    /// Total length, known once the last fragment (MF=0) arrived.
    total: Option<usize>,
}

#[derive(Debug, Default)]
struct Flow {
    next_seq: Option<u32>,
    /// Contiguous stream bytes not yet framed into messages.
    buf: Vec<u8>,
    out_of_order: Vec<(u32, Vec<u8>)>,
    last_ns: i64,
}

/// The network layers' state across frames.
#[derive(Debug)]
pub struct Network {
    ports: Vec<u16>,
    fragments: HashMap<FragKey, Datagram, FxBuildHasher>,
    flows: HashMap<(SocketAddr, SocketAddr), Flow, FxBuildHasher>,
    pub stats: NetStats,
    last_sweep_ns: i64,
}

struct Ctx {
    frame: u64,
    offset: u64,
    time_ns: i64,
}

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;

impl Network {
    /// `ports`: what counts as DNS (either end on one of them); empty means every UDP and TCP
    /// port (UDP payloads must then at least hold a DNS header).
    pub fn new(ports: Vec<u16>) -> Self {
        Network {
            ports,
            fragments: HashMap::with_hasher(FxBuildHasher),
            flows: HashMap::with_hasher(FxBuildHasher),
            stats: NetStats::default(),
            last_sweep_ns: i64::MIN,
        }
    }

    /// Reads one frame; every complete DNS message in it (or completed by it) goes to `emit`.
    pub fn frame(&mut self, f: &Frame<'_>, emit: &mut dyn FnMut(DnsPayload<'_>)) {
        let ctx = Ctx {
            frame: f.number,
            offset: f.offset,
            time_ns: f.time_ns,
        };
        if f.time_ns.saturating_sub(self.last_sweep_ns) > 1_000_000_000 {
            self.sweep(f.time_ns);
        }
        let d = f.data;
        let (ethertype, at) = match f.linktype {
            // Ethernet, with any number of 802.1Q / 802.1ad tags.
            1 => {
                let Some(mut t) = be16(d, 12) else {
                    return self.malformed();
                };
                let mut at = 14;
                while matches!(t, 0x8100 | 0x88a8 | 0x9100) {
                    let Some(inner) = be16(d, at + 2) else {
                        return self.malformed();
                    };
                    t = inner;
                    at += 4;
                }
                (t, at)
            }
            // Linux cooked v1 (SLL): the protocol is the last 2 of 16 bytes.
            113 => match be16(d, 14) {
                Some(t) => (t, 16),
                None => return self.malformed(),
            },
            // Linux cooked v2 (SLL2): the protocol first, 20 bytes.
            276 => match be16(d, 0) {
                Some(t) => (t, 20),
                None => return self.malformed(),
            },
            // Raw IP (the version nibble says which).
            101 | 12 | 14 => match d.first().map(|b| b >> 4) {
                Some(4) => (0x0800, 0),
                Some(6) => (0x86dd, 0),
                _ => return self.malformed(),
            },
            228 => (0x0800, 0),
            229 => (0x86dd, 0),
            // BSD loopback: a 4-byte address family, host order (NULL) or network order (LOOP).
            0 | 108 => {
                let Some(w) = d.get(..4) else {
                    return self.malformed();
                };
                let family = if f.linktype == 0 {
                    u32::from_le_bytes([w[0], w[1], w[2], w[3]])
                        .min(u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
                } else {
                    u32::from_be_bytes([w[0], w[1], w[2], w[3]])
                };
                match family {
                    2 => (0x0800, 4),
                    24 | 28 | 30 => (0x86dd, 4),
                    _ => {
                        self.stats.not_ip += 1;
                        return;
                    }
                }
            }
            _ => {
                self.stats.unsupported_link += 1;
                return;
            }
        };
        let Some(ip) = d.get(at..) else {
            return self.malformed();
        };
        match ethertype {
            0x0800 => self.ipv4(&ctx, ip, emit),
            0x86dd => self.ipv6(&ctx, ip, emit),
            _ => self.stats.not_ip += 1,
        }
    }

    fn malformed(&mut self) {
        self.stats.malformed += 1;
    }

    fn ipv4(&mut self, ctx: &Ctx, d: &[u8], emit: &mut dyn FnMut(DnsPayload<'_>)) {
        let Some(&vihl) = d.first() else {
            return self.malformed();
        };
        let ihl = usize::from(vihl & 0x0f) * 4;
        if vihl >> 4 != 4 || ihl < 20 || d.len() < ihl {
            return self.malformed();
        }
        let total = usize::from(be16(d, 2).unwrap_or(0));
        // Total length 0: segmentation offload captured before the NIC split it.
        let end = if total == 0 { d.len() } else { total };
        if end < ihl {
            return self.malformed();
        }
        let cut = end > d.len();
        let payload = &d[ihl..end.min(d.len())];
        let frag = be16(d, 6).unwrap_or(0);
        let more = frag & 0x2000 != 0;
        let frag_off = usize::from(frag & 0x1fff) * 8;
        let proto = d[9];
        let src = IpAddr::V4(Ipv4Addr::new(d[12], d[13], d[14], d[15]));
        let dst = IpAddr::V4(Ipv4Addr::new(d[16], d[17], d[18], d[19]));
        if more || frag_off > 0 {
            if proto != 17 && proto != 6 {
                self.stats.not_dns += 1;
                return;
            }
            if cut {
                self.stats.cut_by_snaplen += 1;
                return;
            }
            let key = FragKey {
                src,
                dst,
                id: u32::from(be16(d, 4).unwrap_or(0)),
                proto,
            };
            return self.fragment(ctx, key, frag_off, more, payload, emit);
        }
        self.transport(ctx, src, dst, proto, payload, cut, emit);
    }

    fn ipv6(&mut self, ctx: &Ctx, d: &[u8], emit: &mut dyn FnMut(DnsPayload<'_>)) {
        if d.len() < 40 || d[0] >> 4 != 6 {
            return self.malformed();
        }
        let end = 40 + usize::from(be16(d, 4).unwrap_or(0));
        let cut = end > d.len();
        let d = &d[..end.min(d.len())];
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&d[8..24]);
        dst.copy_from_slice(&d[24..40]);
        let (src, dst) = (
            IpAddr::V6(Ipv6Addr::from(src)),
            IpAddr::V6(Ipv6Addr::from(dst)),
        );
        let mut next = d[6];
        let mut at = 40;
        // Extension headers, at most 8 of them.
        for _ in 0..8 {
            match next {
                0 | 43 | 60 => {
                    let (Some(&n), Some(&l)) = (d.get(at), d.get(at + 1)) else {
                        return self.malformed();
                    };
                    next = n;
                    at += (usize::from(l) + 1) * 8;
                }
                44 => {
                    let Some(h) = d.get(at..at + 8) else {
                        return self.malformed();
                    };
                    let off_flags = u16::from_be_bytes([h[2], h[3]]);
                    let key = FragKey {
                        src,
                        dst,
                        id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                        proto: h[0],
                    };
                    if h[0] != 17 && h[0] != 6 {
                        self.stats.not_dns += 1;
                        return;
                    }
                    if cut {
                        self.stats.cut_by_snaplen += 1;
                        return;
                    }
                    let offset = usize::from(off_flags & 0xfff8);
                    let more = off_flags & 1 != 0;
                    return self.fragment(ctx, key, offset, more, &d[at + 8..], emit);
                }
                _ => break,
            }
        }
        let Some(payload) = d.get(at..) else {
            return self.malformed();
        };
        self.transport(ctx, src, dst, next, payload, cut, emit);
    }

    fn fragment(
        &mut self,
        ctx: &Ctx,
        key: FragKey,
        offset: usize,
        more: bool,
        data: &[u8],
        emit: &mut dyn FnMut(DnsPayload<'_>),
    ) {
        self.stats.fragments += 1;
        if offset + data.len() > 65535 {
            return self.malformed();
        }
        if !self.fragments.contains_key(&key) && self.fragments.len() >= MAX_FRAGMENTED {
            // Evict the oldest datagram to make room.
            if let Some(old) = self
                .fragments
                .iter()
                .min_by_key(|(_, d)| d.first_ns)
                .map(|(k, _)| *k)
            {
                self.fragments.remove(&old);
                self.stats.fragments_lost += 1;
            }
        }
        let dg = self.fragments.entry(key).or_insert_with(|| Datagram {
            first_ns: ctx.time_ns,
            parts: Vec::new(),
            total: None,
        });
        if !more {
            dg.total = Some(offset + data.len());
        }
        if !dg.parts.iter().any(|(o, _)| *o == offset) {
            dg.parts.push((offset, data.to_vec()));
        }
        let Some(total) = dg.total else { return };
        dg.parts.sort_by_key(|(o, _)| *o);
        let mut covered = 0;
        for (o, p) in &dg.parts {
            if *o > covered {
                return; // a hole: wait for more
            }
            covered = covered.max(o + p.len());
        }
        if covered < total {
            return;
        }
        let Some(dg) = self.fragments.remove(&key) else {
            return;
        };
        let mut whole = vec![0u8; total];
        for (o, p) in &dg.parts {
            let end = (o + p.len()).min(total);
            if *o < end {
                whole[*o..end].copy_from_slice(&p[..end - o]);
            }
        }
        self.stats.reassembled += 1;
        self.transport(ctx, key.src, key.dst, key.proto, &whole, false, emit);
    }

    fn is_dns_port(&self, a: u16, b: u16) -> bool {
        self.ports.is_empty() || self.ports.contains(&a) || self.ports.contains(&b)
    }

    #[allow(clippy::too_many_arguments)]
    fn transport(
        &mut self,
        ctx: &Ctx,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        d: &[u8],
        cut: bool,
        emit: &mut dyn FnMut(DnsPayload<'_>),
    ) {
        let (Some(sport), Some(dport)) = (be16(d, 0), be16(d, 2)) else {
            if proto == 17 || proto == 6 {
                return self.malformed();
            }
            self.stats.not_dns += 1;
            return;
        };
        if (proto != 17 && proto != 6) || !self.is_dns_port(sport, dport) {
            self.stats.not_dns += 1;
            return;
        }
        let src = SocketAddr::new(src, sport);
        let dst = SocketAddr::new(dst, dport);
        if proto == 17 {
            let len = usize::from(be16(d, 4).unwrap_or(0));
            if len < 8 {
                return self.malformed();
            }
            if cut || len > d.len() {
                if cut {
                    self.stats.cut_by_snaplen += 1;
                } else {
                    self.malformed();
                }
                return;
            }
            let payload = &d[8..len];
            if self.ports.is_empty() && payload.len() < 12 {
                self.stats.not_dns += 1;
                return;
            }
            emit(DnsPayload {
                frame: ctx.frame,
                offset: ctx.offset,
                time_ns: ctx.time_ns,
                src,
                dst,
                transport: Transport::Udp,
                bytes: payload,
            });
            return;
        }
        // TCP
        let Some(&off) = d.get(12) else {
            return self.malformed();
        };
        let hlen = usize::from(off >> 4) * 4;
        if hlen < 20 || d.len() < hlen {
            return self.malformed();
        }
        let seq = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        let flags = d[13];
        let payload = &d[hlen..];
        self.tcp(ctx, src, dst, seq, flags, payload, cut, emit);
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        ctx: &Ctx,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        flags: u8,
        payload: &[u8],
        cut: bool,
        emit: &mut dyn FnMut(DnsPayload<'_>),
    ) {
        let key = (src, dst);
        if flags & TCP_SYN != 0 {
            let flow = self.flow(key, ctx.time_ns);
            *flow = Flow {
                next_seq: Some(seq.wrapping_add(1)),
                last_ns: ctx.time_ns,
                ..Flow::default()
            };
            return;
        }
        if payload.is_empty() || cut {
            if cut {
                // A hole in the stream: what follows cannot be framed.
                self.stats.cut_by_snaplen += 1;
                self.flows.remove(&key);
            } else if flags & (TCP_FIN | TCP_RST) != 0 {
                self.flows.remove(&key);
            }
            return;
        }
        let mut gap = false;
        let mut retrans = false;
        {
            let flow = self.flow(key, ctx.time_ns);
            flow.last_ns = ctx.time_ns;
            let next = *flow.next_seq.get_or_insert(seq);
            let diff = seq.wrapping_sub(next) as i32;
            if diff < 0 {
                let skip = diff.unsigned_abs() as usize;
                if skip >= payload.len() {
                    retrans = true;
                } else {
                    flow.buf.extend_from_slice(&payload[skip..]);
                    flow.next_seq = Some(next.wrapping_add((payload.len() - skip) as u32));
                }
            } else if diff > 0 {
                let held: usize = flow.out_of_order.iter().map(|(_, p)| p.len()).sum();
                if held + payload.len() > MAX_OUT_OF_ORDER
                    || flow.out_of_order.len() >= MAX_OUT_OF_ORDER_SEGMENTS
                {
                    gap = true;
                } else {
                    flow.out_of_order.push((seq, payload.to_vec()));
                }
            } else {
                flow.buf.extend_from_slice(payload);
                flow.next_seq = Some(next.wrapping_add(payload.len() as u32));
            }
            // Segments that arrived early and now fit.
            while let Some(next) = flow.next_seq {
                let Some(i) = flow.out_of_order.iter().position(|(s, p)| {
                    let d = s.wrapping_sub(next) as i32;
                    d <= 0 && (d.unsigned_abs() as usize) < p.len()
                }) else {
                    flow.out_of_order.retain(|(s, p)| {
                        (s.wrapping_add(p.len() as u32).wrapping_sub(next) as i32) > 0
                    });
                    break;
                };
                let (s, p) = flow.out_of_order.swap_remove(i);
                let skip = next.wrapping_sub(s) as usize;
                flow.buf.extend_from_slice(&p[skip..]);
                flow.next_seq = Some(next.wrapping_add((p.len() - skip) as u32));
            }
        }
        if retrans {
            self.stats.tcp_retransmissions += 1;
        }
        if gap {
            self.stats.tcp_gaps += 1;
            self.flows.remove(&key);
            return;
        }
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        let mut at = 0;
        while let Some(len) = be16(&flow.buf, at) {
            let len = usize::from(len);
            let Some(msg) = flow.buf.get(at + 2..at + 2 + len) else {
                break;
            };
            if !msg.is_empty() {
                emit(DnsPayload {
                    frame: ctx.frame,
                    offset: ctx.offset,
                    time_ns: ctx.time_ns,
                    src,
                    dst,
                    transport: Transport::Tcp,
                    bytes: msg,
                });
            }
            at += 2 + len;
        }
        flow.buf.drain(..at);
        if flags & (TCP_FIN | TCP_RST) != 0 {
            self.flows.remove(&key);
        }
    }

    fn flow(&mut self, key: (SocketAddr, SocketAddr), now: i64) -> &mut Flow {
        if !self.flows.contains_key(&key) && self.flows.len() >= MAX_FLOWS {
            self.sweep(now);
            if self.flows.len() >= MAX_FLOWS {
                if let Some(old) = self
                    .flows
                    .iter()
                    .min_by_key(|(_, f)| f.last_ns)
                    .map(|(k, _)| *k)
                {
                    self.flows.remove(&old);
                    self.stats.tcp_flows_evicted += 1;
                }
            }
        }
        self.flows.entry(key).or_default()
    }

    /// Drops fragments and flows idle for longer than the expiry.
    fn sweep(&mut self, now: i64) {
        self.last_sweep_ns = now;
        let before = self.fragments.len();
        self.fragments
            .retain(|_, d| now.saturating_sub(d.first_ns) <= EXPIRY_NS);
        self.stats.fragments_lost += (before - self.fragments.len()) as u64;
        let before = self.flows.len();
        self.flows
            .retain(|_, f| now.saturating_sub(f.last_ns) <= EXPIRY_NS);
        self.stats.tcp_flows_evicted += (before - self.flows.len()) as u64;
    }

    /// At the end of the capture: datagrams still incomplete are lost.
    pub fn finish(&mut self) {
        self.stats.fragments_lost += self.fragments.len() as u64;
        self.fragments.clear();
        self.flows.clear();
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}
