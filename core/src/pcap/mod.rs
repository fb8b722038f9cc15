//! Capture files (pcap, pcapng) read in chunks, sans-io: `reader` frames the file, `net` takes
//! each frame through the link, IP (with fragment reassembly) and UDP/TCP layers (with stream
//! reassembly) to the DNS messages in it, `message` makes a row of each, `report` pairs queries
//! with responses and keeps per-server conformance and health, `replay` turns the servers'
//! answers into a simulator scenario. Native (`dnspect capture`), wasm (`analyzeCapture`) and
//! the page share all of it. Not to be confused with `wire::capture`, which reads one message
//! from what a person pastes.

pub mod message;
pub mod net;
pub mod reader;
pub mod replay;
pub mod report;

pub use message::{line, CaptureMessage};
pub use net::Transport;
pub use reader::{sniff, CaptureError, Format};
pub use report::{CaptureAnalyzer, CaptureOptions, CaptureReport, ServerReport};
