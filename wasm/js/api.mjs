// The public API of the npm package `dnspect`, over the raw wasm-bindgen module (wasm/src/lib.rs).
//
// One source for every entry point: js/web.mjs imports this file as it is; the Node entries use
// pkg/node/api.cjs, which js/build-cjs.cjs generates from it (the `export` keywords become a
// `module.exports`), so the CommonJS build loads synchronously without a bundler.
//
// This layer owns:
// - argument checks, so that a wrong type fails with a message naming the argument instead of
//   whatever wasm-bindgen's conversion would do with it;
// - `DnspectError`: every failure of every call is one, with `offset` (byte) or `line`/`column`
//   (paste) when known. Errors are values on the Rust side, so the instance stays usable;
// - the encodings across the boundary: messages on a tape of numbers plus one string (see
//   wasm/src/tape.rs: measured fastest, bench/npm.mjs), everything else as JSON text.
//
// It must not know DNS: mnemonics come from the core (cached), shapes from the core's serde.

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

// ---- the message tape (layout: wasm/src/tape.rs) ------------------------------------------------

const BACKREF = 0x80000000;
const KIND_JSON = 0;
const KIND_A = 1;
const KIND_AAAA = 2;
const KIND_NAME = 3;
const KIND_MX = 4;
const KIND_SOA = 5;
const KIND_TXT = 6;

/** Thrown inside writeMessage when a value is not one the tape carries: use the JSON path. */
const FALLBACK = Symbol("fallback");
const EMPTY = Object.freeze([]);
/** "0." to "255.", and "0" to "255": an IPv4 address in four concatenations. */
const OCTETS = Array.from({ length: 256 }, (_, i) => `${i}.`);
const LAST_OCTET = Array.from({ length: 256 }, (_, i) => `${i}`);
const EMPTY_HEADER = Object.freeze({});
const EMPTY_STRINGS = [];

/**
 * Creates the API over a raw module. `isReady` is null when the module is usable at once (Node),
 * or a function telling whether `init()` has run (browsers).
 */
export function createApi(raw, isReady) {
  function ready(fn) {
    if (isReady !== null && !isReady()) {
      throw new DnspectError(`${fn}: the wasm is not initialised: call \`await init()\` first`, {
        kind: "init",
      });
    }
  }

  // Mnemonics, from the core, cached both ways.
  const typeNames = [];
  const classNames = [];
  const opcodeNames = [];
  // Mnemonic -> number, with the last one looked up in front (records in a row share types).
  const codeCache = () => ({ map: new Map(), lastKey: undefined, lastCode: 0 });
  const typeCodes = codeCache();
  const classCodes = codeCache();
  const opcodeCodes = codeCache();

  // ---- the shared buffers (wasm/src/lib.rs, `Io`) ------------------------------------------------
  // Set up on first use: the browser build's memory exists only after init(). Growing the memory
  // detaches its buffer (every view then has length 0), so views are taken again after any call
  // into the wasm that may allocate.

  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  const encoder = new TextEncoder();
  const views = {
    memory: null,
    u8: null,
    u32: null,
    /** Index of the descriptor in `u32`. */
    desc: 0,
    input: 0,
    inputCap: 0,
    numsIn: 0,
    numsCap: 0,
    textIn: 0,
    textCap: 0,
    /** A view of the shared text input. */
    text: null,
  };

  function refreshViews() {
    if (views.u8.length === 0) {
      const buf = views.memory.buffer;
      views.u8 = new Uint8Array(buf);
      views.u32 = new Uint32Array(buf);
      views.text = views.u8.subarray(views.textIn, views.textIn + views.textCap);
    }
  }

  /** The shared buffers, set up and with fresh views. */
  function io() {
    if (views.memory === null) {
      const desc = raw.ioSetup();
      const memory = raw.wasmMemory();
      const u32 = new Uint32Array(memory.buffer);
      const d = desc >>> 2;
      Object.assign(views, {
        desc: d,
        input: u32[d],
        inputCap: u32[d + 1],
        numsIn: u32[d + 6],
        numsCap: u32[d + 7],
        textIn: u32[d + 8],
        textCap: u32[d + 9],
        u8: new Uint8Array(0),
        memory,
      });
    }
    refreshViews();
    return views;
  }

  // ---- decode: the tape reader (layout: wasm/src/tape.rs) ----------------------------------------
  // Its state lives here rather than in closures made per call: nothing it calls re-enters it.

  let rn = null;
  let ri = 0;
  let rtext = "";
  let rtp = 0;
  let rshared = false;
  let rstrs = [];

  function rstr() {
    const v = rn[ri++];
    if (v >= BACKREF) return rstrs[v - BACKREF];
    const s = rtext.substring(rtp, (rtp += v));
    rstrs.push(s);
    return s;
  }

  function rlookup(names, fetch, c) {
    const s = names[c];
    if (s !== undefined) return s;
    const t = (names[c] = fetch(c));
    if (rshared) {
      refreshViews();
      rn = views.u32;
    }
    return t;
  }

  function rrecord() {
    const name = rstr();
    const type = rlookup(typeNames, raw.typeName, rn[ri++]);
    const cls = rlookup(classNames, raw.className, rn[ri++]);
    const ttl = rn[ri++];
    let rdata;
    switch (rn[ri++]) {
      case KIND_A: {
        const a = rn[ri++];
        rdata = {
          kind: "a",
          address: OCTETS[a >>> 24] + OCTETS[(a >>> 16) & 255] + OCTETS[(a >>> 8) & 255] + LAST_OCTET[a & 255],
        };
        break;
      }
      case KIND_AAAA:
        rdata = { kind: "aaaa", address: rstr() };
        break;
      case KIND_NAME:
        rdata = { kind: "name", target: rstr() };
        break;
      case KIND_MX: {
        const preference = rn[ri++];
        rdata = { kind: "mx", preference, exchange: rstr() };
        break;
      }
      case KIND_SOA: {
        const mname = rstr();
        const rname = rstr();
        const n = rn;
        const i = ri;
        rdata = {
          kind: "soa",
          mname,
          rname,
          serial: n[i],
          refresh: n[i + 1],
          retry: n[i + 2],
          expire: n[i + 3],
          minimum: n[i + 4],
        };
        ri += 5;
        break;
      }
      case KIND_TXT: {
        const count = rn[ri++];
        const strings = new Array(count);
        for (let k = 0; k < count; k++) strings[k] = rstr();
        rdata = { kind: "txt", strings };
        break;
      }
      default:
        rdata = JSON.parse(rstr());
    }
    return { name, type, class: cls, ttl, rdata };
  }

  /**
   * The message object from a decode tape: `n[base..]` holds the numbers, `text` the strings.
   * `shared`: `n` is a view of the wasm memory, taken again if a mnemonic lookup grows it.
   */
  function readMessage(n, base, text, shared) {
    rn = n;
    ri = base + 16;
    rtext = text;
    rtp = 0;
    rshared = shared;
    rstrs = [];
    try {
      const h = base;
      const header = {
        id: n[h],
        qr: n[h + 1] === 1,
        opcode: null,
        aa: n[h + 3] === 1,
        tc: n[h + 4] === 1,
        rd: n[h + 5] === 1,
        ra: n[h + 6] === 1,
        z: n[h + 7] === 1,
        ad: n[h + 8] === 1,
        cd: n[h + 9] === 1,
        rcode: n[h + 10],
      };
      const nq = n[h + 11];
      const nan = n[h + 12];
      const nns = n[h + 13];
      const nar = n[h + 14];
      const hasEdns = n[h + 15] === 1;
      header.opcode = rlookup(opcodeNames, raw.opcodeName, n[h + 2]);
      const questions = new Array(nq);
      for (let k = 0; k < nq; k++) {
        const name = rstr();
        const type = rlookup(typeNames, raw.typeName, rn[ri++]);
        questions[k] = { name, type, class: rlookup(classNames, raw.className, rn[ri++]) };
      }
      const answers = new Array(nan);
      for (let k = 0; k < nan; k++) answers[k] = rrecord();
      const authority = new Array(nns);
      for (let k = 0; k < nns; k++) authority[k] = rrecord();
      const additional = new Array(nar);
      for (let k = 0; k < nar; k++) additional[k] = rrecord();
      let edns = null;
      if (hasEdns) {
        const i = ri;
        edns = {
          udp_size: rn[i],
          ext_rcode: rn[i + 1],
          version: rn[i + 2],
          dnssec_ok: rn[i + 3] === 1,
          z: rn[i + 4],
          options: [],
        };
        ri += 6;
        if (rn[i + 5] === 1) edns.options = JSON.parse(rstr());
      }
      return { header, questions, answers, authority, additional, edns };
    } finally {
      rn = null;
      rtext = "";
      rstrs = EMPTY_STRINGS;
    }
  }

  // ---- encode: the tape writer --------------------------------------------------------------------
  // Writes the numbers straight into the shared `nums_in`, and collects the text for one
  // TextEncoder.encodeInto. Anything that is not the plain common case throws FALLBACK: the JSON
  // path then reads the message and serde says what is wrong, if anything.

  let wu = null;
  let wp = 0;
  let wend = 0;
  let wtext = "";
  let wstrings = 0;
  const wseen = new Map();

  function wpush(v) {
    if (wp >= wend) throw FALLBACK;
    wu[wp++] = v;
  }

  function wstr(s) {
    if (typeof s !== "string") throw FALLBACK;
    wpush(s.length);
    wtext += s;
    wstrings++;
  }

  function wname(s) {
    const j = wseen.get(s);
    if (j !== undefined) return wpush(BACKREF + j);
    if (typeof s !== "string") throw FALLBACK;
    wseen.set(s, wstrings);
    wstr(s);
  }

  function wu32(v, dflt) {
    if (v === undefined && dflt !== undefined) return wpush(dflt);
    if (typeof v !== "number" || v >>> 0 !== v) throw FALLBACK;
    wpush(v);
  }

  function wu16(v, dflt) {
    if (v === undefined && dflt !== undefined) return wpush(dflt);
    if ((v & 0xffff) !== v) throw FALLBACK;
    wpush(v);
  }

  function wu8(v) {
    if (v === undefined) return wpush(0);
    if ((v & 0xff) !== v) throw FALLBACK;
    wpush(v);
  }

  function wbool(v) {
    if (v === true) wpush(1);
    else if (v === false || v === undefined) wpush(0);
    else throw FALLBACK;
  }

  function wlist(v) {
    if (v === undefined) return EMPTY;
    if (!Array.isArray(v)) throw FALLBACK;
    return v;
  }

  /** A type, class or opcode number from a number or a mnemonic (parsed by the core, cached). */
  function wcode(v, cache, parse, max, dflt) {
    if (v === undefined && dflt !== undefined) return wpush(dflt);
    if (typeof v === "number") {
      if (v >>> 0 !== v || v > max) throw FALLBACK;
      return wpush(v);
    }
    if (typeof v !== "string") throw FALLBACK;
    if (v === cache.lastKey) return wpush(cache.lastCode);
    let c = cache.map.get(v);
    if (c === undefined) {
      c = parse(v);
      refreshViews();
      wu = views.u32;
      if (c < 0) throw FALLBACK;
      cache.map.set(v, c);
    }
    cache.lastKey = v;
    cache.lastCode = c;
    wpush(c);
  }

  function wrecord(r) {
    if (typeof r !== "object" || r === null) throw FALLBACK;
    wname(r.name);
    wcode(r.type, typeCodes, raw.typeCode, 0xffff);
    wcode(r.class, classCodes, raw.classCode, 0xffff, 1);
    wu32(r.ttl, 0);
    const d = r.rdata;
    if (typeof d !== "object" || d === null) throw FALLBACK;
    switch (d.kind) {
      case "a":
        wpush(KIND_A);
        wstr(d.address);
        break;
      case "aaaa":
        wpush(KIND_AAAA);
        wstr(d.address);
        break;
      case "name":
        wpush(KIND_NAME);
        wname(d.target);
        break;
      case "mx":
        wpush(KIND_MX);
        wu16(d.preference);
        wname(d.exchange);
        break;
      case "soa":
        wpush(KIND_SOA);
        wname(d.mname);
        wname(d.rname);
        wu32(d.serial);
        wu32(d.refresh);
        wu32(d.retry);
        wu32(d.expire);
        wu32(d.minimum);
        break;
      case "txt": {
        const strings = d.strings;
        if (!Array.isArray(strings)) throw FALLBACK;
        wpush(KIND_TXT);
        wpush(strings.length);
        for (let k = 0; k < strings.length; k++) wstr(strings[k]);
        break;
      }
      default:
        wpush(KIND_JSON);
        wstr(JSON.stringify(d));
    }
  }

  /** Writes the tape of `m` into the shared buffers; returns how many numbers it took. */
  function writeMessage(m, b) {
    if (typeof m !== "object" || m === null) throw FALLBACK;
    wu = b.u32;
    wp = b.numsIn >>> 2;
    wend = wp + b.numsCap;
    const start = wp;
    wtext = "";
    wstrings = 0;
    wseen.clear();
    const h = m.header === undefined ? EMPTY_HEADER : m.header;
    if (typeof h !== "object" || h === null) throw FALLBACK;
    wu16(h.id, 0);
    wbool(h.qr);
    wcode(h.opcode, opcodeCodes, raw.opcodeCode, 0xff, 0);
    wbool(h.aa);
    wbool(h.tc);
    wbool(h.rd);
    wbool(h.ra);
    wbool(h.z);
    wbool(h.ad);
    wbool(h.cd);
    wu8(h.rcode);
    const questions = wlist(m.questions);
    const answers = wlist(m.answers);
    const authority = wlist(m.authority);
    const additional = wlist(m.additional);
    wpush(questions.length);
    wpush(answers.length);
    wpush(authority.length);
    wpush(additional.length);
    const edns = m.edns;
    const hasEdns = edns !== undefined && edns !== null;
    wpush(hasEdns ? 1 : 0);
    for (let k = 0; k < questions.length; k++) {
      const q = questions[k];
      if (typeof q !== "object" || q === null) throw FALLBACK;
      wname(q.name);
      wcode(q.type, typeCodes, raw.typeCode, 0xffff);
      wcode(q.class, classCodes, raw.classCode, 0xffff, 1);
    }
    for (let k = 0; k < answers.length; k++) wrecord(answers[k]);
    for (let k = 0; k < authority.length; k++) wrecord(authority[k]);
    for (let k = 0; k < additional.length; k++) wrecord(additional[k]);
    if (hasEdns) {
      if (typeof edns !== "object") throw FALLBACK;
      wu16(edns.udp_size);
      wu8(edns.ext_rcode);
      wu8(edns.version);
      wbool(edns.dnssec_ok);
      wu16(edns.z, 0);
      const options = wlist(edns.options);
      if (options.length > 0) {
        wpush(1);
        wstr(JSON.stringify(options));
      } else {
        wpush(0);
      }
    }
    return wp - start;
  }

  function encodeWith(fn, message, limit) {
    const b = io();
    let count = -1;
    try {
      count = writeMessage(message, b);
    } catch {
      // FALLBACK, or a value JSON cannot hold either (the JSON path says which).
      count = -1;
    } finally {
      wu = null;
      wseen.clear();
    }
    const text = wtext;
    wtext = "";
    // Lone surrogates: encodeInto would write U+FFFD where JSON (and so serde) rejects them.
    if (count >= 0 && (text.isWellFormed?.() ?? true)) {
      refreshViews();
      const { read, written } = encoder.encodeInto(text, views.text);
      if (read === text.length) {
        const len = raw.encodeIo(count, written, limit === undefined ? -1 : limit);
        if (len >= 0) {
          refreshViews();
          const at = views.u32[views.desc + 10];
          return views.u8.slice(at, at + len);
        }
      }
    }
    return raw.encodeJson(jsonArg(fn, "message", message), limit);
  }

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
      const v = io();
      if (bytes.length <= v.inputCap) {
        // One call, no allocation: the bytes go into the shared input, the tape comes back in
        // buffers the descriptor points to.
        v.u8.set(bytes, v.input);
        raw.decodeIo(bytes.length);
        refreshViews();
        const u32 = views.u32;
        const d = views.desc;
        const textLen = u32[d + 5];
        const text =
          textLen === 0 ? "" : decoder.decode(views.u8.subarray(u32[d + 4], u32[d + 4] + textLen));
        return readMessage(u32, u32[d + 2] >>> 2, text, true);
      }
      // Larger than any DNS message (trailing bytes): the serde JSON path.
      return JSON.parse(raw.decodeJson(bytes, false));
    } catch (e) {
      rethrow(e, "decode");
    }
  }

  function encode(message, options) {
    ready("encode");
    objectArg("encode", "message", message);
    const limit = options === undefined ? undefined : optionsArg("encode", options, { limit: "limit" }).limit;
    try {
      return encodeWith("encode", message, limit);
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
      return raw.truncate(bytes, limit);
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
        throw argError(fn, "upstreamIndex", "an index into config.upstreams", upstreamIndex);
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
    simulate,
    Forwarder,
    DnspectError,
  };
}
