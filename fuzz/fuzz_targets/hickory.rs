//! Arbitrary bytes through dnspect's decoder and hickory-proto's, compared by
//! `core/tests/oracle/compare.rs` (the same comparison as `core/tests/hickory_oracle.rs`): when
//! both accept, they must read the same message (header, counts, every record's owner, type,
//! class, TTL and RDATA, EDNS); when one rejects, the difference must be a row of
//! `docs/hickory-divergences.md`. An unlisted divergence is a crash: explain it in the table or
//! fix the decoder.
#![no_main]

#[path = "../../core/tests/oracle/compare.rs"]
#[allow(dead_code)]
mod compare;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn listed() -> &'static BTreeSet<String> {
    static IDS: OnceLock<BTreeSet<String>> = OnceLock::new();
    IDS.get_or_init(|| compare::listed_ids(include_str!("../../docs/hickory-divergences.md")))
}

fuzz_target!(|data: &[u8]| {
    if let compare::Outcome::Diverge { id, detail } = compare::compare(data) {
        assert!(
            listed().contains(&id),
            "divergence `{id}` is not in docs/hickory-divergences.md: {detail}"
        );
    }
});
