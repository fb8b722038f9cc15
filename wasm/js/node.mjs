// ES module entry for Node: the `node` + `import` condition of package.json's exports.
//
// It re-exports the CommonJS entry (js/node.cjs), which loads the wasm synchronously, so
// `import { decode } from "dnspect"` is ready at once, and `import` and `require` share one wasm
// instance and one DnspectError class. test/exports.test.mjs checks that both export the same names.
import api from "./node.cjs";

export const {
  version,
  decode,
  encode,
  analyze,
  analysisText,
  analysisJson,
  toText,
  recompress,
  truncate,
  minimize,
  parsePaste,
  examples,
  simulate,
  Forwarder,
  DnspectError,
  init,
  initSync,
} = api;

/** A no-op in Node; lets code that also runs in browsers call `await init()` unconditionally. */
export default init;
