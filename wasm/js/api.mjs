// The public API of the npm package `dnspect`, over the raw wasm-bindgen module (wasm/src/lib.rs).
//
// One source for every entry point: js/web.mjs and js/node.cjs each call `createApi` with their
// raw module (js/node.mjs re-exports js/node.cjs). Node loads pkg/node/api.cjs and tape.cjs, which
// js/build-cjs.cjs generates from this file and js/tape.mjs, so the CommonJS build loads
// synchronously without a bundler.
//
// This layer owns:
// - `init()`/`initSync()`: instantiating the browser build's wasm (no-ops in Node);
// - argument checks, so that a wrong type fails with a message naming the argument instead of
//   whatever wasm-bindgen's conversion would do with it;
// - `DnspectError`: every failure of every call is one, with `offset` (byte) or `line`/`column`
//   (paste) when known. Errors are values on the Rust side, so the instance stays usable;
// - the encodings across the boundary: messages on a tape of numbers plus one string (js/tape.mjs,
//   measured fastest: bench/npm.mjs), everything else as JSON text.
//
// It must not know DNS: mnemonics come from the core (cached), shapes from the core's serde
// (their TypeScript declarations, js/generated.d.ts, are generated from the Rust types).
import { createTape } from "./tape.mjs";

/** Thrown by every function of the package. */
export class DnspectError extends Error {
  constructor(message, info = {}) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = "DnspectError";
    /**
     * What went wrong: a wire error kind (`truncated`, `pointer_forward`, ... as in
     * docs/json-schema.md), `paste`, `invalid` (a value that cannot be encoded or a config or
     * scenario that does not read), `scenario`, `argument`, `init` or `internal`.
     */
    this.kind = info.kind ?? "internal";
    if (info.offset !== undefined) this.offset = info.offset;
    if (info.line !== undefined) this.line = info.line;
    if (info.column !== undefined) this.column = info.column;
    if (info.detail !== undefined) this.detail = info.detail;
  }
}

const ERROR_PREFIX = '{"__dnspect"';

/** Rethrows whatever a raw call threw as a DnspectError. */
function rethrow(e, context) {
  if (e instanceof DnspectError) throw e;
  if (typeof e === "string" && e.startsWith(ERROR_PREFIX)) {
    const info = JSON.parse(e);
    throw new DnspectError(info.message, info);
  }
  const what = e instanceof Error ? e.message : String(e);
  throw new DnspectError(`${context}: ${what}`, { kind: "internal", cause: e });
}

function describe(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (ArrayBuffer.isView(v)) return `a ${v[Symbol.toStringTag] ?? "typed array"}`;
  if (v instanceof ArrayBuffer) return "an ArrayBuffer";
  switch (typeof v) {
    case "undefined":
      return "undefined";
    case "number":
      return `the number ${v}`;
    case "string":
      return "a string";
    case "object":
      return `an object (${v.constructor?.name ?? "no prototype"})`;
    default:
      return `a ${typeof v}`;
  }
}

function argError(fn, name, expected, v) {
  return new DnspectError(`${fn}: argument "${name}" must be ${expected}, got ${describe(v)}`, {
    kind: "argument",
  });
}

/** Uint8Array, Buffer (a subclass) or a Uint8Array from another realm. */
function isBytes(v) {
  return v instanceof Uint8Array || (ArrayBuffer.isView(v) && v[Symbol.toStringTag] === "Uint8Array");
}

function bytesArg(fn, name, v) {
  if (!isBytes(v)) throw argError(fn, name, "a Uint8Array", v);
}

function objectArg(fn, name, v) {
  if (typeof v !== "object" || v === null || Array.isArray(v) || isBytes(v)) {
    throw argError(fn, name, "an object", v);
  }
}

/** An options object: undefined, or an object whose listed keys have the given types. */
function optionsArg(fn, v, types) {
  if (v === undefined) return {};
  objectArg(fn, "options", v);
  for (const [key, type] of Object.entries(types)) {
    const x = v[key];
    if (x === undefined) continue;
    const ok = type === "limit" ? isLimit(x) : typeof x === type;
    if (!ok) {
      const expected = type === "limit" ? "an integer from 0 to 4294967295" : `a ${type}`;
      throw argError(fn, `options.${key}`, expected, x);
    }
  }
  return v;
}

function isLimit(v) {
  return typeof v === "number" && v >>> 0 === v;
}

function limitArg(fn, name, v) {
  if (!isLimit(v)) throw argError(fn, name, "an integer from 0 to 4294967295", v);
}

function nowArg(fn, v) {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw argError(fn, "nowMs", "a finite number of milliseconds >= 0", v);
  }
}

function safeIntegerArg(fn, name, v) {
  if (!Number.isSafeInteger(v) || v < 0) throw argError(fn, name, "a safe integer >= 0", v);
}

function transportArg(fn, v) {
  if (v === "udp") return false;
  if (v === "tcp") return true;
  throw argError(fn, "transport", "'udp' or 'tcp'", v);
}

/** JSON text of a plain value from the caller (a message, config or scenario). */
function jsonArg(fn, name, v) {
  try {
    return JSON.stringify(v);
  } catch (e) {
    throw new DnspectError(`${fn}: argument "${name}" cannot be read as JSON: ${e.message}`, {
      kind: "argument",
      cause: e,
    });
  }
}

/**
 * Creates the API over a raw module. `rawInit` is null when the module is usable at once (Node:
 * `init()` and `initSync()` do nothing), or the browser build's `{ init, initSync }`, which
 * every other function waits for.
 */
export function createApi(raw, rawInit) {
  let initialised = rawInit === null;

  function ready(fn) {
    if (!initialised) {
      throw new DnspectError(`${fn}: the wasm is not initialised: call \`await init()\` first`, {
        kind: "init",
      });
    }
  }

  /** Instantiates the wasm (once; later calls return at once). A no-op in Node. */
  async function init(input) {
    if (!initialised) {
      await rawInit.init(input);
      initialised = true;
    }
  }

  /** Instantiates the wasm synchronously from its bytes or a compiled module. A no-op in Node. */
  function initSync(input) {
    if (!initialised) {
      rawInit.initSync(input);
      initialised = true;
    }
  }

  const tape = createTape(raw);

  // ---- the API ----------------------------------------------------------------------------------

  /** The package version. */
  function version() {
    ready("version");
    return raw.version();
  }

  function decode(bytes, options) {
    ready("decode");
    bytesArg("decode", "bytes", bytes);
    if (options !== undefined) {
      const { spans } = optionsArg("decode", options, { spans: "boolean" });
      if (spans) {
        try {
          return JSON.parse(raw.decodeJson(bytes, true));
        } catch (e) {
          rethrow(e, "decode");
        }
      }
    }
    try {
      // Larger than any DNS message (trailing bytes): the serde JSON path.
      return tape.decode(bytes) ?? JSON.parse(raw.decodeJson(bytes, false));
    } catch (e) {
      rethrow(e, "decode");
    }
  }

  function encode(message, options) {
    ready("encode");
    objectArg("encode", "message", message);
    const limit = options === undefined ? undefined : optionsArg("encode", options, { limit: "limit" }).limit;
    try {
      return tape.encode(message, limit) ?? raw.encodeJson(jsonArg("encode", "message", message), limit);
    } catch (e) {
      rethrow(e, "encode");
    }
  }

  function bytesToBytes(fn, op) {
    return (bytes) => {
      ready(fn);
      bytesArg(fn, "bytes", bytes);
      try {
        return op(bytes);
      } catch (e) {
        rethrow(e, fn);
      }
    };
  }

  const recompress = bytesToBytes("recompress", (b) => raw.recompress(b));
  const minimize = bytesToBytes("minimize", (b) => raw.minimize(b));

  function truncate(bytes, limit) {
    ready("truncate");
    bytesArg("truncate", "bytes", bytes);
    limitArg("truncate", "limit", limit);
    try {
      const r = raw.truncate(bytes, limit);
      const report = JSON.parse(r.json);
      return { bytes: r.bytes, dropped: report.dropped, tc: report.tc, size: report.size };
    } catch (e) {
      rethrow(e, "truncate");
    }
  }

  function toText(input) {
    ready("toText");
    try {
      if (isBytes(input)) return raw.textOfBytes(input);
    } catch (e) {
      rethrow(e, "toText");
    }
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw argError("toText", "input", "a Uint8Array or a message object", input);
    }
    const json = jsonArg("toText", "input", input);
    try {
      return raw.textOfJson(json);
    } catch (e) {
      rethrow(e, "toText");
    }
  }

  /** Runs `bytesOp` or `pasteOp` on an analysis input. */
  function analysisInput(fn, input, bytesOp, pasteOp) {
    ready(fn);
    if (!isBytes(input) && typeof input !== "string") {
      throw argError(fn, "input", "a Uint8Array of wire bytes or a string paste", input);
    }
    try {
      return isBytes(input) ? bytesOp(input) : pasteOp(input);
    } catch (e) {
      rethrow(e, fn);
    }
  }

  function analysisJsonOf(fn, input) {
    return analysisInput(
      fn,
      input,
      (b) => raw.analyzeBytesJson(b),
      (t) => raw.analyzePasteJson(t),
    );
  }

  function analyze(input) {
    return JSON.parse(analysisJsonOf("analyze", input));
  }

  function analysisJson(input, options) {
    const { pretty } = optionsArg("analysisJson", options, { pretty: "boolean" });
    const json = analysisJsonOf("analysisJson", input);
    // serde_json's pretty printer and JSON.stringify's 2-space form write the same text.
    return pretty === true ? JSON.stringify(JSON.parse(json), null, 2) : json;
  }

  function analysisText(input) {
    return analysisInput(
      "analysisText",
      input,
      (b) => raw.analysisTextOfBytes(b),
      (t) => raw.analysisTextOfPaste(t),
    );
  }

  function parsePaste(text) {
    ready("parsePaste");
    if (typeof text !== "string") throw argError("parsePaste", "text", "a string", text);
    try {
      const r = raw.parsePaste(text);
      const meta = JSON.parse(r.json);
      return { bytes: r.bytes, format: meta.format, layers: meta.layers, raw_len: meta.raw_len };
    } catch (e) {
      rethrow(e, "parsePaste");
    }
  }

  function examples() {
    ready("examples");
    try {
      return JSON.parse(raw.examplesJson());
    } catch (e) {
      rethrow(e, "examples");
    }
  }

  function incidents() {
    ready("incidents");
    try {
      return JSON.parse(raw.incidentsJson());
    } catch (e) {
      rethrow(e, "incidents");
    }
  }

  function simulate(scenario) {
    ready("simulate");
    objectArg("simulate", "scenario", scenario);
    const json = jsonArg("simulate", "scenario", scenario);
    try {
      return JSON.parse(raw.simulateJson(json));
    } catch (e) {
      rethrow(e, "simulate");
    }
  }

  /**
   * A pcap or pcapng capture read in chunks (see the README): `push(chunk)` returns the DNS
   * messages the chunk completed, `finish()` the report; the report's `error` (and `error` here)
   * says where a cut or corrupt file stopped being readable, with everything before it kept.
   */
  class CaptureAnalyzer {
    #raw;
    #replay;
    #bytes = false;
    error = null;

    constructor(options) {
      ready("new CaptureAnalyzer");
      const fn = "new CaptureAnalyzer";
      if (options !== undefined) objectArg(fn, "options", options);
      const { replay, bytes, ...core } = options ?? {};
      if (replay !== undefined && typeof replay !== "boolean") {
        throw argError(fn, "options.replay", "a boolean", replay);
      }
      if (bytes !== undefined && typeof bytes !== "boolean") {
        throw argError(fn, "options.bytes", "a boolean", bytes);
      }
      const json = jsonArg(fn, "options", core);
      try {
        this.#raw = new raw.RawCapture(json, replay === true, bytes === true);
        this.#bytes = bytes === true;
      } catch (e) {
        rethrow(e, fn);
      }
      this.#replay = replay === true;
    }

    /** Reads the next chunk of the file; returns the messages it completed. */
    push(chunk) {
      const fn = "CaptureAnalyzer.push";
      bytesArg(fn, "chunk", chunk);
      const engine = this.#engine(fn);
      try {
        const r = JSON.parse(engine.feed(chunk));
        if (r.error && this.error === null) this.error = r.error;
        if (this.#bytes) {
          const all = engine.takeBytes();
          let at = 0;
          for (const m of r.messages) {
            m.bytes = all.subarray(at, at + m.size);
            at += m.size;
          }
        }
        return r.messages;
      } catch (e) {
        rethrow(e, fn);
      }
    }

    /** The end of the file: the final report. */
    finish() {
      const fn = "CaptureAnalyzer.finish";
      try {
        const r = JSON.parse(this.#engine(fn).finish());
        if (r.error && this.error === null) this.error = r.error;
        return r;
      } catch (e) {
        rethrow(e, fn);
      }
    }

    /** The report of everything read so far. */
    report() {
      const fn = "CaptureAnalyzer.report";
      try {
        return JSON.parse(this.#engine(fn).report());
      } catch (e) {
        rethrow(e, fn);
      }
    }

    /** The servers' answers replayed through dnspect's engine (needs `{replay: true}`). */
    replay() {
      const fn = "CaptureAnalyzer.replay";
      if (!this.#replay) {
        throw new DnspectError(`${fn}: create the analyzer with {replay: true}`, { kind: "argument" });
      }
      try {
        return JSON.parse(this.#engine(fn).replay());
      } catch (e) {
        rethrow(e, fn);
      }
    }

    free() {
      this.#raw?.free();
      this.#raw = undefined;
    }

    #engine(fn) {
      if (this.#raw === undefined) {
        throw new DnspectError(`${fn}: this CaptureAnalyzer was freed`, { kind: "argument" });
      }
      return this.#raw;
    }
  }

  /**
   * A whole capture at once: `{messages, report}` (and `replay` with `{replay: true}`). For a
   * large file, feed a `CaptureAnalyzer` chunk by chunk instead.
   */
  function analyzeCapture(bytes, options) {
    bytesArg("analyzeCapture", "bytes", bytes);
    const a = new CaptureAnalyzer(options);
    try {
      const messages = a.push(bytes);
      const report = a.finish();
      const out = { messages, report };
      if (options?.replay === true) out.replay = a.replay();
      return out;
    } finally {
      a.free();
    }
  }

  /** The forwarding engine's state machine; see the package README. */
  class Forwarder {
    #raw;

    constructor(config, seed) {
      ready("new Forwarder");
      if (config !== undefined) objectArg("new Forwarder", "config", config);
      if (!isBytes(seed) || seed.length !== 32) {
        throw argError("new Forwarder", "seed", "a Uint8Array of 32 bytes", seed);
      }
      // The engine's Config has no `cache` in its serde form: the knobs travel separately.
      const { cache, ...engine } = config ?? {};
      if (cache !== undefined) objectArg("new Forwarder", "config.cache", cache);
      const json = jsonArg("new Forwarder", "config", engine);
      const cacheJson = jsonArg("new Forwarder", "config.cache", cache ?? {});
      try {
        this.#raw = new raw.RawForwarder(json, cacheJson, seed);
      } catch (e) {
        rethrow(e, "new Forwarder");
      }
    }

    handleQuery(nowMs, clientId, transport, bytes) {
      const fn = "Forwarder.handleQuery";
      nowArg(fn, nowMs);
      safeIntegerArg(fn, "clientId", clientId);
      const tcp = transportArg(fn, transport);
      bytesArg(fn, "bytes", bytes);
      try {
        this.#engine(fn).query(nowMs, clientId, tcp, bytes);
      } catch (e) {
        rethrow(e, fn);
      }
    }

    handleResponse(nowMs, upstreamIndex, transport, bytes, token) {
      const fn = "Forwarder.handleResponse";
      nowArg(fn, nowMs);
      if (!Number.isInteger(upstreamIndex) || upstreamIndex < 0 || upstreamIndex > 0xffff) {
        throw argError(fn, "upstreamIndex", "an index into config.upstreams, then config.forward[].upstreams", upstreamIndex);
      }
      const tcp = transportArg(fn, transport);
      bytesArg(fn, "bytes", bytes);
      if (token !== undefined) safeIntegerArg(fn, "token", token);
      try {
        this.#engine(fn).response(nowMs, upstreamIndex, tcp, bytes, token);
      } catch (e) {
        rethrow(e, fn);
      }
    }

    handleFailure(nowMs, token) {
      const fn = "Forwarder.handleFailure";
      nowArg(fn, nowMs);
      safeIntegerArg(fn, "token", token);
      try {
        this.#engine(fn).failure(nowMs, token);
      } catch (e) {
        rethrow(e, fn);
      }
    }

    handleTick(nowMs) {
      const fn = "Forwarder.handleTick";
      nowArg(fn, nowMs);
      try {
        this.#engine(fn).tick(nowMs);
      } catch (e) {
        rethrow(e, fn);
      }
    }

    poll() {
      let o;
      const engine = this.#engine("Forwarder.poll");
      try {
        o = engine.poll();
      } catch (e) {
        rethrow(e, "Forwarder.poll");
      }
      if (o.type === "event") return { type: "event", event: JSON.parse(o.json), text: o.text };
      return o;
    }

    stats() {
      const engine = this.#engine("Forwarder.stats");
      try {
        const s = JSON.parse(engine.statsJson());
        return {
          ...s.engine,
          upstreams: s.upstreams.map(([label, counters]) => ({ label, ...counters })),
          cache: s.cache,
          in_flight: s.in_flight,
        };
      } catch (e) {
        rethrow(e, "Forwarder.stats");
      }
    }

    /**
     * What the cache holds, with each entry's provenance (the same listing as the server's
     * `GET /cache/entries`): `{ name, suffix, limit, nowMs }`, all optional. Without a name,
     * every entry; `limit` defaults to 1000; TTLs are aged to `nowMs` (default: the latest time
     * fed in).
     */
    cacheEntries(options) {
      const fn = "Forwarder.cacheEntries";
      const o = optionsArg(fn, options, { name: "string", suffix: "boolean", limit: "limit", nowMs: "number" });
      if (o.nowMs !== undefined) nowArg(fn, o.nowMs);
      if (o.suffix && o.name === undefined) throw argError(fn, "options.name", "a name when options.suffix is set", o.name);
      try {
        return JSON.parse(
          this.#engine(fn).cacheEntriesJson(o.nowMs ?? 0, o.name, o.suffix ?? false, o.limit ?? 1000),
        );
      } catch (e) {
        rethrow(e, fn);
      }
    }

    /**
     * Flushes the cache: everything (no options), `{ name }` (every type of that name), or
     * `{ name, suffix: true }` (the name and everything under it). Returns `{ keys }`, the keys
     * removed.
     */
    cacheFlush(options) {
      const fn = "Forwarder.cacheFlush";
      const o = optionsArg(fn, options, { name: "string", suffix: "boolean" });
      if (o.suffix && o.name === undefined) throw argError(fn, "options.name", "a name when options.suffix is set", o.name);
      try {
        return { keys: this.#engine(fn).cacheFlush(o.name, o.suffix ?? false) };
      } catch (e) {
        rethrow(e, fn);
      }
    }

    /** Releases the engine's memory now rather than when the object is collected. */
    free() {
      this.#raw?.free();
      this.#raw = undefined;
    }

    /** The raw engine, or an error when `free()` was called. */
    #engine(fn) {
      if (this.#raw === undefined) {
        throw new DnspectError(`${fn}: this Forwarder was freed`, { kind: "argument" });
      }
      return this.#raw;
    }
  }
  if (typeof Symbol.dispose === "symbol") {
    Object.defineProperty(Forwarder.prototype, Symbol.dispose, {
      value() {
        this.free();
      },
      writable: true,
      configurable: true,
    });
  }

  return {
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
    incidents,
    simulate,
    Forwarder,
    CaptureAnalyzer,
    analyzeCapture,
    DnspectError,
    init,
    initSync,
  };
}
