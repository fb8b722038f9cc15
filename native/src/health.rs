//! `dnspect health`: asks a running server's /health (or /ready) and exits 0 only on 200. It
//! exists for images without curl or wget (the `FROM scratch` container's HEALTHCHECK, a
//! Kubernetes exec probe): a plain HTTP/1.1 GET over std's TcpStream, bounded by one timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context};

/// `http://HOST:PORT/PATH` split into the address and the path (only plain http: the metrics
/// listener speaks nothing else).
fn parse_url(url: &str) -> anyhow::Result<(SocketAddr, String, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("--url {url:?}: must start with http://"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/health".to_string()),
    };
    let addr = hostport
        .to_socket_addrs()
        .with_context(|| format!("--url {url:?}: {hostport:?} is not HOST:PORT"))?
        .next()
        .with_context(|| format!("--url {url:?}: {hostport:?} resolves to no address"))?;
    Ok((addr, hostport.to_string(), path))
}

/// Why a check failed: the URL is not one we can ask (a usage error, exit 2), or the server
/// did not answer 200 (exit 1).
#[derive(Debug)]
pub enum Error {
    Usage(anyhow::Error),
    Failed(anyhow::Error),
}

/// The status line and body of one GET, within `timeout` in all.
pub fn check(url: &str, timeout: Duration) -> Result<String, Error> {
    let (addr, host, path) = parse_url(url).map_err(Error::Usage)?;
    get(url, addr, &host, &path, timeout).map_err(Error::Failed)
}

fn get(
    url: &str,
    addr: SocketAddr,
    host: &str,
    path: &str,
    timeout: Duration,
) -> anyhow::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut resp = Vec::with_capacity(512);
    // The answers of /health and /ready are a line; 64 KiB bounds a wrong server.
    (&mut s)
        .take(64 * 1024)
        .read_to_end(&mut resp)
        .with_context(|| format!("no complete answer from {addr} within {timeout:?}"))?;
    let text = String::from_utf8_lossy(&resp);
    let status = text.lines().next().unwrap_or("");
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).trim();
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if code != "200" {
        let status = if status.is_empty() {
            "empty answer"
        } else {
            status
        };
        if body.is_empty() {
            bail!("{url}: {status}");
        }
        bail!("{url}: {status}: {body}");
    }
    Ok(format!("{url}: {body}"))
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn urls() {
        let (a, h, p) = parse_url("http://127.0.0.1:9153/ready").unwrap();
        assert_eq!(
            (a.to_string(), h.as_str(), p.as_str()),
            ("127.0.0.1:9153".into(), "127.0.0.1:9153", "/ready")
        );
        assert_eq!(parse_url("http://[::1]:9153").unwrap().2, "/health");
        assert!(parse_url("https://127.0.0.1:9153/health").is_err());
        assert!(parse_url("http://127.0.0.1/health").is_err());
    }
}
