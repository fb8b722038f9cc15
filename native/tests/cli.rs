//! The CLI as a user runs it: arguments, stdin, files, exit codes.
#![allow(clippy::unwrap_used)]
use std::io::Write;
use std::process::{Command, Stdio};

fn dnspect(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnspect"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const SEED: &str = include_str!("../../core/tests/data/seed000-uncompressed.hex");

#[test]
fn decode_from_argument_file_and_stdin_agree() {
    let (c1, a, _) = dnspect(&["decode", SEED.trim()], None);
    let (c2, b, _) = dnspect(
        &[
            "decode",
            "--file",
            "../core/tests/data/seed000-uncompressed.hex",
        ],
        None,
    );
    let (c3, c, _) = dnspect(&["decode"], Some(SEED.as_bytes()));
    assert_eq!((c1, c2, c3), (0, 0, 0));
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert!(a.contains("ANSWER: 20"));
    assert!(a.contains("400 bytes lost"));
    assert!(a.contains("512: CROSSED inside ANSWER #14"));
}

#[test]
fn example_and_json() {
    let (code, out, _) = dnspect(&["decode", "--example", "incident-000", "--json"], None);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["compression"]["lost"], 400);
    assert_eq!(v["message"]["answers"].as_array().unwrap().len(), 20);
    assert_eq!(
        v["message"]["answers"][0]["rdata"]["address"],
        "182.92.255.169"
    );
    let (code, _, err) = dnspect(&["decode", "--example", "nope"], None);
    assert_eq!(code, 2);
    assert!(err.contains("incident-000"));
}

#[test]
fn truncated_message_prints_partial_result_and_exits_1() {
    let cut = &SEED.trim()[..2 * 520];
    let (code, out, _) = dnspect(&["decode", cut], None);
    assert_eq!(code, 1);
    assert!(out.contains(";; ERROR: at offset"), "{out}");
    assert!(
        out.contains("182.92.255.169"),
        "records before the error are kept"
    );
}

#[test]
fn binary_input() {
    let bytes = dnspect_core::wire::text::unhex(SEED.trim()).unwrap();
    let (code, out, _) = dnspect(&["decode", "--binary"], Some(&bytes));
    assert_eq!(code, 0);
    assert!(out.contains("MSG SIZE  rcvd: 758"));
}

#[test]
fn unreadable_input_exits_2() {
    let (code, _, err) = dnspect(&["decode"], Some(&[0xff, 0xfe, 0x00]));
    assert_eq!(code, 2);
    assert!(err.contains("--binary"));
}
