//! The cache's byte budget counts the memory the cache really holds: a counting allocator
//! measures the heap the store keeps (as glibc's malloc rounds it) while it fills with entries of
//! many sizes, and the store's own figure must stay within a few percent of it, including past
//! the point where eviction starts. A store that counted only its wire bytes, or a fixed
//! overhead per key, would be off by 2x to 3x.
#![allow(clippy::unwrap_used)]
// A counting global allocator is the one unsafe thing here: it forwards to the system allocator.
#![allow(unsafe_code)]
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use dnspect_core::cache::store::{heap, Entry, EntryKind, KeyBuf, Store};
use dnspect_core::wire::{Message, Name, Question, RType, Record};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(heap(l.size()) as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(heap(l.size()) as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(
            heap(new) as isize - heap(l.size()) as isize,
            Ordering::Relaxed,
        );
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The counter is the whole process's: the tests take turns.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn answer(i: usize) -> (Vec<u8>, Vec<u8>) {
    let name: Name = format!("host-{i}.x{}.example.", "x".repeat(i % 40))
        .parse()
        .unwrap();
    let mut m = Message::default();
    m.header.qr = true;
    m.questions.push(Question {
        name: name.clone(),
        qtype: RType::A,
        class: dnspect_core::wire::Class(1),
    });
    for k in 0..(1 + i % 6) {
        m.answers
            .push(Record::from_text(&format!("{name} 300 IN A 192.0.2.{k}")).unwrap());
    }
    let wire = m.to_wire().unwrap();
    let mut q = wire.clone();
    q[2] = 1;
    q[3] = 0;
    q[6..12].copy_from_slice(&[0; 6]);
    let end = q.len() - (wire.len() - 12 - (name.as_wire().len() + 4));
    q.truncate(end);
    (q, wire)
}

/// Stores answer `i` (one in four as a negative entry, which the store boxes); its
/// temporaries are freed before it returns.
fn insert(store: &mut Store, i: usize, now: Duration) -> bool {
    let (q, wire) = answer(i);
    let key = KeyBuf::for_question(&q, false, false).unwrap();
    let kind = if i % 4 == 3 {
        EntryKind::Negative
    } else {
        EntryKind::Positive
    };
    let e = Entry::new(&wire, kind, Duration::ZERO, 300, Duration::ZERO, "test").unwrap();
    store.insert(key.as_bytes(), e, now)
}

#[test]
fn budget_counts_real_heap() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let budget = 4 << 20;
    let n = 40_000;
    let mut store = Store::new(budget);
    // The heap the store holds: for each insert, everything allocated while building the entry
    // and inserting it, less what was freed (temporaries, evicted entries).
    let mut held: isize = 0;
    let mut worst: f64 = 1.0;
    for i in 0..n {
        let before = LIVE.load(Ordering::Relaxed);
        insert(&mut store, i, Duration::from_millis(i as u64));
        held += LIVE.load(Ordering::Relaxed) - before;
        if i % 2000 == 1999 {
            let live = held as f64;
            let counted = store.stats().bytes as f64;
            let ratio = live / counted;
            println!(
                "{:>6} inserted: {} keys, counted {counted:.0} B, heap {live:.0} B, heap/counted {ratio:.3}",
                i + 1,
                store.stats().keys
            );
            if (ratio - 1.0).abs() > (worst - 1.0).abs() {
                worst = ratio;
            }
            assert!(counted <= budget as f64);
        }
    }
    assert!(store.stats().evictions > 0, "the budget was never reached");
    // The slot vector and the index grow by doubling: their spare capacity is the slack.
    assert!(
        (0.9..=1.15).contains(&worst),
        "heap / counted bytes reached {worst:.3}"
    );
}

/// A server's cache is many small shards (1,024 for a 1 GiB budget), so early on most hold a
/// key or two: a shard must not take a whole chunk of slots for its first key (64 slots, 22 KB,
/// 40 times what the key costs, and nothing counted it).
#[test]
fn a_store_with_one_key_holds_about_what_it_counts() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let mut held: isize = 0;
    let mut counted = 0usize;
    let mut stores = Vec::new();
    for i in 0..1024 {
        let before = LIVE.load(Ordering::Relaxed);
        let mut store = Store::new(1 << 20);
        assert!(insert(&mut store, i, Duration::ZERO));
        counted += store.stats().bytes;
        stores.push(store);
        held += LIVE.load(Ordering::Relaxed) - before;
    }
    // The vector of stores itself is not the stores' memory.
    held -= heap(stores.capacity() * std::mem::size_of::<Store>()) as isize;
    let ratio = held as f64 / counted as f64;
    println!(
        "1,024 stores of one key: heap {held} B, counted {counted} B, heap/counted {ratio:.2}"
    );
    assert!(ratio < 2.0, "heap / counted bytes {ratio:.2}");
}
