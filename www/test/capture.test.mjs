// Captures on the page in real headless Chromium: a pcap of 100,000+ DNS messages (the real
// capture of core/tests/captures, dig and kdig through `dnspect serve` to NSD, repeated with
// shifted times) opened through the file input. The worker parses it while the page keeps
// painting; the table is virtualised (a few dozen rows in the DOM, the last message reachable);
// a click opens the message in the byte view; the report draws its plots; the replay runs. The
// page's messages and report are the npm package's for the same bytes.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ARTIFACTS, REPO, WWW, launch, serve } from "./helpers.mjs";
import { analyzeCapture } from "dnspect";

const CAPTURES = join(REPO, "core/tests/captures");
const ports = JSON.parse(readFileSync(join(CAPTURES, "real.ports.json"), "utf8"));
const DIST = join(WWW, "dist-capture-test");

/** real.pcap's records repeated `copies` times, each copy one second later. */
function repeated(copies) {
  const src = readFileSync(join(CAPTURES, "real.pcap"));
  const recs = [];
  for (let i = 24; i < src.length; ) {
    const cap = src.readUInt32LE(i + 8);
    recs.push(src.subarray(i, i + 16 + cap));
    i += 16 + cap;
  }
  const per = recs.reduce((n, r) => n + r.length, 0);
  const out = Buffer.alloc(24 + per * copies);
  src.copy(out, 0, 0, 24);
  let at = 24;
  for (let k = 0; k < copies; k++) {
    for (const r of recs) {
      r.copy(out, at);
      out.writeUInt32LE(r.readUInt32LE(0) + k, at);
      at += r.length;
    }
  }
  return out;
}

let server;
let browser;
let page;
let file;
let expected;
let gaps;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Its own output folder: the other test file builds www/dist at the same time.
  const { build } = await import("vite");
  await build({ root: WWW, logLevel: "warn", configFile: join(WWW, "vite.config.ts"), build: { outDir: DIST, emptyOutDir: true } });
  server = await serve(DIST);
  browser = await launch();
  const bytes = repeated(2000);
  const dir = mkdtempSync(join(tmpdir(), "dnspect-capture-"));
  file = join(dir, "big.pcap");
  writeFileSync(file, bytes);
  expected = analyzeCapture(new Uint8Array(bytes), { ports: [ports.dnspect, ports.nsd], bytes: true });
  assert.ok(expected.messages.length >= 100_000, `${expected.messages.length} messages`);

  page = await browser.context.newPage();
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(`${server.origin}/`);
  await page.waitForSelector("body[data-ready='1']", { timeout: 30_000 });
  await page.fill("#capture-ports", `${ports.dnspect}, ${ports.nsd}`);
  // The longest pause between timer ticks while the worker parses: the page's responsiveness.
  await page.evaluate(() => {
    window.__gaps = [];
    let last = performance.now();
    const tick = () => {
      const now = performance.now();
      window.__gaps.push(now - last);
      last = now;
      if (document.querySelector("#captures")?.dataset.state !== "done") setTimeout(tick, 10);
    };
    setTimeout(tick, 10);
  });
  await page.setInputFiles("#capture-file", file);
  await page.waitForSelector("#captures[data-state='done']", { timeout: 180_000 });
  gaps = await page.evaluate(() => window.__gaps);
});

after(async () => {
  await page?.close();
  await browser?.close();
  await server?.close();
});

describe("a capture of 100,000+ messages", () => {
  it("reads every message the package reads, in the worker, with the page painting", async () => {
    const count = Number(await page.getAttribute("#captures", "data-count"));
    assert.equal(count, expected.messages.length);
    const status = await page.textContent("#capture-status");
    assert.match(status, new RegExp(`${count.toLocaleString("en-US").replace(/,/g, ",?")}|${count} DNS messages`));
    assert.ok(gaps.length > 5, `${gaps.length} ticks`);
    const worst = Math.max(...gaps);
    // Generous: a shared 2-core machine; parsing on the main thread would block for seconds.
    assert.ok(worst < 1000, `the page froze for ${worst.toFixed(0)} ms`);
  });

  it("keeps only the rows in sight in the DOM, and reaches the last one", async () => {
    const first = await page.$$eval("#capture-table .capture-row", (els) => els.length);
    assert.ok(first > 10 && first < 200, `${first} rows in the DOM`);
    assert.equal(await page.textContent("#capture-table .capture-row[data-index='0'] span:nth-child(8)"), `${expected.messages[0].name} ${expected.messages[0].qtype}`);
    await page.$eval("#capture-table", (el) => (el.scrollTop = el.scrollHeight));
    const last = expected.messages.length - 1;
    await page.waitForSelector(`#capture-table .capture-row[data-index='${last}']`, { timeout: 10_000 });
    const text = await page.textContent(`#capture-table .capture-row[data-index='${last}']`);
    assert.ok(text.startsWith(String(expected.messages[last].index)), text);
    assert.ok((await page.$$eval("#capture-table .capture-row", (els) => els.length)) < 200);
    await page.screenshot({ path: join(ARTIFACTS, "capture-table.png") });
  });

  it("opens a clicked message in the byte view", async () => {
    const i = expected.messages.length - 3;
    const before = Number(await page.evaluate(() => document.body.dataset.analyses ?? 0));
    await page.click(`#capture-table .capture-row[data-index='${i}']`);
    await page.waitForFunction((n) => Number(document.body.dataset.analyses ?? 0) > n, before, { timeout: 20_000 });
    const pasted = (await page.inputValue("#paste")).replace(/\s+/g, "");
    const hex = Buffer.from(expected.messages[i].bytes).toString("hex");
    assert.equal(pasted, hex);
  });

  it("draws the report: sizes with the 512, 1232 and 1472 lines, latency per server, the table", async () => {
    await page.click("#capture-tab-report");
    const limits = await page.$$eval("#capture-sizes line.limit", (els) => els.map((e) => Number(e.dataset.limit)));
    assert.deepEqual(limits, [512, 1232, 1472]);
    const servers = expected.report.servers;
    assert.equal(await page.$$eval("#capture-servers tbody tr", (els) => els.length), servers.length);
    const plotted = servers.filter((s) => s.latency.count > 0).length;
    assert.equal(await page.$$eval("svg.capture-latency", (els) => els.length), plotted);
    const front = servers.find((s) => s.server === `127.0.0.1:${ports.dnspect}`);
    const row = await page.textContent(`#capture-servers tr[data-server='127.0.0.1:${ports.dnspect}']`);
    assert.ok(row.includes(`${front.truncated} (${front.tc_retried_over_tcp})`), row);
    await page.screenshot({ path: join(ARTIFACTS, "capture-report.png"), fullPage: true });
  });

  it("replays the captured answers through the engine", async () => {
    await page.click("#capture-tab-replay");
    await page.click("#capture-replay");
    await page.waitForSelector("#capture-replay-summary", { timeout: 60_000 });
    assert.match(await page.textContent("#capture-replay-summary"), /client queries: dnspect answered \d+ differently/);
    assert.ok((await page.$$eval("#capture-replay-out tbody tr", (els) => els.length)) > 0);
  });

  it("a cut file: the messages before the cut, and the byte offset", async () => {
    const cut = join(mkdtempSync(join(tmpdir(), "dnspect-cut-")), "cut.pcap");
    const whole = readFileSync(join(CAPTURES, "real.pcap"));
    writeFileSync(cut, whole.subarray(0, whole.length - 5));
    await page.click("#capture-tab-messages");
    await page.setInputFiles("#capture-file", cut);
    await page.waitForSelector("#captures[data-state='error']", { timeout: 30_000 });
    assert.match(await page.textContent("#capture-status"), /stops at byte \d+: the capture is truncated/);
    assert.ok(Number(await page.getAttribute("#captures", "data-count")) > 20);
  });
});
