//! The forwarder and the upstream answer that the engine bench (`benches/engine.rs`), the
//! instruction count (`examples/engine_icount.rs`) and `tests/hit_allocations.rs` all use.
#![allow(dead_code)]

use dnspect_core::engine::forwarder::{Config, Forwarder, UpstreamConfig};
use dnspect_core::wire::{Message, Record};

/// A forwarder with one UDP upstream labelled `label`, no events, and a fixed secret.
pub fn forwarder(label: &str) -> Forwarder {
    let cfg = Config {
        upstreams: vec![UpstreamConfig {
            label: label.into(),
            ..UpstreamConfig::default()
        }],
        events: false,
        ..Config::default()
    };
    Forwarder::new(cfg, [7; 32])
}

/// Adds the CDN answer: `www.example.com.` a CNAME to two A records.
pub fn add_cdn_answer(m: &mut Message) {
    for r in [
        "www.example.com. 300 IN CNAME www.example-cdn.net.",
        "www.example-cdn.net. 300 IN A 192.0.2.1",
        "www.example-cdn.net. 300 IN A 192.0.2.2",
    ] {
        m.answers.push(Record::from_text(r).unwrap());
    }
}
