//! The forwarding engine: the sans-io state machine that the native server, the npm package and
//! the web simulator all drive (issue 3).
//!
//! Owns: the engine's vocabulary (upstream identity, transport) and, in [`decide`], the pure
//! decision functions the machine wires together: the client's payload limit and the fallback
//! decision after each upstream attempt. Each decision returns the rule that made it, so the
//! machine can leave an event saying why.
//!
//! Must not know: sockets, files, the clock or OS randomness. Time comes in as a
//! [`Duration`](core::time::Duration) since an epoch the caller chooses (the native server uses
//! process start, the simulator its virtual clock); the cache store and upstream selection live
//! elsewhere and reach these functions only as plain values.

pub mod admission;
pub mod decide;
pub mod event;
pub mod forwarder;
pub mod rng;
pub mod upstreams;

use core::fmt;

pub use decide::{
    attempt_bound, fallback, payload_limit, Attempt, Budget, Fallback, FallbackLimits,
    FallbackRule, Next, Outcome, PayloadLimit, PayloadRule, UpstreamVerdict,
};

/// An upstream server, as the engine knows it: an index into the configured list. Opaque on
/// purpose: addresses are the runtime's business; the core only needs identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UpstreamId(pub u16);

/// An upstream together with the label people read in events and Extended DNS Error texts
/// (usually its address, e.g. `10.0.0.1` or `[2001:db8::1]:53`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upstream<'a> {
    pub id: UpstreamId,
    pub label: &'a str,
}

impl fmt::Display for Upstream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label)
    }
}

/// How a query travelled. DNS over UDP is size-limited and can come back truncated; TCP
/// (RFC 7766) carries up to 65535 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

impl serde::Serialize for Transport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
