// Types of the ES module entry for Node (js/node.mjs).
export * from "./dnspect.js";

/** A no-op in Node (the wasm is ready on load); the browser build needs `await init()`. */
export declare function init(input?: unknown): Promise<void>;
/** A no-op in Node; the browser build's `initSync({ module })` instantiates synchronously. */
export declare function initSync(input?: unknown): void;
export default init;
