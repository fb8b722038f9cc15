// ES module entry for Node: the `node` + `import` condition of package.json's exports.
//
// It re-exports the CommonJS build (wasm/pkg/node, wasm-bindgen --target nodejs), which compiles and
// instantiates the wasm synchronously when first loaded, so `import { version } from "dnspect"` is
// ready to use at once. `import` and `require` share that one instance: Node's ESM loader goes
// through the CommonJS module cache.
//
// Every export of the generated module shows up here by name because Node reads the names off the
// CommonJS source (cjs-module-lexer); test/exports.test.mjs checks that both sides agree.
export * from "../pkg/node/dnspect.js";

/**
 * The browser build must be initialised with `await init()`; in Node the wasm is ready on load, so
 * this does nothing. It lets code that runs in both places call `init()` unconditionally.
 */
export default async function init() {}

/** Synchronous counterpart of `init()`, also a no-op in Node. */
export function initSync() {}
