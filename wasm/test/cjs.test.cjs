// The package loaded by name through CommonJS `require` (the `node` + `require` export condition:
// js/node.cjs over wasm-bindgen's --target nodejs build, which instantiates the wasm synchronously).
// Every export is called once here, so the CommonJS entry is covered as a whole.
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const pkg = require("../package.json");

const seedHex = fs.readFileSync(path.join(__dirname, "../../core/tests/data/seed000-uncompressed.hex"), "utf8").trim();

test("require('dnspect') loads synchronously and version() returns the package version", () => {
  const dnspect = require("dnspect");
  assert.equal(typeof dnspect.version, "function");
  assert.equal(dnspect.version(), pkg.version);
});

test("require resolves to the CommonJS entry over the nodejs build", () => {
  assert.match(require.resolve("dnspect"), /[\\/]js[\\/]node\.cjs$/);
});

test("every export works through require()", async () => {
  const d = require("dnspect");
  const bytes = d.parsePaste(seedHex).bytes;
  assert.ok(bytes instanceof Uint8Array);
  const m = d.decode(bytes);
  assert.equal(m.answers.length, 20);
  assert.equal(d.decode(bytes, { spans: true }).fields[0].label, "header");
  assert.equal(d.encode(m).length, 358);
  assert.equal(d.encode(m, { limit: 100 }).length <= 100, true);
  assert.equal(d.recompress(bytes).length, 358);
  assert.equal(d.truncate(bytes, 512).bytes.length, 358);
  assert.equal(d.minimize(bytes).length, 358);
  assert.equal(d.analyze(bytes).compression.lost, 400);
  assert.equal(d.analyze(seedHex).source.format, "hex_stream");
  assert.match(d.analysisText(bytes), /400 bytes lost/);
  assert.equal(JSON.parse(d.analysisJson(bytes)).len, 758);
  assert.match(d.toText(bytes), /ANSWER: 20/);
  assert.equal(d.examples().length, 10);
  assert.equal(d.incidents().length, 8);
  const sim = d.simulate({
    title: "cjs",
    upstreams: [{ label: "u", rules: [{ respond: [{ answer: ["a.example. 60 IN A 192.0.2.1"] }] }] }],
    queries: [{ at_ms: 0, name: "a.example.", expect: { answers: 1 } }],
  });
  assert.deepEqual(sim.failures, []);
  const f = new d.Forwarder({ upstreams: [{ label: "u" }] }, new Uint8Array(32));
  f.handleQuery(0, 1, "udp", d.encode({ header: { id: 1, rd: true }, questions: [{ name: "a.example.", type: "A" }] }));
  assert.equal(f.poll().type, "event");
  f.handleTick(1);
  assert.equal(f.stats().queries, 1);
  f.free();
  assert.throws(() => d.decode(42), d.DnspectError);
  assert.equal(await d.init(), undefined);
  assert.equal(d.initSync(), undefined);
});

test("a Buffer goes in, a plain Uint8Array comes out", () => {
  const d = require("dnspect");
  const out = d.recompress(Buffer.from(seedHex, "hex"));
  assert.equal(Buffer.isBuffer(out), false);
  assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype);
});
