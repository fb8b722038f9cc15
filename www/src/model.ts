// The analysis turned into what the views need: the field tree as linked nodes, which field owns
// each byte, each byte's section, and the byte ranges of pointers and names written in full.
import type { Analysis, Field, FieldKind } from "dnspect";
import { bytesOf } from "./dom";

export interface FNode {
  id: number;
  f: Field;
  parent: FNode | null;
  depth: number;
  children: FNode[];
  /** Index path in the field tree, "2.13.0": stable for a given paste (permalinks keep it). */
  path: string;
  section: Section;
}

export type Section = "hdr" | "qd" | "an" | "ns" | "ar" | "xx";

/** The page's short name for the part of the message a field sits in (from its typed kind and section). */
export function sectionOf(f: Field): Section {
  if (f.kind === "header") return "hdr";
  switch (f.section) {
    case "question":
      return "qd";
    case "answer":
      return "an";
    case "authority":
      return "ns";
    case "additional":
      return "ar";
    default:
      return "xx";
  }
}

export const SECTION_NAMES: Record<Section, string> = {
  hdr: "header",
  qd: "question",
  an: "answer",
  ns: "authority",
  ar: "additional",
  xx: "other",
};

export class Model {
  readonly bytes: Uint8Array;
  readonly nodes: FNode[] = [];
  readonly roots: FNode[] = [];
  /** Deepest field that alone covers the byte (fields sharing a byte, like flags, yield to their parent). */
  readonly owner: Int32Array;
  readonly section: Uint8Array;
  /** 1: compression pointer, 2: name written in full that could have been a pointer, 4: decode error. */
  readonly marks: Uint8Array;
  readonly byPath = new Map<string, FNode>();

  constructor(readonly a: Analysis) {
    this.bytes = bytesOf(a.hex);
    const n = this.bytes.length;
    this.owner = new Int32Array(n).fill(-1);
    this.section = new Uint8Array(n);
    this.marks = new Uint8Array(n);
    a.fields.forEach((f, i) => this.roots.push(this.add(f, null, 0, String(i), sectionOf(f))));
    this.claim(this.roots);
    for (const p of a.compression.pointers) this.mark(p.offset, 2, 1);
    for (const m of a.compression.missed) this.mark(m.offset, m.written, 2);
    // From the error on; an error at the end (more bytes were needed) marks the last byte.
    if (a.error) this.mark(Math.min(a.error.offset, n - 1), Math.max(1, n - a.error.offset), 4);
  }

  private add(f: Field, parent: FNode | null, depth: number, path: string, section: Section): FNode {
    const node: FNode = { id: this.nodes.length, f, parent, depth, children: [], path, section };
    this.nodes.push(node);
    this.byPath.set(path, node);
    (f.children ?? []).forEach((c, i) => node.children.push(this.add(c, node, depth + 1, `${path}.${i}`, section)));
    return node;
  }

  private claim(list: FNode[]) {
    const codes: Record<Section, number> = { hdr: 1, qd: 2, an: 3, ns: 4, ar: 5, xx: 6 };
    const sorted = [...list].sort((x, y) => x.f.offset - y.f.offset);
    const shared = new Set<FNode>();
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1].f;
      if (sorted[i].f.offset < prev.offset + prev.len) {
        shared.add(sorted[i - 1]);
        shared.add(sorted[i]);
      }
    }
    for (const node of list) {
      if (shared.has(node)) continue;
      const end = Math.min(node.f.offset + node.f.len, this.owner.length);
      for (let b = Math.max(0, node.f.offset); b < end; b++) {
        this.owner[b] = node.id;
        if (node.depth === 0) this.section[b] = codes[node.section];
      }
      this.claim(node.children);
    }
  }

  private mark(offset: number, len: number, bit: number) {
    const end = Math.min(offset + len, this.marks.length);
    for (let b = Math.max(0, offset); b < end; b++) this.marks[b] |= bit;
  }

  /** The field that owns byte `offset`, or null (trailing bytes outside every field). */
  at(offset: number): FNode | null {
    const id = this.owner[offset];
    return id >= 0 ? this.nodes[id] : null;
  }

  /** The deepest field starting exactly at `offset` whose kind is one of `kinds` (any when empty), else the owner. */
  fieldAt(offset: number, kinds: FieldKind[] = []): FNode | null {
    let best: FNode | null = null;
    for (const n of this.nodes) {
      if (n.f.offset === offset && (!kinds.length || kinds.includes(n.f.kind))) {
        if (!best || n.depth > best.depth) best = n;
      }
    }
    return best ?? this.at(offset);
  }

  ancestors(n: FNode): FNode[] {
    const out: FNode[] = [];
    for (let p = n.parent; p; p = p.parent) out.unshift(p);
    return out;
  }
}
