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

let ready = false;
const api = createApi(raw, () => ready);

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
} = api;

/** Instantiates the wasm (once; later calls return at once). */
export async function init(input) {
  if (!ready) {
    await rawInit(input);
    ready = true;
  }
}

/** Instantiates the wasm synchronously from its bytes or a compiled `WebAssembly.Module`. */
export function initSync(input) {
  if (!ready) {
    raw.initSync(input);
    ready = true;
  }
}

export default init;
