//! `dnspect incidents`: the incident library from the core (`dnspect_core::incidents`), listed,
//! explained one by one, and replayed on the simulator with the decision trace.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

/// Appends a line to the output buffer (written once at the end: a closed pipe, as with
/// `| head`, ends the output quietly instead of panicking).
macro_rules! out {
    ($o:expr, $($a:tt)*) => {{
        let _ = writeln!($o, $($a)*);
    }};
}

fn emit(o: &str) {
    let _ = std::io::stdout().lock().write_all(o.as_bytes());
}

use dnspect_core::incidents::{incident, Incident, INCIDENTS};
use dnspect_core::sim::{run, Scenario, SimResult};

/// Runs `dnspect incidents [ID] [--json]`.
pub fn main(id: Option<&str>, json: bool) -> ExitCode {
    match id {
        None if json => print_json(&INCIDENTS),
        None => {
            let mut o = String::new();
            out!(
                o,
                "{} incidents (dnspect incidents ID explains and replays one):\n",
                INCIDENTS.len()
            );
            for i in INCIDENTS {
                out!(o, "{:<20} {}", i.id, i.title);
                out!(o, "{:<20} peer:    {}", "", i.peer_behaviour);
                out!(o, "{:<20} dnspect: {}", "", i.dnspect_behaviour);
                out!(o, "{:<20} {}", "", i.thread);
                out!(o, "{:<20} examples: {}\n", "", i.examples.join(", "));
            }
            emit(&o);
            ExitCode::SUCCESS
        }
        Some(id) => match incident(id) {
            None => {
                eprintln!(
                    "dnspect: no incident {id:?}; known: {}",
                    INCIDENTS
                        .iter()
                        .map(|i| i.id)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                ExitCode::from(2)
            }
            Some(i) if json => print_json(i),
            Some(i) => explain(i),
        },
    }
}

fn print_json<T: serde::Serialize + ?Sized>(v: &T) -> ExitCode {
    match serde_json::to_string_pretty(v) {
        Ok(s) => {
            emit(&format!("{s}\n"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dnspect: {e}");
            ExitCode::from(1)
        }
    }
}

fn simulate(text: &str, file: &str) -> Result<SimResult, String> {
    let s: Scenario = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    run(&s).map_err(|e| format!("{file}: {e}"))
}

fn print_run(o: &mut String, heading: &str, r: &SimResult) {
    out!(o, "\n== {heading}: {}", r.title);
    for t in &r.trace {
        out!(o, "{:>9} ms  {:<8} {}", t.at_ms, t.actor, t.text);
    }
    if r.failures.is_empty() {
        out!(
            o,
            "-- every expectation held ({} upstream queries)",
            r.upstream_queries
        );
    } else {
        for f in &r.failures {
            out!(o, "-- FAILED: {f}");
        }
    }
}

fn explain(i: &Incident) -> ExitCode {
    let mut o = String::new();
    out!(o, "{}: {}\n", i.id, i.title);
    out!(o, "peer:    {}\nthread:  {}\n", i.peer, i.thread);
    out!(
        o,
        "{}\n",
        i.happened.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    out!(o, "peer behaviour:    {}", i.peer_behaviour);
    out!(o, "dnspect behaviour: {}", i.dnspect_behaviour);
    out!(o, "\nnot in the thread:");
    for n in i.not_in_thread {
        out!(o, "  - {n}");
    }
    out!(o, "\nRFCs:");
    for r in i.rfcs {
        out!(o, "  {:<16} {} ({})", r.cite, r.says, r.url);
    }
    out!(
        o,
        "\npackets: {}",
        i.examples
            .iter()
            .map(|e| format!("dnspect decode --example {e}"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    out!(
        o,
        "end-to-end test: tests/tests/incidents.rs {}",
        i.e2e_test
    );
    let mut ok = true;
    match simulate(i.scenario, i.scenario_file) {
        Ok(r) => {
            ok &= r.failures.is_empty();
            print_run(&mut o, "dnspect (default settings)", &r);
        }
        Err(e) => {
            eprintln!("dnspect: {e}");
            return ExitCode::from(1);
        }
    }
    match &i.policy {
        Some(p) => match simulate(p.scenario, "policy run") {
            Ok(r) => {
                ok &= r.failures.is_empty();
                print_run(
                    &mut o,
                    &format!("dnspect with that policy ({}), not the peer", p.settings),
                    &r,
                );
            }
            Err(e) => {
                eprintln!("dnspect: {e}");
                return ExitCode::from(1);
            }
        },
        None => out!(o, "\nno policy run: {}", i.no_policy_because),
    }
    emit(&o);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
