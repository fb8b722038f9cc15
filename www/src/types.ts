// The shapes the npm package returns (docs/json-schema.md and core/src/sim/mod.rs), as far as the page
// reads them. Everything is optional-tolerant: the page must render whatever a newer schema adds.

export interface Field {
  offset: number;
  len: number;
  label: string;
  value: string;
  children?: Field[];
}

export interface Layer {
  kind: string;
  offset: number;
  len: number;
  summary: string;
}

export interface Source {
  format: string;
  layers: Layer[];
  raw_len: number;
}

export interface WireErrorJson {
  offset: number;
  kind: string;
  [k: string]: unknown;
}

export interface Pointer {
  offset: number;
  target: number;
  suffix: string;
  saves: number;
}

export interface Missed {
  offset: number;
  name: string;
  written: number;
  optimal: number;
  could_point_to: number;
  lost: number;
}

export interface RecordSize {
  section: string;
  index: number;
  offset: number;
  len: number;
  type: string;
}

export interface SectionSize {
  section: string;
  offset: number;
  len: number;
  records: number;
}

export interface Crossing {
  limit: number;
  label: string;
  fits: boolean;
  fits_compressed: boolean;
  record: RecordSize | null;
}

export interface Warning {
  offset: number | null;
  severity: string;
  message: string;
}

export interface Header {
  id: number;
  qr: boolean;
  opcode: string;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  [k: string]: unknown;
}

export interface MessageJson {
  header: Header;
  questions: { name: string; type: string; class: string }[];
  answers: RecordJson[];
  authority: RecordJson[];
  additional: RecordJson[];
  edns: { udp_size: number; dnssec_ok: boolean; options: unknown[]; [k: string]: unknown } | null;
}

export interface RecordJson {
  name: string;
  type: string;
  class: string;
  ttl: number;
  rdata: Record<string, unknown>;
}

export interface Analysis {
  schema: number;
  source: Source | null;
  len: number;
  hex: string;
  message: MessageJson | null;
  error: WireErrorJson | null;
  fields: Field[];
  compression: { pointers: Pointer[]; saved: number; missed: Missed[]; lost: number };
  sizes: {
    size: number;
    uncompressed: number | null;
    compressed: number | null;
    sections: SectionSize[];
    records: RecordSize[];
    crossings: Crossing[];
  };
  warnings: Warning[];
}

export interface Example {
  name: string;
  title: string;
  hex: string;
}

export interface TraceLine {
  at_ms: number;
  actor: string;
  text: string;
}

export interface SimEvent {
  at_ms: number;
  event: string;
  [k: string]: unknown;
}

export interface ClientAnswer {
  query: number;
  at_ms: number;
  transport: string;
  size: number;
  hex: string;
  rcode: string;
  tc: boolean;
  answers: string[];
  ede: [number, string] | null;
}

export interface SimResult {
  title?: string;
  events: SimEvent[];
  trace: TraceLine[];
  answers: ClientAnswer[];
  upstream_queries: number;
  failures: string[];
}

export interface Behaviour {
  kind: string;
  hex?: string;
  answer?: string[];
  authority?: string[];
  uncompressed?: boolean;
  tc_over_udp?: boolean;
  reject_edns?: boolean;
  no_opt?: boolean;
  garbage_len?: number;
  delay_ms?: number;
}

export interface Scenario {
  title: string;
  description?: string;
  config: Record<string, unknown>;
  upstreams: { label: string; force_tcp?: boolean; rules: { name?: string; type?: string; respond: Behaviour[]; cycle: boolean }[] }[];
  queries: { at_ms: number; name: string; type: string; edns?: number; tcp: boolean; retry_tcp_on_tc: boolean }[];
  run_until_ms?: number;
}
