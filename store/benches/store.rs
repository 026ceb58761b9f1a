//! Applying signed transfers into blocks with storage: a follower's whole
//! path for one block of 5,000 or 10,000 transfers: decode, batch-verify, rules and
//! state hash over a redb snapshot (`apply_block`), then the durable commit
//! of blocks, transactions, state and indexes in one write transaction.
//! Blocks alternate between offers and their acceptances.
//!
//! cargo bench -p kp-store --bench store

// A benchmark: a failed step should stop it loudly (the workspace bans
// unwrap and panic in code that runs in a node or `kp`).
#![allow(clippy::panic, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kp_crypto::PublicKey;
use kp_ledger::block::{apply_block, build_block, Block, NONE_CHECKED};
use kp_ledger::model::{ParcelId, Role};
use kp_ledger::rules::transfer_id;
use kp_ledger::state::StateRead;
use kp_ledger::testkit::{test_chain, test_proposer, World};
use kp_ledger::tx::{Body, DecodedTx};
use kp_store::{ProofCertificates, Store};

const PARCELS_PER_MINER: usize = 50;

struct Bench {
    w: World,
    store: Store,
    _dir: tempfile::TempDir,
    /// (holder, parcel, the other member of its pair)
    parcels: Vec<(PublicKey, ParcelId, PublicKey)>,
    offers: Vec<DecodedTx>,
}

impl Bench {
    /// `miners` holders with 50 parcels each: blocks of `miners * 50` transfers.
    fn new(miners: usize) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut w = World::new();
        let path = dir.path().join("bench.redb");
        let store = Store::open(&path, &w.genesis, Arc::new(ProofCertificates))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut bench = Bench {
            w: World::new(),
            store,
            _dir: dir,
            parcels: Vec::new(),
            offers: Vec::new(),
        };
        // Keys are only remembered by the world that signs.
        let pairs: Vec<(PublicKey, PublicKey)> = (0..miners)
            .map(|i| (w.key(&format!("miner {i}")), w.key(&format!("peer {i}"))))
            .collect();
        let authority = w.authority("BW");
        let mut enrolments = Vec::new();
        for (n, (miner, peer)) in pairs.iter().enumerate() {
            for (k, member) in [miner, peer].into_iter().enumerate() {
                let body = Body::EnrolMember {
                    member: *member,
                    role: Role::Miner,
                    name: "m".into(),
                    licence: "l".into(),
                    zone: None,
                };
                enrolments.push(w.sign_with_nonce(&authority, (2 * n + k + 1) as u64, body));
            }
        }
        bench.commit(enrolments);
        let mut registrations = Vec::new();
        for (miner, _) in &pairs {
            for k in 0..PARCELS_PER_MINER as u64 {
                registrations.push(w.sign_with_nonce(
                    miner,
                    k + 1,
                    World::register_body("BW", 1_000 + k),
                ));
            }
        }
        let block = bench.commit(registrations);
        let snapshot = bench.store.snapshot().unwrap_or_else(|e| panic!("{e}"));
        for (i, raw) in block.txs.iter().enumerate() {
            let tx = DecodedTx::decode(raw.clone()).unwrap_or_else(|e| panic!("{e}"));
            let (miner, peer) = pairs[i / PARCELS_PER_MINER];
            let id = kp_ledger::rules::parcel_id(&tx.id, 0);
            assert!(snapshot.parcel(&id).ok().flatten().is_some());
            bench.parcels.push((miner, id, peer));
        }
        bench.w = w;
        bench
    }

    fn nonce(&self, key: &PublicKey) -> u64 {
        let snapshot = self.store.snapshot().unwrap_or_else(|e| panic!("{e}"));
        snapshot.nonce(key).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Builds (as a proposer would) and commits a block; returns it.
    fn commit(&self, txs: Vec<DecodedTx>) -> Block {
        let block = self.build(txs);
        self.apply_and_commit(block.clone());
        block
    }

    fn build(&self, txs: Vec<DecodedTx>) -> Block {
        let snapshot = self.store.snapshot().unwrap_or_else(|e| panic!("{e}"));
        let tip = snapshot.tip().unwrap_or_else(|e| panic!("{e}"));
        let proposer = test_proposer();
        let built = build_block(
            &snapshot,
            &tip,
            &test_chain(),
            tip.time + 1,
            proposer,
            txs,
            NONE_CHECKED,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            built.rejected.is_empty(),
            "every benchmark transaction is valid"
        );
        built.applied.block
    }

    /// The measured path: what a follower does with a decided block.
    fn apply_and_commit(&self, block: Block) {
        let snapshot = self.store.snapshot().unwrap_or_else(|e| panic!("{e}"));
        let tip = snapshot.tip().unwrap_or_else(|e| panic!("{e}"));
        let applied = apply_block(&snapshot, &tip, &test_chain(), block, NONE_CHECKED)
            .unwrap_or_else(|e| panic!("{e}"));
        drop(snapshot);
        self.store
            .commit(&applied, &[])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The next block of 5,000 transfers: offers, or the acceptances of the
    /// offers of the previous block (after which holder and peer swap).
    fn next_block(&mut self) -> Block {
        let mut txs = Vec::with_capacity(self.parcels.len());
        if self.offers.is_empty() {
            let mut nonces = std::collections::HashMap::new();
            for (holder, parcel, peer) in &self.parcels {
                let nonce = nonces.entry(*holder).or_insert_with(|| self.nonce(holder));
                *nonce += 1;
                txs.push(self.w.sign_with_nonce(
                    holder,
                    *nonce,
                    Body::OfferTransfer {
                        parcel: *parcel,
                        to: *peer,
                        price_cents: None,
                    },
                ));
            }
            self.offers = txs.clone();
        } else {
            let mut nonces = std::collections::HashMap::new();
            let offers = std::mem::take(&mut self.offers);
            for (offer, (_, _, peer)) in offers.iter().zip(&self.parcels) {
                let nonce = nonces.entry(*peer).or_insert_with(|| self.nonce(peer));
                *nonce += 1;
                let accept = Body::AcceptTransfer {
                    transfer: transfer_id(&offer.id),
                };
                txs.push(self.w.sign_with_nonce(peer, *nonce, accept));
            }
            for (holder, _, peer) in &mut self.parcels {
                std::mem::swap(holder, peer);
            }
        }
        self.build(txs)
    }
}

fn transfers_into_stored_blocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("signed transfers with storage");
    group.sample_size(10);
    // A proposer under load fills blocks to the limit (10,000).
    for miners in [100, 200] {
        let mut bench = Bench::new(miners);
        let block_txs = miners * PARCELS_PER_MINER;
        group.throughput(Throughput::Elements(block_txs as u64));
        let name = format!("apply_block + commit, {block_txs} per block (follower)");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut measured = Duration::ZERO;
                for _ in 0..iters {
                    let block = bench.next_block();
                    let start = Instant::now();
                    bench.apply_and_commit(block);
                    measured += start.elapsed();
                }
                measured
            })
        });
    }
    group.finish();
}

criterion_group!(benches, transfers_into_stored_blocks);
criterion_main!(benches);
