//! Specification: on the cache-hit path the engine allocates only the answer buffer.
//!
//! A counting global allocator counts the heap allocations (and reallocations) made by this
//! thread while the engine answers a query from its cache: exactly one per hit, for hits of
//! several shapes (with and without EDNS, a CNAME chain, NXDOMAIN, NODATA). A miss (the client
//! query, the upstream query, the upstream answer taken into the cache and the client answer)
//! allocates at most `MISS_BOUND` times, counting the upstream answer's buffer (issue 11);
//! the figures are printed (`-- --nocapture`).
//!
//! Only calls into the engine (`handle`, `poll`) are counted, per thread: the harness's own
//! allocations (building queries and upstream answers, collecting outputs) and the other tests
//! of this file running in parallel do not disturb the figures.
#![allow(clippy::unwrap_used)]
// A counting global allocator is the one unsafe thing here: it forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

mod engine_setup;

use dnspect_core::engine::forwarder::{ClientId, Forwarder, Input, Output};
use dnspect_core::engine::Transport;
use dnspect_core::wire::{Class, Edns, Message, Question, RType, Rcode, Record};
use engine_setup::{forwarder, forwarder_with_zones};

/// Allocations per miss (query in, upstream query out, upstream answer in, answer out) must stay
/// under this, counting the upstream answer's buffer (which the harness, like a shell,
/// allocates outside the engine): issue 11's budget of 10. Measured at 26.0 in the engine
/// before issue 11; 7.0 after (the upstream query, the decode's question and answer lists,
/// the cache entry, its key, the client answer, and growth of reused state).
const MISS_BOUND: u64 = 10;
/// The upstream answer's buffer, counted against the budget.
const UPSTREAM_ANSWER: u64 = 1;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    // try_with: the thread-locals may be gone while a thread exits.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        bump();
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with this thread's allocations counted (added to the running count): only calls
/// into the engine are wrapped, so the harness's own allocations are never counted.
fn counted<T>(f: impl FnOnce() -> T) -> T {
    COUNTING.with(|on| on.set(true));
    let out = f();
    COUNTING.with(|on| on.set(false));
    out
}

/// Resets the count and runs `f`; returns what `f` returned and the engine's allocations.
fn count<T>(f: impl FnOnce() -> T) -> (T, u64) {
    COUNT.with(|c| c.set(0));
    let out = f();
    (out, COUNT.with(Cell::get))
}

fn query(name: &str, qtype: RType, id: u16, edns: bool) -> Vec<u8> {
    let mut m = Message::default();
    m.header.id = id;
    m.header.rd = true;
    m.questions.push(Question {
        name: name.parse().unwrap(),
        qtype,
        class: Class::IN,
    });
    if edns {
        m.edns = Some(Edns::new(1232));
    }
    m.to_wire().unwrap()
}

/// The upstream's answer to `q`: `rcode`, these answer and authority records.
fn answer(q: &[u8], rcode: Rcode, answers: &[&str], authority: &[&str]) -> Vec<u8> {
    let mut m = Message::from_wire(q).unwrap();
    m.header.qr = true;
    m.header.ra = true;
    m.set_rcode(rcode);
    for r in answers {
        m.answers.push(Record::from_text(r).unwrap());
    }
    for r in authority {
        m.authority.push(Record::from_text(r).unwrap());
    }
    m.to_wire().unwrap()
}

struct Shape {
    what: &'static str,
    name: &'static str,
    qtype: RType,
    edns: bool,
    rcode: Rcode,
    answers: &'static [&'static str],
    authority: &'static [&'static str],
}

const SOA: &str =
    "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 300";

const SHAPES: &[Shape] = &[
    Shape {
        what: "A, no EDNS",
        name: "www.example.com.",
        qtype: RType::A,
        edns: false,
        rcode: Rcode::NOERROR,
        answers: &["www.example.com. 300 IN A 192.0.2.1"],
        authority: &[],
    },
    Shape {
        what: "A, EDNS",
        name: "www.example.com.",
        qtype: RType::A,
        edns: true,
        rcode: Rcode::NOERROR,
        answers: &[
            "www.example.com. 300 IN A 192.0.2.1",
            "www.example.com. 300 IN A 192.0.2.2",
        ],
        authority: &[],
    },
    Shape {
        what: "CNAME chain, EDNS",
        name: "www.example.com.",
        qtype: RType::A,
        edns: true,
        rcode: Rcode::NOERROR,
        answers: &[
            "www.example.com. 300 IN CNAME edge.example-cdn.net.",
            "edge.example-cdn.net. 300 IN CNAME e1.example-cdn.net.",
            "e1.example-cdn.net. 300 IN A 192.0.2.1",
        ],
        authority: &[],
    },
    Shape {
        what: "NXDOMAIN, EDNS",
        name: "nothing.example.com.",
        qtype: RType::A,
        edns: true,
        rcode: Rcode::NXDOMAIN,
        answers: &[],
        authority: &[SOA],
    },
    Shape {
        what: "NODATA, no EDNS",
        name: "www.example.com.",
        qtype: RType::AAAA,
        edns: false,
        rcode: Rcode::NOERROR,
        answers: &[],
        authority: &[SOA],
    },
];

/// The outputs after one `handle`: client answers and upstream queries (with their tokens).
#[derive(Debug, Default)]
struct Polled {
    answers: Vec<Vec<u8>>,
    upstream: Vec<(Vec<u8>, u64)>,
}

fn drain(f: &mut Forwarder) -> Polled {
    let mut p = Polled::default();
    loop {
        match counted(|| f.poll()) {
            Output::Query(t) => p.upstream.push((t.bytes, t.token)),
            Output::Answer(t) => p.answers.push(t.bytes),
            Output::Wake(_) => break,
            _ => {}
        }
    }
    p
}

fn ask(f: &mut Forwarder, q: &[u8], now: Duration) -> Polled {
    counted(|| {
        f.handle(Input::Query {
            now,
            client: ClientId(1),
            transport: Transport::Udp,
            bytes: q,
        })
    });
    drain(f)
}

/// A miss answered by the upstream with `s`'s answer: returns the client answer.
fn miss(f: &mut Forwarder, q: &[u8], s: &Shape, now: Duration) -> Vec<u8> {
    let p = ask(f, q, now);
    assert!(p.answers.is_empty(), "{}: a miss answered at once", s.what);
    let (up, token) = p.upstream.into_iter().next().expect("an upstream query");
    let a = answer(&up, s.rcode, s.answers, s.authority);
    counted(|| {
        f.handle(Input::Response {
            now,
            token,
            transport: Transport::Udp,
            bytes: &a,
        })
    });
    let p = drain(f);
    assert_eq!(p.answers.len(), 1, "{}: one client answer", s.what);
    p.answers.into_iter().next().unwrap()
}

#[test]
fn a_cache_hit_allocates_only_the_answer_buffer() {
    hits_allocate_once(|| forwarder("127.0.0.1:53"), "");
}

/// The same with per-zone forwarding (example.com has its own group, with its own cache rules)
/// and local data that the names miss (a hosts file, records, local zones): the zone match and
/// the local lookup allocate nothing.
#[test]
fn a_cache_hit_with_zones_and_local_data_allocates_only_the_answer_buffer() {
    hits_allocate_once(
        || forwarder_with_zones("127.0.0.1:53"),
        " (zones and local data)",
    );
}

fn hits_allocate_once(make: impl Fn() -> Forwarder, setup: &str) {
    const HITS: u64 = 1000;
    for s in SHAPES {
        let mut f = make();
        let now = Duration::from_secs(1);
        let q = query(s.name, s.qtype, 4242, s.edns);
        let first = miss(&mut f, &q, s, now);
        let expected = Message::from_wire(&first).unwrap();
        assert_eq!(expected.rcode(), s.rcode, "{}", s.what);

        // Warm once (first-use growth of reusable buffers is not per hit), then count.
        let p = ask(&mut f, &q, now);
        assert_eq!(p.answers.len(), 1, "{}: a hit is answered at once", s.what);
        let (answered, allocs) = count(|| {
            let mut answered = 0;
            for _ in 0..HITS {
                let p = ask(&mut f, &q, now);
                assert!(p.upstream.is_empty(), "{}: a hit went upstream", s.what);
                answered += p.answers.len() as u64;
            }
            answered
        });
        assert_eq!(answered, HITS, "{}: every hit answered", s.what);
        // The hit answers what the miss answered.
        let p = ask(&mut f, &q, now);
        let hit = Message::from_wire(&p.answers[0]).unwrap();
        assert_eq!(hit.answers, expected.answers, "{}", s.what);
        assert_eq!(hit.rcode(), expected.rcode(), "{}", s.what);
        println!(
            "hit ({}){setup}: {allocs} allocations for {HITS} hits ({:.2} per hit)",
            s.what,
            allocs as f64 / HITS as f64
        );
        assert_eq!(
            allocs,
            HITS,
            "{}: a cache hit must allocate exactly once (the answer buffer); got {:.2} per hit",
            s.what,
            allocs as f64 / HITS as f64
        );
    }
}

#[test]
fn a_miss_stays_under_its_allocation_bound() {
    let s = &SHAPES[2];
    let mut f = forwarder("127.0.0.1:53");
    let now = Duration::from_secs(1);
    // Warm the engine's reusable state with a first miss.
    miss(
        &mut f,
        &query("warm.example.com.", RType::A, 1, true),
        s,
        now,
    );
    let n = 200u64;
    let queries: Vec<Vec<u8>> = (0..n)
        .map(|k| query(&format!("n{k}.example.com."), RType::A, 1, true))
        .collect();
    let ((), allocs) = count(|| {
        for q in &queries {
            miss(&mut f, q, s, now);
        }
    });
    let per = allocs as f64 / n as f64 + UPSTREAM_ANSWER as f64;
    println!("miss (CNAME chain, EDNS, answered by the upstream): {per:.1} allocations per query, the upstream answer's buffer included (bound {MISS_BOUND})");
    assert!(
        per <= MISS_BOUND as f64,
        "a miss allocates {per:.1} times, over the bound of {MISS_BOUND}"
    );
}

/// `handle_query` asks its admission check only for a query about to wait on an upstream: a
/// hit is answered without it (a server's waiting limit then takes no lock on a hit), and a
/// miss it refuses leaves nothing behind: no upstream query, no answer, nothing waiting.
#[test]
fn a_hit_is_answered_without_asking_admission() {
    let s = &SHAPES[0];
    let mut f = forwarder("127.0.0.1:53");
    let now = Duration::from_secs(1);
    let q = query(s.name, s.qtype, 7, s.edns);
    miss(&mut f, &q, s, now);
    let mut asked = 0;
    let taken = f.handle_query(now, ClientId(2), Transport::Udp, &q, || {
        asked += 1;
        false
    });
    let p = drain(&mut f);
    assert!(taken);
    assert_eq!(asked, 0, "a hit asked for admission");
    assert_eq!(p.answers.len(), 1, "the hit is answered");
    let q2 = query("other.example.com.", RType::A, 8, true);
    let taken = f.handle_query(now, ClientId(3), Transport::Udp, &q2, || {
        asked += 1;
        false
    });
    let p = drain(&mut f);
    assert!(!taken);
    assert_eq!(asked, 1, "a miss asks once");
    assert!(p.answers.is_empty() && p.upstream.is_empty(), "{p:?}");
    assert_eq!(f.waiting(), 0);
    assert_eq!(f.in_flight(), 0);
}

/// Answered misses leave no timers behind for long: their attempt and deadline timers cannot
/// be taken out of the heap when the answer comes, so the engine drops them in compactions.
/// Without that, 20,000 misses within one query timeout left 40,000 timers, each a longer
/// walk for every later push and pop.
#[test]
fn answered_misses_do_not_pile_up_timers() {
    let s = &SHAPES[2];
    let mut f = forwarder("127.0.0.1:53");
    let mut peak = 0;
    for k in 0..20_000u64 {
        let now = Duration::from_secs(1) + Duration::from_micros(50 * k);
        let q = query(&format!("t{k}.example.com."), RType::A, 1, true);
        miss(&mut f, &q, s, now);
        peak = peak.max(f.timers_scheduled());
    }
    println!("timers after 20,000 answered misses: at most {peak}");
    assert!(peak <= 2048, "{peak} timers scheduled at once");
}

/// A UDP hit on an answer larger than the client's limit is served from the fitted form the
/// cache keeps for that limit (issue 11: "fit re-encodes every large cached answer on each UDP
/// hit" is gone): one allocation per hit, truncated with TC to the client's 1232 bytes, the
/// same answer as the miss got.
#[test]
fn a_hit_on_a_large_answer_is_not_fitted_again() {
    const HITS: u64 = 1000;
    let mut f = forwarder("127.0.0.1:53");
    let now = Duration::from_secs(1);
    let q = query("big.example.com.", RType::A, 7, true);
    let p = ask(&mut f, &q, now);
    let (up, token) = p.upstream.into_iter().next().expect("an upstream query");
    let mut m = Message::from_wire(&up).unwrap();
    m.header.qr = true;
    m.header.ra = true;
    for i in 0..100 {
        m.answers.push(
            Record::from_text(&format!(
                "big.example.com. 300 IN A 10.0.{}.{}",
                i / 250,
                i % 250
            ))
            .unwrap(),
        );
    }
    let a = m.to_wire().unwrap();
    assert!(
        a.len() > 1232,
        "the upstream answer must not fit: {} B",
        a.len()
    );
    counted(|| {
        f.handle(Input::Response {
            now,
            token,
            transport: Transport::Udp,
            bytes: &a,
        })
    });
    let first = drain(&mut f).answers.remove(0);
    assert!(first.len() <= 1232, "{} B", first.len());
    let fm = Message::from_wire(&first).unwrap();
    assert!(fm.header.tc, "truncated answers carry TC");
    let (answers, allocs) = count(|| {
        let mut last = Vec::new();
        for _ in 0..HITS {
            let mut p = ask(&mut f, &q, now);
            assert!(p.upstream.is_empty(), "a hit went upstream");
            last = p.answers.remove(0);
        }
        last
    });
    let hit = Message::from_wire(&answers).unwrap();
    assert_eq!(hit.answers, fm.answers);
    assert!(hit.header.tc && answers.len() <= 1232);
    println!(
        "hit on a {} B answer for a 1232 B client: {:.2} allocations per hit",
        a.len(),
        allocs as f64 / HITS as f64
    );
    assert_eq!(
        allocs, HITS,
        "a hit on a large answer must allocate only its buffer (no decode, no re-encode)"
    );
}
