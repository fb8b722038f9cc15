// decode() has two ways from wire bytes to the tape (wasm/src/tape.rs): straight from the wire
// for common messages (`write_wire`), and through the core's decoded message for the rest and
// for every error. This runs both in the built wasm against the core's serde JSON form, on the
// examples, everyday answers and seeded mutations of them: the same object, or the same error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

import { decode, examples, encode, DnspectError } from "dnspect";
import { allTypesMessage, fromHex, wwwExample } from "./fixtures.mjs";

const require = createRequire(import.meta.url);
const raw = require("../pkg/node/dnspect.js");

/** The core's serde path, or the error it throws (message and offset). */
function serde(bytes) {
  try {
    return { message: JSON.parse(raw.decodeJson(bytes, false)) };
  } catch (e) {
    return { error: e };
  }
}

function ours(bytes) {
  try {
    return { message: decode(bytes) };
  } catch (e) {
    assert.ok(e instanceof DnspectError, `not a DnspectError: ${e}`);
    return { error: e };
  }
}

function same(what, bytes) {
  const a = ours(bytes);
  const b = serde(bytes);
  if (b.message !== undefined) {
    assert.equal(a.error, undefined, `${what}: decode() threw ${a.error?.message}`);
    assert.deepEqual(a.message, b.message, what);
    // Key order too: JSON.stringify of the result is the core's JSON text.
    assert.equal(JSON.stringify(a.message), raw.decodeJson(bytes, false), what);
    return true;
  }
  assert.ok(a.error, `${what}: decode() took bytes the core rejects (${b.error.message})`);
  // The raw call throws the error as JSON text; the package's DnspectError carries the same.
  const info = JSON.parse(b.error);
  assert.equal(a.error.message, info.message, what);
  assert.equal(a.error.kind, info.kind, `${what}: kind`);
  assert.equal(a.error.offset, info.offset, `${what}: offset`);
  assert.deepEqual(a.error.detail, info.detail, `${what}: detail`);
  return false;
}

const inputs = [
  ...examples().map((e) => [e.name, fromHex(e.hex)]),
  ["www.example.com", wwwExample()],
  ["every record type", encode(allTypesMessage())],
];

test("decode() gives the core's message for the examples and every record type", () => {
  for (const [what, bytes] of inputs) assert.ok(same(what, bytes), `${what} decodes`);
});

test("decode() gives the core's message or its exact error on mutated messages", () => {
  // xorshift32, seeded: the same mutations every run.
  let s = 0x2545f491;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  let ok = 0;
  let total = 0;
  for (const [what, bytes] of inputs) {
    for (let k = 0; k < 300; k++) {
      let b = Uint8Array.from(bytes);
      for (let m = 1 + (next() % 3); m > 0; m--) {
        const at = next() % b.length;
        switch (next() % 4) {
          case 0:
            b[at] = next() % 8;
            break;
          case 1:
            b[at] = 0xc0 | next() % 4;
            break;
          case 2:
            b[at] = next() & 255;
            break;
          default:
            b = b.subarray(0, Math.max(1, at));
        }
      }
      total++;
      if (same(`${what} #${k}`, b)) ok++;
    }
  }
  // Both outcomes are exercised.
  assert.ok(ok > total / 20 && ok < total, `${ok} of ${total} mutations decoded`);
});
