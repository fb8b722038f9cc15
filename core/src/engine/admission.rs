//! Admission: whether a client's query is taken at all, before the engine sees it. Per client
//! (an address grouped by a prefix length, so one host with many source ports, or a configured
//! subnet, is one client): a token bucket for the query rate and a count of queries waiting on
//! answers. Pure: time comes in as a [`Duration`], addresses as [`IpAddr`]; the runtime calls
//! [`Admission::admit`] for each query and [`Admission::done`] when its answer leaves.
//!
//! Memory is bounded: at most `max_clients` are tracked. When the table is full, idle clients
//! (full bucket, nothing waiting) are forgotten; if none are idle, an unknown client is admitted
//! without being tracked, so a flood of spoofed sources cannot lock out real clients by filling
//! the table.

use core::time::Duration;
use std::collections::HashMap;
use std::net::IpAddr;

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
}

impl Admission {
    pub fn new(cfg: AdmissionConfig) -> Admission {
        Admission {
            cfg,
            clients: HashMap::default(),
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

    /// The client an address belongs to.
    pub fn key(&self, ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(a) => {
                let bits = u32::from(a);
                let p = u32::from(self.cfg.prefix_v4.min(32));
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                ClientKey(u128::from(bits & mask), false)
            }
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                let p = u32::from(self.cfg.prefix_v6.min(128));
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                ClientKey(bits & mask, true)
            }
        }
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
        let size = self.bucket_size();
        if !self.clients.contains_key(&key) && self.clients.len() >= self.cfg.max_clients {
            self.forget_idle(now);
            if self.clients.len() >= self.cfg.max_clients {
                return Ok(());
            }
        }
        let c = self.clients.entry(key).or_insert(Client {
            milli_tokens: size,
            at: now,
            waiting: 0,
        });
        if self.cfg.max_waiting > 0 && c.waiting >= self.cfg.max_waiting {
            return Err(Refusal::Waiting);
        }
        if self.cfg.qps > 0 {
            let elapsed = now.saturating_sub(c.at);
            c.at = c.at.max(now);
            let refill = elapsed.as_micros() as u64 * u64::from(self.cfg.qps) / 1000;
            c.milli_tokens = (c.milli_tokens + refill).min(size);
            if c.milli_tokens < 1000 {
                return Err(Refusal::Rate);
            }
            c.milli_tokens -= 1000;
        }
        c.waiting += 1;
        Ok(())
    }

    /// A query admitted for `ip` was answered (or dropped).
    pub fn done(&mut self, ip: IpAddr) {
        let key = self.key(ip);
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

    #[test]
    fn off_by_default_for_rate() {
        let mut a = Admission::new(AdmissionConfig::default());
        for _ in 0..100_000 {
            assert_eq!(a.admit(ms(0), ip("127.0.0.1")), Ok(()));
            a.done(ip("127.0.0.1"));
        }
    }
}
