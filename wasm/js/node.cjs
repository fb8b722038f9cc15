// CommonJS entry for Node: the `node` + `require` condition of package.json's exports.
//
// pkg/node/dnspect.js (wasm-bindgen --target nodejs) compiles and instantiates the wasm
// synchronously when first required, so everything is usable at once. js/node.mjs re-exports this
// module, so `import` and `require` share one instance.
"use strict";
const raw = require("../pkg/node/dnspect.js");
const { createApi } = require("../pkg/node/api.cjs");

const api = createApi(raw, null);

/** A no-op in Node (the wasm is ready on load); the browser build needs `await init()`. */
async function init() {}

/** A no-op in Node; the browser build's `initSync({ module })` instantiates synchronously. */
function initSync() {}

module.exports = {
  version: api.version,
  decode: api.decode,
  encode: api.encode,
  analyze: api.analyze,
  analysisText: api.analysisText,
  analysisJson: api.analysisJson,
  toText: api.toText,
  recompress: api.recompress,
  truncate: api.truncate,
  minimize: api.minimize,
  parsePaste: api.parsePaste,
  examples: api.examples,
  simulate: api.simulate,
  Forwarder: api.Forwarder,
  DnspectError: api.DnspectError,
  init,
  initSync,
};
