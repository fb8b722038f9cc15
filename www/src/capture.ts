// Captures on the page: drop or open a pcap/pcapng file; a worker (capture-worker.ts) reads it
// and keeps the messages; this view shows a virtualised table (only the rows in sight exist in the
// DOM, fetched from the worker as you scroll), a report with plots, and a replay through the
// engine. A click on a row hands its bytes to the page's byte view (`onOpen`).
import "./capture.css";
import { fill, h, plural, svg } from "./dom";
import type { CaptureReport, ServerReport, ReplayRow } from "dnspect";
import type { CaptureRow } from "./capture-worker";

const ROW_H = 22;
const OVERSCAN = 10;

type Sub = "messages" | "report" | "replay";

export class CaptureView {
  readonly el: HTMLElement;
  /** Called with a message's hex when a row is clicked. */
  onOpen: (hex: string) => void = () => {};
  private worker: Worker;
  private status = h("div#capture-status.capture-status", { role: "status", "aria-live": "polite" });
  private scroller = h("div#capture-table.capture-table", { tabindex: 0, role: "grid", "aria-label": "DNS messages" });
  private spacer = h("div.capture-spacer");
  private body = h("div.capture-rows");
  private reportEl = h("div#capture-report.capture-report");
  private replayEl = h("div#capture-replay-out.capture-replay");
  private subs = new Map<Sub, HTMLElement>();
  private panels = new Map<Sub, HTMLElement>();
  private count = 0;
  private cache = new Map<number, CaptureRow>();
  private seq = 0;
  private wanted: [number, number] = [0, 0];
  private report: CaptureReport | null = null;
  private selected = -1;

  constructor() {
    this.worker = new Worker(new URL("./capture-worker.ts", import.meta.url), { type: "module", name: "dnspect-capture" });
    this.worker.onmessage = (e) => this.onWorker(e.data);
    const input = h("input#capture-file", { type: "file", accept: ".pcap,.pcapng,.cap,application/vnd.tcpdump.pcap" });
    input.addEventListener("change", () => {
      const f = input.files?.[0];
      if (f) this.open(f);
    });
    const port = h("input#capture-ports", { type: "text", placeholder: "53, 5353", size: 14, title: "ports that carry DNS (empty: 53 and 5353; * for any)" });
    this.portsEl = port;
    const tabs = h("div.capture-subtabs", { role: "tablist" });
    for (const [id, label] of [["messages", "Messages"], ["report", "Report"], ["replay", "Replay"]] as [Sub, string][]) {
      const b = h("button", { type: "button", role: "tab", id: `capture-tab-${id}`, onclick: () => this.setSub(id) }, label);
      this.subs.set(id, b);
      tabs.append(b);
    }
    this.scroller.append(this.spacer);
    this.spacer.append(this.body);
    this.scroller.addEventListener("scroll", () => this.paint());
    this.scroller.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>("[data-index]");
      if (row) this.pick(Number(row.dataset.index));
    });
    const head = h(
      "div.capture-head",
      null,
      ["#", "time", "source", "destination", "proto", "id", "", "question", "rcode", "flags", "size", "warnings"].map((t) => h("span", null, t)),
    );
    const replayBtn = h("button#capture-replay", { type: "button", onclick: () => this.replay() }, "Replay through dnspect's engine");
    this.panels.set("messages", h("div.capture-panel", null, head, this.scroller));
    this.panels.set("report", h("div.capture-panel", null, this.reportEl));
    this.panels.set("replay", h("div.capture-panel", null, h("p.muted", null, "The servers' answers in the capture, in order, as the upstream of dnspect's engine: what would the clients have received?"), replayBtn, this.replayEl));
    this.el = h(
      "section#captures.captures",
      { "aria-label": "capture files" },
      h(
        "div.capture-bar",
        null,
        h("strong", null, "Capture file"),
        h("label.capture-drop", null, input, h("span", null, "Open or drop a pcap / pcapng file")),
        h("label", null, "DNS ports ", port),
        this.status,
      ),
      tabs,
      [...this.panels.values()],
    );
    this.el.addEventListener("dragover", (e) => {
      e.preventDefault();
      this.el.classList.add("drag");
    });
    this.el.addEventListener("dragleave", () => this.el.classList.remove("drag"));
    this.el.addEventListener("drop", (e) => {
      e.preventDefault();
      this.el.classList.remove("drag");
      const f = e.dataTransfer?.files?.[0];
      if (f) this.open(f);
    });
    this.setSub("messages");
    this.el.dataset.state = "empty";
  }

  private portsEl: HTMLInputElement;

  open(file: File) {
    const text = this.portsEl.value.trim();
    const ports = text === "*" ? [] : text ? text.split(/[\s,]+/).map(Number).filter((n) => n > 0 && n < 65536) : undefined;
    this.count = 0;
    this.cache.clear();
    this.report = null;
    this.selected = -1;
    this.el.dataset.state = "reading";
    fill(this.status, `Reading ${file.name}\u2026`);
    fill(this.reportEl);
    fill(this.replayEl);
    this.resize();
    this.worker.postMessage({ type: "open", file, options: ports ? { ports } : undefined });
  }

  private setSub(id: Sub) {
    for (const [k, b] of this.subs) {
      b.setAttribute("aria-selected", String(k === id));
      this.panels.get(k)!.hidden = k !== id;
    }
    if (id === "report") this.renderReport();
    if (id === "messages") this.paint();
  }

  private onWorker(m: any) {
    if (m.type === "progress") {
      this.count = m.count;
      fill(this.status, `Reading\u2026 ${Math.round((100 * m.read) / m.total)}%, ${plural(m.count, "message")}`);
      this.resize();
    } else if (m.type === "done") {
      this.count = m.count;
      this.report = m.report;
      const r: CaptureReport = m.report;
      this.el.dataset.state = r.error ? "error" : "done";
      this.el.dataset.count = String(m.count);
      fill(
        this.status,
        `${r.format ?? "?"}: ${plural(r.frames, "frame")}, ${plural(m.count, "DNS message")} in ${(m.ms / 1000).toFixed(2)} s`,
        r.error ? h("span.err", null, ` \u2014 stops at byte ${r.error.offset}: ${r.error.message} (everything before it is shown)`) : "",
      );
      this.resize();
      this.renderReport();
    } else if (m.type === "failed") {
      this.el.dataset.state = "error";
      fill(this.status, h("span.err", null, m.error));
    } else if (m.type === "rows") {
      if (m.seq !== this.seq) return;
      (m.rows as CaptureRow[]).forEach((r, i) => this.cache.set(m.start + i, r));
      if (this.cache.size > 5000) {
        const [a, b] = this.wanted;
        for (const k of this.cache.keys()) if (k < a - 500 || k > b + 500) this.cache.delete(k);
      }
      this.paint();
    } else if (m.type === "bytes") {
      if (m.hex) this.onOpen(m.hex);
    } else if (m.type === "replay") {
      this.renderReplay(m);
    }
  }

  private resize() {
    this.spacer.style.height = `${this.count * ROW_H}px`;
    this.paint();
  }

  /** Draws the rows in sight; asks the worker for those it does not have. */
  private paint() {
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 480;
    const start = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const end = Math.min(this.count, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    this.wanted = [start, end];
    let missing = false;
    const els: HTMLElement[] = [];
    for (let i = start; i < end; i++) {
      const r = this.cache.get(i);
      if (!r) {
        missing = true;
        continue;
      }
      els.push(this.row(i, r));
    }
    this.body.replaceChildren(...els);
    if (missing) {
      this.seq++;
      this.worker.postMessage({ type: "rows", start, end, seq: this.seq });
    }
  }

  private row(i: number, r: CaptureRow): HTMLElement {
    const warn = r.error ? `error: ${r.error}` : r.warnings.join("; ");
    const el = h(
      "div.capture-row",
      { "data-index": i, role: "row", class: `capture-row${r.response ? " resp" : ""}${warn ? " warned" : ""}${i === this.selected ? " sel" : ""}`, title: warn || null },
      h("span", null, r.index),
      h("span", null, r.time.toFixed(6)),
      h("span", null, r.src),
      h("span", null, r.dst),
      h("span", null, r.transport),
      h("span", null, r.id),
      h("span", null, r.response ? "R" : "Q"),
      h("span", null, `${r.name ?? "(no question)"} ${r.qtype ?? ""}`),
      h("span", null, r.response ? r.rcode : ""),
      h("span", null, r.flags),
      h("span", null, r.size),
      h("span.w", null, warn),
    );
    el.style.top = `${i * ROW_H}px`;
    return el;
  }

  private pick(i: number) {
    this.selected = i;
    this.paint();
    this.worker.postMessage({ type: "bytes", index: i });
  }

  private replay() {
    fill(this.replayEl, "Replaying\u2026");
    this.worker.postMessage({ type: "replay" });
  }

  private renderReplay(m: { rows: ReplayRow[]; error?: string; upstream?: number; left?: number }) {
    if (m.error) {
      fill(this.replayEl, h("span.err", null, m.error));
      return;
    }
    const differ = m.rows.filter((r) => r.differs).length;
    fill(
      this.replayEl,
      h("p#capture-replay-summary", null, `${plural(m.rows.length, "client query", "client queries")}: dnspect answered ${differ} differently from the captured server; it sent ${plural(m.upstream ?? 0, "upstream query", "upstream queries")}.${m.left ? ` (${m.left} later queries left out.)` : ""}`),
      h(
        "table.capture-grid",
        null,
        h("thead", null, h("tr", null, ["at", "question", "the server answered", "dnspect answered"].map((t) => h("th", null, t)))),
        h(
          "tbody",
          null,
          m.rows.slice(0, 2000).map((r) =>
            h(
              "tr",
              { class: r.differs ? "differs" : null },
              h("td", null, `${(r.at_ms / 1000).toFixed(3)} s`),
              h("td", null, `${r.name} ${r.qtype}`),
              h("td", null, `${r.captured.rcode} an=${r.captured.answers} ${r.captured.size} B${r.captured.tc ? " TC" : ""}`),
              h("td", null, r.dnspect ?? "no answer"),
            ),
          ),
        ),
      ),
    );
  }

  private renderReport() {
    const r = this.report;
    if (!r || this.panels.get("report")!.hidden) return;
    fill(
      this.reportEl,
      h("h3", null, "Response sizes (UDP)"),
      sizePlot(r),
      h("h3", null, "Latency per server"),
      h("div.capture-lat", null, r.servers.filter((s) => s.latency.count > 0).map((s) => latencyPlot(s))),
      h("h3", null, "Per server"),
      serverTable(r.servers),
    );
  }
}

const W = 560;
const H = 160;
const PAD = 30;

/** The UDP response sizes, 32-byte buckets, with the 512, 1232 and 1472 lines. */
function sizePlot(r: CaptureReport): SVGElement {
  const data = r.udp_sizes;
  const maxX = Math.max(1600, ...data.map(([lo]) => lo + 32));
  const maxY = Math.max(1, ...data.map(([, c]) => c));
  const x = (v: number) => PAD + ((W - 2 * PAD) * v) / maxX;
  const y = (c: number) => H - PAD - ((H - 2 * PAD) * c) / maxY;
  const g = svg("svg", { id: "capture-sizes", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "UDP response sizes" });
  for (const [lo, c] of data) {
    const bar = svg("rect", { x: x(lo), y: y(c), width: Math.max(1, x(lo + 32) - x(lo) - 1), height: H - PAD - y(c), class: "bar" });
    bar.append(svg("title", {}, `${lo}-${lo + 31} B: ${c}`));
    g.append(bar);
  }
  for (const line of [512, 1232, 1472]) {
    g.append(svg("line", { x1: x(line), x2: x(line), y1: PAD / 2, y2: H - PAD, class: "limit", "data-limit": line }));
    g.append(svg("text", { x: x(line) + 3, y: PAD / 2 + 8, class: "lbl" }, `${line}`));
  }
  g.append(svg("line", { x1: PAD, x2: W - PAD, y1: H - PAD, y2: H - PAD, class: "axis" }));
  g.append(svg("text", { x: W - PAD, y: H - 8, class: "lbl", "text-anchor": "end" }, `bytes (max ${maxY} per bucket)`));
  return g;
}

/** One server's latency histogram, log scale (the report's 8 buckets per doubling). */
function latencyPlot(s: ServerReport): HTMLElement {
  const data = s.latency.histogram;
  const lo = Math.log2(Math.min(...data.map(([ms]) => ms)) / 1.1);
  const hi = Math.log2(Math.max(...data.map(([ms]) => ms)) * 1.1);
  const maxY = Math.max(1, ...data.map(([, c]) => c));
  const x = (ms: number) => PAD + ((W - 2 * PAD) * (Math.log2(ms) - lo)) / Math.max(0.001, hi - lo);
  const y = (c: number) => H - PAD - ((H - 2 * PAD) * c) / maxY;
  const g = svg("svg", { class: "capture-latency", "data-server": s.server, viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": `latency of ${s.server}` });
  for (const [ms, c] of data) {
    const bar = svg("rect", { x: x(ms / 1.09), y: y(c), width: Math.max(2, x(ms) - x(ms / 1.09) - 1), height: H - PAD - y(c), class: "bar" });
    bar.append(svg("title", {}, `\u2264 ${ms} ms: ${c}`));
    g.append(bar);
  }
  g.append(svg("line", { x1: PAD, x2: W - PAD, y1: H - PAD, y2: H - PAD, class: "axis" }));
  g.append(svg("text", { x: PAD, y: H - 8, class: "lbl" }, `${(2 ** lo).toFixed(3)} ms`));
  g.append(svg("text", { x: W - PAD, y: H - 8, class: "lbl", "text-anchor": "end" }, `${(2 ** hi).toFixed(1)} ms`));
  const f = (v: number | null) => (v === null ? "-" : v.toFixed(3));
  return h("figure", null, g, h("figcaption", null, `${s.server}: p50 ${f(s.latency.p50_ms)} ms, p90 ${f(s.latency.p90_ms)}, p99 ${f(s.latency.p99_ms)}, max ${f(s.latency.max_ms)} (${s.latency.count})`));
}

function serverTable(servers: ServerReport[]): HTMLElement {
  const cols: [string, (s: ServerReport) => string | number][] = [
    ["server", (s) => s.server],
    ["queries", (s) => s.queries],
    ["responses", (s) => s.responses],
    ["unanswered", (s) => s.unanswered],
    ["retries", (s) => s.retries],
    ["uncompressed (B lost)", (s) => `${s.uncompressed} (${s.uncompressed_bytes_lost})`],
    [">512 B without EDNS", (s) => s.over_512_without_edns],
    ["TC (retried over TCP)", (s) => `${s.truncated} (${s.tc_retried_over_tcp})`],
    ["FORMERR to EDNS", (s) => s.formerr_to_edns],
    ["negative without SOA", (s) => `${s.negative_without_soa} of ${s.negative}`],
    ["flaps", (s) => s.flaps_total],
    ["SERVFAIL rate", (s) => `${(s.servfail_rate * 100).toFixed(2)}%`],
    ["p50 / p99 ms", (s) => `${s.latency.p50_ms ?? "-"} / ${s.latency.p99_ms ?? "-"}`],
    ["IDs", (s) => s.query_ids.verdict],
    ["source ports", (s) => s.source_ports.verdict],
  ];
  return h(
    "table#capture-servers.capture-grid",
    null,
    h("thead", null, h("tr", null, cols.map(([t]) => h("th", null, t)))),
    h("tbody", null, servers.map((s) => h("tr", { "data-server": s.server }, cols.map(([, f]) => h("td", null, f(s)))))),
  );
}
