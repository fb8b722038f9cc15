//! Arbitrary bytes through every wire entry point the analyzer and the forwarder use. Nothing may
//! panic, and the layers must agree:
//! - the zero-copy view, the typed decode and the analysis accept and reject the same messages
//!   (the view checks less RDATA, so it may accept more, never less);
//! - the analysis carries the same message and error as the typed decode;
//! - a message that decodes re-encodes (only TooLarge may fail), and `recompress` returns bytes
//!   that are not longer and decode to an equal message;
//! - `fit` output decodes.
#![no_main]

use dnspect_core::wire::inspect::analyze::analyze;
use dnspect_core::wire::inspect::dig::analysis_text;
use dnspect_core::wire::fit::{fit, recompress};
use dnspect_core::wire::{ErrorKind, Message, MessageView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = Message::from_wire(data);

    if let Ok(view) = MessageView::new(data) {
        let scan = view.scan();
        let _ = view.question();
        for r in view.records() {
            if r.is_err() {
                break;
            }
        }
        if let Ok(m) = &decoded {
            let scan =
                scan.unwrap_or_else(|e| panic!("from_wire accepts what scan() rejects: {e}"));
            assert_eq!(
                scan.opt.is_some(),
                m.edns.is_some(),
                "scan and from_wire disagree on OPT"
            );
        }
    }

    let a = analyze(data);
    assert_eq!(
        a.error.as_ref(),
        decoded.as_ref().err(),
        "analyze and from_wire disagree on the error"
    );
    if let Ok(m) = &decoded {
        assert_eq!(
            &a.message, m,
            "analyze and from_wire decode different messages"
        );
    }
    let _ = analysis_text(&a);

    match (&decoded, recompress(data)) {
        (Ok(m), Ok(out)) => {
            assert!(
                out.len() <= data.len(),
                "recompress grew {} bytes to {}",
                data.len(),
                out.len()
            );
            let back = Message::from_wire(&out)
                .unwrap_or_else(|e| panic!("recompressed message does not decode: {e}"));
            assert_eq!(&back, m, "recompressed message decodes differently");
        }
        (Ok(_), Err(e)) => {
            assert!(
                matches!(e.kind, ErrorKind::TooLarge),
                "a decoded message does not re-encode: {e}"
            );
        }
        (Err(_), Ok(_)) => panic!("recompress accepted a message from_wire rejects"),
        (Err(_), Err(_)) => {}
    }

    if decoded.is_ok() {
        if let Ok(f) = fit(data, 512) {
            Message::from_wire(&f.bytes)
                .unwrap_or_else(|e| panic!("fit output does not decode: {e}"));
        }
    }
});
