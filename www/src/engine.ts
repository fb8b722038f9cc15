// The page's handle on the wasm. Calls are asynchronous and go to a Web Worker; when no worker can
// be started (very old browsers, some sandboxed frames) the same module runs on the main thread.
import type { ApiName, Ready } from "./wasm-host";
import type { Analysis, Example, Scenario, SimResult, Truncated } from "dnspect";

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class Engine {
  readonly ready: Promise<Ready>;
  /** Where the wasm runs: "worker" or "main thread". */
  where = "worker";
  private info: Ready | null = null;
  private worker: Worker | null = null;
  private next = 1;
  private pending = new Map<number, Pending>();
  private local: typeof import("./wasm-host") | null = null;

  constructor() {
    this.ready = this.start().then((r) => (this.info = r));
  }

  private async start(): Promise<Ready> {
    try {
      return await this.startWorker();
    } catch (e) {
      console.warn("dnspect: no Web Worker, running the wasm on the main thread:", e);
      this.worker?.terminate();
      this.worker = null;
      this.where = "main thread";
      this.local = await import("./wasm-host");
      return this.local.load();
    }
  }

  private startWorker(): Promise<Ready> {
    return new Promise<Ready>((resolve, reject) => {
      const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module", name: "dnspect" });
      this.worker = w;
      let started = false;
      w.onmessage = (e: MessageEvent) => {
        const m = e.data;
        if (m.type === "ready") {
          started = true;
          resolve({ version: m.version, available: m.available });
          return;
        }
        if (m.type === "failed") {
          reject(new Error(m.error));
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else p.reject(Object.assign(new Error(m.error), m.where ?? {}));
      };
      w.onerror = (e) => {
        if (!started) {
          e.preventDefault();
          reject(new Error(e.message || "the worker failed to start"));
          return;
        }
        for (const p of this.pending.values()) p.reject(new Error(e.message || "the worker failed"));
        this.pending.clear();
      };
    });
  }

  has(fn: ApiName): boolean {
    return !!this.info?.available.includes(fn);
  }

  get version(): string {
    return this.info?.version ?? "";
  }

  async call<T = unknown>(fn: ApiName, ...args: unknown[]): Promise<T> {
    await this.ready;
    if (!this.has(fn)) throw new NotAvailable(fn);
    if (this.local) return this.local.call(fn, args) as T;
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker!.postMessage({ id, fn, args });
    });
  }

  analyze(input: string | Uint8Array): Promise<Analysis> {
    return this.call<Analysis>("analyze", input);
  }
  analysisText(input: string | Uint8Array): Promise<string> {
    return this.call<string>("analysisText", input);
  }
  examples(): Promise<Example[]> {
    return this.call<Example[]>("examples");
  }
  simulate(s: Scenario): Promise<SimResult> {
    return this.call<SimResult>("simulate", s);
  }
  recompress(b: Uint8Array): Promise<Uint8Array> {
    return this.call<Uint8Array>("recompress", b);
  }
  minimize(b: Uint8Array): Promise<Uint8Array> {
    return this.call<Uint8Array>("minimize", b);
  }
  truncate(b: Uint8Array, limit: number): Promise<Truncated> {
    return this.call<Truncated>("truncate", b, limit);
  }
}

/** A function this build of the package does not export (yet). */
export class NotAvailable extends Error {
  constructor(readonly fn: string) {
    super(`${fn}() is not available in this build of the dnspect package`);
    this.name = "NotAvailable";
  }
}
