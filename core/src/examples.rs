//! Example packets shipped with dnspect: the packets of the incident library
//! ([`crate::incidents`]) and a few everyday answers. The CLI's `--example`, the npm package and
//! the web page all load them from here. The incident packets after the two seeds are built from
//! zone lines with the core's encoder (`incidents::tests::examples_are_the_builders_output`
//! rebuilds each one and compares).

/// An example message: a short name, what it shows, and its bytes as hex.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Example {
    pub name: &'static str,
    pub title: &'static str,
    pub hex: &'static str,
}

pub const EXAMPLES: &[Example] = &[
    Example {
        name: "incident-000",
        title: "Incident 000: a 758-byte answer with 20 A records and no name compression",
        hex: include_str!("../tests/data/seed000-uncompressed.hex"),
    },
    Example {
        name: "incident-000-compressed",
        title: "Incident 000, compressed: the same answer in 358 bytes",
        hex: include_str!("../tests/data/seed000-compressed.hex"),
    },
    Example {
        name: "nodata",
        title: "Incident 004: a NODATA answer for sonatype.map.fastly.net with its SOA",
        hex: include_str!("../tests/data/nodata-soa.hex"),
    },
    Example {
        name: "cname",
        title: "www.example.com: a CNAME and two A records, with EDNS",
        hex: include_str!("../tests/data/cname-a.hex"),
    },
    Example {
        name: "coredns-5998",
        title: "coredns/coredns#5998: a 534-byte answer (30 A records, compressed) for a client without EDNS",
        hex: include_str!("../tests/data/coredns-5998.hex"),
    },
    Example {
        name: "coredns-5366",
        title: "coredns/coredns#5366: a 561-byte answer carrying OPT, as sent to a client that sent none",
        hex: include_str!("../tests/data/coredns-5366.hex"),
    },
    Example {
        name: "coredns-7956-servfail",
        title: "coredns/coredns#7956: the transient SERVFAIL that was cached over a positive answer",
        hex: include_str!("../tests/data/coredns-7956-servfail.hex"),
    },
    Example {
        name: "hickory-2608-truncated",
        title: "hickory-dns/hickory-dns#2608: a TC=1 answer with 4 A records, incomplete",
        hex: include_str!("../tests/data/hickory-2608-truncated.hex"),
    },
    Example {
        name: "kubernetes-dns-121-nodata",
        title: "kubernetes/dns#121: z.alp.im NOERROR with no answer and Cloudflare's SOA (from the thread's dig)",
        hex: include_str!("../tests/data/kubernetes-dns-121-nodata.hex"),
    },
    Example {
        name: "pdns-3469-servfail",
        title: "PowerDNS/pdns#3469: a SERVFAIL, cacheable 1 s to 5 minutes, never forever",
        hex: include_str!("../tests/data/pdns-3469-servfail.hex"),
    },
];

/// Looks an example up by name.
pub fn example(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}
