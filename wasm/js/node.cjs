// CommonJS entry for Node: the `node` + `require` condition of package.json's exports.
//
// pkg/node/dnspect.js (wasm-bindgen --target nodejs) compiles and instantiates the wasm
// synchronously when first required, so everything is usable at once (`init()` and `initSync()`
// do nothing). js/node.mjs re-exports this module, so `import` and `require` share one instance.
"use strict";
const { createApi } = require("../pkg/node/api.cjs");

module.exports = createApi(require("../pkg/node/dnspect.js"), null);
