//! The generated halves of the npm package's JS, checked against the Rust they come from:
//!
//! - `js/generated.d.ts`: the TypeScript declarations of every serde type that crosses the
//!   boundary as JSON (from `#[derive(ts_rs::TS)]` on the core's wire types, behind its `ts`
//!   feature, and on this crate's own), which `js/dnspect.d.ts` re-exports;
//! - the constants block of `js/tape.mjs`: the tape layout and the shared-buffer descriptor of
//!   [`crate::tape`].
//!
//! Each test fails when the committed file differs from what the Rust types generate today.
//! `DNSPECT_UPDATE_JS=1 cargo test -p dnspect-wasm --lib ts::` rewrites both files instead.

use std::fmt::Write as _;
use std::path::PathBuf;

use dnspect_core::wire::capture::input::Source;
use dnspect_core::wire::capture::paste::{Layer, LayerKind, PasteFormat};
use dnspect_core::wire::inspect::analyze::{
    Analysis, Compression, Crossing, Missed, Pointer, RecordSize, SectionSize, Severity, Sizes,
    Warning,
};
use dnspect_core::wire::message::Truncation;
use dnspect_core::wire::rdfields::{AplItem, RdField};
use dnspect_core::wire::spans::{Field, FieldKind};
use dnspect_core::wire::{
    Class, Edns, EdnsOption, ErrorKind, Header, Message, Name, Opcode, Question, RData, RType,
    Rcode, Record, Section, SvcParam, WireError,
};
use ts_rs::{Config, TS};

use crate::tape;

const UPDATE: &str = "DNSPECT_UPDATE_JS";

fn push<T: TS + ?Sized>(cfg: &Config, out: &mut String) {
    out.push('\n');
    if let Some(docs) = T::docs() {
        out.push_str(&docs);
    }
    out.push_str("export ");
    out.push_str(&T::decl(cfg));
    out.push('\n');
}

/// The text of `js/generated.d.ts`.
fn declarations() -> String {
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// GENERATED from the Rust types by wasm/src/ts.rs (ts-rs): do not edit. Regenerate with\n\
         // `DNSPECT_UPDATE_JS=1 cargo test -p dnspect-wasm --lib ts::`; `cargo test` fails while\n\
         // this file and the Rust types disagree. Byte strings are lowercase hex unless noted;\n\
         // type, class and opcode mnemonics are strings (`\"A\"`, `\"TYPE65280\"`).\n",
    );
    macro_rules! all {
        ($($t:ty),* $(,)?) => { $( push::<$t>(&cfg, &mut out); )* };
    }
    all!(
        // mnemonics and names, in their presentation form
        RType,
        Rcode,
        Class,
        Opcode,
        Name,
        // messages (dnspect_core::wire::message, rdata, edns)
        Header,
        Question,
        Record,
        RData,
        RdField,
        AplItem,
        SvcParam,
        EdnsOption,
        Edns,
        Message,
        // the analysis (dnspect_core::wire::inspect::analyze, spans, paste, error)
        Section,
        FieldKind,
        Field,
        PasteFormat,
        LayerKind,
        Layer,
        Source,
        ErrorKind,
        WireError,
        Pointer,
        Missed,
        Compression,
        RecordSize,
        SectionSize,
        Crossing,
        Sizes,
        Severity,
        Warning,
        Analysis,
        // the engine's events (dnspect_core::engine::event)
        dnspect_core::engine::event::EventKind,
        dnspect_core::engine::event::Event,
        // the engine's configuration (engine::forwarder::config, cache::policy, engine::admission)
        dnspect_core::engine::upstreams::Policy,
        dnspect_core::engine::forwarder::UpstreamConfig,
        dnspect_core::engine::forwarder::ProbeConfig,
        dnspect_core::engine::forwarder::ZoneCache,
        dnspect_core::engine::forwarder::ForwardZone,
        dnspect_core::local::LocalAnswer,
        dnspect_core::local::LocalZone,
        dnspect_core::local::HostsText,
        dnspect_core::local::LocalConfig,
        dnspect_core::local::LocalSource,
        dnspect_core::cache::policy::ServeStale,
        dnspect_core::cache::policy::CachePolicy,
        dnspect_core::engine::admission::LimitAction,
        dnspect_core::engine::admission::AdmissionConfig,
        dnspect_core::engine::forwarder::ClientSubnetConfig,
        dnspect_core::engine::forwarder::Config,
        // the engine's counters (engine::forwarder, engine::upstreams, cache::store)
        dnspect_core::engine::forwarder::Dropped,
        dnspect_core::engine::forwarder::Busy,
        dnspect_core::engine::forwarder::Stats,
        dnspect_core::engine::upstreams::Counters,
        dnspect_core::cache::store::StoreStats,
        // captures (dnspect_core::pcap)
        dnspect_core::pcap::Format,
        dnspect_core::pcap::Transport,
        dnspect_core::pcap::CaptureError,
        dnspect_core::pcap::CaptureOptions,
        dnspect_core::pcap::CaptureMessage,
        dnspect_core::pcap::net::NetStats,
        dnspect_core::pcap::report::Latency,
        dnspect_core::pcap::report::Randomness,
        dnspect_core::pcap::report::Flap,
        dnspect_core::pcap::ServerReport,
        dnspect_core::pcap::CaptureReport,
        dnspect_core::pcap::replay::CapturedAnswer,
        dnspect_core::pcap::replay::ReplayRow,
        dnspect_core::pcap::replay::Replay,
        // cache inspection (engine::forwarder::inspect, cache::store)
        dnspect_core::cache::store::EntryKind,
        dnspect_core::engine::forwarder::CacheEntryView,
        dnspect_core::engine::forwarder::CacheListing,
        dnspect_core::engine::forwarder::FlushReport,
        // the simulator (dnspect_core::sim)
        dnspect_core::sim::Behaviour,
        dnspect_core::sim::Rule,
        dnspect_core::sim::ScriptedUpstream,
        dnspect_core::sim::ExpectAnswer,
        dnspect_core::sim::ClientQuery,
        dnspect_core::sim::Expect,
        dnspect_core::sim::Scenario,
        dnspect_core::sim::TraceLine,
        dnspect_core::sim::ClientAnswer,
        dnspect_core::sim::SimResult,
        // fit and this crate's own
        Truncation,
        crate::PasteMeta<'static>,
        crate::Example<'static>,
        // the incident library (dnspect_core::incidents)
        dnspect_core::incidents::RfcRef,
        dnspect_core::incidents::PolicyRun,
        dnspect_core::incidents::Incident,
        crate::IncidentRuns<'static>,
    );
    out
}

const BEGIN: &str =
    "// ---- BEGIN GENERATED from wasm/src/tape.rs by wasm/src/ts.rs: do not edit ----\n";
const END: &str = "// ---- END GENERATED ----\n";

/// The constants block of `js/tape.mjs`.
fn tape_constants() -> String {
    let mut out = String::from(BEGIN);
    let mut c = |name: &str, v: u64, hex: bool| {
        let _ = if hex {
            writeln!(out, "const {name} = 0x{v:x};")
        } else {
            writeln!(out, "const {name} = {v};")
        };
    };
    c("BACKREF", tape::BACKREF.into(), true);
    c("KIND_JSON", tape::KIND_JSON.into(), false);
    c("KIND_A", tape::KIND_A.into(), false);
    c("KIND_AAAA", tape::KIND_AAAA.into(), false);
    c("KIND_NAME", tape::KIND_NAME.into(), false);
    c("KIND_MX", tape::KIND_MX.into(), false);
    c("KIND_SOA", tape::KIND_SOA.into(), false);
    c("KIND_TXT", tape::KIND_TXT.into(), false);
    c("HEAD", tape::HEAD.into(), false);
    let desc = [
        ("DESC_INPUT", tape::DESC_INPUT),
        ("DESC_INPUT_CAP", tape::DESC_INPUT_CAP),
        ("DESC_NUMS", tape::DESC_NUMS),
        ("DESC_NUMS_LEN", tape::DESC_NUMS_LEN),
        ("DESC_TEXT", tape::DESC_TEXT),
        ("DESC_TEXT_LEN", tape::DESC_TEXT_LEN),
        ("DESC_NUMS_IN", tape::DESC_NUMS_IN),
        ("DESC_NUMS_IN_CAP", tape::DESC_NUMS_IN_CAP),
        ("DESC_TEXT_IN", tape::DESC_TEXT_IN),
        ("DESC_TEXT_IN_CAP", tape::DESC_TEXT_IN_CAP),
        ("DESC_OUT", tape::DESC_OUT),
    ];
    for (name, v) in desc {
        c(name, v as u64, false);
    }
    out.push_str(END);
    out
}

fn js(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("js")
        .join(file)
}

/// Compares `want` with the committed file (or writes it when updating).
fn check(file: &str, have: &str, want: &str) {
    if std::env::var_os(UPDATE).is_some() {
        if have != want {
            std::fs::write(js(file), want).expect("write the generated file");
        }
        return;
    }
    assert!(
        have == want,
        "wasm/js/{file} differs from what the Rust types generate: \
         run `{UPDATE}=1 cargo test -p dnspect-wasm --lib ts::` and commit the result"
    );
}

fn read(file: &str) -> String {
    std::fs::read_to_string(js(file)).unwrap_or_default()
}

#[test]
fn generated_declarations_match_the_rust_types() {
    check("generated.d.ts", &read("generated.d.ts"), &declarations());
}

#[test]
fn tape_constants_match_the_rust_layout() {
    let text = read("tape.mjs");
    let block = |t: &str| -> Option<(usize, usize)> {
        let start = t.find(BEGIN)?;
        let end = t[start..].find(END)? + start + END.len();
        Some((start, end))
    };
    let want_block = tape_constants();
    match block(&text) {
        Some((s, e)) => {
            let mut want = text.clone();
            want.replace_range(s..e, &want_block);
            check("tape.mjs", &text, &want);
        }
        None => panic!("wasm/js/tape.mjs has no generated constants block ({BEGIN:?})"),
    }
}
