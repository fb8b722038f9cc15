// Every export of the package through its ESM entry: what each returns for the seed packets and
// everyday answers, round trips for every record type, and the fast message paths (the tape, see
// wasm/src/tape.rs) against the core's serde JSON form.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

import {
  analysisJson,
  analysisText,
  analyze,
  decode,
  DnspectError,
  encode,
  examples,
  minimize,
  parsePaste,
  recompress,
  toText,
  truncate,
  version,
} from "dnspect";
import { allTypesMessage, fromHex, seed358, seed758, toHex, wwwExample } from "./fixtures.mjs";

const require = createRequire(import.meta.url);
/** The raw wasm-bindgen module under the glue: the serde JSON paths to compare with. */
const raw = require("../pkg/node/dnspect.js");
const serdeDecode = (bytes) => JSON.parse(raw.decodeJson(bytes, false));
const serdeEncode = (message, limit) => raw.encodeJson(JSON.stringify(message), limit);

test("version() is the package version", () => {
  assert.equal(version(), require("../package.json").version);
});

test("examples() lists the built-in packets with their hex", () => {
  const list = examples();
  assert.deepEqual(
    list.map((e) => e.name),
    [
      "incident-000",
      "incident-000-compressed",
      "nodata",
      "cname",
      "coredns-5998",
      "coredns-5366",
      "coredns-7956-servfail",
      "hickory-2608-truncated",
      "kubernetes-dns-121-nodata",
      "pdns-3469-servfail",
    ],
  );
  for (const e of list) {
    assert.equal(typeof e.title, "string");
    assert.match(e.hex, /^[0-9a-f]+$/);
  }
  assert.equal(toHex(seed758), list[0].hex);
  assert.equal(toHex(seed358), list[1].hex);
  // A fresh copy each time: callers may change it.
  list[0].name = "changed";
  assert.equal(examples()[0].name, "incident-000");
});

test("decode() returns the message: header, flags, questions, typed records, EDNS", () => {
  const m = decode(wwwExample());
  assert.deepEqual(m.header, {
    id: 0x1234,
    qr: true,
    opcode: "QUERY",
    aa: false,
    tc: false,
    rd: true,
    ra: true,
    z: false,
    ad: false,
    cd: false,
    rcode: 0,
  });
  assert.deepEqual(m.questions, [{ name: "www.example.com.", type: "A", class: "IN" }]);
  assert.deepEqual(m.answers, [
    {
      name: "www.example.com.",
      type: "CNAME",
      class: "IN",
      ttl: 300,
      rdata: { kind: "name", target: "www.example.com.cdn.cloudflare.net." },
    },
    {
      name: "www.example.com.cdn.cloudflare.net.",
      type: "A",
      class: "IN",
      ttl: 60,
      rdata: { kind: "a", address: "104.16.123.96" },
    },
    {
      name: "www.example.com.cdn.cloudflare.net.",
      type: "A",
      class: "IN",
      ttl: 60,
      rdata: { kind: "a", address: "104.16.124.96" },
    },
  ]);
  assert.deepEqual(m.authority, []);
  assert.deepEqual(m.additional, []);
  assert.deepEqual(m.edns, { udp_size: 1232, ext_rcode: 0, version: 0, dnssec_ok: false, z: 0, options: [] });
  // Same keys in the same order as the core's serde form.
  assert.equal(JSON.stringify(m), raw.decodeJson(wwwExample(), false));
});

test("decode(bytes, { spans: true }) adds the field tree with every field's offset and length", () => {
  const m = decode(wwwExample(), { spans: true });
  assert.deepEqual({ ...m, fields: undefined }, { ...decode(wwwExample()), fields: undefined });
  const [header, question] = m.fields;
  assert.equal(header.label, "header");
  assert.deepEqual([header.offset, header.len], [0, 12]);
  // Typed kind and section: nothing has to parse the display labels.
  assert.deepEqual([header.kind, header.section, question.kind, question.section], ["header", null, "section", "question"]);
  const q1 = question.children[0];
  assert.deepEqual([q1.kind, q1.section, q1.children[0].kind, q1.children[0].children[0].kind], ["question", "question", "name", "label"]);
  const id = header.children.find((f) => f.label === "ID");
  assert.deepEqual([id.offset, id.len, id.value], [0, 2, "4660"]);
  assert.equal(question.offset, 12);
  assert.equal(question.len, 21);
  assert.equal(decode(wwwExample(), { spans: false }).fields, undefined);
});

test("decode() accepts a Buffer and a subarray, and returns plain objects and Uint8Arrays", () => {
  const bytes = wwwExample();
  assert.deepEqual(decode(Buffer.from(bytes)), decode(bytes));
  const padded = new Uint8Array(bytes.length + 10);
  padded.set(bytes, 5);
  assert.deepEqual(decode(padded.subarray(5, 5 + bytes.length)), decode(bytes));
  const out = encode(decode(Buffer.from(bytes)));
  assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype, "not a Buffer");
  assert.equal(Object.getPrototypeOf(recompress(Buffer.from(seed758))), Uint8Array.prototype);
});

test("encode() compresses names: the 758-byte incident answer becomes 358 bytes, the same message", () => {
  const m = decode(seed758);
  const out = encode(m);
  assert.equal(out.length, 358);
  assert.deepEqual(out, seed358);
  assert.deepEqual(decode(out), m);
  // The compressed form re-encodes to itself, and the typical answer byte for byte.
  assert.deepEqual(encode(decode(seed358)), seed358);
  assert.deepEqual(encode(decode(wwwExample())), wwwExample());
});

test("encode() with a limit truncates at RRset boundaries and sets TC; OPT stays", () => {
  const m = decode(seed758);
  m.edns = { udp_size: 512, ext_rcode: 0, version: 0, dnssec_ok: false, z: 0, options: [] };
  // The 20 A records are one RRset: all or nothing.
  const cut = encode(m, { limit: 200 });
  assert.ok(cut.length <= 200, `${cut.length} bytes`);
  const back = decode(cut);
  assert.equal(back.header.tc, true);
  assert.equal(back.answers.length, 0);
  assert.notEqual(back.edns, null, "OPT kept");
  const whole = encode(m, { limit: 512 });
  assert.equal(decode(whole).header.tc, false);
  assert.equal(decode(whole).answers.length, 20);
  // Limit 0 keeps only what must be there: header, question, OPT.
  assert.equal(decode(encode(m, { limit: 0 })).header.tc, true);
});

test("encode() takes defaults and numeric types like the core's serde form", () => {
  const out = encode({
    header: { id: 7, rd: true },
    questions: [{ name: "example.org", type: 28 }],
    answers: [{ name: "example.org.", type: "aaaa", ttl: 5, rdata: { kind: "aaaa", address: "2001:db8::2" } }],
  });
  const m = decode(out);
  assert.equal(m.header.id, 7);
  assert.equal(m.header.opcode, "QUERY");
  assert.deepEqual(m.questions, [{ name: "example.org.", type: "AAAA", class: "IN" }]);
  assert.equal(m.answers[0].type, "AAAA");
  assert.equal(m.answers[0].class, "IN");
  assert.equal(m.edns, null);
  assert.deepEqual(encode({}), new Uint8Array(12), "an empty message is a zero header");
  // The same bytes through the serde JSON path.
  assert.deepEqual(out, serdeEncode({
    header: { id: 7, rd: true },
    questions: [{ name: "example.org", type: "AAAA" }],
    answers: [{ name: "example.org.", type: "AAAA", ttl: 5, rdata: { kind: "aaaa", address: "2001:db8::2" } }],
  }));
});

test("every record type round trips: encode -> decode -> encode gives the same bytes and message", () => {
  const m = allTypesMessage();
  const bytes = encode(m);
  const back = decode(bytes);
  assert.deepEqual(back, m);
  assert.deepEqual(encode(back), bytes);
  assert.deepEqual(decode(encode(back)), back);
  // Fast paths against the core's serde form, both ways.
  assert.deepEqual(back, serdeDecode(bytes));
  assert.equal(JSON.stringify(back), raw.decodeJson(bytes, false));
  assert.deepEqual(bytes, serdeEncode(m));
  // One record at a time too, each type alone in its message.
  for (const r of m.answers) {
    const one = { ...m, answers: [r], authority: [], additional: [], edns: null };
    const b = encode(one);
    assert.deepEqual(decode(b), one, r.type);
    assert.deepEqual(b, serdeEncode(one), r.type);
  }
});

test("names with escapes, non-ASCII text and repeated names read the same on both paths", () => {
  const names = ["a\\.b.example.", "\\000\\255.example.", "sp\\032ace.example.", "\\@\\$.example.", "MiXeD.Case.", "."];
  const m = {
    header: { id: 1, qr: true, opcode: "QUERY", aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0 },
    questions: names.map((name) => ({ name, type: "A", class: "IN" })),
    answers: names.map((name, i) => ({
      name,
      type: "CNAME",
      class: "IN",
      ttl: i,
      rdata: { kind: "name", target: names[(i + 1) % names.length] },
    })),
    authority: [],
    additional: [],
    edns: {
      udp_size: 1232,
      ext_rcode: 0,
      version: 0,
      dnssec_ok: false,
      z: 0,
      options: [{ option: "extended_error", code: 0, text: "naïve ✓ 名前" }],
    },
  };
  const bytes = encode(m);
  assert.deepEqual(decode(bytes), m);
  assert.deepEqual(decode(bytes), serdeDecode(bytes));
  assert.deepEqual(bytes, serdeEncode(m));
  // Exactly the core's presentation: the names come back as given.
  assert.deepEqual(decode(bytes).answers.map((r) => r.name), names);
});

test("a long message (more names than fit a small tape) and a big one", () => {
  const answers = [];
  for (let i = 0; i < 2000; i++) {
    answers.push({ name: `host${i}.example.`, type: "A", class: "IN", ttl: i, rdata: { kind: "a", address: `10.0.${i >> 8}.${i & 255}` } });
  }
  const header = { id: 9, qr: true, opcode: "QUERY", aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0 };
  const m = { header, questions: [], answers, authority: [], additional: [], edns: null };
  const bytes = encode(m);
  assert.ok(bytes.length > 30000, `${bytes.length} bytes`);
  const back = decode(bytes);
  assert.equal(back.answers.length, 2000);
  assert.deepEqual(back.answers[1999], answers[1999]);
  assert.deepEqual(bytes, serdeEncode(m));
  // Trailing bytes past 64 KiB: the serde JSON path, the same message.
  const padded = new Uint8Array(70000);
  padded.set(bytes);
  assert.deepEqual(decode(padded), back);
});

test("truncate(), recompress() and minimize() on the seed answers", () => {
  assert.deepEqual(recompress(seed758), seed358);
  assert.deepEqual(recompress(seed358), seed358, "never longer");
  // Compressed, the whole answer fits 512 bytes: truncation re-encodes, so nothing is dropped.
  assert.deepEqual(truncate(seed758, 512), { bytes: seed358, dropped: [0, 0, 0], tc: false, size: 358 });
  // 300 bytes: the 20 A records are one RRset, dropped whole, with TC; the report says so.
  const r = truncate(seed758, 300);
  assert.deepEqual({ ...r, bytes: undefined }, { bytes: undefined, dropped: [20, 0, 0], tc: true, size: r.bytes.length });
  const t = decode(r.bytes);
  assert.equal(t.header.tc, true);
  assert.equal(t.answers.length, 0);
  assert.deepEqual(t.questions, decode(seed758).questions);
  // minimize() drops authority and additional records the answer does not need.
  const m = allTypesMessage();
  const min = decode(minimize(encode(m)));
  assert.equal(min.authority.length, 0);
  assert.equal(min.additional.length, 0);
  assert.equal(min.answers.length, m.answers.length);
  assert.notEqual(min.edns, null);
});

test("analyze() of the incident packet: compression lost 400 bytes, and where 512 is crossed", () => {
  const a = analyze(seed758);
  assert.equal(a.schema, 1);
  assert.equal(a.len, 758);
  assert.equal(a.source, null);
  assert.equal(a.error, null);
  assert.equal(a.compression.lost, 400);
  assert.equal(a.compression.saved, 0);
  assert.equal(a.compression.missed.length, 20);
  assert.equal(a.sizes.size, 758);
  assert.equal(a.sizes.compressed, 358);
  assert.equal(a.sizes.uncompressed, 758);
  const c512 = a.sizes.crossings.find((c) => c.limit === 512);
  assert.equal(c512.fits, false);
  assert.equal(c512.fits_compressed, true);
  assert.deepEqual(c512.record, { section: "answer", index: 13, offset: 506, len: 36, type: "A" });
  assert.deepEqual(a.message, decode(seed758));
  assert.ok(a.warnings.some((w) => w.severity === "warning" && /not compressed/.test(w.message)));
  // The compressed answer: 20 pointers, nothing lost.
  const b = analyze(seed358);
  assert.equal(b.compression.lost, 0);
  assert.equal(b.compression.saved, 400);
  assert.equal(b.sizes.crossings.find((c) => c.limit === 512).fits, true);
});

test("analyze() reads pastes: hex, tcpdump -X with headers, base64url, DoH URLs", () => {
  const hex = toHex(wwwExample());
  assert.equal(analyze(hex).source.format, "hex_stream");
  assert.deepEqual(analyze(hex).message, decode(wwwExample()));
  const spaced = hex.match(/../g).join(" ");
  assert.equal(analyze(spaced).len, 124);
  const b64 = Buffer.from(wwwExample()).toString("base64url");
  assert.equal(analyze(`https://dns.example/dns-query?dns=${b64}`).source.format, "base64_url");
  // A UDP/IPv4 packet as tcpdump -X prints it: the headers are found and stripped.
  const ip = udpIpv4(wwwExample());
  const dump = tcpdumpX(ip);
  const a = analyze(dump);
  assert.equal(a.source.format, "tcpdump_x");
  assert.deepEqual(a.source.layers.map((l) => l.kind), ["ipv4", "udp"]);
  assert.equal(a.source.raw_len, ip.length);
  assert.equal(a.len, 124);
  // Bytes with headers are stripped too.
  assert.deepEqual(analyze(ip).source.layers.map((l) => l.kind), ["ipv4", "udp"]);
});

test("analyze() of a message that does not decode reports the error with its offset", () => {
  const a = analyze(seed758.subarray(0, 100));
  assert.equal(a.error.kind, "truncated");
  assert.equal(typeof a.error.offset, "number");
  assert.equal(a.message.answers.length, 1, "what was read before the error is kept");
});

test("parsePaste() returns the DNS bytes, the format and the stripped layers", () => {
  const p = parsePaste(tcpdumpX(udpIpv4(seed358)));
  assert.deepEqual(p.bytes, seed358);
  assert.equal(Object.getPrototypeOf(p.bytes), Uint8Array.prototype);
  assert.equal(p.format, "tcpdump_x");
  assert.equal(p.raw_len, 358 + 28);
  assert.deepEqual(p.layers.map((l) => [l.kind, l.offset, l.len]), [
    ["ipv4", 0, 20],
    ["udp", 20, 8],
  ]);
  assert.deepEqual(parsePaste(examples()[3].hex).bytes, fromHex(examples()[3].hex));
});

test("toText() prints dig's layout from bytes or from a message object", () => {
  const t = toText(wwwExample());
  assert.match(t, /;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4660/);
  assert.match(t, /;; flags: qr rd ra; QUERY: 1, ANSWER: 3, AUTHORITY: 0, ADDITIONAL: 1/);
  assert.match(t, /www\.example\.com\.\t300\tIN\tCNAME\twww\.example\.com\.cdn\.cloudflare\.net\./);
  assert.match(t, /;; MSG SIZE {2}rcvd: 124/);
  const fromObject = toText(decode(wwwExample()));
  assert.equal(fromObject, t.replace(/\n;; MSG SIZE {2}rcvd: 124\n$/, ""));
});

test("analysisText() and analysisJson() give the CLI's text and JSON", () => {
  const text = analysisText(seed758);
  assert.match(text, /MISSED COMPRESSION: 20 name\(s\) written in full, 400 bytes lost/);
  assert.match(text, /512: /);
  assert.match(analysisText(toHex(seed358)), /;; INPUT: hex_stream,/);
  assert.deepEqual(JSON.parse(analysisJson(seed758)), analyze(seed758));
  const pretty = analysisJson(seed758, { pretty: true });
  assert.match(pretty, /^\{\n {2}"schema": 1,/);
  assert.deepEqual(JSON.parse(pretty), analyze(seed758));
});

test("DnspectError is an Error subclass exported by name", () => {
  assert.ok(DnspectError.prototype instanceof Error);
  const e = new DnspectError("x", { kind: "argument" });
  assert.equal(e.name, "DnspectError");
  assert.equal(e.kind, "argument");
});

/** An IPv4 + UDP packet around `dns` (checksums zero: the parser does not need them). */
function udpIpv4(dns) {
  const total = 20 + 8 + dns.length;
  const p = new Uint8Array(total);
  p.set([0x45, 0, total >> 8, total & 255, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 53, 192, 0, 2, 1]);
  p.set([0, 53, 0xc3, 0x50, (8 + dns.length) >> 8, (8 + dns.length) & 255, 0, 0], 20);
  p.set(dns, 28);
  return p;
}

/** The bytes as `tcpdump -X` prints them. */
function tcpdumpX(bytes) {
  const lines = ["12:00:00.000000 IP 192.0.2.53.53 > 192.0.2.1.50000: UDP"];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const groups = [];
    for (let i = 0; i < row.length; i += 2) groups.push(toHex(row.subarray(i, i + 2)));
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`\t0x${off.toString(16).padStart(4, "0")}:  ${groups.join(" ").padEnd(40)}  ${ascii}`);
  }
  return lines.join("\n") + "\n";
}

test("decode() and the core's serde form agree on 3000 mutated packets, including on errors", () => {
  const base = encode(allTypesMessage());
  let seed = 12345;
  const rand = (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let ok = 0;
  for (let i = 0; i < 3000; i++) {
    const b = base.slice(0, rand(8) === 0 ? rand(base.length) : base.length);
    for (let k = 0, n = 1 + rand(4); k < n && b.length > 0; k++) b[rand(b.length)] = rand(256);
    let ours;
    let theirs;
    try {
      ours = decode(b);
    } catch (e) {
      ours = { error: e.message };
    }
    try {
      theirs = serdeDecode(b);
    } catch (e) {
      theirs = { error: JSON.parse(e).message };
    }
    assert.deepEqual(ours, theirs, `mutation ${i}: ${toHex(b)}`);
    if (!ours.error) {
      ok++;
      // Whatever decodes re-encodes, the same way on both paths.
      assert.deepEqual(encode(ours), serdeEncode(ours), `mutation ${i}`);
    }
  }
  assert.ok(ok > 100, `${ok} of 3000 mutations still decode`);
});

test("rare record types come typed, as dig prints them: a LOC answer Knot signed (core/tests/data/real)", () => {
  const bytes = fromHex("e59385000001000200000001036c6f63076578616d706c65047465737400001d0001c00c001d00010000012c0010000016138b3cf018810cbce0009895b8c00c002e00010000012c0060001d0d030000012c6b239cca6b1112b208e7076578616d706c65047465737400db568e3419bb59e00a6ce4cc13f6554c687851e2bf5fcacd8a680697bb7ff1ae7a98008879bf4b5cbbbb7c3c84b21697a08fb220112a6af41c2ef26ab2a681ac00002904d0000080000000");
  const m = decode(bytes);
  const loc = m.answers[0];
  assert.equal(loc.type, "LOC");
  assert.equal(loc.rdata.kind, "fields");
  assert.equal(loc.rdata.fields[0].field, "loc");
  assert.ok(toText(bytes).includes("LOC\t52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"), toText(bytes));
  // The field tree names the LOC fields at their offsets.
  const a = analyze(bytes);
  const flat = (fs) => fs.flatMap((f) => [f, ...flat(f.children ?? [])]);
  const lat = flat(a.fields).find((f) => f.label === "latitude");
  assert.equal(lat.len, 4);
  assert.equal(lat.offset, 12 + 22 + 12 + 4); // header, question, owner to RDLENGTH, version and sizes
  // And it encodes back to the same bytes' message.
  assert.deepEqual(decode(encode(m)), m);
});
