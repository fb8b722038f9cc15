//! The admin API on the metrics listener: what the cache holds, with each entry's provenance,
//! and flushing it. Routes (docs/admin-api.md):
//!
//! - `GET /cache/entries?name=NAME[&suffix=true][&limit=N]`: the entries for NAME (or under it),
//!   as JSON; without `name`, every entry (up to `limit`, 1000 by default).
//! - `POST /cache/flush` (everything), `POST /cache/flush?name=NAME[&suffix=true]`; `DELETE
//!   /cache/entries?name=NAME[&suffix=true]` is the same as the POST with a name.
//!
//! Only loopback clients are served unless `[admin] allow_remote = true`; with `[admin]
//! token_file`, every request needs `Authorization: Bearer TOKEN`. Every worker's engine uses
//! the one shared cache (`SharedCache`): a request goes to one worker over its control channel
//! (the first that answers), whose engine lists or flushes the shared cache for all.
//!
//! Must not know: DNS (the core's `Forwarder::cache_entries` / `cache_flush` do the work).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dnspect_core::engine::forwarder::{CacheListing, Flush, FlushReport, Forwarder};
use dnspect_core::wire::Name;
use tokio::sync::{mpsc, oneshot};

use super::Control;
use crate::config::Settings;

/// The default and the largest number of entries a listing returns.
pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 100_000;

/// What a worker is asked.
#[derive(Debug)]
pub enum Op {
    List {
        name: Option<Name>,
        suffix: bool,
        limit: usize,
    },
    Flush(Flush),
}

/// A worker's answer.
#[derive(Debug)]
pub enum Reply {
    /// The listing, and the Unix time (ms) the worker's engine clock reads now.
    List(CacheListing, u64),
    Flush(FlushReport),
}

/// A request to one worker, with where its reply goes.
#[derive(Debug)]
pub struct Request {
    pub op: Op,
    pub reply: oneshot::Sender<Reply>,
}

/// A worker answers a request about its engine's cache (`now`: its engine clock).
pub fn answer(fwd: &mut Forwarder, now: Duration, op: Op) -> Reply {
    match op {
        Op::List {
            name,
            suffix,
            limit,
        } => Reply::List(
            fwd.cache_entries(name.as_ref(), suffix, limit, now),
            unix_ms(),
        ),
        Op::Flush(what) => Reply::Flush(fwd.cache_flush(&what)),
    }
}

/// Milliseconds since the Unix epoch now (for entries' `stored_unix_ms`).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The admin settings in force (replaced on SIGHUP) and the workers' control channels.
#[derive(Debug)]
pub struct Admin {
    controls: Vec<mpsc::UnboundedSender<Control>>,
    access: Mutex<Access>,
}

#[derive(Debug, Clone, Default)]
struct Access {
    allow_remote: bool,
    token: Option<String>,
}

/// Reads the bearer token from its file: the first line, trimmed; empty is an error.
pub fn read_token(path: &PathBuf) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the admin token file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(format!(
            "the admin token file {} is empty (its first line is the token)",
            path.display()
        ));
    }
    Ok(token)
}

impl Admin {
    pub fn new(controls: Vec<mpsc::UnboundedSender<Control>>, s: &Settings) -> Admin {
        Admin {
            controls,
            access: Mutex::new(Access {
                allow_remote: s.admin.allow_remote,
                token: s.admin.token.clone(),
            }),
        }
    }

    /// Applies reloaded settings.
    pub fn reconfigure(&self, s: &Settings) {
        if let Ok(mut a) = self.access.lock() {
            *a = Access {
                allow_remote: s.admin.allow_remote,
                token: s.admin.token.clone(),
            };
        }
    }

    /// Whether `path` is an admin route (the metrics server hands those over).
    pub fn owns(path: &str) -> bool {
        path == "/cache" || path.starts_with("/cache/") || path.starts_with("/cache?")
    }

    /// Serves one admin request: (status line, JSON body).
    pub async fn handle(
        &self,
        method: &str,
        target: &str,
        authorization: Option<&str>,
        peer: SocketAddr,
    ) -> (&'static str, String) {
        let access = self.access.lock().map(|a| a.clone()).unwrap_or_default();
        if !access.allow_remote && !is_loopback(peer.ip()) {
            return error(
                "403 Forbidden",
                &format!(
                    "the admin API answers loopback clients only, not {}: set [admin] allow_remote = true to change that",
                    peer.ip()
                ),
            );
        }
        if let Some(token) = &access.token {
            let given = authorization
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(str::trim);
            if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
                return error(
                    "401 Unauthorized",
                    "missing or wrong bearer token (Authorization: Bearer TOKEN; dnspect cache --token-file FILE)",
                );
            }
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let params = match Params::parse(query) {
            Ok(p) => p,
            Err(e) => return error("400 Bad Request", &e),
        };
        match (method, path) {
            ("GET", "/cache/entries") | ("GET", "/cache") => self.list(params).await,
            ("POST", "/cache/flush") | ("DELETE", "/cache/entries") => {
                if method == "DELETE" && params.name.is_none() {
                    return error(
                        "400 Bad Request",
                        "DELETE /cache/entries needs ?name=NAME (flush everything with POST /cache/flush)",
                    );
                }
                self.flush(params).await
            }
            (_, "/cache/entries" | "/cache" | "/cache/flush") => error(
                "405 Method Not Allowed",
                &format!("{method} {path}: use GET /cache/entries, POST /cache/flush or DELETE /cache/entries"),
            ),
            _ => error(
                "404 Not Found",
                &format!("no admin route {path}: see GET /cache/entries, POST /cache/flush, DELETE /cache/entries"),
            ),
        }
    }

    /// Sends `op` to one worker (the cache is shared: any worker's engine sees all of it) and
    /// returns its reply; a worker that is gone or does not answer within 5 s passes the
    /// request to the next.
    async fn ask_one(&self, op: impl Fn() -> Op) -> Result<Reply, String> {
        let mut why = String::from("no worker is running");
        for (i, c) in self.controls.iter().enumerate() {
            let (tx, rx) = oneshot::channel();
            let sent = c.send(Control::Cache(Request {
                op: op(),
                reply: tx,
            }));
            if sent.is_err() {
                why = format!("worker {i} is not running");
                continue;
            }
            match tokio::time::timeout(Duration::from_secs(5), rx).await {
                Ok(Ok(r)) => return Ok(r),
                Ok(Err(_)) => why = format!("worker {i} stopped before answering"),
                Err(_) => why = format!("worker {i} did not answer within 5 s"),
            }
        }
        Err(why)
    }

    async fn list(&self, p: Params) -> (&'static str, String) {
        let (name, suffix, limit) = (p.name.clone(), p.suffix, p.limit);
        let reply = match self
            .ask_one(|| Op::List {
                name: name.clone(),
                suffix,
                limit,
            })
            .await
        {
            Ok(r) => r,
            Err(e) => return error("503 Service Unavailable", &e),
        };
        let Reply::List(l, now_unix) = reply else {
            return error(
                "500 Internal Server Error",
                "the worker answered another request",
            );
        };
        let (total, truncated) = (l.total, l.truncated);
        let entries: Vec<serde_json::Value> = l
            .entries
            .into_iter()
            .map(|e| {
                let stored_unix_ms = now_unix.saturating_sub(e.age_ms);
                let mut v = serde_json::to_value(&e).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("stored_unix_ms".into(), stored_unix_ms.into());
                }
                v
            })
            .collect();
        let body = serde_json::json!({
            "name": p.name.as_ref().map(ToString::to_string),
            "suffix": p.suffix,
            "total": total,
            "truncated": truncated,
            "entries": entries,
        });
        ("200 OK", format!("{body:#}\n"))
    }

    async fn flush(&self, p: Params) -> (&'static str, String) {
        let what = match (&p.name, p.suffix) {
            (None, _) => Flush::All,
            (Some(n), false) => Flush::Name(n.clone()),
            (Some(n), true) => Flush::Suffix(n.clone()),
        };
        let keys = match self.ask_one(|| Op::Flush(what.clone())).await {
            Ok(Reply::Flush(f)) => f.keys,
            Ok(Reply::List(..)) => {
                return error(
                    "500 Internal Server Error",
                    "the worker answered another request",
                )
            }
            Err(e) => return error("503 Service Unavailable", &e),
        };
        tracing::info!(
            "admin: flushed {} from the cache: {keys} key(s)",
            match &what {
                Flush::All => "everything".to_string(),
                Flush::Name(n) => n.to_string(),
                Flush::Suffix(n) => format!("{n} and below"),
            }
        );
        let body = serde_json::json!({
            "flushed": match &what { Flush::All => "all", Flush::Name(_) => "name", Flush::Suffix(_) => "suffix" },
            "name": p.name.as_ref().map(ToString::to_string),
            "keys": keys,
        });
        ("200 OK", format!("{body:#}\n"))
    }
}

/// The query parameters of an admin request.
#[derive(Debug, Clone, PartialEq)]
struct Params {
    name: Option<Name>,
    suffix: bool,
    limit: usize,
}

impl Params {
    fn parse(query: &str) -> Result<Params, String> {
        let mut p = Params {
            name: None,
            suffix: false,
            limit: DEFAULT_LIMIT,
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "name" => {
                    let n: Name = v
                        .parse()
                        .map_err(|e| format!("name: {v:?} is not a domain name: {e}"))?;
                    p.name = Some(n);
                }
                "suffix" => {
                    p.suffix = match &*v {
                        "" | "1" | "true" | "yes" => true,
                        "0" | "false" | "no" => false,
                        _ => return Err(format!("suffix: {v:?}: expected true or false")),
                    }
                }
                "limit" => {
                    p.limit = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| format!("limit: {v:?}: expected 1..={MAX_LIMIT}"))?;
                }
                other => {
                    return Err(format!(
                        "unknown parameter {other:?} (expected name, suffix, limit)"
                    ))
                }
            }
        }
        Ok(p)
    }
}

fn error(status: &'static str, message: &str) -> (&'static str, String) {
    let body = serde_json::json!({ "error": message });
    (status, format!("{body}\n"))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Compares without an early exit on the first differing byte (the token's length is not a
/// secret worth hiding).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_and_name_their_errors() {
        let p =
            Params::parse("name=Example.COM&suffix=true&limit=5").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.name.map(|n| n.to_string()), Some("Example.COM.".into()));
        assert!(p.suffix);
        assert_eq!(p.limit, 5);
        let p = Params::parse("name=a%2Eb").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.name.map(|n| n.to_string()), Some("a.b.".into()));
        assert_eq!(Params::parse("").map(|p| p.limit), Ok(DEFAULT_LIMIT));
        for (q, want) in [
            ("name=a..b", "name: \"a..b\""),
            ("suffix=maybe", "suffix: \"maybe\""),
            ("limit=0", "limit: \"0\""),
            ("limit=x", "limit: \"x\""),
            ("nam=x", "unknown parameter \"nam\""),
        ] {
            let e = Params::parse(q).expect_err(q);
            assert!(e.starts_with(want), "{q}: {e}");
        }
    }

    #[test]
    fn loopback_and_token_compare() {
        assert!(is_loopback(
            "127.0.0.2".parse().unwrap_or(IpAddr::from([0; 4]))
        ));
        assert!(is_loopback("::1".parse().unwrap_or(IpAddr::from([0; 4]))));
        assert!(is_loopback(
            "::ffff:127.0.0.1".parse().unwrap_or(IpAddr::from([0; 4]))
        ));
        assert!(!is_loopback(
            "192.0.2.1".parse().unwrap_or(IpAddr::from([127, 0, 0, 1]))
        ));
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(
            Admin::owns("/cache/entries") && Admin::owns("/cache?x") && !Admin::owns("/cacheX")
        );
    }
}
