// ESM, CommonJS and the browser build export the same API, and in Node `import` and `require`
// share one module instance (one wasm, one DnspectError class).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

import * as esm from "dnspect";
import * as web from "dnspect/web";

const require = createRequire(import.meta.url);
const cjs = require("dnspect");

const API = [
  "CaptureAnalyzer",
  "DnspectError",
  "Forwarder",
  "analysisJson",
  "analysisText",
  "analyze",
  "analyzeCapture",
  "decode",
  "encode",
  "examples",
  "incidents",
  "init",
  "initSync",
  "minimize",
  "parsePaste",
  "recompress",
  "simulate",
  "toText",
  "truncate",
  "version",
];

test("the CommonJS entry exports exactly the API", () => {
  assert.deepEqual(Object.keys(cjs).sort(), API);
  for (const name of API) assert.equal(typeof cjs[name], "function", name);
});

test("the ESM entry exports the same names, plus init as the default export", () => {
  assert.deepEqual(Object.keys(esm).filter((n) => n !== "default").sort(), API);
  assert.equal(esm.default, esm.init);
});

test("the browser build exports the same names", () => {
  assert.deepEqual(Object.keys(web).filter((n) => n !== "default").sort(), API);
  assert.equal(web.default, web.init);
});

test("import and require share one module instance", () => {
  for (const name of API) assert.equal(esm[name], cjs[name], name);
  let caught;
  try {
    cjs.decode(1);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof esm.DnspectError);
});
