//! Inspection: a message explained for people. The analysis (field tree with every field's
//! offset and length, compression map, sizes and limit crossings, warnings) and its dig-style
//! text. Built on the codec; the forwarder never uses it.

pub mod analyze;
mod conformance;
pub mod dig;
