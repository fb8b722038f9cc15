//! The JavaScript face of dnspect-core: thin wrappers that move values across the boundary
//! with serde-wasm-bindgen and turn every error into a thrown JS `Error` with its offset.
//! Knows nothing the core does not; holds no state.

use dnspect_core::wire::analyze::Analysis;
use dnspect_core::wire::{dig, input, Message};
use serde::Serialize;
use wasm_bindgen::prelude::*;

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// The package version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Decodes wire bytes into a plain object (header, questions, answers, authority, additional,
/// edns). Throws with the byte offset when the message does not decode.
#[wasm_bindgen]
pub fn decode(bytes: &[u8]) -> Result<JsValue, JsError> {
    let m = Message::from_wire(bytes).map_err(|e| JsError::new(&e.to_string()))?;
    to_js(&m)
}

fn analysis_of(input: &JsValue) -> Result<Analysis, JsError> {
    if let Some(text) = input.as_string() {
        return input::analyze_paste(&text).map_err(|e| JsError::new(&e.to_string()));
    }
    if let Some(bytes) = input.dyn_ref::<js_sys::Uint8Array>() {
        return Ok(input::analyze_binary(&bytes.to_vec()));
    }
    Err(JsError::new(
        "analyze: expected a Uint8Array of wire bytes or a string paste",
    ))
}

/// Everything the analyzer knows about a message given as bytes or as a paste (hex, tcpdump,
/// xxd, od, base64...): fields with spans, compression map, sizes, warnings, error.
#[wasm_bindgen]
pub fn analyze(input: JsValue) -> Result<JsValue, JsError> {
    to_js(&analysis_of(&input)?)
}

/// The analysis as dig-style text.
#[wasm_bindgen(js_name = analysisText)]
pub fn analysis_text(input: JsValue) -> Result<String, JsError> {
    Ok(dig::analysis_text(&analysis_of(&input)?))
}
