//! Logging for the long-running commands (`serve`, `web`): tracing-subscriber, as text or JSON
//! lines on stderr, filtered by `--log-level` (an EnvFilter directive) or else `RUST_LOG`.
//! Colour only on a terminal, and never when NO_COLOR is set (no-color.org).

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (timestamp, level, target, message and fields), for log
    /// collectors.
    Json,
}

/// Whether stderr gets ANSI colour: a terminal, and NO_COLOR unset or empty.
pub fn colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

/// The filter: `--log-level` when given, else `RUST_LOG`, else `info`. An invalid directive is
/// a usage error, named with where it came from.
pub fn filter(level: Option<&str>) -> Result<EnvFilter, String> {
    match level {
        Some(l) => EnvFilter::try_new(l).map_err(|e| format!("--log-level {l:?}: {e}")),
        None => match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => {
                EnvFilter::try_new(&v).map_err(|e| format!("RUST_LOG={v:?}: {e}"))
            }
            _ => Ok(EnvFilter::new("info")),
        },
    }
}

/// Installs the global subscriber.
pub fn init(format: LogFormat, level: Option<&str>) -> Result<(), String> {
    let filter = filter(level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_thread_names(true);
    let done = match format {
        LogFormat::Text => builder.with_ansi(colour()).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_ansi(false)
            .try_init(),
    };
    done.map_err(|e| format!("cannot install the logger: {e}"))
}
