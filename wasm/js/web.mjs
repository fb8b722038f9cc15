// Entry for browsers and bundlers: the `default` condition of package.json's exports (also
// "dnspect/web"). The wasm must be instantiated before use:
//
//   import init, { decode } from "dnspect";
//   await init();                      // fetches dnspect_bg.wasm next to pkg/web/dnspect.js
//   await init({ module_or_path: bytesOrUrlOrResponse });   // or from somewhere else
//   initSync({ module: bytesOrWebAssemblyModule });         // or synchronously
//
// Every function throws a DnspectError of kind "init" until then.
import rawInit, * as raw from "../pkg/web/dnspect.js";
import { createApi } from "./api.mjs";

const api = createApi(raw, { init: rawInit, initSync: raw.initSync });

// An ES module's names are static: the same list as js/node.mjs (test/exports.test.mjs checks both
// against js/api.mjs's createApi).
export const { version, decode, encode, analyze, analysisText, analysisJson, toText, recompress, truncate,
  minimize, parsePaste, examples, incidents, simulate, Forwarder, CaptureAnalyzer, analyzeCapture, DnspectError, init, initSync } = api;
export default init;
