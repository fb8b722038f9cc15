//! From what a person pastes (or a capture's bytes) to an analysis: ties the paste parser to the
//! analyzer and records what was stripped on the way.

use super::paste::{self, Layer, PasteError, PasteFormat};
use crate::wire::inspect::analyze::{analyze, Analysis};

/// Where the bytes came from, when they came from a paste.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    pub format: PasteFormat,
    /// Lower-layer headers that were stripped in front of the DNS message.
    pub layers: Vec<Layer>,
    /// Bytes decoded from the paste before stripping.
    pub raw_len: usize,
}

/// Parses a paste in any supported format and analyzes the DNS message in it.
pub fn analyze_paste(text: &str) -> Result<Analysis, PasteError> {
    let p = paste::parse_paste(text)?;
    let mut a = analyze(&p.bytes);
    a.source = Some(Source {
        format: p.format,
        layers: p.layers,
        raw_len: p.raw_len,
    });
    Ok(a)
}

/// Analyzes raw wire bytes (lower-layer headers are stripped if present).
pub fn analyze_binary(bytes: &[u8]) -> Analysis {
    let p = paste::from_binary(bytes);
    let mut a = analyze(&p.bytes);
    if !p.layers.is_empty() {
        a.source = Some(Source {
            format: p.format,
            layers: p.layers,
            raw_len: p.raw_len,
        });
    }
    a
}
