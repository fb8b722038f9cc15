//! dnspect-core: the sans-io heart of dnspect.
//!
//! `wire` owns the DNS message format: a zero-copy view for the per-packet path, a full decode
//! with byte spans for the analyzer, a compressing encoder, size accounting, truncation and the
//! paste formats people bring. It performs no IO, reads no clock and draws no OS randomness.
#![forbid(unsafe_code)]

#[macro_use]
mod rules;
pub mod cache;
pub mod engine;
pub mod examples;
pub mod incidents;
pub mod local;
pub mod pcap;
pub mod shards;
pub mod sim;
pub mod units;
pub mod wire;
