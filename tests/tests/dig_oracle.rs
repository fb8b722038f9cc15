//! dig as the oracle of presentation text: Knot DNS serves a zone with one RRset of each record
//! type dnspect shows (the everyday ones and the rare ones read field by field in
//! `core/src/wire/rdfields.rs`); for each, the answer's bytes (one UDP query from here) go
//! through dnspect-core, and every record's RDATA text must equal the text dig prints for the
//! same question (types Knot's zone parser lacks are written in RFC 3597 `\#` form, which dig
//! then prints typed),
//! after joining the whitespace dig puts inside long base64 and hex blobs (dig
//! breaks them every 56 characters). dnspect's presentation follows dig's (docs: "as dig prints
//! it"): LOC's metres, EUI48's case, CERT's mnemonics and SVCB's quoting must be dig's. Two
//! differences are dnspect's on purpose, each allowed by its RFC and written down in
//! [`legitimate`]: the hex digits of RFC 3597's `\#` form (lowercase, as dnspython writes them)
//! and the leading zeros of an ILNP locator's groups (kept, as RFC 6742's examples write them).
#![allow(clippy::unwrap_used)]
use std::net::UdpSocket;
use std::time::Duration;

use dnspect_core::wire::{Message, Name, Question, RType};
use dnspect_tests::*;

const ZONE: &str = r#"$ORIGIN example.test.
$TTL 300
@ IN SOA ns.example.test. host.example.test. 1 3600 600 86400 60
@ IN NS ns
ns IN A 127.0.0.1
a IN A 192.0.2.1
a IN AAAA 2001:db8::1
@ IN MX 10 mail
mail IN A 192.0.2.25
txt IN TXT "v=spf1 -all" "second \"string\""
@ IN CAA 0 issue "ca.example.net"
_443._tcp.www IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
svc IN HTTPS 1 . alpn=h2,h3 ipv4hint=192.0.2.1 ipv6hint=2001:db8::1
svc2 IN SVCB 0 svc.example.test.
_sip._udp IN SRV 10 60 5060 sip
sip IN NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp.example.test.
loc IN LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m
loc2 IN LOC 42 21 54 N 71 6 18 W -24m 30m
uri IN URI 10 1 "ftp://ftp1.example.com/public"
rp IN RP mbox.example.test. txt.example.test.
afsdb IN AFSDB 1 afs.example.test.
rt IN RT 10 relay.example.test.
kx IN KX 10 kx.example.test.
px IN TYPE26 \# 45 000a066d6170383232076578616d706c65047465737400076d617078343030076578616d706c65047465737400
x25 IN TYPE19 \# 13 0c333131303631373030393536
isdn IN TYPE20 \# 20 0f31353038363230323830303332313703303034
minfo IN MINFO rmail.example.test. email.example.test.
mb IN TYPE7 \# 23 086d61696c686f7374076578616d706c65047465737400
gpos IN TYPE27 \# 24 082d32322e36383832083131362e38363532053235302e30
eui IN EUI48 00-00-5e-00-53-2a
eui64 IN EUI64 00-00-5e-ef-10-00-00-2a
key IN OPENPGPKEY AQMFD5raczCJHViKtLYhWGz8hMY9UGRuniJDBzC7w0aR
ssh IN SSHFP 4 2 C76D8329954DA2835751E371544E963EFDA099080D6C58DD2BFD9A316E162C83
hinfo IN HINFO "PC" "Linux"
csync IN CSYNC 1 3 A NS AAAA
zonemd IN ZONEMD 1 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
cert IN CERT PKIX 1 RSASHA256 MxFcby9k/yvedMfQgKzhH5er0Mu/vILz45IkskceFGgiWCn/GxHhai6VAuHAoNUz4YoU1tVfSCSqQYn6//11U6Nld80jEeC8aTrO+KKmCaY=
apl IN APL 1:192.168.32.0/21 !1:192.168.38.0/28 2:2001:db8::/32
dhcid IN DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=
wks IN TYPE11 \# 12 c00002010600000440000004
nid IN NID 10 0014:4fff:ff20:ee64
l32 IN L32 10 10.1.2.0
l64 IN L64 10 2001:0db8:1140:1000
lp IN LP 10 l64.example.test.
ipsec IN IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==
ipsec6 IN IPSECKEY 10 2 2 2001:db8::1 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==
ipsecn IN IPSECKEY 10 3 2 gw.example.test. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==
ipsec0 IN IPSECKEY 10 0 2 . AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==
hip IN TYPE55 \# 170 10020084200100107b1a74df365639cc39f1d57803010001b771ca136e4aeb5ce44333c53b3d2c13c22243851fc708bcce29f7e2eb5787b5f56ccad34f8223acc10904ddb56b2ec4a6d6232f3b50ea094f0914b3b941bbe529af582c36bbadefdaf2adaf9b4911906f5b2522603c615272b880ec8fb930cc6ee39c444daa75b1678f005a4b2499d1da5433f805c7a5ad3237acc5dd5c5e4303727673076578616d706c65047465737400
ds IN DS 12892 5 2 26584835CA80C81C91999F31CFAF2A0E89D4FF1C8FAFD0DDB31A85C719277C13
dnskey IN DNSKEY 257 3 13 6ndJ6PiDP6CCMjj8Q4EsmM32BpfMPdovH2I150eI4VDfv519FphOpbmcP4JS0F/pRijUZNqQhSa3xB3FmCWBXw==
nsec3param IN NSEC3PARAM 1 0 0 -
nsec IN NSEC z.example.test. A MX RRSIG NSEC TYPE1234
unk IN TYPE65280 \# 4 0A000001
"#;

/// (owner, type) of each RRset in the zone to compare.
const ASK: &[(&str, &str)] = &[
    ("a", "A"),
    ("a", "AAAA"),
    ("@", "MX"),
    ("txt", "TXT"),
    ("@", "CAA"),
    ("_443._tcp.www", "TLSA"),
    ("svc", "HTTPS"),
    ("svc2", "SVCB"),
    ("_sip._udp", "SRV"),
    ("sip", "NAPTR"),
    ("loc", "LOC"),
    ("loc2", "LOC"),
    ("uri", "URI"),
    ("rp", "RP"),
    ("afsdb", "AFSDB"),
    ("rt", "RT"),
    ("kx", "KX"),
    ("px", "PX"),
    ("x25", "X25"),
    ("isdn", "ISDN"),
    ("minfo", "MINFO"),
    ("mb", "MB"),
    ("gpos", "GPOS"),
    ("eui", "EUI48"),
    ("eui64", "EUI64"),
    ("key", "OPENPGPKEY"),
    ("ssh", "SSHFP"),
    ("hinfo", "HINFO"),
    ("csync", "CSYNC"),
    ("zonemd", "ZONEMD"),
    ("cert", "CERT"),
    ("apl", "APL"),
    ("dhcid", "DHCID"),
    ("wks", "WKS"),
    ("nid", "NID"),
    ("l32", "L32"),
    ("l64", "L64"),
    ("lp", "LP"),
    ("ipsec", "IPSECKEY"),
    ("ipsec6", "IPSECKEY"),
    ("ipsecn", "IPSECKEY"),
    ("ipsec0", "IPSECKEY"),
    ("hip", "HIP"),
    ("ds", "DS"),
    ("dnskey", "DNSKEY"),
    ("nsec3param", "NSEC3PARAM"),
    ("nsec", "NSEC"),
    ("unk", "TYPE65280"),
    ("@", "SOA"),
];

/// The answer's bytes for `name type`, asked here over UDP (no EDNS, no recursion).
fn ask(port: u16, name: &str, rtype: RType) -> Vec<u8> {
    let mut q = Message::default();
    q.header.id = 0x5151;
    q.questions.push(Question {
        name: name.parse::<Name>().unwrap(),
        qtype: rtype,
        class: dnspect_core::wire::Class::IN,
    });
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(&q.to_wire().unwrap(), ("127.0.0.1", port))
        .unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf).expect("an answer from knotd");
    buf.truncate(n);
    buf
}

/// dig's RDATA text of an answer line, with the spaces dig puts inside long base64/hex blobs
/// removed: tokens after the type whose neighbours are both blob-like are joined.
fn dig_rdata(line: &str) -> String {
    let fields: Vec<&str> = line.split_whitespace().collect();
    fields.get(4..).map(|f| f.join(" ")).unwrap_or_default()
}

/// Joins the whitespace-separated pieces of a base64 or hex blob the way dig splits them (every
/// 56 characters): a piece of exactly 56 blob characters is glued to the next.
fn unsplit(text: &str) -> String {
    let blob = |t: &str| {
        t.len() == 56
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
    };
    let mut out = String::new();
    let toks: Vec<&str> = text.split(' ').collect();
    for (i, t) in toks.iter().enumerate() {
        out.push_str(t);
        if i + 1 < toks.len() && !blob(t) {
            out.push(' ');
        }
    }
    out
}

/// dig's text where dnspect differs on purpose, mapped to dnspect's form:
/// * RFC 3597 5: the `\#` form's data is "hexadecimal"; digits are case-insensitive. dig
///   writes uppercase, dnspect lowercase (as dnspython, and as it writes any other hex blob
///   that is not a digest).
/// * RFC 6742 2.1.2 and 2.3.2: NID and L64 are four 16-bit values in hex separated by colons;
///   the RFC's examples (`NID 10 0014:4fff:ff20:ee64`) keep leading zeros, dig drops them.
fn legitimate(rtype: RType, dig_text: &str) -> String {
    if dig_text.starts_with("\\# ") {
        return dig_text.to_ascii_lowercase();
    }
    if matches!(rtype, RType::NID | RType::L64) {
        if let Some((pref, loc)) = dig_text.split_once(' ') {
            let groups: Vec<String> = loc.split(':').map(|g| format!("{:0>4}", g)).collect();
            return format!("{pref} {}", groups.join(":"));
        }
    }
    dig_text.to_string()
}

#[test]
fn rdata_text_is_digs() {
    require("dig");
    let dir = temp_dir("dig-oracle");
    let port = free_port();
    let (knot, _tap) = start_knot(&dir, port, &[("example.test.", ZONE.to_string())]);
    let mut compared = 0;
    let mut wrong = Vec::new();
    for (owner, ty) in ASK {
        let name = if *owner == "@" {
            "example.test.".to_string()
        } else {
            format!("{owner}.example.test.")
        };
        let rtype = RType::from_mnemonic(ty).unwrap();
        let wire = ask(port, &name, rtype);
        let m = Message::from_wire(&wire).unwrap_or_else(|e| panic!("{name} {ty}: {e}"));
        let out = dig(port, &[&name, ty, "+norecurse", "+noedns"]);
        let theirs: Vec<String> = answer_lines(&out)
            .iter()
            .map(|l| legitimate(rtype, &unsplit(&dig_rdata(l))))
            .collect();
        let ours: Vec<String> = m.answers.iter().map(|r| r.rdata.to_string()).collect();
        assert!(!ours.is_empty(), "{name} {ty}: no answer\n{out}");
        compared += ours.len();
        if theirs != ours {
            wrong.push(format!(
                "{name} {ty}:\n  dig     {theirs:?}\n  dnspect {ours:?}"
            ));
        }
    }
    stop(knot);
    assert!(
        wrong.is_empty(),
        "dnspect's RDATA text differs from dig's:\n{}",
        wrong.join("\n")
    );
    assert!(compared >= ASK.len(), "only {compared} records compared");
    eprintln!(
        "{compared} records of {} RRsets read as dig prints them",
        ASK.len()
    );
}
