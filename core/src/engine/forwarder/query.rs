//! Client queries: validation, answers from the cache (fresh, stale, negative, cached
//! failure), joining a transaction in flight or starting one.

use super::*;
use crate::cache::policy::ServeRule;
use crate::engine::decide::PayloadRule;
use crate::wire::view::QuestionRef;

/// A client query that passed the checks: what answering or forwarding it needs.
struct Checked {
    q: QuestionRef,
    key: KeyBuf,
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
    /// A client query: checked, then answered from the cache, or joined to the transaction in
    /// flight for its key, or forwarded in a new one.
    pub(super) fn on_query(
        &mut self,
        now: Duration,
        client: ClientId,
        transport: Transport,
        bytes: &[u8],
    ) {
        self.stats.queries += 1;
        let Some(p) = self.check_query(now, client, transport, bytes) else {
            return;
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
        let waiter = Waiter {
            client,
            transport,
            query: Vec::new(),
            opt: p.opt,
            limit: p.limit,
            ecs: p.ecs,
        };
        // A query with a client subnet passed through neither uses nor fills the cache: its
        // answer is tailored to the subnet (RFC 7871 7.3).
        let stale_fallback = if p.ecs.is_some() {
            None
        } else {
            let Some(sf) = self.answer_from_cache(now, &p, &waiter, bytes) else {
                return;
            };
            sf
        };
        self.stats.cache_misses += 1;
        let waiter = Waiter {
            query: header_and_question(bytes, p.q.end),
            ..waiter
        };
        self.forward(now, &p, waiter, bytes, stale_fallback);
    }

    /// Checks a client's message. Returns what the rest of the path needs, or None when the
    /// message was dropped (no header, QR set) or answered with an error RCODE.
    fn check_query(
        &mut self,
        now: Duration,
        client: ClientId,
        transport: Transport,
        bytes: &[u8],
    ) -> Option<Checked> {
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
        // A query carries one question, no answer or authority records, and at most an OPT and
        // a signature (TSIG or SIG(0)) in the additional section (RFC 1035 4.1.2, RFC 6891).
        if view.ancount() != 0 || view.nscount() != 0 || view.arcount() > 2 {
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
        if view.opcode() != Opcode::QUERY {
            return reject(
                self,
                Rcode::NOTIMP,
                format!("opcode {} is not supported", view.opcode()),
            );
        }
        let Some(q) = scan.question.filter(|_| view.qdcount() == 1) else {
            return reject(
                self,
                Rcode::FORMERR,
                format!("{} questions: exactly one is supported", view.qdcount()),
            );
        };
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
        let Ok(key) = KeyBuf::from_question(bytes, &q, dnssec_ok, cd) else {
            return reject(self, Rcode::FORMERR, "question does not decode".into());
        };
        Some(Checked {
            q,
            key,
            dnssec_ok,
            cd,
            edns,
            limit,
            limit_rule,
            opt,
            ecs,
        })
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
        let Some(slot) = self.store.get_touched(key.as_bytes()) else {
            self.event_miss(now, bytes, q.name_start, qtype, ServeRule::Miss);
            return Some(None);
        };
        let d = policy::serve(&slot.lookup(), &self.cfg.cache, now);
        let mut stale_fallback = None;
        let served = match d.serve {
            Serve::Fresh { .. } => slot.positive.as_ref().map(|e| (e, None, None, "cache")),
            Serve::Negative { .. } => slot.shadow.as_ref().map(|e| (e, None, None, "cache")),
            Serve::Stale { ttl } => slot.positive.as_ref().map(|e| {
                (
                    e,
                    Some(ttl),
                    Some((ede::STALE_ANSWER, d.rule.why())),
                    "stale cache",
                )
            }),
            Serve::CachedFailure { .. } => slot.shadow.as_ref().map(|e| {
                (
                    e,
                    None,
                    Some((ede::CACHED_ERROR, d.rule.why())),
                    "cached failure",
                )
            }),
            Serve::Forward { stale_fallback: sf } => {
                stale_fallback = sf;
                None
            }
        };
        let Some((entry, fixed_ttl, ede, source)) = served else {
            self.event_miss(now, bytes, q.name_start, qtype, d.rule);
            return Some(stale_fallback);
        };
        let mut answer = Vec::with_capacity(entry.wire().len() + 64);
        write_answer(entry, bytes, now, fixed_ttl, None, &mut answer);
        answer::mask_ad(&mut answer, bytes, p.dnssec_ok);
        if let Some(o) = p.opt {
            let ede = ede.or_else(|| answer::upstream_ede(entry));
            build::append_opt(&mut answer, 0, &o.opt(entry.ext_rcode, ede));
        }
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
        self.deliver(now, waiter, bytes, answer, source);
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
            return self.servfail(
                now,
                &waiter,
                ede::OTHER,
                "too many clients waiting for answers".into(),
            );
        }
        let ecs_key = p.ecs.map(|e| e.pending_key(key.as_bytes()));
        let pending_key = ecs_key.as_deref().unwrap_or(key.as_bytes());
        if let Some(&t) = self.pending.get(pending_key) {
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
            return self.servfail(
                now,
                &waiter,
                ede::OTHER,
                "too many clients waiting for the same answer".into(),
            );
        }
        if self.active >= self.cfg.max_inflight || self.upstreams.is_empty() {
            self.stats.busy += 1;
            let why = if self.upstreams.is_empty() {
                "no upstreams configured"
            } else {
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
            p.key,
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
