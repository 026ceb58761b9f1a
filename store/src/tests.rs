//! The store against real blocks: built by `build_block` over the store's
//! own snapshot, committed, read back, reopened, and refused when they lie.
//!
//! One file per store file it tests; here, the helpers they share.

use std::path::Path;

use kp_crypto::{Hash32, PublicKey, SecretKey};

use std::sync::Arc;

use kp_ledger::block::{build_block, AppliedBlock, BuiltBlock, NONE_CHECKED};
use kp_ledger::commitment::ParcelCommitment;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::{HsCode, ParcelId, Role};
use kp_ledger::state::StateRead;
use kp_ledger::testkit::{key_named, signed, test_chain, test_genesis, test_proposer};
use kp_ledger::tx::{Body, DecodedTx, SplitOutput};

use crate::certificates::ProofCertificates;
use crate::database::Store;
use crate::error::StoreError;
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
mod database;
mod proposals;
mod snapshot;
mod stats;
mod trace;
