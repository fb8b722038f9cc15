// ES module entry for Node: the `node` + `import` condition of package.json's exports. It
// re-exports the CommonJS entry (js/node.cjs), so `import { decode } from "dnspect"` is ready at
// once, and `import` and `require` share one wasm instance and one DnspectError class.
import api from "./node.cjs";

// An ES module's names are static: the same list as js/web.mjs (test/exports.test.mjs checks both
// against js/api.mjs's createApi).
export const { version, decode, encode, analyze, analysisText, analysisJson, toText, recompress, truncate,
  minimize, parsePaste, examples, incidents, simulate, Forwarder, CaptureAnalyzer, analyzeCapture, DnspectError, init, initSync } = api;
export default init;
