//! Encoding time per name as the number of distinct names in a message grows (issue 11: the
//! encoder must be linear in names). `cargo run --release -p dnspect-core --example encode_names`
//! prints ns per name for 10 to 5,000 names; a linear encoder keeps the figure flat.
#![allow(clippy::unwrap_used)]
// A benchmark program beside the crate, not the sans-io core: it reads the clock to time the encoder.
#![allow(clippy::disallowed_methods)]
use std::time::Instant;

use dnspect_core::wire::{Message, Question, RType, Record};

fn message(n: usize) -> Message {
    let mut m = Message::default();
    m.header.qr = true;
    m.questions.push(Question {
        name: "big.example.".parse().unwrap(),
        qtype: RType::TXT,
        class: dnspect_core::wire::Class(1),
    });
    for i in 0..n {
        m.answers.push(
            Record::from_text(&format!(
                "h{i}.s{}.example. 60 IN CNAME t{i}.cdn.example.",
                i % 7
            ))
            .unwrap(),
        );
    }
    m
}

fn main() {
    for n in [10usize, 100, 1000, 5000] {
        let m = message(n);
        let rounds = (200_000 / n).max(3);
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let mut len = 0;
            for _ in 0..rounds {
                len += m.to_wire().map_or(0, |w| w.len());
            }
            let ns = t.elapsed().as_nanos() as f64 / (rounds * n * 2) as f64;
            best = best.min(ns);
            std::hint::black_box(len);
        }
        println!("{n:>5} records ({} names): {best:.1} ns per name", n * 2);
    }
}
