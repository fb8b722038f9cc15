//! Answering: caching an accepted answer by the policy, giving up (RFC 9520 failures,
//! RFC 8767 stale answers), fitting and sending answers to waiting clients, and the bytes of
//! the answers the engine writes itself.

use super::*;
use crate::wire::view::flags;

impl Forwarder {
    /// An answer to pass on: cache it by the policy, then answer every waiting client.
    ///
    /// `msg` is the one decode of `bytes`; `self.enc` holds its one encode in the cache's form
    /// (compressed, without OPT) and `self.ttls` where its TTLs are, both made by
    /// `on_response`. The entry is built from them, the answers are written from the entry,
    /// and an answer too large for a client is fitted from `msg` (the form is kept in the
    /// entry for the hits that follow): nothing is decoded or compressed twice.
    pub(super) fn accept(
        &mut self,
        now: Duration,
        t: usize,
        from: UpstreamId,
        mut msg: Message,
        bytes: &[u8],
        kind: AnswerKind,
    ) {
        let Some(txn) = self.txns[t].as_ref() else {
            return;
        };
        let key = txn.key;
        let purpose = txn.purpose;
        let group = usize::from(txn.group);
        let mut facts = ResponseFacts::from_classified(&msg, kind);
        // RFC 2181 8: a TTL with the top bit set means zero.
        if let Some(t) = facts.answer_min_ttl {
            if t >= 1 << 31 {
                facts.answer_min_ttl = Some(0);
            }
        }
        facts.other_upstream = self.upstreams.group_len(group) > 1;
        facts.verifies_suspect = purpose == Purpose::Verify && txn.verifying != Some(from);
        // What the store remembers about the chain's names only matters to a failure or a
        // negative answer (RFC 9520 backoff, the suspect-negative guard): a positive answer
        // skips the lookups.
        let history = if facts.rcode == Rcode::SERVFAIL || facts.negative.is_some() {
            self.history(&msg, &key, now)
        } else {
            NameHistory::default()
        };
        let ecs = txn.ecs.is_some();
        let lifetime = if ecs {
            Lifetime::DoNotCache {
                rule: crate::cache::policy::LifetimeRule::ClientSubnet,
            }
        } else {
            policy::lifetime(&facts, &self.zones.get(group).cache, &history, now)
        };
        // The upstream's scope for the subnet it was given (RFC 7871 7.2.2), echoed to clients.
        let scope = msg
            .edns
            .as_ref()
            .and_then(|e| {
                e.options.iter().find_map(|o| match o {
                    crate::wire::EdnsOption::ClientSubnet { scope_prefix, .. } => {
                        Some(*scope_prefix)
                    }
                    _ => None,
                })
            })
            .unwrap_or(0);
        let name = if self.cfg.events {
            name_text(&txn.question, 0)
        } else {
            Name::root()
        };
        let qtype = key.qtype();
        let retention = self.retention(group);
        let (kind, ttl) = match lifetime {
            Lifetime::DoNotCache { .. } => (None, 0),
            Lifetime::Positive { ttl, .. } => (Some(EntryKind::Positive), ttl),
            Lifetime::Negative { ttl, .. } => (Some(EntryKind::Negative), ttl),
            Lifetime::SuspectNegative { ttl, .. } if ttl > 0 => {
                (Some(EntryKind::SuspectNegative), ttl)
            }
            Lifetime::SuspectNegative { .. } => (None, 0),
            Lifetime::Failure { ttl, .. } => (Some(EntryKind::Failure), ttl),
        };
        if matches!(lifetime, Lifetime::SuspectNegative { .. }) {
            self.stats.suspect_negatives += 1;
        }
        let rule = lifetime.rule();
        // The upstream's first Extended DNS Error reaches clients with the answer (RFC 8914).
        let upstream_ede = msg
            .edns
            .as_ref()
            .and_then(|e| e.extended_error())
            .map(|(c, t)| (c, t.to_string()));
        if self.enc.is_empty() {
            // The one encode failed (a message over 65535 bytes once re-encoded).
            return self.give_up(
                now,
                t,
                ede::INVALID_DATA,
                "answer could not be stored".into(),
            );
        }
        let ext_rcode = msg.edns.as_ref().map_or(0, |e| e.ext_rcode);
        let opt_len = msg.edns.as_ref().map_or(0, crate::wire::Edns::wire_len);
        // The stored form drops OPT; the encode behind it compressed the upstream's answer
        // (uncompressed answers get compressed here).
        msg.edns = None;
        let stored_len = self.enc.len();
        let smaller = stored_len + opt_len < bytes.len();
        if smaller {
            self.stats.recompressed += 1;
        }
        let recompressed = (smaller && self.cfg.events).then(|| {
            format!(
                "upstream answer of {} B re-compressed to {} B",
                bytes.len(),
                stored_len
            )
        });
        let mut entry = Entry::from_encoded(
            self.enc.as_bytes(),
            &self.ttls,
            ext_rcode,
            kind.unwrap_or(EntryKind::Positive),
            now,
            ttl,
            retention,
            rule.as_str(),
        );
        // Our answers are recursive answers, never authoritative ones: RA set, AA cleared
        // (only local data answers with AA). AD is kept only from an upstream marked trusted
        // (RFC 6840 5.8), and shown only to clients that set DO or AD (`mask_ad`). The decoded
        // message gets the same flags: the fitted forms are made from it.
        let trusted = self
            .trusted
            .get(usize::from(from.0))
            .copied()
            .unwrap_or(false);
        let ad = if trusted && msg.header.ad {
            flags::AD
        } else {
            0
        };
        entry.set_flags(flags::RA | ad, flags::AA | flags::AD);
        msg.header.ra = true;
        msg.header.aa = false;
        msg.header.ad = ad != 0;
        let upstream_ttl = match kind {
            Some(EntryKind::Negative | EntryKind::SuspectNegative) => {
                facts.soa.map(|(t, m)| t.min(m))
            }
            Some(EntryKind::Failure) => None,
            _ => facts.answer_min_ttl,
        };
        let ede = upstream_ede.map(|(c, t)| (c, t.into_boxed_str()));
        entry.provenance = Provenance {
            upstream: self.labels.get(usize::from(from.0)).cloned(),
            upstream_ttl,
            ede,
        };
        if !self.cfg.events {
            // Nothing to say.
        } else if let Some(k) = kind {
            let kind_s = match k {
                EntryKind::Positive => "positive",
                EntryKind::Negative => "negative",
                EntryKind::SuspectNegative => "suspect negative",
                EntryKind::Failure => "failure",
            };
            let (n, q) = (name.clone(), qtype);
            self.event(now, || EventKind::Cached {
                name: n,
                qtype: q,
                kind: kind_s,
                ttl,
                rule,
                why: rule.why(),
            });
        } else {
            let (n, q) = (name.clone(), qtype);
            self.event(now, || EventKind::NotCached {
                name: n,
                qtype: q,
                rule,
                why: rule.why(),
            });
        }
        let waiters = self.txns[t]
            .as_mut()
            .map(|x| core::mem::take(&mut x.waiters))
            .unwrap_or_default();
        self.waiting = self.waiting.saturating_sub(waiters.len());
        let keep_positive = matches!(
            lifetime,
            Lifetime::SuspectNegative {
                keep_serving_positive: true,
                ..
            }
        );
        let verify = matches!(
            lifetime,
            Lifetime::SuspectNegative {
                verify_with_another_upstream: true,
                ..
            }
        );
        let stale_ttl = self.zones.get(group).cache.serve_stale.ttl;
        // The positive answer a suspect negative must not hide, read once.
        let positive = if keep_positive && !waiters.is_empty() {
            self.cache
                .lock(key.as_bytes())
                .get(key.as_bytes())
                .and_then(|s| s.positive.clone())
        } else {
            None
        };
        // Forms for the clients the whole answer is too large for, fitted from `msg`.
        if positive.is_none() {
            for w in &waiters {
                let body = w.limit.saturating_sub(w.opt.map_or(0, |_| OPT_LEN));
                if entry.wire().len() > body && entry.form(body).is_none() {
                    if let Some(f) = fitted_form(&msg, entry.wire().len(), body) {
                        entry.keep_form(f);
                    }
                }
            }
        }
        for w in &waiters {
            let (answer, source, note) = match &positive {
                Some(p) => (
                    answer_from(
                        p,
                        w,
                        now,
                        Some(stale_ttl),
                        Some((
                            ede::STALE_ANSWER,
                            "negative answer is suspect: last positive answer served",
                        )),
                    ),
                    "last positive answer (suspect negative)",
                    None,
                ),
                None => {
                    let (a, note) = self.answer_fitted(&entry, w, now, None, None, Some(scope));
                    let note = match (&recompressed, note) {
                        (Some(r), Some(n)) => Some(format!("{r}; {n}")),
                        (Some(r), None) => Some(r.clone()),
                        (None, n) => n,
                    };
                    (a, "upstream", note)
                }
            };
            self.deliver_noted(now, w, &w.query, answer, source, note);
        }
        if let Some(k) = kind {
            entry.kind = k;
            self.cache
                .lock(key.as_bytes())
                .insert(key.as_bytes(), entry, now);
        }
        self.finish(t);
        if verify && purpose != Purpose::Verify && self.refresh_allowed() {
            self.stats.verifications += 1;
            if let Some(w) = waiters.first() {
                let q = w.query.clone();
                if let Ok(Some(qr)) = MessageView::new(&q).and_then(|v| v.question()) {
                    let question = (qr.name_start, qr.end);
                    self.start_for_key(now, key, &q, question, Purpose::Verify, from);
                }
            } else {
                let q = self.synth_query(&key);
                let question = (HEADER_LEN, q.len());
                self.start_for_key(now, key, &q, question, Purpose::Verify, from);
            }
        }
        self.spare_waiters(waiters);
    }

    /// The answer a waiter gets from `e`: from the fitted form for its limit when the whole
    /// answer is too large and the entry keeps one, else whole (and `deliver` fits it). With
    /// the event note of the fitting, when events are on.
    pub(super) fn answer_fitted(
        &mut self,
        e: &Entry,
        w: &Waiter,
        now: Duration,
        fixed_ttl: Option<u32>,
        ede: Option<(u16, &str)>,
        ecs_scope: Option<u8>,
    ) -> (Vec<u8>, Option<String>) {
        let ede = ede.or_else(|| upstream_ede(e));
        let opt = w.opt.map(|o| o.opt(e.ext_rcode, ede));
        let opt_len = opt.as_ref().map_or(0, build::Opt::wire_len);
        let body = w.limit.saturating_sub(opt_len);
        let form = (e.wire().len() > body).then(|| e.form(body)).flatten();
        let size = form.map_or(e.wire().len(), |f| f.wire().len());
        let mut answer = Vec::with_capacity(size + opt_len);
        write_answer_form(e, form, &w.query, now, fixed_ttl, &mut answer);
        mask_ad(&mut answer, &w.query, w.opt.is_some_and(|o| o.dnssec_ok));
        if let Some(o) = &opt {
            let opt_start = answer.len();
            build::append_opt(&mut answer, 0, o);
            // The client's subnet echoed with the upstream's scope (RFC 7871 7.2.2).
            if let (Some(subnet), Some(scope)) = (w.ecs, ecs_scope) {
                let code = crate::wire::OptCode::CLIENT_SUBNET.0;
                build::push_option(&mut answer, opt_start, code, &subnet.echo_data(scope));
            }
        }
        let note = form.map(|f| self.count_fit(&f.steps, e.wire().len() + opt_len));
        (answer, note.flatten())
    }

    /// Counts a fitted answer served and, when events are on, says what fitting did.
    pub(super) fn count_fit(&mut self, steps: &FitSteps, original: usize) -> Option<String> {
        if steps.truncation.is_some() {
            self.stats.truncated += 1;
        }
        if !self.cfg.events {
            return None;
        }
        let mut note = format!("{original} B (cached compressed: {} B)", steps.original);
        if let Some(m) = steps.minimized {
            note.push_str(&format!(", minimal response {m} B"));
        }
        if let Some(t) = &steps.truncation {
            note.push_str(&format!(
                ", truncated to {} B{} ({} answer, {} authority, {} additional records dropped)",
                t.size,
                if t.tc { " with TC" } else { "" },
                t.dropped[0],
                t.dropped[1],
                t.dropped[2]
            ));
        }
        Some(note)
    }

    /// A query for a key (for refreshes started without a client).
    pub(super) fn synth_query(&self, key: &KeyBuf) -> Vec<u8> {
        let mut question = key.name_wire().to_vec();
        question.extend_from_slice(&key.as_bytes()[1..5]);
        build::query(0, false, &question, None)
    }

    /// How long the store keeps an entry of a forwarding group past its expiry.
    pub(super) fn retention(&self, group: usize) -> Duration {
        let c = &self.zones.get(group).cache;
        let stale = if c.serve_stale.enabled {
            c.serve_stale.window
        } else {
            Duration::ZERO
        };
        stale.max(c.suspect_window)
    }

    /// What the store remembers about the names of a response's CNAME chain.
    pub(super) fn history(&self, msg: &Message, key: &KeyBuf, _now: Duration) -> NameHistory {
        let mut h = NameHistory::default();
        let flags_byte = key.as_bytes()[0];
        let type_class = &key.as_bytes()[1..5];
        let mut buf = [0u8; crate::cache::store::MAX_KEY_LEN];
        crate::wire::classify::walk_chain(msg, |name| {
            let w = name.as_wire();
            buf[0] = flags_byte;
            buf[1..5].copy_from_slice(type_class);
            buf[5..5 + w.len()].copy_from_slice(w);
            buf[5..5 + w.len()].make_ascii_lowercase();
            let k = &buf[..5 + w.len()];
            let store = self.cache.lock(k);
            let Some(slot) = store.get(k) else {
                return;
            };
            if let Some(p) = &slot.positive {
                let lp = LastPositive {
                    received: p.stored_at,
                    ttl: p.ttl,
                };
                if h.last_positive.is_none_or(|x| x.received < lp.received) {
                    h.last_positive = Some(lp);
                }
            }
            if &k[5..] == key.name_wire() {
                if let Some(s) = slot
                    .shadow
                    .as_ref()
                    .filter(|s| s.kind == EntryKind::Failure)
                {
                    h.consecutive_failures = s.failures;
                }
            }
        });
        h
    }

    /// The engine stops trying: cache the failure (RFC 9520) and answer SERVFAIL with an EDE,
    /// or the stale answer when there is one (RFC 8767).
    pub(super) fn give_up(&mut self, now: Duration, t: usize, ede_code: u16, text: String) {
        self.give_up_caching(now, t, ede_code, text, true);
    }

    /// The shell is stopping and its drain deadline has passed: every client still waiting
    /// gets its answer now (the stale answer where its group serves stale on failure, else
    /// SERVFAIL with EDE 0 and `why`) instead of its own timeout, so a stub resolver moves to
    /// its next server at once. Nothing is cached: the upstreams did not fail. Returns the
    /// number of clients answered.
    pub fn answer_waiting_now(&mut self, now: Duration, why: &str) -> usize {
        let before = self.waiting;
        for t in 0..self.txns.len() {
            if self.txns[t].as_ref().is_some_and(|x| !x.waiters.is_empty()) {
                self.give_up_caching(now, t, ede::OTHER, why.to_string(), false);
            }
        }
        before - self.waiting
    }

    /// Gives up on transaction `t`: its waiters get the stale answer or SERVFAIL; with
    /// `cache_failure`, the failure is cached by the policy (RFC 9520).
    pub(super) fn give_up_caching(
        &mut self,
        now: Duration,
        t: usize,
        ede_code: u16,
        text: String,
        cache_failure: bool,
    ) {
        self.stats.gave_up += 1;
        let Some(txn) = self.txns[t].as_mut() else {
            return;
        };
        let key = txn.key;
        let group = usize::from(txn.group);
        let waiters = core::mem::take(&mut txn.waiters);
        self.waiting = self.waiting.saturating_sub(waiters.len());
        let stale_ok = txn.stale_fallback;
        let purpose = txn.purpose;
        let ecs = txn.ecs.is_some();
        let name = if self.cfg.events {
            name_text(&txn.question, 0)
        } else {
            Name::root()
        };
        let qtype = key.qtype();
        {
            let (n, q, tx) = (name.clone(), qtype, text.clone());
            self.event(now, || EventKind::GaveUp {
                name: n,
                qtype: q,
                ede: ede_code,
                text: tx,
            });
        }
        // A failure for a client subnet says nothing about the name for everyone else.
        if cache_failure && !purpose.is_probe() && !ecs {
            // The failures so far, and the positive answer still kept (served stale while the
            // failure lasts, so the failure lasts the stale recheck time, RFC 8767 5).
            let history = self
                .cache
                .lock(key.as_bytes())
                .get(key.as_bytes())
                .map(|s| NameHistory {
                    last_positive: s.positive.as_ref().map(|p| LastPositive {
                        received: p.stored_at,
                        ttl: p.ttl,
                    }),
                    consecutive_failures: s
                        .shadow
                        .as_ref()
                        .filter(|e| e.kind == EntryKind::Failure)
                        .map_or(0, |e| e.failures),
                })
                .unwrap_or_default();
            let cache = &self.zones.get(group).cache;
            let lifetime = policy::lifetime(&ResponseFacts::failure(), cache, &history, now);
            if let Lifetime::Failure { ttl, rule } = lifetime {
                let q = self.synth_query(&key);
                let fail = build::servfail(&q, None, ede_code, &text);
                if let Ok(mut e) = Entry::new(
                    &fail,
                    EntryKind::Failure,
                    now,
                    ttl,
                    Duration::ZERO,
                    rule.as_str(),
                ) {
                    e.failures = history.consecutive_failures + 1;
                    // Why it failed, for `dnspect cache show` (clients get EDE 13, Cached
                    // Error, for it).
                    e.provenance.ede = Some((ede_code, text.clone().into_boxed_str()));
                    self.cache
                        .lock(key.as_bytes())
                        .insert(key.as_bytes(), e, now);
                    let (n, q) = (name.clone(), qtype);
                    self.event(now, || EventKind::Cached {
                        name: n,
                        qtype: q,
                        kind: "failure",
                        ttl,
                        rule,
                        why: rule.why(),
                    });
                }
            }
        }
        let stale = stale_ok.and_then(|sf| {
            self.cache
                .lock(key.as_bytes())
                .get(key.as_bytes())
                .and_then(|s| s.positive.clone())
                .map(|p| (p, sf.ttl))
        });
        for w in &waiters {
            match &stale {
                Some((p, ttl)) => {
                    self.stats.stale_answers += 1;
                    let answer =
                        answer_from(p, w, now, Some(*ttl), Some((ede::STALE_ANSWER, &text)));
                    self.deliver(now, w, &w.query, answer, "stale cache (upstreams failed)");
                }
                None => self.servfail(now, w, ede_code, text.clone()),
            }
        }
        self.finish(t);
    }

    pub(super) fn servfail(&mut self, now: Duration, w: &Waiter, ede_code: u16, text: String) {
        let q = if w.query.is_empty() { return } else { &w.query };
        let answer = build::servfail(q, w.opt.map(|o| o.opt(0, None)), ede_code, &text);
        let w2 = w.clone();
        self.deliver(now, &w2, &w2.query, answer, "synthesized SERVFAIL");
    }

    /// Fits an answer to the client's limit and sends it.
    pub(super) fn deliver(
        &mut self,
        now: Duration,
        w: &Waiter,
        query: &[u8],
        answer: Vec<u8>,
        source: &'static str,
    ) {
        self.deliver_noted(now, w, query, answer, source, None);
    }

    pub(super) fn deliver_noted(
        &mut self,
        now: Duration,
        w: &Waiter,
        query: &[u8],
        mut answer: Vec<u8>,
        source: &'static str,
        note: Option<String>,
    ) {
        let mut fit_note = note;
        if answer.len() > w.limit {
            match fit(&answer, w.limit) {
                Ok(f) => {
                    if f.recompressed < f.original {
                        self.stats.recompressed += 1;
                    }
                    let mut note = fit_note.take().map_or(String::new(), |n| format!("{n}; "))
                        + &format!("{} B", f.original);
                    if f.recompressed < f.original {
                        note.push_str(&format!(", re-compressed to {} B", f.recompressed));
                    }
                    if let Some(m) = f.minimized {
                        note.push_str(&format!(", minimal response {m} B"));
                    }
                    if let Some(t) = &f.truncation {
                        self.stats.truncated += 1;
                        note.push_str(&format!(", truncated to {} B{} ({} answer, {} authority, {} additional records dropped)", t.size, if t.tc { " with TC" } else { "" }, t.dropped[0], t.dropped[1], t.dropped[2]));
                    }
                    fit_note = Some(note);
                    answer = f.bytes;
                }
                Err(e) => {
                    fit_note = Some(format!("could not fit: {e}"));
                    answer = build::servfail(
                        query,
                        w.opt.map(|o| o.opt(0, None)),
                        ede::OTHER,
                        "answer could not be fitted to the client",
                    );
                }
            }
        }
        if self.cfg.events {
            let name = MessageView::new(query)
                .ok()
                .and_then(|v| v.question().ok().flatten())
                .map_or((Name::root(), RType(0)), |q| {
                    (name_text(query, q.name_start), q.qtype)
                });
            let rcode = Rcode(u16::from(answer.get(3).map_or(0, |b| b & 0xf)));
            let (size, limit, client) = (answer.len(), w.limit, w.client.0);
            self.event(now, || EventKind::Answered {
                client,
                name: name.0,
                qtype: name.1,
                rcode,
                size,
                limit,
                source,
                fit: fit_note,
            });
        }
        self.send_client(w.client, w.transport, answer);
    }

    pub(super) fn finish(&mut self, t: usize) {
        // Read in place (a transaction is large: moving it out is a copy of its key).
        let Some(txn) = self.txns[t].as_mut() else {
            return;
        };
        let current = txn.current.take();
        let earlier = core::mem::take(&mut txn.earlier);
        let question = core::mem::take(&mut txn.question);
        let waiters = core::mem::take(&mut txn.waiters);
        let probe = txn.purpose.is_probe();
        // One lookup: the key's transaction is this one (a probe's never is). A transaction
        // for a client subnet is pending under its key and subnet.
        if let Some(e) = txn.ecs.filter(|_| !probe) {
            let k = e.pending_key(txn.key.as_bytes());
            if self.pending_ecs.get(&k) == Some(&t) {
                self.pending_ecs.remove(&k);
            }
        } else if !probe {
            if let Some(other) = self.pending.remove(txn.key.as_bytes()) {
                if other != t {
                    self.pending.insert(txn.key, other);
                }
            }
        }
        self.txns[t] = None;
        if let Some(s) = current {
            self.release(&s);
        }
        for s in &earlier {
            self.release(s);
        }
        self.waiting = self.waiting.saturating_sub(waiters.len());
        self.free_txns.push(t);
        self.active -= 1;
        self.spare_buf(question);
        self.spare_waiters(waiters);
    }
}

/// The answer a waiter gets from a stored or transient entry: the entry's bytes with the
/// client's ID and question case, TTLs aged (or fixed), and an OPT (with an optional EDE) when
/// the client sent one.
pub(super) fn answer_from(
    e: &Entry,
    w: &Waiter,
    now: Duration,
    fixed_ttl: Option<u32>,
    ede: Option<(u16, &str)>,
) -> Vec<u8> {
    let mut answer = Vec::with_capacity(e.wire().len() + 64);
    write_answer(e, &w.query, now, fixed_ttl, None, &mut answer);
    mask_ad(&mut answer, &w.query, w.opt.is_some_and(|o| o.dnssec_ok));
    if let Some(o) = w.opt {
        let ede = ede.or_else(|| upstream_ede(e));
        build::append_opt(&mut answer, 0, &o.opt(e.ext_rcode, ede));
    }
    answer
}

/// The OPT an answer to an EDNS client carries without options (11 bytes).
pub(super) const OPT_LEN: usize = 11;

/// The form of a message whose stored encoding (`wire_len` bytes, without OPT) is larger than
/// `limit`, fitted from the decoded message; None if it cannot be (the answer is then fitted,
/// or refused, when it is delivered).
pub(super) fn fitted_form(msg: &Message, wire_len: usize, limit: usize) -> Option<FittedForm> {
    let (bytes, minimized, truncation) = crate::wire::fit::fit_message(msg, limit).ok()?;
    let steps = FitSteps {
        original: wire_len,
        minimized: Some(minimized),
        truncation,
    };
    FittedForm::new(limit, &bytes, steps).ok()
}

/// The upstream's EDE an entry carries, to pass on (RFC 8914).
pub(super) fn upstream_ede(e: &Entry) -> Option<(u16, &str)> {
    e.provenance.ede.as_ref().map(|(c, t)| (*c, &**t))
}

/// Clears AD in an answer unless the client asked for it by setting DO or AD (RFC 6840 5.7:
/// "only set the AD bit in a response if ... the request contained either a set DO bit or a
/// set AD bit").
pub(super) fn mask_ad(answer: &mut [u8], query: &[u8], dnssec_ok: bool) {
    let asked_ad = query
        .get(2..4)
        .is_some_and(|f| u16::from_be_bytes([f[0], f[1]]) & flags::AD != 0);
    if !(dnssec_ok || asked_ad) {
        // AD is in the flags' low byte (0x0020).
        if let Some(b) = answer.get_mut(3) {
            *b &= !0x20;
        }
    }
}

/// The name at `start` as text (for events).
pub(super) fn name_text(msg: &[u8], start: usize) -> Name {
    crate::wire::name::read_name(msg, start)
        .map(|(n, _)| n)
        .unwrap_or_else(|_| Name::root())
}
