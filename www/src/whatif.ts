// "What if": the message recompressed, as a minimal response, and truncated to a limit, each with
// its bytes and what changed (size, records dropped, TC, pointers).
import { bytesText, fill, h, hexOf, percent, plural, signed } from "./dom";
import { NotAvailable, type Engine } from "./engine";
import type { Model } from "./model";
import type { Analysis, Section, Truncated } from "dnspect";

interface Rec {
  section: Section;
  text: string;
}

/** The sections records can be dropped from, in the order of `Truncation.dropped`. */
const RECORD_SECTIONS = ["answer", "authority", "additional"] as const;

/** The records of an analysis as dig lines, from the field tree (the records of each section). */
export function recordsOf(a: Analysis): Rec[] {
  const out: Rec[] = [];
  for (const f of a.fields) {
    if (f.kind !== "section" || f.section === null || f.section === "question") continue;
    for (const r of f.children ?? []) {
      if (r.kind === "record") out.push({ section: f.section, text: r.value.replace(/\t/g, " ") });
    }
  }
  return out;
}

function counts(recs: Rec[]): Record<string, number> {
  const c: Record<string, number> = { answer: 0, authority: 0, additional: 0 };
  for (const r of recs) c[r.section] = (c[r.section] ?? 0) + 1;
  return c;
}

/** What truncate() reports it dropped: the last `dropped[i]` records of each section. */
function truncatedRecords(before: Rec[], report: Truncated): Rec[] {
  return RECORD_SECTIONS.flatMap((s, i) => {
    const recs = before.filter((r) => r.section === s);
    return recs.slice(recs.length - report.dropped[i]);
  });
}

/** Records of `before` missing from `after` (minimal responses: the core reports nothing yet). */
function dropped(before: Rec[], after: Rec[]): Rec[] {
  const left = new Map<string, number>();
  for (const r of after) left.set(`${r.section}|${r.text}`, (left.get(`${r.section}|${r.text}`) ?? 0) + 1);
  const out: Rec[] = [];
  for (const r of before) {
    const k = `${r.section}|${r.text}`;
    const n = left.get(k) ?? 0;
    if (n > 0) left.set(k, n - 1);
    else out.push(r);
  }
  return out;
}

type Op = "recompress" | "minimize" | "truncate";

export class WhatIfView {
  readonly el = h("div.whatif");
  private cards: Record<Op, HTMLElement>;
  private limitInput: HTMLInputElement;
  private model: Model | null = null;
  /** The latest run of each card: an older result arriving late is dropped. */
  private seqs: Record<Op, number> = { recompress: 0, minimize: 0, truncate: 0 };
  /** Loads bytes into the paste box (hex). */
  onLoad: (hex: string) => void = () => {};
  onLimit: (limit: number) => void = () => {};

  constructor(private engine: Engine) {
    this.limitInput = h("input#truncate-limit", {
      type: "number",
      min: 12,
      max: 65535,
      step: 1,
      value: 512,
      inputmode: "numeric",
      "aria-label": "truncate to this many bytes",
    });
    this.limitInput.addEventListener("change", () => {
      this.onLimit(this.limit);
      void this.runOne("truncate");
    });
    const presets = h(
      "span.presets",
      null,
      [512, 1232, 1472].map((v) =>
        h("button.chip", {
          type: "button",
          onclick: () => {
            this.limit = v;
            this.onLimit(v);
            void this.runOne("truncate");
          },
        }, String(v)),
      ),
    );
    this.cards = {
      recompress: h("article.wcard", { "data-op": "recompress" }),
      minimize: h("article.wcard", { "data-op": "minimize" }),
      truncate: h("article.wcard", { "data-op": "truncate" }),
    };
    fill(
      this.el,
      h(
        "p.intro",
        null,
        "What a forwarder could send instead, in the order dnspect applies them to fit a client: the same records re-encoded with optimal name compression (never longer); a minimal response (authority and additional records the answer does not need dropped, as BIND and Unbound do; OPT kept); the message truncated to a limit (whole RRsets dropped from the end, OPT kept, TC set when answer or authority data was dropped)."),
      h("div.wgrid", null, this.cards.recompress, this.cards.minimize, this.cards.truncate),
    );
    this.cards.truncate.dataset.controls = "1";
    this.truncateControls = h("div.controls", null, h("label", { for: "truncate-limit" }, "Limit (bytes)"), this.limitInput, presets);
  }

  private truncateControls: HTMLElement;

  get limit(): number {
    const v = Number(this.limitInput.value);
    return Number.isFinite(v) && v >= 12 ? Math.min(65535, Math.floor(v)) : 512;
  }

  set limit(v: number) {
    this.limitInput.value = String(v);
  }

  show(m: Model | null) {
    this.model = m;
    for (const op of ["recompress", "minimize", "truncate"] as Op[]) void this.runOne(op);
  }

  private async runOne(op: Op) {
    const seq = ++this.seqs[op];
    const m = this.model;
    const card = this.cards[op];
    const title = {
      recompress: "Recompress",
      minimize: "Minimal response",
      truncate: "Truncate",
    }[op];
    const head = h("h3", null, title);
    const controls = op === "truncate" ? this.truncateControls : null;
    if (!m) {
      fill(card, head, controls, h("p.muted", null, "Paste a message first."));
      return;
    }
    if (m.a.error || !m.a.message) {
      fill(card, head, controls, h("p.muted", null, "The message does not decode, so it cannot be re-encoded."));
      return;
    }
    fill(card, head, controls, h("p.muted", null, "Working\u2026"));
    try {
      const input = m.bytes.slice(0, m.a.sizes.size);
      let out: Uint8Array;
      let report: Truncated | null = null;
      if (op === "recompress") out = await this.engine.recompress(input);
      else if (op === "minimize") out = await this.engine.minimize(input);
      else {
        report = await this.engine.truncate(input, this.limit);
        out = report.bytes;
      }
      out = out instanceof Uint8Array ? out : new Uint8Array(out as ArrayLike<number>);
      const after = await this.engine.analyze(out);
      if (seq !== this.seqs[op]) return;
      fill(card, head, controls, this.result(op, m, out, after, report));
    } catch (e) {
      if (seq !== this.seqs[op]) return;
      if (e instanceof NotAvailable) {
        fill(card, head, controls, h("p.na", { "data-na": op }, `Not available: this build of the dnspect package has no ${op}() yet.`));
      } else {
        fill(card, head, controls, h("p.bad", null, (e as Error).message));
      }
    }
  }

  /** `report`: what truncate() says it dropped (the other operations are compared record by record). */
  private result(op: Op, m: Model, out: Uint8Array, after: Analysis, report: Truncated | null): HTMLElement {
    const before = m.a.sizes.size;
    const delta = out.length - before;
    const rb = recordsOf(m.a);
    const cb = counts(rb);
    const gone = report ? truncatedRecords(rb, report) : dropped(rb, recordsOf(after));
    const ca: Record<string, number> = {};
    for (const s of RECORD_SECTIONS) ca[s] = cb[s] - gone.filter((r) => r.section === s).length;
    const tcBefore = !!m.a.message?.header.tc;
    const tcAfter = report ? report.tc || tcBefore : !!after.message?.header.tc;
    const rows: HTMLElement[] = [];
    for (const s of RECORD_SECTIONS) {
      if (cb[s] || ca[s]) rows.push(h("li", null, `${s}: ${cb[s]} \u2192 ${ca[s]}`));
    }
    if (tcBefore !== tcAfter) rows.push(h("li", null, `TC ${tcAfter ? "set" : "cleared"}`));
    rows.push(
      h(
        "li",
        null,
        `pointers ${m.a.compression.pointers.length} \u2192 ${after.compression.pointers.length}; bytes lost to names written in full ${m.a.compression.lost} \u2192 ${after.compression.lost}`,
      ),
    );
    const limitNote =
      op === "truncate"
        ? out.length <= this.limit
          ? h("p.ok", null, `fits in ${this.limit} B`)
          : h("p.bad", null, `still ${bytesText(out.length)}: over ${this.limit} B (the header, question and OPT alone do not fit)`)
        : null;
    return h(
      "div.res",
      { "data-size": out.length },
      h(
        "div.sizeline",
        null,
        h("span.from", null, bytesText(before)),
        " \u2192 ",
        h("strong.to", null, bytesText(out.length)),
        h("span", { class: `delta ${delta < 0 ? "ok" : delta > 0 ? "bad" : ""}` }, ` ${signed(delta)} B ${percent(delta, before)}`),
      ),
      limitNote,
      h("ul.changes", null, rows),
      gone.length
        ? h(
            "details.dropped",
            null,
            h("summary", null, `${plural(gone.length, "record")} dropped`),
            h("ul", null, gone.slice(0, 200).map((r) => h("li", null, h("span.sec", null, r.section), " ", h("code", null, r.text)))),
          )
        : h(
            "p.muted",
            null,
            op === "minimize" && delta < 0
              ? "No record to drop: the difference is name compression (the message is re-encoded)."
              : "No record dropped.",
          ),
      h("details.hexout", null, h("summary", null, "Resulting bytes"), h("pre.hexdump", null, hexOf(out, " ").replace(/((?:\S\S ){16})/g, "$1\n"))),
      h(
        "div.actions",
        null,
        h("button", { type: "button", onclick: () => this.onLoad(hexOf(out)) }, "Analyze this result"),
      ),
    );
  }
}
