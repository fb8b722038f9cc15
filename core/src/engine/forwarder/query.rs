//! Client queries: validation, answers from the cache (fresh, stale, negative, cached
//! failure), joining a transaction in flight or starting one.

use super::*;
use crate::cache::policy::ServeDecision;
use crate::cache::policy::ServeRule;
use crate::cache::store::Store;
use crate::engine::decide::PayloadRule;
use crate::wire::view::QuestionRef;

/// A client query that passed the checks: what answering or forwarding it needs.
struct Checked<'k> {
    q: QuestionRef,
    /// The engine's key buffer, filled in place (`Forwarder::key_buf`).
    key: &'k KeyBuf,
    /// The forwarding group of the name (`zones::Zones::group_of`), looked up once.
    group: usize,
    dnssec_ok: bool,
    cd: bool,
    /// The client's EDNS UDP size, when it sent OPT.
    edns: Option<u16>,
    /// The largest answer it takes, and the rule that says so.
    limit: usize,
    limit_rule: Option<PayloadRule>,
    /// The OPT its answers carry.
    opt: Option<OptOut>,
    /// Its client subnet, when passed through (RFC 7871).
    ecs: Option<subnet::Ecs>,
}

impl Forwarder {
    /// A client query: checked, then answered from the cache, or (if `admit` says yes) joined
    /// to the transaction in flight for its key, or forwarded in a new one. False: `admit`
    /// said no.
    pub(super) fn on_query(
        &mut self,
        now: Duration,
        client: ClientId,
        transport: Transport,
        bytes: &[u8],
        admit: impl FnOnce() -> bool,
    ) -> bool {
        // The key is built in place in this frame's buffer and lent to the rest of the path:
        // its 260 bytes are never moved.
        let mut key = KeyBuf::EMPTY;
        self.on_query_with(now, client, transport, bytes, &mut key, admit)
    }

    fn on_query_with(
        &mut self,
        now: Duration,
        client: ClientId,
        transport: Transport,
        bytes: &[u8],
        key: &mut KeyBuf,
        admit: impl FnOnce() -> bool,
    ) -> bool {
        self.stats.queries += 1;
        let Some(p) = self.check_query(now, client, transport, bytes, key) else {
            return true;
        };
        if self.cfg.events {
            let name = name_text(bytes, p.q.name_start);
            let (qtype, edns_size, dnssec_ok) = (p.q.qtype, p.edns, p.dnssec_ok);
            let (limit, limit_rule) = (p.limit, p.limit_rule);
            self.event(now, || EventKind::Query {
                client: client.0,
                name,
                qtype,
                transport,
                edns_size,
                dnssec_ok,
                limit,
                limit_rule,
            });
        }
        // A loop probe back (this server's, or another worker's): answered before local data
        // and the cache can, and the loop stops here. One compare for every other query.
        if p.q.qtype == RType::HINFO
            && self.on_looped_probe(
                now,
                client,
                transport,
                bytes,
                p.key.name_wire(),
                p.q.end,
                p.opt,
                p.limit,
            )
        {
            return true;
        }
        let waiter = Waiter {
            client,
            transport,
            query: Vec::new(),
            opt: p.opt,
            limit: p.limit,
            ecs: p.ecs,
        };
        if !self.local.is_empty() && self.answer_locally(now, &p, &waiter, bytes) {
            return true;
        }
        // A query with a client subnet passed through neither uses nor fills the cache: its
        // answer is tailored to the subnet (RFC 7871 7.3).
        let stale_fallback = if p.ecs.is_some() {
            None
        } else {
            let Some(sf) = self.answer_from_cache(now, &p, &waiter, bytes) else {
                return true;
            };
            sf
        };
        if !admit() {
            return false;
        }
        self.stats.cache_misses += 1;
        // The header and question only, counts set for one question (reusing a buffer).
        let mut query = self.buf_from(&bytes[..p.q.end.min(bytes.len())]);
        if query.len() >= HEADER_LEN {
            query[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        }
        let waiter = Waiter { query, ..waiter };
        self.forward(now, &p, waiter, bytes, stale_fallback);
        true
    }

    /// Checks a client's message. Returns what the rest of the path needs, or None when the
    /// message was dropped (no header, QR set) or answered with an error RCODE. The key is
    /// written into `key` (the engine's buffer), not returned: it is 260 bytes.
    #[inline(always)]
    fn check_query<'k>(
        &mut self,
        now: Duration,
        client: ClientId,
        transport: Transport,
        bytes: &[u8],
        key: &'k mut KeyBuf,
    ) -> Option<Checked<'k>> {
        // Not a query: dropped without an answer.
        let drop = |this: &mut Self, why: String| {
            this.stats.bad_queries += 1;
            this.event(now, || EventKind::BadQuery {
                client: client.0,
                rcode: None,
                why,
            });
            this.out.push_back(Output::ClientDropped { client });
            None
        };
        // A query that cannot be served: answered `rcode`.
        let reject = |this: &mut Self, rcode: Rcode, why: String| {
            this.reject(now, client, transport, bytes, rcode, why);
            None
        };
        let Ok(view) = MessageView::new(bytes) else {
            let why = format!("{} bytes: shorter than a DNS header, dropped", bytes.len());
            return drop(self, why);
        };
        if view.is_response() {
            return drop(self, "QR is set: a response, not a query; dropped".into());
        }
        if bytes.len() > self.cfg.max_query_size {
            return reject(
                self,
                Rcode::FORMERR,
                format!(
                    "query of {} B is larger than max_query_size {} B",
                    bytes.len(),
                    self.cfg.max_query_size
                ),
            );
        }
        // Before the section counts: an UPDATE (records in its update section) or a NOTIFY (the
        // SOA in its answer section) is NOTIMP, not FORMERR (RFC 2136 3, RFC 1996; Unbound's
        // `worker_check_request` checks the opcode first too).
        if view.opcode() != Opcode::QUERY {
            return reject(
                self,
                Rcode::NOTIMP,
                format!("opcode {} is not supported", view.opcode()),
            );
        }
        // A query carries one question, no answer or authority records, and at most an OPT and
        // a signature (TSIG or SIG(0)) in the additional section (RFC 1035 4.1.2, RFC 6891).
        if view.ancount() != 0 || view.nscount() != 0 || view.arcount() > 2 {
            // An IXFR carries the client's SOA in its authority section (RFC 1995 3): refused
            // as a zone transfer (below), not FORMERR.
            if view.nscount() == 1 && view.ancount() == 0 {
                if let Ok(Some(q)) = view.question() {
                    if q.qtype == RType::IXFR {
                        let why = "IXFR: a zone transfer is not forwarded".to_string();
                        return reject(self, Rcode::REFUSED, why);
                    }
                }
            }
            return reject(
                self,
                Rcode::FORMERR,
                format!(
                    "section counts {}/{}/{}/{}: a query has 1 question, no answers or authority, \
                     at most 2 additional records",
                    view.qdcount(),
                    view.ancount(),
                    view.nscount(),
                    view.arcount()
                ),
            );
        }
        let scan = match view.scan() {
            Ok(s) => s,
            Err(e) => return reject(self, Rcode::FORMERR, format!("query does not decode: {e}")),
        };
        let Some(q) = scan.question.filter(|_| view.qdcount() == 1) else {
            return reject(
                self,
                Rcode::FORMERR,
                format!("{} questions: exactly one is supported", view.qdcount()),
            );
        };
        // A zone transfer is a stream of messages between a secondary and its primary, not a
        // question for a forwarder: REFUSED, never forwarded (Unbound: "refused zone
        // transfer"). Forwarded, the client got the stream's first message only.
        if matches!(q.qtype, RType::AXFR | RType::IXFR) {
            return reject(
                self,
                Rcode::REFUSED,
                format!("{}: a zone transfer is not forwarded", q.qtype),
            );
        }
        if let Some(o) = &scan.opt {
            if o.version != 0 {
                return reject(
                    self,
                    Rcode::BADVERS,
                    format!("EDNS version {} (RFC 6891 6.1.3)", o.version),
                );
            }
        }
        let edns = scan.opt.as_ref().map(|o| o.udp_size);
        let dnssec_ok = scan.opt.as_ref().is_some_and(|o| o.dnssec_ok);
        let pl = payload_limit(edns, self.cfg.max_udp_payload);
        let (limit, limit_rule) = match transport {
            Transport::Tcp => (usize::from(u16::MAX), None),
            Transport::Udp => (usize::from(pl.bytes), Some(pl.rule)),
        };
        let opt = edns.map(|_| OptOut {
            udp_size: self.cfg.max_udp_payload,
            dnssec_ok,
        });
        let ecs = match (&scan.opt, self.cfg.client_subnet.passthrough) {
            (Some(o), true) => {
                let rdata = bytes.get(o.rdata.clone()).unwrap_or_default();
                match subnet::Ecs::from_opt(rdata, &self.cfg.client_subnet) {
                    Ok(e) => e,
                    Err(why) => return reject(self, Rcode::FORMERR, why),
                }
            }
            _ => None,
        };
        let cd = view.checking_disabled();
        if key.set_question(bytes, &q, dnssec_ok, cd).is_err() {
            return reject(self, Rcode::FORMERR, "question does not decode".into());
        }
        let key = &*key;
        let group = self.zones.group_of(key.name_wire());
        Some(Checked {
            q,
            key,
            group,
            dnssec_ok,
            cd,
            edns,
            limit,
            limit_rule,
            opt,
            ecs,
        })
    }

    /// Answers from local data (hosts files, local records, local zones) when the name has
    /// some or lies in a local zone. Local answers are never cached or sent upstream.
    fn answer_locally(&mut self, now: Duration, p: &Checked, w: &Waiter, bytes: &[u8]) -> bool {
        let (q, key) = (&p.q, p.key);
        let Some(hit) = self
            .local
            .lookup(bytes, q.name_start, key.name_wire(), q.qtype, q.qclass)
        else {
            return false;
        };
        let mut answer = hit.bytes;
        if let Some(o) = p.opt {
            build::append_opt(&mut answer, 0, &o.opt(0, None));
        }
        if self.cfg.events {
            let name = name_text(bytes, q.name_start);
            let (qtype, rcode, answers) = (q.qtype, hit.rcode, hit.answers);
            let source = hit.source.clone();
            let client = w.client.0;
            self.event(now, || EventKind::Local {
                client,
                name,
                qtype,
                rcode,
                answers,
                source,
            });
        }
        self.stats.local_answers += 1;
        let query = header_and_question(bytes, q.end);
        self.deliver(now, w, &query, answer, "local data");
        true
    }

    /// Answers from the cache when the policy says so (fresh, negative, stale, cached failure)
    /// and starts a prefetch when one is due. Returns None when answered, or the stale
    /// fallback the transaction should keep when the query goes upstream.
    fn answer_from_cache(
        &mut self,
        now: Duration,
        p: &Checked,
        waiter: &Waiter,
        bytes: &[u8],
    ) -> Option<Option<StaleFallback>> {
        let (q, key, qtype) = (&p.q, p.key, p.q.qtype);
        // The cache rules of the forwarding group the name belongs to.
        let group = p.group;
        // Under the shard's lock: the lookup, the policy's decision and the answer's bytes.
        let found = {
            let mut store = self.cache.lock(key.as_bytes());
            serve_from(
                &mut store,
                &self.zones.get(group).cache,
                key.as_bytes(),
                now,
                p,
                waiter,
                bytes,
            )
        };
        let (d, answer, source, steps) = match found {
            Found::Miss => {
                self.event_miss(now, bytes, q.name_start, qtype, ServeRule::Miss);
                return Some(None);
            }
            Found::Forward(d, stale_fallback) => {
                self.event_miss(now, bytes, q.name_start, qtype, d.rule);
                return Some(stale_fallback);
            }
            Found::Answer {
                d,
                answer,
                source,
                steps,
            } => (d, answer, source, steps),
        };
        let note = steps.and_then(|(s, original)| self.count_fit(&s, original));
        let rule = d.rule;
        let prefetch = matches!(d.serve, Serve::Fresh { prefetch: true, .. });
        match d.serve {
            Serve::Stale { .. } => self.stats.stale_answers += 1,
            _ => self.stats.cache_hits += 1,
        }
        if self.cfg.events {
            let ttl = match d.serve {
                Serve::Fresh { ttl, .. }
                | Serve::Negative { ttl }
                | Serve::Stale { ttl }
                | Serve::CachedFailure { ttl } => ttl,
                Serve::Forward { .. } => 0,
            };
            let name = name_text(bytes, q.name_start);
            self.event(now, || EventKind::CacheServe {
                client: waiter.client.0,
                name,
                qtype,
                rule,
                why: rule.why(),
                ttl,
            });
        }
        if note.is_none() && !self.cfg.events && answer.len() <= waiter.limit {
            // The usual hit: nothing to fit, note or tell.
            self.send_client(waiter.client, waiter.transport, answer);
        } else {
            self.deliver_noted(now, waiter, bytes, answer, source, note);
        }
        if prefetch && !self.pending.contains_key(key.as_bytes()) && self.refresh_allowed() {
            self.stats.prefetches += 1;
            self.start_for_client(now, p, bytes, Purpose::Prefetch, None, None);
        }
        None
    }

    /// A miss: joins the transaction in flight for the key (coalescing), or starts one, within
    /// the waiting and in-flight limits.
    fn forward(
        &mut self,
        now: Duration,
        p: &Checked,
        waiter: Waiter,
        bytes: &[u8],
        stale_fallback: Option<StaleFallback>,
    ) {
        let (q, key, qtype, client) = (&p.q, p.key, p.q.qtype, waiter.client);
        if self.waiting >= self.cfg.max_waiting {
            self.stats.busy += 1;
            self.stats.busy_by.waiting += 1;
            return self.servfail(
                now,
                &waiter,
                ede::OTHER,
                "too many clients waiting for answers".into(),
            );
        }
        // Every upstream of the name's group loops back here: asking would only bring the
        // query back (and make every client wait for the query timeout).
        if let Some(via) = self.group_loops(p.group) {
            self.stats.loop_answers += 1;
            let text = format!(
                "{}{via}: every upstream for this name forwards back to dnspect",
                super::loops::LOOP_TEXT
            );
            return self.servfail(now, &waiter, ede::NO_REACHABLE_AUTHORITY, text);
        }
        // Only queries for the same client subnet (as sent upstream) share a transaction.
        let pending = match p.ecs {
            Some(e) => self
                .pending_ecs
                .get(&e.pending_key(key.as_bytes()))
                .copied(),
            None => self.pending.get(key.as_bytes()).copied(),
        };
        if let Some(t) = pending {
            let max = self.cfg.max_waiters;
            if let Some(txn) = self.txns[t].as_mut() {
                if txn.waiters.len() < max {
                    txn.waiters.push(waiter);
                    self.waiting += 1;
                    if txn.stale_fallback.is_none() {
                        txn.stale_fallback = stale_fallback;
                    }
                    let n = txn.waiters.len();
                    self.stats.coalesced += 1;
                    if self.cfg.events {
                        let name = name_text(bytes, q.name_start);
                        self.event(now, || EventKind::Coalesced {
                            client: client.0,
                            name,
                            qtype,
                            waiters: n,
                        });
                    }
                    return;
                }
            }
            self.stats.busy += 1;
            self.stats.busy_by.waiters += 1;
            return self.servfail(
                now,
                &waiter,
                ede::OTHER,
                "too many clients waiting for the same answer".into(),
            );
        }
        let no_upstreams = self.upstreams.group_len(p.group) == 0;
        if self.active >= self.cfg.max_inflight || no_upstreams {
            self.stats.busy += 1;
            let why = if no_upstreams {
                self.stats.busy_by.no_upstreams += 1;
                "no upstreams configured"
            } else {
                self.stats.busy_by.inflight += 1;
                "too many queries in flight"
            };
            return self.servfail(now, &waiter, ede::OTHER, why.into());
        }
        self.start_for_client(now, p, bytes, Purpose::Client, Some(waiter), stale_fallback);
    }

    /// A transaction for a client's query, asked with the DO and CD bits the client set: the
    /// client's own, or a prefetch on its behalf.
    fn start_for_client(
        &mut self,
        now: Duration,
        p: &Checked,
        bytes: &[u8],
        purpose: Purpose,
        waiter: Option<Waiter>,
        stale_fallback: Option<StaleFallback>,
    ) {
        let (start, end) = (p.q.name_start, p.q.end);
        let (dnssec_ok, cd) = (p.dnssec_ok, p.cd);
        self.start_txn(
            now,
            *p.key,
            bytes,
            start,
            end,
            dnssec_ok,
            cd,
            purpose,
            waiter,
            stale_fallback,
            None,
            p.ecs,
        );
    }

    pub(super) fn event_miss(
        &mut self,
        now: Duration,
        bytes: &[u8],
        name_start: usize,
        qtype: RType,
        rule: ServeRule,
    ) {
        if self.cfg.events {
            let name = name_text(bytes, name_start);
            self.event(now, || EventKind::CacheMiss {
                name,
                qtype,
                rule,
                why: rule.why(),
            });
        }
    }

    /// Answers a query that cannot be served with `rcode` and no answer.
    pub(super) fn reject(
        &mut self,
        now: Duration,
        client: ClientId,
        transport: Transport,
        query: &[u8],
        rcode: Rcode,
        why: String,
    ) {
        self.stats.bad_queries += 1;
        let r = rcode;
        self.event(now, || EventKind::BadQuery {
            client: client.0,
            rcode: Some(r),
            why: why.clone(),
        });
        let out = rcode_answer(query, rcode, self.cfg.max_udp_payload);
        self.send_client(client, transport, out);
    }
}

/// What the cache had for a query.
enum Found {
    Miss,
    /// Kept, but the policy says ask upstream (with this stale fallback).
    Forward(ServeDecision, Option<StaleFallback>),
    /// Answered: the bytes, where from, and what fitting did (with the whole answer's size)
    /// when a fitted form was served.
    Answer {
        d: ServeDecision,
        answer: Vec<u8>,
        source: &'static str,
        steps: Option<(FitSteps, usize)>,
    },
}

/// Looks a query up in its shard (locked by the caller) and writes the answer the policy
/// allows: from the entry, or from its fitted form for the client's limit (made from the
/// entry once, then kept), so a hit never re-encodes.
fn serve_from(
    store: &mut Store,
    policy_cfg: &crate::cache::policy::CachePolicy,
    key: &[u8],
    now: Duration,
    p: &Checked,
    waiter: &Waiter,
    query: &[u8],
) -> Found {
    let Some(slot) = store.get_touched(key) else {
        return Found::Miss;
    };
    let d = policy::serve(&slot.lookup(), policy_cfg, now);
    let (shadow, fixed_ttl, ede, source) = match d.serve {
        Serve::Fresh { .. } => (false, None, None, "cache"),
        Serve::Negative { .. } => (true, None, None, "cache"),
        Serve::Stale { ttl } => (
            false,
            Some(ttl),
            Some((ede::STALE_ANSWER, d.rule.why())),
            "stale cache",
        ),
        Serve::CachedFailure { .. } => (
            true,
            None,
            Some((ede::CACHED_ERROR, d.rule.why())),
            "cached failure",
        ),
        Serve::Forward { stale_fallback } => return Found::Forward(d, stale_fallback),
    };
    fn pick(slot: &crate::cache::store::Slot, shadow: bool) -> Option<&Entry> {
        if shadow {
            slot.shadow.as_deref()
        } else {
            slot.positive.as_ref()
        }
    }
    let Some(entry) = pick(slot, shadow) else {
        return Found::Forward(d, None);
    };
    // The OPT the client gets: the policy's EDE, else the upstream's own (RFC 8914).
    fn opt_of<'a>(
        p: &Checked,
        e: &'a Entry,
        ede: Option<(u16, &'a str)>,
    ) -> Option<build::Opt<'a>> {
        let ede = ede.or_else(|| answer::upstream_ede(e));
        p.opt.map(|o| o.opt(e.ext_rcode, ede))
    }
    let opt = opt_of(p, entry, ede);
    let opt_len = opt.as_ref().map_or(0, build::Opt::wire_len);
    let body = waiter.limit.saturating_sub(opt_len);
    let whole = entry.wire().len();
    if whole > body && entry.form(body).is_none() {
        // First answer for this limit: fit once from the stored message and keep the form.
        let form = Message::from_wire(entry.wire())
            .ok()
            .and_then(|m| fitted_form(&m, whole, body));
        if let Some(f) = form {
            store.keep_form(key, shadow, f.clone());
            let Some(entry) = store.get(key).and_then(|s| pick(s, shadow)) else {
                return Found::Forward(d, None);
            };
            let form = entry.form(body).unwrap_or(&f);
            let opt = opt_of(p, entry, ede);
            return answer_with(entry, Some(form), p, query, now, fixed_ttl, opt, d, source);
        }
    }
    let form = (whole > body).then(|| entry.form(body)).flatten();
    answer_with(entry, form, p, query, now, fixed_ttl, opt, d, source)
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn answer_with(
    entry: &Entry,
    form: Option<&FittedForm>,
    p: &Checked,
    query: &[u8],
    now: Duration,
    fixed_ttl: Option<u32>,
    opt: Option<build::Opt<'_>>,
    d: ServeDecision,
    source: &'static str,
) -> Found {
    let opt_len = opt.as_ref().map_or(0, build::Opt::wire_len);
    let size = form.map_or(entry.wire().len(), |f| f.wire().len());
    let mut answer = Vec::with_capacity(size + opt_len);
    write_answer_form(entry, form, query, now, fixed_ttl, &mut answer);
    answer::mask_ad(&mut answer, query, p.dnssec_ok);
    if let Some(o) = &opt {
        build::append_opt(&mut answer, 0, o);
    }
    Found::Answer {
        d,
        answer,
        source,
        steps: form.map(|f| (f.steps.clone(), entry.wire().len() + opt_len)),
    }
}
