//! Capture files (pcap, pcapng) through the core's `CaptureAnalyzer`, every port counted as DNS,
//! fed whole and again in chunks whose sizes come from the input. Nothing may panic; both reads
//! give the same messages and report; an error's offset lies within the file and equals the
//! bytes the report says were read.
#![no_main]

use dnspect_core::pcap::{CaptureAnalyzer, CaptureOptions};
use libfuzzer_sys::fuzz_target;

fn read(data: &[u8], chunk: usize) -> (Vec<String>, String) {
    let opts = CaptureOptions {
        ports: vec![],
        ..CaptureOptions::default()
    };
    let mut a = CaptureAnalyzer::new(opts).expect("default options are valid");
    let mut rows = Vec::new();
    let mut failed = false;
    for c in data.chunks(chunk.max(1)) {
        if a.feed(c, &mut |m, b| {
            assert_eq!(m.size, b.len());
            rows.push(format!("{m:?}"));
        })
        .is_err()
        {
            failed = true;
            break;
        }
    }
    if !failed {
        let _ = a.finish();
    }
    let r = a.report();
    if let Some(e) = &r.error {
        assert!(e.offset <= data.len() as u64, "{e} beyond {} bytes", data.len());
        assert_eq!(e.offset, r.bytes, "{e}: read {} bytes", r.bytes);
    }
    let _ = dnspect_core::pcap::replay::scenario(a.exchanges());
    (rows, format!("{r:?}"))
}

fuzz_target!(|data: &[u8]| {
    let whole = read(data, data.len());
    let chunk = data.first().map_or(1, |&b| usize::from(b) + 1);
    assert_eq!(whole, read(data, chunk), "chunk size {chunk} changed what was read");
});
