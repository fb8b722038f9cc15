//! Paste fixtures (tests/data/paste, made by generate.py there from the seed messages with real
//! xxd, od, hexdump and base64, and faithful tcpdump/Wireshark renderers): every one decodes to the
//! seed message, in the right format, with the right headers stripped.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use dnspect_core::wire::capture::paste::{from_binary, parse_paste, LayerKind, PasteFormat};
use LayerKind::*;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/paste")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn compressed() -> Vec<u8> {
    read("dns-compressed.bin")
}

/// (fixture, format, stripped layers, the message it holds)
const TEXT: &[(&str, PasteFormat, &[LayerKind], &str)] = &[
    (
        "ipv4-udp.tcpdump-X.txt",
        PasteFormat::TcpdumpX,
        &[Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "ipv4-udp.tcpdump-x.txt",
        PasteFormat::TcpdumpX,
        &[Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "ipv4-tcp.tcpdump-X.txt",
        PasteFormat::TcpdumpX,
        &[Ipv4, Tcp, TcpLengthPrefix],
        "dns-uncompressed.bin",
    ),
    (
        "ipv4-options-udp.tcpdump-X.txt",
        PasteFormat::TcpdumpX,
        &[Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "eth-ipv4-udp.tcpdump-XX.txt",
        PasteFormat::TcpdumpX,
        &[Ethernet, Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "eth-vlan-ipv4-udp.tcpdump-xx.txt",
        PasteFormat::TcpdumpX,
        &[Ethernet, Vlan, Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "sll-ipv4-udp.tcpdump-xx.txt",
        PasteFormat::TcpdumpX,
        &[LinuxSll, Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "sll2-ipv6-udp.tcpdump-XX.txt",
        PasteFormat::TcpdumpX,
        &[LinuxSll, Ipv6, Udp],
        "dns-compressed.bin",
    ),
    (
        "ipv6-hbh-udp.tcpdump-X.txt",
        PasteFormat::TcpdumpX,
        &[Ipv6, Udp],
        "dns-compressed.bin",
    ),
    ("dns.xxd.txt", PasteFormat::Xxd, &[], "dns-compressed.bin"),
    (
        "dns.xxd-g1.txt",
        PasteFormat::Xxd,
        &[],
        "dns-compressed.bin",
    ),
    ("dns.xxd-p.txt", PasteFormat::Xxd, &[], "dns-compressed.bin"),
    ("dns.xxd-e.txt", PasteFormat::Xxd, &[], "dns-compressed.bin"),
    ("dns.xxd-i.txt", PasteFormat::Hex, &[], "dns-compressed.bin"),
    (
        "ipv6-udp.xxd.txt",
        PasteFormat::Xxd,
        &[Ipv6, Udp],
        "dns-compressed.bin",
    ),
    (
        "eth-ipv6-tcp.xxd.txt",
        PasteFormat::Xxd,
        &[Ethernet, Ipv6, Tcp, TcpLengthPrefix],
        "dns-compressed.bin",
    ),
    ("dns.od-x.txt", PasteFormat::Od, &[], "dns-compressed.bin"),
    (
        "dns-uncompressed.od-x.txt",
        PasteFormat::Od,
        &[],
        "dns-uncompressed.bin",
    ),
    (
        "dns.od-Ax-tx1z.txt",
        PasteFormat::Od,
        &[],
        "dns-compressed.bin",
    ),
    ("dns.od-tx1.txt", PasteFormat::Od, &[], "dns-compressed.bin"),
    (
        "dns.od-Ad-tx1.txt",
        PasteFormat::Od,
        &[],
        "dns-compressed.bin",
    ),
    (
        "ipv4-udp.od-x.txt",
        PasteFormat::Od,
        &[Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "dns.hexdump.txt",
        PasteFormat::Od,
        &[],
        "dns-compressed.bin",
    ),
    (
        "dns.hexdump-C.txt",
        PasteFormat::HexDump,
        &[],
        "dns-compressed.bin",
    ),
    (
        "eth-ipv4-udp.hexdump-C.txt",
        PasteFormat::HexDump,
        &[Ethernet, Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "eth-ipv4-udp.wireshark-dump.txt",
        PasteFormat::HexDump,
        &[Ethernet, Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "eth-ipv6-tcp.tshark-x.txt",
        PasteFormat::HexDump,
        &[Ethernet, Ipv6, Tcp, TcpLengthPrefix],
        "dns-compressed.bin",
    ),
    (
        "eth-ipv4-udp.wireshark-stream.txt",
        PasteFormat::HexStream,
        &[Ethernet, Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "dns.wireshark-stream.txt",
        PasteFormat::HexStream,
        &[],
        "dns-compressed.bin",
    ),
    (
        "dns.spaced.txt",
        PasteFormat::Hex,
        &[],
        "dns-compressed.bin",
    ),
    (
        "tcp-prefix.hex.txt",
        PasteFormat::HexStream,
        &[TcpLengthPrefix],
        "dns-uncompressed.bin",
    ),
    (
        "dns.base64.txt",
        PasteFormat::Base64,
        &[],
        "dns-compressed.bin",
    ),
    (
        "dns-uncompressed.base64url.txt",
        PasteFormat::Base64Url,
        &[],
        "dns-uncompressed.bin",
    ),
    (
        "dns.doh-url.txt",
        PasteFormat::Base64Url,
        &[],
        "dns-compressed.bin",
    ),
    (
        "eth-ipv4-udp.base64.txt",
        PasteFormat::Base64,
        &[Ethernet, Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "null-record.od-x.txt",
        PasteFormat::Od,
        &[],
        "null-record.bin",
    ),
    (
        "null-record.xxd-a.txt",
        PasteFormat::Xxd,
        &[],
        "null-record.bin",
    ),
    (
        "null-record.hexdump-C.txt",
        PasteFormat::HexDump,
        &[],
        "null-record.bin",
    ),
];

/// (fixture, stripped layers, the message it holds)
const BINARY: &[(&str, &[LayerKind], &str)] = &[
    ("dns-compressed.bin", &[], "dns-compressed.bin"),
    ("dns-uncompressed.bin", &[], "dns-uncompressed.bin"),
    ("ipv4-udp.bin", &[Ipv4, Udp], "dns-compressed.bin"),
    (
        "ipv4-udp-uncompressed.bin",
        &[Ipv4, Udp],
        "dns-uncompressed.bin",
    ),
    (
        "ipv4-tcp.bin",
        &[Ipv4, Tcp, TcpLengthPrefix],
        "dns-uncompressed.bin",
    ),
    ("ipv4-options-udp.bin", &[Ipv4, Udp], "dns-compressed.bin"),
    ("ipv6-udp.bin", &[Ipv6, Udp], "dns-compressed.bin"),
    ("ipv6-hbh-udp.bin", &[Ipv6, Udp], "dns-compressed.bin"),
    (
        "eth-ipv4-udp.bin",
        &[Ethernet, Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "eth-vlan-ipv4-udp.bin",
        &[Ethernet, Vlan, Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "eth-ipv6-tcp.bin",
        &[Ethernet, Ipv6, Tcp, TcpLengthPrefix],
        "dns-compressed.bin",
    ),
    (
        "sll-ipv4-udp.bin",
        &[LinuxSll, Ipv4, Udp],
        "dns-compressed.bin",
    ),
    (
        "sll2-ipv6-udp.bin",
        &[LinuxSll, Ipv6, Udp],
        "dns-compressed.bin",
    ),
    ("tcp-prefix.bin", &[TcpLengthPrefix], "dns-uncompressed.bin"),
    ("null-record.bin", &[], "null-record.bin"),
];

#[test]
fn every_text_fixture_decodes_to_the_seed() {
    for &(name, format, layers, message) in TEXT {
        let text = String::from_utf8(read(name)).unwrap();
        let paste = parse_paste(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = read(message);
        assert_eq!(paste.format, format, "{name}");
        let kinds: Vec<LayerKind> = paste.layers.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, layers, "{name}: {:#?}", paste.layers);
        assert_eq!(paste.bytes, want, "{name}");
        let headers: usize = paste.layers.iter().map(|l| l.len).sum();
        assert_eq!(paste.raw_len, headers + want.len(), "{name}");
    }
}

#[test]
fn every_binary_fixture_strips_to_the_seed() {
    for &(name, layers, message) in BINARY {
        let raw = read(name);
        let paste = from_binary(&raw);
        let want = read(message);
        assert_eq!(paste.format, PasteFormat::Binary);
        let kinds: Vec<LayerKind> = paste.layers.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, layers, "{name}: {:#?}", paste.layers);
        assert_eq!(paste.bytes, want, "{name}");
        assert_eq!(paste.raw_len, raw.len());
        // Layers tile the raw bytes in front of the message, in order.
        let mut at = 0;
        for l in &paste.layers {
            assert_eq!(l.offset, at, "{name}: {:#?}", paste.layers);
            at += l.len;
        }
        assert_eq!(&raw[at..], &want[..], "{name}");
    }
}

#[test]
fn text_and_binary_agree_on_summaries() {
    let text = String::from_utf8(read("eth-ipv4-udp.tcpdump-XX.txt")).unwrap();
    let from_text = parse_paste(&text).unwrap();
    let from_wire = from_binary(&read("eth-ipv4-udp.bin"));
    assert_eq!(from_text.layers, from_wire.layers);
    let summaries: Vec<&str> = from_wire
        .layers
        .iter()
        .map(|l| l.summary.as_str())
        .collect();
    assert_eq!(
        summaries,
        [
            "Ethernet 02:00:00:c0:02:01 -> 02:00:00:5e:00:53, IPv4",
            "IPv4 192.0.2.1 -> 10.0.0.53, UDP",
            "UDP 53 -> 41234, length 366",
        ]
    );
}

#[test]
fn paste_serializes_in_snake_case() {
    let paste = from_binary(&read("ipv4-tcp.bin"));
    let json = serde_json::to_value(&paste).unwrap();
    assert_eq!(json["format"], "binary");
    assert_eq!(json["layers"][2]["kind"], "tcp_length_prefix");
    assert_eq!(json["layers"][2]["summary"], "TCP length prefix 758");
    assert_eq!(json["raw_len"], 20 + 32 + 2 + 758);
}

#[test]
fn crlf_and_indentation_do_not_matter() {
    let text = String::from_utf8(read("dns.xxd.txt")).unwrap();
    let crlf: String = text.lines().map(|l| format!("    {l}\r\n")).collect();
    let paste = parse_paste(&crlf).unwrap();
    assert_eq!(paste.format, PasteFormat::Xxd);
    assert_eq!(paste.bytes, compressed());
}
