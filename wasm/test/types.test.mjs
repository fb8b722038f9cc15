// The hand-written TypeScript declarations (js/*.d.ts, *.d.mts, *.d.cts) compile, and describe the
// package as a TypeScript program sees it: test/types/*.ts use every export through the ESM, the
// CommonJS and the browser entries, with `@ts-expect-error` on what must not compile.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const tsc = require.resolve("typescript/bin/tsc");
const project = fileURLToPath(new URL("./types/tsconfig.json", import.meta.url));

test("tsc --noEmit accepts the usage files against the package's declarations", { timeout: 120_000 }, async () => {
  const { code, output } = await new Promise((resolve) => {
    execFile(process.execPath, [tsc, "--noEmit", "-p", project], { timeout: 110_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, output: stdout + stderr }),
    );
  });
  assert.equal(code, 0, output);
});
