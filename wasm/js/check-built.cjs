// Run before the package's tests: fails early, with the fix, when the generated half of the package
// (wasm/pkg, built by scripts/build-wasm.sh and not checked in) is missing, and regenerates
// pkg/node/api.cjs from js/api.mjs so that the CommonJS entry never runs stale glue.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const pkg = path.join(__dirname, "..", "pkg");
// One .wasm: pkg/node/dnspect.js reads pkg/web/dnspect_bg.wasm (scripts/build-wasm.sh).
const needed = ["node/dnspect.js", "web/dnspect.js", "web/dnspect_bg.wasm"];
const missing = needed.filter((f) => !fs.existsSync(path.join(pkg, f)));
if (missing.length > 0) {
  console.error(
    `dnspect: wasm/pkg is not built (missing ${missing.join(", ")}).\n` +
      "Run: bash scripts/setup-wasm.sh && bash scripts/build-wasm.sh",
  );
  process.exit(1);
}
require("./build-cjs.cjs").build();
