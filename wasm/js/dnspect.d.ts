// Types of the npm package `dnspect`: every export and every object it returns or accepts.
//
// The shapes that cross the boundary as the core's serde JSON (messages, the analysis, pastes,
// errors, truncation reports) are generated from the Rust types into ./generated.js (ts-rs, see
// wasm/src/ts.rs; a Rust test fails when they drift) and re-exported here. Written by hand: the
// function and class signatures, the input shapes `encode()` accepts with their defaults, and the
// engine's and simulator's shapes (named next to each), until the engine's types derive them too.
// test/types.test.mjs compiles test/types/*.ts against these declarations with `tsc --noEmit`.

import type {
  Analysis,
  Edns,
  EdnsOption,
  Example,
  Field,
  Header,
  Layer,
  Message,
  PasteFormat,
  RData,
  ResourceRecord,
  Section,
  Truncation,
  WireError,
} from "./generated.js";

export type * from "./generated.js";

// ---- names kept from the hand-written declarations -------------------------------------------------

/** The `kind`s of RData. */
export type RDataKind = RData["kind"];
/** A section's name, as `sizes` and the field tree give it. */
export type SectionName = Section;
/** What went wrong decoding, at which byte (the analysis' `error`, a DnspectError's `detail`). */
export type WireErrorDetail = WireError;
export type { Pointer as CompressionPointer, Missed as MissedCompression } from "./generated.js";

// ---- messages ---------------------------------------------------------------------------------------

/** A message with the byte-by-byte field tree, from `decode(bytes, { spans: true })`. */
export interface MessageWithFields extends Message {
  fields: Field[];
}

/**
 * What `encode()` and `toText()` accept: the shape `decode()` returns, where missing fields take
 * their defaults (header fields false/0/QUERY, class IN, TTL 0, empty sections, no EDNS) and types,
 * classes and opcodes may be numbers.
 */
export interface MessageInput {
  header?: Partial<Omit<Header, "opcode">> & { opcode?: string | number };
  questions?: QuestionInput[];
  answers?: RecordInput[];
  authority?: RecordInput[];
  additional?: RecordInput[];
  edns?: EdnsInput | null;
}

export interface QuestionInput {
  name: string;
  type: string | number;
  class?: string | number;
}

export interface RecordInput {
  name: string;
  type: string | number;
  class?: string | number;
  ttl?: number;
  rdata: RData;
}

export interface EdnsInput {
  udp_size: number;
  ext_rcode?: number;
  version?: number;
  dnssec_ok?: boolean;
  z?: number;
  options?: EdnsOption[];
}

// ---- pastes and truncation -------------------------------------------------------------------------

/** A paste read by `parsePaste()`: the DNS message with lower-layer headers stripped. */
export interface Paste {
  bytes: Uint8Array;
  format: PasteFormat;
  layers: Layer[];
  raw_len: number;
}

/** What `truncate()` returns: the bytes and what was dropped to fit (`Truncation`). */
export interface Truncated extends Truncation {
  bytes: Uint8Array;
}

// ---- the engine and the simulator (dnspect_core::engine, dnspect_core::sim) ------------------------

/** How the next upstream is chosen. */
export type UpstreamPolicy = "sequential" | "round_robin" | "random" | "fastest";

/**
 * A duration as text with its unit: `"1500ms"`, `"4s"`, `"2m"`, `"1h"`, `"1d"` or several parts
 * added up (`"1m30s"`). A bare number is refused: its unit would be a guess.
 */
export type DurationText = string;

/** A size in bytes: a number, or text with a binary unit (`"256KiB"`, `"32MiB"`). */
export type ByteSize = number | string;

export interface UpstreamConfig {
  /** How events name it (its address). */
  label: string;
  /** Always use TCP. */
  force_tcp?: boolean;
}

export interface ProbeConfig {
  /** How often each upstream is probed (at least every 100 ms); above 0. */
  interval: DurationText;
  /** A domain name, e.g. ".". */
  name: string;
  /** A record type's mnemonic, e.g. "NS". */
  qtype: string;
  edns?: boolean;
}

/** Serve-stale settings (RFC 8767); `serve_stale: false` is short for `{ enabled: false }`. */
export interface ServeStaleConfig {
  /** Default true. */
  enabled?: boolean;
  /** TTL of a stale answer, seconds (default 30). */
  ttl?: number;
  /** How long past expiry an answer may be served (default "1d"). */
  window?: DurationText;
  /** How long a client waits for a refresh before it gets the stale answer (default "1800ms"); above 0. */
  client_answer_timer?: DurationText;
  /** After a failed refresh, how long stale data is served before the next attempt (default "30s"); above 0. */
  failure_recheck?: DurationText;
}

/** The cache's budget and lifetime rules (dnspect_core::cache::policy::CachePolicy). TTLs are seconds. */
export interface CacheConfig {
  /** Budget in bytes of heap (default "32MiB"). */
  size?: ByteSize;
  min_ttl?: number;
  max_ttl?: number;
  max_negative_ttl?: number;
  /** Default "2m". */
  suspect_window?: DurationText;
  suspect_negative_max_ttl?: number;
  failure_min_ttl?: number;
  failure_max_ttl?: number;
  serve_stale?: boolean | ServeStaleConfig;
  prefetch?: boolean;
}

/** Per-client limits (dnspect_core::engine::admission::AdmissionConfig), applied by the shell. */
export interface LimitsConfig {
  client_qps?: number;
  client_burst?: number;
  client_max_waiting?: number;
  /** 0..=32. */
  client_prefix_v4?: number;
  /** 0..=128. */
  client_prefix_v6?: number;
  /** At least 1. */
  max_clients?: number;
  action?: "refused" | "drop";
}

/**
 * The engine's Config (dnspect_core::engine::forwarder::Config): the same configuration the
 * native server reads from its TOML file and the simulator from a scenario. Every field has a
 * default; `Config::validate` checks the limits, and an error names the field.
 */
export interface ForwarderConfig {
  /** At most 64. */
  upstreams?: UpstreamConfig[];
  policy?: UpstreamPolicy;
  /** At least 512 (default 1232). */
  max_udp_payload?: number;
  /** At least 512 (default 1232). */
  upstream_udp_payload?: number;
  /** Default "1500ms"; above 0, at most query_timeout. */
  attempt_timeout?: DurationText;
  /** Default "4s"; above 0. */
  query_timeout?: DurationText;
  /** At least 1 (default 2 x upstreams). */
  max_attempts?: number | null;
  max_inflight?: number;
  max_waiters?: number;
  max_waiting?: number;
  /** 17..=65535 (default 4096). */
  max_query_size?: number;
  probe?: ProbeConfig | null;
  /** Emit events (default true). */
  events?: boolean;
  cache?: CacheConfig;
  limits?: LimitsConfig;
}

export type Transport = "udp" | "tcp";

/** An engine event (dnspect_core::engine::event::Event): when, what, and why. Generated. */
export type EngineEvent = import("./generated.js").Event;

export type EngineEventName = EngineEvent["event"];

/** What `Forwarder.poll()` returns. */
export type ForwarderOutput =
  | {
      type: "transmit";
      to: { client: number } | { upstream: number };
      transport: Transport;
      bytes: Uint8Array;
      /** Identifies an upstream transmit for `handleFailure`; 0 for answers to clients. */
      token: number;
    }
  | { type: "event"; event: EngineEvent; /** The event as one log line. */ text: string }
  /** The engine no longer waits on the upstream transmit with this token: free its socket. */
  | { type: "done"; token: number }
  /** The client's message was dropped without an answer (no header, or not a query). */
  | { type: "dropped"; client: number }
  /** Nothing more to do until `at` (ms on your clock) or new input; null: no timer pending. */
  | { type: "wake"; at: number | null };

/** The engine's counters (dnspect_core::engine::forwarder::Stats). */
export interface EngineStats {
  queries: number;
  bad_queries: number;
  cache_hits: number;
  cache_misses: number;
  stale_answers: number;
  coalesced: number;
  prefetches: number;
  verifications: number;
  /** Answers sent to clients, by RCODE. */
  answers_by_rcode: number[];
  recompressed: number;
  truncated: number;
  gave_up: number;
  dropped_responses: number;
  /** `dropped_responses` by reason (RFC 5452). */
  dropped: {
    late: number;
    short: number;
    wrong_id: number;
    not_response: number;
    opcode: number;
    qdcount: number;
    question: number;
  };
  busy: number;
  refreshes_skipped: number;
  stripped_edns: number;
  /** Fallback decisions, by rule. */
  fallbacks: Record<string, number>;
}

/** One upstream's conformance counters (dnspect_core::engine::upstreams::Counters). */
export interface UpstreamCounters {
  label: string;
  queries: number;
  answers: number;
  oversized: number;
  uncompressed: number;
  uncompressed_bytes_lost: number;
  no_opt: number;
  negative_without_soa: number;
  mismatched: number;
  undecodable: number;
  timeouts: number;
  network_errors: number;
  servfail: number;
  truncated: number;
}

export interface ForwarderStats extends EngineStats {
  upstreams: UpstreamCounters[];
  cache: { keys: number; bytes: number; evictions: number; inserts: number };
  in_flight: number;
}

/**
 * A scenario's engine configuration: the engine's Config, but its upstreams are the scenario's
 * scripted upstreams (so `upstreams` must stay empty) and its events are always on.
 */
export type SimConfig = Omit<ForwarderConfig, "upstreams" | "events">;

/** One scripted reaction of an upstream to a query. */
export interface Behaviour {
  /** `answer` (default), `hex`, `garbage`, `silence`, `servfail`, `refused`, `nxdomain`. */
  kind?: "answer" | "hex" | "garbage" | "silence" | "servfail" | "refused" | "nxdomain" | "";
  rcode?: string | null;
  /** Records in zone-file text: `"www.example. 60 IN A 192.0.2.1"`. */
  answer?: string[];
  authority?: string[];
  additional?: string[];
  /** Encode without name compression (incident 000's upstream). */
  uncompressed?: boolean;
  /** Over UDP, answer with TC=1 and no records. */
  tc_over_udp?: boolean;
  /** Answer FORMERR to any query carrying OPT. */
  reject_edns?: boolean;
  /** Leave OPT out of the answer. */
  no_opt?: boolean;
  /** First send a spoofed answer. */
  spoof?: "wrong_id" | "wrong_question" | null;
  /** For `kind: "hex"`: the packet, sent with the query's ID. */
  hex?: string | null;
  /** For `kind: "garbage"`. */
  garbage_len?: number | null;
  delay_ms?: number;
}

export interface Rule {
  /** Match this name (any when absent). */
  name?: string | null;
  type?: string | null;
  /** One behaviour per matching query, in turn; the last repeats (or the list restarts with `cycle`). */
  respond: Behaviour[];
  cycle?: boolean;
}

export interface ScriptedUpstream {
  label: string;
  force_tcp?: boolean;
  rules: Rule[];
}

export interface ExpectAnswer {
  rcode?: string | null;
  answers?: number | null;
  max_size?: number | null;
  tc?: boolean | null;
  ttl?: number | null;
  ede?: number | null;
  contains?: string[];
  within_ms?: number | null;
  via_tcp?: boolean | null;
}

export interface ClientQuery {
  at_ms: number;
  client?: number;
  name: string;
  type?: string;
  /** The client's EDNS UDP size; null/absent: no EDNS. */
  edns?: number | null;
  dnssec_ok?: boolean;
  tcp?: boolean;
  /** Retry over TCP on TC (default true). */
  retry_tcp_on_tc?: boolean;
  expect?: ExpectAnswer | null;
}

export interface Expect {
  max_upstream_queries?: number | null;
  min_upstream_queries?: number | null;
  log_contains?: string[];
  log_lacks?: string[];
  no_servfail?: boolean;
}

/** A scenario for `simulate()` (dnspect_core::sim::Scenario; see core/tests/scenarios/*.toml). */
export interface Scenario {
  title: string;
  description?: string;
  seed?: number;
  config?: SimConfig;
  upstreams: ScriptedUpstream[];
  queries: ClientQuery[];
  /** Stop the clock here (default: when nothing is left, at most one day). */
  run_until_ms?: number | null;
  expect?: Expect;
}

export interface TraceLine {
  at_ms: number;
  actor: "client" | "upstream" | "engine";
  text: string;
}

/** What a client received in the end. */
export interface ClientAnswer {
  /** Index into `scenario.queries`. */
  query: number;
  at_ms: number;
  transport: "UDP" | "TCP";
  size: number;
  hex: string;
  rcode: string;
  tc: boolean;
  /** Answer records in presentation form. */
  answers: string[];
  /** Extended DNS Error: [code, text]. */
  ede: [number, string] | null;
}

export interface SimResult {
  title: string;
  events: EngineEvent[];
  trace: TraceLine[];
  answers: ClientAnswer[];
  upstream_queries: number;
  /** Expectations that did not hold; empty: the scenario passed. */
  failures: string[];
  stats: EngineStats | null;
  peak_in_flight: number;
  peak_cache_bytes: number;
}

// ---- errors ------------------------------------------------------------------------------------------

/**
 * `truncated`, `pointer_forward`, ... (a wire error, with `offset`), `paste` (with `line` and
 * `column`), `invalid` (a value that cannot be encoded, or a config or scenario that does not read),
 * `scenario`, `argument` (a wrong argument), `init` (browser build used before `init()`), `internal`.
 */
export type DnspectErrorKind =
  | WireErrorDetail["kind"]
  | "paste"
  | "scenario"
  | "argument"
  | "init"
  | "internal";

/** Thrown by every function of the package. The wasm instance stays usable afterwards. */
export declare class DnspectError extends Error {
  constructor(message: string, info?: { kind?: DnspectErrorKind; offset?: number; line?: number; column?: number; detail?: WireErrorDetail; cause?: unknown });
  name: "DnspectError";
  kind: DnspectErrorKind;
  /** Byte offset in the DNS message (wire errors). */
  offset?: number;
  /** 1-based line of the paste (paste errors). */
  line?: number;
  /** 1-based column (in characters) of the paste (paste errors). */
  column?: number;
  /** The wire error as in the analysis' `error` (wire errors). */
  detail?: WireErrorDetail;
}

// ---- the functions -----------------------------------------------------------------------------------

/** The package version. */
export declare function version(): string;

/** Decodes wire bytes (strictly: any error throws, with its byte offset). */
export declare function decode(bytes: Uint8Array, options: { spans: true }): MessageWithFields;
export declare function decode(bytes: Uint8Array, options?: { spans?: false }): Message;
export declare function decode(bytes: Uint8Array, options?: { spans?: boolean }): Message | MessageWithFields;

/**
 * Encodes a message with optimal name compression. With `limit`, drops whole RRsets from the end to
 * fit (RFC 2181 9), keeps OPT and sets TC when answer or authority data was dropped.
 */
export declare function encode(message: MessageInput, options?: { limit?: number }): Uint8Array;

/** Everything the analyzer knows about wire bytes or a paste in any supported format. */
export declare function analyze(input: Uint8Array | string): Analysis;

/** The analysis as dig-style text plus compression, sizes and warnings. */
export declare function analysisText(input: Uint8Array | string): string;

/** The analysis as JSON text (with `pretty`, exactly `dnspect decode --json`). */
export declare function analysisJson(input: Uint8Array | string, options?: { pretty?: boolean }): string;

/** dig-style text of a message (bytes, or an object as `decode` returns it). */
export declare function toText(input: Uint8Array | MessageInput): string;

/** Re-encodes with optimal compression; never longer than the input. */
export declare function recompress(bytes: Uint8Array): Uint8Array;

/**
 * Re-encodes within `limit` bytes: whole RRsets dropped from the end, TC set, OPT kept. Returns the
 * bytes and the report: records dropped per section (`[answer, authority, additional]`), whether TC
 * was set, and the size.
 */
export declare function truncate(bytes: Uint8Array, limit: number): Truncated;

/** Drops the authority and additional records the answer does not need (minimal responses). */
export declare function minimize(bytes: Uint8Array): Uint8Array;

/** Reads a paste (hex, tcpdump -X, xxd, od, Wireshark, base64, DoH URL) and strips lower layers. */
export declare function parsePaste(text: string): Paste;

/** The built-in example messages (the two incidents and everyday answers). */
export declare function examples(): Example[];

/** Runs a scenario on the simulator's virtual clock: the whole decision trace with timestamps. */
export declare function simulate(scenario: Scenario): SimResult;

/**
 * The forwarding engine as a sans-io state machine: feed it client queries, upstream responses,
 * delivery failures and time; after each input, `poll()` until it returns `{ type: "wake" }`.
 * Times are milliseconds on a clock of your choosing that never goes backwards.
 */
export declare class Forwarder {
  /** @param seed 32 random bytes (`crypto.getRandomValues(new Uint8Array(32))`). */
  constructor(config: ForwarderConfig | undefined, seed: Uint8Array);
  handleQuery(nowMs: number, clientId: number, transport: Transport, bytes: Uint8Array): void;
  /**
   * @param upstreamIndex index into `config.upstreams`.
   * @param token the token of the transmit this answer arrived for (on its socket): binds the
   * answer to it (RFC 5452). Without it, the answer is matched by upstream and ID.
   */
  handleResponse(
    nowMs: number,
    upstreamIndex: number,
    transport: Transport,
    bytes: Uint8Array,
    token?: number,
  ): void;
  /** The transmit with this token could not be delivered (ICMP unreachable, refused, reset). */
  handleFailure(nowMs: number, token: number): void;
  handleTick(nowMs: number): void;
  poll(): ForwarderOutput;
  stats(): ForwarderStats;
  /** Releases the engine's memory now (it is also released when the object is collected). */
  free(): void;
}
