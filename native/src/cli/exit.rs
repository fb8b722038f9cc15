//! The exit codes of every `dnspect` command, documented in docs/cli.md and the man page's
//! EXIT STATUS section (`EXIT_STATUS_ROFF` below), and checked against the binary by
//! tests/tests/cli_conventions.rs. The numbers follow sysexits.h where one fits, as
//! Postfix, OpenSSH and systemd units expect.

use std::process::ExitCode;

/// Done: the server stopped cleanly (SIGTERM after its drain), the file is valid, the
/// message decoded.
pub const OK: u8 = 0;
/// A runtime failure: a socket could not be bound, a worker could not start; for `decode`, the
/// message does not decode (what did is printed, with the error's byte offset).
pub const RUNTIME: u8 = 1;
/// A usage error: an unknown flag, a malformed flag value (`--listen nonsense`), an unreadable
/// input for `decode`. clap exits 2 for its own usage errors; the rest of the binary does too.
pub const USAGE: u8 = 2;
/// A configuration error (sysexits.h EX_CONFIG): the file is missing, unreadable or invalid,
/// or no upstream can be found. `serve` and `check-config` agree on it.
pub const CONFIG: u8 = 78;

/// Prints `dnspect: {msg}` on stderr and returns `code`.
pub fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("dnspect: {msg}");
    ExitCode::from(code)
}

/// The man page's EXIT STATUS section (roff).
pub const EXIT_STATUS_ROFF: &str = r#".SH "EXIT STATUS"
.TP
.B 0
Success: \fBserve\fR stopped cleanly (SIGTERM or SIGINT, after draining), \fBcheck\-config\fR found the file valid, \fBdecode\fR decoded the message, \fBweb\fR stopped by SIGTERM or SIGINT.
.TP
.B 1
Runtime error: a socket could not be bound, a worker could not start; for \fBdecode\fR, the message does not decode (what could be read is printed with the byte offset of the error); for \fBcapture\fR, the file is cut or corrupt (after everything before the bad byte); for \fBcache show\fR, nothing is cached for the name; for \fBhealth\fR, the server did not answer 200 or could not be reached.
.TP
.B 2
Usage error: unknown flag or subcommand, malformed flag value (\fB\-\-listen\fR, \fB\-\-allow\fR, \fB\-\-log\-level\fR, \fBhealth \-\-url\fR, \fBhealth \-\-timeout\fR), unreadable input for \fBdecode\fR and \fBcapture\fR; for \fBcache\fR, any error (the admin API unreachable or refusing).
.TP
.B 78
Configuration error (EX_CONFIG): the configuration file is missing, unreadable or invalid (the message names its line and field), or no upstream is configured and the resolv.conf lists none. \fBserve\fR and \fBcheck\-config\fR return the same code for the same file.
.P
A panic in \fBserve\fR aborts the process (SIGABRT, shell status 134) so its supervisor restarts it.
"#;
