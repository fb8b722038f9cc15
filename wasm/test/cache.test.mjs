// The Forwarder's cache inspection and flush (the server's admin API, in the package):
// provenance of each entry, listing by name and suffix, flushing a name, a suffix or everything.
import { test } from "node:test";
import assert from "node:assert/strict";

import { decode, encode, Forwarder, DnspectError } from "dnspect";

function query(id, name, type = "A") {
  return encode({ header: { id, rd: true }, questions: [{ name, type }], edns: { udp_size: 1232 } });
}

function drain(f) {
  const out = [];
  for (let i = 0; i < 10000; i++) {
    const o = f.poll();
    if (o.type === "wake") return out;
    out.push(o);
  }
  throw new Error("the engine did not settle");
}

/** Asks `name` at `nowMs`; answers upstream (authoritative, without RA) when the engine asks. */
function resolve(f, nowMs, name, ttl = 300) {
  f.handleQuery(nowMs, 1, "udp", query(1, name));
  const up = drain(f).find((o) => o.type === "transmit" && "upstream" in o.to);
  if (!up) return false;
  const q = decode(up.bytes);
  f.handleResponse(
    nowMs,
    up.to.upstream,
    "udp",
    encode({
      header: { id: q.header.id, qr: true, aa: true, rd: true },
      questions: q.questions,
      answers: [{ name, type: "A", ttl, rdata: { kind: "a", address: "192.0.2.80" } }],
      edns: { udp_size: 1232 },
    }),
    up.token,
  );
  const reply = drain(f).find((o) => o.type === "transmit" && "client" in o.to);
  const m = decode(reply.bytes);
  assert.ok(m.header.ra && !m.header.aa, "a recursive answer: RA set, AA cleared");
  return true;
}

test("Forwarder.cacheEntries: each entry with its upstream, rule, TTLs and records", () => {
  const f = new Forwarder({ upstreams: [{ label: "192.0.2.53", trusted: true }], loop_check: false }, new Uint8Array(32).fill(3));
  assert.ok(resolve(f, 1000, "www.example.", 172800));
  const l = f.cacheEntries({ name: "WWW.example", nowMs: 11000 });
  assert.equal(l.total, 1);
  assert.equal(l.truncated, false);
  const e = l.entries[0];
  assert.equal(e.name, "www.example.");
  assert.equal(e.type, "A");
  assert.equal(e.kind, "positive");
  assert.equal(e.upstream, "192.0.2.53");
  assert.equal(e.rule, "positive-capped-at-max");
  assert.match(e.rule_why, /maximum/);
  assert.equal(e.upstream_ttl, 172800);
  assert.equal(e.ttl, 86400);
  assert.equal(e.remaining, 86390);
  assert.equal(e.stored_at_ms, 1000);
  assert.equal(e.age_ms, 10000);
  assert.equal(e.dnssec_ok, false);
  assert.deepEqual(e.records, ["www.example.\t86390\tIN\tA\t192.0.2.80"]);
  // Without nowMs: the latest time fed in.
  assert.equal(f.cacheEntries({ name: "www.example." }).entries[0].remaining, 86400);
  assert.equal(f.cacheEntries({ name: "example." }).total, 0, "not a suffix match by default");
  assert.equal(f.cacheEntries({ name: "example.", suffix: true }).total, 1);
  assert.equal(f.cacheEntries().total, 1);
  f.free();
});

test("Forwarder.cacheFlush: a name, a suffix, everything; counted in stats", () => {
  const f = new Forwarder({ upstreams: [{ label: "192.0.2.53" }], loop_check: false }, new Uint8Array(32).fill(4));
  for (const n of ["a.example.", "b.example.", "c.test."]) assert.ok(resolve(f, 0, n));
  assert.equal(resolve(f, 1, "a.example."), false, "cached: nothing upstream");
  assert.deepEqual(f.cacheFlush({ name: "a.example." }), { keys: 1 });
  assert.equal(resolve(f, 2, "a.example."), true, "flushed: asked upstream again");
  assert.deepEqual(f.cacheFlush({ name: "example.", suffix: true }), { keys: 2 });
  assert.equal(f.cacheEntries().total, 1);
  assert.deepEqual(f.cacheFlush(), { keys: 1 });
  assert.equal(f.cacheEntries().total, 0);
  const s = f.stats();
  assert.equal(s.cache_flushes, 3);
  assert.equal(s.cache_flushed_keys, 4);
  assert.equal(s.cache.keys, 0);
  f.free();
});

test("Forwarder cache methods: bad arguments are DnspectErrors that name the argument", () => {
  const f = new Forwarder({ upstreams: [{ label: "u" }] }, new Uint8Array(32));
  for (const [call, re] of [
    [() => f.cacheEntries({ name: "a..b" }), /Forwarder\.cacheEntries: name "a\.\.b" is not a domain name/],
    [() => f.cacheEntries({ limit: -1 }), /options\.limit/],
    [() => f.cacheEntries({ nowMs: -5 }), /nowMs/],
    [() => f.cacheEntries({ suffix: true }), /options\.name/],
    [() => f.cacheEntries("www.example."), /options/],
    [() => f.cacheFlush({ name: 7 }), /options\.name/],
    [() => f.cacheFlush({ name: "x..y", suffix: true }), /Forwarder\.cacheFlush: name "x\.\.y"/],
  ]) {
    assert.throws(call, (e) => e instanceof DnspectError && re.test(e.message), String(call));
  }
  f.free();
  assert.throws(() => f.cacheFlush(), /freed/);
});
