//! The `dnspect` binary: command-line analysis of DNS packets, and the caching forwarder.
mod cache_cli;
mod config;
mod serve;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dnspect_core::wire::capture::input::{analyze_binary, analyze_paste};
use dnspect_core::wire::inspect::analyze::Analysis;
use dnspect_core::wire::inspect::dig::analysis_text;

/// DNS packet analyzer and caching DNS forwarder.
#[derive(Debug, Parser)]
#[command(name = "dnspect", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the caching DNS forwarder (UDP and TCP). With no arguments: the embedded default
    /// configuration (127.0.0.1:5353, upstreams from /etc/resolv.conf, cache on).
    Serve {
        /// A TOML configuration file (see `dnspect serve --print-default-config`).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Address to serve on, UDP and TCP (repeatable; replaces the file's `listen`).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Vec<String>,
        /// Upstream resolver (repeatable; replaces the file's `upstreams`).
        #[arg(long, value_name = "ADDR[:PORT]")]
        upstream: Vec<String>,
        /// Metrics, /health and /ready listener ("" turns it off).
        #[arg(long, value_name = "ADDR:PORT")]
        metrics: Option<String>,
        /// One log line per decision, saying why.
        #[arg(long)]
        log_queries: bool,
        /// Worker threads.
        #[arg(long)]
        workers: Option<usize>,
        /// The resolv.conf whose nameservers are the upstreams when none are configured; read
        /// again on SIGHUP.
        #[arg(long, value_name = "PATH", default_value = config::RESOLV_CONF)]
        resolv_conf: PathBuf,
        /// Print the embedded default configuration and exit.
        #[arg(long)]
        print_default_config: bool,
    },
    /// Check a configuration file; errors name their line and field.
    CheckConfig { file: PathBuf },
    /// Inspect and flush a running server's cache through its admin API (docs/admin-api.md).
    Cache(cache_cli::Args),
    /// Explain a DNS message: dig-style text plus compression, sizes and warnings.
    ///
    /// Accepts hex (plain, spaced, 0x-prefixed), tcpdump -X/-xx, xxd, od, Wireshark hex
    /// streams and dumps, base64 and base64url (DoH ?dns=), with Ethernet/IP/UDP/TCP headers
    /// stripped. Exits 1 when the message does not decode, 2 when the input cannot be read.
    Decode {
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
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            listen,
            upstream,
            metrics,
            log_queries,
            workers,
            resolv_conf,
            print_default_config,
        } => {
            if print_default_config {
                print!("{}", config::DEFAULT_TOML);
                return ExitCode::SUCCESS;
            }
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .init();
            abort_on_panic();
            let overrides = config::Overrides {
                listen,
                upstreams: upstream,
                metrics,
                log_queries,
                workers,
            };
            let loaded = config::load_settings(config.as_deref(), &resolv_conf, &overrides);
            let settings = match loaded {
                Ok(s) => s,
                Err(e) => {
                    return fail(&format!(
                        "configuration: {}{e}",
                        config
                            .as_ref()
                            .map_or(String::new(), |p| format!("{}: ", p.display()))
                    ))
                }
            };
            match serve::run(settings, config, resolv_conf, overrides) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&format!("{e:#}")),
            }
        }
        Command::Cache(args) => cache_cli::run(args),
        Command::CheckConfig { file } => match config::load(&file, config::RESOLV_CONF.as_ref()) {
            Ok(s) => {
                println!(
                    "{}: OK (listen {:?}, upstreams {:?}, {} worker(s))",
                    file.display(),
                    s.listen,
                    s.upstreams,
                    s.workers
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                ExitCode::from(1)
            }
        },
        Command::Decode {
            text,
            file,
            binary,
            json,
            example,
        } => match example {
            Some(name) => match dnspect_core::examples::example(&name) {
                Some(e) => decode(Some(e.hex.to_string()), None, false, json),
                None => {
                    let known: Vec<String> = dnspect_core::examples::EXAMPLES
                        .iter()
                        .map(|e| format!("  {:<24} {}", e.name, e.title))
                        .collect();
                    if name != "list" {
                        eprintln!("dnspect: no example named {name:?}");
                    }
                    eprintln!("examples:\n{}", known.join("\n"));
                    ExitCode::from(if name == "list" { 0 } else { 2 })
                }
            },
            None => decode(text, file, binary, json),
        },
    }
}

/// The server's panic policy (ARCHITECTURE.md, Invariants): a panic anywhere, in any thread or
/// task, is logged with its thread, location and message, and then the process aborts. tokio
/// would otherwise catch a task's panic and leave its socket bound and unread (a silent
/// blackhole); an aborted process is restarted by its supervisor and its sockets are closed.
/// The release and dev profiles also set `panic = "abort"`; this hook makes the policy hold in
/// any build.
fn abort_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let location = info.location().map_or_else(
            || "an unknown location".to_string(),
            |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
        );
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        // Straight to stderr: the logger may be what panicked.
        let bt = std::backtrace::Backtrace::capture();
        let bt = match bt.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{bt}"),
            _ => String::new(),
        };
        eprintln!(
            "dnspect: PANIC in thread {name} at {location}: {message}{bt}\ndnspect: aborting so that the supervisor restarts the server"
        );
        std::process::abort();
    }));
}

fn decode(text: Option<String>, file: Option<PathBuf>, binary: bool, json: bool) -> ExitCode {
    let input: Vec<u8> = match (&text, &file) {
        (Some(_), Some(_)) => {
            return fail("give the packet either as an argument or with --file, not both")
        }
        (Some(t), None) => t.clone().into_bytes(),
        (None, Some(path)) => match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return fail(&format!("cannot read {}: {e}", path.display())),
        },
        (None, None) => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("dnspect: reading the packet from standard input (end with Ctrl-D)");
            }
            let mut b = Vec::new();
            if let Err(e) = stdin.read_to_end(&mut b) {
                return fail(&format!("cannot read standard input: {e}"));
            }
            b
        }
    };
    let analysis: Analysis = if binary {
        analyze_binary(&input)
    } else {
        let Ok(text) = std::str::from_utf8(&input) else {
            return fail("input is not text; use --binary for raw wire bytes");
        };
        match analyze_paste(text) {
            Ok(a) => a,
            Err(e) => return fail(&format!("cannot read the paste: {e}")),
        }
    };
    if json {
        match serde_json::to_string_pretty(&analysis) {
            Ok(s) => println!("{s}"),
            Err(e) => return fail(&format!("cannot serialize the analysis: {e}")),
        }
    } else {
        print!("{}", analysis_text(&analysis));
    }
    if analysis.error.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("dnspect: {msg}");
    ExitCode::from(2)
}
