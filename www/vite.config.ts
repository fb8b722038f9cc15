import { defineConfig, type Plugin } from "vite";

// The built page may load only its own files: no other origin is ever contacted, and the policy
// says so to the browser too. (Only in the build: the dev server needs its websocket.)
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

function csp(): Plugin {
  return {
    name: "dnspect-csp",
    apply: "build",
    // Right after <meta charset>, before anything it governs.
    transformIndexHtml: (html) =>
      html.replace(/(<meta charset="utf-8" \/>)/, `$1\n    <meta http-equiv="Content-Security-Policy" content="${CSP}" />`),
  };
}

// The page is static: every asset is emitted next to index.html with relative URLs, so dist/ works
// from any path (a file server, `dnspect web`, a sub-directory) and needs no network at
// run time.
export default defineConfig({
  base: "./",
  plugins: [csp()],
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
  worker: {
    format: "es",
  },
  // The workspace package is linked, not pre-bundled: its wasm stays a separate asset.
  optimizeDeps: { exclude: ["dnspect"] },
});
