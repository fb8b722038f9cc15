//! The capture reader on the real captures in `tests/captures/` (tcpdump's pcap and dumpcap's
//! pcapng of dig and kdig through `dnspect serve` to NSD, recorded by
//! `tests/tests/capture_real.rs` with DNSPECT_SAVE_CAPTURES): the same messages and report
//! whatever the chunk sizes, and cut files give the byte offset and keep what came before.
#![allow(clippy::unwrap_used)]
use dnspect_core::pcap::{
    sniff, CaptureAnalyzer, CaptureMessage, CaptureOptions, CaptureReport, Format,
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/captures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn options() -> CaptureOptions {
    let ports: serde_json::Value = serde_json::from_slice(&fixture("real.ports.json")).unwrap();
    CaptureOptions {
        ports: vec![
            ports["dnspect"].as_u64().unwrap() as u16,
            ports["nsd"].as_u64().unwrap() as u16,
        ],
        ..CaptureOptions::default()
    }
}

fn read(bytes: &[u8], chunk: usize) -> (Vec<CaptureMessage>, CaptureReport, Option<String>) {
    let mut a = CaptureAnalyzer::new(options()).unwrap();
    let mut rows = Vec::new();
    let mut err = None;
    for c in bytes.chunks(chunk.max(1)) {
        if let Err(e) = a.feed(c, &mut |m, _| rows.push(m.clone())) {
            err = Some(e.to_string());
            break;
        }
    }
    if err.is_none() {
        err = a.finish().err().map(|e| e.to_string());
    }
    (rows, a.report(), err)
}

#[test]
fn chunk_sizes_do_not_change_what_is_read() {
    for (file, format) in [("real.pcap", Format::Pcap), ("real.pcapng", Format::Pcapng)] {
        let bytes = fixture(file);
        assert_eq!(sniff(&bytes), Some(format));
        let (rows, report, err) = read(&bytes, bytes.len());
        assert_eq!(err, None, "{file}");
        assert!(rows.len() >= 26, "{file}: {}", rows.len());
        assert_eq!(report.format, Some(format));
        assert_eq!(report.messages, rows.len() as u64);
        assert_eq!(report.queries + report.responses, report.messages);
        for chunk in [1, 3, 17, 4096] {
            let (r2, rep2, err2) = read(&bytes, chunk);
            assert_eq!(err2, None, "{file} chunk {chunk}");
            assert_eq!(r2, rows, "{file} chunk {chunk}");
            assert_eq!(rep2, report, "{file} chunk {chunk}");
        }
    }
}

#[test]
fn cut_files_name_the_offset_and_keep_what_came_before() {
    for file in ["real.pcap", "real.pcapng"] {
        let bytes = fixture(file);
        let (all, _, _) = read(&bytes, bytes.len());
        for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            let (rows, report, err) = read(&bytes[..cut], 1000);
            let err = err.unwrap_or_else(|| panic!("{file} cut at {cut}: no error"));
            assert!(err.contains("the capture is truncated"), "{err}");
            let at: u64 = err
                .trim_start_matches("at byte ")
                .split(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                at < cut as u64 && at == report.bytes,
                "{err} / {}",
                report.bytes
            );
            assert_eq!(
                rows[..],
                all[..rows.len()],
                "{file}: what was read before the cut changed"
            );
            assert!(!rows.is_empty());
        }
    }
    let (_, _, err) = read(&[], 10);
    assert_eq!(err.as_deref(), Some("at byte 0: the file is empty"));
    let (_, _, err) = read(&fixture("real.pcap")[..10], 10);
    assert_eq!(
        err.as_deref(),
        Some("at byte 0: the file ends inside the capture header (10 bytes)")
    );
    // A pcapng block whose length is not a multiple of 4.
    let mut ng = fixture("real.pcapng");
    ng[4] = 0x1d;
    let (_, _, err) = read(&ng, 4096);
    assert!(err
        .unwrap()
        .starts_with("at byte 0: a pcapng block with a bad length"));
}

#[test]
fn bad_options_name_the_field() {
    for (opts, field) in [
        (
            CaptureOptions {
                rcode: Some("NOPE".into()),
                ..CaptureOptions::default()
            },
            "rcode",
        ),
        (
            CaptureOptions {
                server: Some("not an address".into()),
                ..CaptureOptions::default()
            },
            "server",
        ),
        (
            CaptureOptions {
                name: Some("a..b".into()),
                ..CaptureOptions::default()
            },
            "name",
        ),
        (
            CaptureOptions {
                timeout_ms: 0,
                ..CaptureOptions::default()
            },
            "timeout_ms",
        ),
    ] {
        let e = CaptureAnalyzer::new(opts).unwrap_err();
        assert!(e.starts_with(field), "{e}");
    }
}

fn read_any(data: &[u8], chunk: usize) -> (Vec<(CaptureMessage, usize)>, CaptureReport) {
    let opts = CaptureOptions {
        ports: vec![],
        ..CaptureOptions::default()
    };
    let mut a = CaptureAnalyzer::new(opts).unwrap();
    a.keep_exchanges(100);
    let mut rows = Vec::new();
    let mut failed = false;
    for c in data.chunks(chunk.max(1)) {
        if a.feed(c, &mut |m, b| rows.push((m.clone(), b.len())))
            .is_err()
        {
            failed = true;
            break;
        }
    }
    if !failed {
        let _ = a.finish();
    }
    let _ = dnspect_core::pcap::replay::scenario(a.exchanges());
    (rows, a.report())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    /// The fuzz target `capture` (fuzz/fuzz_targets/capture.rs) as a property on the real
    /// captures with bytes changed and the end cut: no panic, the same result in any chunk size,
    /// errors inside the file at the point the report stopped.
    #[test]
    fn damaged_captures_never_panic_and_read_the_same_in_any_chunks(
        ng in proptest::bool::ANY,
        edits in proptest::collection::vec((0usize..20_000, proptest::num::u8::ANY), 0..12),
        keep in 0usize..20_000,
        chunk in 1usize..5000,
    ) {
        let mut data = fixture(if ng { "real.pcapng" } else { "real.pcap" });
        for (at, v) in edits {
            let n = data.len();
            data[at % n] = v;
        }
        data.truncate(keep.max(1).min(data.len()));
        let (rows, report) = read_any(&data, data.len());
        for (m, len) in &rows {
            proptest::prop_assert_eq!(m.size, *len);
        }
        if let Some(e) = &report.error {
            proptest::prop_assert!(e.offset <= data.len() as u64);
            proptest::prop_assert_eq!(e.offset, report.bytes);
        }
        let (rows2, report2) = read_any(&data, chunk);
        proptest::prop_assert_eq!(rows2, rows);
        proptest::prop_assert_eq!(report2, report);
    }
}

/// Found by the property above: one changed byte in a pcapng timestamp puts a response before
/// its query, and the report's latency (`response - query`) overflowed.
#[test]
fn a_response_stamped_before_its_query_does_not_panic() {
    let mut data = fixture("real.pcapng");
    let n = data.len();
    data[18903 % n] = 128;
    data.truncate(4824.min(n));
    let (rows, report) = read_any(&data, data.len());
    assert!(!rows.is_empty());
    assert_eq!(read_any(&data, 1).1, report);
}

/// The pcapng test files of python-pcapng 2.1.1 (`test_data/*.ntar`, Apache-2.0; in
/// `tests/captures/pcapng-suite/`): empty sections, interfaces without packets, options, an
/// obsolete packet block, several sections, big- and little-endian. dnspect reads each without
/// error, in any chunk size, except the three whose block length is not a multiple of 4 (the
/// pcapng draft: "MUST be a multiple of 4"; python-pcapng fails on them too, Wireshark reads
/// test006 leniently): those are errors at the byte where the bad block starts.
#[test]
fn the_python_pcapng_test_files_read_or_fail_at_the_bad_block() {
    let bad = [
        ("test006.ntar", "at byte 96"),
        ("test007.ntar", "at byte 96"),
        ("test010.ntar", "at byte 96"),
    ];
    let dir = format!("{}/tests/captures/pcapng-suite", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ntar"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 11, "{names:?}");
    for name in &names {
        let bytes = fixture(&format!("pcapng-suite/{name}"));
        assert_eq!(sniff(&bytes), Some(Format::Pcapng), "{name}");
        let want = bad.iter().find(|(n, _)| n == name).map(|(_, at)| *at);
        for chunk in [bytes.len(), 1, 7, 64] {
            let (rows, _, err) = read(&bytes, chunk);
            assert!(rows.is_empty(), "{name}: no DNS in these files");
            match (want, &err) {
                (None, None) => {}
                (Some(at), Some(e)) => {
                    assert!(e.contains(at) && e.contains("block"), "{name}: {e}")
                }
                _ => panic!("{name} chunk {chunk}: expected {want:?}, got {err:?}"),
            }
        }
    }
}

/// `knot-unbound.pcap`: tcpdump on loopback while dig 9.18 and kdig 3.2 asked Knot DNS 3.2
/// (port 53530, a signed zone, NSID, cookies, ECS) and Unbound 1.17 (port 53531); its messages
/// are also in `tests/data/real/knot-unbound-dig.txt`. Every frame is a DNS message read
/// without error and equal to the stored one, queries paired with answers, whatever the chunks.
#[test]
fn the_knot_and_unbound_capture_reads_every_message() {
    let bytes = fixture("knot-unbound.pcap");
    let text = std::fs::read_to_string(format!(
        "{}/tests/data/real/knot-unbound-dig.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let stored: Vec<Vec<u8>> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| dnspect_core::wire::text::unhex(l.split_once(' ').unwrap().1).unwrap())
        .collect();
    assert_eq!(stored.len(), 111);
    let opts = || CaptureOptions {
        ports: vec![53530, 53531],
        ..CaptureOptions::default()
    };
    for chunk in [bytes.len(), 1, 100] {
        let mut a = CaptureAnalyzer::new(opts()).unwrap();
        let mut got = Vec::new();
        for c in bytes.chunks(chunk) {
            a.feed(c, &mut |m, b| {
                assert!(m.error.is_none(), "{m:?}");
                got.push(b.to_vec());
            })
            .unwrap();
        }
        a.finish().unwrap();
        assert_eq!(got, stored, "chunk {chunk}");
        let r = a.report();
        assert_eq!(r.messages, 111);
        assert_eq!(r.queries, 57, "{r:?}");
        assert_eq!(r.responses, 54, "{r:?}");
    }
}
