//! `dnspect man` and `dnspect completions`: generated from the `Cli` definition itself
//! (clap_mangen, clap_complete), so they list exactly the flags the binary takes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::exit::{self, fail};
use super::Cli;

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write dnspect.1 and one page per subcommand (dnspect-serve.1, ...) into this directory
    /// instead of printing dnspect.1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: Shell,
}

/// The FILES, ENVIRONMENT and SEE ALSO sections of dnspect.1.
const EXTRA_ROFF: &str = r#".SH ENVIRONMENT
.TP
.B RUST_LOG
Log filter when \fB\-\-log\-level\fR is not given (EnvFilter directives, e.g. \fBinfo,query=debug\fR).
.TP
.B NO_COLOR
When set and not empty, log lines carry no ANSI colour; they never do when stderr is not a terminal.
.SH FILES
.TP
.I /etc/resolv.conf
The upstreams of \fBserve\fR when the configuration names none (\fB\-\-resolv\-conf\fR); read again on SIGHUP.
.SH DEFAULTS
\fBserve\fR listens on 127.0.0.1:8553 (UDP and TCP), metrics on 127.0.0.1:9153; \fBweb\fR on 127.0.0.1:8552.
Port 8553 is unprivileged and unassigned by IANA, unlike 5353 (mDNS, where avahi and other responders listen).
.SH "SEE ALSO"
\fBdig\fR(1), \fBdnsmasq\fR(8), \fBunbound\fR(8); docs/cli.md and docs/configuration.md in the source.
"#;

/// dnspect.1: clap_mangen's sections, then the exit codes and the sections above.
fn main_page() -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    out.write_all(super::exit::EXIT_STATUS_ROFF.as_bytes())?;
    out.write_all(EXTRA_ROFF.as_bytes())?;
    man.render_version_section(&mut out)?;
    Ok(out)
}

pub fn man(a: &ManArgs) -> ExitCode {
    let done = match &a.dir {
        None => main_page().and_then(|p| std::io::stdout().write_all(&p)),
        Some(dir) => std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(Cli::command(), dir))
            .and_then(|()| main_page())
            .and_then(|p| std::fs::write(dir.join("dnspect.1"), p)),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(exit::RUNTIME, &format!("cannot write the man page: {e}")),
    }
}

pub fn completions(a: &CompletionArgs) -> ExitCode {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "dnspect", &mut std::io::stdout());
    ExitCode::SUCCESS
}
