//! Whatever people paste (hex dumps, tcpdump/xxd/od output, base64, DoH URLs) and whatever binary
//! they hand over (captures with link, IP, UDP/TCP headers) through the paste layer. Nothing may
//! panic, and what comes back must be consistent: the DNS bytes and every stripped layer lie
//! within the decoded bytes, and `from_binary` returns exactly the range `locate_dns` finds.
#![no_main]

use dnspect_core::wire::capture::paste::{from_binary, locate_dns, parse_paste, Paste};
use libfuzzer_sys::fuzz_target;

fn check(p: &Paste) {
    assert!(
        p.bytes.len() <= p.raw_len,
        "{} DNS bytes out of {} raw",
        p.bytes.len(),
        p.raw_len
    );
    for l in &p.layers {
        assert!(
            l.offset + l.len <= p.raw_len,
            "layer {l:?} beyond {} raw bytes",
            p.raw_len
        );
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match parse_paste(text) {
            Ok(p) => {
                check(&p);
                assert!(!p.bytes.is_empty() || p.raw_len > 0, "empty paste accepted");
            }
            Err(e) => {
                assert!(
                    e.line >= 1 && e.column >= 1,
                    "error position {e:?} is not 1-based"
                );
                let _ = e.to_string();
            }
        }
    }
    let p = from_binary(data);
    check(&p);
    assert_eq!(p.raw_len, data.len());
    let (range, layers) = locate_dns(data);
    assert_eq!(
        Some(p.bytes.as_slice()),
        data.get(range),
        "from_binary and locate_dns disagree"
    );
    assert_eq!(p.layers, layers);
});
