// Every failure is a DnspectError with what went wrong and where (byte offset, or paste line and
// column), wrong argument types are named, and the wasm instance keeps working after all of it.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  analysisJson,
  analysisText,
  analyze,
  decode,
  DnspectError,
  encode,
  Forwarder,
  minimize,
  parsePaste,
  recompress,
  simulate,
  toText,
  truncate,
} from "dnspect";
import { seed358, seed758, wwwExample } from "./fixtures.mjs";

/** assert.throws for a DnspectError with these properties (a RegExp checks the message). */
function throwsDnspect(fn, props) {
  let caught;
  assert.throws(fn, (e) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof DnspectError, `expected a DnspectError, got ${caught}`);
  assert.ok(caught instanceof Error);
  assert.equal(caught.name, "DnspectError");
  for (const [k, v] of Object.entries(props)) {
    if (v instanceof RegExp) assert.match(String(caught[k]), v, k);
    else assert.deepEqual(caught[k], v, k);
  }
  return caught;
}

test("a truncated packet: kind truncated, the byte offset where it ended, and the detail", () => {
  const e = throwsDnspect(() => decode(seed758.subarray(0, 100)), {
    kind: "truncated",
    message: /^decode: at offset \d+ \(0x[0-9a-f]{4}\): expected /,
  });
  assert.equal(typeof e.offset, "number");
  assert.ok(e.offset <= 100 && e.offset >= 12, `offset ${e.offset}`);
  assert.equal(e.detail.kind, "truncated");
  assert.equal(e.detail.offset, e.offset);
  assert.equal(typeof e.detail.needed, "number");
  // The analysis does not throw: it keeps the error, at the same offset.
  assert.deepEqual(analyze(seed758.subarray(0, 100)).error, e.detail);
  throwsDnspect(() => decode(new Uint8Array(5)), { kind: "truncated", offset: 0 });
  throwsDnspect(() => recompress(seed358.subarray(0, 40)), { kind: "truncated", message: /^recompress: / });
  throwsDnspect(() => truncate(seed358.subarray(0, 40), 512), { kind: "truncated" });
  throwsDnspect(() => minimize(seed358.subarray(0, 40)), { kind: "truncated" });
  throwsDnspect(() => toText(seed358.subarray(0, 40)), { kind: "truncated" });
});

test("malformed names: forward pointers and loops carry their offset and target", () => {
  // A question whose name is a pointer to itself (offset 12).
  const loop = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  const e = throwsDnspect(() => decode(loop), { offset: 12 });
  assert.match(e.kind, /^pointer_(forward|loop)$/);
  assert.equal(e.detail.target, 12);
  // A reserved label type (0x40).
  const reserved = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 1, 0, 1]);
  throwsDnspect(() => decode(reserved), { kind: "reserved_label_type", offset: 12 });
});

test("a bad hex paste: kind paste with the line and column of the bad character", () => {
  const e = throwsDnspect(() => analyze("78fd 8180 0001\n0014 00zz 0000"), {
    kind: "paste",
    line: 2,
    message: /^analyze: line 2, column \d+: /,
  });
  assert.equal(e.column, 8);
  assert.equal(e.offset, undefined);
  throwsDnspect(() => analysisText("not a packet at all!"), { kind: "paste", line: 1 });
  throwsDnspect(() => analysisJson(""), { kind: "paste", line: 1, column: 1 });
  throwsDnspect(() => parsePaste("0x0000:  78fd 81g0 0001"), {
    kind: "paste",
    line: 1,
    column: 17,
    message: "parsePaste: line 1, column 17: expected a hex digit, found 'g'",
  });
});

test("wrong argument types name the argument, what was expected and what came", () => {
  throwsDnspect(() => decode(42), {
    kind: "argument",
    message: 'decode: argument "bytes" must be a Uint8Array, got the number 42',
  });
  throwsDnspect(() => decode("78fd"), { kind: "argument", message: /got a string/ });
  throwsDnspect(() => decode([1, 2, 3]), { kind: "argument", message: /got an array/ });
  throwsDnspect(() => decode(new Uint16Array(6)), { kind: "argument", message: /got a Uint16Array/ });
  throwsDnspect(() => decode(new ArrayBuffer(12)), { kind: "argument", message: /got an ArrayBuffer/ });
  throwsDnspect(() => decode(), { kind: "argument", message: /got undefined/ });
  throwsDnspect(() => decode(seed358, { spans: 1 }), { message: /"options\.spans" must be a boolean/ });
  throwsDnspect(() => decode(seed358, "spans"), { message: /"options" must be an object/ });
  throwsDnspect(() => encode(null), { message: 'encode: argument "message" must be an object, got null' });
  throwsDnspect(() => encode(seed358), { message: /"message" must be an object, got a Uint8Array/ });
  throwsDnspect(() => encode({}, { limit: -1 }), { message: /"options\.limit" must be an integer/ });
  throwsDnspect(() => encode({}, { limit: 1.5 }), { message: /"options\.limit"/ });
  throwsDnspect(() => truncate(seed358, "512"), { message: /truncate: argument "limit" must be an integer from 0 to 4294967295, got a string/ });
  throwsDnspect(() => truncate(seed358), { message: /"limit"/ });
  throwsDnspect(() => recompress({}), { message: /recompress: argument "bytes"/ });
  throwsDnspect(() => minimize(null), { message: /minimize: argument "bytes"/ });
  throwsDnspect(() => analyze(7), { message: /analyze: argument "input" must be a Uint8Array of wire bytes or a string paste/ });
  throwsDnspect(() => analysisText(null), { kind: "argument" });
  throwsDnspect(() => parsePaste(seed358), { message: /parsePaste: argument "text" must be a string/ });
  throwsDnspect(() => toText(5), { message: /toText: argument "input"/ });
  throwsDnspect(() => simulate("title"), { message: /simulate: argument "scenario" must be an object/ });
  throwsDnspect(() => new Forwarder({}, new Uint8Array(16)), { message: /"seed" must be a Uint8Array of 32 bytes/ });
  throwsDnspect(() => new Forwarder([], new Uint8Array(32)), { message: /"config" must be an object/ });
  const f = new Forwarder({ upstreams: [{ label: "a" }] }, new Uint8Array(32));
  throwsDnspect(() => f.handleQuery(0, 1, "UDP", seed358), { message: /"transport" must be 'udp' or 'tcp'/ });
  throwsDnspect(() => f.handleQuery(-1, 1, "udp", seed358), { message: /"nowMs"/ });
  throwsDnspect(() => f.handleQuery(Number.NaN, 1, "udp", seed358), { message: /"nowMs"/ });
  throwsDnspect(() => f.handleQuery(0, 1.5, "udp", seed358), { message: /"clientId" must be a safe integer/ });
  throwsDnspect(() => f.handleQuery(0, 1, "udp", "bytes"), { message: /"bytes" must be a Uint8Array/ });
  throwsDnspect(() => f.handleResponse(0, 1, "udp", seed358), { kind: "argument", message: /upstreamIndex 1 is not an index/ });
  throwsDnspect(() => f.handleResponse(0, "0", "udp", seed358), { message: /"upstreamIndex"/ });
  throwsDnspect(() => f.handleFailure(0, -3), { message: /"token"/ });
  throwsDnspect(() => f.handleTick("now"), { message: /"nowMs"/ });
});

test("values that do not encode: kind invalid, with serde's or the core's reason", () => {
  throwsDnspect(() => encode({ questions: [{ name: "a..b.", type: "A" }] }), {
    kind: "invalid",
    message: /^encode: message: .*empty label/,
  });
  throwsDnspect(() => encode({ questions: [{ name: "example.", type: "NOPE" }] }), {
    kind: "invalid",
    message: /unknown RType "NOPE"/,
  });
  throwsDnspect(() => encode({ answers: [{ name: "x.", type: "A", rdata: { kind: "a", address: "1.2.3" } }] }), {
    kind: "invalid",
  });
  throwsDnspect(() => encode({ answers: [{ name: "x.", type: "A", ttl: -1, rdata: { kind: "a", address: "1.2.3.4" } }] }), {
    kind: "invalid",
  });
  throwsDnspect(() => encode({ answers: [{ name: "x.", type: "MX", rdata: { kind: "a", address: "1.2.3.4" } }] }), {
    kind: "invalid",
    message: /RDATA layout does not match the record type/,
  });
  throwsDnspect(() => encode({ header: { id: 70000 } }), { kind: "invalid" });
  throwsDnspect(() => encode({ answers: [{ name: "x.", type: "TXT", rdata: { kind: "txt", strings: ["a".repeat(256)] } }] }), {
    kind: "invalid",
  });
  throwsDnspect(() => encode({ answers: [1n] }), { kind: "argument", message: /cannot be read as JSON/ });
  throwsDnspect(() => encode({ answers: [{ name: "x.", type: "TXT", rdata: { kind: "txt", strings: [1n] } }] }), {
    kind: "argument",
  });
  throwsDnspect(() => encode({ questions: [{ name: "x." }] }), { kind: "invalid", message: /missing field `type`/ });
  throwsDnspect(() => encode({ questions: [{ name: "x.", type: "A" }, { name: "y." }] }), { kind: "invalid" });
  throwsDnspect(() => encode({ questions: [{ name: "\ud800.", type: "A" }] }), { kind: "invalid" });
  throwsDnspect(() => encode({ header: { qr: 1 } }), { kind: "invalid", message: /expected a boolean/ });
  throwsDnspect(() => encode({ edns: { version: 1 } }), { kind: "invalid", message: /missing field `udp_size`/ });
  throwsDnspect(() => toText({ questions: "no" }), { kind: "invalid", message: /^toText: message: / });
});

test("configs and scenarios that do not read: kind invalid; scenarios that cannot run: kind scenario", () => {
  throwsDnspect(() => new Forwarder({ upstream: [] }, new Uint8Array(32)), {
    kind: "invalid",
    message: /new Forwarder: config: unknown field `upstream`/,
  });
  throwsDnspect(() => new Forwarder({ cache: { min_tll: 5 } }, new Uint8Array(32)), {
    kind: "invalid",
    message: /config\.cache: unknown field `min_tll`/,
  });
  // Config::validate's limits, named by field: the engine tracks at most 64 upstreams.
  const upstreams = Array.from({ length: 65 }, (_, i) => ({ label: `10.0.0.${i}` }));
  throwsDnspect(() => new Forwarder({ upstreams }, new Uint8Array(32)), {
    kind: "invalid",
    message: /new Forwarder: config\.upstreams: at most 64 upstreams, got 65/,
  });
  new Forwarder({ upstreams: upstreams.slice(0, 64) }, new Uint8Array(32)).free();
  throwsDnspect(() => new Forwarder({ attempt_timeout: "5s" }, new Uint8Array(32)), {
    kind: "invalid",
    message: /config\.attempt_timeout: 5s is longer than query_timeout \(4s\)/,
  });
  throwsDnspect(() => new Forwarder({ cache: { serve_stale: { client_answer_timer: "0s" } } }, new Uint8Array(32)), {
    kind: "invalid",
    message: /config\.cache\.serve_stale\.client_answer_timer: must be above 0/,
  });
  // Durations are text with their unit.
  throwsDnspect(() => new Forwarder({ query_timeout: 4000 }, new Uint8Array(32)), {
    kind: "invalid",
    message: /expected a duration such as "1500ms"/,
  });
  throwsDnspect(() => simulate({ title: "t", config: { max_udp_payload: 100 }, upstreams: [], queries: [] }), {
    kind: "scenario",
    message: /config\.max_udp_payload: must be at least 512/,
  });
  throwsDnspect(() => simulate({ upstreams: [], queries: [] }), { kind: "invalid", message: /missing field `title`/ });
  throwsDnspect(
    () =>
      simulate({
        title: "bad record",
        upstreams: [{ label: "u", rules: [{ respond: [{ answer: ["not a record"] }] }] }],
        queries: [{ at_ms: 0, name: "x." }],
      }),
    { kind: "scenario", message: /^simulate: / },
  );
});

test("a freed Forwarder says so", () => {
  const f = new Forwarder({}, new Uint8Array(32));
  f.free();
  throwsDnspect(() => f.poll(), { kind: "argument", message: /freed/ });
  throwsDnspect(() => f.handleTick(1), { kind: "argument", message: /freed/ });
  f.free();
});

test("the instance keeps working after every kind of error", () => {
  const failures = [
    () => decode(seed758.subarray(0, 300)),
    () => decode(7),
    () => analyze("zz"),
    () => encode({ questions: [{ name: "..", type: "A" }] }),
    () => simulate({}),
    () => new Forwarder({ nope: 1 }, new Uint8Array(32)),
    () => truncate(seed358, -5),
  ];
  for (let round = 0; round < 50; round++) {
    for (const f of failures) assert.throws(f, DnspectError);
    assert.deepEqual(encode(decode(seed758)), seed358);
  }
  assert.equal(analyze(seed758).compression.lost, 400);
  assert.deepEqual(decode(wwwExample()).questions[0].name, "www.example.com.");
});
