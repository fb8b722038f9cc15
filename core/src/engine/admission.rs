//! Admission: whether a client's query is taken at all, before the engine sees it. Per client
//! (an address grouped by a prefix length, so one host with many source ports, or a configured
//! subnet, is one client): a token bucket for the query rate and a count of queries waiting on
//! answers. Pure: time comes in as a [`Duration`], addresses as [`IpAddr`]. The rate applies to
//! every query, the waiting count only to queries that wait on an upstream: a server checks
//! the rate ([`SharedAdmission::admit_rate`]) when a query arrives, and the waiting limit
//! ([`SharedAdmission::admit_waiting`]) only when the engine is about to make the query wait
//! (`Forwarder::handle_query`), with [`SharedAdmission::done`] when that query's answer leaves.
//! [`Admission::admit`] checks both at once.
//!
//! Memory is bounded: at most `max_clients` are tracked. When the table is full, idle clients
//! (full bucket, nothing waiting) are forgotten; if none are idle, an unknown client is admitted
//! without being tracked, so a flood of spoofed sources cannot lock out real clients by filling
//! the table.
//!
//! A server with several workers shares one [`SharedAdmission`]: the tables split into shards,
//! each behind its own mutex, a client's shard chosen by a seeded hash of its key (as
//! [`crate::cache::SharedCache`] does for names). The kernel spreads one client's datagrams over
//! the workers by 4-tuple (SO_REUSEPORT), so per-worker tables would give a client with many
//! source ports `workers` times its rate and its waiting allowance; shared ones hold the limits
//! process-wide. The engine stays sans-io and owns no global: the shell makes one and hands an
//! `Arc` of it to each worker, with the time as the caller's `now` (one epoch for all workers).

use core::hash::Hasher;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::MutexGuard;

use crate::shards::Shards;

/// The limits, all per client. In a file they are named as in the native server's `[limits]`
/// of old: `client_qps`, `client_burst`, `client_max_waiting`, `client_prefix_v4`,
/// `client_prefix_v6`, `max_clients`, `action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct AdmissionConfig {
    /// Sustained queries per second; 0 turns rate limiting off (the default: a node-local
    /// cache's clients are pods with their own addresses, and no default rate is both safe for
    /// a busy pod and useful against a flood).
    #[serde(rename = "client_qps")]
    pub qps: u32,
    /// Queries a client may send at once above its rate (the bucket's size); 0: 2 x `qps`.
    #[serde(rename = "client_burst")]
    pub burst: u32,
    /// Queries of one client waiting on answers at once; 0 turns the limit off.
    #[serde(rename = "client_max_waiting")]
    pub max_waiting: u32,
    /// IPv4 prefix length that makes one client (32: each address). At most 32.
    #[serde(rename = "client_prefix_v4")]
    pub prefix_v4: u8,
    /// IPv6 prefix length that makes one client (56: a customer site, RFC 6177). At most 128.
    #[serde(rename = "client_prefix_v6")]
    pub prefix_v6: u8,
    /// Clients tracked at most; at least 1.
    pub max_clients: usize,
    /// What a client over a limit gets (the shell applies it).
    pub action: LimitAction,
}

/// What a client over a limit gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum LimitAction {
    /// A REFUSED answer (the default).
    #[default]
    Refused,
    /// Nothing.
    Drop,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            qps: 0,
            burst: 0,
            max_waiting: 2048,
            prefix_v4: 32,
            prefix_v6: 56,
            max_clients: 65536,
            action: LimitAction::Refused,
        }
    }
}

/// Why a query was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Over the client's query rate.
    Rate,
    /// Too many of the client's queries wait on answers.
    Waiting,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Rate => "rate",
            Refusal::Waiting => "waiting",
        }
    }
}

/// A client: its address masked to the prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(u128, bool);

impl ClientKey {
    /// `ip` masked to `prefix_v4` or `prefix_v6` bits. An IPv4-mapped IPv6 address (an IPv4
    /// client on a dual-stack socket, such as one systemd passes) is its IPv4 address: masked
    /// to the IPv6 prefix, every IPv4 client would be one.
    pub fn of(ip: IpAddr, prefix_v4: u8, prefix_v6: u8) -> ClientKey {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(a) => {
                let bits = u32::from(a);
                let p = u32::from(prefix_v4.min(32));
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                ClientKey(u128::from(bits & mask), false)
            }
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                let p = u32::from(prefix_v6.min(128));
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                ClientKey(bits & mask, true)
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Client {
    /// Tokens in thousandths, so slow rates refill smoothly.
    milli_tokens: u64,
    at: Duration,
    waiting: u32,
}

/// The admission table.
#[derive(Debug)]
pub struct Admission {
    cfg: AdmissionConfig,
    clients: HashMap<ClientKey, Client, rustc_hash::FxBuildHasher>,
    /// Queries admitted without a check because the table was full of busy clients.
    untracked: u64,
}

impl Admission {
    pub fn new(cfg: AdmissionConfig) -> Admission {
        Admission {
            cfg,
            clients: HashMap::default(),
            untracked: 0,
        }
    }

    /// Applies new limits (a reload); what is tracked stays.
    pub fn reconfigure(&mut self, cfg: AdmissionConfig) {
        self.cfg = cfg;
    }

    pub fn config(&self) -> &AdmissionConfig {
        &self.cfg
    }

    /// Clients tracked now.
    pub fn tracked(&self) -> usize {
        self.clients.len()
    }

    /// Queries admitted unchecked so far: the table was full (`max_clients`) and none of its
    /// clients idle.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// The client an address belongs to.
    pub fn key(&self, ip: IpAddr) -> ClientKey {
        ClientKey::of(ip, self.cfg.prefix_v4, self.cfg.prefix_v6)
    }

    fn bucket_size(&self) -> u64 {
        let burst = if self.cfg.burst == 0 {
            self.cfg.qps.saturating_mul(2)
        } else {
            self.cfg.burst
        };
        u64::from(burst.max(1)) * 1000
    }

    /// Takes a query from `ip` at `now`, or says why not. An admitted query counts as waiting
    /// until [`Admission::done`].
    pub fn admit(&mut self, now: Duration, ip: IpAddr) -> Result<(), Refusal> {
        if self.cfg.qps == 0 && self.cfg.max_waiting == 0 {
            return Ok(());
        }
        let key = self.key(ip);
        self.admit_key(now, key)
    }

    fn admit_key(&mut self, now: Duration, key: ClientKey) -> Result<(), Refusal> {
        self.admit_parts(now, key, true, true)
    }

    /// The rate (`rate`), the waiting limit (`wait`), or both. Only `wait` counts the query as
    /// waiting.
    fn admit_parts(
        &mut self,
        now: Duration,
        key: ClientKey,
        rate: bool,
        wait: bool,
    ) -> Result<(), Refusal> {
        let size = self.bucket_size();
        if !self.clients.contains_key(&key) && self.clients.len() >= self.cfg.max_clients {
            self.forget_idle(now);
            if self.clients.len() >= self.cfg.max_clients {
                self.untracked += 1;
                return Ok(());
            }
        }
        let c = self.clients.entry(key).or_insert(Client {
            milli_tokens: size,
            at: now,
            waiting: 0,
        });
        if wait && self.cfg.max_waiting > 0 && c.waiting >= self.cfg.max_waiting {
            return Err(Refusal::Waiting);
        }
        if rate && self.cfg.qps > 0 {
            let elapsed = now.saturating_sub(c.at);
            c.at = c.at.max(now);
            let refill = elapsed.as_micros() as u64 * u64::from(self.cfg.qps) / 1000;
            c.milli_tokens = (c.milli_tokens + refill).min(size);
            if c.milli_tokens < 1000 {
                return Err(Refusal::Rate);
            }
            c.milli_tokens -= 1000;
        }
        if wait {
            c.waiting += 1;
        }
        Ok(())
    }

    /// A query admitted for `ip` was answered (or dropped).
    pub fn done(&mut self, ip: IpAddr) {
        let key = self.key(ip);
        self.done_key(key);
    }

    fn done_key(&mut self, key: ClientKey) {
        if let Some(c) = self.clients.get_mut(&key) {
            c.waiting = c.waiting.saturating_sub(1);
        }
    }

    fn forget_idle(&mut self, now: Duration) {
        let size = self.bucket_size();
        let qps = u64::from(self.cfg.qps);
        self.clients.retain(|_, c| {
            let refill = now.saturating_sub(c.at).as_micros() as u64 * qps / 1000;
            c.waiting > 0 || (qps > 0 && c.milli_tokens + refill < size)
        });
    }
}

/// The most shards a [`SharedAdmission`] has: enough that workers rarely meet on a lock
/// (clients spread over them by hash), few enough that a table of a few clients stays small.
pub const MAX_SHARDS: usize = 64;

/// One admission table for every worker of a server: [`Admission`]s in shards, a client's
/// shard chosen by a seeded hash of its [`ClientKey`]. Each [`SharedAdmission::admit`] and
/// [`SharedAdmission::done`] locks one shard for one table update, never across an await.
/// With both limits off, neither takes a lock.
///
/// `max_clients` is split evenly over the shards (at least one each), so the whole table holds
/// at most `max_clients` clients when `max_clients` is at least the number of shards (fixed for
/// the table's life: the largest power of two up to [`MAX_SHARDS`] and the first
/// `max_clients`), else at most one per shard.
pub struct SharedAdmission {
    shards: Shards<Admission>,
    /// The prefixes that make a client's key, and whether both limits are off: read without a
    /// lock before choosing a shard; written by [`SharedAdmission::reconfigure`].
    prefix_v4: AtomicU8,
    prefix_v6: AtomicU8,
    off: AtomicBool,
    /// A query rate limit is set: every query must be admitted, cache hits included.
    rate: AtomicBool,
}

impl core::fmt::Debug for SharedAdmission {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedAdmission")
            .field("shards", &self.shards.len())
            .field("tracked", &self.tracked())
            .finish_non_exhaustive()
    }
}

impl SharedAdmission {
    /// A table with `cfg`'s limits; `seed` keys the hash that picks a client's shard.
    pub fn new(cfg: AdmissionConfig, seed: u64) -> SharedAdmission {
        let most = cfg.max_clients.clamp(1, MAX_SHARDS);
        // The largest power of two not above `most`.
        let n = if most.is_power_of_two() {
            most
        } else {
            most.next_power_of_two() / 2
        };
        let a = SharedAdmission {
            shards: Shards::new(n, seed, || Admission::new(cfg)),
            prefix_v4: AtomicU8::new(cfg.prefix_v4),
            prefix_v6: AtomicU8::new(cfg.prefix_v6),
            off: AtomicBool::new(false),
            rate: AtomicBool::new(false),
        };
        a.reconfigure(cfg);
        a
    }

    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Applies new limits (a reload) to every shard; what is tracked stays, unless the reload
    /// changes the prefixes (the keys change) or turns both limits off (answers then stop being
    /// counted): then the tables start afresh, so no client is left with a waiting count its
    /// answers can no longer take back. Call it once per reload (calling it again with the
    /// same limits changes nothing).
    pub fn reconfigure(&self, cfg: AdmissionConfig) {
        let per = (cfg.max_clients / self.shards.len()).max(1);
        let afresh = cfg.prefix_v4 != self.prefix_v4.load(Ordering::Relaxed)
            || cfg.prefix_v6 != self.prefix_v6.load(Ordering::Relaxed)
            || (cfg.qps == 0 && cfg.max_waiting == 0);
        // The keys change before the tables are emptied, so a query admitted after this point
        // is counted under the key its answer's `done` will use. (A worker that read the old
        // prefix just before may still count one query under the old key: an entry no query
        // uses any more, which only takes one slot of the table.)
        self.prefix_v4.store(cfg.prefix_v4, Ordering::Relaxed);
        self.prefix_v6.store(cfg.prefix_v6, Ordering::Relaxed);
        self.off
            .store(cfg.qps == 0 && cfg.max_waiting == 0, Ordering::Relaxed);
        self.rate.store(cfg.qps > 0, Ordering::Relaxed);
        for i in 0..self.shards.len() {
            let mut s = self.lock_shard(i);
            if afresh {
                s.clients.clear();
            }
            s.reconfigure(AdmissionConfig {
                max_clients: per,
                ..cfg
            });
        }
    }

    /// Whether a query rate limit is set: without one, [`SharedAdmission::admit_rate`] takes no
    /// lock, so a cache hit takes none.
    #[inline]
    pub fn rate_limited(&self) -> bool {
        self.rate.load(Ordering::Relaxed)
    }

    /// The limits (with `max_clients` as one shard's share).
    pub fn config(&self) -> AdmissionConfig {
        *self.lock_shard(0).config()
    }

    /// Clients tracked now, over all shards.
    pub fn tracked(&self) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock_shard(i).tracked())
            .sum()
    }

    /// Queries admitted unchecked so far, over all shards (see [`Admission::untracked`]).
    pub fn untracked(&self) -> u64 {
        (0..self.shards.len())
            .map(|i| self.lock_shard(i).untracked())
            .sum()
    }

    /// The client an address belongs to.
    #[inline]
    pub fn key(&self, ip: IpAddr) -> ClientKey {
        ClientKey::of(
            ip,
            self.prefix_v4.load(Ordering::Relaxed),
            self.prefix_v6.load(Ordering::Relaxed),
        )
    }

    /// Which shard tracks `key`.
    #[inline]
    fn shard_of(&self, key: ClientKey) -> usize {
        self.shards.index(|h| {
            h.write_u128(key.0);
            h.write_u8(u8::from(key.1));
        })
    }

    /// Shard `i`, locked.
    fn lock_shard(&self, i: usize) -> MutexGuard<'_, Admission> {
        self.shards.lock(i)
    }

    /// Takes a query from `ip` at `now` (one clock for every caller; a `now` older than the
    /// client's last is taken as that one), or says why not. An admitted query counts as
    /// waiting until [`SharedAdmission::done`].
    #[inline]
    pub fn admit(&self, now: Duration, ip: IpAddr) -> Result<(), Refusal> {
        if self.off.load(Ordering::Relaxed) {
            return Ok(());
        }
        let key = self.key(ip);
        self.lock_shard(self.shard_of(key)).admit_key(now, key)
    }

    /// The query rate alone, for a query from `ip` that just arrived (a cache hit included);
    /// nothing is counted as waiting. No lock without a rate limit.
    #[inline]
    pub fn admit_rate(&self, now: Duration, ip: IpAddr) -> Result<(), Refusal> {
        if !self.rate_limited() {
            return Ok(());
        }
        let key = self.key(ip);
        self.lock_shard(self.shard_of(key))
            .admit_parts(now, key, true, false)
    }

    /// The waiting limit alone, for a query from `ip` about to wait on an upstream: counted as
    /// waiting until [`SharedAdmission::done`]. No lock with both limits off.
    #[inline]
    pub fn admit_waiting(&self, now: Duration, ip: IpAddr) -> Result<(), Refusal> {
        if self.off.load(Ordering::Relaxed) {
            return Ok(());
        }
        let key = self.key(ip);
        self.lock_shard(self.shard_of(key))
            .admit_parts(now, key, false, true)
    }

    /// A query admitted for `ip` was answered (or dropped).
    #[inline]
    pub fn done(&self, ip: IpAddr) {
        if self.off.load(Ordering::Relaxed) {
            return;
        }
        let key = self.key(ip);
        self.lock_shard(self.shard_of(key)).done_key(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn token_bucket_allows_the_burst_then_the_rate() {
        let mut a = Admission::new(AdmissionConfig {
            qps: 100,
            burst: 10,
            max_waiting: 0,
            ..AdmissionConfig::default()
        });
        let c = ip("10.0.0.1");
        for _ in 0..10 {
            assert_eq!(a.admit(ms(0), c), Ok(()));
        }
        assert_eq!(a.admit(ms(0), c), Err(Refusal::Rate));
        // 100 qps: one token every 10 ms.
        assert_eq!(a.admit(ms(5), c), Err(Refusal::Rate));
        assert_eq!(a.admit(ms(10), c), Ok(()));
        assert_eq!(a.admit(ms(10), c), Err(Refusal::Rate));
        // Over one second, at most burst + rate.
        let mut ok = 0;
        for t in 0..1000 {
            if a.admit(ms(1000 + t), c).is_ok() {
                ok += 1;
            }
        }
        assert!((100..=111).contains(&ok), "{ok}");
        // Another client is not affected.
        assert_eq!(a.admit(ms(2000), ip("10.0.0.2")), Ok(()));
    }

    #[test]
    fn prefix_groups_addresses() {
        let mut a = Admission::new(AdmissionConfig {
            qps: 1,
            burst: 1,
            max_waiting: 0,
            prefix_v4: 24,
            prefix_v6: 64,
            ..AdmissionConfig::default()
        });
        assert_eq!(a.admit(ms(0), ip("192.0.2.1")), Ok(()));
        assert_eq!(a.admit(ms(0), ip("192.0.2.200")), Err(Refusal::Rate));
        assert_eq!(a.admit(ms(0), ip("192.0.3.1")), Ok(()));
        assert_eq!(a.admit(ms(0), ip("2001:db8::1")), Ok(()));
        assert_eq!(a.admit(ms(0), ip("2001:db8::ffff")), Err(Refusal::Rate));
        assert_eq!(a.admit(ms(0), ip("2001:db8:0:1::1")), Ok(()));
    }

    #[test]
    fn waiting_limit_and_done() {
        let mut a = Admission::new(AdmissionConfig {
            max_waiting: 2,
            ..AdmissionConfig::default()
        });
        let c = ip("::1");
        assert_eq!(a.admit(ms(0), c), Ok(()));
        assert_eq!(a.admit(ms(0), c), Ok(()));
        assert_eq!(a.admit(ms(0), c), Err(Refusal::Waiting));
        a.done(c);
        assert_eq!(a.admit(ms(0), c), Ok(()));
    }

    #[test]
    fn table_is_bounded_and_spoofed_sources_cannot_lock_out() {
        let mut a = Admission::new(AdmissionConfig {
            qps: 10,
            burst: 1,
            max_waiting: 4,
            max_clients: 100,
            ..AdmissionConfig::default()
        });
        for i in 0..10_000u32 {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = a.admit(ms(0), addr);
        }
        assert!(a.tracked() <= 100);
        // A new client still gets in.
        assert_eq!(a.admit(ms(0), ip("192.0.2.9")), Ok(()));
    }

    /// One client's queries from four threads (workers) share one bucket and one waiting count.
    #[test]
    fn shared_table_holds_the_limits_across_threads() {
        let a = std::sync::Arc::new(SharedAdmission::new(
            AdmissionConfig {
                qps: 100,
                burst: 50,
                max_waiting: 0,
                ..AdmissionConfig::default()
            },
            7,
        ));
        assert_eq!(a.shards(), MAX_SHARDS);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let a = a.clone();
                std::thread::spawn(move || {
                    let mut ok = 0;
                    for i in 0..200u64 {
                        // Each thread's clock is a little off the others'.
                        if a.admit(Duration::from_micros(i + t), ip("10.0.0.1"))
                            .is_ok()
                        {
                            ok += 1;
                        }
                    }
                    ok
                })
            })
            .collect();
        let ok: u32 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
        // 50 at once, and at most one more token in the 200 microseconds.
        assert!((50..=51).contains(&ok), "{ok}");
        assert_eq!(a.tracked(), 1);

        let w = SharedAdmission::new(
            AdmissionConfig {
                max_waiting: 3,
                ..AdmissionConfig::default()
            },
            1,
        );
        let c = ip("2001:db8::1");
        for _ in 0..3 {
            assert_eq!(w.admit(ms(0), c), Ok(()));
        }
        assert_eq!(w.admit(ms(0), c), Err(Refusal::Waiting));
        // The same /56 is the same client.
        assert_eq!(
            w.admit(ms(0), ip("2001:db8:0:ff::1")),
            Err(Refusal::Waiting)
        );
        w.done(c);
        assert_eq!(w.admit(ms(0), c), Ok(()));
    }

    #[test]
    fn shared_table_is_bounded_and_reloads_once() {
        let cfg = AdmissionConfig {
            qps: 10,
            burst: 1,
            max_waiting: 4,
            max_clients: 100,
            ..AdmissionConfig::default()
        };
        let a = SharedAdmission::new(cfg, 3);
        // 100 clients: 64 shards of one each.
        assert_eq!(a.shards(), 64);
        for i in 0..10_000u32 {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = a.admit(ms(0), addr);
        }
        assert!(a.tracked() <= 100, "{}", a.tracked());
        assert_eq!(a.admit(ms(0), ip("192.0.2.9")), Ok(()));
        // A small table has fewer shards, and never more clients than asked.
        let small = SharedAdmission::new(
            AdmissionConfig {
                max_clients: 5,
                ..cfg
            },
            3,
        );
        assert_eq!(small.shards(), 4);
        for i in 0..1000u32 {
            let _ = small.admit(ms(0), IpAddr::V4(std::net::Ipv4Addr::from(i << 8)));
        }
        assert!(small.tracked() <= 5, "{}", small.tracked());

        // A reload keeps the buckets; a new prefix starts afresh.
        let a = SharedAdmission::new(cfg, 3);
        let c = ip("192.0.2.9");
        assert_eq!(a.admit(ms(0), c), Ok(()));
        assert_eq!(a.admit(ms(0), c), Err(Refusal::Rate));
        a.reconfigure(AdmissionConfig { qps: 20, ..cfg });
        assert_eq!(a.config().qps, 20);
        assert_eq!(a.admit(ms(0), c), Err(Refusal::Rate));
        a.reconfigure(AdmissionConfig {
            prefix_v4: 24,
            ..cfg
        });
        assert_eq!(a.tracked(), 0);
        assert_eq!(a.admit(ms(0), c), Ok(()));
        assert_eq!(a.admit(ms(0), ip("192.0.2.10")), Err(Refusal::Rate));
        // Both limits off: no table, no lock.
        a.reconfigure(AdmissionConfig {
            qps: 0,
            max_waiting: 0,
            ..cfg
        });
        for _ in 0..100 {
            assert_eq!(a.admit(ms(0), c), Ok(()));
        }
        assert_eq!(a.tracked(), 0);
    }

    #[test]
    fn an_ipv4_mapped_address_is_its_ipv4_client() {
        let k = |ip: &str| ClientKey::of(ip.parse().unwrap(), 32, 56);
        assert_eq!(k("::ffff:192.0.2.1"), k("192.0.2.1"));
        // Under the IPv6 /56 they would all be one client.
        assert_ne!(k("::ffff:192.0.2.1"), k("::ffff:198.51.100.7"));
        assert_eq!(k("2001:db8:0:1::1"), k("2001:db8:0:2::1"));
    }

    #[test]
    fn off_by_default_for_rate() {
        let mut a = Admission::new(AdmissionConfig::default());
        for _ in 0..100_000 {
            assert_eq!(a.admit(ms(0), ip("127.0.0.1")), Ok(()));
            a.done(ip("127.0.0.1"));
        }
    }
}
