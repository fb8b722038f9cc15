//! The forwarder's cache.
//!
//! Owns: in [`policy`], how long a response may be kept (RFC 2308 negative caching, RFC 9520
//! failure caching with backoff, the suspect-negative guard against incident 004) and what to
//! serve from what is kept (fresh, stale per RFC 8767, negative, cached failure, prefetch).
//! Every decision returns the rule that made it, for the engine's events.
//!
//! [`store`] keeps answers in wire form under a byte budget; [`shared`] splits it into locked
//! shards so every worker of a server shares one cache.
//!
//! Must not know: sockets, the clock, the upstreams or the engine's state machine. Time comes in
//! as a [`Duration`](core::time::Duration) since an epoch the caller chooses; what the store
//! remembers about a name reaches the policy as a plain [`policy::NameHistory`] value.

pub mod policy;
pub mod shared;
pub mod store;

pub use shared::SharedCache;

pub use policy::{
    cname_chain, lifetime, serve, serve_during_suspicion, should_prefetch, CachePolicy,
    LastPositive, Lifetime, LifetimeRule, Lookup, NameHistory, NegativeKind, ResponseFacts, Serve,
    ServeDecision, ServeRule, ServeStale, Shadow, StaleFallback, Stored,
};
