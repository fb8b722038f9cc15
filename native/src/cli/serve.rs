//! `dnspect serve` and `dnspect check-config`: the same loading, the same exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::exit::{self, fail};
use super::logging::{self, LogFormat};
use crate::config::{self, ConfigError};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML configuration file (see `dnspect serve --print-default-config`).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Address to serve on, UDP and TCP (repeatable; replaces the file's `listen`).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Vec<String>,
    /// Upstream resolver (repeatable; replaces the file's `upstreams`); DNS over TLS as
    /// `tls://ADDR[:PORT]#SERVER_NAME` (port 853; the certificate must match SERVER_NAME).
    #[arg(long, value_name = "ADDR[:PORT]")]
    upstream: Vec<String>,
    /// Forward a zone to its own upstreams (repeatable; replaces the file's
    /// `[[engine.forward]]`): names at or under ZONE go there, the longest zone winning;
    /// `.=ADDR` is the same as `--upstream ADDR`.
    #[arg(long, value_name = "ZONE=ADDR[:PORT][,ADDR...]")]
    forward: Vec<String>,
    /// A hosts file (/etc/hosts format) answered locally: A, AAAA and PTR (repeatable;
    /// replaces the file's `hosts`). Re-read when it changes and on SIGHUP.
    #[arg(long, value_name = "FILE")]
    hosts: Vec<PathBuf>,
    /// Client network allowed to query, e.g. 10.0.0.0/8 or ::1 (repeatable; replaces the file's
    /// `allow`). Others get REFUSED, or nothing with `refuse = "drop"`.
    #[arg(long, value_name = "CIDR")]
    allow: Vec<String>,
    /// Metrics, /health and /ready listener ("" turns it off).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<String>,
    /// One log line per decision, saying why (log target `query`).
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
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file.
    file: PathBuf,
    /// The resolv.conf read when the file configures no upstream.
    #[arg(long, value_name = "PATH", default_value = config::RESOLV_CONF)]
    resolv_conf: PathBuf,
}

/// A configuration error's exit code: a malformed flag is a usage error, the rest (file,
/// resolv.conf) a configuration error.
fn config_code(e: &ConfigError) -> u8 {
    if e.field.starts_with("--") {
        exit::USAGE
    } else {
        exit::CONFIG
    }
}

pub fn serve(a: ServeArgs, (format, level): (LogFormat, Option<&str>)) -> ExitCode {
    if a.print_default_config {
        print!("{}", config::DEFAULT_TOML);
        return ExitCode::SUCCESS;
    }
    if let Err(e) = logging::init(format, level) {
        return fail(exit::USAGE, &e);
    }
    abort_on_panic();
    let overrides = config::Overrides {
        listen: a.listen,
        upstreams: a.upstream,
        allow: a.allow,
        metrics: a.metrics,
        log_queries: a.log_queries,
        workers: a.workers,
        forward: a.forward,
        hosts: a.hosts,
    };
    let settings = match config::load_settings(a.config.as_deref(), &a.resolv_conf, &overrides) {
        Ok(s) => s,
        Err(e) => {
            let file = a
                .config
                .as_ref()
                .filter(|_| !e.field.starts_with("--"))
                .map_or(String::new(), |p| format!("{}: ", p.display()));
            return fail(config_code(&e), &format!("configuration: {file}{e}"));
        }
    };
    if let Some(w) = config::exposure_warning(&settings) {
        tracing::warn!("{w}");
    }
    for w in config::loop_warnings(&settings) {
        tracing::warn!("{w}");
    }
    match crate::serve::run(settings, a.config, a.resolv_conf, overrides) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(exit::RUNTIME, &format!("{e:#}")),
    }
}

pub fn check_config(a: &CheckArgs) -> ExitCode {
    match config::load(&a.file, &a.resolv_conf).and_then(|s| config::check_loops(&s).map(|()| s)) {
        Ok(s) => {
            println!(
                "{}: OK (listen {:?}, upstreams {}, {} worker(s))",
                a.file.display(),
                s.listen,
                crate::serve::routes(&s.engine),
                s.workers
            );
            if let Some(w) = config::exposure_warning(&s) {
                eprintln!("{}: warning: {w}", a.file.display());
            }
            for w in config::loop_warnings(&s) {
                eprintln!("{}: warning: {w}", a.file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", a.file.display());
            ExitCode::from(exit::CONFIG)
        }
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
