// The message tape (layout: wasm/src/tape.rs), both ways: the reader that turns a decode tape into
// the message object, and the writer that puts a message object on an encode tape, over the
// buffers the wasm shares with the glue (wasm/src/lib.rs, `Io`). The numbers between the GENERATED
// markers come from wasm/src/tape.rs: `cargo test -p dnspect-wasm` fails while they differ.
//
// Imported by js/api.mjs only (and turned into pkg/node/tape.cjs with it by js/build-cjs.cjs).

// ---- BEGIN GENERATED from wasm/src/tape.rs by wasm/src/ts.rs: do not edit ----
const BACKREF = 0x80000000;
const KIND_JSON = 0;
const KIND_A = 1;
const KIND_AAAA = 2;
const KIND_NAME = 3;
const KIND_MX = 4;
const KIND_SOA = 5;
const KIND_TXT = 6;
const HEAD = 16;
const DESC_INPUT = 0;
const DESC_INPUT_CAP = 1;
const DESC_NUMS = 2;
const DESC_NUMS_LEN = 3;
const DESC_TEXT = 4;
const DESC_TEXT_LEN = 5;
const DESC_NUMS_IN = 6;
const DESC_NUMS_IN_CAP = 7;
const DESC_TEXT_IN = 8;
const DESC_TEXT_IN_CAP = 9;
const DESC_OUT = 10;
// ---- END GENERATED ----


/** Thrown inside writeMessage when a value is not one the tape carries: use the JSON path. */
const FALLBACK = Symbol("fallback");
const EMPTY = Object.freeze([]);
/** "0." to "255.", and "0" to "255": an IPv4 address in four concatenations. */
const OCTETS = Array.from({ length: 256 }, (_, i) => `${i}.`);
const LAST_OCTET = Array.from({ length: 256 }, (_, i) => `${i}`);
const EMPTY_HEADER = Object.freeze({});
const EMPTY_STRINGS = [];

/**
 * The tape over a raw module: `decode(bytes)` returns the message, or undefined when the bytes do
 * not fit the shared input (the caller then takes the JSON path); `encode(message, limit)` returns
 * the bytes, or null when the message is not one the tape carries (the caller then takes the JSON
 * path, and serde says what is wrong, if anything). Both throw what the raw calls throw.
 */
export function createTape(raw) {
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
        input: u32[d + DESC_INPUT],
        inputCap: u32[d + DESC_INPUT_CAP],
        numsIn: u32[d + DESC_NUMS_IN],
        numsCap: u32[d + DESC_NUMS_IN_CAP],
        textIn: u32[d + DESC_TEXT_IN],
        textCap: u32[d + DESC_TEXT_IN_CAP],
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
    ri = base + HEAD;
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

  function encode(message, limit) {
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
          const at = views.u32[views.desc + DESC_OUT];
          return views.u8.slice(at, at + len);
        }
      }
    }
    return null;
  }

  /** The message in `bytes` through the shared buffers, or undefined when they are too large. */
  function decode(bytes) {
    const v = io();
    if (bytes.length > v.inputCap) return undefined;
    // One call, no allocation: the bytes go into the shared input, the tape comes back in
    // buffers the descriptor points to.
    v.u8.set(bytes, v.input);
    raw.decodeIo(bytes.length);
    refreshViews();
    const u32 = views.u32;
    const d = views.desc;
    const textLen = u32[d + DESC_TEXT_LEN];
    const at = u32[d + DESC_TEXT];
    const text = textLen === 0 ? "" : decoder.decode(views.u8.subarray(at, at + textLen));
    return readMessage(u32, u32[d + DESC_NUMS] >>> 2, text, true);
  }

  return { decode, encode };
}
