//! The command line: one module per subcommand, the exit codes and the logging they share.
//! `Cli` is also what the man page and the shell completions are generated from
//! (`dnspect man`, `dnspect completions SHELL`), so they never drift from the flags.

mod cache;
mod decode;
pub mod exit;
mod generate;
pub mod logging;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// DNS packet analyzer and caching DNS forwarder.
#[derive(Debug, Parser)]
#[command(
    name = "dnspect",
    version = env!("DNSPECT_VERSION"),
    about,
    after_help = "Exit status: 0 ok, 1 runtime error, 2 usage error, 78 configuration error (docs/cli.md)."
)]
pub struct Cli {
    /// Log line format on stderr (serve, web).
    #[arg(long, value_enum, global = true, default_value = "text")]
    pub log_format: logging::LogFormat,
    /// Log filter: a level (error, warn, info, debug, trace) or EnvFilter directives such as
    /// "info,query=off"; default: RUST_LOG, else info. The query log's target is `query`.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the caching DNS forwarder (UDP and TCP). With no arguments: the embedded default
    /// configuration (127.0.0.1:8553, upstreams from /etc/resolv.conf, cache on).
    Serve(serve::ServeArgs),
    /// Check a configuration file; errors name their line and field (exit 78, as `serve`).
    CheckConfig(serve::CheckArgs),
    /// Inspect and flush a running server's cache through its admin API (docs/admin-api.md).
    Cache(cache::Args),
    /// Explain a DNS message: dig-style text plus compression, sizes and warnings.
    ///
    /// Accepts hex (plain, spaced, 0x-prefixed), tcpdump -X/-xx, xxd, od, Wireshark hex
    /// streams and dumps, base64 and base64url (DoH ?dns=), with Ethernet/IP/UDP/TCP headers
    /// stripped. Exits 1 when the message does not decode, 2 when the input cannot be read.
    /// `analyze` is the same command (the npm package and the page call it the analyzer).
    #[command(visible_alias = "analyze")]
    Decode(decode::DecodeArgs),
    /// Serve the web page (embedded in this binary) on loopback and print its URL.
    ///
    /// The page runs the analyzer and the forwarder simulator in the browser (WebAssembly) and
    /// loads nothing from any other origin.
    Web(crate::web::WebArgs),
    /// Read a pcap or pcapng capture: one line per DNS message, a per-server conformance and
    /// health report (--report), or a replay through dnspect's engine (--replay). Exits 1 when
    /// the capture is cut or corrupt (after showing everything before the bad byte).
    Capture(crate::capture::CaptureArgs),
    /// The incident library: eight public DNS incidents, what the peer did and what dnspect
    /// does. With an ID, the incident explained and replayed on the simulator (the decision
    /// trace, and dnspect with the peer's policy where its settings can express it).
    Incidents {
        id: Option<String>,
        /// Print the incident data as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask a running server's /health or /ready (the container's HEALTHCHECK: a `FROM scratch`
    /// image has no curl). Exits 0 only on HTTP 200.
    Health {
        /// The URL to ask (plain http).
        #[arg(long, default_value = "http://127.0.0.1:9153/health")]
        url: String,
        /// How long to wait for the answer: a duration ("3s", "500ms") or a number of
        /// seconds ("3", "0.5"); above 0.
        #[arg(long, default_value = "3s", value_name = "DURATION", value_parser = health_timeout)]
        timeout: std::time::Duration,
    },
    /// Print the man page (roff) on stdout, or write one page per subcommand to --dir.
    Man(generate::ManArgs),
    /// Print a shell completion script on stdout.
    Completions(generate::CompletionArgs),
}

/// Parses the arguments and runs the command; the process's exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let log = (cli.log_format, cli.log_level.as_deref());
    match cli.command {
        Command::Serve(a) => serve::serve(a, log),
        Command::CheckConfig(a) => serve::check_config(&a),
        Command::Decode(a) => decode::decode(a),
        Command::Cache(a) => cache::run(a),
        Command::Web(a) => crate::web::run(&a, log),
        Command::Man(a) => generate::man(&a),
        Command::Completions(a) => generate::completions(&a),
        Command::Capture(a) => crate::capture::run(a),
        Command::Incidents { id, json } => crate::incidents::main(id.as_deref(), json),
        Command::Health { url, timeout } => match crate::health::check(&url, timeout) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(crate::health::Error::Usage(e)) => exit::fail(exit::USAGE, &format!("health: {e}")),
            Err(crate::health::Error::Failed(e)) => {
                exit::fail(exit::RUNTIME, &format!("health: {e:#}"))
            }
        },
    }
}

/// `health --timeout`: a duration with its unit, as everywhere else, or (as the flag was first
/// documented) a number of seconds; zero, negative and non-finite values are usage errors rather
/// than a silent default.
fn health_timeout(s: &str) -> Result<std::time::Duration, String> {
    let d = match s.trim().parse::<f64>() {
        Ok(secs) => std::time::Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("{s:?} is not a number of seconds above 0"))?,
        Err(_) => dnspect_core::units::parse_duration(s.trim())?,
    };
    if d.is_zero() {
        return Err(format!("{s:?}: the timeout must be above 0"));
    }
    Ok(d)
}
