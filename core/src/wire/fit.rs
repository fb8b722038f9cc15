//! Making a message fit a size: re-compression, minimal responses and truncation at RRset
//! boundaries with TC (RFC 2181 9). The forwarder applies them in that order.

use super::encode::Encoder;
use super::error::WireError;
use super::message::{Message, Truncation};
use super::types::RType;
use crate::wire::AnswerKind;

/// Re-encodes `bytes` with optimal compression and the same meaning. Never returns a longer
/// message: if the re-encoding is not shorter, the original bytes come back. Trailing bytes
/// after the last record are dropped.
pub fn recompress(bytes: &[u8]) -> Result<Vec<u8>, WireError> {
    let msg = Message::from_wire(bytes)?;
    let out = msg.to_wire()?;
    Ok(if out.len() < bytes.len() {
        out
    } else {
        bytes.to_vec()
    })
}

/// Drops the authority and additional records that the answer does not need (like BIND's and
/// Unbound's minimal-responses): for a positive answer, NS and glue; for a negative answer
/// everything but the SOA and DNSSEC denial records; a referral keeps its NS and glue. OPT stays.
pub fn minimize(msg: &mut Message) {
    let kind = msg.classify();
    if kind == AnswerKind::Referral {
        return;
    }
    let dnssec = |t: RType| matches!(t, RType::NSEC | RType::NSEC3 | RType::RRSIG);
    // A negative answer keeps its SOA (RFC 2308 5), also at the end of a CNAME chain.
    if kind.is_negative() {
        msg.authority
            .retain(|r| r.rtype == RType::SOA || dnssec(r.rtype));
    } else {
        msg.authority.retain(|r| dnssec(r.rtype));
    }
    msg.additional.clear();
}

/// Encodes `msg` within `limit` bytes, dropping whole RRsets from the end; see [`Message::encode`].
pub fn truncate(msg: &Message, limit: usize) -> Result<(Vec<u8>, Truncation), WireError> {
    let mut enc = Encoder::new();
    let t = msg.encode(&mut enc, limit)?;
    Ok((enc.into_bytes(), t))
}

/// Fits a decoded message, whose compressed encoding is already known to exceed `limit`, into
/// `limit` bytes: minimal response, then truncation with TC. The forwarder's miss path calls it
/// with the message it decoded once, and the cache keeps the result for that limit, so neither
/// the miss nor later hits decode or re-compress again. Returns the bytes, the size after the
/// minimal-response step and what truncation dropped, if it was needed.
pub fn fit_message(
    msg: &Message,
    limit: usize,
) -> Result<(Vec<u8>, usize, Option<Truncation>), WireError> {
    let mut m = msg.clone();
    minimize(&mut m);
    let mut enc = Encoder::new();
    let t = m.encode(&mut enc, limit)?;
    let dropped = t.dropped.iter().any(|&d| d > 0);
    if !dropped {
        let n = enc.len();
        return Ok((enc.into_bytes(), n, None));
    }
    // The size the minimal response would have had whole, for the report.
    let whole = m.to_wire()?.len();
    Ok((enc.into_bytes(), whole, Some(t)))
}

/// The steps the forwarder took to fit an answer to a client's limit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fitted {
    pub bytes: Vec<u8>,
    /// Size of the input.
    pub original: usize,
    /// Size after re-compression.
    pub recompressed: usize,
    /// Size after minimal-response trimming, if that step was needed.
    pub minimized: Option<usize>,
    /// What truncation dropped, if that step was needed.
    pub truncation: Option<Truncation>,
}

/// Fits a response into `limit` bytes: re-compress, then minimal response, then truncate with TC.
pub fn fit(bytes: &[u8], limit: usize) -> Result<Fitted, WireError> {
    let mut msg = Message::from_wire(bytes)?;
    let compressed = msg.to_wire()?;
    let best = if compressed.len() < bytes.len() {
        compressed
    } else {
        bytes.to_vec()
    };
    let mut f = Fitted {
        original: bytes.len(),
        recompressed: best.len(),
        minimized: None,
        truncation: None,
        bytes: best,
    };
    if f.bytes.len() <= limit {
        return Ok(f);
    }
    minimize(&mut msg);
    let min = msg.to_wire()?;
    f.minimized = Some(min.len());
    if min.len() <= limit {
        f.bytes = min;
        return Ok(f);
    }
    let (bytes, t) = truncate(&msg, limit)?;
    f.bytes = bytes;
    f.truncation = Some(t);
    Ok(f)
}
