// The incident gallery in real headless Chromium (Debian's /usr/bin/chromium via playwright-core):
// every incident opens by its permalink "#incident/ID", the gallery opens each in one click, a
// packet opens in the byte view, and the permalinks keep working with the network off.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ARTIFACTS, DIST, buildSite, launch, serve } from "./helpers.mjs";

const INCIDENTS = {
  "000": null,
  "004": null,
  "coredns-5998": "https://github.com/coredns/coredns/issues/5998",
  "coredns-5366": "https://github.com/coredns/coredns/issues/5366",
  "coredns-7956": "https://github.com/coredns/coredns/issues/7956",
  "hickory-2608": "https://github.com/hickory-dns/hickory-dns/issues/2608",
  "kubernetes-dns-121": "https://github.com/kubernetes/dns/issues/121",
  "pdns-3469": "https://github.com/PowerDNS/pdns/issues/3469",
};
const WITH_POLICY = new Set(["004", "coredns-7956", "kubernetes-dns-121", "pdns-3469"]);

let server;
let browser;
const foreign = [];
const errors = [];

async function open(fragment) {
  const page = await browser.context.newPage();
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${server.origin}/${fragment}`);
  await page.waitForSelector("body[data-ready='1']", { timeout: 30_000 });
  return page;
}

const shown = (page, id) => page.waitForSelector(`body[data-incident='${id}']`, { timeout: 30_000 });

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildSite();
  server = await serve(DIST);
  browser = await launch();
  browser.context.on("request", (r) => {
    if (!r.url().startsWith(server.origin)) foreign.push(r.url());
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

describe("incident gallery", () => {
  it("opens every incident by its permalink, with its trace, policy run, RFCs, packets and thread", async () => {
    for (const [id, thread] of Object.entries(INCIDENTS)) {
      const page = await open(`#incident/${id}`);
      await shown(page, id);
      const d = await page.evaluate(() => {
        const q = (s) => document.querySelector(s);
        return {
          title: q(".inc-detail h2")?.textContent ?? "",
          thread: q(".inc-meta a.thread")?.getAttribute("href") ?? q(".inc-meta .thread")?.textContent,
          rfcs: document.querySelectorAll(".inc-rfcs li").length,
          packets: [...document.querySelectorAll(".inc-packet")].map((b) => b.dataset.example),
          def: q("#run-default")?.dataset.failures,
          policy: q("#run-policy")?.dataset.failures,
          policyLabel: q("#run-policy h4")?.textContent ?? "",
          traceLines: document.querySelectorAll("#run-default .inc-trace tr").length,
          hash: location.hash,
        };
      });
      assert.ok(d.title.includes(id), `${id}: ${d.title}`);
      if (thread) assert.equal(d.thread, thread, id);
      else assert.match(d.thread, /^shared\/seeds\//, id);
      assert.ok(d.rfcs >= 1, id);
      assert.ok(d.packets.length >= 1, id);
      assert.equal(d.def, "0", `${id}: dnspect's run holds its expectations`);
      assert.ok(d.traceLines > 3, `${id}: the decision trace`);
      if (WITH_POLICY.has(id)) {
        assert.equal(d.policy, "0", `${id}: the policy run holds its expectations`);
        assert.match(d.policyLabel, /^dnspect with that policy/, id);
        assert.match(d.policyLabel, /not the peer/, id);
      } else {
        assert.equal(d.policy, undefined, id);
      }
      assert.equal(d.hash, `#incident/${id}`, `${id}: the permalink stays in the address bar`);
      if (id === "coredns-7956") await page.screenshot({ path: join(ARTIFACTS, "20-incident-7956.png"), fullPage: true });
      await page.close();
    }
  });

  it("the gallery opens each incident in one click, and the header opens the gallery", async () => {
    const page = await open("");
    await page.click("#open-incidents");
    await shown(page, "list");
    const cards = await page.$$eval(".inc-card", (els) => els.map((e) => e.dataset.incident));
    assert.deepEqual(cards, Object.keys(INCIDENTS));
    await page.screenshot({ path: join(ARTIFACTS, "21-incident-gallery.png"), fullPage: true });
    for (const id of ["hickory-2608", "000"]) {
      await page.click(`.inc-card[data-incident='${id}']`);
      await shown(page, id);
      assert.equal(await page.evaluate(() => location.hash), `#incident/${id}`);
      await page.click(".inc-all");
      await shown(page, "list");
    }
    await page.close();
  });

  it("a packet opens in the byte view, where the analyzer names the incident", async () => {
    const page = await open("#incident/coredns-5998");
    await shown(page, "coredns-5998");
    await page.click(".inc-packet[data-example='coredns-5998']");
    await page.waitForFunction(() => document.body.dataset.state === "analyzed" && !document.body.dataset.view);
    const warnings = await page.$$eval("#warnings li", (els) => els.map((e) => e.textContent));
    assert.ok(warnings.some((w) => w.includes("coredns-5998")), warnings.join(" | "));
    assert.equal(await page.isVisible("#incidents"), false);
    await page.close();
  });

  it("permalinks work with the network off", async () => {
    const page = await open("#incident");
    await shown(page, "list");
    await browser.context.setOffline(true);
    try {
      for (const id of ["pdns-3469", "kubernetes-dns-121"]) {
        await page.evaluate((i) => (location.hash = `#incident/${i}`), id);
        await shown(page, id);
        assert.equal(await page.$eval("#run-default", (e) => e.dataset.failures), "0");
      }
    } finally {
      await browser.context.setOffline(false);
    }
    await page.close();
    assert.deepEqual(foreign, [], "no request left 127.0.0.1");
    assert.deepEqual(errors, []);
  });
});
