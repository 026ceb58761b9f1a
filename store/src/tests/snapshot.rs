//! Reads through a snapshot (`snapshot.rs`): committed blocks, transactions
//! and records read back, and ids found by a prefix of them.

use kp_ledger::model::ParcelStatus;

use super::*;

#[test]
fn committed_blocks_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("ledger.redb"));
    let h = make_history(&store);
    let snapshot = store.snapshot().expect("snapshot");

    let tip = snapshot.tip().expect("tip");
    assert_eq!(tip.height, 3);
    let block = snapshot.block(3).expect("read").expect("block 3");
    assert_eq!(block.header.hash(), tip.hash);
    assert_eq!(block.txs.len(), 3);
    assert_eq!(snapshot.block_height(&tip.hash).expect("read"), Some(3));
    assert_eq!(snapshot.block(4).expect("read"), None);

    let merge_id = kp_ledger::tx::tx_id(&block.txs[1]);
    let record = snapshot.tx(&merge_id).expect("read").expect("merge tx");
    assert_eq!(
        (record.height, record.index, record.kind.as_str()),
        (3, 1, "merge_parcels")
    );
    assert_eq!(record.created, vec![h.merged]);
    assert_eq!(record.bytes, block.txs[1]);
    assert_eq!(record.time, block.header.time);

    let member = snapshot.member(&h.trader).expect("read").expect("trader");
    assert_eq!((member.role, member.enrolled_height), (Role::Trader, 1));
    assert_eq!(snapshot.nonce(&h.miner.public()).expect("read"), 5);
    let registered = snapshot
        .parcel(&h.registered)
        .expect("read")
        .expect("parcel");
    assert!(matches!(registered.status, ParcelStatus::Consumed { .. }));
    assert_eq!(
        snapshot
            .transfer(&h.transfer)
            .expect("read")
            .expect("transfer")
            .parcel,
        h.split_a
    );
    assert_eq!(snapshot.certificate("BW-0001").expect("read"), None);

    let events = snapshot.parcel_events(&h.registered).expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(kinds, ["register_parcel", "split_parcel"]);
    assert_eq!(events[0].created, vec![h.registered]);
    assert_eq!(events[1].signer, h.miner.public());
}

#[test]
fn ids_are_found_by_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("ledger.redb"));
    let h = make_history(&store);
    let snapshot = store.snapshot().expect("snapshot");
    let hex = h.merged.to_hex();

    for len in [8, 9, 64] {
        assert_eq!(
            snapshot.parcel_by_prefix(&hex[..len]).expect("found").id,
            h.merged,
            "{len} chars"
        );
    }
    assert_eq!(
        snapshot
            .parcel_by_prefix(&hex.to_uppercase())
            .expect("found")
            .id,
        h.merged
    );
    assert_eq!(
        snapshot
            .transfer_by_prefix(&h.transfer.to_hex()[..10])
            .expect("found")
            .id,
        h.transfer
    );

    let code =
        |r: Result<_, StoreError>| r.map(|_: kp_ledger::model::Parcel| ()).unwrap_err().code();
    assert_eq!(
        code(snapshot.parcel_by_prefix(&hex[..7])),
        "prefix_too_short"
    );
    assert_eq!(code(snapshot.parcel_by_prefix("zzzzzzzz")), "bad_hex");
    assert_eq!(code(snapshot.parcel_by_prefix("zz")), "prefix_too_short");
    assert_eq!(
        code(snapshot.parcel_by_prefix(&format!("{hex}0"))),
        "bad_id"
    );
    // The transfer's id is not a parcel's.
    assert_eq!(
        code(snapshot.parcel_by_prefix(&h.transfer.to_hex())),
        "not_found"
    );
    let absent = snapshot.transfer_by_prefix(&hex).unwrap_err();
    assert_eq!(absent.code(), "not_found");
}

#[test]
fn a_shared_prefix_is_ambiguous() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("ledger.redb"));
    let h = make_history(&store);
    // Rules never make two ids share 8 characters on purpose, so the store
    // is given a block whose delta holds such a pair directly.
    let mut built = build(&store, Vec::new());
    let template = store
        .snapshot()
        .expect("snapshot")
        .parcel(&h.merged)
        .expect("read")
        .expect("parcel");
    for last in [1u8, 2] {
        let mut id = [0xab; 32];
        id[31] = last;
        built.applied.delta.parcels.insert(
            Hash32(id),
            kp_ledger::model::Parcel {
                id: Hash32(id),
                ..template.clone()
            },
        );
    }
    store.commit(&built.applied, &[]).expect("commit");
    let snapshot = store.snapshot().expect("snapshot");
    let err = snapshot.parcel_by_prefix("abababab").unwrap_err();
    assert_eq!(err.code(), "ambiguous_prefix");
    let mut one = "ab".repeat(31);
    one.push_str("02");
    assert_eq!(snapshot.parcel_by_prefix(&one).expect("found").id.0[31], 2);
}
