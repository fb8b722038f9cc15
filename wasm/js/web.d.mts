// Types of the entry for browsers and bundlers (js/web.mjs).
export * from "./dnspect.js";

/** Where the browser build finds its .wasm: a URL (default: next to pkg/web/dnspect.js), a response, bytes or a module. */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/** Instantiates the wasm (once; later calls return at once). Every other function needs it first. */
export declare function init(input?: { module_or_path: InitInput | Promise<InitInput> }): Promise<void>;
/** Instantiates the wasm synchronously from its bytes or a compiled module. */
export declare function initSync(input: { module: BufferSource | WebAssembly.Module }): void;
export default init;
