// The paste box: a textarea over a mirror that can mark one character, so a paste error shows
// where it is (line and column), plus the line with a caret under the spot.
import { fill, h } from "./dom";

export interface PasteError {
  line: number;
  column: number;
  message: string;
}

/** Reads "line 3, column 7: expected a hex digit, found 'z'" (the package's paste errors). */
export function parsePasteError(e: { message: string; line?: unknown; column?: unknown }): PasteError | null {
  const m = /line (\d+), column (\d+):?\s*(.*)$/s.exec(e.message);
  const line = typeof e.line === "number" ? e.line : m ? Number(m[1]) : null;
  const column = typeof e.column === "number" ? e.column : m ? Number(m[2]) : null;
  if (line === null || column === null) return null;
  return { line, column, message: m?.[3] || e.message };
}

export class PasteBox {
  readonly el: HTMLElement;
  readonly textarea: HTMLTextAreaElement;
  private mirror: HTMLElement;
  private mark: PasteError | null = null;
  onInput: (text: string) => void = () => {};

  constructor() {
    this.textarea = h("textarea#paste", {
      spellcheck: "false",
      autocomplete: "off",
      autocapitalize: "off",
      wrap: "off",
      "aria-label": "DNS message: hex, tcpdump -X/-xx, xxd, od, Wireshark, base64 or a DoH URL",
      "aria-describedby": "input-status",
      placeholder: [
        "Paste a DNS message, as",
        "  tcpdump -X or -xx, xxd, od -x,",
        "  a Wireshark hex dump or hex stream,",
        "  plain hex, base64, or a DoH ?dns= URL.",
        "Link, IP, UDP and TCP headers are found and stripped.",
      ].join("\n"),
    });
    this.mirror = h("div.mirror", { "aria-hidden": "true" });
    this.textarea.addEventListener("input", () => {
      this.setMark(null);
      this.onInput(this.textarea.value);
    });
    this.textarea.addEventListener("scroll", () => this.syncScroll());
    this.el = h("div.pastebox", null, this.mirror, this.textarea);
  }

  get value(): string {
    return this.textarea.value;
  }

  set value(v: string) {
    this.textarea.value = v;
    this.setMark(null);
  }

  /** Marks the character at (line, column), both 1-based, or clears the mark. */
  setMark(err: PasteError | null) {
    this.mark = err;
    this.el.classList.toggle("has-error", !!err);
    if (!err) {
      fill(this.mirror);
      return;
    }
    const text = this.textarea.value;
    const lines = text.split("\n");
    const li = Math.min(Math.max(err.line, 1), lines.length) - 1;
    let before = lines.slice(0, li).join("\n") + (li > 0 ? "\n" : "");
    const line = lines[li] ?? "";
    // Columns count characters (code points), as the core reports them.
    const chars = Array.from(line);
    const ci = Math.min(Math.max(err.column, 1), chars.length + 1) - 1;
    before += chars.slice(0, ci).join("");
    const ch = chars[ci] ?? " ";
    const after = chars.slice(ci + 1).join("") + "\n" + lines.slice(li + 1).join("\n");
    fill(
      this.mirror,
      before,
      h("mark.spot", { "data-line": err.line, "data-column": err.column }, ch === "\t" ? "\t" : ch),
      after,
    );
    this.syncScroll();
  }

  /** Puts the caret on the error's spot and scrolls it into view. */
  reveal() {
    const err = this.mark;
    if (!err) return;
    const lines = this.textarea.value.split("\n");
    let pos = 0;
    for (let i = 0; i < err.line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    const line = lines[err.line - 1] ?? "";
    const units = Array.from(line).slice(0, err.column - 1).join("").length;
    pos += units;
    this.textarea.focus({ preventScroll: true });
    this.textarea.setSelectionRange(pos, pos + 1);
    const spot = this.mirror.querySelector("mark");
    if (spot) {
      const ta = this.textarea;
      const m = spot as HTMLElement;
      if (m.offsetTop < ta.scrollTop || m.offsetTop + m.offsetHeight > ta.scrollTop + ta.clientHeight) {
        ta.scrollTop = Math.max(0, m.offsetTop - ta.clientHeight / 2);
      }
      if (m.offsetLeft < ta.scrollLeft || m.offsetLeft > ta.scrollLeft + ta.clientWidth - 20) {
        ta.scrollLeft = Math.max(0, m.offsetLeft - ta.clientWidth / 2);
      }
    }
    this.syncScroll();
  }

  /** The offending line with a caret under the column, for the error message. */
  excerpt(err: PasteError): string {
    const line = this.textarea.value.split("\n")[err.line - 1] ?? "";
    const chars = Array.from(line.replace(/\t/g, " "));
    const from = Math.max(0, err.column - 40);
    const shown = chars.slice(from, from + 72).join("");
    const prefix = `${err.line} | `;
    return `${prefix}${from > 0 ? "\u2026" : ""}${shown}\n${" ".repeat(prefix.length + (from > 0 ? 1 : 0) + err.column - 1 - from)}^`;
  }

  private syncScroll() {
    this.mirror.scrollTop = this.textarea.scrollTop;
    this.mirror.scrollLeft = this.textarea.scrollLeft;
  }
}
