//! Forwarding-loop detection, after CoreDNS's `loop` plugin but per upstream and without
//! exiting: at start and after each reload the engine sends every upstream one probe, `HINFO`
//! for `<16 hex digits>.dnspect-loop-check.<zone>` (the zone: the first of the upstream's
//! forwarding group), a name drawn from the engine's seeded RNG. An upstream that forwards
//! back to this server (directly: the resolv.conf names the server's own address; or through
//! another forwarder) delivers the probe back as a client query. When a client query asks for
//! one of the probe names, that upstream loops: it is marked (no longer picked, the
//! [`Forwarder::loop_verdict`] a shell's readiness reports), counted, logged even without the
//! query log, and the looped query is answered SERVFAIL at once with an Extended DNS Error
//! saying "forwarding loop via UPSTREAM", which stops the loop. A probe answered by an upstream
//! that itself reports a forwarding loop (another dnspect that found the loop first answers
//! every query with that text) marks it too. A probe that gets no answer is sent again every
//! [`RETRY`], at most [`MAX_TRIES`] times (CoreDNS tries for 30 s: the upstream may start after
//! us). A reload clears every mark and probes again.
//!
//! The workers of one server share one [`LoopTable`] (as they share the cache): the kernel
//! hands a looped probe to any worker, which must know every worker's probe names, and a mark
//! one worker makes must reach the others. Each engine keeps its own copy of the marks in its
//! upstream list, refreshed when the table's epoch moved (one atomic load per miss).
//!
//! Probe answers are never cached, and probe names are checked before local data and the
//! cache, so neither can answer one.

use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::*;

/// The label under which probe names are drawn: `<random>.dnspect-loop-check.<zone>`.
pub const LOOP_LABEL: &str = "dnspect-loop-check";
/// Time between probes of an upstream that did not answer.
pub const RETRY: Duration = Duration::from_secs(2);
/// Probes sent to an upstream that does not answer before its check ends unknown (30 s).
pub const MAX_TRIES: u8 = 15;
/// The text every loop answer's Extended DNS Error starts with; a probe answered SERVFAIL with
/// it marks its upstream (another dnspect found the loop first).
pub const LOOP_TEXT: &str = "forwarding loop via ";

/// An upstream as the table names it: its forwarding group's name and its label (an address in
/// two groups is two upstreams, as in [`super::super::upstreams`]).
type UpstreamKey = (String, String);

/// Probe names and the upstreams found looping, shared by the engines of one server.
#[derive(Debug, Default)]
pub struct LoopTable {
    inner: Mutex<Inner>,
    /// Bumped on every change of the marks: engines copy them when it moved.
    epoch: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    /// Lowercased wire name -> the upstream it was sent to.
    probes: BTreeMap<Box<[u8]>, UpstreamKey>,
    /// Upstreams looping, with how it was seen.
    looping: BTreeMap<UpstreamKey, String>,
}

/// One looping upstream, for shells (logs, metrics, readiness).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LoopingUpstream {
    /// Its forwarding group (`.` for the default one; zones joined by spaces).
    pub zone: String,
    pub upstream: String,
    /// How the loop was seen.
    pub how: String,
}

impl LoopTable {
    pub fn new() -> LoopTable {
        LoopTable::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it leaves only maps of strings: still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The upstreams found looping.
    pub fn looping(&self) -> Vec<LoopingUpstream> {
        self.lock()
            .looping
            .iter()
            .map(|((zone, upstream), how)| LoopingUpstream {
                zone: zone.clone(),
                upstream: upstream.clone(),
                how: how.clone(),
            })
            .collect()
    }

    /// Probe names registered (bounded: one per upstream and engine).
    pub fn probes(&self) -> usize {
        self.lock().probes.len()
    }

    /// Marks an upstream; false when it was marked already.
    fn mark(&self, key: UpstreamKey, how: String) -> bool {
        let new = match self.lock().looping.entry(key) {
            std::collections::btree_map::Entry::Occupied(_) => false,
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(how);
                true
            }
        };
        if new {
            self.bump();
        }
        new
    }
}

/// One engine's loop check: its probe names for the configuration in force.
#[derive(Debug)]
pub(super) struct Loops {
    pub table: Arc<LoopTable>,
    /// By `UpstreamId`: this engine's probe name (lowercased wire) and the probes sent.
    names: Vec<Option<Box<[u8]>>>,
    tries: Vec<u8>,
    /// The check's generation: a reload starts a new one, and timers of the old one lapse.
    pub gen: u32,
    pub started: bool,
    /// The table's epoch when the marks were last copied.
    seen: u64,
    /// Whether any upstream of this engine is marked (else a miss looks no further).
    any: bool,
}

impl Loops {
    pub fn new(table: Arc<LoopTable>) -> Loops {
        Loops {
            table,
            names: Vec::new(),
            tries: Vec::new(),
            gen: 0,
            started: false,
            seen: u64::MAX,
            any: false,
        }
    }
}

/// Whether a query's (lowercased wire) name may be a probe: its second label is
/// [`LOOP_LABEL`]. Checked only for HINFO queries, without touching the table.
fn may_be_probe(name: &[u8]) -> bool {
    let Some(&first) = name.first() else {
        return false;
    };
    let at = 1 + usize::from(first);
    name.get(at) == Some(&(LOOP_LABEL.len() as u8))
        && name.get(at + 1..at + 1 + LOOP_LABEL.len()) == Some(LOOP_LABEL.as_bytes())
}

impl Forwarder {
    /// Shares `table` with other engines (the workers of one server): probe names any of them
    /// sent are recognised by all, and an upstream one finds looping is skipped by all.
    pub fn with_loop_table(mut self, table: Arc<LoopTable>) -> Forwarder {
        self.loops = Loops::new(table);
        self
    }

    /// The loop table this engine uses.
    pub fn loop_table(&self) -> &Arc<LoopTable> {
        &self.loops.table
    }

    /// Copies the table's marks into the upstream list when they changed.
    pub(super) fn sync_loops(&mut self) {
        let epoch = self.loops.table.epoch();
        if epoch == self.loops.seen {
            return;
        }
        self.loops.seen = epoch;
        let marked: Vec<bool> = {
            let g = self.loops.table.lock();
            self.upstreams
                .list
                .iter()
                .map(|u| {
                    let key = (
                        self.zones.get(usize::from(u.group)).name.clone(),
                        u.label.clone(),
                    );
                    g.looping.contains_key(&key)
                })
                .collect()
        };
        self.loops.any = marked.iter().any(|&m| m);
        for (u, m) in self.upstreams.list.iter_mut().zip(marked) {
            u.looping = m;
        }
    }

    /// Whether every upstream of group `g` loops (then its misses are answered at once).
    pub(super) fn group_loops(&mut self, g: usize) -> Option<String> {
        self.sync_loops();
        if !self.loops.any {
            return None;
        }
        let mut labels = Vec::new();
        for u in self
            .upstreams
            .list
            .iter()
            .filter(|u| usize::from(u.group) == g)
        {
            if !u.looping {
                return None;
            }
            labels.push(u.label.as_str());
        }
        (!labels.is_empty()).then(|| labels.join(", "))
    }

    /// Why a shell should not call the server ready: a forwarding group whose every upstream
    /// loops back here ("forwarding loop via 127.0.0.1:53", "... (zone cluster.local)").
    pub fn loop_verdict(&mut self) -> Option<String> {
        for g in 0..self.zones.groups.len() {
            if let Some(via) = self.group_loops(g) {
                let zone = &self.zones.get(g).name;
                return Some(if zone == "." {
                    format!("{LOOP_TEXT}{via}")
                } else {
                    format!("{LOOP_TEXT}{via} (zone {zone})")
                });
            }
        }
        None
    }

    /// The upstreams this engine's configuration has, found looping (for metrics).
    pub fn upstream_loops(&mut self) -> Vec<(String, bool)> {
        self.sync_loops();
        self.upstreams
            .list
            .iter()
            .map(|u| (u.label.clone(), u.looping))
            .collect()
    }

    /// A reload: the old probes are abandoned and forgotten, every mark cleared; the next
    /// input probes every upstream of the new configuration.
    pub(super) fn restart_loop_check(&mut self) {
        for t in 0..self.txns.len() {
            if self.txns[t]
                .as_ref()
                .is_some_and(|x| x.purpose == Purpose::LoopCheck)
            {
                self.finish(t);
            }
        }
        {
            let mut g = self.loops.table.lock();
            for n in self.loops.names.iter().flatten() {
                g.probes.remove(n);
            }
            g.looping.clear();
        }
        self.loops.table.bump();
        self.loops.names.clear();
        self.loops.tries.clear();
        self.loops.gen = self.loops.gen.wrapping_add(1);
        self.loops.started = false;
        for u in &mut self.upstreams.list {
            u.looping = false;
        }
        self.loops.any = false;
    }

    /// At the first input of a configuration: one probe timer per upstream, due now.
    pub(super) fn start_loop_check(&mut self, now: Duration) {
        self.loops.started = true;
        if !self.cfg.loop_check {
            return;
        }
        let n = self.upstreams.len();
        self.loops.names = vec![None; n];
        self.loops.tries = vec![0; n];
        let gen = self.loops.gen;
        for i in 0..n {
            self.schedule(
                now,
                Timer::LoopCheck {
                    upstream: i as u16,
                    gen,
                },
            );
        }
    }

    /// The probe name of upstream `up`: drawn once per configuration, kept for its retries.
    fn probe_name(&mut self, up: UpstreamId) -> Option<Name> {
        let i = usize::from(up.0);
        if let Some(Some(n)) = self.loops.names.get(i) {
            return Name::from_wire(n).ok();
        }
        let u = self.upstreams.get(up);
        let group = usize::from(u.group);
        let key = (self.zones.get(group).name.clone(), u.label.clone());
        // The group's first zone (its name lists them, space-separated).
        let zone: Name = key
            .0
            .split(' ')
            .next()
            .and_then(|z| z.parse().ok())
            .unwrap_or_else(Name::root);
        let random = format!("{:016x}", self.rng.next_u64());
        let mut labels: Vec<Vec<u8>> = vec![random.into_bytes(), LOOP_LABEL.as_bytes().to_vec()];
        labels.extend(zone.labels().map(<[u8]>::to_vec));
        let name = Name::from_labels(&labels).ok()?.to_lowercase();
        let wire: Box<[u8]> = name.as_wire().into();
        self.loops.table.lock().probes.insert(wire.clone(), key);
        if let Some(slot) = self.loops.names.get_mut(i) {
            *slot = Some(wire);
        }
        Some(name)
    }

    /// The probe timer of upstream `up` fired: send its probe, unless it is marked already or
    /// out of tries.
    pub(super) fn fire_loop_check(&mut self, now: Duration, up: u16, gen: u32) {
        if gen != self.loops.gen || usize::from(up) >= self.upstreams.len() {
            return;
        }
        let id = UpstreamId(up);
        self.sync_loops();
        if self.upstreams.get(id).looping {
            return;
        }
        let i = usize::from(up);
        let tries = self.loops.tries.get(i).copied().unwrap_or(MAX_TRIES);
        if tries >= MAX_TRIES {
            let (upstream, zone) = self.upstream_names(id);
            self.event(now, || EventKind::LoopCheck {
                upstream,
                zone,
                result: format!(
                    "no answer to {MAX_TRIES} probes: not known whether it loops back here"
                ),
            });
            return;
        }
        if let Some(t) = self.loops.tries.get_mut(i) {
            *t += 1;
        }
        let Some(name) = self.probe_name(id) else {
            return;
        };
        let mut question = name.as_wire().to_vec();
        question.extend_from_slice(&RType::HINFO.0.to_be_bytes());
        question.extend_from_slice(&1u16.to_be_bytes());
        let q = build::query(0, false, &question, None);
        if let Ok(key) = KeyBuf::for_question(&q, false, false) {
            let question = (HEADER_LEN, q.len());
            self.start_for_key(now, key, &q, question, Purpose::LoopCheck, id);
        }
    }

    /// An upstream's label and its group's name.
    fn upstream_names(&self, id: UpstreamId) -> (String, String) {
        let u = self.upstreams.get(id);
        (
            u.label.clone(),
            self.zones.get(usize::from(u.group)).name.clone(),
        )
    }

    /// A loop probe's attempt ended. An answer means the probe came back without passing
    /// through here, unless the upstream reports a loop itself (a SERVFAIL whose EDE says
    /// [`LOOP_TEXT`]) or the probe was seen here meanwhile; no answer means try again later.
    pub(super) fn loop_probe_done(
        &mut self,
        now: Duration,
        t: usize,
        sent: Sent,
        outcome: Outcome,
        msg: Option<&Message>,
    ) {
        self.finish(t);
        let up = sent.upstream;
        let gen = self.loops.gen;
        let answered = !matches!(outcome, Outcome::Timeout | Outcome::NetworkError);
        if !answered {
            self.schedule(
                now + RETRY,
                Timer::LoopCheck {
                    upstream: up.0,
                    gen,
                },
            );
            return;
        }
        self.sync_loops();
        if self.upstreams.get(up).looping {
            return;
        }
        let (upstream, zone) = self.upstream_names(up);
        let reported = msg
            .filter(|m| m.rcode() == Rcode::SERVFAIL)
            .and_then(|m| m.edns.as_ref())
            .and_then(|e| e.extended_error())
            .filter(|(_, text)| text.contains(LOOP_TEXT))
            .map(|(_, text)| text.to_string());
        match reported {
            Some(text) => {
                let how = format!("it answers the loop probe with \"{text}\"");
                self.loop_found(now, up, how, None);
            }
            None => {
                let rcode = msg.map_or_else(|| "an answer".to_string(), |m| m.rcode().to_string());
                self.event(now, || EventKind::LoopCheck {
                    upstream,
                    zone,
                    result: format!("the probe came back answered ({rcode}) without passing through here: no loop"),
                });
            }
        }
    }

    /// Marks upstream `up` looping (in the shared table), counts and tells it.
    fn loop_found(&mut self, now: Duration, up: UpstreamId, how: String, client: Option<u64>) {
        let (upstream, zone) = self.upstream_names(up);
        self.stats.loops_detected += 1;
        let key = (zone.clone(), upstream.clone());
        if self.loops.table.mark(key, how.clone()) {
            // Not behind `events`: a loop is logged whether the query log is on or not.
            self.out.push_back(Output::Event(Box::new(Event {
                at_ms: ms(now),
                kind: EventKind::LoopDetected {
                    upstream,
                    zone,
                    how,
                    client,
                },
            })));
        }
        self.sync_loops();
    }

    /// A client query for one of the probe names of any engine sharing the table: the
    /// upstream it was sent to loops back here. Answered SERVFAIL at once with the reason (so
    /// the loop stops here). False: not a probe name.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_looped_probe(
        &mut self,
        now: Duration,
        client: ClientId,
        transport: Transport,
        bytes: &[u8],
        name: &[u8],
        q_end: usize,
        opt: Option<OptOut>,
        limit: usize,
    ) -> bool {
        if !may_be_probe(name) {
            return false;
        }
        let Some(key) = self.loops.table.lock().probes.get(name).cloned() else {
            return false;
        };
        let how = format!(
            "the loop probe HINFO {} sent to {} came back as a client query",
            Name::from_wire(name).map_or_else(|_| "?".to_string(), |n| n.to_string()),
            key.1
        );
        // Mark it in this engine's list when the upstream is one of ours (it is, unless a
        // reload in another worker changed the table's configuration meanwhile).
        let up =
            self.upstreams.list.iter().position(|u| {
                u.label == key.1 && self.zones.get(usize::from(u.group)).name == key.0
            });
        match up {
            Some(i) => self.loop_found(now, UpstreamId(i as u16), how, Some(client.0)),
            None => {
                self.stats.loops_detected += 1;
                self.loops.table.mark(key.clone(), how);
            }
        }
        self.stats.loop_answers += 1;
        let w = Waiter {
            client,
            transport,
            query: header_and_question(bytes, q_end),
            opt,
            limit,
            ecs: None,
        };
        let zone = if key.0 == "." {
            String::new()
        } else {
            format!(" (zone {})", key.0)
        };
        let text = format!(
            "{LOOP_TEXT}{}{zone}: this query is dnspect's own loop probe, back",
            key.1
        );
        self.servfail(now, &w, ede::OTHER, text);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_names_are_recognised_by_their_second_label() {
        let w = |s: &str| s.parse::<Name>().unwrap().as_wire().to_vec();
        assert!(may_be_probe(&w("0123456789abcdef.dnspect-loop-check.")));
        assert!(may_be_probe(&w("x.dnspect-loop-check.cluster.local.")));
        assert!(!may_be_probe(&w("dnspect-loop-check.")));
        assert!(!may_be_probe(&w("a.b.dnspect-loop-check.")));
        assert!(!may_be_probe(&w("a.dnspect-loop-checks.")));
        assert!(!may_be_probe(&w(".")));
        assert!(!may_be_probe(&[]));
    }
}
