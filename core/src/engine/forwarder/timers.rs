//! Timers: attempt timeouts, query deadlines, the RFC 8767 client answer timer, retries after a
//! reload, and health probes.

use super::*;

impl Forwarder {
    // -----------------------------------------------------------------------------------------
    // Timers
    // -----------------------------------------------------------------------------------------

    pub(super) fn run_timers(&mut self, now: Duration) {
        // Bounded: each timer is popped once; new ones are due later than `now` except for
        // immediate retries, which do not schedule timers before `now`.
        let mut budget = self.timers.len() + 64;
        while budget > 0 {
            budget -= 1;
            match self.timers.peek() {
                Some(Reverse((at, _, _))) if *at <= now => {}
                _ => break,
            }
            let Some(Reverse((at, _, timer))) = self.timers.pop() else {
                break;
            };
            self.fire(at.max(Duration::ZERO).min(now), timer);
        }
    }

    pub(super) fn alive(&self, t: usize, gen: u32) -> bool {
        self.txns
            .get(t)
            .and_then(Option::as_ref)
            .is_some_and(|x| x.gen == gen)
    }

    pub(super) fn fire(&mut self, now: Duration, timer: Timer) {
        match timer {
            Timer::Attempt { txn: t, gen, token } => {
                if !self.alive(t, gen) {
                    return;
                }
                let Some(sent) = self.txns[t]
                    .as_ref()
                    .and_then(|x| x.current)
                    .filter(|s| s.token == token)
                else {
                    return;
                };
                // Still awaited: its answer, if it comes while the transaction waits, is used
                // (`on_response`); released when the transaction ends.
                if let Some(x) = self.txns[t].as_mut() {
                    x.earlier.push(sent);
                }
                self.upstreams.get_mut(sent.upstream).counters.timeouts += 1;
                let label = self.upstreams.get(sent.upstream).label.clone();
                let after = ms(now.saturating_sub(sent.at));
                self.event(now, || EventKind::UpstreamTimeout {
                    upstream: label,
                    transport: sent.transport,
                    id: sent.id,
                    after_ms: after,
                });
                self.after_attempt(now, t, sent, Outcome::Timeout, None);
            }
            Timer::Deadline { txn: t, gen } => {
                if !self.alive(t, gen) {
                    return;
                }
                let timeout = ms(self.cfg.query_timeout);
                let (code, text) = self.txns[t]
                    .as_ref()
                    .and_then(|x| x.last_problem.clone())
                    .unwrap_or((
                        ede::NO_REACHABLE_AUTHORITY,
                        String::from("no usable answer"),
                    ));
                self.give_up(now, t, code, format!("{text}; gave up after {timeout} ms"));
            }
            Timer::StaleAnswer { txn: t, gen } => {
                if !self.alive(t, gen) {
                    return;
                }
                let Some(txn) = self.txns[t].as_mut() else {
                    return;
                };
                let Some(sf) = txn.stale_fallback else { return };
                let key = txn.key;
                let waiters = core::mem::take(&mut txn.waiters);
                self.waiting = self.waiting.saturating_sub(waiters.len());
                let Some(p) = self
                    .cache
                    .lock(key.as_bytes())
                    .get(key.as_bytes())
                    .and_then(|s| s.positive.clone())
                else {
                    self.waiting += waiters.len();
                    if let Some(txn) = self.txns[t].as_mut() {
                        txn.waiters = waiters;
                    }
                    return;
                };
                for w in &waiters {
                    self.stats.stale_answers += 1;
                    let ede = (
                        ede::STALE_ANSWER,
                        "upstream slow: stale answer after the client timer (RFC 8767)",
                    );
                    let answer = answer_from(&p, w, now, Some(sf.ttl), Some(ede));
                    self.deliver(now, w, &w.query, answer, "stale cache (client timer)");
                }
            }
            Timer::Retry { txn: t, gen } => {
                let Some(txn) = self.txns.get(t).and_then(Option::as_ref) else {
                    return;
                };
                if txn.gen != gen || txn.current.is_some() {
                    return;
                }
                if txn.purpose.is_probe() {
                    return self.finish(t);
                }
                let max = self.zones.get(usize::from(txn.group)).max_attempts;
                if txn.attempts >= max || now >= txn.deadline {
                    return self.give_up(
                        now,
                        t,
                        ede::NO_REACHABLE_AUTHORITY,
                        "the upstream asked was removed by a reload".into(),
                    );
                }
                self.attempt(
                    now,
                    t,
                    None,
                    None,
                    None,
                    "the upstream asked was removed by a reload",
                );
            }
            Timer::LoopCheck { upstream, gen } => self.fire_loop_check(now, upstream, gen),
            Timer::Probe { group, gen } => {
                if gen != self.probe_gen {
                    return;
                }
                let Some(p) = self.zones.get(usize::from(group)).probe.clone() else {
                    return;
                };
                let name: Result<Name, _> = p.name.parse();
                let qtype: Result<RType, _> = p.qtype.parse();
                if let (Ok(name), Ok(qtype)) = (name, qtype) {
                    let mut question = name.as_wire().to_vec();
                    question.extend_from_slice(&qtype.0.to_be_bytes());
                    question.extend_from_slice(&1u16.to_be_bytes());
                    let q = build::query(0, false, &question, None);
                    if let Ok(key) = KeyBuf::for_question(&q, false, false) {
                        let ids: Vec<UpstreamId> = (0..self.upstreams.len())
                            .filter(|&i| self.upstreams.list[i].group == group)
                            .map(|i| UpstreamId(i as u16))
                            .collect();
                        for up in ids {
                            // The key has no DO or CD bit: the probe asks without them.
                            let question = (HEADER_LEN, q.len());
                            self.start_for_key(now, key, &q, question, Purpose::Probe, up);
                        }
                    }
                }
                self.schedule(
                    now + p.interval.max(Duration::from_millis(100)),
                    Timer::Probe { group, gen },
                );
            }
        }
    }
}
