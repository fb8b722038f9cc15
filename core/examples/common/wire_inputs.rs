//! The wire benchmark's inputs, shared by `benches/wire.rs` and `examples/wire_icount.rs`
//! (included with `#[path]`; not an example of its own).

/// A typical answer to `www.example.com. IN A` through a CDN, 124 bytes: the question, a CNAME
/// to `www.example.com.cdn.cloudflare.net.`, two A records for the target and an OPT record (UDP
/// 1232, no options). Already optimally compressed, so `Message::to_wire` reproduces it byte for
/// byte.
pub fn www_example_com() -> Vec<u8> {
    let mut m = Vec::with_capacity(124);
    // Header: id 0x1234, flags qr rd ra (0x8180), QD 1, AN 3, NS 0, AR 1.
    m.extend_from_slice(&[0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 1]);
    // Question at offset 12: www.example.com. A IN.
    m.extend_from_slice(b"\x03www\x07example\x03com\x00");
    m.extend_from_slice(&[0, 1, 0, 1]);
    // Answer 1 at offset 33: owner -> 12, CNAME IN, TTL 300, RDLENGTH 36.
    m.extend_from_slice(&[0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0x01, 0x2c, 0, 36]);
    // RDATA at offset 45: www.example.com.cdn.cloudflare.net. in full (36 bytes): no earlier name
    // is a suffix of it.
    m.extend_from_slice(b"\x03www\x07example\x03com\x03cdn\x0acloudflare\x03net\x00");
    // Answers 2 and 3 at 81 and 97: owner -> 45 (the CNAME target), A IN, TTL 60, RDLENGTH 4.
    for addr in [[104, 16, 123, 96], [104, 16, 124, 96]] {
        m.extend_from_slice(&[0xc0, 0x2d, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(&addr);
    }
    // OPT at 113: root owner, type 41, UDP size 1232, ext-rcode 0, version 0, flags 0, RDLENGTH 0.
    m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(m.len(), 124, "www.example.com response");
    m
}

fn unhex(s: &str) -> Vec<u8> {
    dnspect_core::wire::text::unhex(s.trim()).expect("seed hex")
}

/// The incident's uncompressed answer (758 bytes).
pub fn seed_uncompressed() -> Vec<u8> {
    let b = unhex(include_str!("../../tests/data/seed000-uncompressed.hex"));
    assert_eq!(b.len(), 758, "seed000-uncompressed");
    b
}

/// The same answer compressed (358 bytes).
pub fn seed_compressed() -> Vec<u8> {
    let b = unhex(include_str!("../../tests/data/seed000-compressed.hex"));
    assert_eq!(b.len(), 358, "seed000-compressed");
    b
}

/// Every input: (name used as criterion group and on the command line, bytes).
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("seed000-uncompressed-758", seed_uncompressed()),
        ("seed000-compressed-358", seed_compressed()),
        ("www-example-com-124", www_example_com()),
    ]
}
