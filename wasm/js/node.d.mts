// Types for js/node.mjs: the generated declarations of the Node build, plus no-op init functions
// that mirror the browser build's, so one piece of code can run in both.
export * from "../pkg/node/dnspect.js";

/** A no-op in Node (the wasm is instantiated on load); the browser build needs `await init()`. */
export default function init(_moduleOrPath?: unknown): Promise<void>;
/** A no-op in Node; the browser build's `initSync({ module })` instantiates the wasm synchronously. */
export function initSync(_module?: unknown): void;
