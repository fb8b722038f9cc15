//! The command-line conventions of the `dnspect` binary (issue 13, part 4), each checked against
//! the binary as a user or a supervisor meets it: the default port, `--allow` and the exposure
//! warning, log format and level and colour, the query log naming clients by address and port,
//! the exit codes of `serve` and `check-config`, the man page (rendered by `man -l`), the shell
//! completions (parsed and run by bash) and `--version` with the commit.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use dnspect_core::wire::{Message, Name, Question, RType, Rcode};
use dnspect_tests::{
    a_record_upstream, config, dig, dnspect_bin, free_port, require, run, start_dnspect, temp_dir,
};

fn dnspect(args: &[&str]) -> Output {
    run(
        Command::new(dnspect_bin()).args(args),
        Duration::from_secs(30),
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A query for `name` A from a UDP socket of our own; the socket (its port is what the log must
/// name) and the answer.
fn query_from_own_port(port: u16, name: &str) -> (SocketAddr, Message) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut m = Message::default();
    m.header.id = 0x5151;
    m.header.rd = true;
    m.questions.push(Question {
        name: name.parse::<Name>().unwrap(),
        qtype: RType::A,
        class: dnspect_core::wire::Class(1),
    });
    let q = m.to_wire().unwrap();
    s.send_to(&q, ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).unwrap();
    (
        s.local_addr().unwrap(),
        Message::from_wire(&buf[..n]).unwrap(),
    )
}

#[test]
fn the_default_port_is_8553_not_mdns() {
    let out = dnspect(&["serve", "--print-default-config"]);
    let conf = text(&out.stdout);
    assert!(conf.contains("listen = [\"127.0.0.1:8553\"]"), "{conf}");
    assert!(!conf.contains("\"127.0.0.1:5353\""), "{conf}");
    let help = text(&dnspect(&["serve", "--help"]).stdout);
    assert!(help.contains("127.0.0.1:8553"), "{help}");
    // The README's quick start queries the documented port.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    assert!(
        readme.contains("dig @127.0.0.1 -p 8553"),
        "README quick start"
    );
    assert!(
        !readme.contains(":5353") && !readme.contains("-p 5353"),
        "README still uses 5353"
    );
}

/// The README's quick start on a machine of its own: in a network namespace (nothing else can
/// hold the ports, nothing outside can reach them) whose resolv.conf names a resolver on
/// 127.0.0.1:53 (NSD there, serving example.com), `dnspect serve` with no configuration at all
/// answers `dig @127.0.0.1 -p 8553 example.com` with the record, as the README says.
#[test]
fn the_quick_start_answers_on_127_0_0_1_port_8553() {
    require("unshare");
    require("ip");
    let nsd = require("nsd");
    let dir = temp_dir("cli-default-port");
    let d = dir.display();
    std::fs::write(
        dir.join("example.com.zone"),
        "$ORIGIN example.com.\n$TTL 300\n@ SOA ns.example.com. host.example.com. 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\n@ A 192.0.2.80\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("nsd.conf"),
        format!(
            "server:\n  ip-address: 127.0.0.1@53\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\nremote-control:\n  control-enable: no\nzone:\n  name: \"example.com.\"\n  zonefile: \"example.com.zone\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    // Every process bounded by timeout(1), and stopped by PID at the end.
    let script = format!(
        "ip link set lo up; \
         timeout 50 {nsd} -d -c {d}/nsd.conf >{d}/nsd.out 2>&1 & nsd=$!; \
         timeout 50 {bin} serve --resolv-conf {d}/resolv.conf >{d}/serve.log 2>&1 & srv=$!; \
         for i in $(seq 1 100); do dig +time=1 +tries=1 @127.0.0.1 -p 8553 example.com SOA >/dev/null 2>&1 && break; sleep 0.1; done; \
         dig @127.0.0.1 -p 8553 example.com; \
         kill $srv $nsd; wait",
        nsd = nsd.display(),
        bin = dnspect_bin().display(),
    );
    let out = run(
        Command::new("unshare").args(["--net", "sh", "-c", &script]),
        Duration::from_secs(70),
    );
    let answer = text(&out.stdout);
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
    let nsd_out = std::fs::read_to_string(dir.join("nsd.out")).unwrap_or_default();
    assert!(
        answer.contains(";; SERVER: 127.0.0.1#8553"),
        "{answer}\n{}\nserve log:\n{log}\nnsd:\n{nsd_out}",
        text(&out.stderr)
    );
    assert!(answer.contains("status: NOERROR"), "{answer}");
    let records = dnspect_tests::answer_lines(&answer);
    assert!(
        records.iter().any(|r| {
            let w: Vec<&str> = r.split_whitespace().collect();
            w.first() == Some(&"example.com.") && w[w.len() - 2..] == ["A", "192.0.2.80"]
        }),
        "{records:?}\n{answer}"
    );
    assert!(log.contains("127.0.0.1:8553"), "{log}");
}

#[test]
fn allow_flags_replace_the_acl_and_wide_exposure_is_warned() {
    let up = a_record_upstream(300);
    let dir = temp_dir("cli-allow");
    let port = free_port();
    let conf = config(port, &[up.port], "");
    // Only 10.0.0.0/8 may query: loopback is refused, whatever the file's allow said.
    let mut s = start_dnspect(&dir, &conf, port, &["--allow", "10.0.0.0/8"]);
    let (_, r) = query_from_own_port(port, "a.example.");
    assert_eq!(r.rcode(), Rcode::REFUSED);
    s.signal("TERM");
    assert_eq!(
        s.wait_exit(Duration::from_secs(15)).and_then(|e| e.code()),
        Some(0)
    );
    // Repeated: any of them admits.
    let s = start_dnspect(
        &dir,
        &conf,
        port,
        &["--allow", "10.0.0.0/8", "--allow", "127.0.0.1/32"],
    );
    let (_, r) = query_from_own_port(port, "b.example.");
    assert_eq!(r.rcode(), Rcode::NOERROR, "{r:?}");
    assert!(
        !s.log_text().contains("beyond loopback"),
        "loopback only: no warning\n{}",
        s.log_text()
    );
    drop(s);
    // A bad network is a usage error naming the flag.
    let out = dnspect(&[
        "serve",
        "--config",
        dir.join("dnspect.toml").to_str().unwrap(),
        "--allow",
        "10.0.0.0/33",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).contains("--allow") && text(&out.stderr).contains("prefix"),
        "{out:?}"
    );
    // Listening on every address with a wide allow list: a warning at start. (Checked in a
    // network namespace of its own so that 0.0.0.0 reaches nothing but its loopback.)
    require("unshare");
    let script = format!(
        "ip link set lo up; timeout -s TERM 3 {bin} serve --config {conf} --listen 0.0.0.0:{port} --allow 0.0.0.0/0 --upstream 127.0.0.1:{up} --metrics ''",
        bin = dnspect_bin().display(),
        conf = dir.join("dnspect.toml").display(),
        up = up.port,
    );
    let out = run(
        Command::new("unshare").args(["--net", "sh", "-c", &script]),
        Duration::from_secs(30),
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("WARN") && err.contains("listening beyond loopback (0.0.0.0:"),
        "{err}"
    );
    assert!(err.contains("0.0.0.0/0"), "{err}");
    // check-config says the same about a file.
    let f = dir.join("open.toml");
    std::fs::write(
        &f,
        format!(
            "listen = [\"[::]:53\"]\nallow = [\"::/0\"]\nupstreams = [\"127.0.0.1:{}\"]\n",
            up.port
        ),
    )
    .unwrap();
    let out = dnspect(&["check-config", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("warning: listening beyond loopback ([::]:53)"),
        "{out:?}"
    );
}

#[test]
fn the_query_log_names_clients_by_address_and_port() {
    let up = a_record_upstream(300);
    let dir = temp_dir("cli-qlog");
    let port = free_port();
    // A local record too: its `local` line names the client like every other line.
    let local = "[engine.local]\nrecords = [\"printer.lan. 300 IN A 192.168.1.20\"]\n";
    let s = start_dnspect(&dir, &config(port, &[up.port], local), port, &[]);
    let (me, r) = query_from_own_port(port, "who.example.");
    assert_eq!(r.rcode(), Rcode::NOERROR);
    let (me_local, r) = query_from_own_port(port, "printer.lan.");
    assert_eq!(r.rcode(), Rcode::NOERROR);
    let _ = dig(port, &["+tcp", "tcp.example", "A"]);
    assert!(
        s.wait_log("reply tcp.example.", Duration::from_secs(5)),
        "{}",
        s.log_text()
    );
    let log = s.log_text();
    assert!(
        log.contains(&format!("query[A] who.example. from client {me} over UDP")),
        "{log}"
    );
    assert!(
        log.contains(&format!("reply who.example. A to client {me}: NOERROR")),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "local printer.lan. A to client {me_local}: NOERROR, 1 answer record(s) from local record local.records[0]"
        )),
        "{log}"
    );
    let tcp_line = log
        .lines()
        .find(|l| l.contains("query[A] tcp.example."))
        .unwrap();
    assert!(
        tcp_line.contains("from client 127.0.0.1:") && tcp_line.contains("over TCP"),
        "{tcp_line}"
    );
    // Never the engine's slot token (`client 4294967296`): every client named is an address.
    let named: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" query: "))
        .flat_map(|l| {
            let from = l.split("from client ").skip(1);
            from.chain(l.split("to client ").skip(1))
        })
        .collect();
    assert!(named.len() >= 6, "{log}");
    for after in named {
        assert!(
            after.starts_with("127.0.0.1:"),
            "a client not named by address: {after}"
        );
    }
}

/// `serve` with a config and flags, stopped after `secs` (timeout sends SIGTERM): its output.
fn serve_for(secs: u32, args: &[&str]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.args(["--preserve-status", "-s", "TERM", &secs.to_string()])
        .arg(dnspect_bin())
        .arg("serve")
        .args(args);
    run(&mut cmd, Duration::from_secs(u64::from(secs) + 30))
}

#[test]
fn log_format_level_and_colour() {
    let up = a_record_upstream(300);
    let dir = temp_dir("cli-logs");
    let port = free_port();
    let conf = dir.join("c.toml");
    std::fs::write(&conf, config(port, &[up.port], "")).unwrap();
    let conf = conf.to_str().unwrap();
    // JSON: every stderr line is an object with a level and a message.
    let out = serve_for(3, &["--config", conf, "--log-format", "json"]);
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(!lines.is_empty(), "{out:?}");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{l}");
    }
    assert!(err.contains("\"level\":\"INFO\""), "{err}");
    // Text on a pipe: no ANSI escapes.
    let out = serve_for(3, &["--config", conf]);
    let err = text(&out.stderr);
    assert!(err.contains(" INFO ") && !err.contains('\x1b'), "{err:?}");
    // --log-level warn: no INFO lines (and the global flag works before the subcommand too).
    let out = run(
        Command::new("timeout")
            .args(["--preserve-status", "-s", "TERM", "2"])
            .arg(dnspect_bin())
            .args(["--log-level", "warn", "serve", "--config", conf]),
        Duration::from_secs(30),
    );
    assert!(!text(&out.stderr).contains("INFO"), "{out:?}");
    // A bad directive is a usage error.
    let out = dnspect(&["serve", "--config", conf, "--log-level", "info,=nonsense=="]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("--log-level"), "{out:?}");
    // On a terminal (script(1) gives it one): colour, unless NO_COLOR is set.
    require("script");
    let on_tty = |no_color: bool| {
        let cmd = format!(
            "{}timeout -s TERM 2 {} serve --config {conf}",
            if no_color { "NO_COLOR=1 " } else { "" },
            dnspect_bin().display()
        );
        let out = run(
            Command::new("script")
                .args(["-qec", &cmd, "/dev/null"])
                .env_remove("NO_COLOR"),
            Duration::from_secs(30),
        );
        text(&out.stdout)
    };
    let coloured = on_tty(false);
    assert!(
        coloured.contains("\x1b["),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = on_tty(true);
    assert!(
        plain.contains("INFO") && !plain.contains("\x1b["),
        "NO_COLOR ignored: {plain:?}"
    );
}

#[test]
fn exit_codes_are_the_same_for_serve_and_check_config() {
    let up = a_record_upstream(300);
    let dir = temp_dir("cli-exit");
    let rc = dir.join("resolv.conf");
    std::fs::write(&rc, "# no nameserver\n").unwrap();
    let rc = rc.to_str().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_string()
    };
    let port = free_port();
    let good = write("good.toml", &config(port, &[up.port], ""));
    let bad = write(
        "bad.toml",
        "listen = [\"127.0.0.1:1\"]\n[engine.cache]\nmax_ttl = \"x\"\n",
    );
    let no_upstream = write("none.toml", "listen = [\"127.0.0.1:1\"]\n");
    let missing = dir.join("missing.toml").to_str().unwrap().to_string();
    // 78: the same file, the same code, from both commands.
    for (file, what) in [
        (&bad, "max_ttl"),
        (&no_upstream, "upstreams"),
        (&missing, "missing.toml"),
    ] {
        let c = dnspect(&["check-config", file, "--resolv-conf", rc]);
        let s = dnspect(&["serve", "--config", file, "--resolv-conf", rc]);
        assert_eq!(c.status.code(), Some(78), "check-config {file}: {c:?}");
        assert_eq!(s.status.code(), Some(78), "serve {file}: {s:?}");
        assert!(
            text(&c.stderr).contains(what) && text(&s.stderr).contains(what),
            "{c:?}\n{s:?}"
        );
    }
    // 0: valid.
    assert_eq!(dnspect(&["check-config", &good]).status.code(), Some(0));
    // 2: usage errors.
    for args in [
        vec!["serve", "--bogus"],
        vec!["serve", "--config", &good, "--listen", "nonsense"],
        vec!["serve", "--config", &good, "--workers", "0"],
        vec!["check-config"],
        vec!["nonsense"],
    ] {
        let out = dnspect(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
    // 1: a runtime failure (the port is taken).
    let holder = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let out = dnspect(&["serve", "--config", &good]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains(&format!("127.0.0.1:{port}")),
        "{out:?}"
    );
    drop(holder);
    // 0: SIGTERM stops it cleanly.
    let out = serve_for(3, &["--config", &good]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The help and the man page say the same numbers.
    let help = text(&dnspect(&["--help"]).stdout);
    assert!(help.contains("78 configuration error"), "{help}");
}

/// man's output without its overstrike bold and underline (`X\bX`, `_\bX`).
fn plain(s: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in s.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}

#[test]
fn man_page_renders_and_completions_parse() {
    require("man");
    let out = dnspect(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let dir = temp_dir("cli-man");
    let page = dir.join("dnspect.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let rendered = run(
        Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&page)
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0"),
        Duration::from_secs(30),
    );
    let shown = plain(&text(&rendered.stdout));
    assert_eq!(rendered.status.code(), Some(0), "{rendered:?}");
    assert!(
        text(&rendered.stderr).trim().is_empty(),
        "groff warnings: {}",
        text(&rendered.stderr)
    );
    for want in [
        "SYNOPSIS",
        "EXIT STATUS",
        "78",
        "serve",
        "check-config",
        "decode",
        "web",
        "completions",
        "--log-format",
        "NO_COLOR",
        "8553",
    ] {
        assert!(shown.contains(want), "the man page lacks {want}:\n{shown}");
    }
    // One page per subcommand, each renders.
    let pages = dir.join("pages");
    assert_eq!(
        dnspect(&["man", "--dir", pages.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    for p in [
        "dnspect.1",
        "dnspect-serve.1",
        "dnspect-web.1",
        "dnspect-check-config.1",
    ] {
        let r = run(
            Command::new("man").arg("-l").arg(pages.join(p)),
            Duration::from_secs(30),
        );
        assert!(
            r.status.success() && text(&r.stdout).contains("dnspect"),
            "{p}: {r:?}"
        );
    }
    let serve_page = plain(&text(
        &run(
            Command::new("man")
                .arg("-l")
                .arg(pages.join("dnspect-serve.1")),
            Duration::from_secs(30),
        )
        .stdout,
    ));
    assert!(serve_page.contains("--allow"), "{serve_page}");
    // bash: the script parses, and completing `dnspect se` offers serve, `dnspect serve --al`
    // offers --allow.
    let script = dnspect(&["completions", "bash"]);
    let file = dir.join("dnspect.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let n = run(
        Command::new("bash").arg("-n").arg(&file),
        Duration::from_secs(10),
    );
    assert!(n.status.success(), "{n:?}");
    let complete = |words: &str| {
        let cmd = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; _dnspect dnspect \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; echo \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        text(
            &run(
                Command::new("bash").args(["-c", &cmd]),
                Duration::from_secs(10),
            )
            .stdout,
        )
    };
    assert!(
        complete("dnspect se")
            .split_whitespace()
            .any(|w| w == "serve"),
        "{}",
        complete("dnspect se")
    );
    assert!(
        complete("dnspect serve --al")
            .split_whitespace()
            .any(|w| w == "--allow"),
        "{}",
        complete("dnspect serve --al")
    );
    // Every other shell gets a script naming the binary.
    for sh in ["zsh", "fish", "elvish", "powershell"] {
        let out = dnspect(&["completions", sh]);
        assert!(
            out.status.success() && text(&out.stdout).contains("dnspect"),
            "{sh}: {out:?}"
        );
    }
    assert_eq!(dnspect(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn version_names_the_commit() {
    let out = dnspect(&["--version"]);
    let v = text(&out.stdout);
    assert!(v.starts_with("dnspect 0."), "{v}");
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::null())
        .output();
    match head {
        Ok(h) if h.status.success() => {
            let c = text(&h.stdout).trim().to_string();
            assert!(v.contains(&format!("(commit {c}")), "{v} vs HEAD {c}");
        }
        // Not a git checkout: the binary says so instead of failing to build.
        _ => assert!(v.contains("commit unknown"), "{v}"),
    }
}

/// A hosts file over `hosts_max_size` is a configuration error naming the file, the limit and
/// the config line that lists it (exit 78), not a file read whole into memory.
#[test]
fn a_hosts_file_over_its_size_limit_is_a_config_error() {
    let dir = temp_dir("cli-hosts-max");
    let hosts = dir.join("big.hosts");
    let mut lines = String::new();
    for i in 0..200 {
        lines.push_str(&format!("10.0.{}.{} host{i}.lab\n", i / 250, i % 250));
    }
    std::fs::write(&hosts, &lines).unwrap();
    let f = dir.join("dnspect.toml");
    let check = |limit: &str| {
        let conf = format!(
            "upstreams = [\"127.0.0.1:53\"]\nhosts = [{:?}]\nhosts_max_size = \"{limit}\"\n",
            hosts.display().to_string()
        );
        std::fs::write(&f, conf).unwrap();
        dnspect(&["check-config", f.to_str().unwrap()])
    };
    let out = check("1KiB");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert!(err.contains("hosts[0]") && err.contains("line 2"), "{err}");
    assert!(err.contains("larger than hosts_max_size (1KiB)"), "{err}");
    // With room for it, the same file is fine.
    let out = check("1MiB");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}
