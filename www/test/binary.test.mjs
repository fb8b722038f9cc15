// The page as `dnspect web` serves it (embedded in the binary, native/src/web.rs), in headless
// Chromium (Debian's /usr/bin/chromium through playwright-core) with every request that does not
// go to loopback blocked and recorded: the page must work, and must not even try to reach
// anything else. Needs target/debug/dnspect built after www/dist (scripts/test.sh builds the page,
// then the binary; DNSPECT_BIN=/path/to/dnspect tests another build).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { ARTIFACTS, REPO, launch } from "./helpers.mjs";

const BIN = process.env.DNSPECT_BIN ?? join(REPO, "target", "debug", "dnspect");
const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

let proc;
let url;
let browser;
const blocked = [];
const served = [];
const problems = [];

/** Starts `dnspect web --listen 127.0.0.1:0` and reads the URL it prints (within 20 s). */
async function startWeb() {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: cargo build -p dnspect (after the page: scripts/build-page.sh)`);
  proc = spawn(BIN, ["web", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const lines = createInterface({ input: proc.stdout });
  return await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`dnspect web printed no URL in 20 s; stderr: ${stderr}`)), 20_000);
    lines.once("line", (l) => {
      clearTimeout(timer);
      ok(l.trim());
    });
    proc.once("exit", (code) => fail(new Error(`dnspect web exited ${code}: ${stderr}`)));
  });
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  url = await startWeb();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  browser = await launch();
  // Every request: loopback goes through, anything else is blocked and remembered.
  await browser.context.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if ((u.protocol === "http:" || u.protocol === "https:" || u.protocol === "ws:") && !LOOPBACK.has(u.hostname)) {
      blocked.push(u.href);
      return route.abort("blockedbyclient");
    }
    if (u.protocol === "http:") served.push(u.pathname);
    return route.continue();
  });
});

after(async () => {
  await browser?.close();
  proc?.kill("SIGTERM");
});

describe("dnspect web: the page embedded in the binary", () => {
  let page;
  before(async () => {
    page = await browser.context.newPage();
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    await page.goto(url);
  });
  after(() => page?.close());

  it("is the built page, not the placeholder", async () => {
    const placeholder = await page.$("meta[name='dnspect-page'][content='placeholder']");
    assert.equal(
      placeholder,
      null,
      `${BIN} embeds the placeholder page: build the page (scripts/build-page.sh), then the binary (cargo build -p dnspect)`,
    );
  });

  it("loads its wasm and decodes a pasted message", async () => {
    await page.waitForSelector("body[data-ready='1']", { timeout: 30_000 });
    const hex = readFileSync(join(REPO, "core/tests/data/seed000-uncompressed.hex"), "utf8").trim();
    await page.evaluate((t) => {
      const ta = document.querySelector("#paste");
      ta.value = t;
      ta.dispatchEvent(new Event("input", { bubbles: true }));
    }, hex);
    await page.waitForFunction(() => Number(document.body.dataset.analyses ?? 0) > 0, null, { timeout: 30_000 });
    assert.match(await page.textContent("#input-status"), /758 B of DNS/);
    const rows = await page.$$eval("#panel-bytes .tree .row[data-label^='answer #']", (els) => els.length);
    assert.equal(rows, 20);
    await page.screenshot({ path: join(ARTIFACTS, "binary-served.png") });
  });

  it("fetched only from the binary, over loopback, and nothing failed", async () => {
    assert.deepEqual(blocked, [], "requests to other origins");
    assert.deepEqual(problems, [], "errors in the page");
    assert.ok(served.some((p) => p.endsWith(".wasm")), `the wasm came from the binary: ${served.join(", ")}`);
  });
});
