//! Runs N operations through the engine, for `valgrind --tool=callgrind` instruction counts:
//!
//! ```text
//! cargo build --release -p dnspect-core --example engine_icount
//! valgrind --tool=callgrind target/release/examples/engine_icount <mode> N
//! ```
//!
//! `<mode>`:
//! - `hit`: a cache hit (no EDNS, a CNAME to two A records).
//! - `miss`: a miss for a new name, its upstream query, the upstream's answer (EDNS, a CNAME
//!   to two A records, compressed) taken into the cache and the client's answer.
//! - `miss-large`: a miss answered with incident 000's shape: 20 A records written without
//!   compression (758 B), for a client without EDNS (512 B limit).
//! - `hit-large`: a hit on an answer of 100 A records (1.6 kB) for an EDNS client of 1232 B,
//!   which must be truncated to the client's limit.
//!
//! Setup is the same whatever N is, so (count(N2) - count(N1)) / (N2 - N1) is the cost of one
//! operation. A bare number as the first argument means `hit N` (the old form).
//!
//! A last argument `zones` configures per-zone forwarding and local data
//! (`engine_setup::forwarder_with_zones`), e.g. `engine_icount hit 10000 zones`. A last
//! argument `shared` (after `zones` if both) uses the sharded cache `dnspect serve` makes for
//! two workers instead of the engine's private one.
#![allow(clippy::unwrap_used)]
use std::time::Duration;

#[path = "../tests/engine_setup/mod.rs"]
mod engine_setup;

use dnspect_core::cache::shared::SharedCache;
use dnspect_core::engine::forwarder::{ClientId, Forwarder, Input, Output};
use dnspect_core::engine::Transport;
use dnspect_core::wire::{Class, Edns, Message, RData, RType, Record};
use engine_setup::{forwarder, forwarder_with_zones, query};

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Cdn,
    Large { records: usize, compressed: bool },
}

/// The upstream's answer to the query `up` (ID, question and EDNS as in `up`: the engine asks
/// upstream with EDNS whatever the client sent).
fn answer(up: &[u8], shape: Shape) -> Vec<u8> {
    let mut m = Message::from_wire(up).unwrap();
    m.header.qr = true;
    m.header.ra = true;
    m.edns = Some(Edns::new(1232));
    let owner = m.questions[0].name.clone();
    match shape {
        Shape::Cdn => {
            let cdn: dnspect_core::wire::Name = "www.example-cdn.net.".parse().unwrap();
            m.answers.push(Record {
                name: owner,
                rtype: RType::CNAME,
                class: Class::IN,
                ttl: 300,
                rdata: RData::Name {
                    target: cdn.clone(),
                },
            });
            for a in [[192, 0, 2, 1], [192, 0, 2, 2]] {
                m.answers.push(Record {
                    name: cdn.clone(),
                    rtype: RType::A,
                    class: Class::IN,
                    ttl: 300,
                    rdata: RData::A { address: a.into() },
                });
            }
        }
        Shape::Large {
            records,
            compressed,
        } => {
            for i in 0..records {
                m.answers.push(Record {
                    name: owner.clone(),
                    rtype: RType::A,
                    class: Class::IN,
                    ttl: 60,
                    rdata: RData::A {
                        address: [10, 0, (i >> 8) as u8, i as u8].into(),
                    },
                });
            }
            if !compressed {
                return m.to_wire_uncompressed().unwrap();
            }
        }
    }
    m.to_wire().unwrap()
}

/// One client query and, when it goes upstream, the upstream's answer `a` (built beforehand
/// for this question; its ID is patched to the upstream query's); bytes answered.
fn run(f: &mut Forwarder, q: &[u8], a: &mut [u8], now: Duration) -> usize {
    f.handle(Input::Query {
        now,
        client: ClientId(2),
        transport: Transport::Udp,
        bytes: q,
    });
    let mut up = None;
    let mut total = 0;
    loop {
        match f.poll() {
            Output::Query(t) => up = Some((t.bytes, t.token)),
            Output::Answer(t) => total += t.bytes.len(),
            Output::Wake(_) => break,
            _ => {}
        }
    }
    if let Some((up, token)) = up {
        a[..2].copy_from_slice(&up[..2]);
        f.handle(Input::Response {
            now,
            token,
            transport: Transport::Udp,
            bytes: a,
        });
        loop {
            match f.poll() {
                Output::Answer(t) => total += t.bytes.len(),
                Output::Wake(_) => break,
                _ => {}
            }
        }
    }
    total
}

/// `k` as 7 decimal digits.
fn format_digits(mut k: usize) -> [u8; 7] {
    let mut d = [b'0'; 7];
    for i in (0..7).rev() {
        d[i] = b'0' + (k % 10) as u8;
        k /= 10;
    }
    d
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `shared`: the cache the server's workers share (2 workers' worth of shards), as
    // `dnspect serve` makes it, instead of the engine's private one-shard cache.
    let shared = args.last().map(String::as_str) == Some("shared");
    if shared {
        args.pop();
    }
    let zones = args.last().map(String::as_str) == Some("zones");
    if zones {
        args.pop();
    }
    let (mode, n) = match args.as_slice() {
        [n] if n.parse::<usize>().is_ok() => ("hit", n.parse().unwrap()),
        [m, n] => (m.as_str(), n.parse().unwrap()),
        _ => ("hit", 1000),
    };
    let mut f = if zones {
        forwarder_with_zones("u")
    } else {
        forwarder("u")
    };
    if shared {
        let cfg = f.config().clone();
        // ICOUNT_CACHE_MIB: another budget (the bench's servers run with 1 GiB: 1,024 shards).
        let size = std::env::var("ICOUNT_CACHE_MIB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(cfg.cache.size, |m| m << 20);
        let cache = SharedCache::for_workers(size, 2, 99);
        f = Forwarder::with_cache(cfg, [7; 32], std::sync::Arc::new(cache));
    }
    let now = Duration::from_secs(1);
    let large = Shape::Large {
        records: 20,
        compressed: false,
    };
    let huge = Shape::Large {
        records: 100,
        compressed: true,
    };
    // Names and queries are built before counting starts, so only the engine is counted.
    let mut total = 0usize;
    match mode {
        // Hits on 1,000 names in turn (a pseudo-random order): with the `shared` cache of a
        // 1 GiB budget they sit in as many shards. Run under `cachegrind`, its D1 misses per hit
        // are the cache lines a hit touches when they are cold, which is what a server's hit
        // costs once the kernel's network stack has run between two batches.
        "hit-spread" => {
            let names: Vec<(Vec<u8>, Vec<u8>)> = (0..1000)
                .map(|k| {
                    let q = query(&format!("h{k:03}.example.com."), 1, true);
                    let a = answer(&q, Shape::Cdn);
                    (q, a)
                })
                .collect();
            let mut names = names;
            for (q, a) in &mut names {
                run(&mut f, q, a, now);
            }
            let mut x = 12_345u32;
            for _ in 0..n {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let (q, a) = &mut names[((x >> 8) % 1000) as usize];
                total += run(&mut f, q, a, now);
            }
        }
        "hit" | "hit-large" => {
            let (q, shape) = if mode == "hit" {
                (query("www.example.com.", 1, false), Shape::Cdn)
            } else {
                (query("big.example.com.", 1, true), huge)
            };
            let mut a = answer(&q, shape);
            run(&mut f, &q, &mut a, now);
            for _ in 0..n {
                total += run(&mut f, &q, &mut a, now);
            }
        }
        "miss" | "miss-large" => {
            let (edns, shape) = if mode == "miss" {
                (true, Shape::Cdn)
            } else {
                (false, large)
            };
            // One query and one answer for `n0000000.example.com.`, renamed in place for each
            // miss (the name's digits wherever the name is written: a few stores, no
            // allocation, so the count is the engine's).
            let mut q = query("n0000000.example.com.", 1, edns);
            let mut a = answer(&q, shape);
            let at: Vec<usize> = a
                .windows(8)
                .enumerate()
                .filter(|(_, w)| w == b"n0000000")
                .map(|(i, _)| i + 1)
                .collect();
            run(&mut f, &q, &mut a, now);
            for k in 1..=n {
                let digits = format_digits(k);
                q[14..21].copy_from_slice(&digits);
                for &i in &at {
                    a[i..i + 7].copy_from_slice(&digits);
                }
                total += run(&mut f, &q, &mut a, now);
            }
        }
        // One client's admit and done, as a worker calls them around each query, with a rate
        // and a waiting limit on: `admit` on a worker's own table (before the table was
        // shared), `admit-shared` on the table all workers share.
        "admit" | "admit-shared" => {
            use dnspect_core::engine::admission::{Admission, AdmissionConfig, SharedAdmission};
            let cfg = AdmissionConfig {
                qps: 1_000_000,
                burst: 1_000_000,
                ..AdmissionConfig::default()
            };
            let ip = std::net::IpAddr::from([192, 0, 2, 1]);
            let mut own = Admission::new(cfg);
            let shared = SharedAdmission::new(cfg, 99);
            for k in 0..=n {
                let at = now + Duration::from_micros(k as u64);
                if mode == "admit" {
                    total += usize::from(own.admit(at, ip).is_ok());
                    own.done(ip);
                } else {
                    total += usize::from(shared.admit(at, ip).is_ok());
                    shared.done(ip);
                }
            }
        }
        other => {
            eprintln!(
                "unknown mode {other}: hit | miss | miss-large | hit-large | admit | admit-shared"
            );
            std::process::exit(2);
        }
    }
    println!("{mode}: {n} queries, {total} bytes answered (admitted, for admit modes)");
}
