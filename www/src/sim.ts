// The forwarder simulator: a form that builds a scenario (core/src/sim: the client, the upstreams'
// behaviour, the policy knobs), runs it with simulate() in the worker, and shows the engine's
// decisions as a timeline and what each client query finally got.
import { bytesText, fill, h, plural } from "./dom";
import { NotAvailable, type Engine } from "./engine";
import type { Model } from "./model";
import type { Behaviour, ClientAnswer, EngineEvent, Scenario, Section, SimResult, UpstreamPolicy } from "dnspect";

export type Behav = "paste" | "timeout" | "servfail" | "tc" | "garbage" | "flapping" | "nxdomain" | "refused" | "none";

export interface SimSettings {
  edns: boolean;
  buf: number;
  tcp: boolean;
  retry: boolean;
  name: string;
  type: string;
  up1: Behav;
  up2: Behav;
  policy: UpstreamPolicy;
  maxUdp: number;
  upUdp: number;
  forceTcp: boolean;
  negTtl: number;
  stale: boolean;
  prefetch: boolean;
  repeat: number;
  every: number;
}

export const SIM_DEFAULTS: SimSettings = {
  edns: true,
  buf: 1232,
  tcp: false,
  retry: true,
  name: "",
  type: "",
  up1: "paste",
  up2: "none",
  policy: "sequential",
  maxUdp: 1232,
  upUdp: 1232,
  forceTcp: false,
  negTtl: 300,
  stale: true,
  prefetch: true,
  repeat: 1,
  every: 30,
};

const BEHAVIOURS: [Behav, string][] = [
  ["paste", "answers with the pasted packet"],
  ["timeout", "times out (never answers)"],
  ["servfail", "answers SERVFAIL"],
  ["tc", "answers TC=1 over UDP (full answer over TCP)"],
  ["garbage", "answers garbage bytes"],
  ["flapping", "flaps: the answer, then NODATA, in turn"],
  ["nxdomain", "answers NXDOMAIN"],
  ["refused", "answers REFUSED"],
];

const EXPLAIN: Record<Behav, string> = {
  paste: "answers every query with the pasted bytes (its ID set to the query's, as a real server would)",
  timeout: "never answers",
  servfail: "answers SERVFAIL",
  tc: "answers over UDP with TC=1 and no records, and in full over TCP",
  garbage: "answers 60 bytes that do not decode",
  flapping: "alternates: the answer (the pasted one when it has records), then NODATA with a SOA, and so on",
  nxdomain: "answers NXDOMAIN with a SOA",
  refused: "answers REFUSED",
  none: "does not exist",
};

export class SimView {
  readonly el = h("div.sim");
  private form: HTMLFormElement;
  private out = h("div.simout", { "aria-live": "polite" });
  private model: Model | null = null;
  private settings: SimSettings = { ...SIM_DEFAULTS };
  private seq = 0;
  /** Called when the settings change (for the permalink). */
  onChange: (s: SimSettings) => void = () => {};
  onLoad: (hex: string) => void = () => {};

  constructor(private engine: Engine) {
    this.form = h("form.simform", { onsubmit: (e: Event) => (e.preventDefault(), this.run()) }) as HTMLFormElement;
    this.buildForm();
    fill(this.el, this.form, this.out);
  }

  get value(): SimSettings {
    return { ...this.settings };
  }

  set value(s: SimSettings) {
    this.settings = { ...SIM_DEFAULTS, ...s };
    this.writeForm();
  }

  show(m: Model | null) {
    this.model = m;
    const q = m?.a.message?.questions[0];
    const nameInput = this.form.elements.namedItem("name") as HTMLInputElement;
    const typeInput = this.form.elements.namedItem("type") as HTMLInputElement;
    nameInput.placeholder = q?.name ?? "www.example.";
    typeInput.placeholder = q?.type ?? "A";
    fill(this.out, h("p.muted", null, "Press Run to simulate."));
  }

  private field(label: string, control: HTMLElement, hint?: string, stacked = false): HTMLElement {
    return h(`label.f`, { class: `f${stacked ? " stack" : ""}` }, h("span.l", null, label), control, hint ? h("span.hint", null, hint) : null);
  }

  private buildForm() {
    const num = (name: string, min: number, max: number) =>
      h("input", { name, type: "number", min, max, step: 1, inputmode: "numeric" });
    const check = (name: string) => h("input", { name, type: "checkbox" });
    const select = (name: string, opts: [string, string][]) =>
      h("select", { name }, opts.map(([v, t]) => h("option", { value: v }, t)));
    fill(
      this.form,
      h(
        "div.simgrid",
        null,
      h(
        "fieldset",
        null,
        h("legend", null, "Client"),
        this.field("EDNS", check("edns"), "off: like dig +noedns, 512-byte UDP answers"),
        this.field("EDNS buffer size", num("buf", 512, 65535)),
        this.field("over TCP", check("tcp")),
        this.field("retry over TCP on TC", check("retry")),
        this.field("name", h("input", { name: "name", type: "text", spellcheck: "false", autocapitalize: "off" }), "default: the pasted question"),
        this.field("type", h("input", { name: "type", type: "text", spellcheck: "false", autocapitalize: "off", size: 8 })),
        this.field("queries", num("repeat", 1, 50), "how many times the client asks"),
        this.field("seconds between queries", num("every", 1, 86400)),
      ),
      h(
        "fieldset",
        null,
        h("legend", null, "Upstreams"),
        this.field("upstream 1 (10.0.0.1)", select("up1", BEHAVIOURS), undefined, true),
        this.field("upstream 2 (10.0.0.2)", select("up2", [["none", "none"], ...BEHAVIOURS]), undefined, true),
        h("p.behaviour-help.muted"),
      ),
      h(
        "fieldset",
        null,
        h("legend", null, "Forwarder policy"),
        this.field(
          "upstream choice",
          select("policy", [
            ["sequential", "sequential (in order)"],
            ["round_robin", "round robin"],
            ["random", "random"],
            ["fastest", "fastest"],
          ]),
        ),
        this.field("max UDP answer to clients", num("maxUdp", 512, 65535)),
        this.field("EDNS size sent upstream", num("upUdp", 512, 65535)),
        this.field("force TCP upstream", check("forceTcp")),
        this.field("negative TTL cap (s)", num("negTtl", 0, 86400), "0: no negative caching"),
        this.field("serve stale (RFC 8767)", check("stale")),
        this.field("prefetch", check("prefetch")),
      ),
      ),
      h("div.simactions", null, h("button.primary#sim-run", { type: "submit" }, "Run simulation"), h("span.simnote.muted")),
    );
    this.writeForm();
    this.form.addEventListener("change", (e) => {
      this.readForm();
      // Flapping shows only over time: ask again each time the positive answer has expired.
      const t = e.target as HTMLSelectElement;
      if ((t.name === "up1" || t.name === "up2") && t.value === "flapping" && this.settings.repeat === 1) {
        this.settings.repeat = 6;
        this.settings.every = this.positiveTtl() + 1;
        this.writeForm();
      }
      this.onChange(this.value);
      this.run();
    });
  }

  private writeForm() {
    const s = this.settings;
    for (const [k, v] of Object.entries(s)) {
      const el = this.form.elements.namedItem(k) as HTMLInputElement | HTMLSelectElement | null;
      if (!el) continue;
      if (el instanceof HTMLInputElement && el.type === "checkbox") el.checked = !!v;
      else el.value = String(v);
    }
    (this.form.elements.namedItem("buf") as HTMLInputElement).disabled = !s.edns;
    this.explain();
  }

  /** Says what the chosen upstream behaviours do. */
  private explain() {
    const s = this.settings;
    const help = this.form.querySelector(".behaviour-help");
    if (!help) return;
    const lines = [`Upstream 1 ${EXPLAIN[s.up1]}.`];
    if (s.up2 !== "none") lines.push(`Upstream 2 ${EXPLAIN[s.up2]}.`);
    lines.push("Its answers arrive 1 ms after each query; an attempt times out after 1.5 s, a query after 4 s.");
    fill(help, lines.join(" "));
  }

  private readForm() {
    const s = { ...this.settings } as Record<string, unknown>;
    for (const k of Object.keys(SIM_DEFAULTS)) {
      const el = this.form.elements.namedItem(k) as HTMLInputElement | HTMLSelectElement | null;
      if (!el) continue;
      const d = (SIM_DEFAULTS as unknown as Record<string, unknown>)[k];
      if (el instanceof HTMLInputElement && el.type === "checkbox") s[k] = el.checked;
      else if (typeof d === "number") {
        const v = Number(el.value);
        s[k] = Number.isFinite(v) && el.value !== "" ? v : d;
      } else s[k] = el.value.trim();
    }
    this.settings = s as unknown as SimSettings;
    (this.form.elements.namedItem("buf") as HTMLInputElement).disabled = !this.settings.edns;
    this.explain();
  }

  /** The TTL of a flapping upstream's positive answer: the paste's smallest, or 30 s when made up. */
  private positiveTtl(): number {
    const ttls = (this.model?.a.message?.answers ?? []).map((r) => r.ttl);
    return ttls.length ? Math.max(1, Math.min(...ttls)) : 30;
  }

  /** The scenario the form describes, for simulate(). */
  scenario(): Scenario {
    const s = this.settings;
    const a = this.model?.a;
    const q = a?.message?.questions[0];
    const name = s.name || q?.name || "www.example.";
    const type = s.type || q?.type || "A";
    const records = (section: Section) => {
      const sec = a?.fields.find((f) => f.kind === "section" && f.section === section);
      return (sec?.children ?? []).map((r) => r.value).filter((v) => !/\tOPT\t/.test(v));
    };
    const usable = !!a && !a.error && !!a.message && a.message.header.qr;
    const ttl = this.positiveTtl();
    const zone = parentOf(name);
    const soa = `${zone} 300 IN SOA ns1.${zone === "." ? "" : zone} hostmaster.${zone === "." ? "" : zone} 1 3600 600 604800 300`;
    const positive = (): Behaviour =>
      usable && (a!.message!.answers.length > 0)
        ? { kind: "hex", hex: a!.hex.slice(0, a!.sizes.size * 2) }
        : { kind: "", answer: [`${name} ${ttl} IN ${type === "AAAA" ? "AAAA 2001:db8::1" : "A 192.0.2.1"}`] };
    const rule = (b: Behav): Scenario["upstreams"][number]["rules"][number] => {
      switch (b) {
        case "paste":
          return { respond: [usable ? { kind: "hex", hex: a!.hex.slice(0, a!.sizes.size * 2) } : positive()], cycle: false };
        case "timeout":
          return { respond: [{ kind: "silence" }], cycle: false };
        case "servfail":
          return { respond: [{ kind: "servfail" }], cycle: false };
        case "refused":
          return { respond: [{ kind: "refused" }], cycle: false };
        case "nxdomain":
          return { respond: [{ kind: "nxdomain", authority: [soa] }], cycle: false };
        case "garbage":
          return { respond: [{ kind: "garbage", garbage_len: 60 }], cycle: false };
        case "tc": {
          const answer = usable ? records("answer") : positive().answer ?? [];
          const authority = usable ? records("authority") : [];
          return { respond: [{ kind: "", tc_over_udp: true, answer, authority }], cycle: false };
        }
        case "flapping":
          return { respond: [positive(), { kind: "", answer: [], authority: [soa] }], cycle: true };
        default:
          return { respond: [{ kind: "silence" }], cycle: false };
      }
    };
    const upstreams: Scenario["upstreams"] = [{ label: "10.0.0.1", force_tcp: s.forceTcp, rules: [rule(s.up1)] }];
    if (s.up2 !== "none") upstreams.push({ label: "10.0.0.2", force_tcp: s.forceTcp, rules: [rule(s.up2)] });
    const repeat = Math.max(1, Math.min(50, Math.floor(s.repeat)));
    const queries: Scenario["queries"] = [];
    for (let i = 0; i < repeat; i++) {
      const q0: Scenario["queries"][number] = {
        at_ms: Math.round(i * s.every * 1000),
        name,
        type,
        tcp: s.tcp,
        retry_tcp_on_tc: s.retry,
      };
      if (s.edns) q0.edns = s.buf;
      queries.push(q0);
    }
    return {
      title: `${name} ${type} from a client ${s.edns ? `with EDNS ${s.buf}` : "without EDNS"} over ${s.tcp ? "TCP" : "UDP"}`,
      config: {
        policy: s.policy,
        max_udp_payload: s.maxUdp,
        upstream_udp_payload: s.upUdp,
        cache: {
          max_negative_ttl: s.negTtl,
          serve_stale: s.stale,
          prefetch: s.prefetch,
        },
      },
      upstreams,
      queries,
    };
  }

  async run() {
    const seq = ++this.seq;
    this.readForm();
    const scenario = this.scenario();
    const note = this.form.querySelector(".simnote") as HTMLElement;
    note.textContent = "running\u2026";
    try {
      const t0 = performance.now();
      const r = await this.engine.simulate(JSON.parse(JSON.stringify(scenario)) as Scenario);
      if (seq !== this.seq) return;
      note.textContent = `${r.trace.length} steps in ${(performance.now() - t0).toFixed(0)} ms`;
      this.render(scenario, r);
    } catch (e) {
      if (seq !== this.seq) return;
      note.textContent = "";
      if (e instanceof NotAvailable) {
        fill(this.out, h("p.na", { "data-na": "simulate" }, "Not available: this build of the dnspect package has no simulate() yet."));
      } else {
        fill(this.out, h("p.bad", null, `The simulation could not run: ${(e as Error).message}`));
      }
    }
  }

  private render(scenario: Scenario, r: SimResult) {
    // Engine lines in the trace are the events, in order: pair them to label each decision.
    const events: EngineEvent[] = r.events ?? [];
    let ei = 0;
    const rows: HTMLElement[] = [];
    let lastAt = -1;
    for (const t of r.trace) {
      let kind: string = t.actor;
      if (t.actor === "engine" && ei < events.length) kind = events[ei++].event;
      if (lastAt >= 0 && t.at_ms - lastAt >= 1000) rows.push(h("li.gap", { "aria-hidden": "true" }, `\u22ee ${fmtGap(t.at_ms - lastAt)} later`));
      lastAt = t.at_ms;
      rows.push(
        h(
          "li",
          { class: `ev a-${t.actor} e-${kind}`, "data-actor": t.actor, "data-event": kind },
          h("time", null, fmtMs(t.at_ms)),
          h("span.who", null, t.actor === "engine" ? kind.replace(/_/g, " ") : t.actor),
          h("span.txt", null, t.text),
        ),
      );
    }
    const finals = new Map<number, ClientAnswer>();
    for (const a of r.answers) finals.set(a.query, a);
    const answerCards = scenario.queries.map((q, i) => {
      const a = finals.get(i);
      if (!a) {
        return h("article.final.bad", { "data-query": i }, h("h4", null, `#${i + 1} at ${fmtMs(q.at_ms)}`), h("p", null, "no answer"));
      }
      const tone = a.rcode === "SERVFAIL" || a.rcode === "undecodable" ? "bad" : a.rcode === "NOERROR" && a.answers.length ? "ok" : "warn";
      return h(
        "article",
        {
          class: `final ${tone}`,
          "data-query": i,
          "data-rcode": a.rcode,
          "data-answers": a.answers.length,
          "data-size": a.size,
          "data-tc": String(a.tc),
        },
        h("h4", null, `#${i + 1} asked at ${fmtMs(q.at_ms)}, answered at ${fmtMs(a.at_ms)}`),
        h(
          "p.verdict",
          null,
          h("strong", null, a.rcode),
          `${a.tc ? " TC" : ""} \u00b7 ${plural(a.answers.length, "answer record")} \u00b7 ${bytesText(a.size)} over ${a.transport}`,
          a.ede ? ` \u00b7 EDE ${a.ede[0]}${a.ede[1] ? ` (${a.ede[1]})` : ""}` : "",
        ),
        a.answers.length
          ? h(
              "details",
              { open: a.answers.length <= 6 ? true : null },
              h("summary", null, "records"),
              h("pre.records", null, a.answers.map((x) => x.replace(/\t/g, "  ")).join("\n")),
            )
          : null,
        h("button.small", { type: "button", onclick: () => this.onLoad(a.hex) }, "Analyze this answer"),
      );
    });
    const last = r.answers[r.answers.length - 1];
    fill(
      this.out,
      h(
        "div.simsum",
        null,
        h("span", null, plural(r.upstream_queries, "upstream query", "upstream queries")),
        last
          ? h("span", { class: `finalline ${last.rcode === "SERVFAIL" ? "bad" : "ok"}`, "data-final": "1" }, `the client finally got ${last.rcode}${last.tc ? " TC" : ""}, ${plural(last.answers.length, "record")}, ${bytesText(last.size)} over ${last.transport}`)
          : h("span.bad", null, "the client got no answer"),
      ),
      h("h3", null, "What each query finally got"),
      h("div.finals", null, answerCards),
      h("h3", null, "Timeline"),
      h("ol.timeline", { "aria-label": "the engine's decisions" }, rows),
    );
  }
}

function parentOf(name: string): string {
  const n = name.endsWith(".") ? name : name + ".";
  const labels = n.split(".").filter(Boolean);
  if (labels.length <= 1) return ".";
  return labels.slice(1).join(".") + ".";
}

export function fmtMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(s % 1 ? 3 : 0)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${(s - m * 60).toFixed(0)} s`;
}

function fmtGap(ms: number): string {
  return ms < 60000 ? `${(ms / 1000).toFixed(1)} s` : fmtMs(ms);
}
