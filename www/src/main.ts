// dnspect's web page: paste a DNS message, see every byte explained, simulate the forwarder.
// Everything runs in this browser tab (the wasm in a Web Worker); nothing is sent anywhere.
import "./style.css";
import { $, bytesText, debounce, fill, h } from "./dom";
import { Engine, NotAvailable } from "./engine";
import { Model } from "./model";
import { PasteBox, parsePasteError } from "./pastebox";
import { BytesView } from "./bytesview";
import { CompressionView } from "./compression";
import { RulerView } from "./ruler";
import { WhatIfView } from "./whatif";
import { SIM_DEFAULTS, SimView, type SimSettings } from "./sim";
import { CaptureView } from "./capture";
import { decodeFragment, encodeFragment, type Shared } from "./permalink";
import { IncidentsView } from "./incidents";
import type { Analysis, Example, FieldKind } from "dnspect";

performance.mark("dnspect:start");

const TABS = [
  ["bytes", "Bytes"],
  ["compression", "Compression"],
  ["sizes", "Sizes"],
  ["whatif", "What if"],
  ["sim", "Simulator"],
] as const;
type Tab = (typeof TABS)[number][0];

const FORMATS: Record<string, string> = {
  hex: "plain hex",
  tcpdump_x: "tcpdump -X / -xx",
  xxd: "xxd",
  od: "od -x",
  hex_stream: "hex stream (plain hex, Wireshark \u201ccopy as hex stream\u201d)",
  hex_dump: "Wireshark hex dump",
  base64: "base64",
  base64_url: "base64url (DoH)",
  doh_url: "DoH URL",
  binary: "raw bytes",
};

const engine = new Engine();
const paste = new PasteBox();
const bytesView = new BytesView();
const compression = new CompressionView();
const ruler = new RulerView();
const whatif = new WhatIfView(engine);
const sim = new SimView(engine);
const incidents = new IncidentsView(engine, (name) => void openExample(name));

let tab: Tab = "bytes";
let model: Model | null = null;
let analyses = 0;
let firstDone = false;
let pendingSelect: string | null = null;
/** Views rendered only when their tab is open (and again after each new analysis). */
const dirty = { compression: true, sizes: true, whatif: true, sim: true };

// ---- layout ------------------------------------------------------------------------------------

const status = h("div#input-status.status", { role: "status", "aria-live": "polite" });
const summary = h("div#summary.summary");
const warnings = h("ul#warnings.warnings");
const examplesBar = h("div#examples.examples", null, h("span.muted", null, "Loading examples\u2026"));
const tabButtons = new Map<Tab, HTMLButtonElement>();
const panels = new Map<Tab, HTMLElement>();
const tablist = h("div.tabs", { role: "tablist", "aria-label": "views" });
for (const [id, label] of TABS) {
  const b = h("button", {
    type: "button",
    role: "tab",
    id: `tab-${id}`,
    "aria-controls": `panel-${id}`,
    "aria-selected": "false",
    tabindex: -1,
    onclick: () => setTab(id, true),
  }, label);
  tabButtons.set(id, b);
  tablist.append(b);
}
tablist.addEventListener("keydown", (e) => {
  const i = TABS.findIndex(([id]) => id === tab);
  const k = (e as KeyboardEvent).key;
  const next = k === "ArrowRight" ? i + 1 : k === "ArrowLeft" ? i - 1 : k === "Home" ? 0 : k === "End" ? TABS.length - 1 : null;
  if (next === null) return;
  e.preventDefault();
  const t = TABS[(next + TABS.length) % TABS.length][0];
  setTab(t, true);
  tabButtons.get(t)!.focus();
});
const panelContent: Record<Tab, HTMLElement> = {
  bytes: bytesView.el,
  compression: compression.el,
  sizes: ruler.el,
  whatif: whatif.el,
  sim: sim.el,
};
for (const [id] of TABS) {
  panels.set(id, h("section.panel", { role: "tabpanel", id: `panel-${id}`, "aria-labelledby": `tab-${id}`, hidden: true }, panelContent[id]));
}
const tabbar = h("nav.tabbar", { "aria-label": "views" }, tablist);
const empty = h(
  "div.empty",
  null,
  h("p", null, "Paste a DNS message above, or load an example. dnspect shows every field with its bytes, where each compression pointer points and what it saved, which names were not compressed, which record crosses 512, 1232 or 1472 bytes, and what a forwarder would do with it."),
);

const textDialog = h("dialog#text-dialog.dlg", null);
const linkDialog = h("dialog#link-dialog.dlg", null);

fill(
  $("#app"),
  h(
    "header.top",
    null,
    h("div.brand", null, h("h1", null, "dnspect"), h("span.tag", null, "every byte of a DNS message, explained")),
    h(
      "div.share",
      null,
      h("a#open-incidents.button", { href: "#incident" }, "Incidents"),
      h("button#copy-link", { type: "button", onclick: () => void openLink() }, "Permalink"),
      h("button#copy-text", { type: "button", onclick: () => void openText() }, "Copy as text"),
    ),
  ),
  h("div.examples-row", null, h("span.l", null, "Examples"), examplesBar),
  h(
    "section.input",
    { "aria-label": "input" },
    h("div.paste-col", null, paste.el),
    h("div.info-col", null, status, summary, warnings),
  ),
  tabbar,
  empty,
  h("main#panels", null, [...panels.values()]),
  incidents.el,
  h(
    "footer.foot",
    null,
    h("span#engine-status", null, "loading the analyzer\u2026"),
    h("span", null, "Runs entirely in this tab: nothing you paste leaves the browser."),
  ),
  textDialog,
  linkDialog,
);

// ---- tabs --------------------------------------------------------------------------------------

function setTab(t: Tab, user = false) {
  tab = t;
  for (const [id, b] of tabButtons) {
    const on = id === t;
    b.setAttribute("aria-selected", String(on));
    b.tabIndex = on ? 0 : -1;
    panels.get(id)!.hidden = !on;
  }
  document.body.dataset.tab = t;
  refreshLazy();
  if (user) saveSoon();
}

/** Only the open tab is rendered: a message of thousands of records costs one view at a time. */
function refreshLazy() {
  if (tab === "compression" && dirty.compression) {
    dirty.compression = false;
    compression.show(model);
  }
  if (tab === "sizes" && dirty.sizes) {
    dirty.sizes = false;
    ruler.show(model);
  }
  if (tab === "whatif" && dirty.whatif) {
    dirty.whatif = false;
    whatif.show(model);
  }
  if (tab === "sim" && dirty.sim) {
    dirty.sim = false;
    if (model) void sim.run();
  }
}

// ---- analysis ----------------------------------------------------------------------------------

let running = false;
let queued: string | null = null;

function requestAnalysis(text: string) {
  queued = text;
  if (!running) void pump();
}

/** One analysis in flight at a time; while it runs, only the newest paste waits. */
async function pump() {
  running = true;
  while (queued !== null) {
    const text = queued;
    queued = null;
    document.body.dataset.state = "analyzing";
    // A large paste takes a moment (in the worker: the page stays responsive); say so.
    const slow = setTimeout(() => {
      status.prepend(h("div.busy.muted", null, `Analyzing ${bytesText(text.length)} of paste\u2026`));
    }, 150);
    await analyze(text);
    clearTimeout(slow);
    status.querySelector(".busy")?.remove();
  }
  running = false;
}

async function analyze(text: string) {
  if (!text.trim()) {
    showEmpty();
    return;
  }
  let a: Analysis;
  const t0 = performance.now();
  try {
    a = await engine.analyze(text);
  } catch (e) {
    if (queued !== null) return;
    showError(e as Error);
    return;
  }
  if (queued !== null) return; // a newer paste is waiting: skip rendering this one
  const ms = performance.now() - t0;
  render(a, ms);
}

function render(a: Analysis, ms: number) {
  model = new Model(a);
  paste.setMark(null);
  document.body.dataset.state = "analyzed";
  empty.hidden = true;
  tabbar.hidden = false;
  $("#panels").hidden = false;
  renderStatus(a, ms);
  renderSummary(a);
  renderWarnings(a);
  bytesView.show(model, pendingSelect);
  pendingSelect = null;
  sim.show(model);
  dirty.compression = dirty.sizes = dirty.whatif = dirty.sim = true;
  refreshLazy();
  analyses++;
  document.body.dataset.analyses = String(analyses);
  if (!firstDone) {
    firstDone = true;
    performance.mark("dnspect:first-analysis");
  }
  saveSoon();
}

function showEmpty() {
  model = null;
  paste.setMark(null);
  document.body.dataset.state = "empty";
  fill(status, h("span.muted", null, "Waiting for a paste. It is read as you type, in this tab."));
  fill(summary);
  fill(warnings);
  empty.hidden = false;
  tabbar.hidden = true;
  $("#panels").hidden = true;
  bytesView.show(null);
  saveSoon();
}

function showError(e: Error) {
  model = null;
  document.body.dataset.state = "error";
  const pe = parsePasteError(e);
  empty.hidden = true;
  tabbar.hidden = true;
  $("#panels").hidden = true;
  fill(summary);
  fill(warnings);
  if (pe) {
    paste.setMark(pe);
    fill(
      status,
      h(
        "div.err",
        { "data-line": pe.line, "data-column": pe.column },
        h("strong", null, `Line ${pe.line}, column ${pe.column}: `),
        pe.message,
        " ",
        h("button.link", { type: "button", onclick: () => paste.reveal() }, "show me"),
      ),
      h("pre.excerpt", null, paste.excerpt(pe)),
    );
  } else {
    paste.setMark(null);
    fill(status, h("div.err", null, h("strong", null, "Could not read the paste: "), e.message));
  }
  saveSoon();
}

function renderStatus(a: Analysis, ms: number) {
  const src = a.source;
  const parts: (Node | string)[] = [];
  if (src) {
    parts.push(h("span.fmt", { "data-format": src.format }, `Read as ${FORMATS[src.format] ?? src.format}`));
    if (src.layers.length) {
      parts.push(
        h(
          "span.layers",
          null,
          "; stripped ",
          src.layers.map((l, i) => h("span.layer", { "data-layer": l.kind, title: `${l.len} bytes at ${l.offset}` }, (i ? ", " : "") + l.summary)),
        ),
      );
    } else {
      parts.push(h("span.layers.muted", null, "; no link/IP/UDP headers"));
    }
    parts.push(`: ${bytesText(src.raw_len)} decoded, ${bytesText(a.len)} of DNS`);
  } else {
    parts.push(`${bytesText(a.len)} of DNS`);
  }
  parts.push(h("span.muted", null, ` \u00b7 ${ms.toFixed(1)} ms`));
  fill(status, h("div.ok", null, parts));
  if (a.error) {
    status.append(
      h(
        "div.err.decode-err",
        { "data-offset": a.error.offset },
        h("strong", null, `Does not decode at byte ${a.error.offset}: `),
        describeError(a.error),
        " ",
        h("button.link", { type: "button", onclick: () => (setTab("bytes", true), bytesView.selectOffset(a.error!.offset)) }, "show"),
      ),
    );
  }
}

function describeError(e: Analysis["error"] & object): string {
  const rest = Object.entries(e)
    .filter(([k]) => k !== "offset" && k !== "kind")
    .map(([k, v]) => `${k} ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(", ");
  return `${e.kind.replace(/_/g, " ")}${rest ? ` (${rest})` : ""}`;
}

function renderSummary(a: Analysis) {
  const m = a.message;
  if (!m) {
    fill(summary, h("p.muted", null, "Nothing decoded."));
    return;
  }
  const hd = m.header;
  const flags = ["qr", "aa", "tc", "rd", "ra", "ad", "cd"].filter((f) => (hd as Record<string, unknown>)[f]);
  const rcodeName = findField(a, "RCODE")?.value ?? String(hd.rcode);
  const q = m.questions[0];
  fill(
    summary,
    h(
      "div.headline",
      null,
      h("span", { class: `rcode ${rcodeName === "NOERROR" ? "ok" : "bad"}` }, rcodeName),
      h("span.qname", null, q ? `${q.name} ${q.class} ${q.type}` : "no question"),
    ),
    h(
      "div.facts",
      null,
      chip(hd.qr ? "response" : "query"),
      chip(`id ${hd.id}`),
      chip(`flags ${flags.join(" ") || "none"}`),
      chip(`${m.answers.length} answer \u00b7 ${m.authority.length} authority \u00b7 ${m.additional.length} additional`, "counts"),
      chip(m.edns ? `EDNS ${m.edns.udp_size}${m.edns.dnssec_ok ? " DO" : ""}` : "no EDNS"),
      chip(`${bytesText(a.sizes.size)}`, "size"),
      a.sizes.compressed !== null && a.sizes.compressed < a.sizes.size ? chip(`${bytesText(a.sizes.compressed)} compressed`, "bad") : null,
    ),
  );
}

function chip(text: string, cls = ""): HTMLElement {
  return h("span", { class: `chip ${cls}` }, text);
}

function findField(a: Analysis, label: string): { value: string } | null {
  // Depth first, stopping at the first match (the header's fields come first).
  const stack = [...a.fields].reverse();
  while (stack.length) {
    const f = stack.pop()!;
    if (f.label === label) return f;
    for (let i = (f.children?.length ?? 0) - 1; i >= 0; i--) stack.push(f.children![i]);
  }
  return null;
}

function renderWarnings(a: Analysis) {
  fill(
    warnings,
    a.warnings.map((w) =>
      h(
        "li",
        { class: `w ${w.severity}`, "data-severity": w.severity },
        h("span.sev", null, w.severity),
        " ",
        w.offset !== null
          ? h("button.link", { type: "button", onclick: () => (setTab("bytes", true), bytesView.selectOffset(w.offset!)) }, w.message)
          : w.message,
      ),
    ),
  );
}

// ---- wiring --------------------------------------------------------------------------------------

const onPick = (offset: number, kinds: FieldKind[]) => {
  setTab("bytes", true);
  bytesView.selectOffset(offset, kinds);
  bytesView.focusTree();
};
compression.onPick = onPick;
ruler.onPick = onPick;
bytesView.onSelect = () => saveSoon();
whatif.onLimit = () => saveSoon();
sim.onChange = () => saveSoon();
const loadHex = (hex: string) => {
  paste.value = hex.replace(/(.{32})/g, "$1\n").trim();
  setTab("bytes", true);
  requestAnalysis(paste.value);
};
whatif.onLoad = loadHex;
sim.onLoad = loadHex;
// Capture files (capture.ts): their own section under the input; a row opens in the byte view.
const captures = new CaptureView();
document.querySelector("section.input")?.after(captures.el);
captures.onOpen = (hex) => {
  loadHex(hex);
  tabbar.scrollIntoView({ block: "start" });
};

const typed = debounce((text: string) => requestAnalysis(text), 180);
paste.onInput = (text) => {
  document.body.dataset.state = "typing";
  typed(text);
};

// ---- permalink -----------------------------------------------------------------------------------

let lastFragment = "";

function shared(): Shared {
  const s: Shared = { p: paste.value, t: tab };
  const f = bytesView.selectedPath;
  if (f && model) s.f = f;
  if (whatif.limit !== 512) s.l = whatif.limit;
  const simDiff: Record<string, unknown> = {};
  const cur = sim.value as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(SIM_DEFAULTS)) if (cur[k] !== v) simDiff[k] = cur[k];
  if (Object.keys(simDiff).length) s.s = simDiff;
  return s;
}

async function save() {
  if (incidents.open) return; // the gallery's "#incident/ID" stays in the address bar
  const frag = await encodeFragment(shared());
  if (frag === lastFragment) return;
  lastFragment = frag;
  history.replaceState(null, "", `#${frag}`);
}
const saveSoon = debounce(() => void save(), 250);

async function loadFragment(frag: string): Promise<boolean> {
  let s: Shared | null;
  try {
    s = await decodeFragment(frag);
  } catch (e) {
    fill(status, h("div.err", null, h("strong", null, "This link is damaged: "), (e as Error).message));
    return false;
  }
  if (!s) return false;
  lastFragment = frag;
  paste.value = s.p;
  whatif.limit = s.l ?? 512;
  sim.value = { ...SIM_DEFAULTS, ...((s.s ?? {}) as Partial<SimSettings>) };
  pendingSelect = s.f ?? null;
  setTab(TABS.some(([id]) => id === s!.t) ? (s.t as Tab) : "bytes");
  requestAnalysis(s.p);
  return true;
}

window.addEventListener("hashchange", () => {
  const frag = location.hash.slice(1);
  if (incidents.route(frag)) return;
  if (frag && frag !== lastFragment) void loadFragment(frag);
});

async function openLink() {
  await save();
  const url = location.href;
  const input = h("input#permalink", { type: "text", readonly: true, value: url, "aria-label": "permalink" });
  const note = h("p.muted", null, `The paste and the settings are in the part after #, which browsers never send to a server (${bytesText(url.length)} link).`);
  const result = h("span.copied", { "aria-live": "polite" });
  fill(
    linkDialog,
    h("h2", null, "Permalink"),
    input,
    note,
    h(
      "div.actions",
      null,
      h("button.primary", { type: "button", onclick: () => void copy(url, input, result) }, "Copy link"),
      h("button", { type: "button", onclick: () => (linkDialog as HTMLDialogElement).close() }, "Close"),
      result,
    ),
  );
  (linkDialog as HTMLDialogElement).showModal();
  input.select();
  void copy(url, input, result);
}

async function openText() {
  const result = h("span.copied", { "aria-live": "polite" });
  let text: string;
  try {
    if (!paste.value.trim()) throw new Error("paste a message first");
    text = await engine.analysisText(paste.value);
  } catch (e) {
    text = e instanceof NotAvailable ? "analysisText() is not available in this build." : `Could not analyze: ${(e as Error).message}`;
  }
  const pre = h("textarea#analysis-text", { readonly: true, spellcheck: "false", wrap: "off", "aria-label": "the analysis as text" });
  pre.value = text;
  fill(
    textDialog,
    h("h2", null, "The analysis as text"),
    pre,
    h(
      "div.actions",
      null,
      h("button.primary", { type: "button", onclick: () => void copy(text, pre, result) }, "Copy"),
      h("button", { type: "button", onclick: () => (textDialog as HTMLDialogElement).close() }, "Close"),
      result,
    ),
  );
  (textDialog as HTMLDialogElement).showModal();
  void copy(text, pre, result);
}

async function copy(text: string, field: HTMLInputElement | HTMLTextAreaElement, result: HTMLElement) {
  try {
    await navigator.clipboard.writeText(text);
    result.textContent = "Copied.";
  } catch {
    field.focus();
    field.select();
    const ok = document.execCommand?.("copy");
    result.textContent = ok ? "Copied." : "Select and copy (Ctrl+C / \u2318C).";
  }
  result.dataset.done = "1";
}

// ---- examples and start ---------------------------------------------------------------------------

const PRESETS: Record<string, Partial<SimSettings>> = {
  "incident-000": { edns: false },
  "incident-000-compressed": { edns: false },
  nodata: { up1: "flapping", repeat: 6, every: 31 },
};

function loadExample(ex: Example) {
  paste.value = ex.hex.trim().replace(/(.{32})/g, "$1\n").trim();
  sim.value = { ...SIM_DEFAULTS, ...(PRESETS[ex.name] ?? {}) };
  whatif.limit = 512;
  pendingSelect = null;
  requestAnalysis(paste.value);
}

async function start() {
  setTab("bytes");
  document.body.dataset.state = "loading";
  try {
    await engine.ready;
  } catch (e) {
    fill($("#engine-status"), h("span.bad", null, `The analyzer failed to load: ${(e as Error).message}`));
    return;
  }
  performance.mark("dnspect:wasm-ready");
  document.body.dataset.engine = engine.where;
  fill($("#engine-status"), `dnspect ${engine.version} \u00b7 wasm in ${engine.where === "worker" ? "a Web Worker" : "the main thread"}`);
  const fromLink = location.hash.length > 1 && (incidents.route(location.hash.slice(1)) || (await loadFragment(location.hash.slice(1))));
  if (!fromLink) showEmpty();
  try {
    const list = await engine.examples();
    fill(
      examplesBar,
      list.map((ex) => h("button.chip.ex", { type: "button", title: ex.title, "data-example": ex.name, onclick: () => loadExample(ex) }, label(ex))),
    );
  } catch (e) {
    fill(examplesBar, h("span.na", { "data-na": "examples" }, e instanceof NotAvailable ? "Not available: this build of the dnspect package has no examples() yet." : (e as Error).message));
  }
  document.body.dataset.ready = "1";
}

/** Opens a built-in example in the analyzer (the gallery's packet buttons), leaving the gallery. */
async function openExample(name: string) {
  const ex = (await engine.examples()).find((e) => e.name === name);
  if (!ex) return;
  incidents.close();
  lastFragment = "";
  history.pushState(null, "", location.pathname + location.search);
  setTab("bytes");
  loadExample(ex);
}

function label(ex: Example): string {
  const known: Record<string, string> = {
    "incident-000": "Incident 000: 758 B uncompressed",
    "incident-000-compressed": "Incident 000, compressed",
    nodata: "Incident 004: NODATA + SOA",
    cname: "CNAME + A with EDNS",
  };
  return known[ex.name] ?? ex.title.split(":")[0] ?? ex.name;
}

void start();

// For the curious (and the end-to-end tests), in the browser console: the analysis on screen, and
// the package's functions as they run in the worker: `await dnspect.call("examples")`.
(window as unknown as { dnspect: unknown }).dnspect = {
  get analysis() {
    return model?.a ?? null;
  },
  call: (fn: Parameters<Engine["call"]>[0], ...args: unknown[]) => engine.call(fn, ...args),
};
