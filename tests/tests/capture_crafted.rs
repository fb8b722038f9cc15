//! `dnspect capture` on crafted captures for what loopback traffic does not show: IPv4 and IPv6
//! fragments (out of order), DNS over TCP split across segments and packed several to a
//! segment (with a retransmission), VLAN tags, Linux cooked v2, big-endian pcap; the seed
//! incidents (an uncompressed answer over 512 B to a query without EDNS, a name flapping to
//! NODATA); cut and corrupt files. Message counts are cross-checked against tshark on the same
//! files.
#![allow(clippy::unwrap_used)]
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dnspect_core::wire::{Edns, Message, Name, Question, RType, Rcode, Record};
use dnspect_tests::*;

const CLIENT: [u8; 4] = [192, 0, 2, 10];
const SERVER: [u8; 4] = [192, 0, 2, 53];

fn query(id: u16, name: &str, edns: bool) -> Message {
    let mut m = Message::default();
    m.header.id = id;
    m.header.rd = true;
    m.questions.push(Question {
        name: name.parse::<Name>().unwrap(),
        qtype: RType::TXT,
        class: dnspect_core::wire::Class::IN,
    });
    if edns {
        m.edns = Some(Edns::new(4096));
    }
    m
}

fn answer(q: &Message, records: usize, rcode: Rcode, soa: bool) -> Message {
    let mut m = q.clone();
    m.header.qr = true;
    m.header.ra = true;
    m.set_rcode(rcode);
    let name = q.questions[0].name.to_string();
    for i in 0..records {
        m.answers.push(
            Record::from_text(&format!("{name} 300 IN TXT \"{}-{i}\"", "y".repeat(60))).unwrap(),
        );
    }
    if soa {
        m.authority.push(
            Record::from_text(
                "example.test. 300 IN SOA ns.example.test. host.example.test. 1 3600 600 86400 30",
            )
            .unwrap(),
        );
    }
    m
}

fn wire(m: &Message) -> Vec<u8> {
    m.to_wire().unwrap()
}

/// A pcap (little- or big-endian) of frames with a link type.
fn pcap(linktype: u32, big_endian: bool, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut f = Vec::new();
    f.extend_from_slice(&w32(0xa1b2_c3d4));
    f.extend_from_slice(&w16(2));
    f.extend_from_slice(&w16(4));
    f.extend_from_slice(&w32(0));
    f.extend_from_slice(&w32(0));
    f.extend_from_slice(&w32(262_144));
    f.extend_from_slice(&w32(linktype));
    for (t_us, data) in frames {
        f.extend_from_slice(&w32((t_us / 1_000_000) as u32));
        f.extend_from_slice(&w32((t_us % 1_000_000) as u32));
        f.extend_from_slice(&w32(data.len() as u32));
        f.extend_from_slice(&w32(data.len() as u32));
        f.extend_from_slice(data);
    }
    f
}

fn ethernet(vlan: bool, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    if vlan {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn sll2(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = ethertype.to_be_bytes().to_vec();
    // reserved, interface index, ARPHRD_ETHER, packet type, address length, address (8)
    f.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    f.extend_from_slice(payload);
    f
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = sport.to_be_bytes().to_vec();
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn tcp(sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = sport.to_be_bytes().to_vec();
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&[0x50, flags | 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

/// IPv4 packets carrying `l4` (fragmented into pieces of at most `mtu` payload bytes).
fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, l4: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let step = mtu / 8 * 8;
    let mut off = 0;
    while off < l4.len() || (off == 0 && l4.is_empty()) {
        let end = (off + step).min(l4.len());
        let more = end < l4.len();
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&((20 + end - off) as u16).to_be_bytes());
        h.extend_from_slice(&id.to_be_bytes());
        let frag = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
        h.extend_from_slice(&frag.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0]);
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        h.extend_from_slice(&l4[off..end]);
        out.push(h);
        off = end;
        if !more {
            break;
        }
    }
    out
}

/// IPv6 packets carrying `l4`, with a fragment header when it needs more than one.
fn ipv6(src: u16, dst: u16, proto: u8, ident: u32, l4: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let addr = |last: u16| {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[2] = 0x0d;
        a[3] = 0xb8;
        a[14..].copy_from_slice(&last.to_be_bytes());
        a
    };
    let head = |len: usize, next: u8| {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&(len as u16).to_be_bytes());
        h.extend_from_slice(&[next, 64]);
        h.extend_from_slice(&addr(src));
        h.extend_from_slice(&addr(dst));
        h
    };
    if l4.len() <= mtu {
        let mut p = head(l4.len(), proto);
        p.extend_from_slice(l4);
        return vec![p];
    }
    let step = mtu / 8 * 8;
    let mut out = Vec::new();
    let mut off = 0;
    while off < l4.len() {
        let end = (off + step).min(l4.len());
        let more = end < l4.len();
        let mut p = head(8 + end - off, 44);
        p.extend_from_slice(&[proto, 0]);
        p.extend_from_slice(&((off as u16) | u16::from(more)).to_be_bytes());
        p.extend_from_slice(&ident.to_be_bytes());
        p.extend_from_slice(&l4[off..end]);
        out.push(p);
        off = end;
    }
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn capture_json(file: &Path, extra: &[&str]) -> (Vec<serde_json::Value>, String, i32) {
    let out = run(
        Command::new(dnspect_bin())
            .arg("capture")
            .arg("--json")
            .args(extra)
            .arg(file),
        Duration::from_secs(60),
    );
    let rows = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        rows,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn report(file: &Path) -> serde_json::Value {
    let out = run(
        Command::new(dnspect_bin())
            .args(["capture", "--report", "--json"])
            .arg(file),
        Duration::from_secs(60),
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// tshark's DNS messages: (frame, id) per message, tshark reassembling IP and TCP itself.
fn tshark_ids(file: &Path) -> Vec<(u64, u16)> {
    let out = run(
        Command::new(require("tshark"))
            .arg("-r")
            .arg(file)
            .args([
                "-n",
                "-Y",
                "dns",
                "-T",
                "fields",
                "-E",
                "occurrence=a",
                "-E",
                "aggregator=;",
            ])
            .args(["-e", "frame.number", "-e", "dns.id"]),
        Duration::from_secs(60),
    );
    let mut v = Vec::new();
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let (frame, ids) = l.split_once('\t').unwrap();
        for id in ids.split(';') {
            v.push((
                frame.parse().unwrap(),
                u16::from_str_radix(id.trim_start_matches("0x"), 16).unwrap(),
            ));
        }
    }
    v.sort();
    v
}

fn ours(rows: &[serde_json::Value]) -> Vec<(u64, u16)> {
    let mut v: Vec<(u64, u16)> = rows
        .iter()
        .map(|r| {
            (
                r["frame"].as_u64().unwrap(),
                r["id"].as_u64().unwrap() as u16,
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn fragments_split_tcp_vlan_and_cooked_v2_read_as_tshark_reads_them() {
    let dir = temp_dir("capture-crafted");
    let mut frames: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut t = 1_700_000_000_000_000u64;
    let mut push = |frames: &mut Vec<(u64, Vec<u8>)>, f: Vec<u8>| {
        t += 1000;
        frames.push((t, f));
    };
    // 1. IPv4 over a VLAN: a query and a 3000-byte answer in 3 fragments, the last one first.
    let q1 = query(0x1111, "frag4.example.test", true);
    let a1 = wire(&answer(&q1, 40, Rcode::NOERROR, false));
    assert!(a1.len() > 2800);
    for p in ipv4(CLIENT, SERVER, 17, 7, &udp(40000, 53, &wire(&q1)), 1480) {
        push(&mut frames, ethernet(true, 0x0800, &p));
    }
    let mut frags = ipv4(SERVER, CLIENT, 17, 8, &udp(53, 40000, &a1), 1480);
    assert_eq!(frags.len(), 3);
    frags.rotate_right(1);
    for p in frags {
        push(&mut frames, ethernet(true, 0x0800, &p));
    }
    // 2. IPv6: the same over a fragment header.
    let q2 = query(0x2222, "frag6.example.test", true);
    let a2 = wire(&answer(&q2, 40, Rcode::NOERROR, false));
    for p in ipv6(10, 53, 17, 99, &udp(40001, 53, &wire(&q2)), 1232) {
        push(&mut frames, ethernet(false, 0x86dd, &p));
    }
    for p in ipv6(53, 10, 17, 100, &udp(53, 40001, &a2), 1232) {
        push(&mut frames, ethernet(false, 0x86dd, &p));
    }
    // 3. TCP: two queries in one segment; the first answer split over three segments (one
    // sent twice), the second answer in the segment that ends the first.
    let q3 = query(0x3333, "tcp-a.example.test", false);
    let q4 = query(0x4444, "tcp-b.example.test", false);
    let frame = |m: &[u8]| {
        let mut f = (m.len() as u16).to_be_bytes().to_vec();
        f.extend_from_slice(m);
        f
    };
    let tcp_pkt = |src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, seq: u32, flags: u8, p: &[u8]| {
        ethernet(
            false,
            0x0800,
            &ipv4(src, dst, 6, 1, &tcp(sp, dp, seq, flags, p), 65000).remove(0),
        )
    };
    push(
        &mut frames,
        tcp_pkt(CLIENT, SERVER, 40002, 53, 1000, 0x02, &[]),
    );
    push(
        &mut frames,
        tcp_pkt(SERVER, CLIENT, 53, 40002, 5000, 0x02, &[]),
    );
    let mut both = frame(&wire(&q3));
    both.extend_from_slice(&frame(&wire(&q4)));
    push(
        &mut frames,
        tcp_pkt(CLIENT, SERVER, 40002, 53, 1001, 0x08, &both),
    );
    let stream = [
        frame(&wire(&answer(&q3, 3, Rcode::NOERROR, false))),
        frame(&wire(&answer(&q4, 1, Rcode::NOERROR, false))),
    ]
    .concat();
    let first_len = frame(&wire(&answer(&q3, 3, Rcode::NOERROR, false))).len();
    let cuts = [0, 1, 150, first_len + 5, stream.len()];
    for w in cuts.windows(2) {
        let seg = &stream[w[0]..w[1]];
        push(
            &mut frames,
            tcp_pkt(SERVER, CLIENT, 53, 40002, 5001 + w[0] as u32, 0x08, seg),
        );
        if w[0] == 1 {
            // a retransmission of the same bytes
            push(
                &mut frames,
                tcp_pkt(SERVER, CLIENT, 53, 40002, 5001 + w[0] as u32, 0x08, seg),
            );
        }
    }
    let file = write(&dir, "crafted.pcap", &pcap(1, false, &frames));
    let (rows, err, code) = capture_json(&file, &[]);
    assert_eq!(code, 0, "{err}");
    let ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(
        ids,
        [0x1111, 0x1111, 0x2222, 0x2222, 0x3333, 0x4444, 0x3333, 0x4444],
        "{rows:?}"
    );
    assert_eq!(rows[1]["size"], a1.len());
    assert_eq!(rows[3]["size"], a2.len());
    assert_eq!(rows[1]["answers"], 40);
    assert_eq!(rows[6]["transport"], "tcp");
    assert_eq!(rows[6]["answers"], 3);
    // The split answer ends 5 bytes into the segment whose rest starts the next answer.
    assert_eq!(
        rows[6]["frame"].as_u64().unwrap() + 1,
        rows[7]["frame"].as_u64().unwrap()
    );
    assert_eq!(
        ours(&rows),
        tshark_ids(&file),
        "dnspect and tshark differ on {}",
        file.display()
    );
    let r = report(&file);
    assert_eq!(r["skipped"]["reassembled"], 2, "{r}");
    assert_eq!(r["skipped"]["tcp_retransmissions"], 1, "{r}");
    assert_eq!(r["servers"].as_array().unwrap().len(), 2, "{r}");

    // The same messages over Linux cooked v2, big-endian pcap: same rows.
    let cooked: Vec<(u64, Vec<u8>)> = frames
        .iter()
        .map(|(t, f)| {
            let (ethertype, at) = if f[12] == 0x81 {
                (u16::from_be_bytes([f[16], f[17]]), 18)
            } else {
                (u16::from_be_bytes([f[12], f[13]]), 14)
            };
            (*t, sll2(ethertype, &f[at..]))
        })
        .collect();
    let file2 = write(&dir, "cooked.pcap", &pcap(276, true, &cooked));
    let (rows2, err, code) = capture_json(&file2, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(ours(&rows2), ours(&rows));
    assert_eq!(ours(&rows2), tshark_ids(&file2));

    // Cut in the middle of the last record: everything before it, then the offset.
    let whole = pcap(1, false, &frames);
    let cut = &whole[..whole.len() - 10];
    let file3 = write(&dir, "cut.pcap", cut);
    let (rows3, err, code) = capture_json(&file3, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(rows3.len(), 7, "{rows3:?}");
    let last_record = whole.len() - (16 + frames.last().unwrap().1.len());
    assert!(
        err.contains(&format!("at byte {last_record}: the capture is truncated")),
        "{err}"
    );
    // A corrupt record length.
    let mut bad = whole.clone();
    let second = 24 + 16 + frames[0].1.len();
    bad[second + 8..second + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let file4 = write(&dir, "bad.pcap", &bad);
    let (rows4, err, code) = capture_json(&file4, &[]);
    assert_eq!(code, 1);
    assert_eq!(rows4.len(), 1);
    assert!(
        err.contains(&format!(
            "at byte {second}: a pcap record of 2147483647 bytes"
        )),
        "{err}"
    );
    // Not a capture at all.
    let file5 = write(&dir, "text.pcap", b"hello, this is not a capture\n");
    let (_, err, code) = capture_json(&file5, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("at byte 0: not a pcap or pcapng file"),
        "{err}"
    );
    // decode --binary on a capture says what it is instead of decoding the header as DNS.
    let out = run(
        Command::new(dnspect_bin())
            .args(["decode", "--binary", "--file"])
            .arg(&file),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pcap capture file"),
        "{out:?}"
    );
}

#[test]
fn the_seed_incidents_show_in_the_report() {
    let dir = temp_dir("capture-seeds");
    let mut frames: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut t = 1_700_000_000_000_000u64;
    let mut udp_pair =
        |frames: &mut Vec<(u64, Vec<u8>)>, q: &Message, a: &[u8], port: u16, at: u64| {
            t = at;
            frames.push((
                t,
                ethernet(
                    false,
                    0x0800,
                    &ipv4(CLIENT, SERVER, 17, 1, &udp(port, 53, &wire(q)), 65000).remove(0),
                ),
            ));
            frames.push((
                t + 2_000,
                ethernet(
                    false,
                    0x0800,
                    &ipv4(SERVER, CLIENT, 17, 2, &udp(53, port, a), 65000).remove(0),
                ),
            ));
        };
    let base = 1_700_000_000_000_000u64;
    // Incident 000: a 10-record answer written without compression, over 512 B, to a query
    // without EDNS.
    let q = query(100, "big.example.test", false);
    let a = answer(&q, 10, Rcode::NOERROR, false)
        .to_wire_uncompressed()
        .unwrap();
    assert!(a.len() > 512);
    udp_pair(&mut frames, &q, &a, 41000, base);
    // Incident 004: answer, NODATA (SOA minimum 30), answer again, 10 s apart.
    for (i, (records, soa)) in [(2, false), (0, true), (2, false)].into_iter().enumerate() {
        let q = query(200 + i as u16, "flap.example.test", true);
        let a = wire(&answer(&q, records, Rcode::NOERROR, soa));
        udp_pair(
            &mut frames,
            &q,
            &a,
            41001 + i as u16,
            base + 10_000_000 * (i as u64 + 1),
        );
    }
    // A query never answered, then its retry (same ID, as dig retries), also unanswered: one
    // question unanswered, one retry.
    for i in 0..2u64 {
        let q = query(300, "silent.example.test", true);
        frames.push((
            base + 50_000_000 + i * 1_000_000,
            ethernet(
                false,
                0x0800,
                &ipv4(CLIENT, SERVER, 17, 3, &udp(41010, 53, &wire(&q)), 65000).remove(0),
            ),
        ));
    }
    let file = write(&dir, "seeds.pcap", &pcap(1, false, &frames));
    let r = report(&file);
    let s = &r["servers"][0];
    assert_eq!(s["server"], "192.0.2.53:53", "{r}");
    assert_eq!(s["uncompressed"], 1, "{s}");
    assert!(s["uncompressed_bytes_lost"].as_u64().unwrap() > 100, "{s}");
    assert_eq!(s["over_512_without_edns"], 1, "{s}");
    assert_eq!(s["flaps_total"], 1, "{s}");
    assert_eq!(s["flaps"][0]["name"], "flap.example.test.", "{s}");
    assert_eq!(s["flaps"][0]["failure"], "NODATA", "{s}");
    assert_eq!(s["flaps"][0]["negative_ttl"], 30, "{s}");
    assert_eq!(s["negative"], 1, "{s}");
    assert_eq!(s["unanswered"], 1, "{s}");
    assert_eq!(s["retries"], 1, "{s}");
    assert_eq!(s["latency"]["count"], 4, "{s}");
    let (rows, _, _) = capture_json(&file, &["--name", "flap.example.test"]);
    assert_eq!(rows.len(), 6);
    assert!(
        rows[5]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("flap:"),
        "{rows:?}"
    );
    let (rows, _, _) = capture_json(&file, &["--server", "192.0.2.53"]);
    assert_eq!(rows.len(), 10);
    let (rows, _, _) = capture_json(&file, &["--server", "192.0.2.53:5353"]);
    assert_eq!(rows.len(), 0);
    let (_, err, code) = capture_json(&file, &["--server", "nowhere"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("server: \"nowhere\" is not an address"),
        "{err}"
    );
    let (rows, _, _) = capture_json(&file, &["--rcode", "NOERROR", "--name", "big.example.test"]);
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0]["warnings"].to_string().contains("without EDNS"),
        "{rows:?}"
    );
    // The replay: dnspect's engine in front of these answers.
    let out = run(
        Command::new(dnspect_bin())
            .args(["capture", "--replay"])
            .arg(&file),
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("replay: 4 client queries"), "{text}");
    assert!(text.contains("flap.example.test"), "{text}");
    // What dnspect's engine did with those answers: the 944-byte answer reached the client
    // without EDNS as TC and then over TCP (never as 944 B over UDP, never SERVFAIL), and the
    // NODATA in the middle of the flap never reached it (the cached answer did).
    let out = run(
        Command::new(dnspect_bin())
            .args(["capture", "--replay", "--json"])
            .arg(&file),
        Duration::from_secs(60),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{v}");
    assert!(
        rows[0]["dnspect"]
            .as_str()
            .unwrap()
            .starts_with("NOERROR an=10"),
        "{}",
        rows[0]
    );
    assert!(
        rows[0]["dnspect"].as_str().unwrap().ends_with("over TCP"),
        "{}",
        rows[0]
    );
    assert_eq!(rows[2]["captured"]["answers"], 0, "{}", rows[2]);
    assert!(
        rows[2]["dnspect"]
            .as_str()
            .unwrap()
            .starts_with("NOERROR an=2"),
        "{}",
        rows[2]
    );
    assert_eq!(rows[2]["differs"], true);
    assert_eq!(v["scenario"]["queries"].as_array().unwrap().len(), 4);
}
