// incidents(): the incident library from the core, each incident's scenarios replayed through
// simulate() as the web page's gallery does.
import { test } from "node:test";
import assert from "node:assert/strict";

import { analyze, examples, incidents, simulate } from "dnspect";

test("incidents() lists the eight with their threads, RFCs and packets", () => {
  const list = incidents();
  assert.deepEqual(
    list.map((i) => i.id),
    ["000", "004", "coredns-5998", "coredns-5366", "coredns-7956", "hickory-2608", "kubernetes-dns-121", "pdns-3469"],
  );
  const names = new Set(examples().map((e) => e.name));
  for (const i of list) {
    assert.ok(i.rfcs.length > 0, i.id);
    assert.ok(i.thread.length > 0, i.id);
    for (const e of i.examples) assert.ok(names.has(e), `${i.id}: ${e}`);
    assert.equal(typeof i.simulation.title, "string");
    assert.equal(i.policy === null, i.policy_simulation === null, i.id);
  }
  // A fresh copy each time.
  list[0].id = "changed";
  assert.equal(incidents()[0].id, "000");
});

test("every incident's scenario, and its dnspect-with-that-policy run, holds in simulate()", () => {
  for (const i of incidents()) {
    const r = simulate(i.simulation);
    assert.deepEqual(r.failures, [], i.id);
    assert.ok(r.trace.length > 0);
    if (i.policy_simulation) {
      const p = simulate(i.policy_simulation);
      assert.deepEqual(p.failures, [], `${i.id} policy`);
      assert.notDeepEqual(
        p.answers.map((a) => [a.rcode, a.answers.length]),
        r.answers.map((a) => [a.rcode, a.answers.length]),
        `${i.id}: the policy run shows a different outcome`,
      );
    }
  }
});

test("the analyzer names each incident on its packets", () => {
  const byName = Object.fromEntries(examples().map((e) => [e.name, e.hex]));
  for (const i of incidents()) {
    const ex = i.examples.find((e) => !e.endsWith("-compressed"));
    const a = analyze(byName[ex]);
    assert.ok(a.warnings.some((w) => w.message.includes(i.id)), `${i.id}: ${a.warnings.map((w) => w.message).join(" | ")}`);
  }
});
