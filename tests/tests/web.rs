//! `dnspect web`, as a person runs it: the binary prints its URL, and everything the page needs
//! comes from that origin. The index and every asset it references (and those reference,
//! transitively) are fetched over loopback, compared byte for byte with www/dist, and carry the
//! Content-Security-Policy that keeps the browser from loading anything from elsewhere.
//! (www/test/binary.test.mjs opens the same server in headless Chromium with every
//! non-loopback request blocked.)
//!
//! When the binary was built without the page (www/dist missing: the placeholder), the test
//! checks the placeholder, and fails under CI=true: scripts/test.sh builds the page before the
//! binary, so CI must serve the real one.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use dnspect_tests::dnspect_bin;

/// `dnspect web` on a free loopback port, killed (by PID) when dropped.
struct Web {
    child: Child,
    url: String,
    addr: SocketAddr,
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Web {
    let mut child = Command::new(dnspect_bin())
        .arg("web")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            panic!("dnspect web printed no URL within 20 s");
        }
    };
    let url = line.trim().to_string();
    let hostport = url
        .strip_prefix("http://")
        .and_then(|r| r.strip_suffix('/'))
        .unwrap_or_else(|| panic!("not a URL on stdout: {line:?}"));
    let addr: SocketAddr = hostport.parse().unwrap();
    Web { child, url, addr }
}

struct Got {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn get(addr: SocketAddr, path: &str) -> Got {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{path}: no end of headers"));
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Got {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

/// Every quoted string in `text` that names a file of the page: a relative or root path ending
/// in one of the page's asset extensions, with no scheme (vite's `import("./x.js")` and
/// `new URL("x.wasm", import.meta.url)`, the index's src and href).
fn references(text: &str) -> Vec<String> {
    const EXT: [&str; 7] = [".js", ".mjs", ".css", ".wasm", ".svg", ".png", ".ico"];
    let b = text.as_bytes();
    let token = |c: u8| c.is_ascii_alphanumeric() || b"._/-".contains(&c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b"\"'`".contains(&b[i]) {
            i += 1;
            continue;
        }
        let q = b[i];
        let mut j = i + 1;
        while j < b.len() && token(b[j]) {
            j += 1;
        }
        let part = &text[i + 1..j];
        if j < b.len()
            && b[j] == q
            && part.len() < 200
            && !part.contains("//")
            && EXT.iter().any(|e| part.ends_with(e))
            && !part.rsplit('/').next().unwrap_or("").starts_with('.')
            // An object key (wasm-bindgen's import object `"./dnspect_bg.js": {...}`) names a
            // module of the wasm's imports, not a file.
            && b.get(j + 1) != Some(&b':')
        {
            out.push(part.to_string());
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// The values of src= and href= attributes, and of CSS url() and @import.
fn loaded_urls(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["src=", "href=", "url(", "@import "] {
        for part in text.split(key).skip(1) {
            let part = part.trim_start();
            let v = match part.chars().next() {
                Some(q @ ('"' | '\'')) => part[1..].split(q).next(),
                _ => part.split([')', ' ', '>', ';']).next(),
            };
            out.extend(v.map(str::to_string));
        }
    }
    out
}

/// `reference` seen from the file at `from` (a path such as `/assets/index.js`).
fn resolve(from: &str, reference: &str) -> String {
    if reference.starts_with('/') {
        return reference.to_string();
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in reference.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let p = parts.join("/");
    if p.starts_with('/') {
        p
    } else {
        format!("/{p}")
    }
}

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/dist")
}

fn files_under(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, base, out);
        } else {
            out.insert(format!("/{}", p.strip_prefix(base).unwrap().display()));
        }
    }
}

#[test]
fn the_page_and_every_asset_it_references_come_from_the_binary_over_loopback() {
    let web = start(&["--listen", "127.0.0.1:0"]);
    assert!(web.addr.ip().is_loopback(), "{}", web.url);
    let index = get(web.addr, "/");
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(index.body.clone()).unwrap();
    let placeholder = html.contains(r#"<meta name="dnspect-page" content="placeholder" />"#);
    if placeholder {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI=true but the binary embeds the placeholder page: scripts/test.sh builds www/dist \
             (scripts/build-page.sh) before the binary, so the real page must be in it"
        );
        eprintln!("note: this binary embeds the placeholder page (www/dist was missing when it was built)");
        assert!(
            html.contains("scripts/build-page.sh"),
            "the placeholder says how to build: {html}"
        );
    } else {
        assert!(html.contains("<title>dnspect"), "{html}");
    }
    // Walk every reference from the index, transitively.
    let mut seen = BTreeSet::from(["/index.html".to_string()]);
    let mut queue = VecDeque::from([("/index.html".to_string(), index)]);
    while let Some((path, got)) = queue.pop_front() {
        assert_eq!(got.status, 200, "{path}");
        let csp = got.header("content-security-policy").unwrap_or_default();
        for directive in [
            "default-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: CSP {csp:?} lacks {directive}"
            );
        }
        assert_eq!(
            got.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        let text = String::from_utf8_lossy(&got.body);
        if path.ends_with(".html") || path.ends_with(".css") {
            // Nothing fetched from another origin: every src, href and url() is relative, or
            // data: (the favicon).
            for v in loaded_urls(&text) {
                let local = v.starts_with("data:") || !(v.contains(':') || v.starts_with("//"));
                assert!(local, "{path} loads {v:?} from another origin");
            }
        }
        if path.ends_with(".wasm") {
            assert_eq!(
                got.header("content-type"),
                Some("application/wasm"),
                "{path}"
            );
            assert_eq!(&got.body[..4], b"\0asm", "{path}");
        }
        if !(path.ends_with(".html") || path.ends_with(".js") || path.ends_with(".css")) {
            continue;
        }
        for r in references(&text) {
            let next = resolve(&path, &r);
            if seen.insert(next.clone()) {
                let g = get(web.addr, &next);
                assert_eq!(
                    g.status, 200,
                    "{path} references {r} ({next}): {}",
                    g.status
                );
                queue.push_back((next, g));
            }
        }
    }
    if !placeholder {
        // Every file of the built page is reachable from the index, and served as built.
        let mut built = BTreeSet::new();
        files_under(&dist(), &dist(), &mut built);
        let reached: BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(reached, built, "files reached from the index vs www/dist");
        for f in &built {
            let want = std::fs::read(dist().join(f.trim_start_matches('/'))).unwrap();
            let got = get(web.addr, f);
            assert!(
                got.body == want,
                "{f}: served bytes differ from www/dist (a stale binary?)"
            );
        }
        assert!(
            seen.iter().any(|p| p.ends_with(".wasm")),
            "no wasm reached: {seen:?}"
        );
    }
    // What is not in the page is a 404, and nothing escapes it.
    for p in [
        "/nope.js",
        "/../Cargo.toml",
        "/assets/../../Cargo.toml",
        "/%2e%2e/Cargo.toml",
    ] {
        assert_eq!(get(web.addr, p).status, 404, "{p}");
    }
}

#[test]
fn web_flags_and_errors() {
    // A bad address is a usage error; a taken port a runtime error, each said on stderr.
    let out = Command::new(dnspect_bin())
        .args(["web", "--listen", "localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--listen"),
        "{out:?}"
    );
    let web = start(&["--listen", "127.0.0.1:0"]);
    let taken = web.addr.to_string();
    let out = Command::new(dnspect_bin())
        .args(["web", "--listen", &taken])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&taken),
        "{out:?}"
    );
    // IPv6 loopback prints a bracketed URL that works.
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        let v6 = start(&["--listen", "[::1]:0"]);
        assert!(v6.url.starts_with("http://[::1]:"), "{}", v6.url);
        assert_eq!(get(v6.addr, "/").status, 200);
    }
}

#[test]
fn reference_scanning_finds_what_vite_writes() {
    let js = r#"import("./wasm-host-_9SCOhgh.js");new URL("dnspect_bg-PDY4.wasm",import.meta.url);x.endsWith(".css");{"./dnspect_bg.js":{}};"http://www.w3.org/2000/svg";"a.b""#;
    assert_eq!(
        references(js),
        vec!["./wasm-host-_9SCOhgh.js", "dnspect_bg-PDY4.wasm"]
    );
    let html = r#"<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'" /><script src="./a.js"></script><img src=https://x.example/p.png>"#;
    assert_eq!(
        loaded_urls(html),
        vec![
            "./a.js",
            "https://x.example/p.png",
            "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'"
        ]
    );
    assert_eq!(
        loaded_urls("a{background:url(//cdn.example/x.png)}"),
        vec!["//cdn.example/x.png"]
    );
    assert_eq!(resolve("/assets/index.js", "./w.js"), "/assets/w.js");
    assert_eq!(resolve("/index.html", "./assets/i.js"), "/assets/i.js");
    assert_eq!(resolve("/assets/a.js", "../x.css"), "/x.css");
}

/// As the README has it: `dnspect web` with no flags prints http://127.0.0.1:8552/ and serves
/// the page there; SIGTERM stops it with exit 0. In a network namespace of its own, so the fixed
/// port cannot be taken by anything else on the machine.
#[test]
fn the_default_address_is_127_0_0_1_port_8552_and_sigterm_exits_0() {
    dnspect_tests::require("unshare");
    let script = format!(
        "ip link set lo up; {bin} web >/dev/stdout 2>/dev/null & pid=$!; \
         for i in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/8552) 2>/dev/null && break; sleep 0.1; done; \
         exec 3<>/dev/tcp/127.0.0.1/8552; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; head -1 <&3; \
         kill -TERM $pid; wait $pid; echo exit=$?",
        bin = dnspect_bin().display()
    );
    let out = dnspect_tests::run(
        Command::new("unshare").args(["--net", "bash", "-c", &script]),
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        vec!["http://127.0.0.1:8552/", "HTTP/1.0 200 OK", "exit=0"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
