//! `dnspect web`: the web page (www/), embedded in the binary, served over HTTP.
//!
//! native/build.rs copies the built page (`www/dist`) into the binary, or a placeholder that
//! says how to build it when it was missing at build time (`DNSPECT_PAGE=placeholder`). The page
//! references only its own files, relatively, and its Content-Security-Policy (also sent here as
//! a header) keeps the browser from contacting any other origin. tiny_http serves it: the page is
//! a handful of static files for one person's browser, so a small synchronous server fits.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use include_dir::{include_dir, Dir};

use crate::cli::exit::{self, fail};
use crate::cli::logging::{self, LogFormat};

/// The page's files: www/dist as it was at build time, or the placeholder.
static PAGE: Dir<'static> = include_dir!("$OUT_DIR/page");

/// Whether the embedded page is the real one (`built`) or the placeholder.
pub const PAGE_KIND: &str = env!("DNSPECT_PAGE");

/// The default address: loopback, and an unprivileged port unassigned by IANA, next to the
/// DNS default 8553 (docs/cli.md).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8552";

/// The same policy the page's own `<meta>` carries (www/vite.config.ts), as a header.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'none'";

#[derive(Debug, Args)]
pub struct WebArgs {
    /// Address to serve the page on (port 0: any free port).
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    listen: String,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The embedded file for a request path: `/` is index.html; no `..`, no directories.
pub fn lookup(url: &str) -> Option<(&'static str, &'static [u8])> {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = if path.is_empty() { "index.html" } else { path };
    if path
        .split('/')
        .any(|s| s == ".." || s == "." || s.is_empty())
    {
        return None;
    }
    PAGE.get_file(path)
        .map(|f| (content_type(path), f.contents()))
}

/// The URL to print for an address: unspecified addresses are reached on loopback.
pub fn url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v) if v.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v) if v.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}/", SocketAddr::new(ip, addr.port()))
}

fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn respond(rq: tiny_http::Request) {
    use tiny_http::{Method, Response};
    let (status, ctype, body): (u16, &str, &[u8]) =
        if !matches!(rq.method(), Method::Get | Method::Head) {
            (405, "text/plain; charset=utf-8", b"GET or HEAD only\n")
        } else {
            match lookup(rq.url()) {
                Some((t, b)) => (200, t, b),
                None => (404, "text/plain; charset=utf-8", b"not found\n"),
            }
        };
    tracing::debug!("{} {} -> {status}", rq.method(), rq.url());
    // tiny_http leaves the body out for HEAD itself. The length is always known: no chunking.
    let mut resp = Response::from_data(body)
        .with_status_code(status)
        .with_chunked_threshold(usize::MAX);
    for (n, v) in [
        ("Content-Type", ctype),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", CSP),
        ("Referrer-Policy", "no-referrer"),
    ] {
        if let Some(h) = header(n, v) {
            resp.add_header(h);
        }
    }
    let _ = rq.respond(resp);
}

pub fn run(a: &WebArgs, (format, level): (LogFormat, Option<&str>)) -> ExitCode {
    let addr: SocketAddr = match a.listen.parse() {
        Ok(x) => x,
        Err(_) => {
            return fail(
                exit::USAGE,
                &format!(
                    "--listen {:?} is not an address (expected IP:PORT or [IPv6]:PORT)",
                    a.listen
                ),
            )
        }
    };
    if let Err(e) = logging::init(format, level) {
        return fail(exit::USAGE, &e);
    }
    let server = match tiny_http::Server::http(addr) {
        Ok(s) => Arc::new(s),
        Err(e) => return fail(exit::RUNTIME, &format!("cannot listen on {addr}: {e}")),
    };
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    if !bound.ip().is_loopback() {
        tracing::warn!(
            "listening on {bound}, beyond loopback: anyone who can reach it can load the page (it holds no data of yours, but say so deliberately)"
        );
    }
    if PAGE_KIND != "built" {
        tracing::warn!(
            "this binary was built without the page (www/dist was missing): serving a placeholder that says how to build it (scripts/build-page.sh, then cargo build)"
        );
    }
    fn count(d: &Dir<'_>) -> usize {
        d.files().count() + d.dirs().map(count).sum::<usize>()
    }
    let files = count(&PAGE);
    // The URL on stdout, alone on its line, for people and scripts.
    println!("{}", url(bound));
    tracing::info!(
        "serving the {} page ({files} files) on {bound}; Ctrl-C stops",
        if PAGE_KIND == "built" {
            "built"
        } else {
            "placeholder"
        }
    );
    for _ in 0..4 {
        let s = server.clone();
        std::thread::spawn(move || loop {
            match s.recv() {
                Ok(rq) => respond(rq),
                Err(e) => {
                    tracing::error!("web: {e}");
                    return;
                }
            }
        });
    }
    // SIGINT (Ctrl-C) or SIGTERM: stop, exit 0 (docs/cli.md, Exit status).
    match wait_for_stop() {
        Ok(sig) => {
            tracing::info!("{sig}: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit::RUNTIME, &format!("cannot wait for signals: {e}")),
    }
}

fn wait_for_stop() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_embedded_files_only() {
        assert!(lookup("/").is_some());
        assert_eq!(
            lookup("/index.html").map(|f| f.0),
            Some("text/html; charset=utf-8")
        );
        assert!(lookup("/?x=1").is_some());
        for bad in [
            "/../Cargo.toml",
            "/assets/../index.html",
            "//index.html",
            "/nope.js",
        ] {
            assert!(lookup(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn urls_reach_unspecified_addresses_on_loopback() {
        assert_eq!(
            url("0.0.0.0:8552".parse().unwrap()),
            "http://127.0.0.1:8552/"
        );
        assert_eq!(url("[::]:80".parse().unwrap()), "http://[::1]:80/");
        assert_eq!(url("127.0.0.2:1".parse().unwrap()), "http://127.0.0.2:1/");
    }
}
