//! The capture analyzer's memory stays bounded on hostile input: a quarter of a gigabyte of
//! capture made of what fills tables (queries never answered, each from a new port; TCP flows
//! that open and never finish a message, with out-of-order data; IP datagrams whose last fragment
//! never comes; answers for ever-new names) is fed in 1 MiB chunks, and a counting allocator
//! measures the heap the analyzer holds at its peak.
#![allow(clippy::unwrap_used)]
// A counting global allocator is the one unsafe thing here: it forwards to the system allocator.
#![allow(unsafe_code)]
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use dnspect_core::pcap::{CaptureAnalyzer, CaptureOptions};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn note(delta: isize) {
    let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size() as isize);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        note(-(l.size() as isize));
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note(new as isize - l.size() as isize);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static A: Counting = Counting;

fn record(out: &mut Vec<u8>, t_us: u64, frame: &[u8]) {
    out.extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(frame);
}

/// Raw IPv4 (LINKTYPE_RAW) with the given protocol, fragment field and payload.
fn ipv4(src: u32, proto: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&[192, 0, 2, 53]);
    p.extend_from_slice(payload);
    p
}

fn dns(id: u16, name: u32, response: bool) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(if response {
        &[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
    } else {
        &[0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    });
    let label = format!("n{name}");
    m.push(label.len() as u8);
    m.extend_from_slice(label.as_bytes());
    m.extend_from_slice(&[4, b't', b'e', b's', b't', 0, 0, 1, 0, 1]);
    if response {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 1]);
    }
    m
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = sport.to_be_bytes().to_vec();
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn tcp(sport: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut t = sport.to_be_bytes().to_vec();
    t.extend_from_slice(&53u16.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

/// The `i`th group of hostile frames, at `t_us`.
fn frames(i: u32, t_us: u64, out: &mut Vec<u8>) {
    let src = 0x0a00_0000 | (i & 0x00ff_ffff);
    let port = 1024 + (i % 60000) as u16;
    // A query never answered, from a new address and port.
    record(
        out,
        t_us,
        &ipv4(src, 17, 1, 0, &udp(port, 53, &dns(i as u16, i, false))),
    );
    // A TCP flow: the start of a 60,000-byte message, and data far ahead (out of order).
    record(
        out,
        t_us,
        &ipv4(
            src,
            6,
            2,
            0,
            &tcp(port, 1000, &[&[0xea, 0x60][..], &[7u8; 1000][..]].concat()),
        ),
    );
    record(
        out,
        t_us,
        &ipv4(src, 6, 3, 0, &tcp(port, 50_000, &[9u8; 1200])),
    );
    // The first fragment of a UDP datagram whose rest never comes.
    record(
        out,
        t_us,
        &ipv4(
            src,
            17,
            i as u16,
            0x2000,
            &udp(port, 53, &[5u8; 1400])[..1408],
        ),
    );
    // An answer for a new name (followed for flapping), from the server; its ID matches no query.
    let mut answer = ipv4(
        0xc000_0235,
        17,
        4,
        0,
        &udp(53, port, &dns(!(i as u16), i, true)),
    );
    answer[16..20].copy_from_slice(&src.to_be_bytes());
    record(out, t_us, &answer);
}

#[test]
fn hostile_captures_hold_bounded_memory() {
    let mut a = CaptureAnalyzer::new(CaptureOptions::default()).unwrap();
    let mut header = Vec::new();
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    header.extend_from_slice(&262_144u32.to_le_bytes());
    header.extend_from_slice(&101u32.to_le_bytes());
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut fed = header.len();
    a.feed(&header, &mut |_, _| {}).unwrap();
    let mut chunk = Vec::with_capacity(1 << 21);
    let mut messages = 0u64;
    let groups = 60_000u32;
    let mut peak_half = 0;
    for i in 0..groups {
        // 2 ms apart: 120 s of capture, past every expiry.
        frames(i, 1_700_000_000_000_000 + u64::from(i) * 2_000, &mut chunk);
        if chunk.len() >= 1 << 20 || i + 1 == groups {
            fed += chunk.len();
            a.feed(&chunk, &mut |_, _| messages += 1).unwrap();
            chunk.clear();
        }
        if i == groups / 2 {
            peak_half = PEAK.load(Ordering::Relaxed) - base;
        }
    }
    a.finish().unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let r = a.report();
    println!(
        "fed {} MB, {messages} DNS messages, peak heap {} MB (at half-way {} MB)",
        fed >> 20,
        peak >> 20,
        peak_half >> 20
    );
    assert!(fed > 200 << 20, "only {fed} bytes fed");
    assert_eq!(messages, 2 * u64::from(groups));
    assert!(
        r.skipped.fragments_lost > 0 && r.skipped.tcp_flows_evicted > 0,
        "{:?}",
        r.skipped
    );
    assert!(r.servers[0].unanswered > 0);
    // The analyzer's tables, whatever was fed: far below what was fed, and not growing with it.
    assert!(
        peak < 96 << 20,
        "peak heap {peak} bytes for {fed} bytes fed"
    );
    assert!(
        peak < peak_half * 2,
        "the heap grew with the input: {peak_half} then {peak}"
    );
}
