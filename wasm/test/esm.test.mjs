// The package loaded by name through ESM `import` in Node: the `node` + `import` export condition,
// i.e. js/node.mjs over the CommonJS build. Ready at once, no init needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import init, { initSync, version } from "dnspect";

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
