//! `dnspect cache`: the admin API's command line. `dnspect cache show NAME` prints what the
//! cache holds for a name and where each entry came from; `dnspect cache flush [NAME]
//! [--suffix]` flushes. It talks HTTP/1.1 to the server's metrics listener (docs/admin-api.md):
//! one request, `Connection: close`, so a few lines over `std::net` do (no HTTP client crate).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use super::exit;

/// Where the server is and how to authenticate, then what to do.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The admin API's address: the server's `metrics` listener.
    #[arg(
        long,
        global = true,
        value_name = "ADDR:PORT",
        default_value = "127.0.0.1:9153"
    )]
    server: String,
    /// A file whose first line is the bearer token (the server's `[admin] token_file`).
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Show what the cache holds for NAME (every type and DO/CD variant) with each
    /// entry's provenance: upstream, lifetime rule, TTLs, age, kind. Without NAME, every entry.
    /// Exits 1 when nothing is cached.
    Show {
        name: Option<String>,
        /// NAME and every name under it.
        #[arg(long, requires = "name")]
        suffix: bool,
        /// At most this many entries (the server's default is 1000).
        #[arg(long)]
        limit: Option<usize>,
        /// Print the server's JSON as it came.
        #[arg(long)]
        json: bool,
    },
    /// Flush the cache: everything, NAME (every type), or NAME and below with --suffix.
    Flush {
        name: Option<String>,
        /// NAME and every name under it.
        #[arg(long, requires = "name")]
        suffix: bool,
        /// Print the server's JSON as it came.
        #[arg(long)]
        json: bool,
    },
}

/// Exit codes (cli/exit.rs): 0 done; 1 (`RUNTIME`) when `show` finds nothing cached; 2
/// (`USAGE`) when the request could not be made or was refused (no server there, a wrong or
/// missing token, an unreadable token file, a bad name).
pub fn run(a: Args) -> ExitCode {
    match go(a) {
        Ok(code) => code,
        Err(e) => exit::fail(exit::USAGE, &format!("cache: {e}")),
    }
}

fn go(a: Args) -> Result<ExitCode, String> {
    let token = match &a.token_file {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read the token file {}: {e}", p.display()))?;
            let t = text.lines().next().unwrap_or("").trim().to_string();
            if t.is_empty() {
                return Err(format!(
                    "the token file {} is empty (its first line is the token)",
                    p.display()
                ));
            }
            Some(t)
        }
        None => None,
    };
    let addr = server_addr(&a.server)?;
    match a.action {
        Action::Show {
            name,
            suffix,
            limit,
            json,
        } => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if let Some(n) = &name {
                q.append_pair("name", n);
            }
            if suffix {
                q.append_pair("suffix", "true");
            }
            if let Some(l) = limit {
                q.append_pair("limit", &l.to_string());
            }
            let target = format!("/cache/entries?{}", q.finish());
            let body = call(addr, &a.server, "GET", &target, token.as_deref())?;
            let v: serde_json::Value = serde_json::from_str(&body)
                .map_err(|e| format!("the server's answer is not JSON ({e}): {body}"))?;
            let entries = v["entries"].as_array().cloned().unwrap_or_default();
            if json {
                println!("{body}");
            } else {
                print_entries(&v, &entries, name.as_deref(), suffix);
            }
            Ok(if entries.is_empty() {
                ExitCode::from(exit::RUNTIME)
            } else {
                ExitCode::SUCCESS
            })
        }
        Action::Flush { name, suffix, json } => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if let Some(n) = &name {
                q.append_pair("name", n);
            }
            if suffix {
                q.append_pair("suffix", "true");
            }
            let query = q.finish();
            let target = if query.is_empty() {
                "/cache/flush".to_string()
            } else {
                format!("/cache/flush?{query}")
            };
            let body = call(addr, &a.server, "POST", &target, token.as_deref())?;
            if json {
                println!("{body}");
                return Ok(ExitCode::SUCCESS);
            }
            let v: serde_json::Value = serde_json::from_str(&body)
                .map_err(|e| format!("the server's answer is not JSON ({e}): {body}"))?;
            let keys = v["keys"].as_u64().unwrap_or(0);
            let what = match (&name, suffix) {
                (None, _) => "everything".to_string(),
                (Some(n), false) => n.clone(),
                (Some(n), true) => format!("{n} and every name under it"),
            };
            println!("flushed {what}: {keys} key(s) removed");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `ADDR:PORT`, `[IPv6]:PORT`, `HOST:PORT`, or an address alone (port 9153).
fn server_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::IpAddr>()
    {
        return Ok(SocketAddr::new(ip, 9153));
    }
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("--server {s:?} is not an address (expected ADDR:PORT)"))
}

/// One request; the body of a 2xx answer, or an error saying what the server said.
fn call(
    addr: SocketAddr,
    shown: &str,
    method: &str,
    target: &str,
    token: Option<&str>,
) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(|e| {
        format!(
            "cannot reach the admin API at {shown}: {e} (is `dnspect serve` running with its \
             metrics listener there? see --server)"
        )
    })?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {shown}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("admin API at {shown}: cannot send the request: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("admin API at {shown}: no complete answer: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("admin API at {shown}: not an HTTP answer: {head:?}"))?;
    if (200..300).contains(&status) {
        return Ok(body.to_string());
    }
    let said = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string());
    let hint = match status {
        401 => " (give the token with --token-file)",
        403 => " (run this on the server's host, or set [admin] allow_remote = true there)",
        404 => " (an older dnspect without the admin API, or not dnspect at all?)",
        _ => "",
    };
    Err(format!(
        "the admin API at {shown} refused: HTTP {status}: {said}{hint}"
    ))
}

fn print_entries(
    v: &serde_json::Value,
    entries: &[serde_json::Value],
    name: Option<&str>,
    suffix: bool,
) {
    let what = match (name, suffix) {
        (None, _) => "the cache".to_string(),
        (Some(n), false) => n.to_string(),
        (Some(n), true) => format!("{n} and below"),
    };
    if entries.is_empty() {
        println!("nothing cached for {what}");
        return;
    }
    let total = v["total"].as_u64().unwrap_or(entries.len() as u64);
    println!(
        "{total} cache entr{} for {what}:",
        if total == 1 { "y" } else { "ies" }
    );
    for e in entries {
        let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
        let n = |k: &str| e[k].as_u64().unwrap_or(0);
        let mut bits = Vec::new();
        if e["dnssec_ok"].as_bool() == Some(true) {
            bits.push("DO");
        }
        if e["checking_disabled"].as_bool() == Some(true) {
            bits.push("CD");
        }
        let bits = if bits.is_empty() {
            String::new()
        } else {
            format!(" +{}", bits.join("+"))
        };
        // A failure has no upstream answer behind it (the engine gave up: timeouts, network
        // errors, REFUSED or SERVFAIL from every upstream it tried); its `ede` says why.
        let failure = e["kind"].as_str() == Some("failure");
        let from = e["upstream"].as_str().map_or(
            if failure {
                "recorded by dnspect after its attempts".to_string()
            } else {
                "no upstream".to_string()
            },
            |u| format!("from {u}"),
        );
        let up_ttl = e["upstream_ttl"]
            .as_u64()
            .map_or(String::new(), |t| format!(", upstream TTL {t}"));
        let state = if e["expired"].as_bool() == Some(true) {
            "expired (kept for serve-stale or the suspect-negative guard)".to_string()
        } else {
            format!("{} s left", n("remaining"))
        };
        println!(
            "\n{} {} {}{bits}  {}  {} {from}",
            s("name"),
            s("class"),
            s("type"),
            s("kind").replace('_', " "),
            s("rcode"),
        );
        println!(
            "  lifetime {} s{up_ttl}, {state}, stored {:.1} s ago",
            n("ttl"),
            n("age_ms") as f64 / 1000.0
        );
        println!("  rule {}: {}", s("rule"), s("rule_why"));
        if n("failures") > 0 {
            println!("  failures in a row: {}", n("failures"));
        }
        if let Some(ede) = e["ede"].as_str() {
            if failure {
                println!("  why (EDE sent to clients) {ede}");
            } else {
                println!("  upstream EDE {ede}");
            }
        }
        for r in e["records"].as_array().into_iter().flatten() {
            println!("  {}", r.as_str().unwrap_or(""));
        }
    }
    if v["truncated"].as_bool() == Some(true) {
        println!("\n({} shown of {total}: raise --limit)", entries.len());
    }
}
