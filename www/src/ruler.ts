// The size ruler: the message's sections and records along a byte axis, with lines at 512, 1232,
// the EDNS size the message advertises and 1472; which record crosses which line; the message as
// sent, optimally compressed and with no compression at all.
import { bytesText, fill, h } from "./dom";
import type { Model } from "./model";
import type { Crossing, FieldKind, RecordSize } from "dnspect";
import { table } from "./compression";

const SEC: Record<string, string> = { question: "s-qd", answer: "s-an", authority: "s-ns", additional: "s-ar" };

export function recordLabel(r: RecordSize): string {
  return `${r.section} #${r.index + 1}`;
}

export class RulerView {
  readonly el = h("div.sizes");
  onPick: (offset: number, kinds: FieldKind[]) => void = () => {};

  show(m: Model | null) {
    if (!m) {
      fill(this.el);
      return;
    }
    const s = m.a.sizes;
    const edns = m.a.message?.edns?.udp_size ?? null;
    const limits = s.crossings.map((c) => c.limit);
    const biggest = Math.max(s.size, s.uncompressed ?? 0, s.compressed ?? 0);
    // The axis reaches past the message and the common limits; an advertised size far beyond both
    // (4096, 8192) is drawn as an arrow at the edge instead of squashing everything else.
    const wanted = Math.max(biggest, 1472, ...limits.filter((l) => l <= Math.max(biggest, 1472) * 1.6));
    const max = Math.ceil((wanted * 1.06) / 64) * 64;
    const pct = (v: number) => `${Math.min(100, (v / max) * 100).toFixed(3)}%`;
    const crossingOf = new Map<string, Crossing[]>();
    for (const c of s.crossings) {
      if (!c.record) continue;
      const k = `${c.record.section}:${c.record.index}`;
      crossingOf.set(k, [...(crossingOf.get(k) ?? []), c]);
    }

    const sent = h("div.track", { "data-bar": "sent" });
    sent.append(h("div.seg.s-hdr", { style: `left:0;width:${pct(Math.min(12, s.size))}`, title: "header: 12 B" }));
    for (const sec of s.sections) {
      sent.append(
        h("div.seg", {
          class: `seg ${SEC[sec.section] ?? "s-xx"}`,
          style: `left:${pct(sec.offset)};width:${pct(sec.len)}`,
          title: `${sec.section}: ${sec.len} B at ${sec.offset}, ${sec.records} record(s)`,
        }),
      );
    }
    for (const r of s.records) {
      const cross = crossingOf.get(`${r.section}:${r.index}`);
      const el = h("button.rec", {
        type: "button",
        class: `rec${cross ? " cross" : ""}`,
        style: `left:${pct(r.offset)};width:${pct(r.len)}`,
        title: `${recordLabel(r)} ${r.type}: ${r.len} B at ${r.offset}${cross ? ` \u2014 crosses ${cross.map((c) => c.limit).join(", ")}` : ""}`,
        "aria-label": `${recordLabel(r)} ${r.type}, bytes ${r.offset} to ${r.offset + r.len - 1}`,
        "data-record": recordLabel(r),
        onclick: () => this.onPick(r.offset, ["record"]),
      });
      sent.append(el);
    }
    if (m.bytes.length > s.size) {
      sent.append(h("div.seg.s-trail", { style: `left:${pct(s.size)};width:${pct(m.bytes.length - s.size)}`, title: "trailing bytes" }));
    }
    const bar = (name: string, v: number | null, label: string) =>
      h(
        "div.row",
        null,
        h("div.name", null, label, h("b", null, v === null ? "\u2014" : bytesText(v))),
        h("div.track", { "data-bar": name }, v === null ? null : h("div.seg.solid", { class: `seg solid ${name}`, style: `left:0;width:${pct(v)}` })),
      );

    const lines = h("div.lines", { "aria-hidden": "true" });
    const shown = new Set<number>();
    for (const c of s.crossings) {
      if (shown.has(c.limit)) continue;
      shown.add(c.limit);
      const isEdns = edns !== null && c.limit === edns && ![512, 1232, 1472].includes(edns);
      const over = c.limit > max;
      lines.append(
        h(
          "div.limit",
          {
            class: `limit${c.fits ? "" : " crossed"}${isEdns ? " edns" : ""}${over ? " off" : ""}${!over && c.limit / max > 0.85 ? " right" : ""}`,
            style: `left:${over ? "100%" : pct(c.limit)}`,
            "data-limit": c.limit,
          },
          h("span", null, over ? `${c.limit} \u2192` : `${c.limit}`),
        ),
      );
    }
    const ticks = h("div.ticks", { "aria-hidden": "true" });
    const step = niceStep(max);
    for (let v = 0; v <= max; v += step) ticks.append(h("span", { style: `left:${pct(v)}` }, String(v)));

    const crossRows = s.crossings.map((c) => {
      const r = c.record;
      const where = r
        ? h(
            "span",
            null,
            h("strong", null, `crosses in ${recordLabel(r)}`),
            ` (${r.type}, bytes ${r.offset}\u2013${r.offset + r.len - 1}): ${bytesText(s.size - c.limit)} over`,
          )
        : c.fits
          ? h("span.ok", null, `fits (${bytesText(c.limit - s.size)} to spare)`)
          : h("span.bad", null, "does not fit");
      return {
        cells: [
          h("span", { class: `lim${c.fits ? "" : " crossed"}` }, String(c.limit)),
          c.label.replace(/^\d+:\s*/, ""),
          where,
          s.compressed === null ? "\u2014" : c.fits_compressed ? h("span.ok", null, `fits (${bytesText(s.compressed)})`) : h("span.bad", null, `too big (${bytesText(s.compressed)})`),
        ],
        pick: r ? () => this.onPick(r.offset, ["record"]) : undefined,
        cls: c.fits ? "fits" : "crosses",
      };
    });

    fill(
      this.el,
      h(
        "div.ruler",
        { role: "img", "aria-label": `message of ${s.size} bytes on a byte axis with limit lines` },
        h("div.row", null, h("div.name", null, "as sent", h("b", null, bytesText(s.size))), sent),
        bar("compressed", s.compressed, "optimally compressed"),
        bar("uncompressed", s.uncompressed, "with no compression"),
        h("div.row.axis", null, h("div.name"), h("div.track.axis-track", null, ticks)),
        h("div.overlay", null, h("div.name"), h("div.track.overlay-track", null, lines)),
      ),
      h(
        "div.legend.ruler-legend",
        null,
        h("i.s-hdr", null, "header"),
        h("i.s-qd", null, "question"),
        h("i.s-an", null, "answer"),
        h("i.s-ns", null, "authority"),
        h("i.s-ar", null, "additional"),
        h("i.cross", null, "record crossing a line"),
        edns !== null ? h("span.note", null, `this message advertises an EDNS UDP size of ${edns}`) : h("span.note", null, "no EDNS in this message"),
      ),
      h("h3", null, "Limits"),
      table(["limit", "what", "as sent", "optimally compressed"], crossRows, "crossings"),
      h("h3", null, "Sections"),
      table(
        ["section", "offset", "size", "records", "share"],
        [
          { cells: ["header", "0", bytesText(Math.min(12, s.size)), "\u2014", share(12, s.size)] },
          ...s.sections.map((x) => ({
            cells: [x.section, String(x.offset), bytesText(x.len), String(x.records), share(x.len, s.size)],
            pick: () => this.onPick(x.offset, ["section"]),
          })),
        ],
        "sections",
      ),
    );
  }
}

function share(part: number, whole: number): string {
  return whole ? `${((part / whole) * 100).toFixed(1)}%` : "";
}

function niceStep(max: number): number {
  for (const s of [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]) if (max / s <= 8) return s;
  return 16384;
}
