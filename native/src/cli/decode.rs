//! `dnspect decode`: the analyzer on the command line.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use dnspect_core::wire::capture::input::{analyze_binary, analyze_paste};
use dnspect_core::wire::inspect::analyze::Analysis;
use dnspect_core::wire::inspect::dig::analysis_text;

use super::exit::{self, fail};

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The paste itself; without it, --file or standard input is read.
    text: Option<String>,
    /// Read the input from a file.
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// The input is raw wire bytes, not text.
    #[arg(long)]
    binary: bool,
    /// Print the analysis as JSON (schema: docs/json-schema.md).
    #[arg(long)]
    json: bool,
    /// Analyze a built-in example instead (`--example list` names them).
    #[arg(long, conflicts_with_all = ["text", "file", "binary"])]
    example: Option<String>,
}

pub fn decode(a: DecodeArgs) -> ExitCode {
    match a.example {
        Some(name) => match dnspect_core::examples::example(&name) {
            Some(e) => analyze(Some(e.hex.to_string()), None, false, a.json),
            None => {
                let examples = dnspect_core::examples::EXAMPLES;
                let width = examples.iter().map(|e| e.name.len()).max().unwrap_or(0);
                let known: Vec<String> = examples
                    .iter()
                    .map(|e| format!("  {:<width$}  {}", e.name, e.title))
                    .collect();
                let list = format!("examples:\n{}", known.join("\n"));
                if name == "list" {
                    // Asked for: standard output, so it can be piped (`| grep incident`).
                    println!("{list}");
                    ExitCode::from(exit::OK)
                } else {
                    eprintln!("dnspect: no example named {name:?}\n{list}");
                    ExitCode::from(exit::USAGE)
                }
            }
        },
        None => analyze(a.text, a.file, a.binary, a.json),
    }
}

fn analyze(text: Option<String>, file: Option<PathBuf>, binary: bool, json: bool) -> ExitCode {
    let usage = |m: &str| fail(exit::USAGE, m);
    let input: Vec<u8> = match (&text, &file) {
        (Some(_), Some(_)) => {
            return usage("give the packet either as an argument or with --file, not both")
        }
        (Some(t), None) => t.clone().into_bytes(),
        (None, Some(path)) => match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return usage(&format!("cannot read {}: {e}", path.display())),
        },
        (None, None) => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("dnspect: reading the packet from standard input (end with Ctrl-D)");
            }
            let mut b = Vec::new();
            if let Err(e) = stdin.read_to_end(&mut b) {
                return usage(&format!("cannot read standard input: {e}"));
            }
            b
        }
    };
    let analysis: Analysis = if binary {
        if let Some(format) = dnspect_core::pcap::sniff(&input) {
            return usage(&format!(
                "this is a {} capture file, not one DNS message: use `dnspect capture FILE`",
                format.as_str()
            ));
        }
        analyze_binary(&input)
    } else {
        let Ok(text) = std::str::from_utf8(&input) else {
            return usage("input is not text; use --binary for raw wire bytes");
        };
        match analyze_paste(text) {
            Ok(a) => a,
            Err(e) => return usage(&format!("cannot read the paste: {e}")),
        }
    };
    if json {
        match serde_json::to_string_pretty(&analysis) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                return fail(
                    exit::RUNTIME,
                    &format!("cannot serialize the analysis: {e}"),
                )
            }
        }
    } else {
        print!("{}", analysis_text(&analysis));
    }
    if analysis.error.is_some() {
        ExitCode::from(exit::RUNTIME)
    } else {
        ExitCode::SUCCESS
    }
}
