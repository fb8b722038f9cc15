// Cross-checks against the npm package dns-packet on shared inputs: both read the same names,
// types, TTLs and data; and the compression difference made visible: dns-packet writes names in
// full, so the 358-byte incident answer comes back 758 bytes long, while dnspect keeps it at 358.
import { test } from "node:test";
import assert from "node:assert/strict";
import dnsPacket from "dns-packet";

import { decode, encode, examples, parsePaste } from "dnspect";
import { seed358, seed758, wwwExample } from "./fixtures.mjs";

/** dns-packet writes names without the final dot, and the root as ".". */
const bare = (name) => (name === "." ? "." : name.replace(/\.$/, ""));

/** Unescapes dnspect's character-string presentation (`\"`, `\\`, `\DDD`) into bytes. */
function unescape(s) {
  const out = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "\\") out.push(s.charCodeAt(i));
    else if (/^\d{3}$/.test(s.slice(i + 1, i + 4))) {
      out.push(Number(s.slice(i + 1, i + 4)));
      i += 3;
    } else out.push(s.charCodeAt(++i));
  }
  return Buffer.from(out);
}

/** dns-packet's `data` for a dnspect record, per type. */
function expectedData(r) {
  const d = r.rdata;
  switch (d.kind) {
    case "a":
    case "aaaa":
      return d.address;
    case "name":
      return bare(d.target);
    case "mx":
      return { preference: d.preference, exchange: bare(d.exchange) };
    case "soa":
      return {
        mname: bare(d.mname),
        rname: bare(d.rname),
        serial: d.serial,
        refresh: d.refresh,
        retry: d.retry,
        expire: d.expire,
        minimum: d.minimum,
      };
    case "txt":
      return d.strings.map(unescape);
    case "srv":
      return { priority: d.priority, weight: d.weight, port: d.port, target: bare(d.target) };
    case "hinfo":
      return { cpu: d.cpu, os: d.os };
    case "caa":
      return { flags: d.flags, tag: d.tag, value: d.value, issuerCritical: (d.flags & 128) !== 0 };
    case "ds":
      return {
        keyTag: d.key_tag,
        algorithm: d.algorithm,
        digestType: d.digest_type,
        digest: Buffer.from(d.digest, "hex"),
      };
    default:
      throw new Error(`no dns-packet mapping for ${d.kind}`);
  }
}

/** Both libraries read `bytes` the same way: names, types, classes, TTLs and data. */
function assertSameReading(bytes, label) {
  const ours = decode(bytes);
  const theirs = dnsPacket.decode(Buffer.from(bytes));
  assert.equal(theirs.id, ours.header.id, label);
  assert.equal(theirs.flag_qr, ours.header.qr, label);
  assert.equal(theirs.flag_rd, ours.header.rd, label);
  assert.equal(theirs.flag_aa, ours.header.aa, label);
  assert.deepEqual(
    theirs.questions.map((q) => [q.name, q.type, q.class]),
    ours.questions.map((q) => [bare(q.name), q.type, q.class]),
    label,
  );
  const pairs = [
    [ours.answers, theirs.answers],
    [ours.authority, theirs.authorities],
    [ours.additional, theirs.additionals.filter((r) => r.type !== "OPT")],
  ];
  let compared = 0;
  for (const [mine, other] of pairs) {
    assert.equal(other.length, mine.length, label);
    mine.forEach((r, i) => {
      const o = other[i];
      const at = `${label}: ${r.name} ${r.type}`;
      assert.equal(o.name, bare(r.name), at);
      assert.equal(o.type, r.type, at);
      assert.equal(o.class, r.class, at);
      assert.equal(o.ttl, r.ttl, at);
      assert.deepEqual(o.data, expectedData(r), at);
      compared++;
    });
  }
  const opt = theirs.additionals.find((r) => r.type === "OPT");
  assert.equal(opt === undefined, ours.edns === null, label);
  if (opt) {
    assert.equal(opt.udpPayloadSize, ours.edns.udp_size, label);
    assert.equal(opt.flag_do, ours.edns.dnssec_ok, label);
  }
  return compared;
}

/** A message with the record types both libraries type. */
function mixed() {
  const rr = (name, type, ttl, rdata, cls = "IN") => ({ name, type, class: cls, ttl, rdata });
  return {
    header: { id: 999, qr: true, aa: true, rd: true, ra: true },
    questions: [{ name: "example.net.", type: "ANY" }],
    answers: [
      rr("example.net.", "A", 300, { kind: "a", address: "198.51.100.7" }),
      rr("example.net.", "AAAA", 300, { kind: "aaaa", address: "2001:db8:85a3::8a2e:370:7334" }),
      rr("example.net.", "NS", 86400, { kind: "name", target: "ns.example.net." }),
      rr("www.example.net.", "CNAME", 60, { kind: "name", target: "example.net." }),
      rr("7.100.51.198.in-addr.arpa.", "PTR", 3600, { kind: "name", target: "example.net." }),
      rr("example.net.", "MX", 3600, { kind: "mx", preference: 5, exchange: "mx.example.net." }),
      rr("example.net.", "TXT", 120, { kind: "txt", strings: ["hello world", 'quote \\" and \\\\', "\\001\\255"] }),
      rr("example.net.", "SOA", 3600, {
        kind: "soa",
        mname: "ns.example.net.",
        rname: "admin.example.net.",
        serial: 42,
        refresh: 1,
        retry: 2,
        expire: 3,
        minimum: 4,
      }),
      rr("_xmpp._tcp.example.net.", "SRV", 600, { kind: "srv", priority: 1, weight: 2, port: 5222, target: "xmpp.example.net." }),
      rr("example.net.", "CAA", 600, { kind: "caa", flags: 128, tag: "issue", value: "ca.example" }),
      rr("example.net.", "DS", 600, { kind: "ds", key_tag: 1234, algorithm: 8, digest_type: 2, digest: "00ff11ee" }),
      rr("example.net.", "HINFO", 600, { kind: "hinfo", cpu: "ARM", os: "Plan9" }),
    ],
    authority: [rr("example.net.", "NS", 86400, { kind: "name", target: "ns2.example.net." })],
    additional: [rr("ns.example.net.", "A", 86400, { kind: "a", address: "198.51.100.53" })],
    edns: { udp_size: 4096, dnssec_ok: true },
  };
}

test("dns-packet and dnspect read the built-in examples the same way", () => {
  let n = 0;
  for (const e of examples()) n += assertSameReading(parsePaste(e.hex).bytes, e.name);
  assert.ok(n >= 40, `${n} records compared`);
  assertSameReading(wwwExample(), "www.example.com");
});

test("dns-packet reads what dnspect encodes, record type by record type", () => {
  const bytes = encode(mixed());
  assert.equal(assertSameReading(bytes, "mixed"), 14);
});

test("dnspect reads what dns-packet encodes", () => {
  const packet = {
    type: "response",
    id: 77,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [{ type: "MX", name: "mail.example" }],
    answers: [
      { type: "MX", name: "mail.example", ttl: 30, data: { preference: 10, exchange: "mx1.mail.example" } },
      { type: "MX", name: "mail.example", ttl: 30, data: { preference: 20, exchange: "mx2.mail.example" } },
      { type: "TXT", name: "mail.example", ttl: 30, data: ["v=spf1 mx -all"] },
      { type: "AAAA", name: "mx1.mail.example", ttl: 30, data: "2001:db8::25" },
    ],
  };
  const bytes = new Uint8Array(dnsPacket.encode(packet));
  assertSameReading(bytes, "dns-packet's encoding");
  const m = decode(bytes);
  assert.deepEqual(m.answers[0].rdata, { kind: "mx", preference: 10, exchange: "mx1.mail.example." });
  // dns-packet does not compress; re-encoding with dnspect compresses the repeated names.
  assert.ok(encode(m).length < bytes.length, `${encode(m).length} < ${bytes.length}`);
});

test("the compression difference: dns-packet re-encodes the 358-byte seed answer as 758 bytes, dnspect as 358", () => {
  const theirs = dnsPacket.encode(dnsPacket.decode(Buffer.from(seed358)));
  assert.equal(theirs.length, 758);
  assert.deepEqual(new Uint8Array(theirs), seed758, "exactly the incident's uncompressed bytes");
  const ours = encode(decode(seed358));
  assert.equal(ours.length, 358);
  assert.deepEqual(ours, seed358);
  // And from the uncompressed answer, dnspect gets back to 358.
  assert.equal(encode(decode(seed758)).length, 358);
  assert.equal(dnsPacket.encode(dnsPacket.decode(Buffer.from(seed758))).length, 758);
});
