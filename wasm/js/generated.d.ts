// GENERATED from the Rust types by wasm/src/ts.rs (ts-rs): do not edit. Regenerate with
// `DNSPECT_UPDATE_JS=1 cargo test -p dnspect-wasm --lib ts::`; `cargo test` fails while
// this file and the Rust types disagree. Byte strings are lowercase hex unless noted;
// type, class and opcode mnemonics are strings (`"A"`, `"TYPE65280"`).

/**
 * A resource record type (RFC 1035 3.2.2 and the IANA registry).
 */
export type RType = string;

/**
 * A response code: the header's 4 bits, extended to 12 by EDNS (RFC 6891 6.1.3).
 */
export type Rcode = string;

/**
 * A class (RFC 1035 3.2.4). On an OPT record this field is the requestor's UDP payload size.
 */
export type Class = string;

/**
 * A 4-bit header opcode (RFC 1035 4.1.1, RFC 1996, RFC 2136).
 */
export type Opcode = string;

/**
 * A domain name in uncompressed wire form. Equality is exact (case-sensitive); use
 * [`Name::eq_ignore_case`] for DNS name comparison.
 */
export type Name = string;

/**
 * The fixed header, without the counts (they follow from the sections).
 */
export type Header = { id: number, 
/**
 * QR: this is a response.
 */
qr: boolean, opcode: Opcode, aa: boolean, tc: boolean, rd: boolean, ra: boolean, 
/**
 * The reserved Z bit, normally zero.
 */
z: boolean, ad: boolean, cd: boolean, 
/**
 * The header's 4-bit RCODE (see [`Message::rcode`] for the EDNS-extended one).
 */
rcode: number, };

export type Question = { name: Name, type: RType, class: Class, };

/**
 * A resource record.
 */
export type ResourceRecord = { name: Name, type: RType, class: Class, ttl: number, rdata: RData, };

/**
 * Record data, by layout. Types that share a layout share a variant (DS and CDS, DNSKEY and
 * CDNSKEY, SVCB and HTTPS, TLSA and SMIMEA); the record's type says which it is.
 */
export type RData = { "kind": "a", address: string, } | { "kind": "aaaa", address: string, } | { "kind": "name", target: Name, } | { "kind": "soa", mname: Name, rname: Name, serial: number, refresh: number, retry: number, expire: number, minimum: number, } | { "kind": "mx", preference: number, exchange: Name, } | { "kind": "txt", strings: string[], } | { "kind": "hinfo", cpu: string, os: string, } | { "kind": "srv", priority: number, weight: number, port: number, target: Name, } | { "kind": "naptr", order: number, preference: number, flags: string, services: string, regexp: string, replacement: Name, } | { "kind": "caa", flags: number, tag: string, value: string, } | { "kind": "ds", key_tag: number, algorithm: number, digest_type: number, digest: string, } | { "kind": "dnskey", flags: number, protocol: number, algorithm: number, public_key: string, } | { "kind": "rrsig", type_covered: RType, algorithm: number, labels: number, original_ttl: number, expiration: number, inception: number, key_tag: number, signer: Name, signature: string, } | { "kind": "nsec", next: Name, types: Array<RType>, } | { "kind": "nsec3", hash_algorithm: number, flags: number, iterations: number, salt: string, next_hashed: string, types: Array<RType>, } | { "kind": "nsec3param", hash_algorithm: number, flags: number, iterations: number, salt: string, } | { "kind": "tlsa", usage: number, selector: number, matching_type: number, data: string, } | { "kind": "sshfp", algorithm: number, fingerprint_type: number, fingerprint: string, } | { "kind": "svcb", priority: number, target: Name, params: Array<SvcParam>, } | { "kind": "opt", options: Array<EdnsOption>, } | { "kind": "unknown", data: string, };

/**
 * One SVCB/HTTPS service parameter (RFC 9460 14.3.2).
 */
export type SvcParam = { "key": "mandatory", keys: Array<number>, } | { "key": "alpn", ids: string[], } | { "key": "no-default-alpn" } | { "key": "port", port: number, } | { "key": "ipv4hint", addresses: Array<string>, } | { "key": "ech", config: string, } | { "key": "ipv6hint", addresses: Array<string>, } | { "key": "dohpath", template: string, } | { "key": "unknown", number: number, value: string, };

/**
 * One EDNS option.
 */
export type EdnsOption = { "option": "nsid", id: string, } | { "option": "client_subnet", family: number, source_prefix: number, scope_prefix: number, address: string, } | { "option": "cookie", client: string, server: string, } | { "option": "keepalive", timeout: number | null, } | { "option": "padding", data: string, } | { "option": "extended_error", code: number, text: string, } | { "option": "unknown", code: number, data: string, };

/**
 * The OPT record of a message, lifted out of the additional section.
 */
export type Edns = { 
/**
 * Requestor's UDP payload size (the OPT CLASS field).
 */
udp_size: number, 
/**
 * Upper 8 bits of the 12-bit RCODE.
 */
ext_rcode: number, version: number, 
/**
 * The DO bit (RFC 3225).
 */
dnssec_ok: boolean, 
/**
 * The other 15 flag bits, normally zero.
 */
z: number, options: Array<EdnsOption>, };

/**
 * A DNS message. The OPT record, if any, is lifted out of the additional section into `edns`.
 */
export type Message = { header: Header, questions: Array<Question>, answers: Array<ResourceRecord>, authority: Array<ResourceRecord>, additional: Array<ResourceRecord>, edns: Edns | null, };

/**
 * The section a record sits in.
 */
export type Section = "question" | "answer" | "authority" | "additional";

/**
 * What a field of the tree is. Groups: `header` (the fixed header), `flags` (its flag bits),
 * `section` (a whole section), `question`, `record` (OPT included), `name`, `rdata`, `option`
 * (one EDNS option). Leaves: the parts of a name (`label`, `pointer`, `root`) and every other
 * value (`value`).
 */
export type FieldKind = "header" | "flags" | "section" | "question" | "record" | "name" | "rdata" | "option" | "label" | "pointer" | "root" | "value";

/**
 * One node of the annotated field tree: a byte range, what it is, and what it means.
 */
export type Field = { offset: number, len: number, kind: FieldKind, 
/**
 * The section the field sits in (none for the header and trailing bytes).
 */
section: Section | null, label: string, value: string, children?: Array<Field>, };

/**
 * The text format a paste was recognised as.
 */
export type PasteFormat = "hex" | "tcpdump_x" | "xxd" | "od" | "hex_stream" | "hex_dump" | "base64" | "base64_url" | "binary";

/**
 * The kinds of header [`strip_layers`] knows.
 */
export type LayerKind = "ethernet" | "vlan" | "linux_sll" | "loopback" | "ipv4" | "ipv6" | "udp" | "tcp" | "tcp_length_prefix" | "trailer";

/**
 * One header (or trailer) stripped from in front of (or behind) the DNS message.
 */
export type Layer = { 
/**
 * What it was.
 */
kind: LayerKind, 
/**
 * Where it starts in the raw decoded bytes.
 */
offset: number, 
/**
 * How many bytes it takes.
 */
len: number, 
/**
 * A one-line description: addresses, ports, lengths and anything that did not add up.
 */
summary: string, };

/**
 * Where the bytes came from, when they came from a paste.
 */
export type Source = { format: PasteFormat, 
/**
 * Lower-layer headers that were stripped in front of the DNS message.
 */
layers: Array<Layer>, 
/**
 * Bytes decoded from the paste before stripping.
 */
raw_len: number, };

/**
 * What went wrong while reading a message.
 */
export type ErrorKind = { "kind": "truncated", expected: string, needed: number, available: number, } | { "kind": "pointer_forward", target: number, } | { "kind": "pointer_loop", target: number, } | { "kind": "pointer_past_end", target: number, } | { "kind": "reserved_label_type", byte: number, } | { "kind": "label_too_long", len: number, } | { "kind": "empty_label" } | { "kind": "name_too_long", len: number, } | { "kind": "bad_rdata", rtype: RType, reason: string, } | { "kind": "opt_owner_not_root" } | { "kind": "duplicate_opt", first: number, } | { "kind": "opt_outside_additional" } | { "kind": "bad_option", code: number, reason: string, } | { "kind": "invalid", field: string, reason: string, } | { "kind": "too_large" };

/**
 * A decoding error at a byte offset.
 */
export type WireError = { 
/**
 * Offset from the start of the DNS message where the problem was found.
 */
offset: number, } & ({ "kind": "truncated", expected: string, needed: number, available: number, } | { "kind": "pointer_forward", target: number, } | { "kind": "pointer_loop", target: number, } | { "kind": "pointer_past_end", target: number, } | { "kind": "reserved_label_type", byte: number, } | { "kind": "label_too_long", len: number, } | { "kind": "empty_label" } | { "kind": "name_too_long", len: number, } | { "kind": "bad_rdata", rtype: RType, reason: string, } | { "kind": "opt_owner_not_root" } | { "kind": "duplicate_opt", first: number, } | { "kind": "opt_outside_additional" } | { "kind": "bad_option", code: number, reason: string, } | { "kind": "invalid", field: string, reason: string, } | { "kind": "too_large" });

/**
 * A compression pointer and what it saved.
 */
export type Pointer = { offset: number, target: number, 
/**
 * The name suffix the pointer stands for.
 */
suffix: string, 
/**
 * Bytes saved: the suffix's uncompressed length minus the 2-byte pointer.
 */
saves: number, };

/**
 * A name written (partly) in full although an earlier occurrence could have been pointed to.
 */
export type Missed = { offset: number, name: string, 
/**
 * Bytes the name takes in place.
 */
written: number, 
/**
 * Bytes it would take with the best pointer.
 */
optimal: number, 
/**
 * Where the best pointer would point.
 */
could_point_to: number, lost: number, };

export type Compression = { pointers: Array<Pointer>, 
/**
 * Bytes the pointers saved in total.
 */
saved: number, missed: Array<Missed>, 
/**
 * Bytes lost to missed compression in total.
 */
lost: number, };

/**
 * A record's place and size.
 */
export type RecordSize = { section: Section, index: number, offset: number, len: number, type: RType, };

export type SectionSize = { section: Section, offset: number, len: number, records: number, };

/**
 * A size limit and whether, and where, the message crosses it.
 */
export type Crossing = { limit: number, label: string, fits: boolean, 
/**
 * Whether the re-compressed message fits.
 */
fits_compressed: boolean, 
/**
 * The record the limit falls in, if it does not fit.
 */
record: RecordSize | null, };

export type Sizes = { 
/**
 * Size of the message as given (trailing bytes excluded).
 */
size: number, 
/**
 * Size with no compression at all.
 */
uncompressed: number | null, 
/**
 * Size re-encoded with optimal compression.
 */
compressed: number | null, sections: Array<SectionSize>, records: Array<RecordSize>, crossings: Array<Crossing>, };

export type Severity = "warning" | "note";

export type Warning = { offset: number | null, 
/**
 * `warning` for something wrong or risky, `note` for a fact worth knowing.
 */
severity: Severity, message: string, };

/**
 * Everything the analyzer knows about one message.
 */
export type Analysis = { 
/**
 * Schema version of this JSON form.
 */
schema: 1, source: Source | null, 
/**
 * Length of the DNS bytes (trailing bytes included).
 */
len: number, 
/**
 * The DNS bytes, hex.
 */
hex: string, 
/**
 * The decoded message (partial when `error` is set).
 */
message: Message, error: WireError | null, fields: Array<Field>, compression: Compression, sizes: Sizes, warnings: Array<Warning>, };

/**
 * What happened.
 */
export type EventKind = { "event": "query", client: number, name: Name, qtype: RType, transport: "UDP" | "TCP", edns_size: number | null, dnssec_ok: boolean, limit: number, 
/**
 * None over TCP (no size limit): serialized as "TCP".
 */
limit_rule: string, } | { "event": "bad_query", client: number, rcode: Rcode | null, why: string, } | { "event": "cache_serve", client: number, name: Name, qtype: RType, rule: string, why: string, ttl: number, } | { "event": "cache_miss", name: Name, qtype: RType, rule: string, why: string, } | { "event": "coalesced", client: number, name: Name, qtype: RType, waiters: number, } | { "event": "forwarded", name: Name, qtype: RType, upstream: string, transport: "UDP" | "TCP", edns: boolean, id: number, attempt: number, purpose: string, why: string, } | { "event": "upstream_response", upstream: string, transport: "UDP" | "TCP", size: number, rcode: Rcode | null, rtt_ms: number, outcome: string, } | { "event": "upstream_timeout", upstream: string, transport: "UDP" | "TCP", id: number, after_ms: number, } | { "event": "dropped", upstream: string, why: string, } | { "event": "nonconforming", upstream: string, what: string, } | { "event": "fallback", upstream: string, rule: string, next: string, why: string, } | { "event": "cached", name: Name, qtype: RType, kind: string, ttl: number, rule: string, why: string, } | { "event": "not_cached", name: Name, qtype: RType, rule: string, why: string, } | { "event": "answered", client: number, name: Name, qtype: RType, rcode: Rcode, size: number, limit: number, source: string, fit: string | null, } | { "event": "gave_up", name: Name, qtype: RType, ede: number, text: string, } | { "event": "probe", upstream: string, healthy: boolean, why: string, };

/**
 * An event and the time it happened, in milliseconds on the caller's clock.
 */
export type Event = { at_ms: number, } & ({ "event": "query", client: number, name: Name, qtype: RType, transport: "UDP" | "TCP", edns_size: number | null, dnssec_ok: boolean, limit: number, 
/**
 * None over TCP (no size limit): serialized as "TCP".
 */
limit_rule: string, } | { "event": "bad_query", client: number, rcode: Rcode | null, why: string, } | { "event": "cache_serve", client: number, name: Name, qtype: RType, rule: string, why: string, ttl: number, } | { "event": "cache_miss", name: Name, qtype: RType, rule: string, why: string, } | { "event": "coalesced", client: number, name: Name, qtype: RType, waiters: number, } | { "event": "forwarded", name: Name, qtype: RType, upstream: string, transport: "UDP" | "TCP", edns: boolean, id: number, attempt: number, purpose: string, why: string, } | { "event": "upstream_response", upstream: string, transport: "UDP" | "TCP", size: number, rcode: Rcode | null, rtt_ms: number, outcome: string, } | { "event": "upstream_timeout", upstream: string, transport: "UDP" | "TCP", id: number, after_ms: number, } | { "event": "dropped", upstream: string, why: string, } | { "event": "nonconforming", upstream: string, what: string, } | { "event": "fallback", upstream: string, rule: string, next: string, why: string, } | { "event": "cached", name: Name, qtype: RType, kind: string, ttl: number, rule: string, why: string, } | { "event": "not_cached", name: Name, qtype: RType, rule: string, why: string, } | { "event": "answered", client: number, name: Name, qtype: RType, rcode: Rcode, size: number, limit: number, source: string, fit: string | null, } | { "event": "gave_up", name: Name, qtype: RType, ede: number, text: string, } | { "event": "probe", upstream: string, healthy: boolean, why: string, });

/**
 * What encoding to a limit dropped.
 */
export type Truncation = { 
/**
 * Records dropped from the answer, authority and additional sections.
 */
dropped: [number, number, number], 
/**
 * Whether TC was set.
 */
tc: boolean, 
/**
 * The encoded size.
 */
size: number, };

/**
 * What `parsePaste` returns beside the bytes.
 */
export type PasteMeta = { format: PasteFormat, layers: Array<Layer>, raw_len: number, };

/**
 * One built-in example message.
 */
export type Example = { 
/**
 * What `examples()` and the page call it.
 */
name: string, title: string, 
/**
 * The message, hex.
 */
hex: string, };
