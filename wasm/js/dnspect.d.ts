// Types of the npm package `dnspect`: every export and every object it returns or accepts.
//
// The shapes that cross the boundary as the core's serde JSON (messages, the analysis, pastes,
// errors, truncation reports) are generated from the Rust types into ./generated.js (ts-rs, see
// wasm/src/ts.rs; a Rust test fails when they drift) and re-exported here, the engine's and
// simulator's too. Written by hand: the function and class signatures, the input shapes `encode()`
// accepts with their defaults, the input forms of the engine's configuration (see the engine
// section) and the shapes the JS layer assembles itself (`Paste`, `Truncated`, `ForwarderStats`).
// test/types.test.mjs compiles test/types/*.ts against these declarations with `tsc --noEmit`.

import type {
  Analysis,
  Edns,
  EdnsOption,
  Example,
  Field,
  IncidentRuns,
  Header,
  Layer,
  Message,
  PasteFormat,
  RData,
  ResourceRecord,
  Section,
  Truncation,
  WireError,
  // the engine's and simulator's
  AdmissionConfig,
  CacheListing,
  CachePolicy,
  ClientSubnetConfig,
  CacheStats,
  ConformanceCounters,
  EngineConfig,
  EngineStats,
  FlushReport,
  Scenario as ScenarioShape,
  ServeStale,
  SimResult,
  CaptureOptions,
  CaptureMessage,
  CaptureReport,
  CaptureError,
  ReplayRow,
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
//
// Generated (./generated.js): UpstreamPolicy, UpstreamConfig, ProbeConfig, LimitAction, the full
// shapes EngineConfig, CachePolicy, ServeStale and AdmissionConfig (every field, as they
// serialize), the counters EngineStats, DroppedResponses, ConformanceCounters and CacheStats, and
// the simulator's Behaviour, Rule, ScriptedUpstream, ClientQuery, ExpectAnswer, Expect, TraceLine,
// ClientAnswer and SimResult. Written here: the input forms of the configuration (every field of a
// `#[serde(default)]` struct may be left out; sizes may be numbers; `serve_stale` may be a bool),
// a scenario's config, and the stats that api.mjs assembles.

/**
 * A duration as text with its unit: `"1500ms"`, `"4s"`, `"2m"`, `"1h"`, `"1d"` or several parts
 * added up (`"1m30s"`). A bare number is refused: its unit would be a guess.
 */
export type DurationText = string;

/** A size in bytes: a number, or text with a binary unit (`"256KiB"`, `"32MiB"`). */
export type ByteSize = number | string;

/** Serve-stale settings (RFC 8767), every field optional; `serve_stale: false` is short for `{ enabled: false }`. */
export type ServeStaleConfig = Partial<ServeStale>;

/** The cache's budget and lifetime rules (CachePolicy), every field optional. TTLs are seconds. */
export type CacheConfig = Partial<Omit<CachePolicy, "size" | "serve_stale">> & {
  /** Budget in bytes of heap (default "32MiB"). */
  size?: ByteSize;
  serve_stale?: boolean | ServeStaleConfig;
};

/** Per-client limits (AdmissionConfig), every field optional; applied by the shell. */
export type LimitsConfig = Partial<AdmissionConfig>;

/**
 * The engine's Config (dnspect_core::engine::forwarder::Config, generated as EngineConfig) as
 * input: the same configuration the native server reads from its TOML file and the simulator from
 * a scenario. Every field has a default; `Config::validate` checks the limits, and an error names
 * the field.
 */
export type ForwarderConfig = Partial<Omit<EngineConfig, "cache" | "limits" | "client_subnet">> & {
  cache?: CacheConfig;
  limits?: LimitsConfig;
  /** EDNS Client Subnet (RFC 7871): off (stripped) unless `passthrough: true`. */
  client_subnet?: Partial<ClientSubnetConfig>;
};

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

/** One upstream's conformance counters (dnspect_core::engine::upstreams::Counters) and its label. */
export type UpstreamCounters = { label: string } & ConformanceCounters;

/** What `Forwarder.stats()` returns: the engine's counters and api.mjs's additions. */
export type ForwarderStats = EngineStats & {
  upstreams: UpstreamCounters[];
  cache: CacheStats;
  in_flight: number;
};

/**
 * A scenario's engine configuration: the engine's Config, but its upstreams are the scenario's
 * scripted upstreams (so `upstreams` must stay empty) and its events are always on.
 */
export type SimConfig = Omit<ForwarderConfig, "upstreams" | "events">;

/**
 * A scenario for `simulate()` (dnspect_core::sim::Scenario; see core/tests/scenarios/*.toml). The
 * generated Scenario with `config` in its input form.
 */
export type Scenario = Omit<ScenarioShape, "config"> & { config?: SimConfig };

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

/**
 * The incident library: eight public DNS incidents, each with what happened, the thread, the RFCs,
 * the names of its example packets, and its scenarios parsed (`simulation`, and `policy_simulation`:
 * dnspect configured the way the peer behaved), ready for `simulate()`.
 */
export declare function incidents(): IncidentRuns[];

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
  /**
   * What the cache holds, with each entry's provenance (upstream, lifetime rule, TTLs, kind):
   * the entries for `name` (every type and DO/CD variant), under it with `suffix`, or all of
   * them; at most `limit` (1000); TTLs aged to `nowMs` (default: the latest time fed in).
   */
  cacheEntries(options?: { name?: string; suffix?: boolean; limit?: number; nowMs?: number }): CacheListing;
  /** Flushes everything, one name, or a name and everything under it (`suffix`). */
  cacheFlush(options?: { name?: string; suffix?: boolean }): FlushReport;
  /** Releases the engine's memory now (it is also released when the object is collected). */
  free(): void;
}

// ---- captures ---------------------------------------------------------------------------------------

/** Options of `analyzeCapture()` and `new CaptureAnalyzer()`: the core's, all optional, plus `replay`. */
export type AnalyzeCaptureOptions = Partial<CaptureOptions> & {
  /** Keep the matched exchanges so that `replay()` can run them through the engine. */
  replay?: boolean;
  /** Give each message its DNS bytes (`bytes`), e.g. to `analyze()` it. */
  bytes?: boolean;
};

/** A message from `CaptureAnalyzer.push()`; `bytes` with `{ bytes: true }`. */
export type CapturedMessage = CaptureMessage & { bytes?: Uint8Array };

/**
 * What `CaptureAnalyzer.replay()` returns: one row per client query (the captured server's answer
 * beside dnspect's), the client queries left out past the first 2000, and the simulator's run.
 * (`dnspect capture --replay --json` also prints the scenario itself.)
 */
export interface CaptureReplayResult {
  rows: ReplayRow[];
  left_out: number;
  result: SimResult;
}

/**
 * A pcap or pcapng capture read in chunks: `push()` each chunk, `finish()` at the end. Memory
 * stays bounded whatever the file's size. A cut or corrupt file does not throw: `error` (and the
 * report's `error`) give the byte offset, and everything before it is kept.
 */
export declare class CaptureAnalyzer {
  constructor(options?: AnalyzeCaptureOptions);
  /** Where the capture stopped being readable, once it did. */
  error: CaptureError | null;
  /** The DNS messages this chunk completed (after the filters). */
  push(chunk: Uint8Array): CapturedMessage[];
  /** The end of the file: the final report. */
  finish(): CaptureReport;
  /** The report of everything read so far. */
  report(): CaptureReport;
  /** The servers' answers replayed through dnspect's engine (needs `{ replay: true }`). */
  replay(): CaptureReplayResult;
  free(): void;
}

/** A whole capture at once. */
export declare function analyzeCapture(
  bytes: Uint8Array,
  options?: AnalyzeCaptureOptions,
): { messages: CapturedMessage[]; report: CaptureReport; replay?: CaptureReplayResult };
