//! The `dnspect` binary: command-line analysis of DNS packets, the caching forwarder, and the
//! web page. The subcommands live in `cli/` (one module each); `main` only runs them.
mod capture;
mod cli;
mod config;
mod health;
mod incidents;
mod serve;
mod tls;
mod web;

fn main() -> std::process::ExitCode {
    cli::run()
}
