//! Decoding errors. Every error carries the byte offset where the decoder stood and says what it
//! expected there, so a hex view can point at it.

use core::fmt;

use super::types::RType;

/// What went wrong while reading a message.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErrorKind {
    /// The message ended before a field did.
    Truncated {
        expected: &'static str,
        needed: usize,
        available: usize,
    },
    /// A compression pointer targets its own offset or a later one (RFC 1035 4.1.4: prior only).
    PointerForward { target: usize },
    /// A compression pointer targets an offset inside the name being read: following it would loop.
    PointerLoop { target: usize },
    /// A compression pointer targets an offset past the end of the message.
    PointerPastEnd { target: usize },
    /// A label length byte with the reserved top bits 01 (0x40) or 10 (0x80).
    ReservedLabelType { byte: u8 },
    /// A label longer than 63 octets (only possible from text input).
    LabelTooLong { len: usize },
    /// An empty label inside a name (only possible from text input).
    EmptyLabel,
    /// A name longer than 255 octets in wire form once expanded.
    NameTooLong { len: usize },
    /// RDATA that does not match its RDLENGTH or the layout of its type.
    BadRdata { rtype: RType, reason: String },
    /// An OPT record whose owner is not the root (RFC 6891 6.1.1).
    OptOwnerNotRoot,
    /// More than one OPT record (RFC 6891 6.1.1).
    DuplicateOpt { first: usize },
    /// An OPT record outside the additional section (RFC 6891 6.1.1).
    OptOutsideAdditional,
    /// An EDNS option that overruns the OPT RDATA.
    BadOption { code: u16, reason: String },
    /// A value that cannot be encoded (from text or JS input, not from the wire).
    Invalid { field: String, reason: String },
    /// A message that grew past 65535 bytes while encoding.
    TooLarge,
}

/// A decoding error at a byte offset.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WireError {
    /// Offset from the start of the DNS message where the problem was found.
    pub offset: usize,
    #[serde(flatten)]
    pub kind: ErrorKind,
}

impl WireError {
    pub fn new(offset: usize, kind: ErrorKind) -> Self {
        WireError { offset, kind }
    }

    pub(crate) fn truncated(
        offset: usize,
        expected: &'static str,
        needed: usize,
        len: usize,
    ) -> Self {
        WireError::new(
            offset,
            ErrorKind::Truncated {
                expected,
                needed,
                available: len.saturating_sub(offset),
            },
        )
    }

    pub(crate) fn rdata(offset: usize, rtype: RType, reason: impl Into<String>) -> Self {
        WireError::new(
            offset,
            ErrorKind::BadRdata {
                rtype,
                reason: reason.into(),
            },
        )
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        WireError::new(
            0,
            ErrorKind::Invalid {
                field: field.into(),
                reason: reason.into(),
            },
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated { expected, needed, available } => write!(
                f,
                "expected {expected} ({needed} byte{}), but only {available} byte{} left",
                plural(*needed),
                plural(*available)
            ),
            ErrorKind::PointerForward { target } => write!(
                f,
                "compression pointer to offset {target} does not point to a prior offset (RFC 1035 4.1.4)"
            ),
            ErrorKind::PointerLoop { target } => {
                write!(f, "compression pointer to offset {target} loops back into the same name")
            }
            ErrorKind::PointerPastEnd { target } => {
                write!(f, "compression pointer to offset {target} points past the end of the message")
            }
            ErrorKind::ReservedLabelType { byte } => write!(
                f,
                "expected a label length (0-63) or a pointer (0xc0), found reserved label type 0x{byte:02x}"
            ),
            ErrorKind::LabelTooLong { len } => write!(f, "label of {len} octets is longer than 63"),
            ErrorKind::EmptyLabel => write!(f, "empty label inside a name"),
            ErrorKind::NameTooLong { len } => {
                write!(f, "name of {len} octets is longer than 255 (RFC 1035 2.3.4)")
            }
            ErrorKind::BadRdata { rtype, reason } => write!(f, "bad {rtype} RDATA: {reason}"),
            ErrorKind::OptOwnerNotRoot => {
                write!(f, "OPT record owner must be the root name (RFC 6891 6.1.1)")
            }
            ErrorKind::DuplicateOpt { first } => {
                write!(f, "second OPT record (the first is at offset {first}; RFC 6891 6.1.1)")
            }
            ErrorKind::OptOutsideAdditional => {
                write!(f, "OPT record outside the additional section (RFC 6891 6.1.1)")
            }
            ErrorKind::BadOption { code, reason } => write!(f, "bad EDNS option {code}: {reason}"),
            ErrorKind::Invalid { field, reason } => write!(f, "{field}: {reason}"),
            ErrorKind::TooLarge => write!(f, "message larger than 65535 bytes"),
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ErrorKind::Invalid { .. } = self.kind {
            return write!(f, "{}", self.kind);
        }
        write!(
            f,
            "at offset {} (0x{:04x}): {}",
            self.offset, self.offset, self.kind
        )
    }
}

impl std::error::Error for WireError {}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
