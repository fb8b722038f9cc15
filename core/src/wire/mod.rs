//! The DNS wire format. Knows nothing of the forwarding engine or the cache.
pub mod paste;
