//! The DNS wire format. Knows nothing of the forwarding engine or the cache.
pub mod analyze;
pub mod build;
pub mod classify;
pub mod dig;
pub mod edns;
pub mod encode;
pub mod error;
pub mod fit;
pub mod input;
pub mod message;
pub mod name;
pub mod paste;
pub mod rdata;
pub mod spans;
pub mod text;
pub mod types;
pub mod view;
pub mod zone;

pub use classify::AnswerKind;
pub use edns::{Edns, EdnsOption};
pub use encode::Encoder;
pub use error::{ErrorKind, WireError};
pub use message::{decode_with, Decoded, Header, Message, Question, Record, Truncation};
pub use name::Name;
pub use rdata::{RData, SvcParam};
pub use types::{Class, Opcode, OptCode, RType, Rcode, Section};
pub use view::MessageView;
