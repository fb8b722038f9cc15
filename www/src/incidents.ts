// The incident gallery: the core's incident library (incidents() of the dnspect package, the same
// data as `dnspect incidents`), one card per incident, each opening in one click at its permalink
// "#incident/ID". An incident shows what happened, its packets (a click opens one in the byte
// view), the decision trace of dnspect's engine on the simulator (and, side by side, dnspect with
// the peer's policy where its settings can express it), the RFCs and the public thread. Everything
// comes from the wasm in this tab, so the permalinks work offline.
import "./incidents.css";
import { fill, h } from "./dom";
import type { Engine } from "./engine";
import type { IncidentRuns, SimResult } from "dnspect";

export const ROUTE = "incident";

/** "#incident" (the gallery) or "#incident/ID"; null for any other fragment. */
export function parseRoute(frag: string): { id: string | null } | null {
  if (frag === ROUTE || frag === `${ROUTE}s`) return { id: null };
  if (frag.startsWith(`${ROUTE}/`)) return { id: decodeURIComponent(frag.slice(ROUTE.length + 1)) };
  return null;
}

function threadLink(thread: string): Node {
  if (thread.startsWith("https://")) {
    return h("a.thread", { href: thread, target: "_blank", rel: "noopener noreferrer" }, thread.replace("https://github.com/", ""));
  }
  return h("span.thread", null, thread);
}

export class IncidentsView {
  readonly el = h("section#incidents.incidents", { "aria-label": "incidents", hidden: true });
  /** Whether the gallery is what the page shows (the analyzer's permalink is left alone then). */
  open = false;
  private loading: Promise<IncidentRuns[]> | null = null;

  /** `openPacket(name)` loads a built-in example into the analyzer (and closes the gallery). */
  constructor(
    private engine: Engine,
    private openPacket: (name: string) => void,
  ) {}

  private load(): Promise<IncidentRuns[]> {
    this.loading ??= this.engine.call<IncidentRuns[]>("incidents");
    return this.loading;
  }

  /** Shows the route if `frag` is one of ours; false otherwise (the gallery closes). */
  route(frag: string): boolean {
    const r = parseRoute(frag);
    if (!r) {
      this.close();
      return false;
    }
    this.open = true;
    this.el.hidden = false;
    document.body.dataset.view = "incidents";
    void this.render(r.id);
    return true;
  }

  close() {
    if (!this.open) return;
    this.open = false;
    this.el.hidden = true;
    delete document.body.dataset.view;
  }

  private async render(id: string | null) {
    document.body.dataset.incident = "loading";
    fill(this.el, h("p.muted", null, "Loading the incident library\u2026"));
    let list: IncidentRuns[];
    try {
      list = await this.load();
    } catch (e) {
      fill(this.el, h("p.err", { "data-na": "incidents" }, `The incident library is not available: ${(e as Error).message}`));
      document.body.dataset.incident = "error";
      return;
    }
    const nav = h(
      "nav.inc-nav",
      { "aria-label": "incidents" },
      h("a.inc-all", { href: `#${ROUTE}` }, "All incidents"),
      list.map((i) => h("a.inc-link", { href: `#${ROUTE}/${i.id}`, "data-incident": i.id, "aria-current": i.id === id ? "page" : null }, i.id)),
      h("a.inc-back", { href: "#" }, "Back to the analyzer"),
    );
    if (id === null) {
      fill(
        this.el,
        h("h2", null, "Incidents"),
        h("p.lede", null, "Eight public DNS incidents, each replayed against dnspect's engine: what the peer did, what dnspect does with the same upstream, the packets, the decision trace and the RFCs."),
        nav,
        h("div.inc-cards", null, list.map((i) => this.card(i))),
      );
      document.body.dataset.incident = "list";
      return;
    }
    const inc = list.find((i) => i.id === id);
    if (!inc) {
      fill(this.el, nav, h("p.err", null, `No incident ${JSON.stringify(id)}. Known: ${list.map((i) => i.id).join(", ")}.`));
      document.body.dataset.incident = "missing";
      return;
    }
    const runs = h("div.inc-runs", null, h("p.muted", null, "Running the scenario\u2026"));
    fill(this.el, nav, this.detail(inc, runs));
    document.title = `dnspect \u00b7 incident ${inc.id}`;
    await this.runs(inc, runs);
    document.body.dataset.incident = inc.id;
  }

  private card(i: IncidentRuns): HTMLElement {
    return h(
      "a.inc-card",
      { href: `#${ROUTE}/${i.id}`, "data-incident": i.id },
      h("span.inc-id", null, i.id),
      h("strong", null, i.title),
      h("span.inc-peer", null, h("b", null, "Peer: "), i.peer_behaviour),
      h("span.inc-ours", null, h("b", null, "dnspect: "), i.dnspect_behaviour),
    );
  }

  private detail(i: IncidentRuns, runs: HTMLElement): HTMLElement {
    return h(
      "article.inc-detail",
      { "data-incident": i.id },
      h("h2", null, h("span.inc-id", null, i.id), " ", i.title),
      h("p.inc-meta", null, h("b", null, "Peer: "), i.peer, " \u00b7 ", h("b", null, "Thread: "), threadLink(i.thread)),
      h("h3", null, "What happened"),
      h("p", null, i.happened),
      h(
        "dl.inc-compare",
        null,
        h("dt", null, "The peer"),
        h("dd", null, i.peer_behaviour),
        h("dt", null, "dnspect"),
        h("dd", null, i.dnspect_behaviour),
      ),
      h("h3", null, "Not in the thread"),
      h("ul.inc-missing", null, i.not_in_thread.map((n) => h("li", null, n))),
      h("h3", null, "The packets"),
      h(
        "div.inc-packets",
        null,
        i.examples.map((name) =>
          h("button.chip.inc-packet", { type: "button", "data-example": name, title: "Open in the byte view", onclick: () => this.openPacket(name) }, name),
        ),
      ),
      h("h3", null, "The decision trace"),
      runs,
      h("h3", null, "RFCs"),
      h(
        "ul.inc-rfcs",
        null,
        i.rfcs.map((r) => h("li", null, h("a", { href: r.url, target: "_blank", rel: "noopener noreferrer" }, r.cite), ": ", r.says)),
      ),
      h("p.muted.inc-tests", null, `Tests: ${i.scenario_file} (simulator), tests/tests/incidents.rs ${i.e2e_test} (dnspect serve with dig).`),
    );
  }

  private async runs(i: IncidentRuns, into: HTMLElement) {
    const cols: HTMLElement[] = [];
    try {
      const ours = await this.engine.simulate(i.simulation);
      cols.push(this.trace("dnspect", "default settings", ours, "run-default"));
      if (i.policy_simulation && i.policy) {
        const theirs = await this.engine.simulate(i.policy_simulation);
        cols.push(this.trace("dnspect with that policy", `${i.policy.settings}; not the peer`, theirs, "run-policy"));
      }
    } catch (e) {
      fill(into, h("p.err", null, `The simulator failed: ${(e as Error).message}`));
      return;
    }
    fill(
      into,
      h("div.inc-cols", { "data-cols": cols.length }, cols),
      i.policy ? null : h("p.muted.inc-nopolicy", null, `No second run: ${i.no_policy_because}.`),
    );
  }

  private trace(label: string, sub: string, r: SimResult, id: string): HTMLElement {
    const ok = r.failures.length === 0;
    return h(
      `div.inc-run#${id}`,
      { "data-failures": r.failures.length },
      h("h4", null, label, h("span.muted", null, ` (${sub})`)),
      h("p.inc-sim", null, r.title),
      h(
        "ol.inc-answers",
        null,
        r.answers.map((a) =>
          h("li", { "data-rcode": a.rcode }, `${(a.at_ms / 1000).toFixed(1)} s: ${a.rcode}${a.tc ? " TC" : ""}, ${a.answers.length} record(s), ${a.size} B over ${a.transport}${a.ede ? `, EDE ${a.ede[0]}` : ""}`),
        ),
      ),
      h("p", { class: ok ? "good" : "bad" }, ok ? `Every expectation held (${r.upstream_queries} upstream queries).` : `Failed: ${r.failures.join("; ")}`),
      h(
        "details.inc-trace",
        null,
        h("summary", null, `Trace: ${r.trace.length} lines`),
        h(
          "table",
          null,
          h("tbody", null, r.trace.map((t) => h("tr", { "data-actor": t.actor }, h("td.ms", null, `${t.at_ms} ms`), h("td.actor", null, t.actor), h("td", null, t.text)))),
        ),
      ),
    );
  }
}
