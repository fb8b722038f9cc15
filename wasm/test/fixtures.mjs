// Shared inputs of the package tests (not a test file: node --test runs only *.test.*).
import { readFileSync } from "node:fs";

export function fromHex(hex) {
  const clean = hex.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const data = new URL("../../core/tests/data/", import.meta.url);

/** The incident's uncompressed answer: 758 bytes, 20 A records, no compression. */
export const seed758 = fromHex(readFileSync(new URL("seed000-uncompressed.hex", data), "utf8"));
/** The same answer compressed: 358 bytes. */
export const seed358 = fromHex(readFileSync(new URL("seed000-compressed.hex", data), "utf8"));

/**
 * A typical answer to www.example.com A through a CDN, 124 bytes (the wire benchmark's input,
 * core/examples/common/wire_inputs.rs): the question, a CNAME to
 * www.example.com.cdn.cloudflare.net., two A records for it and an OPT record (UDP 1232).
 */
export function wwwExample() {
  const m = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 1];
  const labels = (...ls) => {
    for (const l of ls) m.push(l.length, ...Buffer.from(l, "ascii"));
    m.push(0);
  };
  labels("www", "example", "com");
  m.push(0, 1, 0, 1);
  m.push(0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0x01, 0x2c, 0, 36);
  labels("www", "example", "com", "cdn", "cloudflare", "net");
  for (const addr of [
    [104, 16, 123, 96],
    [104, 16, 124, 96],
  ]) {
    m.push(0xc0, 0x2d, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...addr);
  }
  m.push(0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0);
  if (m.length !== 124) throw new Error(`www.example.com response is ${m.length} bytes`);
  return new Uint8Array(m);
}

const rr = (name, type, rdata, ttl = 3600) => ({ name, type, class: "IN", ttl, rdata });

/**
 * One record of every RDATA layout the core types (docs/json-schema.md's table), in the canonical
 * form decode() returns, so that decode(encode(m)) deep-equals m.
 */
export function allTypesMessage() {
  const z = "example.com.";
  return {
    header: {
      id: 4242,
      qr: true,
      opcode: "QUERY",
      aa: true,
      tc: false,
      rd: true,
      ra: true,
      z: false,
      ad: true,
      cd: false,
      rcode: 0,
    },
    questions: [{ name: z, type: "ANY", class: "IN" }],
    answers: [
      rr(z, "A", { kind: "a", address: "192.0.2.1" }),
      rr(z, "AAAA", { kind: "aaaa", address: "2001:db8::1" }),
      rr(z, "AAAA", { kind: "aaaa", address: "::ffff:192.0.2.7" }),
      rr(z, "NS", { kind: "name", target: "ns1.example.com." }),
      rr(`www.${z}`, "CNAME", { kind: "name", target: z }),
      rr(`old.${z}`, "DNAME", { kind: "name", target: "new.example." }),
      rr("1.2.0.192.in-addr.arpa.", "PTR", { kind: "name", target: `host.${z}` }),
      rr(z, "SOA", {
        kind: "soa",
        mname: "ns1.example.com.",
        rname: "hostmaster.example.com.",
        serial: 2024010101,
        refresh: 7200,
        retry: 3600,
        expire: 1209600,
        minimum: 300,
      }),
      rr(z, "MX", { kind: "mx", preference: 10, exchange: `mail.${z}` }),
      rr(z, "TXT", { kind: "txt", strings: ["v=spf1 -all", 'say \\"hi\\"', "\\000\\255 bytes", ""] }),
      rr(z, "SPF", { kind: "txt", strings: ["v=spf1 include:_spf.example.com ~all"] }),
      rr(z, "HINFO", { kind: "hinfo", cpu: "x86_64", os: "Linux" }),
      rr(`_sip._tcp.${z}`, "SRV", { kind: "srv", priority: 10, weight: 60, port: 5060, target: `sip.${z}` }),
      rr(z, "NAPTR", {
        kind: "naptr",
        order: 100,
        preference: 10,
        flags: "S",
        services: "SIP+D2U",
        regexp: "",
        replacement: `_sip._udp.${z}`,
      }),
      rr(z, "CAA", { kind: "caa", flags: 0, tag: "issue", value: "letsencrypt.org" }),
      rr(z, "DS", { kind: "ds", key_tag: 60485, algorithm: 13, digest_type: 2, digest: "2bb183af5f22588179a53b0a98631fad1a292118" }),
      rr(z, "CDS", { kind: "ds", key_tag: 60485, algorithm: 13, digest_type: 2, digest: "0123456789abcdef" }),
      rr(z, "DNSKEY", { kind: "dnskey", flags: 257, protocol: 3, algorithm: 13, public_key: "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==" }),
      rr(z, "CDNSKEY", { kind: "dnskey", flags: 257, protocol: 3, algorithm: 8, public_key: "AwEAAQ==" }),
      rr(z, "RRSIG", {
        kind: "rrsig",
        type_covered: "A",
        algorithm: 13,
        labels: 2,
        original_ttl: 3600,
        expiration: 1700000000,
        inception: 1690000000,
        key_tag: 60485,
        signer: z,
        signature: "c2lnbmF0dXJl",
      }),
      rr(z, "NSEC", { kind: "nsec", next: `a.${z}`, types: ["A", "NS", "SOA", "MX", "RRSIG", "NSEC", "DNSKEY", "TYPE65280"] }),
      rr(`2t7b4g4vsa5smi47k61mv5bv1a22bojr.${z}`, "NSEC3", {
        kind: "nsec3",
        hash_algorithm: 1,
        flags: 1,
        iterations: 0,
        salt: "aabbccdd",
        next_hashed: "2T7B4G4VSA5SMI47K61MV5BV1A22BOJR",
        types: ["A", "RRSIG"],
      }),
      rr(z, "NSEC3PARAM", { kind: "nsec3param", hash_algorithm: 1, flags: 0, iterations: 0, salt: "" }),
      rr(`_443._tcp.${z}`, "TLSA", { kind: "tlsa", usage: 3, selector: 1, matching_type: 1, data: "d2abde240d7cd3ee6b4b28c54df034b97983a1d16e8a410e4561cb106618e971" }),
      rr(z, "SMIMEA", { kind: "tlsa", usage: 3, selector: 0, matching_type: 0, data: "30820122" }),
      rr(z, "SSHFP", { kind: "sshfp", algorithm: 4, fingerprint_type: 2, fingerprint: "123456789abcdef67890123456789abcdef67890123456789abcdef123456789" }),
      rr(z, "HTTPS", {
        kind: "svcb",
        priority: 1,
        target: ".",
        params: [
          { key: "mandatory", keys: [1] },
          { key: "alpn", ids: ["h2", "h3"] },
          { key: "no-default-alpn" },
          { key: "port", port: 8443 },
          { key: "ipv4hint", addresses: ["192.0.2.1", "192.0.2.2"] },
          { key: "ech", config: "AEX+DQBB" },
          { key: "ipv6hint", addresses: ["2001:db8::1"] },
          { key: "dohpath", template: "/dns-query{?dns}" },
          { key: "unknown", number: 65000, value: "hello" },
        ],
      }),
      rr(`_dns.${z}`, "SVCB", { kind: "svcb", priority: 0, target: `svc.${z}`, params: [] }),
      rr(z, "TYPE65280", { kind: "unknown", data: "deadbeef" }),
      rr(z, "TYPE999", { kind: "unknown", data: "" }),
    ],
    authority: [rr(z, "NS", { kind: "name", target: "ns2.example.com." }, 86400)],
    additional: [
      rr("ns1.example.com.", "A", { kind: "a", address: "192.0.2.53" }, 86400),
      { name: "version.bind.", type: "TXT", class: "CH", ttl: 0, rdata: { kind: "txt", strings: ["9.18"] } },
    ],
    edns: {
      udp_size: 1232,
      ext_rcode: 0,
      version: 0,
      dnssec_ok: true,
      z: 0,
      options: [
        { option: "nsid", id: "6e73312e6c6f6e" },
        { option: "client_subnet", family: 1, source_prefix: 24, scope_prefix: 0, address: "c00002" },
        { option: "cookie", client: "0102030405060708", server: "1112131415161718" },
        { option: "keepalive", timeout: 300 },
        { option: "padding", data: "0000" },
        { option: "extended_error", code: 18, text: "prohibited" },
        { option: "unknown", code: 65001, data: "abcd" },
      ],
    },
  };
}
