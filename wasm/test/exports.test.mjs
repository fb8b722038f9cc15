// ESM and CommonJS see the same API and the same wasm instance. js/node.mjs re-exports the CommonJS
// build with `export *`, which depends on Node reading the export names off the generated source:
// this test catches an export that `require` has and `import` lacks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

import * as esm from "dnspect";

const require = createRequire(import.meta.url);
const cjs = require("dnspect");

test("every export of the CommonJS build is also a named ESM export", () => {
  const cjsNames = Object.keys(cjs).filter((name) => !name.startsWith("__"));
  const esmNames = Object.keys(esm).filter((name) => name !== "default" && name !== "initSync");
  assert.ok(cjsNames.includes("version"), `CommonJS exports: ${cjsNames.join(", ")}`);
  assert.deepEqual([...esmNames].sort(), [...cjsNames].sort());
});

test("import and require share one module instance", () => {
  assert.equal(esm.version, cjs.version);
});
