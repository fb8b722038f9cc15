//! Transactions and attempts: starting a transaction, sending each attempt to an upstream,
//! transport failures, and the fallback decision after an attempt ends.

use super::*;

impl Forwarder {
    // -----------------------------------------------------------------------------------------
    // Transactions and attempts
    // -----------------------------------------------------------------------------------------

    /// A transaction no client waits on (a verification or a probe), sent to `only` (a probe)
    /// or to any upstream but `only` (a verification), asked with the key's DO and CD bits.
    /// `question`: where the question's name starts and the question ends in `query`.
    pub(super) fn start_for_key(
        &mut self,
        now: Duration,
        key: KeyBuf,
        query: &[u8],
        question: (usize, usize),
        purpose: Purpose,
        only: UpstreamId,
    ) {
        let bits = key.as_bytes()[0];
        let (dnssec_ok, cd) = (bits & 1 != 0, bits & 2 != 0);
        let (start, end) = question;
        self.start_txn(
            now,
            key,
            query,
            start,
            end,
            dnssec_ok,
            cd,
            purpose,
            None,
            None,
            Some(only),
            None,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_txn(
        &mut self,
        now: Duration,
        key: KeyBuf,
        query: &[u8],
        name_start: usize,
        q_end: usize,
        dnssec_ok: bool,
        checking_disabled: bool,
        purpose: Purpose,
        waiter: Option<Waiter>,
        stale_fallback: Option<StaleFallback>,
        only: Option<UpstreamId>,
        ecs: Option<subnet::Ecs>,
    ) {
        self.gen = self.gen.wrapping_add(1);
        let gen = self.gen;
        let deadline = self.limits.deadline(now);
        let waiter_count = usize::from(waiter.is_some());
        let question = self.buf_from(&query[name_start..q_end]);
        let mut waiters = self.spare_waiters.pop().unwrap_or_default();
        waiters.extend(waiter);
        // A probe asks its upstream's group; everything else the group of its name.
        let group = match (purpose, only) {
            (Purpose::Probe | Purpose::LoopCheck, Some(u)) => self.upstreams.get(u).group,
            _ => self.zones.group_of(key.name_wire()) as u16,
        };
        let txn = Txn {
            gen,
            key,
            group,
            question,
            dnssec_ok,
            checking_disabled,
            waiters,
            purpose,
            deadline,
            attempts: 0,
            tried: 0,
            current: None,
            earlier: Vec::new(),
            stale_fallback,
            last_problem: None,
            verifying: if purpose == Purpose::Verify {
                only
            } else {
                None
            },
            ecs,
        };
        let t = match self.free_txns.pop() {
            Some(t) => {
                self.txns[t] = Some(txn);
                t
            }
            None => {
                self.txns.push(Some(txn));
                self.txns.len() - 1
            }
        };
        self.active += 1;
        self.waiting += usize::from(waiter_count > 0);
        if !purpose.is_probe() {
            match ecs {
                Some(e) => {
                    self.pending_ecs.insert(e.pending_key(key.as_bytes()), t);
                }
                None => {
                    self.pending.insert(key, t);
                }
            }
        }
        self.schedule(deadline, Timer::Deadline { txn: t, gen });
        if let Some(sf) = stale_fallback {
            self.schedule(now + sf.answer_after, Timer::StaleAnswer { txn: t, gen });
        }
        if purpose == Purpose::Verify {
            if let Some(ex) = only {
                // Verification goes to another upstream than the one that answered.
                let b = self.upstreams.bit(ex);
                if let Some(txn) = self.txns[t].as_mut() {
                    // Only meaningful within the group; another group's upstream is no bit.
                    if self.upstreams.get(ex).group == txn.group {
                        txn.tried |= b;
                    }
                }
            }
            self.attempt(now, t, None, None, None, "verify with another upstream");
        } else {
            let why = match purpose {
                Purpose::Probe => "the answer must come back whole or with TC",
                Purpose::LoopCheck => "a random name: it comes back here only through a loop",
                _ => "",
            };
            self.attempt(now, t, only, None, None, why);
        }
    }

    /// Sends the next attempt of transaction `t`.
    pub(super) fn attempt(
        &mut self,
        now: Duration,
        t: usize,
        upstream: Option<UpstreamId>,
        transport: Option<Transport>,
        edns: Option<bool>,
        why: &str,
    ) {
        let Some(txn) = self.txns[t].as_ref() else {
            return;
        };
        let (tried, group) = (txn.tried, usize::from(txn.group));
        let (up, rule, rule_why) = match upstream {
            Some(u) => (u, "", ""),
            None => {
                self.sync_loops();
                match self.upstreams.pick_why(group, tried, now, &mut self.rng) {
                    Some(p) => p,
                    None => {
                        // Every upstream of the group loops back here (found while this
                        // query was in flight): nothing to ask.
                        if let Some(via) = self.group_loops(group) {
                            self.stats.loop_answers += 1;
                            let text = format!("{}{via}", super::loops::LOOP_TEXT);
                            self.give_up_caching(now, t, ede::NO_REACHABLE_AUTHORITY, text, false);
                        }
                        return;
                    }
                }
            }
        };
        // The reason in words, only for the event.
        let why = if !self.cfg.events {
            String::new()
        } else if rule.is_empty() {
            why.to_string()
        } else if why.is_empty() {
            format!("{rule}{rule_why}")
        } else {
            format!("{why}; {rule}{rule_why}")
        };
        let why = if self.zones.named() && self.cfg.events {
            format!("zone {}: {why}", self.zones.get(group).name)
        } else {
            why
        };
        let udp_payload = self.zones.get(group).udp_payload;
        let bit = self.upstreams.bit(up);
        let state = self.upstreams.get(up);
        let transport = transport.unwrap_or(if state.force_tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        });
        let probe_edns = (self.txns[t].as_ref().map(|x| x.purpose) == Some(Purpose::Probe))
            .then(|| self.zones.get(group).probe.as_ref().map(|p| p.edns))
            .flatten();
        // A DO or CD query always goes with EDNS: an upstream learned to reject EDNS cannot
        // give it a usable answer without (RFC 6840 5.7); the fallback asks another one.
        let needs_edns = self.txns[t]
            .as_ref()
            .is_some_and(|x| x.dnssec_ok || x.checking_disabled);
        let edns = edns
            .or(probe_edns)
            .unwrap_or_else(|| needs_edns || self.upstreams.edns_ok(up, now));
        // A fresh CSPRNG draw per attempt (RFC 5452 9.2): answers are bound to their transmit
        // by token, so IDs need not be unique across upstreams to be matched.
        let id = self.rng.next_u16();
        let Some(txn) = self.txns[t].as_mut() else {
            return;
        };
        let opt = build::Opt::new(udp_payload, txn.dnssec_ok);
        let mut q = build::query(
            id,
            txn.checking_disabled,
            &txn.question,
            edns.then_some(&opt),
        );
        // AD in every query (RFC 6840 5.7): a validating upstream then says whether the data
        // validated even without DO, and the cached answer serves clients that ask with AD as
        // well as those that do not (`mask_ad` clears it for them).
        q[3] |= 0x20;
        if let (true, Some(e)) = (edns, &txn.ecs) {
            let opt_start = HEADER_LEN + txn.question.len();
            build::push_option(
                &mut q,
                opt_start,
                crate::wire::OptCode::CLIENT_SUBNET.0,
                &e.upstream_data(),
            );
        }
        let token = self.next_token;
        self.next_token += 1;
        txn.attempts += 1;
        txn.tried |= bit;
        txn.current = Some(Sent {
            upstream: up,
            transport,
            id,
            edns,
            at: now,
            token,
        });
        let gen = txn.gen;
        let attempt_no = txn.attempts;
        let purpose = txn.purpose;
        let name = if self.cfg.events {
            name_text(&txn.question, 0)
        } else {
            Name::root()
        };
        let qtype = txn.key.qtype();
        self.outstanding.insert(token, (t, gen));
        self.upstreams.get_mut(up).counters.queries += 1;
        let label = if self.cfg.events {
            self.upstreams.get(up).label.clone()
        } else {
            String::new()
        };
        self.event(now, || EventKind::Forwarded {
            name,
            qtype,
            upstream: label,
            transport,
            edns,
            id,
            attempt: attempt_no,
            purpose: purpose.as_str(),
            why,
        });
        self.out.push_back(Output::Query(UpstreamQuery {
            upstream: up,
            transport,
            bytes: q,
            token,
        }));
        let timeout = self.cfg.attempt_timeout;
        self.schedule(now + timeout, Timer::Attempt { txn: t, gen, token });
    }

    pub(super) fn on_failure(&mut self, now: Duration, token: u64, why: Option<&str>) {
        let Some(&(t, gen)) = self.outstanding.get(&token) else {
            return;
        };
        let Some(sent) = self.txns[t]
            .as_ref()
            .filter(|x| x.gen == gen)
            .and_then(|x| x.current)
            .filter(|s| s.token == token)
        else {
            self.outstanding.remove(&token);
            return;
        };
        self.release(&sent);
        self.upstreams
            .get_mut(sent.upstream)
            .counters
            .network_errors += 1;
        // Read (and cleared) by `after_attempt`, which words the EDE.
        self.failure_why = why.map(String::from);
        self.after_attempt(now, t, sent, Outcome::NetworkError, None);
    }

    /// Stops waiting on an upstream transmit and tells the runtime so.
    pub(super) fn release(&mut self, sent: &Sent) {
        if self.outstanding.remove(&sent.token).is_some() {
            self.out
                .push_back(Output::UpstreamDone { token: sent.token });
        }
    }

    /// Whether a prefetch or a verification may start: they share the in-flight budget with
    /// client queries, and yield to them (at most half of it).
    pub(super) fn refresh_allowed(&mut self) -> bool {
        let ok = self.active < self.cfg.max_inflight / 2;
        if !ok {
            self.stats.refreshes_skipped += 1;
        }
        ok
    }

    /// Decides and acts after an attempt ended.
    pub(super) fn after_attempt(
        &mut self,
        now: Duration,
        t: usize,
        sent: Sent,
        outcome: Outcome,
        msg: Option<(Message, &[u8], AnswerKind)>,
    ) {
        let Some(txn) = self.txns[t].as_mut() else {
            return;
        };
        txn.current = None;
        if txn.purpose == Purpose::LoopCheck {
            let m = msg.as_ref().map(|(m, _, _)| m);
            return self.loop_probe_done(now, t, sent, outcome, m);
        }
        if txn.purpose == Purpose::Probe {
            let label = self.upstreams.get(sent.upstream).label.clone();
            let healthy = matches!(outcome, Outcome::Answer | Outcome::Truncated);
            // A probe that comes back broken counts like an unreachable upstream: the point of
            // checking content is that "it answers" is not "it answers usably" (incident 000).
            let verdict = if healthy {
                UpstreamVerdict::Answered
            } else {
                UpstreamVerdict::Unreachable
            };
            self.upstreams.record(
                sent.upstream,
                verdict,
                Some(now.saturating_sub(sent.at)),
                now,
            );
            let why = match outcome {
                Outcome::Answer => "answer came back whole".to_string(),
                Outcome::Truncated => "answer came back with TC".to_string(),
                Outcome::Undecodable { size, offset } => {
                    format!("answer of {size} B does not decode at offset {offset}")
                }
                Outcome::Rejected { rcode } => format!("answered {rcode}"),
                Outcome::ServFail => "answered SERVFAIL".to_string(),
                Outcome::Refused => "answered REFUSED".to_string(),
                Outcome::Timeout => format!("no answer over {}", sent.transport),
                Outcome::NetworkError => format!("network error over {}", sent.transport),
                Outcome::EdnsStripped => "answered a DO/CD query without OPT".to_string(),
            };
            self.event(now, || EventKind::Probe {
                upstream: label,
                healthy,
                why,
            });
            self.finish(t);
            return;
        }
        let attempt = Attempt {
            upstream: Upstream {
                id: sent.upstream,
                label: &self.upstreams.get(sent.upstream).label,
            },
            transport: sent.transport,
            edns: sent.edns,
            edns_required: txn.dnssec_ok || txn.checking_disabled,
            outcome,
        };
        let meta_query = is_meta_type(txn.key.qtype());
        let group = usize::from(txn.group);
        let budget = Budget {
            attempts: txn.attempts,
            max_attempts: self.zones.get(group).max_attempts,
            upstreams: self.upstreams.group_len(group) as u16,
            now,
            deadline: txn.deadline,
        };
        let fb = fallback(&attempt, &budget);
        let rtt = match outcome {
            Outcome::Timeout | Outcome::NetworkError => None,
            _ => Some(now.saturating_sub(sent.at)),
        };
        // A rejection of a query with OPT is not yet evidence against the upstream's EDNS: the
        // same query without OPT must then be answered (BIND caches "no EDNS" for a server
        // only after such an answer). An upstream that rejects a query whatever its OPT
        // (NOTIMP for a type it does not know, say) keeps EDNS. One query of a meta or unknown
        // type says nothing either way (RFC 8906 8): the fallback stays per query then.
        let verdict = match fb.verdict {
            UpstreamVerdict::NoEdns => UpstreamVerdict::CouldNotAnswer,
            v => v,
        };
        self.upstreams.record(sent.upstream, verdict, rtt, now);
        // The answer to the retry without OPT (only that retry goes without OPT to an upstream
        // believed to take EDNS): the evidence.
        if outcome == Outcome::Answer
            && !sent.edns
            && !meta_query
            && self.upstreams.edns_ok(sent.upstream, now)
        {
            self.upstreams
                .record(sent.upstream, UpstreamVerdict::NoEdns, None, now);
        }
        if sent.edns && msg.as_ref().is_some_and(|(m, _, _)| m.edns.is_some()) {
            self.upstreams.edns_works(sent.upstream);
        }
        // The upstream's label, only where a fallback says it.
        let label = if fb.next == Next::Accept {
            String::new()
        } else {
            self.upstreams.get(sent.upstream).label.clone()
        };
        if fb.next != Next::Accept {
            *self.stats.fallbacks.entry(fb.rule.as_str()).or_insert(0) += 1;
            let (rule, next, why) = (fb.rule, fb.next.as_str(), fb.rule.why());
            let l = label.clone();
            self.event(now, || EventKind::Fallback {
                upstream: l,
                rule,
                next,
                why,
            });
        }
        // An upstream's own Extended DNS Error (a validating resolver's "DNSSEC Bogus", say)
        // says more than ours: when its SERVFAIL ends the query, the client gets it (RFC 8914).
        let upstream_ede = msg
            .as_ref()
            .filter(|(m, _, _)| m.rcode() == Rcode::SERVFAIL)
            .and_then(|(m, _, _)| m.edns.as_ref())
            .and_then(|e| e.extended_error())
            .map(|(c, t)| {
                let sep = if t.is_empty() { "" } else { ": " };
                (c, format!("upstream {label}{sep}{t}"))
            });
        // A network error the shell could name (a TLS certificate not valid for the name, say)
        // says more than "network error": it is the query's problem, as an upstream's EDE is.
        let why = self.failure_why.take();
        let upstream_ede = upstream_ede.or_else(|| {
            why.filter(|_| outcome == Outcome::NetworkError)
                .map(|w| (ede::NETWORK_ERROR, format!("upstream {label}: {w}")))
        });
        let had_ede = upstream_ede.is_some();
        if let (Some(ue), Some(txn)) = (&upstream_ede, self.txns[t].as_mut()) {
            txn.last_problem = Some(ue.clone());
        }
        let next = match (fb.next, upstream_ede) {
            (Next::GiveUp { .. }, Some((ede_code, text))) => Next::GiveUp { ede_code, text },
            (n, _) => n,
        };
        match next {
            Next::Accept => {
                if let Some((m, bytes, kind)) = msg {
                    self.accept(now, t, sent.upstream, m, bytes, kind);
                }
            }
            Next::RetrySameUpstreamTcp => self.attempt(
                now,
                t,
                Some(sent.upstream),
                Some(Transport::Tcp),
                Some(sent.edns),
                fb.rule.why(),
            ),
            Next::RetrySameUpstreamWithoutEdns => self.attempt(
                now,
                t,
                Some(sent.upstream),
                Some(sent.transport),
                Some(false),
                fb.rule.why(),
            ),
            Next::NextUpstream => {
                if let Some(txn) = self.txns[t].as_mut().filter(|_| !had_ede) {
                    txn.last_problem = Some((
                        ede::NO_REACHABLE_AUTHORITY,
                        format!("upstream {label}: {}", fb.rule.why()),
                    ));
                }
                self.attempt(now, t, None, None, None, fb.rule.why());
            }
            Next::GiveUp { ede_code, text } => self.give_up(now, t, ede_code, text),
        }
    }
}
