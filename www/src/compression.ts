// The compression map: every pointer (where it is, where it points, what it saves) and every name
// written in full that could have been a pointer (the bytes lost), as arcs over the message's
// bytes and as tables.
import { bytesText, fill, h, plural, svg } from "./dom";
import type { FieldKind } from "dnspect";
import type { Model } from "./model";

export class CompressionView {
  readonly el = h("div.compression");
  /** Asks the page to show the field at `offset` in the bytes view. */
  onPick: (offset: number, kinds: FieldKind[]) => void = () => {};

  show(m: Model | null) {
    if (!m) {
      fill(this.el);
      return;
    }
    const c = m.a.compression;
    const s = m.a.sizes;
    const summary = h(
      "div.cards",
      null,
      card(
        "Pointers",
        `${c.pointers.length}`,
        c.pointers.length ? `saved ${bytesText(c.saved)}` : "no name is compressed",
        "ptr",
      ),
      card(
        "Names written in full",
        `${c.missed.length}`,
        c.missed.length ? `${bytesText(c.lost)} lost` : "none: every repeated name is a pointer",
        c.missed.length ? "bad" : "good",
        "missed-summary",
      ),
      card(
        "Size",
        bytesText(s.size),
        s.compressed !== null
          ? `optimally compressed ${bytesText(s.compressed)}${s.uncompressed !== null ? `, with no pointers ${bytesText(s.uncompressed)}` : ""}`
          : "does not decode: no re-encoding",
        "",
      ),
    );
    fill(
      this.el,
      summary,
      m.bytes.length ? this.arcs(m) : null,
      h("h3", null, `Pointers (${c.pointers.length})`),
      c.pointers.length
        ? table(
            ["at", "points to", "suffix", "saves"],
            c.pointers.map((p) => ({
              cells: [hexOff(p.offset), hexOff(p.target), p.suffix, bytesText(p.saves)],
              pick: () => this.onPick(p.offset, ["pointer"]),
            })),
            "pointers",
          )
        : h("p.muted", null, "No compression pointers in this message."),
      h("h3", null, `Missed compression (${plural(c.missed.length, "name")}, ${bytesText(c.lost)} lost)`),
      c.missed.length
        ? table(
            ["at", "name", "written", "as a pointer", "could point to", "lost"],
            c.missed.map((x) => ({
              cells: [
                hexOff(x.offset),
                x.name,
                bytesText(x.written),
                bytesText(x.optimal),
                hexOff(x.could_point_to),
                bytesText(x.lost),
              ],
              pick: () => this.onPick(x.offset, ["name"]),
            })),
            "missed",
            ["", "", "", "", "", `${bytesText(c.lost)}`],
          )
        : h("p.muted", null, "Every name that repeats an earlier one is a pointer: nothing to gain."),
    );
  }

  /** Pointers as arcs above a byte axis (pointer -> target), missed names as dashed arcs below. */
  private arcs(m: Model): HTMLElement {
    const n = Math.max(m.bytes.length, 1);
    const W = 1000;
    const up = m.a.compression.pointers.length > 0;
    const down = m.a.compression.missed.length > 0;
    // Room above the axis for pointers, below it for missed names: only where there are some.
    const axis = up ? 78 : 12;
    const H = axis + (down ? 72 : 12);
    const x = (o: number) => 10 + (o / n) * (W - 20);
    const root = svg("svg", {
      viewBox: `0 0 ${W} ${H}`,
      style: `height:${H}px`,
      class: "arcs",
      role: "img",
      "aria-label": "compression pointers above the byte axis, names written in full below",
      preserveAspectRatio: "none",
    });
    for (const sec of m.a.sizes.sections) {
      root.append(
        svg("rect", {
          x: x(sec.offset),
          y: axis - 5,
          width: Math.max(1, x(sec.offset + sec.len) - x(sec.offset)),
          height: 10,
          class: `sec s-${sectionKey(sec.section)}`,
        }),
      );
    }
    root.append(svg("rect", { x: x(0), y: axis - 5, width: Math.max(1, x(12) - x(0)), height: 10, class: "sec s-hdr" }));
    const arc = (from: number, to: number, up: boolean, cls: string, title: string, pick: () => void) => {
      const x1 = x(from);
      const x2 = x(to);
      const span = Math.abs(x1 - x2);
      const hgt = Math.min(66, 12 + span * 0.35);
      const y = up ? axis - 6 : axis + 6;
      const cy = up ? y - hgt : y + hgt;
      const p = svg("path", { d: `M${x1},${y} C${x1},${cy} ${x2},${cy} ${x2},${y}`, class: cls, tabindex: 0 });
      p.append(svg("title", {}, title));
      p.addEventListener("click", pick);
      p.addEventListener("keydown", (e) => {
        if ((e as KeyboardEvent).key === "Enter") pick();
      });
      root.append(p);
    };
    for (const p of m.a.compression.pointers) {
      arc(p.offset, p.target, true, "arc ptr", `pointer at ${p.offset} -> ${p.target} (${p.suffix}), saves ${p.saves} B`, () =>
        this.onPick(p.offset, ["pointer"]),
      );
    }
    for (const x0 of m.a.compression.missed) {
      arc(x0.offset, x0.could_point_to, false, "arc missed", `${x0.name} written in full at ${x0.offset} (${x0.written} B): a pointer to ${x0.could_point_to} would take ${x0.optimal} B, ${x0.lost} B lost`, () =>
        this.onPick(x0.offset, ["name"]),
      );
    }
    return h(
      "figure.arcfig",
      null,
      root,
      h("div.scale", null, h("span", null, "0"), h("span", null, `byte ${n}`)),
      h(
        "figcaption",
        null,
        h("span.k.ptr", null, "pointer \u2192 earlier name (above)"),
        h("span.k.missed", null, "name written in full \u2192 where it could have pointed (below)"),
      ),
    );
  }
}

function sectionKey(s: string): string {
  return { question: "qd", answer: "an", authority: "ns", additional: "ar" }[s] ?? "xx";
}

function hexOff(o: number): string {
  return `${o} (0x${o.toString(16)})`;
}

function card(title: string, big: string, small: string, tone: string, id?: string): HTMLElement {
  return h(`div.card`, { class: `card ${tone}`, "data-card": id ?? null }, h("div.t", null, title), h("div.big", null, big), h("div.s", null, small));
}

export function table(
  head: string[],
  rows: { cells: (string | Node)[]; pick?: () => void; cls?: string }[],
  name: string,
  foot?: string[],
): HTMLElement {
  return h(
    "div.tablewrap",
    null,
    h(
      "table",
      { "data-table": name },
      h("thead", null, h("tr", null, head.map((t) => h("th", null, t)))),
      h(
        "tbody",
        null,
        rows.map((r) =>
          h(
            "tr",
            {
              class: (r.pick ? "pick " : "") + (r.cls ?? ""),
              tabindex: r.pick ? 0 : null,
              onclick: r.pick ? () => r.pick!() : null,
              onkeydown: r.pick
                ? (e: Event) => {
                    if ((e as KeyboardEvent).key === "Enter") r.pick!();
                  }
                : null,
            },
            r.cells.map((c) => h("td", null, c)),
          ),
        ),
      ),
      foot ? h("tfoot", null, h("tr", null, foot.map((t, i) => h(i === 0 ? "th" : "td", null, i === 0 ? t || "total" : t)))) : null,
    ),
  );
}
