// Runs every ```js and ```cjs block of the package README as it is, each in its own Node process,
// from a file inside the package so that `import "dnspect"` resolves to this package.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(path.join(pkgDir, "README.md"), "utf8");
const blocks = [...readme.matchAll(/^```(js|cjs)\n([\s\S]*?)^```$/gm)].map((m, i) => ({
  n: i + 1,
  ext: m[1] === "js" ? "mjs" : "cjs",
  code: m[2],
  line: readme.slice(0, m.index).split("\n").length + 1,
}));

test("the README has runnable examples", () => {
  assert.ok(blocks.length >= 8, `${blocks.length} blocks`);
  assert.ok(blocks.some((b) => b.ext === "cjs"));
});

const dir = mkdtempSync(path.join(pkgDir, "test", ".readme-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

for (const b of blocks) {
  test(`README block ${b.n} (line ${b.line}) runs`, { timeout: 30_000 }, async () => {
    const file = path.join(dir, `block-${b.n}.${b.ext}`);
    writeFileSync(file, b.code);
    const { code, output } = await new Promise((resolve) => {
      execFile(process.execPath, [file], { timeout: 25_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (err.code ?? 1) : 0, output: stdout + stderr }),
      );
    });
    assert.equal(code, 0, `README line ${b.line}:\n${output}`);
  });
}
