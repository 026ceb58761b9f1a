//! The store against real blocks: built by `build_block` over the store's
//! own snapshot, committed, read back, reopened, and refused when they lie.

use std::path::Path;

use kp_crypto::{Hash32, PublicKey, SecretKey};

use std::sync::Arc;

use kp_ledger::block::{build_block, AppliedBlock, BuiltBlock, NONE_CHECKED};
use kp_ledger::commitment::{ParcelCommitment, ParcelTree};
use kp_ledger::genesis::Genesis;
use kp_ledger::model::{HsCode, ParcelId, ParcelStatus, Role};
use kp_ledger::state::StateRead;
use kp_ledger::testkit::{key_named, signed, test_chain, test_genesis, test_proposer};
use kp_ledger::tx::{Body, DecodedTx, SplitOutput};

use crate::certificates::ProofCertificates;
use crate::database::Store;
use crate::error::StoreError;
use crate::tables::{self, encode};
use crate::testkit::CertifiedChain;

fn enrol(member: PublicKey, role: Role, name: &str) -> Body {
    Body::EnrolMember {
        member,
        role,
        name: name.into(),
        licence: format!("LIC-{name}"),
        zone: None,
    }
}

fn register(milli_carats: u64) -> Body {
    Body::RegisterParcel {
        origin: "BW".parse().expect("code"),
        zone: None,
        mine: "Jwaneng".into(),
        milli_carats,
        stones: 10,
        value_cents: milli_carats * 14,
        hs_code: HsCode::UNSORTED,
    }
}

/// Builds the next block over the store's snapshot, one second after the tip.
fn build(store: &Store, txs: Vec<DecodedTx>) -> BuiltBlock {
    let snapshot = store.snapshot().expect("snapshot");
    let tip = snapshot.tip().expect("tip");
    let proposer = test_proposer();
    build_block(
        &snapshot,
        &tip,
        &test_chain(),
        tip.time + 1,
        proposer,
        txs,
        NONE_CHECKED,
    )
    .expect("build")
}

/// Builds and commits a block in which every transaction must pass.
fn commit(store: &Store, txs: Vec<DecodedTx>) -> AppliedBlock {
    let built = build(store, txs);
    let reasons: Vec<String> = built.rejected.iter().map(|(_, r)| r.to_string()).collect();
    assert!(
        reasons.is_empty(),
        "every test transaction passes: {reasons:?}"
    );
    store.commit(&built.applied, &[]).expect("commit");
    built.applied
}

fn open_for(path: &Path, genesis: &Genesis) -> Result<Store, StoreError> {
    Store::open(path, genesis, Arc::new(ProofCertificates))
}

fn try_open(path: &Path) -> Result<Store, StoreError> {
    open_for(path, &test_genesis())
}

fn open(path: &Path) -> Store {
    try_open(path).expect("open")
}

struct History {
    miner: SecretKey,
    trader: PublicKey,
    /// Registered, then split into `split_a` and `split_b`.
    registered: ParcelId,
    other: ParcelId,
    split_a: ParcelId,
    split_b: ParcelId,
    /// Merged from `split_b` and `other`.
    merged: ParcelId,
    transfer: Hash32,
}

/// Three blocks: enrolments; two registrations; a split, a merge and an offer.
fn make_history(store: &Store) -> History {
    let authority = key_named("authority BW");
    let miner = key_named("store miner");
    let trader = key_named("store trader").public();
    commit(
        store,
        vec![
            signed(&authority, 1, enrol(miner.public(), Role::Miner, "Miner")),
            signed(&authority, 2, enrol(trader, Role::Trader, "Trader")),
        ],
    );
    let block = commit(
        store,
        vec![
            signed(&miner, 1, register(10_000)),
            signed(&miner, 2, register(4_000)),
        ],
    );
    let (registered, other) = (block.txs[0].created[0], block.txs[1].created[0]);
    let outputs = vec![
        SplitOutput {
            milli_carats: 6_000,
            hs_code: None,
        },
        SplitOutput {
            milli_carats: 4_000,
            hs_code: None,
        },
    ];
    let split = signed(
        &miner,
        3,
        Body::SplitParcel {
            parcel: registered,
            outputs,
        },
    );
    let (split_a, split_b) = (
        kp_ledger::rules::parcel_id(&split.id, 0),
        kp_ledger::rules::parcel_id(&split.id, 1),
    );
    let merge = signed(
        &miner,
        4,
        Body::MergeParcels {
            parcels: vec![split_b, other],
        },
    );
    let offer = signed(
        &miner,
        5,
        Body::OfferTransfer {
            parcel: split_a,
            to: trader,
            price_cents: None,
        },
    );
    let block = commit(store, vec![split, merge, offer]);
    History {
        miner,
        trader,
        registered,
        other,
        split_a,
        split_b,
        merged: block.txs[1].created[0],
        transfer: block.txs[2].created[0],
    }
}

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

/// Proposals persist, open and executed; a Participant admitted by one is
/// found by its authority key; the validator set reads the same from the
/// store as from memory.
#[test]
fn proposals_and_their_changes_are_stored() {
    use kp_ledger::model::{ParticipantChange, ParticipantStatus, ProposalStatus};
    use kp_ledger::rules::validator_set;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("ledger.redb"));
    let authority = |c: &str| key_named(&format!("authority {c}"));
    let angola = key_named("authority AO").public();
    let admit = Body::ProposeParticipantChange {
        change: ParticipantChange::Admit {
            code: "AO".parse().expect("code"),
            name: "Angola".into(),
            authority: angola,
            validator: None,
        },
    };
    let suspend = Body::ProposeParticipantChange {
        change: ParticipantChange::Suspend {
            code: "ZA".parse().expect("code"),
            zones: vec![],
        },
    };
    let block = commit(
        &store,
        vec![
            signed(&authority("BW"), 1, admit),
            signed(&authority("BW"), 2, suspend),
        ],
    );
    assert!(!block.delta.changes_participants());
    let (admission, suspension) = (block.txs[0].created[0], block.txs[1].created[0]);
    let approve = |proposal| Body::ApproveParticipantChange { proposal };
    let block = commit(
        &store,
        vec![
            signed(&authority("EU"), 1, approve(admission)),
            signed(&authority("IN"), 1, approve(admission)),
            signed(&authority("EU"), 2, approve(suspension)),
        ],
    );
    assert!(block.delta.changes_participants());

    let snapshot = store.snapshot().expect("snapshot");
    let open: Vec<_> = snapshot
        .open_proposals()
        .expect("open proposals")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(open, vec![suspension]);
    let executed = snapshot
        .proposal_by_prefix(&admission.to_string()[..8])
        .expect("by prefix");
    assert!(matches!(
        executed.status,
        ProposalStatus::Executed { height: 2, .. }
    ));
    assert_eq!(
        snapshot
            .proposal(&suspension)
            .expect("read")
            .map(|p| p.approvals.len()),
        Some(2)
    );
    let code = "AO".parse().expect("code");
    assert_eq!(
        snapshot.participant_by_authority(&angola).expect("read"),
        Some(code)
    );
    assert_eq!(
        snapshot.participant(code).expect("read").map(|p| p.status),
        Some(ParticipantStatus::Active)
    );
    let mut memory = kp_ledger::mem_state::MemState::default();
    memory.apply(test_genesis().initial_delta());
    assert_eq!(
        validator_set(&snapshot).expect("from the store"),
        validator_set(&memory).expect("from memory"),
        "AO runs no validator, and ZA is still active"
    );
    assert!(matches!(
        snapshot.proposal_by_prefix("00000000"),
        Err(StoreError::NotFound {
            what: "proposal",
            ..
        })
    ));
}

/// Commits a block at `time` in which every transaction must pass; the ids
/// each created, in block order.
fn block_at(
    chain: &mut CertifiedChain,
    time: u64,
    txs: Vec<(PublicKey, Body)>,
) -> Vec<Vec<Hash32>> {
    let block = chain.block_at(time, txs);
    block.txs.into_iter().map(|t| t.created).collect()
}

fn parcel_of(origin: &str, milli_carats: u64, value_cents: u64, hs_code: HsCode) -> Body {
    Body::RegisterParcel {
        origin: origin.parse().expect("code"),
        zone: None,
        mine: "Mine".into(),
        milli_carats,
        stones: 7,
        value_cents,
        hs_code,
    }
}

fn certificate(
    number: &str,
    exporter: PublicKey,
    importer: PublicKey,
    to: &str,
    parcels: Vec<ParcelId>,
    hs_codes: Vec<HsCode>,
) -> Body {
    Body::IssueCertificate {
        number: number.into(),
        exporter,
        importer,
        destination: to.parse().expect("code"),
        parcels,
        hs_codes,
        expires_on: kp_ledger::units::day_of(Q3) + 30,
        value_cents: None,
    }
}

/// 2026-02-10 and 2026-08-05, UTC: first quarter (first half) and third
/// quarter (second half).
const Q1: u64 = kp_ledger::testkit::START_TIME + 40 * 86_400;
const Q3: u64 = kp_ledger::testkit::START_TIME + 216 * 86_400;

/// Several Participants, mixed origins, three HS codes, two quarters, a
/// receipt with a discrepancy; every figure below computed by hand.
#[test]
fn statistics_match_hand_computed_totals() {
    use kp_wire::api::{Figures, StatsView};
    use kp_wire::stats::{Period, Scope};

    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = CertifiedChain::open(&dir.path().join("ledger.redb"));
    let w = &mut chain;
    let (bw, za, eu, india) = (
        w.authority("BW"),
        w.authority("ZA"),
        w.authority("EU"),
        w.authority("IN"),
    );
    let bw_miner = w.key("bw miner");
    let bw_exporter = w.key("bw exporter");
    let bw_importer = w.key("bw importer");
    let za_miner = w.key("za miner");
    let za_exporter = w.key("za exporter");
    let eu_importer = w.key("eu importer");
    let in_importer = w.key("in importer");
    block_at(
        &mut chain,
        Q1,
        vec![
            (bw, enrol(bw_miner, Role::Miner, "BW miner")),
            (bw, enrol(bw_exporter, Role::Exporter, "BW exporter")),
            (bw, enrol(bw_importer, Role::Importer, "BW importer")),
            (za, enrol(za_miner, Role::Miner, "ZA miner")),
            (za, enrol(za_exporter, Role::Exporter, "ZA exporter")),
            (eu, enrol(eu_importer, Role::Importer, "EU importer")),
            (india, enrol(in_importer, Role::Importer, "IN importer")),
        ],
    );
    let (unsorted, industrial, gem) =
        (HsCode::UNSORTED, HsCode::INDUSTRIAL, HsCode::NON_INDUSTRIAL);
    let ids = block_at(
        &mut chain,
        Q1,
        vec![
            (bw_miner, parcel_of("BW", 1_000_500, 15_000_075, unsorted)),
            (bw_miner, parcel_of("BW", 200_250, 3_000_000, gem)),
            (bw_miner, parcel_of("BW", 50_000, 100_000, industrial)),
            (za_miner, parcel_of("ZA", 500_000, 5_000_000, industrial)),
        ],
    );
    let [a, b, c, d] = [ids[0][0], ids[1][0], ids[2][0], ids[3][0]];
    let offers = block_at(
        &mut chain,
        Q1,
        vec![
            (bw_miner, offer(a, bw_exporter)),
            (bw_miner, offer(b, bw_exporter)),
            (bw_miner, offer(c, bw_exporter)),
            (za_miner, offer(d, za_exporter)),
        ],
    );
    block_at(
        &mut chain,
        Q1,
        vec![
            (bw_exporter, accept(offers[0][0])),
            (bw_exporter, accept(offers[1][0])),
            (bw_exporter, accept(offers[2][0])),
            (za_exporter, accept(offers[3][0])),
        ],
    );
    // First quarter: BW ships A and B to the EU, ZA ships D to BW.
    block_at(
        &mut chain,
        Q1,
        vec![
            (
                bw,
                certificate(
                    "BW-001",
                    bw_exporter,
                    eu_importer,
                    "EU",
                    vec![a, b],
                    vec![unsorted, gem],
                ),
            ),
            (
                za,
                certificate(
                    "ZA-001",
                    za_exporter,
                    bw_importer,
                    "BW",
                    vec![d],
                    vec![industrial],
                ),
            ),
        ],
    );
    // Third quarter: both received; BW mines E; D goes to the exporter and
    // is merged with C (mixed origin, BW and ZA) and shipped to India,
    // where 1 ct fewer is found.
    block_at(
        &mut chain,
        Q3,
        vec![
            (eu, receive("BW-001", 1_200_750, 2)),
            (bw, receive("ZA-001", 500_000, 1)),
            (bw_miner, parcel_of("BW", 10_000, 200_000, unsorted)),
            (bw_importer, offer(d, bw_exporter)),
        ],
    );
    let to_exporter = chain.store.snapshot().expect("snapshot");
    let transfer = to_exporter.parcel_events(&d).expect("events");
    let transfer = transfer.last().expect("offer").created[0];
    drop(to_exporter);
    block_at(&mut chain, Q3, vec![(bw_exporter, accept(transfer))]);
    let merged = block_at(
        &mut chain,
        Q3,
        vec![(
            bw_exporter,
            Body::MergeParcels {
                parcels: vec![c, d],
            },
        )],
    )[0][0];
    let merged_record = chain.snapshot().parcel(&merged).expect("read");
    assert!(merged_record.expect("parcel").is_mixed_origin());
    block_at(
        &mut chain,
        Q3,
        vec![(
            bw,
            certificate(
                "BW-002",
                bw_exporter,
                in_importer,
                "IN",
                vec![merged],
                vec![industrial],
            ),
        )],
    );
    block_at(&mut chain, Q3, vec![(india, receive("BW-002", 549_000, 1))]);

    let snapshot = chain.store.snapshot().expect("snapshot");
    let year = Period {
        year: 2026,
        scope: Scope::Year,
    };
    let stats = |code: &str, period: &Period| -> StatsView {
        snapshot
            .stats(code.parse().expect("code"), period)
            .expect("stats")
    };
    // (carats, US$, US$/ct, parcels, certificates, received carats)
    fn line(f: &Figures) -> (&str, &str, &str, u64, u64, &str) {
        (
            f.carats.as_str(),
            f.value_usd.as_str(),
            f.usd_per_carat.as_deref().unwrap_or("-"),
            f.parcels,
            f.certificates,
            f.received_carats.as_str(),
        )
    }

    let botswana = stats("BW", &year);
    let production: Vec<_> = botswana
        .production
        .periods
        .iter()
        .map(|p| (p.period.as_str(), line(&p.total)))
        .collect();
    assert_eq!(
        production,
        [
            ("H1", ("1250.750", "181000.75", "144.71", 3, 0, "0.000")),
            ("H2", ("10.000", "2000.00", "200.00", 1, 0, "0.000")),
        ]
    );
    assert_eq!(
        line(&botswana.production.total.total),
        ("1260.750", "183000.75", "145.15", 4, 0, "0.000")
    );
    let by_hs: Vec<_> = botswana
        .production
        .total
        .by_hs
        .iter()
        .map(|h| (h.hs_code.to_string(), line(&h.figures)))
        .collect();
    assert_eq!(
        by_hs,
        [
            (
                "7102.10".into(),
                ("1010.500", "152000.75", "150.42", 2, 0, "0.000")
            ),
            (
                "7102.21".into(),
                ("50.000", "1000.00", "20.00", 1, 0, "0.000")
            ),
            (
                "7102.31".into(),
                ("200.250", "30000.00", "149.81", 1, 0, "0.000")
            ),
        ]
    );
    assert!(botswana.production.total.by_partner.is_empty());

    let exports: Vec<_> = botswana
        .exports
        .periods
        .iter()
        .map(|p| (p.period.as_str(), line(&p.total)))
        .collect();
    assert_eq!(
        exports,
        [
            ("Q1", ("1200.750", "180000.75", "149.91", 2, 1, "0.000")),
            ("Q2", ("0.000", "0.00", "-", 0, 0, "0.000")),
            ("Q3", ("550.000", "51000.00", "92.73", 1, 1, "0.000")),
            ("Q4", ("0.000", "0.00", "-", 0, 0, "0.000")),
        ]
    );
    let total = &botswana.exports.total;
    assert_eq!(
        line(&total.total),
        ("1750.750", "231000.75", "131.94", 3, 2, "0.000")
    );
    let partners: Vec<_> = total
        .by_partner
        .iter()
        .map(|p| (p.partner.to_string(), line(&p.figures)))
        .collect();
    assert_eq!(
        partners,
        [
            (
                "EU".into(),
                ("1200.750", "180000.75", "149.91", 2, 1, "0.000")
            ),
            ("IN".into(), ("550.000", "51000.00", "92.73", 1, 1, "0.000")),
        ]
    );
    let by_hs: Vec<_> = total
        .by_hs
        .iter()
        .map(|h| (h.hs_code.to_string(), line(&h.figures)))
        .collect();
    assert_eq!(
        by_hs,
        [
            (
                "7102.10".into(),
                ("1000.500", "150000.75", "149.93", 1, 0, "0.000")
            ),
            // The mixed-origin parcel counts whole for its exporter.
            (
                "7102.21".into(),
                ("550.000", "51000.00", "92.73", 1, 0, "0.000")
            ),
            (
                "7102.31".into(),
                ("200.250", "30000.00", "149.81", 1, 0, "0.000")
            ),
        ]
    );
    // By origin, the mixed-origin shipment to India is shared: BW's 50 ct
    // and ZA's 500 ct of its US$ 51000.00 by carats, 4636.3636... and
    // 46363.6363..., the cent left over to ZA's larger remainder.
    let origins: Vec<_> = total
        .by_origin
        .iter()
        .map(|o| (o.origin.to_string(), line(&o.figures)))
        .collect();
    assert_eq!(
        origins,
        [
            (
                "BW".into(),
                ("1250.750", "184637.11", "147.62", 3, 2, "0.000")
            ),
            ("ZA".into(), ("500.000", "46363.64", "92.73", 1, 1, "0.000")),
        ]
    );
    let sum = |f: fn(&Figures) -> u64| total.by_origin.iter().map(|o| f(&o.figures)).sum::<u64>();
    assert_eq!(
        (sum(|f| f.milli_carats), sum(|f| f.value_cents)),
        (total.total.milli_carats, total.total.value_cents)
    );
    assert!(botswana.production.total.by_origin.is_empty());
    // Imports count in the quarter of the receipt, not of the issue.
    let q3 = Period {
        year: 2026,
        scope: Scope::Quarter(3),
    };
    let imports = stats("BW", &q3).imports;
    assert_eq!(imports.periods.len(), 1);
    assert_eq!(
        line(&imports.total.total),
        ("500.000", "50000.00", "100.00", 1, 1, "500.000")
    );
    assert_eq!(imports.total.by_partner[0].partner.as_str(), "ZA");
    let india_origins: Vec<_> = stats("IN", &q3)
        .imports
        .total
        .by_origin
        .iter()
        .map(|o| (o.origin.to_string(), o.figures.value_cents))
        .collect();
    assert_eq!(
        india_origins,
        [("BW".into(), 463_636), ("ZA".into(), 4_636_364)]
    );
    let india_q3 = stats("IN", &q3).imports.total.total;
    assert_eq!(
        line(&india_q3),
        ("550.000", "51000.00", "92.73", 1, 1, "549.000")
    );
    let q1 = Period {
        year: 2026,
        scope: Scope::Quarter(1),
    };
    assert_eq!(stats("EU", &q1).imports.total.total.milli_carats, 0);
    let h1 = Period {
        year: 2026,
        scope: Scope::Half(1),
    };
    let first_half = stats("BW", &h1);
    assert_eq!(first_half.production.periods.len(), 1);
    assert_eq!(first_half.production.total.total.milli_carats, 1_250_750);
    assert_eq!(first_half.exports.total.total.value_cents, 18_000_075);
    assert_eq!(
        stats(
            "BW",
            &Period {
                year: 2025,
                scope: Scope::Year
            }
        )
        .exports
        .total
        .total
        .certificates,
        0
    );

    // The published table: every Participant of the set, in code order.
    let table = snapshot.stats_table(&year).expect("table");
    let rows: Vec<_> = table
        .rows
        .iter()
        .map(|r| {
            (
                r.participant.to_string(),
                r.production.carats.as_str(),
                r.exports.carats.as_str(),
                r.imports.carats.as_str(),
                r.exports.certificates,
                r.imports.certificates,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("BW".into(), "1260.750", "1750.750", "500.000", 2, 1),
            ("CF".into(), "0.000", "0.000", "0.000", 0, 0),
            ("EU".into(), "0.000", "0.000", "1200.750", 0, 1),
            ("IN".into(), "0.000", "0.000", "550.000", 0, 1),
            ("VE".into(), "0.000", "0.000", "0.000", 0, 0),
            ("ZA".into(), "500.000", "500.000", "0.000", 1, 0),
        ]
    );
    drop(snapshot);

    // The index survives a reopen: it is in the file, not in memory.
    drop(chain);
    let again = open(&dir.path().join("ledger.redb"));
    let reopened = again
        .snapshot()
        .expect("snapshot")
        .stats("BW".parse().expect("code"), &year);
    assert_eq!(reopened.expect("stats"), botswana);
}

fn offer(parcel: ParcelId, to: PublicKey) -> Body {
    Body::OfferTransfer {
        parcel,
        to,
        price_cents: None,
    }
}

fn accept(transfer: Hash32) -> Body {
    Body::AcceptTransfer { transfer }
}

fn receive(number: &str, milli_carats: u64, parcel_count: u32) -> Body {
    Body::ReceiveCertificate {
        number: number.into(),
        milli_carats,
        parcel_count,
    }
}

mod anomalies;
