//! The DNS wire format. Knows nothing of the forwarding engine or the cache. Three parts:
//! the codec (this module's files: names, the zero-copy view, the typed message and its
//! decode/encode, RDATA, EDNS, builders, classification, fitting), [`inspect`] (the analysis and
//! dig text people read) and [`capture`] (paste formats and the layers around DNS bytes). The
//! forwarder needs only the codec.
pub mod build;
pub mod capture;
pub mod classify;
pub mod edns;
pub mod encode;
pub mod error;
pub mod fit;
pub mod inspect;
pub mod message;
pub mod name;
pub mod rdata;
pub mod rdfields;
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
