// Compiled (not run) by test/types.test.mjs with `tsc --noEmit`: every export used as a TypeScript
// program would, through the ESM entry. Lines marked @ts-expect-error must stay errors.
import init, {
  analysisJson,
  analysisText,
  analyze,
  decode,
  DnspectError,
  encode,
  examples,
  Forwarder,
  initSync,
  minimize,
  parsePaste,
  recompress,
  simulate,
  toText,
  truncate,
  version,
  type Analysis,
  type EngineEvent,
  type ForwarderOutput,
  type Message,
  type MessageInput,
  type RData,
  type Scenario,
  type SimResult,
} from "dnspect";

await init();
initSync();
const v: string = version();

const bytes: Uint8Array = parsePaste(examples()[0]!.hex).bytes;
const m: Message = decode(bytes);
const id: number = m.header.id;
const opcode: string = m.header.opcode;
for (const r of m.answers) {
  const rd: RData = r.rdata;
  if (rd.kind === "a") {
    const address: string = rd.address;
  } else if (rd.kind === "mx") {
    const p: number = rd.preference;
    const x: string = rd.exchange;
  } else if (rd.kind === "svcb") {
    for (const p of rd.params) if (p.key === "port") p.port.toFixed();
  } else if (rd.kind === "txt") {
    rd.strings.join("");
  }
}
const optionCodes = m.edns?.options.map((o) => o.option) ?? [];
const withFields = decode(bytes, { spans: true });
withFields.fields[0]?.children?.[0]?.offset.toFixed();
// @ts-expect-error: no fields without spans
decode(bytes).fields;
// @ts-expect-error: bytes, not a number
decode(42);
// @ts-expect-error: a Uint8Array, not a string
decode("78fd");

const input: MessageInput = {
  header: { id: 1, rd: true, opcode: 0 },
  questions: [{ name: "example.com.", type: "A" }],
  answers: [{ name: "example.com.", type: 1, ttl: 60, rdata: { kind: "a", address: "192.0.2.1" } }],
  edns: { udp_size: 1232 },
};
const wire: Uint8Array = encode(input, { limit: 512 });
encode(m);
// @ts-expect-error: rdata needs its kind's fields
encode({ answers: [{ name: "x.", type: "A", rdata: { kind: "a" } }] });
// @ts-expect-error: limit is a number
encode(m, { limit: "512" });

const re: Uint8Array = recompress(bytes);
const t = truncate(bytes, 512);
const cutBytes: Uint8Array = t.bytes;
const [droppedAnswers, droppedAuthority, droppedAdditional]: [number, number, number] = t.dropped;
const tcSet: boolean = t.tc && t.size === cutBytes.length;
// @ts-expect-error: truncate() returns its report with the bytes, not bare bytes
const bare: Uint8Array = truncate(bytes, 512);
const min: Uint8Array = minimize(bytes);
const text: string = toText(bytes) + toText(m) + analysisText(bytes) + analysisText("78fd") + analysisJson(bytes, { pretty: true });

const a: Analysis = analyze(bytes);
const lost: number = a.compression.lost;
const c512 = a.sizes.crossings.find((c) => c.limit === 512);
const fits: boolean | undefined = c512?.fits_compressed;
if (a.error?.kind === "truncated") {
  const needed: number = a.error.needed;
}
const layers = analyze("78fd").source?.layers.map((l) => l.kind);
const answerRecords = a.fields.filter((f) => f.kind === "section" && f.section === "answer").flatMap((f) => f.children ?? []);
const pointers: number = answerRecords.filter((f) => f.kind === "pointer").length;
// @ts-expect-error: the field kinds are a closed set
a.fields.filter((f) => f.kind === "answer section");

try {
  decode(bytes.subarray(0, 20));
} catch (e) {
  if (e instanceof DnspectError) {
    const offset: number | undefined = e.offset;
    const line: number | undefined = e.line;
    const kind: "truncated" | "paste" | "argument" | string = e.kind;
  }
}

const scenario: Scenario = {
  title: "typed",
  config: { policy: "sequential", attempt_timeout: "500ms" },
  upstreams: [{ label: "10.0.0.1", rules: [{ name: "a.example.", respond: [{ answer: ["a.example. 60 IN A 192.0.2.1"] }] }] }],
  queries: [{ at_ms: 0, name: "a.example.", edns: 1232, expect: { rcode: "NOERROR", answers: 1 } }],
  expect: { max_upstream_queries: 1 },
};
const result: SimResult = simulate(scenario);
for (const e of result.events) {
  const at: number = e.at_ms;
  if (e.event === "forwarded") {
    const upstream: string = e.upstream;
    const attempt: number = e.attempt;
  }
}
const ede: [number, string] | null | undefined = result.answers[0]?.ede;
// @ts-expect-error: a scenario needs a title
simulate({ upstreams: [], queries: [] });

const f = new Forwarder({ upstreams: [{ label: "10.0.0.1" }], policy: "round_robin", cache: { serve_stale: false } }, new Uint8Array(32));
f.handleQuery(0, 1, "udp", wire);
f.handleResponse(1, 0, "tcp", wire);
f.handleFailure(2, 7);
f.handleTick(3);
// @ts-expect-error: transport is "udp" or "tcp"
f.handleQuery(0, 1, "UDP", wire);
for (let i = 0; i < 100; i++) {
  const out: ForwarderOutput = f.poll();
  if (out.type === "wake") {
    const at: number | null = out.at;
    break;
  }
  if (out.type === "transmit") {
    const b: Uint8Array = out.bytes;
    if ("client" in out.to) out.to.client.toFixed();
    else out.to.upstream.toFixed();
  } else if (out.type === "event") {
    const ev: EngineEvent = out.event;
    const line: string = out.text;
  } else if (out.type === "done") {
    const token: number = out.token;
  } else {
    const client: number = out.client;
  }
}
const stats = f.stats();
const hits: number = stats.cache_hits + stats.upstreams[0]!.timeouts + stats.cache.bytes + stats.in_flight;
const label: string = stats.upstreams[0]!.label;
const lateDrops: number = stats.dropped.late + stats.answers_by_rcode[2];
f.free();

// the input forms of the configuration: nested fields optional, sizes as numbers or text
const tuned: Scenario = {
  title: "tuned",
  config: { cache: { size: 1 << 20, serve_stale: { window: "1h" } }, limits: { action: "drop" }, probe: { interval: "5s", name: ".", qtype: "NS" } },
  upstreams: [{ label: "10.0.0.1", rules: [{ respond: [{ kind: "silence" }, { spoof: "wrong_id" }] }] }],
  queries: [],
};
// @ts-expect-error: a scenario's upstreams are scripted, not configured
const noUpstreams: Scenario = { ...tuned, config: { upstreams: [] } };
// @ts-expect-error: an unknown behaviour
const badKind: Scenario = { ...tuned, upstreams: [{ label: "x", rules: [{ respond: [{ kind: "explode" }] }] }] };
simulate(tuned);
new Forwarder({ cache: { size: "32MiB", serve_stale: true }, limits: { client_qps: 100 } }, new Uint8Array(32)).free();

export { label, lateDrops, noUpstreams, badKind, v, id, opcode, optionCodes, re, t, min, text, lost, fits, layers, hits };

// cache inspection and flush
const cf = new Forwarder({ upstreams: [{ label: "10.0.0.1", trusted: true }], client_subnet: { passthrough: true } }, new Uint8Array(32));
const listing = cf.cacheEntries({ name: "www.example.", suffix: false, limit: 10, nowMs: 5 });
const firstEntry = listing.entries[0];
if (firstEntry) {
  const kind: "positive" | "negative" | "suspect_negative" | "failure" = firstEntry.kind;
  const from: string | null = firstEntry.upstream;
  const left: number = firstEntry.remaining + firstEntry.ttl;
  const lines: string[] = firstEntry.records;
}
const flushed: number = cf.cacheFlush({ name: "example.", suffix: true }).keys + cf.cacheFlush().keys;
// @ts-expect-error: suffix is a boolean
cf.cacheFlush({ name: "example.", suffix: "yes" });
cf.free();
