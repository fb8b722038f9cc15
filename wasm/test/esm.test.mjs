// The package loaded by name through ESM `import` in Node: the `node` + `import` condition, i.e.
// js/node.mjs over the CommonJS entry. Ready at once, no init needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import init, { decode, initSync, version } from "dnspect";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

test("version() returns the crate version, which is the npm package's version", () => {
  assert.equal(typeof version, "function");
  assert.equal(version(), pkg.version);
});

test("init() and initSync() exist and do nothing in Node, so isomorphic code can call them", async () => {
  assert.equal(await init(), undefined);
  assert.equal(initSync(), undefined);
  assert.equal(version(), pkg.version);
});

test("import resolves to js/node.mjs", () => {
  assert.match(import.meta.resolve("dnspect"), /\/js\/node\.mjs$/);
  assert.equal(decode(new Uint8Array(12)).header.id, 0);
});
