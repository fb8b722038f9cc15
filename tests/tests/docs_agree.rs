//! The documentation and the binary agree, checked the way an operator who follows the docs
//! literally would find out they do not. Commands: every subcommand of `dnspect --help` has a
//! row in docs/cli.md and is named in the README; the examples the docs name exist. Files: every
//! fenced ```toml example in README.md and docs/*.md, every shipped `.toml` and the default
//! configuration with its commented-out settings uncommented pass `check-config`; every
//! repository path the docs name exists. Output: configuration errors are one line, naming a
//! line and field only when there is one, and the ones the docs quote are the binary's; `health`
//! exits as docs/cli.md says and shows why a server is not ready; `cache show` says why a
//! failure is cached, and the admin API's listing has the fields and order admin-api.md shows;
//! `capture` says why it listed nothing, and its JSON has exactly capture.md's fields; `decode
//! --json` has only keys json-schema.md explains; the start and reload lines name each zone's
//! upstreams, and a reload names the settings it cannot change; every `dig` in the docs asks
//! the default port. (Metric names and labels in the docs: metrics_exposition.rs.)
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use dnspect_tests::{
    config, dig, dnspect_bin, free_port, http_get, run, start_dnspect, status, temp_dir, wait_tcp,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dnspect(args: &[&str]) -> Output {
    run(
        Command::new(dnspect_bin()).args(args),
        Duration::from_secs(30),
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// README.md and every docs/*.md, as (path, text).
fn doc_files() -> Vec<(String, String)> {
    let mut files = vec![("README.md".to_string(), read("README.md"))];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    for p in docs {
        let rel = format!("docs/{}", p.file_name().unwrap().to_string_lossy());
        files.push((rel.clone(), read(&rel)));
    }
    files
}

/// The subcommands `dnspect --help` lists (clap's "Commands:" section), without `help`.
fn commands() -> Vec<String> {
    let help = text(&dnspect(&["--help"]).stdout);
    let section = help
        .split("Commands:\n")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .unwrap_or_else(|| panic!("no Commands: section in\n{help}"));
    section
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_subcommand_is_in_the_cli_docs_and_the_readme() {
    let cmds = commands();
    assert!(cmds.len() >= 10, "{cmds:?}");
    let cli = read("docs/cli.md");
    let readme = read("README.md");
    for c in &cmds {
        assert!(
            cli.contains(&format!("\n| `{c} ")) || cli.contains(&format!("\n| `{c}`")),
            "docs/cli.md's command table has no row for `{c}` (dnspect --help lists it)"
        );
        assert!(
            readme.contains(&format!("dnspect {c}")) || readme.contains(&format!("`{c}`")),
            "README.md never mentions `{c}`"
        );
    }
    // And no row for a command the binary does not have.
    let table = cli
        .split("| command | what it does |")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("docs/cli.md's command table");
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let name = row[3..].split([' ', '`']).next().unwrap();
        assert!(
            cmds.iter().any(|c| c == name),
            "docs/cli.md has a row for `{name}`, which dnspect --help does not list"
        );
    }
}

/// The ```toml blocks of a Markdown text, each with the line its fence opens on.
fn toml_blocks(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut lines = md.lines().enumerate();
    while let Some((i, l)) = lines.next() {
        if l.trim_start() == "```toml" {
            let mut body = String::new();
            for (_, l) in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            out.push((i + 1, body));
        }
    }
    out
}

/// Points every path of a `hosts = [...]` line at a hosts file in `dir` (the examples name
/// /etc/dnspect/... files the test machine does not have), one line of that format each.
fn local_hosts_files(toml: &str, dir: &Path) -> String {
    let mut out = String::new();
    for l in toml.lines() {
        if l.trim_start().starts_with("hosts = [") {
            let mut line = l.to_string();
            let quoted: Vec<String> = l
                .split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            for (i, path) in quoted.iter().enumerate() {
                let local = dir.join(format!("example-{i}.hosts"));
                std::fs::write(&local, "192.168.1.10 nas.lab nas\n").unwrap();
                line = line.replace(
                    &format!("\"{path}\""),
                    &format!("{:?}", local.display().to_string()),
                );
            }
            out.push_str(&line);
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    out
}

#[test]
fn every_example_configuration_in_the_docs_passes_check_config() {
    let dir = temp_dir("docs-toml");
    // Examples with `upstreams = []` take the resolv.conf's nameservers, as on a real host.
    let resolv = dir.join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
    let resolv = resolv.to_str().unwrap().to_string();
    let mut checked: Vec<String> = Vec::new();
    let mut failures = Vec::new();
    let mut check = |checked: &mut Vec<String>, what: String, body: &str| {
        let file = dir.join(format!("example-{}.toml", checked.len()));
        std::fs::write(&file, local_hosts_files(body, &dir)).unwrap();
        let out = dnspect(&[
            "check-config",
            file.to_str().unwrap(),
            "--resolv-conf",
            &resolv,
        ]);
        if out.status.code() != Some(0) || !text(&out.stdout).contains(": OK (") {
            failures.push(format!(
                "{what}: exit {:?}: {}{}",
                out.status.code(),
                text(&out.stdout),
                text(&out.stderr)
            ));
        }
        checked.push(what);
    };
    for (path, md) in doc_files() {
        for (line, body) in toml_blocks(&md) {
            check(&mut checked, format!("{path}:{line}"), &body);
        }
    }
    let in_docs = checked.len();
    for rel in [
        "deploy/container/dnspect.toml",
        "deploy/kubernetes/deployment/dnspect.toml",
        "deploy/kubernetes/node-local/dnspect.toml",
        "native/src/default.toml",
    ] {
        check(&mut checked, rel.to_string(), &read(rel));
    }
    // The extraction found the examples (configuration.md alone has four).
    assert!(
        in_docs >= 6,
        "only {in_docs} ```toml blocks found: {checked:?}"
    );
    assert!(
        failures.is_empty(),
        "examples that `dnspect check-config` rejects:\n{}",
        failures.join("\n")
    );
}

#[test]
fn configuration_errors_are_one_line_naming_a_field_only_when_there_is_one() {
    let dir = temp_dir("docs-config-errors");
    let write = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_string()
    };
    let missing = dir.join("missing.toml").to_str().unwrap().to_string();
    let cases = [
        // An unreadable file: no line, no field.
        (missing.clone(), "cannot read ".to_string()),
        // A table given twice: the parser's two-line message, on one line with its line.
        (
            write(
                "twice.toml",
                "[engine.cache]\nmax_ttl = 5\n[engine.cache]\nmin_ttl = 1\n",
            ),
            "twice.toml: line 3: ".to_string(),
        ),
        // No upstream and a resolv.conf without nameservers: which resolv.conf.
        (
            write("none.toml", "listen = [\"127.0.0.1:29182\"]\n"),
            "none.toml: field `upstreams`: none configured and the resolv.conf /dev/null lists no nameserver".to_string(),
        ),
        // A value: line and field.
        (
            write(
                "value.toml",
                "upstreams = [\"127.0.0.1:1\"]\n[engine]\nattempt_timeout = \"0s\"\n",
            ),
            "value.toml: line 3, field `engine.attempt_timeout`: must be above 0".to_string(),
        ),
    ];
    for (file, says) in cases {
        let out = dnspect(&["check-config", &file, "--resolv-conf", "/dev/null"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{file}: {err}");
        assert!(err.contains(&says), "{file}: expected {says:?} in {err:?}");
        assert!(!err.contains("field ``"), "{file}: an empty field: {err:?}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{file}: not one line: {err:?}"
        );
    }
    // The same clash from flags is a usage error naming the flag.
    let out = dnspect(&[
        "serve",
        "--listen",
        "127.0.0.1:29181",
        "--metrics",
        "127.0.0.1:29181",
        "--upstream",
        "127.0.0.1:1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).contains("field `--metrics`: 127.0.0.1:29181 is also a DNS listener"),
        "{out:?}"
    );
}

/// A server whose one upstream is a closed port, with its metrics listener and failures
/// cached long enough to look at: (process, DNS port, metrics port).
fn server_with_a_dead_upstream(name: &str) -> (dnspect_tests::Proc, u16, u16) {
    let dir = temp_dir(name);
    let (port, mport, dead) = (free_port(), free_port(), free_port());
    let metrics = format!("127.0.0.1:{mport}");
    let p = start_dnspect(
        &dir,
        &config(
            port,
            &[dead],
            "[engine]\nattempt_timeout = \"300ms\"\nquery_timeout = \"1s\"\n[engine.cache]\nfailure_min_ttl = 120\n",
        ),
        port,
        &["--metrics", &metrics, "--workers", "1"],
    );
    wait_tcp(
        SocketAddr::from(([127, 0, 0, 1], mport)),
        Duration::from_secs(10),
    );
    (p, port, mport)
}

#[test]
fn health_exits_as_documented_and_says_why_a_server_is_not_ready() {
    // Usage errors (exit 2): a timeout of 0 or without meaning, a URL that is not http.
    for args in [
        &["health", "--timeout", "0"][..],
        &["health", "--timeout", "soon"],
        &["health", "--url", "ftp://127.0.0.1:9153/health"],
    ] {
        let out = dnspect(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
    // Nothing listening: exit 1, naming the address, within the timeout (a duration, or
    // seconds as the flag first took).
    let closed = free_port();
    for timeout in ["500ms", "0.5"] {
        let url = format!("http://127.0.0.1:{closed}/ready");
        let out = dnspect(&["health", "--url", &url, "--timeout", timeout]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            text(&out.stderr).contains(&format!("cannot connect to 127.0.0.1:{closed}")),
            "{out:?}"
        );
    }

    let (_server, port, mport) = server_with_a_dead_upstream("docs-health");
    let health = format!("http://127.0.0.1:{mport}/health");
    let ready = format!("http://127.0.0.1:{mport}/ready");
    let out = dnspect(&["health", "--url", &health, "--timeout", "3s"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout).trim(), format!("{health}: OK"));
    // One query fails on the dead upstream; the worker then has no usable upstream, and /ready
    // says so (workers publish twice a second).
    let answer = dig(port, &["www.example.test", "A"]);
    assert_eq!(status(&answer), "SERVFAIL", "{answer}");
    let until = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let out = dnspect(&["health", "--url", &ready]);
        if out.status.code() != Some(0) || Instant::now() > until {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("503 Service Unavailable: not ready: 0 of 1 upstreams usable"),
        "the status and the reason, apart: {err}"
    );

    // `dnspect cache show` on that name: a failure dnspect recorded, and why (the EDE the
    // client got), not an "upstream EDE" from an upstream that never answered.
    let server = format!("127.0.0.1:{mport}");
    let out = dnspect(&["cache", "show", "www.example.test", "--server", &server]);
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        shown.contains("failure  SERVFAIL recorded by dnspect after its attempts")
            && shown.contains("why (EDE sent to clients) 23")
            && !shown.contains("upstream EDE"),
        "{shown}"
    );
    // The admin API's entry has exactly the fields docs/admin-api.md's table explains.
    let (code, body) = http_get(mport, "/cache/entries?name=www.example.test");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keys: std::collections::BTreeSet<String> = v["entries"][0]
        .as_object()
        .unwrap_or_else(|| panic!("{body}"))
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        table_fields(&read("docs/admin-api.md"), "### A listing"),
        "GET /cache/entries keys (left) against docs/admin-api.md (right)"
    );
    // And the listing looks like the page's example: the same keys in the same order, at the
    // same indentation (what `curl -s` shows).
    let keys_in_order = |s: &str| -> Vec<String> {
        s.lines()
            .filter_map(|l| l.strip_prefix("  "))
            .filter(|l| l.starts_with('"') || l.starts_with("    \""))
            .filter_map(|l| l.trim_start().strip_prefix('"'))
            .filter_map(|l| l.split_once("\":").map(|(k, _)| k.to_string()))
            .collect()
    };
    let md = read("docs/admin-api.md");
    let example = md
        .split("$ curl -s 'http://127.0.0.1:9153/cache/entries?name=repo1.maven.org'\n")
        .nth(1)
        .and_then(|s| s.split("\n```").next())
        .expect("docs/admin-api.md's listing example");
    assert_eq!(
        keys_in_order(&body),
        keys_in_order(example),
        "GET /cache/entries (left) against docs/admin-api.md's example (right)\n{body}"
    );
}

#[test]
fn capture_says_why_it_listed_nothing() {
    // The test capture's DNS runs on loopback test ports, not 53 or 5353.
    let pcap = repo().join("core/tests/captures/real.pcap");
    let pcap = pcap.to_str().unwrap();
    let out = dnspect(&["capture", pcap]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("no DNS messages in 81 frame(s)")
            && err.contains("81 not DNS on ports 53 and 5353")
            && err.contains("--any-port"),
        "{err}"
    );
    // With every port it lists them, and says nothing on stderr.
    let out = dnspect(&["capture", pcap, "--any-port"]);
    assert!(text(&out.stdout).lines().count() > 10, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    // A bad filter value is a usage error naming the flag.
    let out = dnspect(&["capture", pcap, "--rcode", "servfial"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).starts_with("dnspect: --rcode: \"servfial\" is not an RCODE"),
        "{out:?}"
    );
    // A filter that matches nothing is named.
    let out = dnspect(&["capture", pcap, "--any-port", "--name", "nothing.invalid"]);
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        text(&out.stderr).contains("no DNS message matching --name nothing.invalid"),
        "{out:?}"
    );
}

/// The repository paths a doc names (in backticks or as a Markdown link): those under a
/// top-level directory of the repository, and links to other Markdown files.
fn paths_named(md: &str) -> Vec<String> {
    const ROOTS: [&str; 10] = [
        "core/", "native/", "wasm/", "www/", "tests/", "bench/", "deploy/", "scripts/", "fuzz/",
        "docs/",
    ];
    let mut out = Vec::new();
    let backticked = md.split('`').skip(1).step_by(2);
    let linked = md.split("](").skip(1).filter_map(|s| s.split(')').next());
    for c in backticked.chain(linked) {
        let c = c.split('#').next().unwrap_or("");
        let c = c.trim_end_matches(['.', ',', ':', ';']);
        if c.is_empty() || c.contains(char::is_whitespace) || c.starts_with("http") {
            continue;
        }
        if ROOTS.iter().any(|r| c.starts_with(r)) || c.ends_with(".md") {
            out.push(c.to_string());
        }
    }
    out
}

#[test]
fn every_repository_path_the_docs_name_exists() {
    // Build outputs, named as where things appear once built.
    let built = ["www/dist", "wasm/pkg"];
    let mut missing = Vec::new();
    let mut named = 0;
    for (rel, md) in doc_files() {
        let base = Path::new(&rel).parent().unwrap().to_path_buf();
        for p in paths_named(&md) {
            if built.iter().any(|b| p.starts_with(b)) {
                continue;
            }
            named += 1;
            // A `file.rs:123` or `dir/*.rs` form names the file or the directory.
            let p = p.split(':').next().unwrap();
            let p = p.split('*').next().unwrap();
            let here = repo().join(&base).join(p);
            if !repo().join(p).exists() && !here.exists() {
                missing.push(format!("{rel}: {p}"));
            }
        }
    }
    assert!(named > 60, "only {named} paths found");
    assert!(
        missing.is_empty(),
        "paths the docs name that are not in the repository: {missing:?}"
    );
}

/// The start and reload lines say which upstreams serve which zone (configuration.md, Reload):
/// with `--forward`, the default group and each zone's group apart, not one merged list in
/// which the same address appears once per group.
#[test]
fn the_start_and_reload_lines_name_each_zone_with_its_upstreams() {
    let dir = temp_dir("docs-routes");
    let (port, a, b) = (free_port(), free_port(), free_port());
    let fwd = format!("example.test=127.0.0.1:{a},127.0.0.1:{b}");
    let rev = format!("10.0.0.0/8=127.0.0.1:{a}");
    let s = start_dnspect(
        &dir,
        &config(port, &[a], ""),
        port,
        &["--forward", &fwd, "--forward", &rev],
    );
    let want = format!(
        "forwarding to [127.0.0.1:{a}]; zone example.test. to [127.0.0.1:{a}, 127.0.0.1:{b}]; zone 10.in-addr.arpa. to [127.0.0.1:{a}]"
    );
    assert!(s.log_text().contains(&want), "{}", s.log_text());
    s.reload_expecting(&format!(
        "upstreams [127.0.0.1:{a}]; zone example.test. to [127.0.0.1:{a}, 127.0.0.1:{b}]; zone 10.in-addr.arpa. to [127.0.0.1:{a}]; 2 forward group(s)"
    ));
}

/// `dnspect decode --example list` (README) prints the examples on standard output, so it can
/// be piped, and every example the docs name by `--example NAME` or in the incident library's
/// backticked lists decodes.
#[test]
fn the_examples_the_docs_name_exist_and_the_list_is_on_stdout() {
    let out = dnspect(&["decode", "--example", "list"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let list = text(&out.stdout);
    let names: Vec<&str> = list
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.len() >= 8 && names.contains(&"incident-000"),
        "{list}"
    );
    let mut named = Vec::new();
    for (_, md) in doc_files() {
        for part in md.split("--example ").skip(1) {
            let n: String = part
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                .collect();
            if !n.is_empty() && n != "list" {
                named.push(n);
            }
        }
    }
    // docs/incidents.md also names the packets as `decode --example incident-000`,
    // `incident-000-compressed` and `nodata`.
    named.extend(["incident-000-compressed".to_string(), "nodata".to_string()]);
    for n in &named {
        assert!(
            names.contains(&n.as_str()),
            "the docs name example {n}: {list}"
        );
        let out = dnspect(&["decode", "--example", n]);
        assert_eq!(out.status.code(), Some(0), "decode --example {n}: {out:?}");
    }
}

/// The backticked names in the first column of the first table under `heading`.
fn table_fields(md: &str, heading: &str) -> std::collections::BTreeSet<String> {
    let section = md
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let table = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'));
    let mut out = std::collections::BTreeSet::new();
    for row in table.skip(2) {
        let first = row.split('|').nth(1).unwrap_or("");
        for name in first.split('`').skip(1).step_by(2) {
            out.insert(name.to_string());
        }
    }
    out
}

/// docs/capture.md's tables of a message's fields and a server report's fields are the keys
/// `dnspect capture --json` and `--report --json` write, no more and no fewer.
#[test]
fn capture_json_has_exactly_the_fields_docs_capture_md_lists() {
    let md = read("docs/capture.md");
    let pcap = repo().join("core/tests/captures/real.pcap");
    let pcap = pcap.to_str().unwrap();
    let out = dnspect(&["capture", pcap, "--any-port", "--json"]);
    let mut keys = std::collections::BTreeSet::new();
    for l in text(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        keys.extend(v.as_object().unwrap().keys().cloned());
    }
    assert_eq!(
        keys,
        table_fields(&md, "## One message"),
        "dnspect capture --json keys (left) against docs/capture.md (right)"
    );
    let out = dnspect(&["capture", pcap, "--any-port", "--json", "--report"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: std::collections::BTreeSet<String> = v["servers"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    // The server's own address heads each report; the table lists what is counted for it.
    assert!(keys.remove("server"), "{keys:?}");
    assert_eq!(
        keys,
        table_fields(&md, "## The report"),
        "dnspect capture --report --json servers[] keys (left) against docs/capture.md (right)"
    );
}

/// configuration.md, Reload: what SIGHUP cannot change is named in the log when the file
/// changes it (an edited `metrics` address used to be ignored without a word), and the running
/// listener stays.
#[test]
fn a_reload_names_the_settings_that_change_only_on_restart() {
    let dir = temp_dir("docs-restart-only");
    let (port, mport, other) = (free_port(), free_port(), free_port());
    let conf = |metrics: u16, extra: &str| {
        config(port, &[free_port()], extra).replace(
            "metrics = \"\"",
            &format!("metrics = \"127.0.0.1:{metrics}\""),
        )
    };
    let s = start_dnspect(&dir, &conf(mport, "workers = 1\n"), port, &[]);
    wait_tcp(
        SocketAddr::from(([127, 0, 0, 1], mport)),
        Duration::from_secs(10),
    );
    std::fs::write(
        dir.join("dnspect.toml"),
        conf(
            other,
            "workers = 2\n[udp]\nbatch = 8\n[admin]\ntimeout = \"1s\"\n",
        ),
    )
    .unwrap();
    s.reload_expecting(
        "workers, metrics, udp.batch, admin.timeout changed in the file but change only on restart",
    );
    assert!(
        s.wait_log("configuration reloaded", Duration::from_secs(3)),
        "{}",
        s.log_text()
    );
    assert_eq!(http_get(mport, "/health").0, 200);
}

/// Every `dig @127.0.0.1 -p PORT` the docs show queries the port `serve` listens on by default
/// (docs/dnssec-edns.md's worked example once used 5353, mDNS's port, which cli.md explains
/// dnspect avoids).
#[test]
fn every_dig_in_the_docs_queries_the_default_port() {
    let conf = text(&dnspect(&["serve", "--print-default-config"]).stdout);
    assert!(conf.contains("listen = [\"127.0.0.1:8553\"]"), "{conf}");
    let mut digs = 0;
    for (rel, md) in doc_files() {
        for part in md.split("dig @127.0.0.1").skip(1) {
            digs += 1;
            assert!(
                part.starts_with(" -p 8553"),
                "{rel}: dig @127.0.0.1{}",
                part.lines().next().unwrap_or("")
            );
        }
    }
    assert!(digs >= 5, "only {digs} dig commands found");
}

/// The embedded default configuration (`serve --print-default-config`, what operators copy)
/// shows optional settings as commented-out `# key = value` lines and tables: uncommented all
/// at once, as they stand, the file still passes `check-config`.
#[test]
fn the_default_configurations_commented_out_settings_are_valid_when_uncommented() {
    let conf = text(&dnspect(&["serve", "--print-default-config"]).stdout);
    let is_setting = |l: &str| {
        let Some(rest) = l.strip_prefix("# ") else {
            return false;
        };
        if rest.starts_with("[[engine.") || rest.starts_with("[engine.") {
            return rest.ends_with(']');
        }
        let key: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        !key.is_empty() && rest[key.len()..].starts_with(" = ")
    };
    // An example of a key the file already sets (`records = []` above `# records = [...]`)
    // takes that line's place, as an operator would use it.
    let mut lines: Vec<String> = Vec::new();
    let mut table_start = 0;
    let mut uncommented = 0;
    for l in conf.lines() {
        if l.starts_with('[') {
            table_start = lines.len();
        }
        if is_setting(l) {
            uncommented += 1;
            let setting = &l[2..];
            if let Some((key, _)) = setting.split_once(" = ") {
                for prev in lines[table_start..].iter_mut() {
                    if prev.starts_with(&format!("{key} = ")) {
                        *prev = format!("# {prev}");
                    }
                }
            }
            if setting.starts_with('[') {
                table_start = lines.len();
            }
            lines.push(setting.to_string());
        } else {
            lines.push(l.to_string());
        }
    }
    let file = lines.join("\n") + "\n";
    assert!(
        uncommented >= 10,
        "only {uncommented} commented-out settings"
    );
    let dir = temp_dir("docs-uncommented");
    let path = dir.join("dnspect.toml");
    std::fs::write(&path, &file).unwrap();
    let resolv = dir.join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
    let out = dnspect(&[
        "check-config",
        path.to_str().unwrap(),
        "--resolv-conf",
        resolv.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "uncommented default configuration: {}\n{file}",
        text(&out.stderr)
    );
}

/// Every key `dnspect decode --json` writes, at any depth.
fn json_keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone());
                json_keys(v, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_keys(v, out)),
        _ => {}
    }
}

/// docs/json-schema.md against `decode --json` on every built-in example and a tcpdump paste:
/// the top-level keys are exactly the ones its first block shows, and every key at any depth
/// is a word the page explains (a renamed or added field shows up as undocumented).
#[test]
fn decode_json_keys_are_the_ones_docs_json_schema_md_explains() {
    let md = read("docs/json-schema.md");
    let block = md
        .split("```jsonc\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the first jsonc block");
    let top: std::collections::BTreeSet<String> = block
        .lines()
        .filter_map(|l| l.strip_prefix("  \""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect();
    let words: std::collections::BTreeSet<&str> = md
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    let list = text(&dnspect(&["decode", "--example", "list"]).stdout);
    let examples: Vec<String> = list
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let paste = "0x0000:  4500 0055 9a1c 0000 4011 e279 7f00 0001  E..U....@..y....\n\
                 0x0010:  7f00 0001 e68f 2169 0041 fe54 c51a 0120  ......!i.A.T....\n\
                 0x0020:  0001 0000 0000 0001 0377 7777 0765 7861  .........www.exa\n\
                 0x0030:  6d70 6c65 0474 6573 7400 0001 0001 0000  mple.test.......\n\
                 0x0040:  2904 d000 0000 0000 0c00 0a00 083e 7911  )............>y.\n\
                 0x0050:  4412 33bd 6e                             D.3.n\n";
    let mut runs: Vec<Output> = examples
        .iter()
        .map(|e| dnspect(&["decode", "--json", "--example", e]))
        .collect();
    runs.push(dnspect(&["decode", "--json", paste]));
    let mut undocumented = std::collections::BTreeSet::new();
    for out in &runs {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
        let keys: std::collections::BTreeSet<String> =
            v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys, top,
            "decode --json top-level keys (left) against docs/json-schema.md (right)"
        );
        let mut all = std::collections::BTreeSet::new();
        json_keys(&v, &mut all);
        undocumented.extend(all.into_iter().filter(|k| !words.contains(k.as_str())));
    }
    assert!(runs.len() >= 9, "{examples:?}");
    assert!(
        undocumented.is_empty(),
        "decode --json keys docs/json-schema.md never mentions: {undocumented:?}"
    );
}

/// The error examples docs/configuration.md quotes are what `check-config` prints for files
/// that set those fields on those lines.
#[test]
fn the_quoted_configuration_errors_are_the_binarys() {
    let md = read("docs/configuration.md");
    let dir = temp_dir("docs-quoted-errors");
    for (body, quoted) in [
        (
            "upstreams = [\"127.0.0.1:1\"]\n\n[engine.cache]\nmax_ttl = \"x\"\n",
            "line 4, field \\`engine.cache.max_ttl\\`: invalid type: string \"x\", expected u32",
        ),
        (
            "upstreams = [\"127.0.0.1:1\"]\n[engine]\nattempt_timeout = \"0s\"\n",
            "line 3, field \\`engine.attempt_timeout\\`: must be above 0",
        ),
    ] {
        assert!(
            md.contains(quoted),
            "docs/configuration.md no longer quotes {quoted}"
        );
        let file = dir.join("quoted.toml");
        std::fs::write(&file, body).unwrap();
        let out = dnspect(&["check-config", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(78), "{out:?}");
        let said = quoted.replace("\\`", "`");
        assert!(
            text(&out.stderr).contains(&said),
            "check-config says {:?}, the docs {said:?}",
            text(&out.stderr)
        );
    }
}

/// docs/admin-api.md's example of `dnspect cache` without a server is what it prints (with the
/// port of a closed one), and exits 2 as the page says.
#[test]
fn the_quoted_cache_error_is_the_binarys() {
    let md = read("docs/admin-api.md");
    let quoted = md
        .lines()
        .find(|l| l.starts_with("dnspect: cache: cannot reach the admin API at 127.0.0.1:9999"))
        .expect("docs/admin-api.md quotes the unreachable-server error");
    let closed = free_port();
    let server = format!("127.0.0.1:{closed}");
    let out = dnspect(&["cache", "show", "x", "--server", &server]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        text(&out.stderr).trim_end(),
        quoted.replace("127.0.0.1:9999", &server)
    );
}
