// Helpers for the end-to-end tests: build the production bundle, serve it on 127.0.0.1, start
// Debian's headless Chromium through playwright-core, and a few DNS fixtures made from scratch.
import { createServer } from "node:http";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve, sep } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

export const WWW = resolve(fileURLToPath(new URL("..", import.meta.url)));
export const REPO = resolve(WWW, "..");
export const DIST = join(WWW, "dist");
export const ARTIFACTS = join(WWW, "test-artifacts");

/** Builds www/dist with vite (the production bundle the tests load). */
export async function buildSite() {
  const pkg = join(REPO, "wasm", "pkg", "web", "dnspect.js");
  if (!existsSync(pkg)) {
    throw new Error(`${pkg} is missing: build the npm package first (bash scripts/build-wasm.sh)`);
  }
  const { build } = await import("vite");
  await build({ root: WWW, logLevel: "warn", configFile: join(WWW, "vite.config.ts") });
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

/** A static file server for `dir` on 127.0.0.1 and a random port. */
export async function serve(dir) {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    let file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!existsSync(file)) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    res.end(readFileSync(file));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections?.();
        server.close(() => ok());
      }),
  };
}

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-quic",
  "--no-first-run",
  "--disable-sync",
];

/** Debian's Chromium, headless, with a new empty profile (removed by close()). */
export async function launch() {
  const executablePath = process.env.DNSPECT_CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`${executablePath} is missing: apt-get install chromium (scripts/setup.sh does)`);
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "dnspect-www-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1360, height: 900 },
    deviceScaleFactor: 1,
    colorScheme: "light",
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Every file of the production bundle with its raw and gzip -9 size. */
export function bundleSizes(dir = DIST) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const data = readFileSync(p);
        out.push({ file: p.slice(dir.length + 1), raw: data.length, gzip: gzipSync(data, { level: 9 }).length });
      }
    }
  };
  walk(dir);
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

// ---- DNS fixtures --------------------------------------------------------------------------------

function name(n) {
  const parts = n.replace(/\.$/, "").split(".");
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
}

/** A response for `qname` A with `count` A records, every owner written in full (no compression). */
export function bigResponse(count, qname = "many.example.") {
  const hdr = Buffer.alloc(12);
  hdr.writeUInt16BE(0x4242, 0);
  hdr.writeUInt16BE(0x8180, 2);
  hdr.writeUInt16BE(1, 4);
  hdr.writeUInt16BE(count, 6);
  const q = Buffer.concat([name(qname), Buffer.from([0, 1, 0, 1])]);
  const recs = [];
  for (let i = 0; i < count; i++) {
    const r = Buffer.alloc(14);
    r.writeUInt16BE(1, 0);
    r.writeUInt16BE(1, 2);
    r.writeUInt32BE(300, 4);
    r.writeUInt16BE(4, 8);
    r.set([10, (i >> 16) & 255, (i >> 8) & 255, i & 255], 10);
    recs.push(name(qname), r);
  }
  return Buffer.concat([hdr, q, ...recs]);
}

/** `bytes` as `xxd` prints them. */
export function xxd(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const chunk = bytes.subarray(i, i + 16);
    let hex = "";
    for (let j = 0; j < 16; j += 2) {
      hex += (chunk.subarray(j, j + 2).toString("hex") + " ").padEnd(5, " ");
    }
    const ascii = [...chunk].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${i.toString(16).padStart(8, "0")}: ${hex} ${ascii}`);
  }
  return lines.join("\n") + "\n";
}

function checksum(buf) {
  let s = 0;
  for (let i = 0; i < buf.length; i += 2) s += (buf[i] << 8) | (buf[i + 1] ?? 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

/** `dns` in IPv4 + UDP headers, as `tcpdump -X` prints it (with its summary line). */
export function tcpdumpX(dns) {
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(53, 0);
  udp.writeUInt16BE(40000, 2);
  udp.writeUInt16BE(8 + dns.length, 4);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + dns.length, 2);
  ip.writeUInt16BE(0x1234, 4);
  ip.writeUInt16BE(0x4000, 6);
  ip[8] = 64;
  ip[9] = 17;
  ip.set([192, 0, 2, 53], 12);
  ip.set([192, 0, 2, 1], 16);
  ip.writeUInt16BE(checksum(ip), 10);
  const pkt = Buffer.concat([ip, udp, dns]);
  const lines = [`12:00:00.000000 IP 192.0.2.53.53 > 192.0.2.1.40000: UDP, length ${dns.length}`];
  for (let i = 0; i < pkt.length; i += 16) {
    const c = pkt.subarray(i, i + 16);
    const words = [];
    for (let j = 0; j < c.length; j += 2) words.push(c.subarray(j, j + 2).toString("hex"));
    const ascii = [...c].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`\t0x${i.toString(16).padStart(4, "0")}:  ${words.join(" ").padEnd(39, " ")}  ${ascii}`);
  }
  return lines.join("\n") + "\n";
}
