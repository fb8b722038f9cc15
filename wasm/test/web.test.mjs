// The browser build (the `default` export condition, also "dnspect/web"), run in Node: it must be
// initialised before use. Here it gets the wasm bytes directly; in a browser `await init()` fetches
// dnspect_bg.wasm next to pkg/web/dnspect.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { seed758 } from "./fixtures.mjs";

const require = createRequire(import.meta.url);
const pkg = require("../package.json");
const wasmPath = require.resolve("dnspect/dnspect_bg.wasm");

/** A fresh copy of the web build (a new module URL), so that each test has its own instance. */
async function freshWeb(tag) {
  const url = new URL(import.meta.resolve("dnspect/web"));
  url.search = `?${tag}`;
  return import(url.href);
}

test("before init(), every function throws a DnspectError of kind init", async () => {
  const web = await freshWeb("uninitialised");
  assert.throws(() => web.version(), (e) => e instanceof web.DnspectError && e.kind === "init" && /await init\(\)/.test(e.message));
  assert.throws(() => web.decode(seed758), (e) => e.kind === "init");
  assert.throws(() => new web.Forwarder({}, new Uint8Array(32)), (e) => e.kind === "init");
});

test("the web build initialises asynchronously from bytes and then works", async () => {
  const web = await freshWeb("async");
  assert.equal(typeof web.default, "function", "the web build's default export is init()");
  await web.default({ module_or_path: readFileSync(wasmPath) });
  await web.init(); // a second call returns at once
  assert.equal(web.version(), pkg.version);
  assert.equal(web.encode(web.decode(seed758)).length, 358);
  assert.equal(web.analyze(seed758).compression.lost, 400);
  assert.throws(() => web.decode(1), web.DnspectError);
  assert.equal(web.recompress(seed758).length, 358);
});

test("the web build also initialises synchronously with initSync({ module })", async () => {
  const web = await freshWeb("sync");
  web.initSync({ module: readFileSync(wasmPath) });
  assert.equal(web.version(), pkg.version);
  assert.equal(web.decode(seed758).answers.length, 20);
});

test("the `default` condition (browsers, bundlers) resolves to the web build", () => {
  const exportsMap = pkg.exports["."];
  assert.equal(exportsMap.default, "./js/web.mjs");
  assert.equal(exportsMap.types, "./js/web.d.mts");
  assert.match(import.meta.resolve("dnspect/web"), /\/js\/web\.mjs$/);
});
