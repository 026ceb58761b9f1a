//! Opening and committing (`database.rs`): the genesis state on first open,
//! a reopen that keeps everything, and the files, genesis and blocks that
//! are refused.

use kp_ledger::commitment::ParcelTree;

use super::*;
use crate::tables::{self, encode};

#[test]
fn genesis_state_is_there_on_first_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("ledger.redb"));
    let genesis = test_genesis();
    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(snapshot.tip().expect("tip"), genesis.tip());
    assert_eq!(
        snapshot.genesis_hash().expect("genesis hash"),
        genesis.hash()
    );
    assert_eq!(
        snapshot.participants().expect("participants").len(),
        genesis.participants.len()
    );
    let bw = &genesis.participants[0];
    assert_eq!(
        snapshot.participant(bw.code).expect("read").as_ref(),
        Some(bw)
    );
    assert_eq!(
        snapshot
            .participant_by_authority(&bw.authority)
            .expect("read"),
        Some(bw.code)
    );
    assert_eq!(snapshot.nonce(&bw.authority).expect("read"), 0);
    assert_eq!(snapshot.block(0).expect("read"), None);
}

#[test]
fn reopening_keeps_every_block_and_the_tip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.redb");
    let store = open(&path);
    let h = make_history(&store);
    let tip = store.tip().expect("tip");
    drop(store);

    let store = open(&path);
    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(snapshot.tip().expect("tip"), tip);
    assert_eq!(snapshot.nonce(&h.miner.public()).expect("read"), 5);
    assert_eq!(
        snapshot
            .trace(&h.merged)
            .expect("trace")
            .expect("parcel")
            .events
            .len(),
        4
    );
    // The parcel commitment, rebuilt from the stored bucket hashes, is the
    // tip's, and is what the records give.
    let tip_header = snapshot
        .block(tip.height)
        .expect("read")
        .expect("block")
        .header;
    assert_ne!(tip_header.parcels_root, ParcelTree::default().root());
    assert_eq!(snapshot.parcel_tree().root(), tip_header.parcels_root);
    for id in [h.registered, h.other, h.split_a, h.split_b, h.merged] {
        let bucket = kp_ledger::commitment::bucket_of(&id);
        let records = snapshot.parcels_in_bucket(bucket).expect("read");
        let proof = snapshot.parcel_tree().bucket_proof(bucket);
        let from_records = kp_ledger::commitment::bucket_hash(&records);
        assert_eq!(
            proof.verify(&tip_header.parcels_root, &from_records.0),
            Ok(())
        );
    }
    drop(snapshot);
    // And the chain goes on from where it was.
    let next = commit(&store, vec![signed(&h.miner, 6, register(1_000))]);
    assert_eq!(next.block.header.height, 4);
    assert_eq!(next.block.header.prev_hash, tip.hash);
}

#[test]
fn stored_bucket_hashes_that_disagree_with_the_tip_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.redb");
    let store = open(&path);
    let h = make_history(&store);
    drop(store);
    {
        let db = redb::Database::create(&path).expect("raw open");
        let txn = db.begin_write().expect("write");
        txn.open_table(tables::PARCEL_BUCKETS)
            .expect("buckets")
            .insert(kp_ledger::commitment::bucket_of(&h.merged), [7u8; 32])
            .expect("insert");
        txn.commit().expect("commit");
    }
    let err = try_open(&path).err().expect("refused");
    assert_eq!(err.code(), "storage_corrupt");
    assert!(err.to_string().contains("parcel bucket hashes"), "{err}");
}

#[test]
fn another_genesis_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.redb");
    drop(open(&path));
    let mut other = test_genesis();
    other.chain_id = "kp-other".into();
    let err = open_for(&path, &other).err().expect("refused");
    assert_eq!(err.code(), "genesis_mismatch");
    // The refusal changed nothing: the right genesis still opens it.
    drop(open(&path));
}

#[test]
fn a_database_of_another_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.redb");
    drop(open(&path));
    let set_format = |format: Option<u32>| {
        let db = redb::Database::create(&path).expect("raw open");
        let txn = db.begin_write().expect("write");
        {
            let mut meta = txn.open_table(tables::META).expect("meta");
            match format {
                Some(f) => meta
                    .insert(tables::META_FORMAT, encode(&f).expect("encode").as_slice())
                    .map(|_| ()),
                None => meta.remove(tables::META_FORMAT).map(|_| ()),
            }
            .expect("write format");
        }
        txn.commit().expect("commit");
    };
    set_format(Some(tables::FORMAT_VERSION + 1));
    let err = try_open(&path).err().expect("refused");
    assert_eq!(err.code(), "storage_format");
    // Format 5 signed transactions for the chain id alone: its ledger is
    // other bytes, and the operator is told what to do.
    set_format(Some(5));
    let err = try_open(&path).err().expect("refused");
    assert_eq!(err.code(), "storage_format");
    let message = err.to_string();
    assert!(
        message.contains("format 5") && message.contains("new home"),
        "{message}"
    );
    // Format 3 had no statistics index: read as is, it would answer zeros.
    set_format(Some(3));
    let err = try_open(&path).err().expect("refused");
    assert_eq!(err.code(), "storage_format");
    set_format(None);
    let err = try_open(&path).err().expect("refused");
    assert!(err.to_string().contains("unversioned"), "{err}");
    set_format(Some(tables::FORMAT_VERSION));
    drop(open(&path));
}

#[test]
fn a_second_open_of_one_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.redb");
    let _store = open(&path);
    let err = try_open(&path).err().expect("refused");
    assert_eq!(err.code(), "storage_in_use");
}

#[test]
fn a_block_off_the_tip_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("ledger.redb"));
    let authority = key_named("authority BW");
    let (first, second) = (key_named("first").public(), key_named("second").public());
    // Two rival blocks at height 1; only the first to commit may stay.
    let rival_a = build(
        &store,
        vec![signed(&authority, 1, enrol(first, Role::Miner, "First"))],
    );
    let rival_b = build(
        &store,
        vec![signed(&authority, 1, enrol(second, Role::Miner, "Second"))],
    );
    let tip = store.commit(&rival_a.applied, &[]).expect("commit");

    let err = store.commit(&rival_b.applied, &[]).unwrap_err();
    assert_eq!(err.code(), "not_on_tip");
    // Right height, wrong parent.
    let mut off_parent = build(&store, Vec::new());
    off_parent.applied.block.header.prev_hash = Hash32([7; 32]);
    off_parent.applied.hash = off_parent.applied.block.header.hash();
    assert_eq!(
        store.commit(&off_parent.applied, &[]).unwrap_err().code(),
        "not_on_tip"
    );

    // Buckets that do not give the header's parcels root.
    let mut inconsistent = build(
        &store,
        vec![signed(&key_named("first"), 1, register(1_000))],
    );
    assert_eq!(inconsistent.applied.parcel_buckets.len(), 1);
    inconsistent.applied.parcel_buckets.clear();
    assert_eq!(
        store.commit(&inconsistent.applied, &[]).unwrap_err().code(),
        "inconsistent_block"
    );

    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(snapshot.tip().expect("tip"), tip);
    assert_eq!(snapshot.member(&second).expect("read"), None);
    assert_eq!(snapshot.tx(&rival_b.applied.txs[0].id).expect("read"), None);
    assert_eq!(
        snapshot.block_height(&rival_b.applied.hash).expect("read"),
        None
    );
    assert_eq!(
        snapshot
            .block_height(&off_parent.applied.hash)
            .expect("read"),
        None
    );
    assert!(snapshot.member(&first).expect("read").is_some());
}

/// The store keeps a block's next validator set, when the block changes
/// the set, for proofs to show: a set that is not the one the header
/// vouches for (`next_validators_hash`) is refused, as is a change left out.
#[test]
fn a_block_whose_next_validator_set_is_not_its_headers_is_refused() {
    use kp_ledger::model::ParticipantChange;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("ledger.redb"));
    let authority = |c: &str| key_named(&format!("authority {c}"));
    // Angola admitted with a validator, in one block: proposed by Botswana
    // and approved by the EU and South Africa (three of four).
    let propose = signed(
        &authority("BW"),
        1,
        Body::ProposeParticipantChange {
            change: ParticipantChange::Admit {
                code: "AO".parse().expect("code"),
                name: "Angola".into(),
                authority: key_named("authority AO").public(),
                validator: Some(key_named("validator AO").public()),
            },
        },
    );
    let proposal = kp_ledger::rules::proposal_id(&propose.id);
    let approve = |c: &str| {
        signed(
            &authority(c),
            1,
            Body::ApproveParticipantChange { proposal },
        )
    };
    let changing = build(&store, vec![propose, approve("EU"), approve("ZA")]);
    let changed_to = changing
        .applied
        .next_validators
        .clone()
        .expect("the set changes");
    let header = &changing.applied.block.header;
    assert_ne!(header.next_validators_hash, header.validators_hash);

    let refused = |applied: &AppliedBlock| store.commit(applied, &[]).unwrap_err().code();
    let mut left_out = changing.applied.clone();
    left_out.next_validators = None;
    assert_eq!(refused(&left_out), "inconsistent_block");
    let mut other_set = changing.applied.clone();
    other_set.next_validators = Some(changed_to[1..].to_vec());
    assert_eq!(refused(&other_set), "inconsistent_block");
    let mut unchanging = build(&store, Vec::new());
    unchanging.applied.next_validators = Some(changed_to.clone());
    assert_eq!(refused(&unchanging.applied), "inconsistent_block");
    assert_eq!(store.tip().expect("tip").height, 0, "nothing was written");

    store
        .commit(&changing.applied, &[])
        .expect("the block as built");
}
