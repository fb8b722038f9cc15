//! `/etc/hosts` text: `ADDRESS NAME [ALIAS...]` per line, `#` comments, blank lines. Parsed
//! strictly: a line that is not an address followed by names is an error with its line and
//! field, so a typo is reported rather than silently ignored (glibc skips such lines).

use std::net::IpAddr;

use crate::wire::Name;

/// One usable line of a hosts file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostsLine {
    /// 1-based line number in the text.
    pub line: usize,
    pub address: IpAddr,
    /// The canonical name first, then the aliases (all absolute).
    pub names: Vec<Name>,
}

/// What is wrong with a hosts file, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostsError {
    pub line: usize,
    /// 1-based field (column of whitespace-separated words): 1 is the address.
    pub field: usize,
    pub message: String,
}

impl core::fmt::Display for HostsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "line {}, field {}: {}",
            self.line, self.field, self.message
        )
    }
}

/// Parses hosts-file text.
pub fn parse_hosts(text: &str) -> Result<Vec<HostsLine>, HostsError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or("");
        let mut words = content.split_whitespace();
        let Some(addr) = words.next() else { continue };
        let err = |field: usize, message: String| HostsError {
            line,
            field,
            message,
        };
        // A scope (`fe80::1%eth0`) says nothing to DNS: the address without it.
        let bare = addr.split('%').next().unwrap_or(addr);
        let address: IpAddr = bare.parse().map_err(|_| {
            err(
                1,
                format!(
                    "{addr:?} is not an IPv4 or IPv6 address (expected ADDRESS NAME [ALIAS...])"
                ),
            )
        })?;
        let mut names = Vec::new();
        for (j, w) in words.enumerate() {
            let name = parse_host_name(w).map_err(|m| err(j + 2, m))?;
            names.push(name);
        }
        if names.is_empty() {
            return Err(err(2, format!("address {addr} has no host name")));
        }
        out.push(HostsLine {
            line,
            address,
            names,
        });
    }
    Ok(out)
}

/// A host name as hosts files write it (no trailing dot needed), absolute.
fn parse_host_name(w: &str) -> Result<Name, String> {
    let bad = |why: &str| format!("{w:?} is not a host name: {why}");
    if w.contains('\\') || w.contains('"') {
        return Err(bad("escapes and quotes are not allowed"));
    }
    if w.starts_with('.') || w.contains("..") {
        return Err(bad("empty label"));
    }
    let abs = if w.ends_with('.') {
        w.to_string()
    } else {
        format!("{w}.")
    };
    abs.parse::<Name>().map_err(|e| bad(&e.to_string()))
}

/// The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa.` or the 32 nibbles under
/// `ip6.arpa.` (RFC 1035 3.5, RFC 3596 2.5).
pub fn reverse_name(a: IpAddr) -> Name {
    let text = match a {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(73);
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s.push_str("ip6.arpa.");
            s
        }
    };
    text.parse().unwrap_or_else(|_| Name::root())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_typical_hosts_file() {
        let t = "# comment\n127.0.0.1\tlocalhost\n\n::1 localhost ip6-localhost  # trailing\n\
                 192.168.1.10 nas.lab nas\nfe80::1%eth0 router\n";
        let h = parse_hosts(t).unwrap();
        assert_eq!(h.len(), 4);
        assert_eq!(h[0].line, 2);
        assert_eq!(h[2].names[0].to_string(), "nas.lab.");
        assert_eq!(h[2].names[1].to_string(), "nas.");
        assert_eq!(h[3].address, "fe80::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = parse_hosts("127.0.0.1 localhost\n300.1.1.1 bad\n").unwrap_err();
        assert_eq!((e.line, e.field), (2, 1));
        assert!(e.message.contains("300.1.1.1"), "{e}");
        let e = parse_hosts("\n\n10.0.0.1\n").unwrap_err();
        assert_eq!((e.line, e.field), (3, 2));
        let e = parse_hosts("10.0.0.1 ok a..b\n").unwrap_err();
        assert_eq!((e.line, e.field), (1, 3));
        let long = "a".repeat(64);
        let e = parse_hosts(&format!("10.0.0.1 {long}.lab\n")).unwrap_err();
        assert_eq!((e.line, e.field), (1, 2));
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap()).to_string(),
            "1.2.0.192.in-addr.arpa."
        );
        let r = reverse_name("2001:db8::1".parse().unwrap()).to_string();
        assert!(r.starts_with("1.0.0.0.0.0.0.0."), "{r}");
        assert!(r.ends_with("8.b.d.0.1.0.0.2.ip6.arpa."), "{r}");
    }

    proptest::proptest! {
        /// Any text: parsed or refused with a line inside the text and a field, never a panic;
        /// every parsed line answers its reverse name.
        #[test]
        fn any_text_parses_or_names_its_line(text in "([0-9a-f:.%# \t\\-]{0,40}[a-z.]{0,20}\n?){0,6}") {
            match parse_hosts(&text) {
                Ok(lines) => {
                    for l in lines {
                        proptest::prop_assert!(!l.names.is_empty());
                        proptest::prop_assert!(!reverse_name(l.address).is_root());
                    }
                }
                Err(e) => {
                    proptest::prop_assert!(e.line >= 1 && e.line <= text.lines().count());
                    proptest::prop_assert!(e.field >= 1);
                }
            }
        }
    }
}
