// The Web Worker that reads capture files: the file is read here in 1 MiB slices and fed to the
// package's CaptureAnalyzer, the messages stay here, and the page asks for the rows it shows.
// The page's thread never touches the file or the parsing, so it stays responsive at 100,000
// messages and more.
import init, { CaptureAnalyzer } from "dnspect";
import type { CaptureMessage, CaptureReport, CaptureOptions } from "dnspect";
import wasmUrl from "dnspect/dnspect_bg.wasm?url";

export type CaptureRequest =
  | { type: "open"; file: Blob; options?: Partial<CaptureOptions> }
  | { type: "rows"; start: number; end: number; seq: number }
  | { type: "bytes"; index: number }
  | { type: "replay" };

/** A row as the table shows it (the message without its bytes). */
export type CaptureRow = CaptureMessage;

const scope = self as unknown as {
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<CaptureRequest>) => void) | null;
};

const ready = init({ module_or_path: wasmUrl });
let rows: CaptureRow[] = [];
let bytes: Uint8Array[] = [];
let analyzer: CaptureAnalyzer | null = null;
let generation = 0;

const CHUNK = 1 << 20;

async function open(file: Blob, options: Partial<CaptureOptions> | undefined) {
  await ready;
  const gen = ++generation;
  analyzer?.free();
  rows = [];
  bytes = [];
  let a: CaptureAnalyzer;
  try {
    a = new CaptureAnalyzer({ ...(options ?? {}), bytes: true, replay: true });
  } catch (e) {
    scope.postMessage({ type: "failed", error: String((e as Error).message ?? e) });
    return;
  }
  analyzer = a;
  const t0 = performance.now();
  let lastPost = 0;
  for (let at = 0; at < file.size; at += CHUNK) {
    const chunk = new Uint8Array(await file.slice(at, at + CHUNK).arrayBuffer());
    if (gen !== generation) return;
    for (const m of a.push(chunk)) {
      bytes.push(m.bytes!.slice());
      delete m.bytes;
      rows.push(m);
    }
    if (a.error) break;
    const now = performance.now();
    if (now - lastPost > 100) {
      lastPost = now;
      scope.postMessage({ type: "progress", read: Math.min(at + CHUNK, file.size), total: file.size, count: rows.length });
    }
  }
  const report: CaptureReport = a.finish();
  scope.postMessage({ type: "done", count: rows.length, report, ms: performance.now() - t0 });
}

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === "open") {
    void open(m.file, m.options);
  } else if (m.type === "rows") {
    scope.postMessage({ type: "rows", start: m.start, seq: m.seq, rows: rows.slice(m.start, m.end) });
  } else if (m.type === "bytes") {
    const b = bytes[m.index];
    scope.postMessage({ type: "bytes", index: m.index, hex: b ? Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("") : null });
  } else if (m.type === "replay") {
    try {
      const r = analyzer?.replay();
      scope.postMessage({ type: "replay", rows: r?.rows ?? [], upstream: r?.result.upstream_queries ?? 0, left: r?.left_out ?? 0 });
    } catch (err) {
      scope.postMessage({ type: "replay", error: String((err as Error).message ?? err), rows: [] });
    }
  }
};
