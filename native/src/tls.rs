//! DNS over TLS to upstreams (RFC 7858): the `tls://ADDR[:PORT][#SERVER_NAME]` upstream syntax,
//! the rustls client configuration (the ring provider; trust roots from `webpki-roots`, or the
//! operator's `tls_ca` file instead), and handshake errors worded for the SERVFAIL's EDE text.
//! The engine only knows such an upstream is asked over the stream; the connection itself is
//! `serve::upstream`'s pooled TCP connection with TLS around it.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, CertificateError, ClientConfig, RootCertStore};

/// The DNS-over-TLS port (RFC 7858 3.1).
pub const DOT_PORT: u16 = 853;

/// The name a TLS upstream's certificate must match: the `#NAME` of its label, or its IP
/// address when it has none (as Unbound does).
pub type TlsName = ServerName<'static>;

/// Where one upstream is: its address, and for a TLS upstream the name its certificate must
/// match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    pub tls: Option<TlsName>,
}

impl Target {
    /// The label the engine and the metrics name it by: `IP:PORT`, or
    /// `tls://IP:PORT#NAME` (`tls://IP:PORT` when the address is the name).
    pub fn label(&self) -> String {
        match &self.tls {
            None => self.addr.to_string(),
            Some(ServerName::DnsName(n)) => format!("tls://{}#{}", self.addr, n.as_ref()),
            Some(_) => format!("tls://{}", self.addr),
        }
    }
}

/// Reads an upstream as written: `IP`, `IP:PORT`, `[IPv6]:PORT`, or
/// `tls://ADDR[:PORT][#SERVER_NAME]` (port 853 by default). `parse_addr` reads an address with
/// a default port (the configuration's own rules for plain addresses).
pub fn parse_target(
    s: &str,
    parse_addr: impl Fn(&str, u16) -> Result<SocketAddr, String>,
) -> Result<Target, String> {
    let Some(rest) = s
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("tls://"))
        .map(|_| &s[6..])
    else {
        if s.contains("://") {
            return Err(format!(
                "{s:?}: unknown scheme (expected an address, or tls://ADDR[:PORT][#SERVER_NAME])"
            ));
        }
        return Ok(Target {
            addr: parse_addr(s, 53)?,
            tls: None,
        });
    };
    let (addr, name) = match rest.split_once('#') {
        Some((a, n)) => (a, Some(n)),
        None => (rest, None),
    };
    let addr = parse_addr(addr, DOT_PORT).map_err(|m| format!("{s:?}: {m}"))?;
    let tls = match name {
        None => ServerName::IpAddress(addr.ip().into()),
        Some(n) => server_name(n).map_err(|m| format!("{s:?}: {m}"))?,
    };
    Ok(Target {
        addr,
        tls: Some(tls),
    })
}

/// The `#SERVER_NAME` of a TLS upstream: a host name (what its certificate must match) or an
/// IP address.
fn server_name(n: &str) -> Result<TlsName, String> {
    if n.is_empty() {
        return Err("the server name after `#` is empty".into());
    }
    if let Ok(ip) = n.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    // A trailing dot is how DNS people write names; certificates carry none.
    let bare = n.strip_suffix('.').unwrap_or(n);
    ServerName::try_from(bare.to_string()).map_err(|_| {
        format!("server name {n:?} is not a valid host name (letters, digits, `-` and `.`)")
    })
}

/// The client configuration of every TLS upstream: TLS 1.2 and 1.3 with the ring provider;
/// trust roots: the certificates of `ca_file` when given (a private CA: they replace the
/// public roots, as CoreDNS's `tls CERT KEY CA` does), else the Mozilla roots of
/// `webpki-roots`, built into the binary (the `FROM scratch` image has no /etc/ssl).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(p) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: not PEM certificates: {e}", p.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: no certificate in it", p.display()));
            }
            for (i, c) in certs.into_iter().enumerate() {
                roots
                    .add(c)
                    .map_err(|e| format!("{}: certificate {}: {e}", p.display(), i + 1))?;
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// A failed TLS handshake, as the SERVFAIL's EDE text says it: "TLS: certificate not valid for
/// dns.example", "TLS: certificate issuer not trusted", ...
pub fn handshake_error(e: &std::io::Error, name: &TlsName) -> String {
    let name = match name {
        ServerName::DnsName(n) => n.as_ref().to_string(),
        ServerName::IpAddress(ip) => IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    };
    let tls = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(c)) => match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("TLS: certificate not valid for {name}")
            }
            CertificateError::UnknownIssuer => {
                format!("TLS: certificate of {name} not issued by a trusted CA")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("TLS: certificate of {name} expired")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("TLS: certificate of {name} not valid yet")
            }
            other => format!("TLS: certificate of {name} rejected: {other:?}"),
        },
        Some(other) => format!("TLS handshake with {name} failed: {other}"),
        None => format!("TLS handshake with {name} failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn addr(s: &str, port: u16) -> Result<SocketAddr, String> {
        s.parse::<SocketAddr>()
            .or_else(|_| {
                s.trim_matches(|c| c == '[' || c == ']')
                    .parse::<IpAddr>()
                    .map(|ip| SocketAddr::new(ip, port))
            })
            .map_err(|_| format!("{s:?} is not an address"))
    }

    #[test]
    fn upstreams_as_written() {
        let t = parse_target("tls://9.9.9.9#dns.quad9.net", addr).unwrap();
        assert_eq!(t.addr, "9.9.9.9:853".parse().unwrap());
        assert_eq!(t.label(), "tls://9.9.9.9:853#dns.quad9.net");
        let t = parse_target("TLS://127.0.0.1:8853#dns.example.", addr).unwrap();
        assert_eq!(t.label(), "tls://127.0.0.1:8853#dns.example");
        let t = parse_target("tls://1.1.1.1", addr).unwrap();
        assert_eq!(t.label(), "tls://1.1.1.1:853");
        assert!(matches!(t.tls, Some(ServerName::IpAddress(_))));
        let t = parse_target("tls://[2001:db8::53]#dns.example", addr).unwrap();
        assert_eq!(t.label(), "tls://[2001:db8::53]:853#dns.example");
        let t = parse_target("192.0.2.1", addr).unwrap();
        assert_eq!((t.label(), t.tls), ("192.0.2.1:53".into(), None));
        // Reading a label back gives the same upstream.
        for l in ["tls://9.9.9.9:853#dns.quad9.net", "tls://1.1.1.1:853"] {
            assert_eq!(parse_target(l, addr).unwrap().label(), l);
        }
    }

    #[test]
    fn bad_upstreams_say_what_is_wrong() {
        let e = parse_target("tls://9.9.9.9#bad_name!", addr).unwrap_err();
        assert!(
            e.contains("server name \"bad_name!\" is not a valid host name"),
            "{e}"
        );
        let e = parse_target("tls://9.9.9.9#", addr).unwrap_err();
        assert!(e.contains("empty"), "{e}");
        let e = parse_target("tls://dns.quad9.net#dns.quad9.net", addr).unwrap_err();
        assert!(e.contains("not an address"), "{e}");
        let e = parse_target("https://9.9.9.9/dns-query", addr).unwrap_err();
        assert!(e.contains("unknown scheme"), "{e}");
    }

    #[test]
    fn ca_files_are_checked() {
        let e = client_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(e.contains("cannot read /nonexistent/ca.pem"), "{e}");
        let dir = std::env::temp_dir().join(format!("dnspect-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("empty.pem");
        std::fs::write(&p, "not a certificate\n").unwrap();
        let e = client_config(Some(&p)).unwrap_err();
        assert!(e.contains("no certificate"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(client_config(None).is_ok());
    }
}
