// The browser build (the `default` export condition, also reachable as "dnspect/web"), run in Node:
// it must be initialised before use. Here it gets the wasm bytes directly; in a browser `await init()`
// fetches dnspect_bg.wasm next to the .js file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const pkg = require("../package.json");
const wasmPath = require.resolve("dnspect/dnspect_bg.wasm");

test("the web build initialises asynchronously from bytes and then answers version()", async () => {
  const web = await import("dnspect/web");
  assert.equal(typeof web.default, "function", "the web build's default export is init()");
  await web.default({ module_or_path: readFileSync(wasmPath) });
  assert.equal(web.version(), pkg.version);
});

test("the web build also initialises synchronously with initSync({ module })", async () => {
  // A fresh copy of the module (the query makes a new module URL), so that this does not reuse the
  // instance the test above made.
  const url = new URL(import.meta.resolve("dnspect/web"));
  url.search = "?sync";
  const web = await import(url.href);
  web.initSync({ module: readFileSync(wasmPath) });
  assert.equal(web.version(), pkg.version);
});

test("the `default` condition (browsers, bundlers) resolves to the web build", () => {
  const exportsMap = pkg.exports["."];
  assert.equal(exportsMap.default, "./pkg/web/dnspect.js");
  assert.equal(exportsMap.types, "./pkg/web/dnspect.d.ts");
});
