//! Runs one wire operation a given number of times, for instruction counting under
//! `valgrind --tool=callgrind` (noise-free, unlike wall-clock time on a shared machine).
//!
//! ```text
//! cargo build --release -p dnspect-core --example wire_icount
//! valgrind --tool=callgrind target/release/examples/wire_icount <input> <op> <iters>
//! ```
//!
//! `<input>`: seed000-uncompressed-758 | seed000-compressed-358 | www-example-com-124 (or a
//! unique prefix); `<op>`: dnspect_scan | dnspect_decode | dnspect_analyze | dnspect_encode |
//! hickory_decode | hickory_encode. Setup (reading the input, decoding the message an encode
//! needs) is the same whatever `<iters>` is, so the difference between two runs with different
//! counts, divided by the difference in counts, is the cost of one operation. `bench/wire.sh`
//! does that.
#![allow(clippy::unwrap_used)]
use std::hint::black_box;
use std::process::ExitCode;

use dnspect_core::wire::inspect::analyze::analyze;
use dnspect_core::wire::{Message, MessageView};

#[path = "common/wire_inputs.rs"]
mod wire_inputs;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, op, iters] = args.as_slice() else {
        eprintln!("usage: wire_icount <input> <op> <iters>");
        return ExitCode::from(2);
    };
    let Some((_, bytes)) = wire_inputs::all()
        .into_iter()
        .find(|(n, _)| n.starts_with(input.as_str()))
    else {
        eprintln!("unknown input {input}");
        return ExitCode::from(2);
    };
    let Ok(iters) = iters.parse::<u64>() else {
        eprintln!("bad iteration count {iters}");
        return ExitCode::from(2);
    };
    // Setup that every op pays the same, so that it cancels out.
    let msg = Message::from_wire(&bytes).expect("decode");
    let hmsg = hickory_proto::op::Message::from_vec(&bytes).expect("hickory decode");
    let bytes = bytes.as_slice();
    match op.as_str() {
        "dnspect_scan" => {
            for _ in 0..iters {
                let v = MessageView::new(black_box(bytes)).expect("view");
                black_box(v.scan().expect("scan"));
            }
        }
        "dnspect_decode" => {
            for _ in 0..iters {
                black_box(Message::from_wire(black_box(bytes)).expect("decode"));
            }
        }
        "dnspect_analyze" => {
            for _ in 0..iters {
                black_box(analyze(black_box(bytes)));
            }
        }
        "dnspect_encode" => {
            for _ in 0..iters {
                black_box(black_box(&msg).to_wire().expect("encode"));
            }
        }
        "hickory_decode" => {
            for _ in 0..iters {
                black_box(
                    hickory_proto::op::Message::from_vec(black_box(bytes)).expect("hickory decode"),
                );
            }
        }
        "hickory_encode" => {
            for _ in 0..iters {
                black_box(black_box(&hmsg).to_vec().expect("hickory encode"));
            }
        }
        _ => {
            eprintln!("unknown op {op}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
