//! The engine in process, no sockets: ns and heap allocations per client query for a cache hit
//! and for a miss followed by an upstream answer. Issue 11's target: a hit costs at most 150 ns
//! and no allocation beyond the outgoing buffer. `hit/zones` is a hit with per-zone forwarding
//! and local data configured.
#![allow(clippy::unwrap_used)]
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
#[path = "../tests/engine_setup/mod.rs"]
mod engine_setup;

use dnspect_core::engine::forwarder::{ClientId, Forwarder, Input, Output};
use dnspect_core::engine::Transport;
use dnspect_core::wire::Message;
use engine_setup::{add_cdn_answer, forwarder, forwarder_with_zones, query};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn answer_for(q: &[u8]) -> Vec<u8> {
    let mut m = Message::from_wire(q).unwrap();
    m.header.qr = true;
    m.header.ra = true;
    add_cdn_answer(&mut m);
    m.to_wire().unwrap()
}

/// Runs one miss and its upstream answer; returns the client answer's size.
fn miss(f: &mut Forwarder, q: &[u8], now: Duration) -> usize {
    ask(f, q, now);
    let mut up = None;
    let mut size = 0;
    loop {
        match f.poll() {
            Output::Query(t) => up = Some((t.bytes, t.token)),
            Output::Answer(t) => size = t.bytes.len(),
            Output::Wake(_) => break,
            _ => {}
        }
    }
    if let Some((u, token)) = up {
        let a = answer_for(&u);
        f.handle(Input::Response {
            now,
            token,
            transport: Transport::Udp,
            bytes: &a,
        });
        if let Some(n) = drain(f) {
            size = n;
        }
    }
    size
}

/// Polls until the forwarder waits; the size of the last client answer, if any.
fn drain(f: &mut Forwarder) -> Option<usize> {
    let mut size = None;
    loop {
        match f.poll() {
            Output::Answer(t) => size = Some(t.bytes.len()),
            Output::Wake(_) => return size,
            _ => {}
        }
    }
}

/// A UDP query from client 1.
fn ask(f: &mut Forwarder, q: &[u8], now: Duration) {
    f.handle(Input::Query {
        now,
        client: ClientId(1),
        transport: Transport::Udp,
        bytes: q,
    });
}

fn hit(f: &mut Forwarder, q: &[u8], now: Duration) -> usize {
    ask(f, q, now);
    drain(f).unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let quick = std::env::var_os("DNSPECT_BENCH_QUICK").is_some();
    let mut g = c.benchmark_group("engine");
    if quick {
        g.warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .sample_size(10);
    }
    // noedns and edns: the default configuration; zones: per-zone forwarding and local data
    // configured (`engine_setup::forwarder_with_zones`), a query without EDNS in a forward zone.
    for (name, edns, zones) in [
        ("noedns", false, false),
        ("edns", true, false),
        ("zones", false, true),
    ] {
        let q = query("www.example.com.", 4242, edns);
        let mut f = if zones {
            forwarder_with_zones("127.0.0.1:53")
        } else {
            forwarder("127.0.0.1:53")
        };
        let now = Duration::from_secs(1);
        assert!(miss(&mut f, &q, now) > 0);
        // Allocations per hit, measured outside criterion.
        let before = ALLOCS.load(Ordering::Relaxed);
        let n = 10_000u64;
        for _ in 0..n {
            assert!(hit(&mut f, &q, now) > 0);
        }
        let per = (ALLOCS.load(Ordering::Relaxed) - before) as f64 / n as f64;
        eprintln!(
            "engine/hit/{name}: {per:.2} heap allocations per query (the answer buffer is 1)"
        );
        g.bench_function(format!("hit/{name}"), |b| b.iter(|| hit(&mut f, &q, now)));
    }
    let mut i = 0u32;
    let mut f = forwarder("127.0.0.1:53");
    let before = ALLOCS.load(Ordering::Relaxed);
    let n = 2000u32;
    for k in 0..n {
        let q = query(&format!("n{k}.example.com."), 1, true);
        miss(&mut f, &q, Duration::from_secs(1));
    }
    eprintln!(
        "engine/miss: {:.1} heap allocations per query",
        (ALLOCS.load(Ordering::Relaxed) - before) as f64 / f64::from(n)
    );
    g.bench_function("miss+answer", |b| {
        b.iter_batched(
            || {
                i = i.wrapping_add(1);
                query(&format!("m{i}.example.com."), 1, true)
            },
            |q| miss(&mut f, &q, Duration::from_secs(1)),
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
