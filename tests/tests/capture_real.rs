//! `dnspect capture` on captures of real traffic: tcpdump (pcap) and dumpcap (pcapng) record
//! dig and kdig asking `dnspect serve` in front of NSD on loopback; the messages dnspect reads
//! are cross-checked against tshark on the same files, and the report against what the test
//! asked for (TC and the TCP retry, NXDOMAIN, NODATA, EDNS and not).
//!
//! Capturing needs CAP_NET_RAW: the test runs as root here and in CI (CI runs .ci/run as root).
#![allow(clippy::unwrap_used)]
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dnspect_tests::*;

fn zone() -> String {
    let mut z = String::from("$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns.example.test. host.example.test. 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n");
    for i in 0..20 {
        let _ = writeln!(z, "h{i} IN A 10.0.0.{i}");
    }
    z.push_str("onlytxt IN TXT \"no address here\"\n");
    for i in 0..30 {
        let _ = writeln!(z, "big IN TXT \"{}-{i}\"", "x".repeat(40));
    }
    z
}

/// A packet recorder (tcpdump or dumpcap) on lo, stopped by PID with SIGINT.
struct Recorder {
    proc: Proc,
    file: PathBuf,
}

impl Recorder {
    fn start(tool: &str, dir: &Path, file: &str, filter: &str) -> Recorder {
        let path = dir.join(file);
        let log = dir.join(format!("{tool}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(require(tool));
        if tool == "tcpdump" {
            cmd.args(["-i", "lo", "-U", "--immediate-mode", "-n", "-w"])
                .arg(&path)
                .arg(filter);
        } else {
            cmd.args(["-i", "lo", "-q", "-f", filter, "-w"]).arg(&path);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {tool}: {e}"));
        let proc = Proc {
            child,
            name: tool.into(),
            log,
        };
        // Ready once the file has its header (and the filter is attached).
        let until = Instant::now() + Duration::from_secs(20);
        while std::fs::metadata(&path).map_or(0, |m| m.len()) < 24 {
            assert!(
                Instant::now() < until,
                "{tool} did not start capturing (needs CAP_NET_RAW): {}",
                proc.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        Recorder { proc, file: path }
    }

    fn stop(mut self) -> PathBuf {
        std::thread::sleep(Duration::from_millis(500));
        self.proc.signal("INT");
        assert!(
            self.proc.wait_exit(Duration::from_secs(20)).is_some(),
            "{} did not stop",
            self.proc.name
        );
        self.file.clone()
    }
}

/// One DNS message as both tools see it: (frame, id, response, name, rcode-of-responses).
type Row = (u64, u16, bool, String, String);

fn dnspect_rows(file: &Path, ports: &[u16]) -> (Vec<Row>, Vec<serde_json::Value>) {
    let mut cmd = Command::new(dnspect_bin());
    cmd.arg("capture").arg("--json").arg(file);
    for p in ports {
        cmd.arg("--port").arg(p.to_string());
    }
    let out = run(&mut cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "dnspect capture: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let values: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let rows = values
        .iter()
        .map(|v| {
            let response = v["response"].as_bool().unwrap();
            (
                v["frame"].as_u64().unwrap(),
                v["id"].as_u64().unwrap() as u16,
                response,
                v["name"]
                    .as_str()
                    .unwrap_or("")
                    .trim_end_matches('.')
                    .to_lowercase(),
                if response {
                    v["rcode"].as_str().unwrap().to_string()
                } else {
                    String::new()
                },
            )
        })
        .collect();
    (rows, values)
}

fn rcode_name(n: &str) -> String {
    match n {
        "0" => "NOERROR",
        "1" => "FORMERR",
        "2" => "SERVFAIL",
        "3" => "NXDOMAIN",
        "5" => "REFUSED",
        other => other,
    }
    .to_string()
}

/// tshark's view of the same file: one row per DNS message (a frame carrying several TCP
/// messages lists each field once per message).
pub fn tshark_rows(file: &Path, ports: &[u16]) -> Vec<Row> {
    let mut cmd = Command::new(require("tshark"));
    cmd.arg("-r").arg(file).args(["-n", "-Y", "dns"]);
    for p in ports {
        cmd.arg("-d").arg(format!("udp.port=={p},dns"));
        cmd.arg("-d").arg(format!("tcp.port=={p},dns"));
    }
    cmd.args([
        "-o",
        "tcp.desegment_tcp_streams:TRUE",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=;",
        "-e",
        "frame.number",
        "-e",
        "dns.id",
        "-e",
        "dns.flags.response",
        "-e",
        "dns.qry.name",
        "-e",
        "dns.flags.rcode",
    ]);
    let out = run(&mut cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('|').collect();
        let frame: u64 = f[0].parse().unwrap();
        let ids: Vec<&str> = f[1].split(';').collect();
        let resp: Vec<&str> = f[2].split(';').collect();
        let names: Vec<&str> = f[3].split(';').collect();
        let mut rcodes = f
            .get(4)
            .map(|r| r.split(';').collect::<Vec<_>>())
            .unwrap_or_default();
        rcodes.retain(|r| !r.is_empty());
        let mut ri = 0;
        for (i, id) in ids.iter().enumerate() {
            let id = u16::from_str_radix(id.trim_start_matches("0x"), 16).unwrap();
            let response = matches!(resp[i], "1" | "True");
            let rcode = if response {
                ri += 1;
                rcode_name(rcodes.get(ri - 1).copied().unwrap_or(""))
            } else {
                String::new()
            };
            rows.push((
                frame,
                id,
                response,
                names.get(i).copied().unwrap_or("").to_lowercase(),
                rcode,
            ));
        }
    }
    rows
}

fn sorted(mut v: Vec<Row>) -> Vec<Row> {
    v.sort();
    v
}

#[test]
fn real_traffic_in_pcap_and_pcapng_reads_as_tshark_reads_it() {
    require("tcpdump");
    require("dumpcap");
    let dir = temp_dir("capture-real");
    let nsd_port = free_port();
    let _nsd = start_nsd(&dir, nsd_port, &[("example.test.", zone())]);
    let port = free_port();
    let _server = start_dnspect(&dir, &config(port, &[nsd_port], ""), port, &[]);
    let filter = format!("port {port} or port {nsd_port}");
    let tcpdump = Recorder::start("tcpdump", &dir, "real.pcap", &filter);
    let dumpcap = Recorder::start("dumpcap", &dir, "real.pcapng", &filter);

    // What the report must see: EDNS and not, TC then the TCP retry, NXDOMAIN, NODATA.
    for i in 0..5 {
        assert!(dig(port, &[&format!("h{i}.example.test"), "A"]).contains("NOERROR"));
    }
    assert!(dig(port, &["h5.example.test", "A", "+noedns"]).contains("NOERROR"));
    assert!(dig(port, &["h6.example.test", "A", "+tcp"]).contains("NOERROR"));
    assert!(kdig(port, &["h7.example.test", "A"]).contains("NOERROR"));
    assert!(kdig(port, &["h8.example.test", "A", "+tcp"]).contains("NOERROR"));
    // 30 x 45-byte TXT: over 512 B, so dnspect truncates it for a client without EDNS and
    // dig retries over TCP.
    let big = dig(port, &["big.example.test", "TXT", "+noedns"]);
    assert_eq!(answer_lines(&big).len(), 30, "{big}");
    assert!(dig(port, &["nothere.example.test", "A"]).contains("NXDOMAIN"));
    assert!(dig(port, &["onlytxt.example.test", "A"]).contains("NOERROR"));

    let pcap = tcpdump.stop();
    let pcapng = dumpcap.stop();
    let ports = [port, nsd_port];
    for (file, magic) in [
        (&pcap, &[0xd4u8, 0xc3, 0xb2, 0xa1][..]),
        (&pcapng, &[0x0a, 0x0d, 0x0d, 0x0a][..]),
    ] {
        let head = std::fs::read(file).unwrap();
        assert_eq!(
            &head[..4],
            magic,
            "{} is not the expected format",
            file.display()
        );
        let (ours, values) = dnspect_rows(file, &ports);
        let theirs = tshark_rows(file, &ports);
        // Every client exchange crosses loopback twice (client-dnspect, dnspect-NSD), and the
        // TC answer is followed by a TCP exchange: at least 2 messages per dig/kdig call.
        assert!(
            ours.len() >= 2 * 13,
            "{}: only {} messages",
            file.display(),
            ours.len()
        );
        assert_eq!(
            sorted(ours.clone()),
            sorted(theirs),
            "{}: dnspect and tshark differ",
            file.display()
        );
        let tcp = values.iter().filter(|v| v["transport"] == "tcp").count();
        assert!(tcp >= 4, "{}: {tcp} TCP messages", file.display());
        let tc = values
            .iter()
            .filter(|v| v["flags"].as_str().unwrap().contains("tc"))
            .count();
        assert!(tc >= 1, "no TC answer in {}", file.display());
    }

    // The report of the pcapng: the client side (dnspect as server) and the upstream (NSD).
    let out = run(
        Command::new(dnspect_bin())
            .args(["capture", "--report", "--json", "--port"])
            .arg(port.to_string())
            .arg("--port")
            .arg(nsd_port.to_string())
            .arg(&pcapng),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let servers = r["servers"].as_array().unwrap();
    let front = servers
        .iter()
        .find(|s| s["server"] == format!("127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("no row for dnspect: {r}"));
    assert_eq!(front["truncated"], 1, "{front}");
    assert_eq!(front["tc_retried_over_tcp"], 1, "{front}");
    assert_eq!(front["unanswered"], 0, "{front}");
    assert!(front["negative"].as_u64().unwrap() >= 2, "{front}");
    assert_eq!(front["negative_without_soa"], 0, "{front}");
    assert_eq!(front["over_512_without_edns"], 0, "{front}");
    assert_eq!(front["latency"]["count"], front["responses"], "{front}");
    assert!(front["edns_queries"].as_u64().unwrap() >= 8, "{front}");
    let nsd = servers
        .iter()
        .find(|s| s["server"] == format!("127.0.0.1:{nsd_port}"))
        .unwrap_or_else(|| panic!("no row for NSD: {r}"));
    assert!(nsd["queries"].as_u64().unwrap() >= 10, "{nsd}");
    assert_eq!(nsd["uncompressed"], 0, "{nsd}");

    // The text forms run too, and name the file's messages.
    let text = run(
        Command::new(dnspect_bin())
            .args(["capture", "--port"])
            .arg(port.to_string())
            .arg(&pcap),
        Duration::from_secs(60),
    );
    let text = String::from_utf8(text.stdout).unwrap();
    // dnspect's own truncated answer: AA cleared (it relays, it is not the authority) and RA
    // set (issue 12: RFC 1035 4.1.1).
    assert!(
        text.contains("big.example.test. TXT NOERROR an=0 [qr tc rd ra]"),
        "{text}"
    );

    // Keep copies for the core tests' fixtures when asked.
    if let Some(dest) = std::env::var_os("DNSPECT_SAVE_CAPTURES") {
        let dest = PathBuf::from(dest);
        std::fs::copy(&pcap, dest.join("real.pcap")).unwrap();
        std::fs::copy(&pcapng, dest.join("real.pcapng")).unwrap();
        let mut ports_file = BTreeMap::new();
        ports_file.insert("dnspect", port);
        ports_file.insert("nsd", nsd_port);
        std::fs::write(
            dest.join("real.ports.json"),
            serde_json::to_string(&ports_file).unwrap(),
        )
        .unwrap();
    }
}
