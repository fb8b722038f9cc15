//! Runs N cache hits through the engine, for `valgrind --tool=callgrind` instruction counts:
//! `cargo build --release --example engine_icount && valgrind --tool=callgrind
//! target/release/examples/engine_icount 10000`; a second argument `zones` configures per-zone
//! forwarding and local data (`engine_setup::forwarder_with_zones`).
#![allow(clippy::unwrap_used)]
use std::time::Duration;

#[path = "../tests/engine_setup/mod.rs"]
mod engine_setup;

use dnspect_core::engine::forwarder::{ClientId, Input, Output};
use dnspect_core::engine::Transport;
use dnspect_core::wire::{Message, Question, RType};
use engine_setup::{add_cdn_answer, forwarder, forwarder_with_zones};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let mut f = if std::env::args().nth(2).as_deref() == Some("zones") {
        forwarder_with_zones("u")
    } else {
        forwarder("u")
    };
    let mut m = Message::default();
    m.header.id = 1;
    m.header.rd = true;
    m.questions.push(Question {
        name: "www.example.com.".parse().unwrap(),
        qtype: RType::A,
        class: dnspect_core::wire::Class::IN,
    });
    let q = m.to_wire().unwrap();
    let now = Duration::from_secs(1);
    f.handle(Input::Query {
        now,
        client: ClientId(1),
        transport: Transport::Udp,
        bytes: &q,
    });
    let mut up = None;
    loop {
        match f.poll() {
            Output::Query(t) => up = Some((t.bytes, t.token)),
            Output::Wake(_) => break,
            _ => {}
        }
    }
    let (up, token) = up.unwrap();
    let mut a = Message::from_wire(&up).unwrap();
    a.header.qr = true;
    add_cdn_answer(&mut a);
    f.handle(Input::Response {
        now,
        token,
        transport: Transport::Udp,
        bytes: &a.to_wire().unwrap(),
    });
    while !matches!(f.poll(), Output::Wake(_)) {}
    let mut total = 0usize;
    for _ in 0..n {
        f.handle(Input::Query {
            now,
            client: ClientId(2),
            transport: Transport::Udp,
            bytes: &q,
        });
        loop {
            match f.poll() {
                Output::Answer(t) => total += t.bytes.len(),
                Output::Wake(_) => break,
                _ => {}
            }
        }
    }
    println!("{n} hits, {} bytes answered", total);
}
