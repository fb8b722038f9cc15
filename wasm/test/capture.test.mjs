// analyzeCapture and CaptureAnalyzer on the real captures of core/tests/captures (tcpdump's pcap and
// dumpcap's pcapng of dig and kdig through `dnspect serve` to NSD): the same messages and report fed
// whole or in small chunks, as the CLI's `dnspect capture --json` prints them; a cut file keeps what
// came before and says where it stopped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { analyzeCapture, CaptureAnalyzer, DnspectError } from "dnspect";

const dir = fileURLToPath(new URL("../../core/tests/captures/", import.meta.url));
const ports = JSON.parse(readFileSync(dir + "real.ports.json", "utf8"));
const options = { ports: [ports.dnspect, ports.nsd] };

for (const file of ["real.pcap", "real.pcapng"]) {
  test(`${file}: whole and in chunks, the same messages and report`, () => {
    const bytes = new Uint8Array(readFileSync(dir + file));
    const whole = analyzeCapture(bytes, options);
    assert.ok(whole.messages.length >= 26, `${whole.messages.length} messages`);
    assert.equal(whole.report.messages, whole.messages.length);
    assert.equal(whole.report.error, null);
    assert.equal(whole.report.format, file.endsWith("ng") ? "pcapng" : "pcap");
    const a = new CaptureAnalyzer(options);
    const messages = [];
    for (let i = 0; i < bytes.length; i += 333) messages.push(...a.push(bytes.subarray(i, i + 333)));
    const report = a.finish();
    a.free();
    assert.deepEqual(messages, whole.messages);
    assert.deepEqual(report, whole.report);
    const front = report.servers.find((s) => s.server === `127.0.0.1:${ports.dnspect}`);
    assert.equal(front.truncated, 1);
    assert.equal(front.tc_retried_over_tcp, 1);
  });
}

// The CLI: DNSPECT_BIN, or the debug build `cargo test` leaves (scripts/test.sh runs it first).
const cli = process.env.DNSPECT_BIN ?? fileURLToPath(new URL("../../target/debug/dnspect", import.meta.url));

test("the same rows as the CLI's --json", { skip: !existsSync(cli) && `${cli} is not built` }, () => {
  const out = execFileSync(cli, [
    "capture", "--json", "--port", String(ports.dnspect), "--port", String(ports.nsd), dir + "real.pcapng",
  ]);
  const rows = out.toString().trim().split("\n").map((l) => JSON.parse(l));
  const { messages } = analyzeCapture(new Uint8Array(readFileSync(dir + "real.pcapng")), options);
  assert.deepEqual(messages, rows);
});

test("a cut file: what came before, and the byte offset", () => {
  const bytes = new Uint8Array(readFileSync(dir + "real.pcap"));
  const cut = bytes.subarray(0, bytes.length - 7);
  const { messages, report } = analyzeCapture(cut, options);
  assert.ok(messages.length > 20);
  assert.match(report.error.message, /the capture is truncated/);
  assert.equal(report.error.offset, report.bytes);
  const junk = analyzeCapture(new TextEncoder().encode("not a capture at all"), options);
  assert.deepEqual(junk.messages, []);
  assert.equal(junk.report.error.offset, 0);
  assert.match(junk.report.error.message, /not a pcap or pcapng file/);
});

test("bytes: each message's DNS bytes, which analyze() reads as the row says", async () => {
  const { analyze } = await import("dnspect");
  const bytes = new Uint8Array(readFileSync(dir + "real.pcapng"));
  const { messages } = analyzeCapture(bytes, { ...options, bytes: true });
  for (const m of messages) {
    assert.equal(m.bytes.length, m.size);
    const a = analyze(m.bytes);
    assert.equal(a.message.header.id, m.id);
  }
});

test("bad arguments and options name what is wrong", () => {
  assert.throws(() => analyzeCapture("text"), (e) => e instanceof DnspectError && /bytes/.test(e.message));
  assert.throws(
    () => new CaptureAnalyzer({ rcode: "NOPE" }),
    (e) => e instanceof DnspectError && /options\.rcode/.test(e.message),
  );
  assert.throws(
    () => new CaptureAnalyzer({ colour: 1 }),
    (e) => e instanceof DnspectError && /colour/.test(e.message),
  );
  assert.throws(() => new CaptureAnalyzer().replay(), /replay: true/);
});

test("replay: the captured answers through the engine", () => {
  const bytes = new Uint8Array(readFileSync(dir + "real.pcapng"));
  const { replay } = analyzeCapture(bytes, { ...options, replay: true });
  assert.ok(replay.rows.length > 0);
  assert.equal(replay.left_out, 0);
  assert.ok(replay.rows.every((r) => typeof r.differs === "boolean" && r.captured.rcode));
  assert.ok(replay.result.upstream_queries > 0);
});
