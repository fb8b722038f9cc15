//! The JavaScript face of dnspect-core: thin wrappers over the core, plus the encodings that
//! carry values across the boundary. Knows nothing about DNS that the core does not.
//!
//! This is the package's *raw* layer. The public API is `wasm/js/api.mjs`, which checks argument
//! types, owns the `DnspectError` class and turns what crosses the boundary into objects.
//!
//! How values cross (bench/npm.mjs measures the tape against JSON; bench/results/npm-*.md also
//! records serde-wasm-bindgen, measured while building this):
//! - Messages, both ways, on a tape of numbers plus one string ([`tape`]); layouts the tape does
//!   not carry ride inside it as the core's serde JSON.
//! - Every other structured value (analyses, configs, scenarios, simulation results, events,
//!   stats) as serde JSON text that the glue `JSON.parse`s or `JSON.stringify`s: one serde
//!   backend for everything keeps the .wasm small, and JSON text beat serde-wasm-bindgen's
//!   object building on the messages measured.
//! - Bytes as `Uint8Array` copies.
//! - Errors as thrown JSON text `{"__dnspect":true,"message":...,"kind":...,"offset"?,"line"?,
//!   "column"?,"detail"?}` that the glue rethrows as a `DnspectError`.
//!
//! Nothing here panics on any input: errors are values, so the wasm instance stays usable.

pub mod tape;
#[cfg(test)]
mod ts;

use core::time::Duration;
use std::sync::Mutex;

use dnspect_core::engine::forwarder::{ClientId, Config, Flush, Forwarder, Input, Output};
use dnspect_core::engine::upstreams::Counters;
use dnspect_core::engine::{Transport, UpstreamId};
use dnspect_core::examples::EXAMPLES;
use dnspect_core::sim::{self, Scenario};
use dnspect_core::wire::capture::paste::PasteError;
use dnspect_core::wire::capture::{input, paste};
use dnspect_core::wire::inspect::analyze::Analysis;
use dnspect_core::wire::inspect::dig;
use dnspect_core::wire::spans::{Field, FieldTree};
use dnspect_core::wire::{
    decode_with, fit, Class, Encoder, ErrorKind, Message, Name, Opcode, RType, WireError,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

// ---- errors -----------------------------------------------------------------------------------

/// What the glue needs to build a `DnspectError`. The marker tells our errors from anything else
/// a call could throw.
#[derive(Serialize)]
struct ErrorInfo<'a> {
    #[serde(rename = "__dnspect")]
    marker: bool,
    message: String,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
    /// The wire error as docs/json-schema.md describes it (`{offset, kind, ...}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a WireError>,
}

fn throw(info: &ErrorInfo<'_>) -> JsValue {
    match serde_json::to_string(info) {
        Ok(json) => JsValue::from_str(&json),
        Err(_) => JsValue::from_str(&info.message),
    }
}

fn error(kind: &str, message: impl Into<String>) -> JsValue {
    throw(&ErrorInfo {
        marker: true,
        message: message.into(),
        kind,
        offset: None,
        line: None,
        column: None,
        detail: None,
    })
}

fn kind_name(k: &ErrorKind) -> &'static str {
    match k {
        ErrorKind::Truncated { .. } => "truncated",
        ErrorKind::PointerForward { .. } => "pointer_forward",
        ErrorKind::PointerLoop { .. } => "pointer_loop",
        ErrorKind::PointerPastEnd { .. } => "pointer_past_end",
        ErrorKind::ReservedLabelType { .. } => "reserved_label_type",
        ErrorKind::LabelTooLong { .. } => "label_too_long",
        ErrorKind::EmptyLabel => "empty_label",
        ErrorKind::NameTooLong { .. } => "name_too_long",
        ErrorKind::BadRdata { .. } => "bad_rdata",
        ErrorKind::OptOwnerNotRoot => "opt_owner_not_root",
        ErrorKind::DuplicateOpt { .. } => "duplicate_opt",
        ErrorKind::OptOutsideAdditional => "opt_outside_additional",
        ErrorKind::BadOption { .. } => "bad_option",
        ErrorKind::Invalid { .. } => "invalid",
        ErrorKind::TooLarge => "too_large",
    }
}

/// A wire error. Errors about values given to the encoder (`invalid`, `too_large`) have no
/// meaningful offset and carry none.
fn wire_error(context: &str, e: &WireError) -> JsValue {
    let from_wire = !matches!(e.kind, ErrorKind::Invalid { .. } | ErrorKind::TooLarge);
    throw(&ErrorInfo {
        marker: true,
        message: format!("{context}: {e}"),
        kind: kind_name(&e.kind),
        offset: from_wire.then_some(e.offset),
        line: None,
        column: None,
        detail: from_wire.then_some(e),
    })
}

fn paste_error(context: &str, e: &PasteError) -> JsValue {
    throw(&ErrorInfo {
        marker: true,
        message: format!("{context}: {e}"),
        kind: "paste",
        offset: None,
        line: Some(e.line),
        column: Some(e.column),
        detail: None,
    })
}

// ---- JSON across the boundary -------------------------------------------------------------------

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, JsValue> {
    serde_json::to_string(v).map_err(|e| error("internal", e.to_string()))
}

/// JSON text from the glue into a core type; `what` names the argument in the error.
fn from_json<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, JsValue> {
    serde_json::from_str(json).map_err(|e| error("invalid", format!("{what}: {e}")))
}

// ---- the package version and the mnemonics the glue caches --------------------------------------

/// The package version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// The mnemonic of a record type (`TYPE65280` when it has none).
#[wasm_bindgen(js_name = typeName)]
pub fn type_name(code: u16) -> String {
    RType(code).to_string()
}

/// The mnemonic of a class.
#[wasm_bindgen(js_name = className)]
pub fn class_name(code: u16) -> String {
    Class(code).to_string()
}

/// The mnemonic of an opcode.
#[wasm_bindgen(js_name = opcodeName)]
pub fn opcode_name(code: u8) -> String {
    Opcode(code).to_string()
}

/// A record type's number from its mnemonic (as serde reads it); -1 if it is not one.
#[wasm_bindgen(js_name = typeCode)]
pub fn type_code(s: &str) -> i32 {
    s.parse::<RType>().map_or(-1, |t| i32::from(t.0))
}

/// A class's number from its mnemonic; -1 if it is not one.
#[wasm_bindgen(js_name = classCode)]
pub fn class_code(s: &str) -> i32 {
    s.parse::<Class>().map_or(-1, |c| i32::from(c.0))
}

/// An opcode's number from its mnemonic; -1 if it is not one.
#[wasm_bindgen(js_name = opcodeCode)]
pub fn opcode_code(s: &str) -> i32 {
    s.parse::<Opcode>().map_or(-1, |o| i32::from(o.0))
}

// ---- messages -----------------------------------------------------------------------------------

fn decode_strict(context: &str, bytes: &[u8]) -> Result<Message, JsValue> {
    Message::from_wire(bytes).map_err(|e| wire_error(context, &e))
}

/// Buffers shared with the glue through the wasm memory, so that decoding a message is one call
/// that allocates nothing once warm: the glue writes the bytes into `input` and reads the tape
/// where `desc` says it is.
#[derive(Debug)]
struct Io {
    /// Addresses and lengths, at the indices `tape::DESC_*` name. Its own address never changes.
    desc: Vec<u32>,
    input: Vec<u8>,
    tape: tape::Tape,
    /// An encode tape, written by the glue.
    nums_in: Vec<u32>,
    text_in: Vec<u8>,
    /// The last message `encodeIo` encoded.
    out: Vec<u8>,
    scratch: tape::Scratch,
    wire_scratch: tape::WireScratch,
}

/// The largest input the shared buffers take (a DNS message is at most 65535 bytes); larger
/// inputs go through the ordinary calls.
const IO_CAPACITY: usize = 65_536;

static IO: Mutex<Option<Io>> = Mutex::new(None);

fn address<T>(v: &[T]) -> u32 {
    v.as_ptr() as usize as u32
}

/// The wasm memory, for the glue's views of the shared buffers.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Sets up the shared buffers (once) and returns the address of their descriptor.
#[wasm_bindgen(js_name = ioSetup)]
pub fn io_setup() -> Result<u32, JsValue> {
    let mut io = IO.lock().map_err(|_| error("internal", "io lock"))?;
    let io = io.get_or_insert_with(|| {
        let input = vec![0u8; IO_CAPACITY];
        let nums_in = vec![0u32; IO_CAPACITY / 4];
        let text_in = vec![0u8; IO_CAPACITY];
        let mut desc = vec![0u32; tape::DESC_LEN];
        desc[tape::DESC_INPUT] = address(&input);
        desc[tape::DESC_INPUT_CAP] = input.len() as u32;
        desc[tape::DESC_NUMS_IN] = address(&nums_in);
        desc[tape::DESC_NUMS_IN_CAP] = nums_in.len() as u32;
        desc[tape::DESC_TEXT_IN] = address(&text_in);
        desc[tape::DESC_TEXT_IN_CAP] = text_in.len() as u32;
        Io {
            desc,
            input,
            tape: tape::Tape::default(),
            nums_in,
            text_in,
            out: Vec::new(),
            scratch: tape::Scratch::default(),
            wire_scratch: tape::WireScratch::default(),
        }
    });
    Ok(address(&io.desc))
}

/// Decodes the `len` bytes the glue wrote into the shared input; the tape's address and length
/// are then in the descriptor.
#[wasm_bindgen(js_name = decodeIo)]
pub fn decode_io(len: u32) -> Result<(), JsValue> {
    let mut guard = IO.lock().map_err(|_| error("internal", "io lock"))?;
    let io = guard
        .as_mut()
        .ok_or_else(|| error("internal", "ioSetup() was not called"))?;
    let bytes = io
        .input
        .get(..len as usize)
        .ok_or_else(|| error("internal", "input longer than the shared buffer"))?;
    // The common message straight from the wire; anything else (errors included, which this
    // path then reports exactly) through the core's decode.
    if !tape::write_wire(bytes, &mut io.tape, &mut io.wire_scratch) {
        let m = decode_strict("decode", bytes)?;
        tape::write_into(&m, &mut io.tape).map_err(|e| error("internal", e.to_string()))?;
    }
    io.desc[tape::DESC_NUMS] = address(&io.tape.nums);
    io.desc[tape::DESC_NUMS_LEN] = io.tape.nums.len() as u32;
    io.desc[tape::DESC_TEXT] = address(&io.tape.text.0);
    io.desc[tape::DESC_TEXT_LEN] = io.tape.text.0.len() as u32;
    Ok(())
}

/// Encodes the tape the glue wrote into the shared `nums_in` and `text_in`. Returns the length
/// of the encoded message, which is then at `desc[DESC_OUT]`, or -1 when the tape is not one the
/// reader takes (the glue then takes the JSON path). `limit` < 0: no limit.
#[wasm_bindgen(js_name = encodeIo)]
pub fn encode_io(nums: u32, text: u32, limit: f64) -> Result<i32, JsValue> {
    let mut guard = IO.lock().map_err(|_| error("internal", "io lock"))?;
    let io = guard
        .as_mut()
        .ok_or_else(|| error("internal", "ioSetup() was not called"))?;
    let Io {
        nums_in,
        text_in,
        scratch,
        ..
    } = io;
    let (Some(nums), Some(text)) = (nums_in.get(..nums as usize), text_in.get(..text as usize))
    else {
        return Ok(-1);
    };
    let Ok(text) = core::str::from_utf8(text) else {
        return Ok(-1);
    };
    let Ok(m) = tape::read_with(nums, text, scratch) else {
        return Ok(-1);
    };
    let limit = (limit >= 0.0).then_some(limit as u32);
    io.out = encode_message(&m, limit)?;
    io.desc[tape::DESC_OUT] = address(&io.out);
    Ok(io.out.len() as i32)
}

/// Decodes wire bytes into the message's JSON text (docs/json-schema.md, "message"), with the
/// field tree under `fields` when `spans` is set.
#[wasm_bindgen(js_name = decodeJson)]
pub fn decode_json(bytes: &[u8], spans: bool) -> Result<String, JsValue> {
    if !spans {
        return to_json(&decode_strict("decode", bytes)?);
    }
    let mut tree = FieldTree::default();
    let d = decode_with(bytes, &mut tree);
    if let Some(e) = &d.error {
        return Err(wire_error("decode", e));
    }
    // `{...message, "fields": [...]}`, spliced rather than `#[serde(flatten)]`ed: flattening
    // would compile a second copy of the whole message serializer into the .wasm.
    let mut json = to_json(&d.message)?;
    json.pop(); // the message object's closing brace
    json.push_str(",\"fields\":");
    json.push_str(&to_json::<[Field]>(&tree.roots)?);
    json.push('}');
    Ok(json)
}

fn encode_message(m: &Message, limit: Option<u32>) -> Result<Vec<u8>, JsValue> {
    let mut enc = Encoder::new();
    let limit = limit.map_or(usize::MAX, |l| l as usize);
    m.encode(&mut enc, limit)
        .map_err(|e| wire_error("encode", &e))?;
    Ok(enc.into_bytes())
}

/// Encodes a message given as JSON text (the shape `decode` returns).
#[wasm_bindgen(js_name = encodeJson)]
pub fn encode_json(message: &str, limit: Option<u32>) -> Result<Vec<u8>, JsValue> {
    encode_message(&from_json("encode: message", message)?, limit)
}

/// Re-encodes with optimal compression; never longer than the input.
#[wasm_bindgen]
pub fn recompress(bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
    fit::recompress(bytes).map_err(|e| wire_error("recompress", &e))
}

/// Encodes the message within `limit` bytes (RFC 2181 9: whole RRsets, TC, OPT kept): the bytes
/// under `bytes`, and what was dropped (`Truncation`) as JSON text under `json`.
#[wasm_bindgen]
pub fn truncate(bytes: &[u8], limit: u32) -> Result<JsValue, JsValue> {
    let m = decode_strict("truncate", bytes)?;
    let (out, report) =
        fit::truncate(&m, limit as usize).map_err(|e| wire_error("truncate", &e))?;
    bytes_and_json(&out, &to_json(&report)?)
}

/// `{bytes: Uint8Array, json: string}`: bytes and what the glue parses beside them.
fn bytes_and_json(bytes: &[u8], json: &str) -> Result<JsValue, JsValue> {
    let out: JsValue = js_sys::Object::new().into();
    set(&out, "bytes", &js_sys::Uint8Array::from(bytes))?;
    set(&out, "json", &json.into())?;
    Ok(out)
}

/// Drops the authority and additional records the answer does not need (minimal responses).
#[wasm_bindgen]
pub fn minimize(bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
    let mut m = decode_strict("minimize", bytes)?;
    fit::minimize(&mut m);
    m.to_wire().map_err(|e| wire_error("minimize", &e))
}

/// dig-style text of the message in `bytes`, with its size.
#[wasm_bindgen(js_name = textOfBytes)]
pub fn text_of_bytes(bytes: &[u8]) -> Result<String, JsValue> {
    let m = decode_strict("toText", bytes)?;
    Ok(dig::message_text(&m, Some(bytes.len())))
}

/// dig-style text of a message given as JSON text (no size line: it was never on the wire).
#[wasm_bindgen(js_name = textOfJson)]
pub fn text_of_json(message: &str) -> Result<String, JsValue> {
    let m: Message = from_json("toText: message", message)?;
    Ok(dig::message_text(&m, None))
}

// ---- analysis and pastes ------------------------------------------------------------------------

fn analysis_of_paste(text: &str) -> Result<Analysis, JsValue> {
    input::analyze_paste(text).map_err(|e| paste_error("analyze", &e))
}

/// The analysis of wire bytes (docs/json-schema.md) as JSON text. A message that does not
/// decode is not an error: the analysis has `error` set. (Pretty printing, as `dnspect decode
/// --json` does it, is `JSON.stringify(value, null, 2)` in the glue: the same text, and no second
/// serializer in the .wasm.)
#[wasm_bindgen(js_name = analyzeBytesJson)]
pub fn analyze_bytes_json(bytes: &[u8]) -> Result<String, JsValue> {
    to_json(&input::analyze_binary(bytes))
}

/// The analysis of a paste in any supported format, as JSON text.
#[wasm_bindgen(js_name = analyzePasteJson)]
pub fn analyze_paste_json(text: &str) -> Result<String, JsValue> {
    to_json(&analysis_of_paste(text)?)
}

/// The analysis of wire bytes as dig-style text plus compression, sizes and warnings.
#[wasm_bindgen(js_name = analysisTextOfBytes)]
pub fn analysis_text_of_bytes(bytes: &[u8]) -> String {
    dig::analysis_text(&input::analyze_binary(bytes))
}

/// The analysis of a paste as text.
#[wasm_bindgen(js_name = analysisTextOfPaste)]
pub fn analysis_text_of_paste(text: &str) -> Result<String, JsValue> {
    Ok(dig::analysis_text(&analysis_of_paste(text)?))
}

/// Reads a paste: the DNS message with every lower-layer header stripped, as a `Uint8Array`
/// under `bytes`, and `{format, layers, raw_len}` as JSON text under `json`.
#[wasm_bindgen(js_name = parsePaste)]
pub fn parse_paste(text: &str) -> Result<JsValue, JsValue> {
    let p = paste::parse_paste(text).map_err(|e| paste_error("parsePaste", &e))?;
    let json = to_json(&PasteMeta {
        format: p.format,
        layers: &p.layers,
        raw_len: p.raw_len,
    })?;
    bytes_and_json(&p.bytes, &json)
}

/// What `parsePaste` returns beside the bytes.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
struct PasteMeta<'a> {
    format: paste::PasteFormat,
    layers: &'a [paste::Layer],
    raw_len: usize,
}

/// The built-in example messages as JSON text: `[{ name, title, hex }]`.
#[wasm_bindgen(js_name = examplesJson)]
pub fn examples_json() -> Result<String, JsValue> {
    let list: Vec<Example<'_>> = EXAMPLES
        .iter()
        .map(|e| Example {
            name: e.name,
            title: e.title,
            hex: e.hex.trim(),
        })
        .collect();
    to_json(&list)
}

/// One built-in example message.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
struct Example<'a> {
    /// What `examples()` and the page call it.
    name: &'a str,
    title: &'a str,
    /// The message, hex.
    hex: &'a str,
}

/// The incident library (`dnspect_core::incidents`) as JSON text: each incident with its scenario
/// and policy run as objects, ready for `simulate()` (the core keeps their JSON twins).
#[wasm_bindgen(js_name = incidentsJson)]
pub fn incidents_json() -> Result<String, JsValue> {
    let list = dnspect_core::incidents::INCIDENTS
        .iter()
        .map(|i| {
            Ok(IncidentRuns {
                incident: i,
                simulation: from_json("incidents", i.scenario_json)?,
                policy_simulation: i
                    .policy
                    .map(|p| from_json("incidents", p.scenario_json))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, JsValue>>()?;
    to_json(&list)
}

/// One incident of the library with its scenarios parsed.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
struct IncidentRuns<'a> {
    #[serde(flatten)]
    incident: &'a dnspect_core::incidents::Incident,
    /// `scenario`, parsed: dnspect with its default settings.
    simulation: Scenario,
    /// `policy.scenario`, parsed: dnspect configured the way the peer behaved.
    policy_simulation: Option<Scenario>,
}

// ---- the engine -----------------------------------------------------------------------------------

/// Runs a scenario (`dnspect_core::sim::Scenario` as JSON text) on the simulator's virtual clock
/// and returns its result as JSON text: events with timestamps, the trace, client answers,
/// failures.
#[wasm_bindgen(js_name = simulateJson)]
pub fn simulate_json(scenario: &str) -> Result<String, JsValue> {
    let s: Scenario = from_json("simulate: scenario", scenario)?;
    let r = sim::run(&s).map_err(|e| error("scenario", format!("simulate: {e}")))?;
    to_json(&r)
}

/// Fills a `{type: "transmit", to, transport, bytes, token}` output.
fn transmit(
    out: &JsValue,
    to: &JsValue,
    transport: Transport,
    bytes: &[u8],
    token: u64,
) -> Result<(), JsValue> {
    set(out, "type", &"transmit".into())?;
    set(out, "to", to)?;
    let tr = if transport == Transport::Tcp {
        "tcp"
    } else {
        "udp"
    };
    set(out, "transport", &tr.into())?;
    set(out, "bytes", &js_sys::Uint8Array::from(bytes))?;
    set(out, "token", &JsValue::from_f64(token as f64))
}

fn set(obj: &JsValue, key: &str, value: &JsValue) -> Result<(), JsValue> {
    js_sys::Reflect::set(obj, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|_| error("internal", format!("could not set {key}")))
}

fn millis(now_ms: f64) -> Result<Duration, JsValue> {
    if !now_ms.is_finite() || now_ms < 0.0 {
        return Err(error(
            "argument",
            format!("nowMs must be a finite number >= 0, got {now_ms}"),
        ));
    }
    Ok(Duration::from_nanos((now_ms * 1e6) as u64))
}

/// A non-negative integer JS numbers hold exactly (`Number.isSafeInteger`).
fn safe_integer(v: f64) -> bool {
    (0.0..=9_007_199_254_740_991.0).contains(&v) && v.fract() == 0.0
}

fn transport(tcp: bool) -> Transport {
    if tcp {
        Transport::Tcp
    } else {
        Transport::Udp
    }
}

/// A name given to the cache methods, parsed (an error names the method and the name).
fn cache_name(fn_name: &str, name: Option<String>) -> Result<Option<Name>, JsValue> {
    name.map(|n| {
        n.parse::<Name>().map_err(|e| {
            error(
                "argument",
                format!("{fn_name}: name {n:?} is not a domain name: {e}"),
            )
        })
    })
    .transpose()
}

/// The engine's state machine. The glue's `Forwarder` class wraps it.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RawForwarder {
    inner: Forwarder,
    upstreams: usize,
    /// The latest time fed in: the engine's clock must not go backwards, so earlier times are
    /// read as this one.
    now: Duration,
}

#[wasm_bindgen]
impl RawForwarder {
    /// `config`: JSON text of the engine's `Config` without its `cache`; `cache`: JSON text of
    /// its `cache` (the core's `CachePolicy`), which the glue passes apart; `seed`: 32 bytes.
    /// The configuration is checked with `Config::validate`: an error names the field.
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str, cache: &str, seed: &[u8]) -> Result<RawForwarder, JsValue> {
        let seed: [u8; 32] = seed.try_into().map_err(|_| {
            error(
                "argument",
                format!(
                    "new Forwarder: seed must be 32 bytes, got {} (use crypto.getRandomValues)",
                    seed.len()
                ),
            )
        })?;
        let mut cfg: Config = from_json("new Forwarder: config", config)?;
        cfg.cache = from_json("new Forwarder: config.cache", cache)?;
        cfg.validate().map_err(|e| {
            error(
                "invalid",
                format!("new Forwarder: config.{}: {}", e.field, e.message),
            )
        })?;
        // Upstream indexes run over `config.upstreams`, then each `config.forward[i].upstreams`.
        let upstreams = dnspect_core::engine::forwarder::upstream_labels(&cfg).len();
        Ok(RawForwarder {
            inner: Forwarder::new(cfg, seed),
            upstreams,
            now: Duration::ZERO,
        })
    }

    fn clock(&mut self, now_ms: f64) -> Result<Duration, JsValue> {
        self.now = self.now.max(millis(now_ms)?);
        Ok(self.now)
    }

    /// A client's query. `client` identifies the client (a safe integer >= 0).
    pub fn query(
        &mut self,
        now_ms: f64,
        client: f64,
        tcp: bool,
        bytes: &[u8],
    ) -> Result<(), JsValue> {
        if !safe_integer(client) {
            return Err(error(
                "argument",
                format!("clientId must be a safe integer >= 0, got {client}"),
            ));
        }
        let now = self.clock(now_ms)?;
        self.inner.handle(Input::Query {
            now,
            client: ClientId(client as u64),
            transport: transport(tcp),
            bytes,
        });
        Ok(())
    }

    /// Bytes from upstream number `upstream` (its index in `config.upstreams`, then on through
    /// each `config.forward[i].upstreams` in order).
    /// With `token` (the transmit's), the answer is bound to that transmit (RFC 5452); without,
    /// it is matched by upstream and ID among the transmits awaited.
    pub fn response(
        &mut self,
        now_ms: f64,
        upstream: u32,
        tcp: bool,
        bytes: &[u8],
        token: Option<f64>,
    ) -> Result<(), JsValue> {
        if upstream as usize >= self.upstreams {
            return Err(error(
                "argument",
                format!(
                    "upstreamIndex {upstream} is not an index into config.upstreams and config.forward[].upstreams ({} configured)",
                    self.upstreams
                ),
            ));
        }
        let token = match token {
            Some(t) if !safe_integer(t) => {
                return Err(error(
                    "argument",
                    format!("token must be a safe integer >= 0, got {t}"),
                ))
            }
            Some(t) => t as u64,
            None if bytes.len() >= 2 => self
                .inner
                .token_for(
                    UpstreamId(upstream as u16),
                    u16::from_be_bytes([bytes[0], bytes[1]]),
                )
                .unwrap_or(0),
            None => 0,
        };
        let now = self.clock(now_ms)?;
        self.inner.handle(Input::Response {
            now,
            token,
            transport: transport(tcp),
            bytes,
        });
        Ok(())
    }

    /// The transmit with this token could not be delivered.
    pub fn failure(&mut self, now_ms: f64, token: f64) -> Result<(), JsValue> {
        if !safe_integer(token) {
            return Err(error(
                "argument",
                format!("token must be a safe integer >= 0, got {token}"),
            ));
        }
        let now = self.clock(now_ms)?;
        self.inner.handle(Input::Failure {
            now,
            token: token as u64,
        });
        Ok(())
    }

    /// Time passed.
    pub fn tick(&mut self, now_ms: f64) -> Result<(), JsValue> {
        let now = self.clock(now_ms)?;
        self.inner.handle(Input::Tick { now });
        Ok(())
    }

    /// The next output: `{type: 'transmit', to, transport, bytes, token}`, `{type: 'event',
    /// json, text}` (the glue parses `json` into `event`), or, once drained, `{type: 'wake',
    /// at}` (ms, or null when no timer is pending).
    pub fn poll(&mut self) -> Result<JsValue, JsValue> {
        let out: JsValue = js_sys::Object::new().into();
        match self.inner.poll() {
            // JS keeps one "transmit" shape for both (the package's documented API): `to` says
            // who, `token` is 0 for answers to clients.
            Output::Answer(a) => {
                let to: JsValue = js_sys::Object::new().into();
                set(&to, "client", &JsValue::from_f64(a.client.0 as f64))?;
                transmit(&out, &to, a.transport, &a.bytes, 0)?;
            }
            Output::Query(q) => {
                let to: JsValue = js_sys::Object::new().into();
                set(&to, "upstream", &JsValue::from_f64(f64::from(q.upstream.0)))?;
                transmit(&out, &to, q.transport, &q.bytes, q.token)?;
            }
            Output::Event(e) => {
                set(&out, "type", &"event".into())?;
                set(&out, "json", &to_json(&e)?.into())?;
                set(&out, "text", &e.to_string().into())?;
            }
            Output::UpstreamDone { token } => {
                set(&out, "type", &"done".into())?;
                set(&out, "token", &JsValue::from_f64(token as f64))?;
            }
            Output::ClientDropped { client } => {
                set(&out, "type", &"dropped".into())?;
                set(&out, "client", &JsValue::from_f64(client.0 as f64))?;
            }
            Output::Wake(at) => {
                set(&out, "type", &"wake".into())?;
                let at = at.map_or(JsValue::NULL, |d| {
                    JsValue::from_f64(d.as_secs_f64() * 1000.0)
                });
                set(&out, "at", &at)?;
            }
        }
        Ok(out)
    }

    /// JSON text of the core's `CacheListing`: the cache entries for `name` (every type, class
    /// and DO/CD variant), or under it with `suffix`, or all of them without a name; at most
    /// `limit`. Each entry's TTLs are aged to `now_ms` (the latest time fed in when earlier).
    #[wasm_bindgen(js_name = cacheEntriesJson)]
    pub fn cache_entries_json(
        &self,
        now_ms: f64,
        name: Option<String>,
        suffix: bool,
        limit: u32,
    ) -> Result<String, JsValue> {
        let name = cache_name("Forwarder.cacheEntries", name)?;
        let now = self.now.max(millis(now_ms)?);
        to_json(
            &self
                .inner
                .cache_entries(name.as_ref(), suffix, limit as usize, now),
        )
    }

    /// Flushes everything (no name), one name, or a name and everything under it (`suffix`).
    /// Returns the number of keys removed.
    #[wasm_bindgen(js_name = cacheFlush)]
    pub fn cache_flush(&mut self, name: Option<String>, suffix: bool) -> Result<u32, JsValue> {
        let what = match cache_name("Forwarder.cacheFlush", name)? {
            None => Flush::All,
            Some(n) if suffix => Flush::Suffix(n),
            Some(n) => Flush::Name(n),
        };
        Ok(u32::try_from(self.inner.cache_flush(&what).keys).unwrap_or(u32::MAX))
    }

    /// JSON text of `{engine, upstreams: [[label, counters]], cache, in_flight}`: the engine's
    /// counters, each upstream's conformance counters, the cache's size and the transactions in
    /// flight. The glue flattens it (no `#[serde(flatten)]` here: it would compile a second
    /// serializer for the engine's counters, which `simulate` already serializes).
    #[wasm_bindgen(js_name = statsJson)]
    pub fn stats_json(&self) -> Result<String, JsValue> {
        #[derive(Serialize)]
        struct Stats<'a> {
            engine: &'a dnspect_core::engine::forwarder::Stats,
            upstreams: Vec<(String, Counters)>,
            cache: dnspect_core::cache::store::StoreStats,
            in_flight: usize,
        }
        to_json(&Stats {
            engine: self.inner.stats(),
            upstreams: self.inner.upstream_counters(),
            cache: self.inner.cache_stats(),
            in_flight: self.inner.in_flight(),
        })
    }
}

// ---- captures (pcap, pcapng) ----------------------------------------------------------------------

/// A capture read in chunks: the core's `CaptureAnalyzer`. Messages cross as JSON text, one
/// array per chunk.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RawCapture {
    inner: dnspect_core::pcap::CaptureAnalyzer,
    /// The DNS bytes of the last chunk's messages, one after another, when asked for.
    bytes: Option<Vec<u8>>,
}

#[wasm_bindgen]
impl RawCapture {
    /// `options`: JSON text of the core's `CaptureOptions`; `replay`: keep the matched
    /// exchanges so that `replay()` can run them through the engine.
    #[wasm_bindgen(constructor)]
    /// `bytes`: keep each message's DNS bytes for `takeBytes()`.
    pub fn new(options: &str, replay: bool, bytes: bool) -> Result<RawCapture, JsValue> {
        let opts: dnspect_core::pcap::CaptureOptions =
            from_json("analyzeCapture: options", options)?;
        let mut inner = dnspect_core::pcap::CaptureAnalyzer::new(opts)
            .map_err(|e| error("invalid", format!("analyzeCapture: options.{e}")))?;
        if replay {
            inner.keep_exchanges(dnspect_core::pcap::replay::MAX_REPLAY_QUERIES * 4);
        }
        Ok(RawCapture {
            inner,
            bytes: bytes.then(Vec::new),
        })
    }

    /// Reads the next chunk: `{"messages": [...], "error": null | {offset, message}}`.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<String, JsValue> {
        let mut out = Vec::with_capacity(chunk.len());
        out.extend_from_slice(b"{\"messages\":[");
        let mut first = true;
        let mut failed = None;
        let mut kept = self.bytes.take();
        if let Some(k) = &mut kept {
            k.clear();
        }
        let r = self.inner.feed(chunk, &mut |m, b| {
            if let Some(k) = &mut kept {
                k.extend_from_slice(b);
            }
            if !first {
                out.push(b',');
            }
            first = false;
            if let Err(e) = serde_json::to_writer(&mut out, m) {
                failed = Some(e.to_string());
            }
        });
        self.bytes = kept;
        if let Some(e) = failed {
            return Err(error("internal", e));
        }
        out.extend_from_slice(b"],\"error\":");
        serde_json::to_writer(&mut out, &r.err()).map_err(|e| error("internal", e.to_string()))?;
        out.push(b'}');
        String::from_utf8(out).map_err(|e| error("internal", e.to_string()))
    }

    /// The DNS bytes of the messages the last `feed` returned, one after another (each is
    /// its message's `size` long); empty unless asked for at construction.
    #[wasm_bindgen(js_name = takeBytes)]
    pub fn take_bytes(&mut self) -> Vec<u8> {
        self.bytes.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The end of the file: the report, with `error` set when the file was cut.
    pub fn finish(&mut self) -> Result<String, JsValue> {
        let _ = self.inner.finish();
        to_json(&self.inner.report())
    }

    /// The report of what was read so far.
    pub fn report(&self) -> Result<String, JsValue> {
        to_json(&self.inner.report())
    }

    /// The servers' answers as a scenario, run through the engine: `{rows, left_out, result}`.
    pub fn replay(&self) -> Result<String, JsValue> {
        let rp = dnspect_core::pcap::replay::scenario(self.inner.exchanges());
        let (result, rows) = dnspect_core::pcap::replay::run(&rp)
            .map_err(|e| error("scenario", format!("CaptureAnalyzer.replay: {e}")))?;
        // The scenario itself stays out: serializing it would add its serde code (20 KB gzipped)
        // to the wasm for a value the rows already summarise.
        to_json(&serde_json::json!({ "rows": rows, "left_out": rp.left_out, "result": result }))
    }
}
