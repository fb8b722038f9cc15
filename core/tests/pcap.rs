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
