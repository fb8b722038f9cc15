// The package loaded by name through CommonJS `require`: the `node` + `require` export condition,
// i.e. wasm-bindgen's --target nodejs build, which instantiates the wasm synchronously.
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");

const pkg = require("../package.json");

test("require('dnspect') loads synchronously and version() returns the package version", () => {
  const dnspect = require("dnspect");
  assert.equal(typeof dnspect.version, "function");
  assert.equal(dnspect.version(), pkg.version);
});

test("require resolves to the nodejs build, not the web build", () => {
  const resolved = require.resolve("dnspect");
  assert.match(resolved, /[\\/]pkg[\\/]node[\\/]dnspect\.js$/);
});
