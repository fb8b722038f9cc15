//! `dnspect capture FILE`: the DNS messages of a pcap or pcapng file, one line (or JSON line)
//! each, a per-server report, or a replay through the engine. The file is read in 1 MiB
//! chunks into the core's `CaptureAnalyzer`, so memory does not grow with the file.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use dnspect_core::pcap::replay;
use dnspect_core::pcap::{line, CaptureAnalyzer, CaptureOptions, CaptureReport};

/// The `capture` subcommand's flags.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// A pcap or pcapng file ("-" reads standard input).
    pub file: PathBuf,
    /// JSON lines (one object per message; with --report or --replay, one JSON document).
    #[arg(long)]
    pub json: bool,
    /// Per-server conformance and health instead of the messages.
    #[arg(long, conflicts_with = "replay")]
    pub report: bool,
    /// Replay the servers' answers through dnspect's engine and show what it would have sent.
    #[arg(long)]
    pub replay: bool,
    /// Only messages whose question is this name or a name under it.
    #[arg(long)]
    pub name: Option<String>,
    /// Only messages to or from this server (address or address:port).
    #[arg(long)]
    pub server: Option<String>,
    /// Only responses with this RCODE (the lines only; the report counts everything).
    #[arg(long)]
    pub rcode: Option<String>,
    /// A port that carries DNS (repeatable; default 53 and 5353).
    #[arg(long, value_name = "PORT")]
    pub port: Vec<u16>,
    /// Every UDP and TCP port may carry DNS.
    #[arg(long, conflicts_with = "port")]
    pub any_port: bool,
    /// Window in which answer -> failure -> answer counts as a flap.
    #[arg(long, default_value = "300s", value_name = "DURATION")]
    pub flap_window: String,
    /// A query with no response after this long is unanswered.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub timeout: String,
}

pub fn run(a: CaptureArgs) -> ExitCode {
    let mut opts = CaptureOptions::default();
    if a.any_port {
        opts.ports.clear();
    } else if !a.port.is_empty() {
        opts.ports = a.port.clone();
    }
    opts.name = a.name.clone();
    opts.server = a.server.clone();
    opts.rcode = a.rcode.clone();
    match dnspect_core::units::parse_duration(&a.flap_window) {
        Ok(d) => opts.flap_window_ms = d.as_millis() as u64,
        Err(e) => return fail(&format!("--flap-window: {e}")),
    }
    match dnspect_core::units::parse_duration(&a.timeout) {
        Ok(d) => opts.timeout_ms = d.as_millis() as u64,
        Err(e) => return fail(&format!("--timeout: {e}")),
    }
    let mut analyzer = match CaptureAnalyzer::new(opts) {
        Ok(x) => x,
        // The core names the option as the npm package spells it (`rcode: ...`); here it is a
        // flag (`--rcode: ...`).
        Err(e) => {
            let flagged = ["name: ", "server: ", "rcode: "]
                .iter()
                .find(|p| e.starts_with(*p))
                .map_or(e.clone(), |_| format!("--{e}"));
            return fail(&flagged);
        }
    };
    if a.replay {
        analyzer.keep_exchanges(replay::MAX_REPLAY_QUERIES * 4);
    }
    let (mut input, size): (Box<dyn Read>, Option<u64>) = if a.file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        match std::fs::File::open(&a.file) {
            Ok(f) => {
                let size = f.metadata().ok().map(|m| m.len());
                (Box::new(f), size)
            }
            Err(e) => return fail(&format!("cannot read {}: {e}", a.file.display())),
        }
    };
    let bar = progress_bar(size);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let lines = !a.report && !a.replay;
    let write_failed = std::cell::Cell::new(false);
    let mut on_message = |m: &dnspect_core::pcap::CaptureMessage, _: &[u8]| {
        if !lines || write_failed.get() {
            return;
        }
        let r = if a.json {
            serde_json::to_writer(&mut out, m)
                .map_err(std::io::Error::other)
                .and_then(|()| out.write_all(b"\n"))
        } else {
            writeln!(out, "{}", line(m))
        };
        write_failed.set(r.is_err());
    };
    let mut chunk = vec![0u8; 1 << 20];
    let mut capture_error = None;
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return fail(&format!("cannot read {}: {e}", a.file.display()));
            }
        };
        if let Err(e) = analyzer.feed(&chunk[..n], &mut on_message) {
            capture_error = Some(e);
            break;
        }
        if let Some(b) = &bar {
            b.set_position(analyzer.bytes_read());
        }
        if write_failed.get() {
            // The reader went away (a closed pipe): stop quietly.
            return ExitCode::SUCCESS;
        }
    }
    if capture_error.is_none() {
        capture_error = analyzer.finish().err();
    } else {
        let _ = analyzer.finish();
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = analyzer.report();
    let result = if a.report {
        if a.json {
            serde_json::to_writer_pretty(&mut out, &report)
                .map_err(std::io::Error::other)
                .and_then(|()| out.write_all(b"\n"))
        } else {
            out.write_all(report_text(&report).as_bytes())
        }
    } else if a.replay {
        replay_out(&mut out, &analyzer, a.json)
    } else {
        Ok(())
    };
    if result.is_err() || out.flush().is_err() {
        return ExitCode::SUCCESS;
    }
    drop(out);
    if lines && report.shown == 0 && capture_error.is_none() {
        // An empty listing with exit 0 looks like a broken tool; say why nothing was shown.
        eprintln!("{}", nothing_shown(&a, &report));
    }
    if let Some(e) = capture_error {
        eprintln!(
            "dnspect: {}: {e} ({} DNS messages read before it are shown)",
            a.file.display(),
            report.messages
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Why the listing is empty: no DNS at all (with what the network layers skipped, and the
/// ports that were read), or DNS that the filters left out.
fn nothing_shown(a: &CaptureArgs, r: &dnspect_core::pcap::CaptureReport) -> String {
    let file = a.file.display();
    if r.messages > 0 {
        return format!(
            "dnspect: {file}: {} DNS message(s), no response with --rcode {}",
            r.messages,
            a.rcode.as_deref().unwrap_or("")
        );
    }
    if a.name.is_some() || a.server.is_some() {
        let mut filters = Vec::new();
        if let Some(n) = &a.name {
            filters.push(format!("--name {n}"));
        }
        if let Some(s) = &a.server {
            filters.push(format!("--server {s}"));
        }
        return format!(
            "dnspect: {file}: no DNS message matching {} in {} frame(s)",
            filters.join(" "),
            r.frames
        );
    }
    let ports = if a.any_port {
        "any port".to_string()
    } else if a.port.is_empty() {
        "ports 53 and 5353".to_string()
    } else {
        let p: Vec<String> = a.port.iter().map(u16::to_string).collect();
        format!("port(s) {}", p.join(", "))
    };
    format!(
        "dnspect: {file}: no DNS messages in {} frame(s) ({} not DNS on {ports}: see --port or --any-port; {} not IP, {} of an unsupported link type, {} malformed)",
        r.frames, r.skipped.not_dns, r.skipped.not_ip, r.skipped.unsupported_link, r.skipped.malformed
    )
}

fn progress_bar(size: Option<u64>) -> Option<indicatif::ProgressBar> {
    let size = size?;
    if !std::io::stderr().is_terminal() || size < (8 << 20) {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(size),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

fn replay_out(out: &mut impl Write, analyzer: &CaptureAnalyzer, json: bool) -> std::io::Result<()> {
    let rp = replay::scenario(analyzer.exchanges());
    let (result, rows) = match replay::run(&rp) {
        Ok(x) => x,
        Err(e) => {
            writeln!(out, "dnspect: the replay did not run: {e}")?;
            return Ok(());
        }
    };
    if json {
        let doc = serde_json::json!({
            "scenario": rp.scenario,
            "rows": rows,
            "left_out": rp.left_out,
            "upstream_queries": result.upstream_queries,
            "events": result.events.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::other)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "replay: {} client queries through dnspect's engine, the capture's answers as its upstream",
        rows.len()
    )?;
    if rp.left_out > 0 {
        writeln!(out, "  ({} later queries left out)", rp.left_out)?;
    }
    let mut differs = 0;
    for r in &rows {
        differs += usize::from(r.differs);
        writeln!(
            out,
            "{:>9.3}s {} {}: server {} {} an={} {} B{} | dnspect {}{}",
            r.at_ms as f64 / 1000.0,
            r.name,
            r.qtype,
            r.captured.server,
            r.captured.rcode,
            r.captured.answers,
            r.captured.size,
            if r.captured.tc { " TC" } else { "" },
            r.dnspect.as_deref().unwrap_or("no answer"),
            if r.differs { "  <- differs" } else { "" }
        )?;
    }
    writeln!(
        out,
        "{differs} of {} answers differ; dnspect sent {} upstream queries",
        rows.len(),
        result.upstream_queries
    )
}

/// The report as text.
pub fn report_text(r: &CaptureReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let t = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.6}"));
    let _ = writeln!(
        s,
        "capture: {}, {} bytes, {} frames, {} DNS messages ({} queries, {} responses), {} to {}",
        r.format.map_or("unknown format", |f| f.as_str()),
        r.bytes,
        r.frames,
        r.messages,
        r.queries,
        r.responses,
        t(r.first_time),
        t(r.last_time)
    );
    let k = &r.skipped;
    let _ = writeln!(
        s,
        "skipped frames: {} not DNS, {} not IP, {} unsupported link, {} malformed, {} cut by the snapshot length; \
         IP fragments {} ({} datagrams reassembled, {} lost); TCP retransmissions {}, gaps {}",
        k.not_dns, k.not_ip, k.unsupported_link, k.malformed, k.cut_by_snaplen, k.fragments, k.reassembled,
        k.fragments_lost, k.tcp_retransmissions, k.tcp_gaps
    );
    if let Some(e) = &r.error {
        let _ = writeln!(s, "error: {e} (the report covers everything before it)");
    }
    for v in &r.servers {
        let _ = writeln!(s, "\nserver {}", v.server);
        let _ = writeln!(
            s,
            "  queries {}, responses {}, answers {}, unanswered {}, retries {}, responses without a query {}, undecodable {}",
            v.queries, v.responses, v.answers, v.unanswered, v.retries, v.unmatched_responses, v.malformed
        );
        let ms = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
        let _ = writeln!(
            s,
            "  latency ms: p50 {} p90 {} p99 {} max {} ({} paired)",
            ms(v.latency.p50_ms),
            ms(v.latency.p90_ms),
            ms(v.latency.p99_ms),
            ms(v.latency.max_ms),
            v.latency.count
        );
        let _ = writeln!(
            s,
            "  uncompressed answers {} ({} bytes lost); over 512 B to queries without EDNS {}; over the advertised EDNS size {}",
            v.uncompressed, v.uncompressed_bytes_lost, v.over_512_without_edns, v.over_advertised
        );
        let _ = writeln!(
            s,
            "  TC {} (rate {:.2}%), retried over TCP {}; FORMERR to EDNS {} of {} EDNS queries",
            v.truncated,
            v.tc_rate * 100.0,
            v.tc_retried_over_tcp,
            v.formerr_to_edns,
            v.edns_queries
        );
        let _ = writeln!(
            s,
            "  negative answers {}, without SOA {}; SERVFAIL {} (rate {:.2}%)",
            v.negative,
            v.negative_without_soa,
            v.servfail,
            v.servfail_rate * 100.0
        );
        let _ = writeln!(s, "  flapping names {}", v.flaps_total);
        for f in &v.flaps {
            let _ = writeln!(
                s,
                "    {} {}: answered at {:.3}, {} at {:.3}, answered again at {:.3}; {}",
                f.name, f.qtype, f.answered_at, f.failure, f.failed_at, f.back_at, f.note
            );
        }
        let _ = writeln!(
            s,
            "  query IDs: {} ({} distinct of {}); source ports: {} ({} distinct of {})",
            v.query_ids.verdict,
            v.query_ids.distinct,
            v.query_ids.samples,
            v.source_ports.verdict,
            v.source_ports.distinct,
            v.source_ports.samples
        );
    }
    s
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("dnspect: {msg}");
    ExitCode::from(2)
}
