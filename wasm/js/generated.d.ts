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
export type RData = { "kind": "a", address: string, } | { "kind": "aaaa", address: string, } | { "kind": "name", target: Name, } | { "kind": "soa", mname: Name, rname: Name, serial: number, refresh: number, retry: number, expire: number, minimum: number, } | { "kind": "mx", preference: number, exchange: Name, } | { "kind": "txt", strings: string[], } | { "kind": "hinfo", cpu: string, os: string, } | { "kind": "srv", priority: number, weight: number, port: number, target: Name, } | { "kind": "naptr", order: number, preference: number, flags: string, services: string, regexp: string, replacement: Name, } | { "kind": "caa", flags: number, tag: string, value: string, } | { "kind": "ds", key_tag: number, algorithm: number, digest_type: number, digest: string, } | { "kind": "dnskey", flags: number, protocol: number, algorithm: number, public_key: string, } | { "kind": "rrsig", type_covered: RType, algorithm: number, labels: number, original_ttl: number, expiration: number, inception: number, key_tag: number, signer: Name, signature: string, } | { "kind": "nsec", next: Name, types: Array<RType>, } | { "kind": "nsec3", hash_algorithm: number, flags: number, iterations: number, salt: string, next_hashed: string, types: Array<RType>, } | { "kind": "nsec3param", hash_algorithm: number, flags: number, iterations: number, salt: string, } | { "kind": "tlsa", usage: number, selector: number, matching_type: number, data: string, } | { "kind": "sshfp", algorithm: number, fingerprint_type: number, fingerprint: string, } | { "kind": "svcb", priority: number, target: Name, params: Array<SvcParam>, } | { "kind": "opt", options: Array<EdnsOption>, } | { "kind": "empty" } | { "kind": "fields", fields: Array<RdField>, } | { "kind": "unknown", data: string, };

/**
 * One field of a field-by-field RDATA.
 */
export type RdField = { "field": "u8", value: number, } | { "field": "u16", value: number, } | { "field": "u32", value: number, } | { "field": "name", name: Name, } | { "field": "text", text: string, } | { "field": "rest", text: string, } | { "field": "hex", data: string, } | { "field": "base64", data: string, } | { "field": "nsap", data: string, } | { "field": "ipv4", address: string, } | { "field": "types", types: Array<RType>, } | { "field": "ports", ports: Array<number>, } | { "field": "eui", data: string, } | { "field": "locator", data: string, } | { "field": "cert_type", value: number, } | { "field": "algorithm", value: number, } | { "field": "loc", size: number, horizontal_precision: number, vertical_precision: number, latitude: number, longitude: number, altitude: number, } | { "field": "apl", items: Array<AplItem>, } | { "field": "u48", value: number, } | { "field": "sized", data: string, } | { "field": "rcode", value: number, } | { "field": "ipv6", address: string, } | { "field": "no_gateway" } | { "field": "hip", algorithm: number, hit: string, public_key: string, };

/**
 * One APL item (RFC 3123 4).
 */
export type AplItem = { family: number, prefix: number, negation: boolean, 
/**
 * The address octets as sent (trailing zero octets omitted).
 */
address: string, };

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

export type Severity = "error" | "warning" | "note";

export type Warning = { offset: number | null, 
/**
 * `error` for a protocol violation (the decode went on), `warning` for something wrong or
 * risky, `note` for a fact worth knowing. Errors come first, notes last.
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
limit_rule: string, } | { "event": "bad_query", client: number, rcode: Rcode | null, why: string, } | { "event": "cache_serve", client: number, name: Name, qtype: RType, rule: string, why: string, ttl: number, } | { "event": "local", client: number, name: Name, qtype: RType, rcode: Rcode, answers: number, source: LocalSource, } | { "event": "zones_moved", dropped: number, } | { "event": "cache_miss", name: Name, qtype: RType, rule: string, why: string, } | { "event": "coalesced", client: number, name: Name, qtype: RType, waiters: number, } | { "event": "forwarded", name: Name, qtype: RType, upstream: string, transport: "UDP" | "TCP", edns: boolean, id: number, attempt: number, purpose: string, why: string, } | { "event": "upstream_response", upstream: string, transport: "UDP" | "TCP", size: number, rcode: Rcode | null, rtt_ms: number, outcome: string, } | { "event": "upstream_timeout", upstream: string, transport: "UDP" | "TCP", id: number, after_ms: number, } | { "event": "dropped", upstream: string, why: string, } | { "event": "nonconforming", upstream: string, what: string, } | { "event": "fallback", upstream: string, rule: string, next: string, why: string, } | { "event": "cached", name: Name, qtype: RType, kind: string, ttl: number, rule: string, why: string, } | { "event": "not_cached", name: Name, qtype: RType, rule: string, why: string, } | { "event": "flushed", what: string, keys: number, } | { "event": "answered", client: number, name: Name, qtype: RType, rcode: Rcode, size: number, limit: number, source: string, fit: string | null, } | { "event": "gave_up", name: Name, qtype: RType, ede: number, text: string, } | { "event": "probe", upstream: string, healthy: boolean, why: string, } | { "event": "loop_detected", upstream: string, zone: string, how: string, 
/**
 * The client (the looped query's sender) when a probe came back as a query.
 */
client: number | null, } | { "event": "loop_check", upstream: string, zone: string, result: string, };

/**
 * An event and the time it happened, in milliseconds on the caller's clock.
 */
export type Event = { at_ms: number, } & ({ "event": "query", client: number, name: Name, qtype: RType, transport: "UDP" | "TCP", edns_size: number | null, dnssec_ok: boolean, limit: number, 
/**
 * None over TCP (no size limit): serialized as "TCP".
 */
limit_rule: string, } | { "event": "bad_query", client: number, rcode: Rcode | null, why: string, } | { "event": "cache_serve", client: number, name: Name, qtype: RType, rule: string, why: string, ttl: number, } | { "event": "local", client: number, name: Name, qtype: RType, rcode: Rcode, answers: number, source: LocalSource, } | { "event": "zones_moved", dropped: number, } | { "event": "cache_miss", name: Name, qtype: RType, rule: string, why: string, } | { "event": "coalesced", client: number, name: Name, qtype: RType, waiters: number, } | { "event": "forwarded", name: Name, qtype: RType, upstream: string, transport: "UDP" | "TCP", edns: boolean, id: number, attempt: number, purpose: string, why: string, } | { "event": "upstream_response", upstream: string, transport: "UDP" | "TCP", size: number, rcode: Rcode | null, rtt_ms: number, outcome: string, } | { "event": "upstream_timeout", upstream: string, transport: "UDP" | "TCP", id: number, after_ms: number, } | { "event": "dropped", upstream: string, why: string, } | { "event": "nonconforming", upstream: string, what: string, } | { "event": "fallback", upstream: string, rule: string, next: string, why: string, } | { "event": "cached", name: Name, qtype: RType, kind: string, ttl: number, rule: string, why: string, } | { "event": "not_cached", name: Name, qtype: RType, rule: string, why: string, } | { "event": "flushed", what: string, keys: number, } | { "event": "answered", client: number, name: Name, qtype: RType, rcode: Rcode, size: number, limit: number, source: string, fit: string | null, } | { "event": "gave_up", name: Name, qtype: RType, ede: number, text: string, } | { "event": "probe", upstream: string, healthy: boolean, why: string, } | { "event": "loop_detected", upstream: string, zone: string, how: string, 
/**
 * The client (the looped query's sender) when a probe came back as a query.
 */
client: number | null, } | { "event": "loop_check", upstream: string, zone: string, result: string, });

/**
 * How the next upstream is chosen.
 */
export type UpstreamPolicy = "sequential" | "round_robin" | "random" | "fastest";

/**
 * One upstream in the configuration. In a file, its address alone (`"192.0.2.53"`) or a table
 * (`{ label = "192.0.2.53", force_tcp = true, trusted = true }`; `address` is another name for
 * `label`, `trust_ad` for `trusted`).
 */
export type UpstreamConfig = { 
/**
 * How events name it (its address).
 */
label: string, 
/**
 * Always use TCP (CoreDNS `force_tcp`).
 */
force_tcp?: boolean, 
/**
 * Its AD bit is believed: a validating resolver reached over a path the operator trusts
 * (RFC 6840 5.8, RFC 4035 4.9.3). Off by default: AD from an untrusted upstream is cleared
 * before the answer is cached, so no client ever sees it.
 */
trusted?: boolean, };

/**
 * An active health probe: a query whose answer must come back whole or with TC.
 */
export type ProbeConfig = { 
/**
 * How often each upstream is probed (at least every 100 ms).
 */
interval: string, 
/**
 * The name asked for, e.g. `"."`.
 */
name: string, 
/**
 * Its type's mnemonic, e.g. `"NS"`.
 */
qtype: string, 
/**
 * Send the probe with EDNS. Without EDNS (the default) a large answer checks that the
 * upstream truncates properly instead of sending what a 512-byte reader cannot take.
 */
edns?: boolean, };

/**
 * Per-zone cache overrides; unset knobs follow `cache`.
 */
export type ZoneCache = { 
/**
 * Cap on positive TTLs.
 */
max_ttl?: number | null, 
/**
 * Cap on negative TTLs; 0 turns negative caching off for the zone.
 */
max_negative_ttl?: number | null, 
/**
 * Serve stale answers (RFC 8767) for the zone.
 */
serve_stale?: boolean | null, };

/**
 * Forwarding for some zones: names at or under any of `zones` go to these upstreams instead of
 * the default ones (the longest matching zone wins; `.` is the default group). Like a CoreDNS
 * `forward` block, a kube-dns stub domain, dnsmasq's `server=/zone/addr` or an Unbound
 * `forward-zone`. Each group has its own selection, health, EDNS size, TCP setting, probe and
 * cache overrides; the upstreams' state is the group's own, even for an address that is also
 * in another group.
 */
export type ForwardZone = { 
/**
 * The zones, e.g. `["cluster.local", "in-addr.arpa", "ip6.arpa"]`.
 */
zones: Array<string>, 
/**
 * At least one, at most [`MAX_UPSTREAMS`].
 */
upstreams: Array<UpstreamConfig>, 
/**
 * Selection among them (default: the top-level `policy`).
 */
policy?: UpstreamPolicy | null, 
/**
 * Every upstream of the group over TCP.
 */
force_tcp?: boolean, 
/**
 * The EDNS size the group's queries advertise (default: the top-level one); at least 512.
 */
upstream_udp_payload?: number | null, 
/**
 * The group's own active probe (the top-level `probe` is the default group's).
 */
probe?: ProbeConfig | null, 
/**
 * Cache rules for names in these zones, over `cache`.
 */
cache?: ZoneCache, };

/**
 * What a local zone answers for names without local data.
 */
export type LocalAnswer = "nxdomain" | "refused";

/**
 * A zone answered locally.
 */
export type LocalZone = { zone: string, 
/**
 * What names without local data get.
 */
answer: LocalAnswer, };

/**
 * A hosts file's text and the name messages call it by (its path).
 */
export type HostsText = { name: string, text: string, };

/**
 * Local data in the engine's configuration (`[engine.local]`).
 */
export type LocalConfig = { 
/**
 * TTL of answers from hosts files: 60 s.
 */
ttl: number, 
/**
 * Records, one zone-file line each: `"printer.lan. 300 IN A 192.168.1.20"`.
 */
records: Array<string>, 
/**
 * Zones answered locally: NXDOMAIN or REFUSED for names without local data.
 */
zones: Array<LocalZone>, 
/**
 * Hosts files as text (the native server reads `--hosts FILE` and fills these in).
 */
hosts: Array<HostsText>, };

/**
 * What a local answer came from: shown in the query log.
 */
export type LocalSource = { "kind": "hosts", file: string, line: number, } | { "kind": "record", index: number, } | { "kind": "zone", zone: Name, answer: LocalAnswer, };

/**
 * Serve-stale settings (RFC 8767). In a file, a table of these, or `serve_stale = false` for
 * `{ enabled = false }`.
 */
export type ServeStale = { 
/**
 * On by default: both incidents behind this project were availability incidents, and an
 * answer a little past its TTL beats SERVFAIL (RFC 8767 1). Unbound's `serve-expired` is off
 * by default; ours is on on purpose.
 */
enabled: boolean, 
/**
 * TTL of a stale answer: 30 s (RFC 8767 4, "stale answer TTL").
 */
ttl: number, 
/**
 * How long past expiry data may still be served: 1 day (RFC 8767 5 suggests 1 to 3 days as
 * the "maximum stale timer").
 */
window: string, 
/**
 * How long a client waits for a refresh before it gets the stale answer: 1.8 s
 * (RFC 8767 5, "client response timer").
 */
client_answer_timer: string, 
/**
 * After a failed refresh, how long stale data is served before the next attempt: 30 s
 * (RFC 8767 5, "failure recheck timer").
 */
failure_recheck: string, };

/**
 * The cache's budget and lifetime rules. TTLs are whole seconds, as on the wire.
 */
export type CachePolicy = { 
/**
 * The cache's budget in bytes of heap: 32 MiB. In a file, bytes or `"32MiB"`.
 */
size: string, 
/**
 * Positive TTLs below this are raised to it. 0 by default: the owner's TTL is respected.
 */
min_ttl: number, 
/**
 * Positive TTLs above this are lowered to it: 86400 s. When `min_ttl > max_ttl`, the maximum
 * wins.
 */
max_ttl: number, 
/**
 * Cap on negative TTLs: 300 s. 0 turns negative caching off (dnsmasq `--no-negcache`).
 */
max_negative_ttl: number, 
/**
 * A negative answer for a name that had a positive answer whose lifetime ended less than
 * this long ago (or has not ended) is suspect: 120 s. Counting from the end of the positive
 * answer's TTL matters: incident 004's NODATA arrived when the expired chain was refetched,
 * i.e. a full TTL after the positive answer was received. 120 s spans the refetch at expiry
 * plus three 30 s failure-recheck cycles of an upstream that alternates SERVFAIL and NODATA,
 * while a name that is really gone is believed two minutes after its TTL ran out (sooner
 * when a second upstream confirms it).
 */
suspect_window: string, 
/**
 * The longest a suspect negative is kept before it is asked again: 5 s.
 */
suspect_negative_max_ttl: number, 
/**
 * A failure is kept at least this long: 1 s (RFC 9520 3.2: at least 1 second). 0 reads as 1.
 */
failure_min_ttl: number, 
/**
 * And at most this long: 300 s (RFC 9520 3.2 and RFC 2308 7: at most 5 minutes).
 */
failure_max_ttl: number, serve_stale: ServeStale, 
/**
 * Refresh entries asked for in their last [`PREFETCH_PERCENT`] of lifetime.
 */
prefetch: boolean, };

/**
 * What a client over a limit gets.
 */
export type LimitAction = "refused" | "drop";

/**
 * The limits, all per client. In a file they are named as in the native server's `[limits]`
 * of old: `client_qps`, `client_burst`, `client_max_waiting`, `client_prefix_v4`,
 * `client_prefix_v6`, `max_clients`, `action`.
 */
export type AdmissionConfig = { 
/**
 * Sustained queries per second; 0 turns rate limiting off (the default: a node-local
 * cache's clients are pods with their own addresses, and no default rate is both safe for
 * a busy pod and useful against a flood).
 */
client_qps: number, 
/**
 * Queries a client may send at once above its rate (the bucket's size); 0: 2 x `qps`.
 */
client_burst: number, 
/**
 * Queries of one client waiting on answers at once; 0 turns the limit off.
 */
client_max_waiting: number, 
/**
 * IPv4 prefix length that makes one client (32: each address). At most 32.
 */
client_prefix_v4: number, 
/**
 * IPv6 prefix length that makes one client (56: a customer site, RFC 6177). At most 128.
 */
client_prefix_v6: number, 
/**
 * Clients tracked at most; at least 1.
 */
max_clients: number, 
/**
 * What a client over a limit gets (the shell applies it).
 */
action: LimitAction, };

/**
 * EDNS Client Subnet (RFC 7871). Off by default: a client's ECS option is dropped (never sent
 * upstream, never echoed), as a resolver without ECS support does, and every answer is cached
 * for everyone. With `passthrough`, a query carrying ECS is sent upstream with it (its source
 * prefix capped at the limits below, RFC 7871 11.1), is answered with the option echoed and the
 * upstream's scope (RFC 7871 7.2.2), and neither uses nor fills the cache (RFC 7871 7.3 allows
 * not caching tailored answers); only identical subnets share one upstream query.
 */
export type ClientSubnetConfig = { passthrough: boolean, 
/**
 * Longest IPv4 source prefix sent upstream: 24 (RFC 7871 11.1). At most 32.
 */
max_source_prefix_v4: number, 
/**
 * Longest IPv6 source prefix sent upstream: 56 (RFC 7871 11.1). At most 128.
 */
max_source_prefix_v6: number, };

/**
 * The engine's configuration. Every knob has a default; docs/configuration.md describes them.
 */
export type EngineConfig = { 
/**
 * At most [`MAX_UPSTREAMS`].
 */
upstreams: Array<UpstreamConfig>, policy: UpstreamPolicy, 
/**
 * Largest UDP answer we send a client, and the size our OPT advertises to clients: 1232.
 * At least 512.
 */
max_udp_payload: number, 
/**
 * The UDP payload size our queries advertise upstream: 1232, at least 512. Answers of any
 * size up to 65535 bytes are accepted whatever this says (incident 000).
 */
upstream_udp_payload: number, 
/**
 * How long one attempt waits for its answer: 1500 ms. Above 0, at most `query_timeout`.
 */
attempt_timeout: string, 
/**
 * How long one client query may take in all: 4 s. Above 0.
 */
query_timeout: string, 
/**
 * Upstream queries per client query: default 2 x upstreams (at least 2). At least 1.
 */
max_attempts: number | null, 
/**
 * Transactions in flight at once, prefetches and verifications included: 4096; beyond it
 * new queries get SERVFAIL and refreshes are skipped. At least 1.
 */
max_inflight: number, 
/**
 * Clients waiting on one transaction: 8192. A flash crowd for one name shares one upstream
 * query; each waiter keeps only its header and question (at most 271 bytes). At least 1.
 */
max_waiters: number, 
/**
 * Clients waiting on all transactions together: 65536. At least 1.
 */
max_waiting: number, 
/**
 * Largest query accepted from a client, in bytes: 4096 (larger ones get FORMERR).
 * 17..=65535 (17: the smallest query, a header and a root question).
 */
max_query_size: number, probe: ProbeConfig | null, 
/**
 * Emit events (the query log, the simulator's trace). Off, the hot path allocates nothing
 * but the answer.
 */
events: boolean, 
/**
 * The cache's budget and lifetime rules.
 */
cache: CachePolicy, 
/**
 * Per-client limits, applied by the shell before a query reaches the engine
 * ([`crate::engine::admission`]).
 */
limits: AdmissionConfig, 
/**
 * Per-zone forwarding groups; names in no zone of theirs use `upstreams`.
 */
forward: Array<ForwardZone>, 
/**
 * Names answered locally: hosts files, records, local zones.
 */
local: LocalConfig, 
/**
 * EDNS Client Subnet: stripped, or passed through (RFC 7871).
 */
client_subnet: ClientSubnetConfig, 
/**
 * Probe every upstream for a forwarding loop back to this server at start and after each
 * reload (`HINFO <random>.dnspect-loop-check.<zone>`, as CoreDNS's `loop` plugin). Off by
 * default, as that plugin is a line of the Corefile: the probes are queries of our own to
 * every upstream; the shipped Kubernetes layouts turn it on. An upstream found looping is
 * not asked until a reload. The simulator keeps it off (its scripted upstreams never
 * forward back).
 */
loop_check: boolean, };

/**
 * Upstream messages dropped before they reached a decision, by reason (RFC 5452).
 */
export type DroppedResponses = { 
/**
 * For no transmit the engine still waits on: late (after a timeout or an earlier answer)
 * or unsolicited.
 */
late: number, 
/**
 * Shorter than a DNS header.
 */
short: number, 
/**
 * Another ID than the transmit's.
 */
wrong_id: number, 
/**
 * QR=0: an echoed query, not a response.
 */
not_response: number, 
/**
 * An opcode other than QUERY.
 */
opcode: number, 
/**
 * QDCOUNT other than 1.
 */
qdcount: number, 
/**
 * Another question (name case-insensitively, type, class) than the one asked.
 */
question: number, };

/**
 * Queries answered SERVFAIL because a limit was reached, by limit.
 */
export type BusyAnswers = { 
/**
 * `max_inflight` transactions were in flight.
 */
inflight: number, 
/**
 * `max_waiters` clients already waited on the transaction for the same question.
 */
waiters: number, 
/**
 * `max_waiting` clients already waited on all transactions.
 */
waiting: number, 
/**
 * The name's forwarding group has no upstream.
 */
no_upstreams: number, };

/**
 * Counters for metrics.
 */
export type EngineStats = { queries: number, bad_queries: number, cache_hits: number, cache_misses: number, 
/**
 * Answered from local data (hosts files, local records, local zones).
 */
local_answers: number, stale_answers: number, coalesced: number, prefetches: number, verifications: number, 
/**
 * Negative answers for a name that was answering shortly before, held briefly and
 * verified instead of cached for their SOA TTL (the incident 004 guard).
 */
suspect_negatives: number, answers_by_rcode: [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number], recompressed: number, truncated: number, gave_up: number, dropped_responses: number, 
/**
 * `dropped_responses` by reason.
 */
dropped: DroppedResponses, 
/**
 * SERVFAIL answers because a limit was reached; `busy_by` splits them by limit.
 */
busy: number, busy_by: BusyAnswers, 
/**
 * Prefetches and verifications skipped because the in-flight budget was used up.
 */
refreshes_skipped: number, 
/**
 * Answers without OPT to a DO or CD query that went out with EDNS, not used (RFC 6840 5.7).
 */
stripped_edns: number, 
/**
 * Cache flushes asked for (the admin API, `dnspect cache flush`, `Forwarder.cacheFlush`).
 */
cache_flushes: number, 
/**
 * Keys those flushes removed.
 */
cache_flushed_keys: number, 
/**
 * Fallbacks by rule name (a BTreeMap: serialized in a stable order).
 */
fallbacks: { [key in string]: number }, 
/**
 * Forwarding loops found: a loop probe back as a client query, or an upstream answering
 * one with a loop of its own (`forwarder::loops`).
 */
loops_detected: number, 
/**
 * Queries answered SERVFAIL at once because of a forwarding loop: loop probes that came
 * back, and misses whose every upstream loops.
 */
loop_answers: number, };

/**
 * What an upstream did wrong (and right): the per-upstream conformance counters.
 */
export type ConformanceCounters = { queries: number, answers: number, 
/**
 * UDP answers larger than the payload size we advertised.
 */
oversized: number, 
/**
 * Answers that were not compressed although they could have been.
 */
uncompressed: number, 
/**
 * Bytes those answers would have saved compressed.
 */
uncompressed_bytes_lost: number, 
/**
 * Answers without OPT to a query with OPT.
 */
no_opt: number, 
/**
 * NXDOMAIN/NODATA without an SOA (not cacheable by RFC 2308).
 */
negative_without_soa: number, 
/**
 * Answers with a wrong ID or question, dropped (RFC 5452).
 */
mismatched: number, undecodable: number, timeouts: number, network_errors: number, servfail: number, truncated: number, };

/**
 * Counters the store keeps for metrics.
 */
export type CacheStats = { keys: number, bytes: number, evictions: number, inserts: number, };

/**
 * The two capture formats.
 */
export type CaptureFormat = "pcap" | "pcapng";

/**
 * UDP or TCP.
 */
export type CaptureTransport = "udp" | "tcp";

/**
 * A capture that cannot be read further: where and why. Everything before `offset` was read.
 */
export type CaptureError = { 
/**
 * Byte offset in the file of the record (or header) that could not be read.
 */
offset: number, message: string, };

/**
 * What to read and what to keep.
 */
export type CaptureOptions = { 
/**
 * Ports that carry DNS (either end); empty: every UDP and TCP port. Default 53 and 5353.
 */
ports: Array<number>, 
/**
 * Only messages whose question is this name or under it.
 */
name?: string | null, 
/**
 * Only messages to or from this server (an address, or address:port).
 */
server?: string | null, 
/**
 * Only responses with this RCODE (rows only: the report still counts every message).
 */
rcode?: string | null, 
/**
 * A name flaps when it answers, then fails or has no data, then answers again, all within
 * this window (ms).
 */
flap_window_ms: number, 
/**
 * A query with no response after this long (ms) is unanswered; a second query for the
 * same question within it, while unanswered, is a retry.
 */
timeout_ms: number, };

/**
 * One DNS message found in a capture.
 */
export type CaptureMessage = { 
/**
 * 1-based position among the DNS messages of the capture.
 */
index: number, 
/**
 * The frame (1-based, as Wireshark counts) that completed the message.
 */
frame: number, 
/**
 * Byte offset of that frame's record in the file.
 */
offset: number, 
/**
 * Seconds since the Unix epoch (microsecond precision).
 */
time: number, src: string, dst: string, transport: CaptureTransport, id: number, response: boolean, opcode: string, 
/**
 * The first question's name and type, when there is one.
 */
name: string | null, qtype: string | null, 
/**
 * The RCODE (extended by OPT when present).
 */
rcode: string, 
/**
 * Header flags set, lowercase as dig shows them (`qr aa tc rd ra ad cd`).
 */
flags: string, size: number, answers: number, 
/**
 * The OPT record's UDP payload size, when the message has OPT.
 */
edns: number | null, 
/**
 * Milliseconds from the matching query, on responses whose query is in the capture.
 */
latency_ms: number | null, 
/**
 * The message does not decode: what and where (offset from the message's first byte).
 */
error: string | null, warnings: Array<string>, };

/**
 * What was skipped on the way, by reason.
 */
export type NetStats = { 
/**
 * Frames of a link type that is not read (counted, not fatal).
 */
unsupported_link: number, 
/**
 * Frames that are not IPv4 or IPv6 (ARP, ...).
 */
not_ip: number, 
/**
 * IP packets that are not UDP or TCP, or not on a DNS port.
 */
not_dns: number, 
/**
 * Frames whose headers are cut short or inconsistent (snapshot length, corruption).
 */
malformed: number, 
/**
 * DNS over UDP cut by the snapshot length (the message is incomplete, so it is skipped).
 */
cut_by_snaplen: number, 
/**
 * IP fragments seen, and datagrams put back together from them.
 */
fragments: number, reassembled: number, 
/**
 * Datagrams whose fragments never all arrived (expired or evicted).
 */
fragments_lost: number, 
/**
 * TCP segments: retransmitted bytes dropped, gaps that reset a stream, flows evicted.
 */
tcp_retransmissions: number, tcp_gaps: number, tcp_flows_evicted: number, };

/**
 * Query-to-response time, per server.
 */
export type Latency = { count: number, p50_ms: number | null, p90_ms: number | null, p99_ms: number | null, max_ms: number | null, 
/**
 * (upper bound in ms, count) of each non-empty bucket: 8 buckets per doubling.
 */
histogram: Array<[number, number]>, };

/**
 * How random a 16-bit field of the queries to a server looks (RFC 5452 9.2: IDs and source
 * ports should both be unpredictable).
 */
export type Randomness = { samples: number, distinct: number, 
/**
 * Distinct values expected from that many uniformly random draws.
 */
expected_distinct: number, 
/**
 * Consecutive samples that differ by 0 or 1 (counters, fixed values).
 */
sequential: number, 
/**
 * The largest |share of ones - 0.5| over the 16 bits (IDs only).
 */
max_bit_bias: number | null, 
/**
 * `random`, `too few samples`, or what looks predictable.
 */
verdict: string, };

/**
 * A name that answered, then did not, then answered again.
 */
export type Flap = { name: string, qtype: string, 
/**
 * Seconds since the epoch of the last answer before, the failure, and the answer after.
 */
answered_at: number, failed_at: number, back_at: number, 
/**
 * `NODATA`, `NXDOMAIN` or `SERVFAIL`.
 */
failure: string, 
/**
 * How long an RFC 2308 negative cache would have kept the failure (seconds): the SOA's
 * min(TTL, MINIMUM); none when there was no SOA (not cacheable) or for SERVFAIL.
 */
negative_ttl: number | null, 
/**
 * What a cache would have done with it, in words.
 */
note: string, };

/**
 * Conformance and health of one server, as seen in the capture.
 */
export type ServerReport = { 
/**
 * address:port, or `(other servers)` past the first MAX_SERVERS.
 */
server: string, queries: number, responses: number, 
/**
 * Responses with records for the question.
 */
answers: number, 
/**
 * Responses that compression would shrink by 16 bytes or more, and the bytes lost.
 */
uncompressed: number, uncompressed_bytes_lost: number, 
/**
 * UDP responses over 512 bytes to queries without EDNS (RFC 1035 4.2.1; incident 000).
 */
over_512_without_edns: number, 
/**
 * UDP responses larger than the EDNS size the query advertised.
 */
over_advertised: number, 
/**
 * UDP responses with TC, and how many of those the client asked again over TCP.
 */
truncated: number, tc_rate: number, tc_retried_over_tcp: number, 
/**
 * Queries with OPT, and FORMERR responses to them.
 */
edns_queries: number, formerr_to_edns: number, 
/**
 * NXDOMAIN and NODATA responses, and those without an SOA (RFC 2308 5: not cacheable).
 */
negative: number, negative_without_soa: number, servfail: number, servfail_rate: number, 
/**
 * Names that flapped (all counted; the first MAX_FLAPS_LISTED listed).
 */
flaps_total: number, flaps: Array<Flap>, latency: Latency, 
/**
 * Queries never answered within the timeout, and retries of an unanswered question.
 */
unanswered: number, retries: number, 
/**
 * Responses that matched no query in the capture.
 */
unmatched_responses: number, 
/**
 * Messages that do not decode.
 */
malformed: number, query_ids: Randomness, source_ports: Randomness, };

/**
 * The whole capture's report.
 */
export type CaptureReport = { format: CaptureFormat | null, bytes: number, frames: number, 
/**
 * DNS messages read, and those the filters let through.
 */
messages: number, shown: number, queries: number, responses: number, first_time: number | null, last_time: number | null, 
/**
 * Response sizes: (lower bound in bytes, count) of each 32-byte bucket up to 4096, then one
 * bucket for everything larger; separately for UDP and TCP.
 */
udp_sizes: Array<[number, number]>, tcp_sizes: Array<[number, number]>, servers: Array<ServerReport>, 
/**
 * What the network layers skipped, by reason.
 */
skipped: NetStats, 
/**
 * Where the capture stopped being readable; everything before it is in the report.
 */
error: CaptureError | null, };

/**
 * What the captured server answered one client query.
 */
export type CapturedAnswer = { server: string, rcode: string, answers: number, size: number, tc: boolean, };

/**
 * One line per query: what the capture's server answered and what dnspect answered.
 */
export type ReplayRow = { at_ms: number, name: string, qtype: string, captured: CapturedAnswer, 
/**
 * dnspect's answer to the client: RCODE, answer count, size, TC, transport; none when the
 * engine gave no answer.
 */
dnspect: string | null, 
/**
 * True when dnspect's RCODE or answer count differs from the captured server's.
 */
differs: boolean, };

/**
 * A scenario and what the capture said for each of its queries.
 */
export type CaptureReplay = { scenario: Scenario, 
/**
 * For each scenario query, in order: the captured server's answer (RCODE, answer count,
 * size, TC).
 */
captured: Array<CapturedAnswer>, 
/**
 * Client queries of the capture that the replay left out (past MAX_REPLAY_QUERIES).
 */
left_out: number, };

/**
 * What kind of answer an entry holds; the policy decided it.
 */
export type EntryKind = "positive" | "negative" | "suspect_negative" | "failure";

/**
 * One cache entry as the admin API shows it.
 */
export type CacheEntryView = { 
/**
 * The name, lowercase, as the cache keys it.
 */
name: string, type: string, class: string, 
/**
 * The key's DO bit: answers for DNSSEC-aware clients (with RRSIGs) are kept apart.
 */
dnssec_ok: boolean, 
/**
 * The key's CD bit: answers asked for with checking disabled are kept apart.
 */
checking_disabled: boolean, 
/**
 * `positive`, `negative`, `suspect_negative` or `failure`.
 */
kind: EntryKind, 
/**
 * The stored answer's RCODE (`NOERROR`, `NXDOMAIN`, `SERVFAIL`).
 */
rcode: string, 
/**
 * The upstream that answered; null when the engine wrote the entry (a failure after no
 * upstream answered usably).
 */
upstream: string | null, 
/**
 * The rule that set its lifetime (`cache::policy::LifetimeRule`, e.g. `positive-min-ttl`),
 * and its sentence.
 */
rule: string, rule_why: string, 
/**
 * The TTL the upstream gave, before the policy clamped it (null for failures).
 */
upstream_ttl: number | null, 
/**
 * The lifetime the policy gave it, in seconds.
 */
ttl: number, 
/**
 * Seconds of that lifetime left (0 once expired).
 */
remaining: number, 
/**
 * When it was stored, in ms on the engine's clock (the shell's epoch), and how long ago.
 */
stored_at_ms: number, age_ms: number, 
/**
 * Past its lifetime: kept only to serve stale (RFC 8767) or to guard against a suspect
 * negative (incident 004) until `keep_until_ms`.
 */
expired: boolean, keep_until_ms: number, 
/**
 * For a failure entry: failures in a row it stands for (RFC 9520 backoff).
 */
failures: number, 
/**
 * The Extended DNS Error (RFC 8914), as `code: text`: the upstream's, passed on with the
 * answer; for a failure, why the engine gave up (clients get EDE 13, Cached Error).
 */
ede: string | null, 
/**
 * The records a client asking now would get, TTLs aged, in presentation form.
 */
records: Array<string>, };

/**
 * A listing: the entries found (at most the limit asked for) and how many there were.
 */
export type CacheListing = { entries: Array<CacheEntryView>, 
/**
 * Entries that matched, including those left out past the limit.
 */
total: number, 
/**
 * True when entries were left out.
 */
truncated: boolean, };

/**
 * What a flush removed.
 */
export type FlushReport = { 
/**
 * Keys (name, type, class, DO, CD) removed, each with its positive and its negative,
 * suspect or failure entry.
 */
keys: number, };

/**
 * One scripted reaction to a query.
 */
export type Behaviour = { 
/**
 * `answer` (default), `hex` (the packet in `hex`, with the query's ID), `garbage`
 * (`garbage_len` bytes after the query's ID), `silence`, `servfail`, `refused`, `nxdomain`.
 */
kind?: "answer" | "hex" | "garbage" | "silence" | "servfail" | "refused" | "nxdomain" | "", rcode?: string | null, answer?: Array<string>, authority?: Array<string>, additional?: Array<string>, 
/**
 * Encode without name compression (incident 000's upstream).
 */
uncompressed?: boolean, 
/**
 * Over UDP, answer with TC=1 and no records.
 */
tc_over_udp?: boolean, 
/**
 * Answer FORMERR to any query carrying OPT.
 */
reject_edns?: boolean, 
/**
 * Leave OPT out of the answer.
 */
no_opt?: boolean, 
/**
 * First send a spoofed answer on the query's own socket: `wrong_id`, `wrong_question`,
 * `echo` (the query back, QR=0) or `no_question` (a negative answer with QDCOUNT=0).
 */
spoof?: "wrong_id" | "wrong_question" | null, hex?: string | null, garbage_len?: number | null, delay_ms?: number, };

/**
 * How an upstream answers queries for a name (and type).
 */
export type Rule = { 
/**
 * Match this name (any when absent).
 */
name?: string | null, type?: string | null, 
/**
 * One behaviour per matching query, in turn; after the last, the last repeats (or the
 * list starts over with `cycle`).
 */
respond: Array<Behaviour>, cycle?: boolean, };

/**
 * An upstream that follows a script.
 */
export type ScriptedUpstream = { label: string, force_tcp?: boolean, 
/**
 * Checked in order; the first whose name and type match handles the query.
 */
rules: Array<Rule>, };

/**
 * What a client must end up with.
 */
export type ExpectAnswer = { rcode?: string | null, 
/**
 * Number of answer records.
 */
answers?: number | null, max_size?: number | null, 
/**
 * TC on the final answer (after any TCP retry).
 */
tc?: boolean | null, 
/**
 * AA on the answer (set only on local answers).
 */
aa?: boolean | null, 
/**
 * Every answer record's TTL.
 */
ttl?: number | null, 
/**
 * The EDE info code.
 */
ede?: number | null, 
/**
 * Text every answer's presentation must contain (one entry per substring).
 */
contains?: Array<string>, 
/**
 * The answer arrives within this many ms of the query.
 */
within_ms?: number | null, 
/**
 * The answer went over TCP in the end.
 */
via_tcp?: boolean | null, };

/**
 * A client query.
 */
export type ClientQuery = { at_ms: number, client?: number, name: string, type?: string, 
/**
 * The client's EDNS UDP size; none: no EDNS (as `dig +noedns`).
 */
edns?: number | null, dnssec_ok?: boolean, tcp?: boolean, 
/**
 * Retry over TCP on TC, as dig and stub resolvers do (default true).
 */
retry_tcp_on_tc?: boolean, expect?: ExpectAnswer | null, };

/**
 * What must hold over the whole run.
 */
export type Expect = { max_upstream_queries?: number | null, min_upstream_queries?: number | null, 
/**
 * Lines of the decision log that must appear (substrings).
 */
log_contains?: Array<string>, log_lacks?: Array<string>, no_servfail?: boolean, };

/**
 * A scenario.
 */
export type Scenario = { title: string, description?: string, seed?: number, 
/**
 * The engine's configuration, as every shell reads it. Its `upstreams` must stay empty:
 * they are the scripted upstreams below. `events` is always on, `loop_check` always off
 * (a scripted upstream never forwards back).
 */
config?: EngineConfig, upstreams: Array<ScriptedUpstream>, queries: Array<ClientQuery>, 
/**
 * Stop the clock here (default: when nothing is left to happen, at most 1 day).
 */
run_until_ms?: number | null, expect?: Expect, };

/**
 * One line of the run's timeline.
 */
export type TraceLine = { at_ms: number, 
/**
 * `client`, `upstream`, `engine`.
 */
actor: "client" | "upstream" | "engine", text: string, };

/**
 * What a client received.
 */
export type ClientAnswer = { query: number, at_ms: number, transport: "UDP" | "TCP", size: number, hex: string, rcode: string, tc: boolean, 
/**
 * AA: answered from local data.
 */
aa: boolean, answers: Array<string>, ede: [number, string] | null, };

/**
 * The outcome of a run.
 */
export type SimResult = { title: string, events: Array<Event>, trace: Array<TraceLine>, answers: Array<ClientAnswer>, upstream_queries: number, 
/**
 * Expectations that did not hold; empty means the scenario passed.
 */
failures: Array<string>, 
/**
 * The engine's counters at the end.
 */
stats: EngineStats | null, 
/**
 * Largest number of transactions in flight and cache bytes seen during the run.
 */
peak_in_flight: number, peak_cache_bytes: number, };

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

/**
 * An RFC and the section of it that applies.
 */
export type RfcRef = { 
/**
 * "RFC 1035 4.1.4".
 */
cite: string, 
/**
 * What it says that matters here.
 */
says: string, url: string, };

/**
 * A second run of the same upstream behaviour with dnspect configured the way the peer behaved:
 * dnspect with that policy, never a model of the peer.
 */
export type PolicyRun = { 
/**
 * The settings changed, as a person would say them.
 */
settings: string, 
/**
 * The scenario (TOML, the simulator's `Scenario`).
 */
scenario: string, };

/**
 * One incident.
 */
export type Incident = { 
/**
 * Short id, as the CLI, the page's permalink (`#incident/ID`) and the analyzer name it.
 */
id: string, title: string, 
/**
 * The software that failed, with its version and configuration as the thread gives them.
 */
peer: string, 
/**
 * The public thread.
 */
thread: string, 
/**
 * What happened, from the thread.
 */
happened: string, 
/**
 * What the peer did, in one sentence (the report's table).
 */
peer_behaviour: string, 
/**
 * What dnspect does with the same upstream behaviour, as its tests measure it.
 */
dnspect_behaviour: string, 
/**
 * Facts the thread does not give, and what the packets and scenarios use instead.
 */
not_in_thread: Array<string>, rfcs: Array<RfcRef>, 
/**
 * Names of the built-in examples ([`crate::examples`]) with this incident's packets.
 */
examples: Array<string>, 
/**
 * The scenario replaying the upstream against dnspect's engine (TOML).
 */
scenario: string, 
/**
 * Its file under `core/tests/scenarios/`.
 */
scenario_file: string, 
/**
 * dnspect configured the way the peer behaved, where its settings can express it.
 */
policy: PolicyRun | null, 
/**
 * Why there is no policy run, when there is none.
 */
no_policy_because: string, 
/**
 * The end-to-end test against `dnspect serve` (`tests/tests/incidents.rs`).
 */
e2e_test: string, };

/**
 * One incident of the library with its scenarios parsed.
 */
export type IncidentRuns = { 
/**
 * `scenario`, parsed: dnspect with its default settings.
 */
simulation: Scenario, 
/**
 * `policy.scenario`, parsed: dnspect configured the way the peer behaved.
 */
policy_simulation: Scenario | null, 
/**
 * Short id, as the CLI, the page's permalink (`#incident/ID`) and the analyzer name it.
 */
id: string, title: string, 
/**
 * The software that failed, with its version and configuration as the thread gives them.
 */
peer: string, 
/**
 * The public thread.
 */
thread: string, 
/**
 * What happened, from the thread.
 */
happened: string, 
/**
 * What the peer did, in one sentence (the report's table).
 */
peer_behaviour: string, 
/**
 * What dnspect does with the same upstream behaviour, as its tests measure it.
 */
dnspect_behaviour: string, 
/**
 * Facts the thread does not give, and what the packets and scenarios use instead.
 */
not_in_thread: Array<string>, rfcs: Array<RfcRef>, 
/**
 * Names of the built-in examples ([`crate::examples`]) with this incident's packets.
 */
examples: Array<string>, 
/**
 * The scenario replaying the upstream against dnspect's engine (TOML).
 */
scenario: string, 
/**
 * Its file under `core/tests/scenarios/`.
 */
scenario_file: string, 
/**
 * dnspect configured the way the peer behaved, where its settings can express it.
 */
policy: PolicyRun | null, 
/**
 * Why there is no policy run, when there is none.
 */
no_policy_because: string, 
/**
 * The end-to-end test against `dnspect serve` (`tests/tests/incidents.rs`).
 */
e2e_test: string, };
