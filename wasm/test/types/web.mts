// The browser build's types ("dnspect/web", also the `default` condition), compiled by
// test/types.test.mjs with the DOM library.
import init, { decode, initSync, type InitInput } from "dnspect/web";

const url: InitInput = new URL("https://example.invalid/dnspect_bg.wasm");
await init({ module_or_path: url });
await init({ module_or_path: fetch("dnspect_bg.wasm") });
await init();
initSync({ module: new Uint8Array(8) });
// @ts-expect-error: initSync needs the module
initSync();
export const id: number = decode(new Uint8Array(12)).header.id;
