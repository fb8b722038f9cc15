//! What an admin request costs the worker that answers it (issue 12): a listing and a flush run
//! on a worker's thread between queries, so their time is time no query is served.
//! `cargo run --release -p dnspect-core --example cache_listing` fills an engine's cache with
//! 10,000 and 100,000 names through its normal path (client query, upstream answer) and prints
//! the median of 5 rounds for: one name (`cache show NAME`), a suffix holding 1% of the names,
//! the whole cache with the default limit of 1,000, and a suffix flush.
#![allow(clippy::unwrap_used)]
// A benchmark program beside the crate, not the sans-io core: it reads the clock.
#![allow(clippy::disallowed_methods)]
use std::time::{Duration, Instant};

use dnspect_core::engine::forwarder::{
    ClientId, Config, Flush, Forwarder, Input, Output, UpstreamConfig,
};
use dnspect_core::engine::Transport;
use dnspect_core::wire::{Class, Message, Name, Question, RType, Record};

fn filled(n: usize) -> Forwarder {
    let cfg = Config {
        upstreams: vec![UpstreamConfig {
            label: "192.0.2.53:53".into(),
            ..UpstreamConfig::default()
        }],
        events: false,
        cache: dnspect_core::cache::CachePolicy {
            size: 1 << 30,
            ..Default::default()
        },
        // No loop probe among the upstream queries counted here.
        loop_check: false,
        ..Config::default()
    };
    let mut f = Forwarder::new(cfg, [1; 32]);
    let now = Duration::from_secs(1);
    for i in 0..n {
        // 1% of the names under sub0.example.
        let name = format!("h{i}.sub{}.example.", i % 100);
        let mut q = Message::default();
        q.header.rd = true;
        q.questions.push(Question {
            name: name.parse().unwrap(),
            qtype: RType::A,
            class: Class::IN,
        });
        let bytes = q.to_wire().unwrap();
        f.handle(Input::Query {
            now,
            client: ClientId(1),
            transport: Transport::Udp,
            bytes: &bytes,
        });
        let mut up = None;
        loop {
            match f.poll() {
                Output::Query(u) => up = Some(u),
                Output::Wake(_) => break,
                _ => {}
            }
        }
        let up = up.unwrap();
        let mut a = Message::from_wire(&up.bytes).unwrap();
        a.header.qr = true;
        a.answers
            .push(Record::from_text(&format!("{name} 300 IN A 192.0.2.1")).unwrap());
        let bytes = a.to_wire().unwrap();
        f.handle(Input::Response {
            now,
            token: up.token,
            transport: up.transport,
            bytes: &bytes,
        });
        while !matches!(f.poll(), Output::Wake(_)) {}
    }
    f
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(mut run: impl FnMut() -> usize) -> (f64, usize) {
    let mut ms = Vec::new();
    let mut n = 0;
    for _ in 0..5 {
        let t = Instant::now();
        n = run();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (median(ms), n)
}

fn main() {
    let now = Duration::from_secs(2);
    for n in [10_000usize, 100_000] {
        let f = filled(n);
        let one: Name = "h7.sub7.example.".parse().unwrap();
        let sub: Name = "sub0.example.".parse().unwrap();
        let (t1, k1) = time(|| f.cache_entries(Some(&one), false, 1000, now).total);
        let (t2, k2) = time(|| f.cache_entries(Some(&sub), true, 1000, now).total);
        let (t3, k3) = time(|| f.cache_entries(None, false, 1000, now).entries.len());
        let mut flushed = Vec::new();
        for _ in 0..5 {
            let mut g = filled(n);
            let t = Instant::now();
            let k = g.cache_flush(&Flush::Suffix(sub.clone())).keys;
            flushed.push((t.elapsed().as_secs_f64() * 1000.0, k));
        }
        let k4 = flushed[0].1;
        let t4 = median(flushed.into_iter().map(|x| x.0).collect());
        println!(
            "{n:>7} keys: one name {t1:.2} ms ({k1} entry), suffix {t2:.2} ms ({k2} entries), \
             all (limit 1000) {t3:.2} ms ({k3} shown), suffix flush {t4:.2} ms ({k4} keys)"
        );
    }
}
