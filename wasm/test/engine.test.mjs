// The engine through the package: simulate() on scenarios written as JS objects (the shapes of
// core/tests/scenarios/*.toml), and the Forwarder class driven by hand, without sockets.
import { test } from "node:test";
import assert from "node:assert/strict";

import { decode, encode, Forwarder, simulate } from "dnspect";
import { seed758, toHex } from "./fixtures.mjs";

test("simulate(): incident 000, a 758-byte uncompressed answer to a client without EDNS", () => {
  const r = simulate({
    title: "Incident 000",
    upstreams: [
      {
        label: "10.0.0.1",
        rules: [{ name: "api-push.vivo.com.cn.", respond: [{ kind: "hex", hex: toHex(seed758) }] }],
      },
    ],
    queries: [
      {
        at_ms: 0,
        name: "api-push.vivo.com.cn.",
        expect: { rcode: "NOERROR", answers: 20, max_size: 512, tc: false, via_tcp: false },
      },
    ],
    expect: {
      max_upstream_queries: 1,
      no_servfail: true,
      log_contains: ["upstream answer of 758 B re-compressed to 358 B"],
    },
  });
  assert.deepEqual(r.failures, []);
  assert.equal(r.title, "Incident 000");
  assert.equal(r.upstream_queries, 1);
  assert.equal(r.answers.length, 1);
  const a = r.answers[0];
  assert.equal(a.rcode, "NOERROR");
  assert.equal(a.size, 358);
  assert.equal(a.transport, "UDP");
  assert.equal(a.answers.length, 20);
  assert.equal(decode(Buffer.from(a.hex, "hex")).answers.length, 20);
  // Events carry timestamps and the rule behind each decision; the trace says it in words.
  const kinds = r.events.map((e) => e.event);
  for (const k of ["query", "cache_miss", "forwarded", "upstream_response", "cached", "answered"]) {
    assert.ok(kinds.includes(k), `${k} in ${kinds}`);
  }
  for (const e of r.events) assert.equal(typeof e.at_ms, "number");
  assert.ok(r.trace.some((t) => t.actor === "client" && /asks api-push\.vivo\.com\.cn\./.test(t.text)));
  assert.ok(r.trace.some((t) => t.actor === "upstream"));
  assert.equal(r.stats.queries, 1);
  assert.equal(r.stats.recompressed, 1);
});

test("simulate(): TC over UDP makes the engine retry the upstream over TCP", () => {
  const r = simulate({
    title: "TC over UDP",
    upstreams: [
      {
        label: "10.0.0.1",
        rules: [{ name: "www.example.", respond: [{ tc_over_udp: true, answer: ["www.example. 300 IN A 192.0.2.10"] }] }],
      },
    ],
    queries: [
      {
        at_ms: 0,
        name: "www.example.",
        edns: 1232,
        expect: { rcode: "NOERROR", answers: 1, tc: false, via_tcp: false, contains: ["192.0.2.10"] },
      },
    ],
    expect: { max_upstream_queries: 2, log_contains: ["truncated-over-udp", "over TCP with EDNS"] },
  });
  assert.deepEqual(r.failures, []);
  assert.equal(r.upstream_queries, 2);
  assert.ok(r.events.some((e) => e.event === "forwarded" && e.transport === "TCP"));
});

test("simulate(): unmet expectations are reported, not thrown; time runs on the virtual clock", () => {
  const r = simulate({
    title: "silence",
    config: { attempt_timeout: "500ms", query_timeout: "1200ms" },
    upstreams: [{ label: "u", rules: [{ respond: [{ kind: "silence" }] }] }],
    queries: [{ at_ms: 1000, name: "quiet.example.", edns: 1232, expect: { rcode: "NOERROR" } }],
  });
  assert.equal(r.answers[0].rcode, "SERVFAIL");
  assert.ok(r.answers[0].at_ms >= 2000, `answered at ${r.answers[0].at_ms}`);
  assert.equal(typeof r.answers[0].ede[0], "number", "an Extended DNS Error code");
  assert.equal(typeof r.answers[0].ede[1], "string");
  assert.ok(r.events.some((e) => e.event === "upstream_timeout"));
  assert.ok(r.events.some((e) => e.event === "gave_up"));
  assert.equal(r.failures.length, 1);
  assert.match(r.failures[0], /SERVFAIL|NOERROR/);
});

/** A query for `name` as a stub resolver sends it (with EDNS, so that errors can say why). */
function query(id, name, type = "A") {
  return encode({ header: { id, rd: true }, questions: [{ name, type }], edns: { udp_size: 1232 } });
}

/** Polls until the engine says when to wake it; returns everything before that and the wake. */
function drain(f) {
  const out = [];
  for (let i = 0; i < 10000; i++) {
    const o = f.poll();
    if (o.type === "wake") return { out, wake: o };
    out.push(o);
  }
  throw new Error("the engine did not settle");
}

test("Forwarder: a query goes upstream, the answer comes back to the client and is cached", () => {
  const f = new Forwarder({ upstreams: [{ label: "192.0.2.53" }], policy: "sequential", loop_check: false }, new Uint8Array(32).fill(7));
  f.handleQuery(1000, 42, "udp", query(0xabcd, "www.example."));
  const first = drain(f);
  const sends = first.out.filter((o) => o.type === "transmit");
  assert.equal(sends.length, 1);
  const up = sends[0];
  assert.deepEqual(up.to, { upstream: 0 });
  assert.equal(up.transport, "udp");
  assert.ok(up.token > 0);
  assert.equal(Object.getPrototypeOf(up.bytes), Uint8Array.prototype);
  const upstreamQuery = decode(up.bytes);
  assert.deepEqual(upstreamQuery.questions, [{ name: "www.example.", type: "A", class: "IN" }]);
  assert.ok(first.out.some((o) => o.type === "event" && o.event.event === "query" && o.event.client === 42));
  assert.ok(first.out.every((o) => o.type !== "event" || typeof o.text === "string"));
  assert.equal(typeof first.wake.at, "number", "an attempt timer is pending");
  assert.ok(first.wake.at > 1000);

  // The upstream answers (with the ID the engine chose).
  const answer = encode({
    header: { id: upstreamQuery.header.id, qr: true, rd: true, ra: true },
    questions: upstreamQuery.questions,
    answers: [{ name: "www.example.", type: "A", ttl: 300, rdata: { kind: "a", address: "192.0.2.80" } }],
    edns: upstreamQuery.edns && { udp_size: 1232 },
  });
  f.handleResponse(1010, 0, "udp", answer);
  const second = drain(f);
  const reply = second.out.find((o) => o.type === "transmit");
  assert.deepEqual(reply.to, { client: 42 });
  assert.equal(reply.token, 0);
  const m = decode(reply.bytes);
  assert.equal(m.header.id, 0xabcd, "the client's own ID");
  assert.equal(m.answers[0].rdata.address, "192.0.2.80");
  assert.ok(second.out.some((o) => o.type === "event" && o.event.event === "cached"));

  // The same question again: from the cache, nothing upstream.
  f.handleQuery(2000, 43, "udp", query(7, "www.example."));
  const third = drain(f);
  const sent = third.out.filter((o) => o.type === "transmit");
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0].to, { client: 43 });
  assert.ok(third.out.some((o) => o.type === "event" && o.event.event === "cache_serve"));
  const ttl = decode(sent[0].bytes).answers[0].ttl;
  assert.ok(ttl <= 300 && ttl >= 298, `aged TTL ${ttl}`);

  const s = f.stats();
  assert.equal(s.queries, 2);
  assert.equal(s.cache_hits, 1);
  assert.equal(s.cache_misses, 1);
  assert.equal(s.upstreams.length, 1);
  assert.equal(s.upstreams[0].label, "192.0.2.53");
  assert.equal(s.upstreams[0].answers, 1);
  assert.ok(s.cache.keys >= 1);
  assert.equal(s.in_flight, 0);
  assert.equal(s.answers_by_rcode[0], 2);
  f.free();
});

test("Forwarder: a loop probe that comes back as a client query marks its upstream (loop_check on)", () => {
  const f = new Forwarder({ upstreams: [{ label: "127.0.0.1:53" }], loop_check: true }, new Uint8Array(32).fill(5));
  f.handleTick(0);
  const probes = drain(f).out.filter((o) => o.type === "transmit");
  assert.equal(probes.length, 1, "one probe per upstream at the first input");
  const q = decode(probes[0].bytes);
  assert.equal(q.questions[0].type, "HINFO");
  assert.match(q.questions[0].name, /^[0-9a-f]{16}\.dnspect-loop-check\.$/);
  // The upstream is this forwarder: the probe comes back as a client query.
  f.handleQuery(5, 9, "udp", probes[0].bytes);
  const back = drain(f).out;
  const reply = back.find((o) => o.type === "transmit");
  assert.deepEqual(reply.to, { client: 9 });
  const m = decode(reply.bytes);
  assert.equal(m.header.rcode, 2, "SERVFAIL");
  const ede = m.edns.options.find((o) => o.option === "extended_error");
  assert.match(ede.text, /^forwarding loop via 127\.0\.0\.1:53/);
  assert.ok(back.some((o) => o.type === "event" && o.event.event === "loop_detected" && o.event.upstream === "127.0.0.1:53"));
  // A client's miss: answered at once, nothing sent upstream.
  f.handleQuery(6, 10, "udp", query(3, "www.example."));
  const sent = drain(f).out.filter((o) => o.type === "transmit");
  assert.deepEqual(sent.map((o) => o.to), [{ client: 10 }]);
  assert.equal(decode(sent[0].bytes).header.rcode, 2);
  const s = f.stats();
  assert.equal(s.loops_detected, 1);
  assert.equal(s.loop_answers, 2);
  f.free();
});

test("Forwarder: timeouts and delivery failures move on to the next upstream, then SERVFAIL", () => {
  const f = new Forwarder(
    {
      upstreams: [{ label: "a" }, { label: "b" }],
      policy: "sequential",
      attempt_timeout: "100ms",
      query_timeout: "1s",
      cache: { serve_stale: false },
      loop_check: false,
    },
    new Uint8Array(32),
  );
  f.handleQuery(0, 1, "udp", query(1, "down.example."));
  let sent = drain(f).out.filter((o) => o.type === "transmit");
  assert.deepEqual(sent[0].to, { upstream: 0 });
  // Upstream a is unreachable.
  f.handleFailure(5, sent[0].token);
  sent = drain(f).out.filter((o) => o.type === "transmit");
  assert.deepEqual(sent.map((o) => o.to), [{ upstream: 1 }]);
  // b stays silent: tick past each deadline until the client gets its answer.
  let now = 5;
  let reply;
  for (let i = 0; i < 100 && !reply; i++) {
    const { out, wake } = drain(f);
    reply = out.find((o) => o.type === "transmit" && "client" in o.to);
    if (reply || wake.at === null) break;
    now = Math.max(now, wake.at);
    f.handleTick(now);
  }
  reply ??= drain(f).out.find((o) => o.type === "transmit" && "client" in o.to);
  assert.ok(reply, "the client got an answer");
  assert.equal(decode(reply.bytes).header.rcode, 2, "SERVFAIL");
  const ede = decode(reply.bytes).edns?.options.find((o) => o.option === "extended_error");
  assert.ok(ede, "with an Extended DNS Error");
  assert.ok(now <= 1100, `gave up by the query deadline (${now} ms)`);
  assert.equal(f.stats().gave_up, 1);
});

test("Forwarder: a malformed client packet is answered or dropped, never thrown", () => {
  const f = new Forwarder({ upstreams: [{ label: "a" }], loop_check: false }, new Uint8Array(32));
  f.handleQuery(0, 9, "udp", new Uint8Array([1, 2, 3]));
  f.handleQuery(0, 9, "udp", seed758);
  const { out } = drain(f);
  assert.ok(out.some((o) => o.type === "event" && o.event.event === "bad_query"));
  assert.equal(f.stats().bad_queries, 2);
  // Time that goes backwards is read as the latest time seen.
  f.handleTick(50);
  f.handleTick(10);
  assert.equal(drain(f).wake.at, null);
});

test("Forwarder: per-zone forwarding groups and local data (the engine's serde config)", () => {
  const f = new Forwarder(
    {
      upstreams: [{ label: "192.0.2.53" }],
      forward: [{ zones: ["cluster.local", "in-addr.arpa"], upstreams: ["10.96.0.10"], policy: "sequential" }],
      // No loop probes among the transmits counted here (the next test has them).
      loop_check: false,
      local: {
        records: ["printer.lan. 300 IN A 192.168.1.20"],
        zones: [{ zone: "ads.example", answer: "nxdomain" }],
        hosts: [{ name: "lab-hosts", text: "192.168.1.10 nas.lan\n" }],
      },
    },
    new Uint8Array(32).fill(9),
  );
  // Upstream indexes run over config.upstreams, then each forward group's.
  f.handleQuery(0, 1, "udp", query(1, "kubernetes.default.svc.cluster.local."));
  let sends = drain(f).out.filter((o) => o.type === "transmit");
  assert.deepEqual(sends.map((o) => o.to), [{ upstream: 1 }]);
  f.handleQuery(1, 2, "udp", query(2, "www.example."));
  sends = drain(f).out.filter((o) => o.type === "transmit");
  assert.deepEqual(sends.map((o) => o.to), [{ upstream: 0 }]);
  // Local data: answered at once with AA, nothing upstream, the source in the event.
  for (const [name, rcode, source] of [
    ["nas.lan.", "NOERROR", { kind: "hosts", file: "lab-hosts", line: 1 }],
    ["printer.lan.", "NOERROR", { kind: "record", index: 0 }],
    ["x.ads.example.", "NXDOMAIN", { kind: "zone", zone: "ads.example.", answer: "nxdomain" }],
  ]) {
    f.handleQuery(2, 3, "udp", query(3, name));
    const { out } = drain(f);
    const replies = out.filter((o) => o.type === "transmit");
    assert.deepEqual(replies.map((o) => o.to), [{ client: 3 }], name);
    const m = decode(replies[0].bytes);
    assert.equal(m.header.aa, true, name);
    assert.equal(m.header.rcode, rcode === "NOERROR" ? 0 : 3, name);
    const ev = out.find((o) => o.type === "event" && o.event.event === "local");
    assert.deepEqual(ev.event.source, source, name);
  }
  assert.equal(f.stats().local_answers, 3);
  assert.throws(() => f.handleResponse(3, 2, "udp", new Uint8Array(12)), /config\.forward\[\]\.upstreams \(2 configured\)/);
  f.free();
  // A bad hosts line is refused with its field and line.
  assert.throws(
    () => new Forwarder({ local: { hosts: [{ name: "h", text: "ok.lan\n" }] } }, new Uint8Array(32)),
    /config\.local\.hosts\[0\]: h: line 1, field 1/,
  );
  assert.throws(
    () => new Forwarder({ forward: [{ zones: ["a..b"], upstreams: ["10.0.0.1"] }] }, new Uint8Array(32)),
    /config\.forward\[0\]\.zones\[0\]/,
  );
});
