//! Example packets shipped with dnspect: the two incidents and a few everyday answers. The CLI's
//! `--example`, the npm package and the web page all load them from here.

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
];

/// Looks an example up by name.
pub fn example(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}
