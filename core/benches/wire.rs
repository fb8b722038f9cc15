//! Wire-layer throughput, dnspect against hickory-proto in the same run.
//!
//! For each input (the two incident seed packets and a typical 124-byte www.example.com answer)
//! it measures ns per message for:
//!
//! | id                | what                                                         |
//! |-------------------|--------------------------------------------------------------|
//! | `dnspect_scan`    | zero-copy walk: `MessageView::new` + `scan()`                 |
//! | `dnspect_decode`  | full typed decode: `Message::from_wire`                       |
//! | `dnspect_analyze` | annotated analysis: `wire::inspect::analyze::analyze`                  |
//! | `dnspect_encode`  | compressed encode of a pre-decoded message: `Message::to_wire`|
//! | `hickory_decode`  | `hickory_proto::op::Message::from_vec`                        |
//! | `hickory_encode`  | `hickory_proto::op::Message::to_vec` of a pre-decoded message |
//!
//! Criterion writes `target/criterion/<input>/<id>/new/estimates.json`; `bench/wire.sh` turns
//! those into a table with the ratios against hickory.
//!
//! `DNSPECT_BENCH_QUICK=1` shrinks warm-up and measurement to a smoke run of a few seconds.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dnspect_core::wire::inspect::analyze::analyze;
use dnspect_core::wire::{Message, MessageView};

#[path = "../examples/common/wire_inputs.rs"]
mod wire_inputs;

/// Checks, before timing anything, that every operation succeeds on `bytes` and that both
/// libraries see the same message, so that no benchmark measures an early error exit.
fn sanity(name: &str, bytes: &[u8]) {
    let scan = MessageView::new(bytes)
        .and_then(|v| v.scan())
        .unwrap_or_else(|e| panic!("{name}: scan: {e}"));
    assert_eq!(scan.end, bytes.len(), "{name}: scan end");
    let msg = Message::from_wire(bytes).unwrap_or_else(|e| panic!("{name}: from_wire: {e}"));
    let a = analyze(bytes);
    assert!(a.error.is_none(), "{name}: analyze: {:?}", a.error);
    let out = msg
        .to_wire()
        .unwrap_or_else(|e| panic!("{name}: to_wire: {e}"));
    assert_eq!(
        Message::from_wire(&out).as_ref(),
        Ok(&msg),
        "{name}: to_wire round trip"
    );
    if name.starts_with("www") {
        assert_eq!(out, bytes, "{name}: optimal input re-encodes byte for byte");
    }
    let h = hickory_proto::op::Message::from_vec(bytes)
        .unwrap_or_else(|e| panic!("{name}: hickory from_vec: {e}"));
    assert_eq!(
        h.answers.len(),
        msg.answers.len(),
        "{name}: hickory answer count"
    );
    let hv = h
        .to_vec()
        .unwrap_or_else(|e| panic!("{name}: hickory to_vec: {e}"));
    let back =
        Message::from_wire(&hv).unwrap_or_else(|e| panic!("{name}: hickory's encoding: {e}"));
    assert_eq!(
        back.answers, msg.answers,
        "{name}: hickory's encoding decodes to the same answers"
    );
}

fn wire(c: &mut Criterion) {
    for (name, bytes) in wire_inputs::all() {
        sanity(name, &bytes);
        let msg = Message::from_wire(&bytes).expect("decode");
        let hmsg = hickory_proto::op::Message::from_vec(&bytes).expect("hickory decode");

        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(1));
        g.bench_function("dnspect_scan", |b| {
            b.iter(|| {
                let v = MessageView::new(black_box(&bytes)).expect("view");
                black_box(v.scan().expect("scan"))
            })
        });
        g.bench_function("dnspect_decode", |b| {
            b.iter(|| black_box(Message::from_wire(black_box(&bytes)).expect("decode")))
        });
        g.bench_function("dnspect_analyze", |b| {
            b.iter(|| black_box(analyze(black_box(&bytes))))
        });
        g.bench_function("dnspect_encode", |b| {
            b.iter(|| black_box(black_box(&msg).to_wire().expect("encode")))
        });
        g.bench_function("hickory_decode", |b| {
            b.iter(|| {
                black_box(
                    hickory_proto::op::Message::from_vec(black_box(&bytes))
                        .expect("hickory decode"),
                )
            })
        });
        g.bench_function("hickory_encode", |b| {
            b.iter(|| black_box(black_box(&hmsg).to_vec().expect("hickory encode")))
        });
        g.finish();
    }
}

fn config() -> Criterion {
    let c = Criterion::default().noise_threshold(0.05);
    if std::env::var("DNSPECT_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0") {
        c.warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .sample_size(10)
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(50)
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = wire
}
criterion_main!(benches);
