// The decoded tree and the hex dump, linked: hovering or selecting a field highlights its bytes,
// hovering or clicking a byte highlights its field. Keyboard: in the tree, Up/Down move through
// the visible fields, Right/Left expand/collapse (or go to child/parent), Home/End; in the hex
// dump, Left/Right move to the previous/next field, Up/Down a row of bytes.
import { esc, fill, h, hexOf, off, plural } from "./dom";
import type { FieldKind } from "dnspect";
import { Model, SECTION_NAMES, type FNode } from "./model";

const SECTION_CLASS = ["", "s-hdr", "s-qd", "s-an", "s-ns", "s-ar", "s-xx"];
const ROW_H = 20;
const CHUNK = 400;

export class BytesView {
  readonly el: HTMLElement;
  private tree: HTMLElement;
  private hex: HTMLElement;
  private hexRows: HTMLElement;
  private hexSpacer: HTMLElement;
  private detail: HTMLElement;
  private model: Model | null = null;
  private expanded = new Set<number>();
  private rendered = new Set<number>();
  /** How many children of each node (-1: the roots) have rows. */
  private shown = new Map<number, number>();
  private rows = new Map<number, HTMLElement>();
  private selected: FNode | null = null;
  private hovered: FNode | null = null;
  private perRow = 16;
  private raf = 0;
  /** Called with the selected field's path (for the permalink). */
  onSelect: (path: string | null) => void = () => {};

  constructor() {
    this.detail = h("div.detail", { "aria-live": "polite" });
    this.tree = h("div.tree", {
      role: "tree",
      tabindex: 0,
      "aria-label": "decoded fields",
      onkeydown: (e: Event) => this.treeKey(e as KeyboardEvent),
      onclick: (e: Event) => this.treeClick(e as MouseEvent),
      onmouseover: (e: Event) => this.treeHover(e as MouseEvent),
      onmouseleave: () => this.hover(null),
    });
    this.hexRows = h("div.hex-rows");
    this.hexSpacer = h("div.hex-spacer", null, this.hexRows);
    this.hex = h(
      "div.hex",
      {
        tabindex: 0,
        role: "group",
        "aria-label": "hex dump: arrows move between fields",
        onscroll: () => this.scheduleHex(),
        onkeydown: (e: Event) => this.hexKey(e as KeyboardEvent),
        onmouseover: (e: Event) => this.hexHover(e as MouseEvent),
        onmouseleave: () => this.hover(null),
        onclick: (e: Event) => this.hexClick(e as MouseEvent),
      },
      this.hexSpacer,
    );
    this.el = h(
      "div.bytes-view",
      null,
      this.detail,
      h(
        "div.split",
        null,
        h("section.pane.tree-pane", { "aria-label": "decoded tree" }, h("h3", null, "Decoded"), this.tree),
        h(
          "section.pane.hex-pane",
          { "aria-label": "hex dump" },
          h(
            "h3",
            null,
            "Bytes",
            h(
              "span.legend",
              null,
              h("i.s-hdr", null, "header"),
              h("i.s-qd", null, "question"),
              h("i.s-an", null, "answer"),
              h("i.s-ns", null, "authority"),
              h("i.s-ar", null, "additional"),
              h("i.m-ptr", null, "pointer"),
              h("i.m-missed", null, "uncompressed name"),
            ),
          ),
          this.hex,
        ),
      ),
    );
    new ResizeObserver(() => {
      const per = this.hex.clientWidth && this.hex.clientWidth < 470 ? 8 : 16;
      if (per !== this.perRow) {
        this.perRow = per;
        this.layoutHex();
      }
      this.scheduleHex();
    }).observe(this.hex);
  }

  show(model: Model | null, selectPath: string | null = null) {
    this.model = model;
    this.expanded.clear();
    this.rendered.clear();
    this.shown.clear();
    this.rows.clear();
    this.selected = null;
    this.hovered = null;
    fill(this.tree);
    if (!model) {
      fill(this.detail);
      this.layoutHex();
      return;
    }
    // Sections and the header open; records closed (their one-line summary is the dig line).
    for (const r of model.roots) this.expanded.add(r.id);
    this.renderChildren(null, this.tree);
    this.layoutHex();
    const initial = (selectPath && model.byPath.get(selectPath)) || null;
    this.select(initial ?? model.roots[0] ?? null, { scroll: !!initial, notify: false });
  }

  /** Selects the field that starts at `offset` (preferring those kinds), e.g. from the compression map. */
  selectOffset(offset: number, kinds: FieldKind[] = []) {
    const n = this.model?.fieldAt(offset, kinds);
    if (n) this.select(n, { scroll: true });
  }

  get selectedPath(): string | null {
    return this.selected?.path ?? null;
  }

  focusTree() {
    this.tree.focus();
  }

  // ---- tree ------------------------------------------------------------------------------------

  /**
   * Renders a node's children, CHUNK at a time: a section of thousands of records gets a "show
   * more" row instead of thousands of rows at once. Selecting a field not rendered yet renders
   * up to it.
   */
  private renderChildren(parent: FNode | null, into: HTMLElement, upTo = 0) {
    const list = parent ? parent.children : this.model!.roots;
    const key = parent ? parent.id : -1;
    if (parent) this.rendered.add(parent.id);
    const done = this.shown.get(key) ?? 0;
    const want = Math.min(list.length, Math.max(done + CHUNK, upTo + 1));
    if (want <= done) return;
    into.querySelector(":scope > .more")?.remove();
    const frag = document.createDocumentFragment();
    for (let i = done; i < want; i++) frag.append(this.renderNode(list[i]));
    if (want < list.length) {
      const rest = list.length - want;
      frag.append(
        h(
          "div.more",
          null,
          h(
            "button.link",
            { type: "button", onclick: () => this.renderChildren(parent, into, Math.min(list.length, want + CHUNK) - 1) },
            `show ${Math.min(rest, CHUNK)} more of ${rest} remaining`,
          ),
          " ",
          h("button.link", { type: "button", onclick: () => this.renderChildren(parent, into, list.length - 1) }, "show all"),
        ),
      );
    }
    this.shown.set(key, want);
    into.append(frag);
  }

  /** Makes sure the row of `n` exists (its parent's chunk containing it is rendered). */
  private ensureRow(n: FNode) {
    if (this.rows.has(n.id) || !n.parent) return;
    const group = this.groupOf(n.parent);
    if (group) this.renderChildren(n.parent, group, n.parent.children.indexOf(n));
  }

  private renderNode(n: FNode): HTMLElement {
    const has = n.children.length > 0;
    const open = this.expanded.has(n.id);
    const row = h(
      "div.row",
      {
        id: `f${n.id}`,
        role: "treeitem",
        "aria-level": n.depth + 1,
        "aria-expanded": has ? String(open) : null,
        "aria-selected": "false",
        "data-id": n.id,
        "data-label": n.f.label,
        "data-offset": n.f.offset,
        "data-len": n.f.len,
        style: `--depth:${n.depth}`,
        class: `row ${SECTION_CLASS[sectionCode(n)]}`,
      },
      h("span.tw", { "aria-hidden": "true" }, has ? "" : null),
      h("span.lbl", null, n.f.label),
      h("span.val", null, n.f.value.replace(/\t/g, "  ")),
      h("span.at", null, `${n.f.offset}+${n.f.len}`),
    );
    this.rows.set(n.id, row);
    const wrap = h("div.node", null, row);
    if (has) {
      const group = h("div.group", { role: "group" });
      if (open) this.renderChildren(n, group);
      else group.hidden = true;
      wrap.append(group);
    }
    return wrap;
  }

  private groupOf(n: FNode): HTMLElement | null {
    const row = this.rows.get(n.id);
    return (row?.nextElementSibling as HTMLElement | null) ?? null;
  }

  private setExpanded(n: FNode, open: boolean) {
    if (!n.children.length) return;
    const row = this.rows.get(n.id);
    const group = this.groupOf(n);
    if (!row || !group) return;
    if (open) {
      this.expanded.add(n.id);
      if (!this.rendered.has(n.id)) this.renderChildren(n, group);
      group.hidden = false;
    } else {
      this.expanded.delete(n.id);
      group.hidden = true;
    }
    row.setAttribute("aria-expanded", String(open));
  }

  private reveal(n: FNode) {
    for (const a of this.model!.ancestors(n)) {
      this.ensureRow(a);
      this.setExpanded(a, true);
    }
    this.ensureRow(n);
  }

  /** The row standing for `n`: its own, or its nearest expanded-and-visible ancestor's. */
  private visibleRow(n: FNode | null): HTMLElement | null {
    for (let p = n; p; p = p.parent) {
      const ancestorsOpen = this.model!.ancestors(p).every((a) => this.expanded.has(a.id));
      if (ancestorsOpen && this.rows.has(p.id)) return this.rows.get(p.id)!;
    }
    return null;
  }

  private visibleList(): FNode[] {
    const out: FNode[] = [];
    const walk = (list: FNode[]) => {
      for (const n of list) {
        out.push(n);
        if (this.expanded.has(n.id)) walk(n.children);
      }
    };
    walk(this.model?.roots ?? []);
    return out;
  }

  private nodeFromEvent(e: Event): FNode | null {
    const row = (e.target as HTMLElement).closest?.(".row") as HTMLElement | null;
    if (!row || !this.model) return null;
    return this.model.nodes[Number(row.dataset.id)] ?? null;
  }

  private treeClick(e: MouseEvent) {
    const n = this.nodeFromEvent(e);
    if (!n) return;
    if ((e.target as HTMLElement).classList.contains("tw") || this.selected === n) {
      this.setExpanded(n, !this.expanded.has(n.id));
    }
    this.select(n, { hexOnly: true });
  }

  private treeHover(e: MouseEvent) {
    const n = this.nodeFromEvent(e);
    if (n) this.hover(n);
  }

  private treeKey(e: KeyboardEvent) {
    if (!this.model || !this.selected) return;
    const cur = this.selected;
    const vis = this.visibleList();
    const i = vis.indexOf(cur);
    let next: FNode | null = null;
    switch (e.key) {
      case "ArrowDown":
        next = vis[Math.min(vis.length - 1, i + 1)];
        break;
      case "ArrowUp":
        next = vis[Math.max(0, i - 1)];
        break;
      case "Home":
        next = vis[0];
        break;
      case "End":
        next = vis[vis.length - 1];
        break;
      case "ArrowRight":
        if (cur.children.length && !this.expanded.has(cur.id)) this.setExpanded(cur, true);
        else next = cur.children[0] ?? null;
        break;
      case "ArrowLeft":
        if (cur.children.length && this.expanded.has(cur.id)) this.setExpanded(cur, false);
        else next = cur.parent;
        break;
      case "Enter":
      case " ":
        this.setExpanded(cur, !this.expanded.has(cur.id));
        break;
      default:
        return;
    }
    e.preventDefault();
    if (next) this.select(next, { scroll: true });
  }

  // ---- selection and hover -----------------------------------------------------------------------

  /** `scroll`: bring the row and the bytes into view; `hexOnly`: only the bytes (a click in the tree). */
  select(n: FNode | null, opts: { scroll?: boolean; hexOnly?: boolean; notify?: boolean } = {}) {
    if (!this.model) return;
    if (this.selected) this.rows.get(this.selected.id)?.setAttribute("aria-selected", "false");
    this.selected = n;
    if (n) {
      this.reveal(n);
      const row = this.rows.get(n.id)!;
      row.setAttribute("aria-selected", "true");
      this.tree.setAttribute("aria-activedescendant", row.id);
      if (opts.scroll !== false && !opts.hexOnly) row.scrollIntoView({ block: "nearest" });
      if (opts.scroll !== false || opts.hexOnly) this.scrollHexTo(n.f.offset, n.f.len);
    } else {
      this.tree.removeAttribute("aria-activedescendant");
    }
    this.renderDetail();
    this.renderHex();
    if (opts.notify !== false) this.onSelect(n?.path ?? null);
  }

  private hover(n: FNode | null) {
    if (n === this.hovered) return;
    if (this.hovered) this.visibleRow(this.hovered)?.classList.remove("hover");
    this.hovered = n;
    if (n) this.visibleRow(n)?.classList.add("hover");
    this.renderHex();
  }

  private renderDetail() {
    const n = this.selected;
    const m = this.model!;
    if (!n) {
      fill(this.detail);
      return;
    }
    const bytes = m.bytes.subarray(n.f.offset, n.f.offset + n.f.len);
    const shown = bytes.length > 48 ? hexOf(bytes.subarray(0, 48), " ") + " \u2026" : hexOf(bytes, " ");
    const crumbs = [...m.ancestors(n), n].map((a) => a.f.label);
    fill(
      this.detail,
      h("div.crumbs", null, crumbs.join(" \u203a ")),
      h("div.what", null, h("strong", null, n.f.label), " ", h("span", null, n.f.value.replace(/\t/g, "  "))),
      h(
        "div.where",
        null,
        `offset ${off(n.f.offset)}, ${plural(n.f.len, "byte")}`,
        n.section !== "xx" ? ` \u00b7 ${SECTION_NAMES[n.section]}` : "",
        h("code", null, shown),
      ),
    );
  }

  // ---- hex ---------------------------------------------------------------------------------------

  private layoutHex() {
    const n = this.model?.bytes.length ?? 0;
    const rows = Math.ceil(n / this.perRow);
    this.hexSpacer.style.height = `${rows * ROW_H}px`;
    this.hex.classList.toggle("narrow", this.perRow === 8);
    this.renderHex();
  }

  private scheduleHex() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.renderHex();
    });
  }

  private scrollHexTo(offset: number, len: number) {
    const top = Math.floor(offset / this.perRow) * ROW_H;
    const bottom = (Math.floor((offset + Math.max(len, 1) - 1) / this.perRow) + 1) * ROW_H;
    const view = this.hex;
    if (top < view.scrollTop || bottom > view.scrollTop + view.clientHeight) {
      view.scrollTop = Math.max(0, top - view.clientHeight / 3);
    }
  }

  /** Renders only the rows in view (a 64 KiB message has 4096 rows). */
  private renderHex() {
    const m = this.model;
    if (!m) {
      this.hexRows.innerHTML = "";
      return;
    }
    const per = this.perRow;
    const total = Math.ceil(m.bytes.length / per);
    const height = this.hex.clientHeight || 480;
    const first = Math.max(0, Math.floor(this.hex.scrollTop / ROW_H) - 8);
    const last = Math.min(total, first + Math.ceil(height / ROW_H) + 16);
    const sel = this.selected ? [this.selected.f.offset, this.selected.f.offset + this.selected.f.len] : [-1, -1];
    const hov = this.hovered ? [this.hovered.f.offset, this.hovered.f.offset + this.hovered.f.len] : [-1, -1];
    let html = "";
    for (let r = first; r < last; r++) {
      const start = r * per;
      let hexPart = "";
      let ascii = "";
      for (let i = start; i < Math.min(start + per, m.bytes.length); i++) {
        const b = m.bytes[i];
        let cls = SECTION_CLASS[m.section[i]];
        const mk = m.marks[i];
        if (mk & 1) cls += " m-ptr";
        if (mk & 2) cls += " m-missed";
        if (mk & 4) cls += " m-err";
        if (i >= sel[0] && i < sel[1]) cls += " sel";
        if (i >= hov[0] && i < hov[1]) cls += " hov";
        const gap = i % 8 === 0 && i !== start ? " gap" : "";
        hexPart += `<span class="b${gap} ${cls}" data-o="${i}">${b.toString(16).padStart(2, "0")}</span>`;
        const ch = b >= 0x21 && b < 0x7f ? esc(String.fromCharCode(b)) : "\u00b7";
        ascii += `<span class="c ${cls}" data-o="${i}">${ch}</span>`;
      }
      html += `<div class="hr" style="top:${r * ROW_H}px"><span class="ho">${start.toString(16).padStart(4, "0")}</span><span class="hb">${hexPart}</span><span class="ha">${ascii}</span></div>`;
    }
    this.hexRows.innerHTML = html;
  }

  private byteFromEvent(e: Event): number | null {
    const o = (e.target as HTMLElement).dataset?.o;
    return o === undefined ? null : Number(o);
  }

  private hexHover(e: MouseEvent) {
    const o = this.byteFromEvent(e);
    if (o === null || !this.model) return;
    this.hover(this.model.at(o));
  }

  private hexClick(e: MouseEvent) {
    const o = this.byteFromEvent(e);
    if (o === null || !this.model) return;
    const n = this.model.at(o);
    if (n) this.select(n, { scroll: true });
    this.hex.focus({ preventScroll: true });
  }

  private hexKey(e: KeyboardEvent) {
    const m = this.model;
    if (!m || !this.selected) return;
    const cur = this.selected;
    let target: FNode | null = null;
    const leafAt = (o: number) => (o >= 0 && o < m.bytes.length ? m.at(o) : null);
    switch (e.key) {
      case "ArrowRight":
        for (let o = cur.f.offset + cur.f.len; o < m.bytes.length && !target; o++) target = leafAt(o);
        break;
      case "ArrowLeft":
        for (let o = cur.f.offset - 1; o >= 0 && !target; o--) target = leafAt(o);
        break;
      case "ArrowDown":
        target = leafAt(Math.min(m.bytes.length - 1, cur.f.offset + this.perRow));
        break;
      case "ArrowUp":
        target = leafAt(Math.max(0, cur.f.offset - this.perRow));
        break;
      default:
        return;
    }
    e.preventDefault();
    if (target) this.select(target, { scroll: true });
  }
}

function sectionCode(n: FNode): number {
  return { hdr: 1, qd: 2, an: 3, ns: 4, ar: 5, xx: 6 }[n.section];
}
