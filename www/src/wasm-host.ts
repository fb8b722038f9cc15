// Loads the npm package's browser build and calls its exports by name. Used inside the Web Worker
// (worker.ts) and, only when a worker cannot be started, on the main thread (engine.ts).
import init, * as dnspect from "dnspect";
import wasmUrl from "dnspect/dnspect_bg.wasm?url";

/** The functions the page calls; any of them may be missing from an older or newer build. */
export const API_NAMES = [
  "analyze",
  "analysisText",
  "version",
  "decode",
  "encode",
  "recompress",
  "truncate",
  "minimize",
  "simulate",
  "examples",
  "incidents",
] as const;
export type ApiName = (typeof API_NAMES)[number];

export interface Ready {
  version: string;
  available: ApiName[];
}

const table = dnspect as unknown as Record<string, unknown>;

export async function load(): Promise<Ready> {
  await init({ module_or_path: wasmUrl });
  const available = API_NAMES.filter((n) => typeof table[n] === "function");
  const version = typeof table.version === "function" ? String((table.version as () => string)()) : "?";
  return { version, available };
}

/** Calls one export; throws `Error` with the package's message (line/column, offset...). */
export function call(fn: ApiName, args: unknown[]): unknown {
  const f = table[fn];
  if (typeof f !== "function") throw new Error(`${fn}() is not available in this build of the dnspect package`);
  return (f as (...a: unknown[]) => unknown)(...args);
}
