//! Traces and parcel events (`trace.rs`): every ancestor once, in chain
//! order, and each record's history chaining exactly its indexed events.

use super::*;

#[test]
fn trace_walks_every_ancestor_once_in_chain_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("ledger.redb"));
    let h = make_history(&store);
    let snapshot = store.snapshot().expect("snapshot");

    let trace = snapshot.trace(&h.merged).expect("trace").expect("parcel");
    assert_eq!(trace.parcel, h.merged);
    let parcels: Vec<ParcelId> = trace.parcels.iter().map(|p| p.id).collect();
    assert_eq!(parcels, [h.merged, h.split_b, h.other, h.registered]);
    let places: Vec<(u64, u32)> = trace.events.iter().map(|e| (e.height, e.index)).collect();
    // Both registrations, the split (once, though two traced parcels share
    // it) and the merge; not the offer of the sibling `split_a`.
    assert_eq!(places, [(2, 0), (2, 1), (3, 0), (3, 1)]);

    let trace = snapshot.trace(&h.split_a).expect("trace").expect("parcel");
    let places: Vec<(u64, u32)> = trace.events.iter().map(|e| (e.height, e.index)).collect();
    assert_eq!(places, [(2, 0), (3, 0), (3, 2)]);
    assert_eq!(snapshot.trace(&Hash32([9; 32])).expect("trace"), None);
}

#[test]
fn each_parcel_record_chains_exactly_the_events_indexed_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("ledger.redb"));
    let h = make_history(&store);
    let snapshot = store.snapshot().expect("snapshot");
    for id in [h.registered, h.other, h.split_a, h.split_b, h.merged] {
        let record = snapshot.parcel(&id).expect("read").expect("parcel");
        let events = snapshot.parcel_events(&id).expect("events");
        assert!(!events.is_empty());
        assert_eq!(
            record.history,
            kp_ledger::model::History::of(events.iter().map(|e| &e.tx)),
            "parcel {id}"
        );
    }
}
