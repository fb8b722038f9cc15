// The Web Worker that owns the wasm: every analysis, transformation and simulation runs here, so
// a multi-megabyte paste or a long simulation never blocks the page.
import { call, load, type ApiName } from "./wasm-host";

interface Request {
  id: number;
  fn: ApiName;
  args: unknown[];
}

const scope = self as unknown as {
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
};

const ready = load();
ready.then(
  (r) => scope.postMessage({ type: "ready", ...r }),
  (e: unknown) => scope.postMessage({ type: "failed", error: String((e as Error)?.message ?? e) }),
);

scope.onmessage = async (e) => {
  const { id, fn, args } = e.data;
  try {
    await ready;
    const t0 = performance.now();
    const result = call(fn, args);
    scope.postMessage({ id, ok: true, result, ms: performance.now() - t0 });
  } catch (err) {
    const e = err as { message?: unknown; line?: unknown; column?: unknown; offset?: unknown; kind?: unknown };
    const message = typeof e?.message === "string" ? e.message : String(err);
    // The package's errors may carry where they happened (line/column of a paste, byte offset).
    const where = { line: e?.line, column: e?.column, offset: e?.offset, kind: e?.kind };
    scope.postMessage({ id, ok: false, error: message, where: JSON.parse(JSON.stringify(where)) });
  }
};
