// What `npm publish` would ship, checked the way a consumer's tools see it: the `npm pack` file
// list (one .wasm, the licenses, every file the exports map names, nothing from the sources or
// tests), publint --strict on the package, and @arethetypeswrong/cli on the packed tarball.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, "..");
const bin = (name) => join(pkgDir, "..", "node_modules", ".bin", name);
const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));

function packList() {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: pkgDir,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out)[0].files.map((f) => f.path).sort();
}

/** Every file path named in the exports map (conditions nested at any depth), plus main/types. */
function exportedFiles(exp) {
  if (typeof exp === "string") return [exp];
  return Object.values(exp).flatMap(exportedFiles);
}

test("npm pack ships one .wasm, the licenses and every exported file, and no sources", () => {
  const files = packList();
  const wasm = files.filter((f) => f.endsWith(".wasm"));
  assert.deepEqual(wasm, ["pkg/web/dnspect_bg.wasm"], `shipped .wasm files: ${wasm}`);
  for (const f of ["LICENSE-MIT", "LICENSE-APACHE", "README.md", "package.json"]) {
    assert.ok(files.includes(f), `${f} is not in the package: ${files.join(", ")}`);
  }
  for (const license of ["LICENSE-MIT", "LICENSE-APACHE"]) {
    assert.equal(
      readFileSync(join(pkgDir, license), "utf8"),
      readFileSync(join(pkgDir, "..", license), "utf8"),
      `wasm/${license} differs from the repository's`,
    );
  }
  const named = [manifest.main, manifest.types, ...exportedFiles(manifest.exports)].map((p) =>
    p.replace(/^\.\//, ""),
  );
  for (const f of named) {
    assert.ok(files.includes(f), `package.json names ${f}, which npm pack does not ship`);
  }
  // The Node build loads the web build's .wasm, which must be shipped beside it.
  const nodeGlue = readFileSync(join(pkgDir, "pkg", "node", "dnspect.js"), "utf8");
  assert.match(nodeGlue, /\$\{__dirname\}\/\.\.\/web\/dnspect_bg\.wasm/);
  const leaked = files.filter((f) => /^(src|test)\/|Cargo\.toml$|\.rs$|check-built|build-cjs/.test(f));
  assert.deepEqual(leaked, [], "sources, tests or build helpers in the package");
  const sizes = JSON.parse(
    execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: pkgDir, encoding: "utf8" }),
  )[0];
  assert.ok(sizes.unpackedSize < 3 * 1024 * 1024, `unpacked size ${sizes.unpackedSize} bytes`);
});

test("publint --strict finds nothing", () => {
  const r = spawnSync(bin("publint"), ["--strict"], { cwd: pkgDir, encoding: "utf8" });
  assert.equal(r.status, 0, `publint:\n${r.stdout}${r.stderr}`);
});

test("@arethetypeswrong/cli finds no type problem in the packed tarball", () => {
  const dir = mkdtempSync(join(tmpdir(), "dnspect-attw-"));
  try {
    const out = execFileSync(
      "npm",
      ["pack", "--json", "--ignore-scripts", "--pack-destination", dir],
      { cwd: pkgDir, encoding: "utf8" },
    );
    const tarball = join(dir, JSON.parse(out)[0].filename);
    // The main entry: CommonJS and ESM, every resolution mode (node10, node16, bundler).
    const main = spawnSync(bin("attw"), [tarball, "--entrypoints", ".", "--format", "ascii"], {
      encoding: "utf8",
    });
    assert.equal(main.status, 0, `attw ".":\n${main.stdout}${main.stderr}`);
    // "./web" is the browser build, ESM only by design (`await init()`), so a require() of it is
    // expected to need a dynamic import; node10 has no exports subpaths. Every other rule holds.
    const web = spawnSync(
      bin("attw"),
      [tarball, "--entrypoints", "./web", "--profile", "node16", "--ignore-rules", "cjs-resolves-to-esm", "--format", "ascii"],
      { encoding: "utf8" },
    );
    assert.equal(web.status, 0, `attw "./web":\n${web.stdout}${web.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("package-lock.json locks every platform's optional native packages (npm ci on any OS)", () => {
  const lock = JSON.parse(readFileSync(join(pkgDir, "..", "package-lock.json"), "utf8"));
  const entries = lock.packages;
  const missing = [];
  for (const [path, meta] of Object.entries(entries)) {
    for (const dep of Object.keys(meta.optionalDependencies ?? {})) {
      // npm resolves a dependency from the nearest node_modules up the tree.
      const parts = path.split("node_modules/");
      let found = false;
      for (let i = parts.length; i >= 1 && !found; i--) {
        const base = parts.slice(0, i).join("node_modules/");
        const candidate = `${base}${base === "" || base.endsWith("/") ? "" : "/"}node_modules/${dep}`;
        found = candidate in entries;
      }
      if (!found) missing.push(`${path || "(root)"} -> ${dep}`);
    }
  }
  assert.deepEqual(missing, [], "optional dependencies not in package-lock.json: npm ci fails on their platform");
  // The one the issue found missing: rollup's macOS binaries.
  for (const p of ["darwin-arm64", "darwin-x64", "win32-x64-msvc", "linux-x64-gnu"]) {
    assert.ok(`node_modules/@rollup/rollup-${p}` in entries, `@rollup/rollup-${p} is not locked`);
  }
});
