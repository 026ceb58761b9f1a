//! Applying signed transfers into blocks, signature checks included: the
//! follower's path (`apply_block`: decode, batch-verify, rules, state hash)
//! and the proposer's (`build_block`). State is in memory here, so this
//! measures the rules and the cryptography; storage has its own benchmark.
//!
//! cargo bench -p kp-ledger --bench apply

// A benchmark: a failed step should stop it loudly (the workspace bans
// unwrap and panic in code that runs in a node or `kp`).
#![allow(clippy::panic, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kp_ledger::block::{apply_block, build_block, NONE_CHECKED};
use kp_ledger::model::Role;
use kp_ledger::testkit::{test_chain, test_proposer, World};
use kp_ledger::tx::{Body, DecodedTx};

const MINERS: usize = 100;
const PARCELS_PER_MINER: usize = 50;

/// A world where each of 100 miners holds 50 parcels, and one block's worth
/// of signed offers, each moving one parcel to a trader.
fn setup() -> (World, Vec<DecodedTx>) {
    let mut w = World::new();
    let trader = w.enrol("BW", "trader", Role::Trader, None);
    let miners: Vec<_> = (0..MINERS)
        .map(|i| w.enrol("BW", &format!("miner {i}"), Role::Miner, None))
        .collect();
    let mut parcels = Vec::new();
    for miner in &miners {
        let txs: Vec<DecodedTx> = (0..PARCELS_PER_MINER as u64)
            .map(|k| w.sign_with_nonce(miner, k + 1, World::register_body("BW", 1_000 + k)))
            .collect();
        let (block, rejected) = w.commit_block(txs);
        assert!(rejected.is_empty());
        parcels.extend(block.txs.iter().map(|t| (*miner, t.created[0])));
    }
    let mut offers = Vec::with_capacity(parcels.len());
    for (i, (miner, parcel)) in parcels.iter().enumerate() {
        let nonce = PARCELS_PER_MINER as u64 + 1 + (i % PARCELS_PER_MINER) as u64;
        offers.push(w.sign_with_nonce(
            miner,
            nonce,
            Body::OfferTransfer {
                parcel: *parcel,
                to: trader,
                price_cents: Some(150_000),
            },
        ));
    }
    (w, offers)
}

fn transfers_into_blocks(c: &mut Criterion) {
    let (w, offers) = setup();
    let proposer = test_proposer();
    let built = build_block(
        &w.state,
        &w.tip,
        &test_chain(),
        w.time,
        proposer,
        offers.clone(),
        NONE_CHECKED,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        built.rejected.is_empty(),
        "every offer in the benchmark is valid"
    );
    let block = built.applied.block;

    let mut group = c.benchmark_group("signed transfers");
    group.throughput(Throughput::Elements(offers.len() as u64));
    group.sample_size(20);
    group.bench_function("apply_block (follower)", |b| {
        b.iter_batched(
            || block.clone(),
            |block| {
                apply_block(&w.state, &w.tip, &test_chain(), block, NONE_CHECKED)
                    .unwrap_or_else(|e| panic!("{e}"))
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("build_block (proposer)", |b| {
        b.iter_batched(
            || offers.clone(),
            |txs| {
                build_block(
                    &w.state,
                    &w.tip,
                    &test_chain(),
                    w.time,
                    proposer,
                    txs,
                    NONE_CHECKED,
                )
                .unwrap_or_else(|e| panic!("{e}"))
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, transfers_into_blocks);
criterion_main!(benches);
