//! Verifying a provenance bundle offline (issue #4's target: 1,000 events
//! in under 100 ms on one core): a parcel handed back and forth 500 times,
//! each hand-over (offer and acceptance) in its own block among 30 other
//! registrations, under the test genesis's four validators. The worst
//! layout for the verifier: one header and four precommits per two events.
//! Also what the node spends building that bundle (`GET .../bundle`), and
//! building one of 51 events in blocks of 5,000 transactions, where each
//! proof needs its whole block read.
//!
//! cargo bench -p kp-store --bench bundle

// A benchmark: a failed step should stop it loudly (the workspace bans
// unwrap and panic in code that runs in a node or `kp`).
#![allow(clippy::panic, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kp_ledger::model::{ParcelId, Role};
use kp_ledger::rules::transfer_id;
use kp_ledger::testkit::{test_genesis, World};
use kp_ledger::tx::Body;
use kp_store::testkit::CertifiedChain;
use kp_wire::bundle_file::{to_file, ReadBundle};

/// The chain and a parcel handed over `hand_overs` times, each time in a
/// block with `others` more transactions: a history of `2 * hand_overs + 1`
/// events.
fn hand_over_chain(
    dir: &std::path::Path,
    hand_overs: usize,
    others: usize,
) -> (CertifiedChain, ParcelId) {
    let mut chain = CertifiedChain::open(&dir.join("bench.redb"));
    let authority = chain.authority("BW");
    let [a, b, busy] = ["holder a", "holder b", "busy miner"].map(|name| chain.key(name));
    let enrol = |member| Body::EnrolMember {
        member,
        role: Role::Miner,
        name: "m".into(),
        licence: "l".into(),
        zone: None,
    };
    chain.block(vec![
        (authority, enrol(a)),
        (authority, enrol(b)),
        (authority, enrol(busy)),
    ]);
    let parcel = chain
        .block(vec![(a, World::register_body("BW", 10_000))])
        .txs[0]
        .created[0];
    let (mut from, mut to) = (a, b);
    for _ in 0..hand_overs {
        let offer = chain.sign(
            &from,
            Body::OfferTransfer {
                parcel,
                to,
                price_cents: None,
            },
        );
        let accept = chain.sign(
            &to,
            Body::AcceptTransfer {
                transfer: transfer_id(&offer.id),
            },
        );
        let mut txs = vec![offer, accept];
        for _ in 0..others {
            txs.push(chain.sign(&busy, World::register_body("BW", 1_000)));
        }
        chain.block_signed(txs);
        std::mem::swap(&mut from, &mut to);
    }
    (chain, parcel)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (chain, parcel) = hand_over_chain(dir.path(), 500, 30);
    let bundle = chain.bundle(&parcel);
    let genesis = test_genesis();
    let events = bundle.parcels[0].events.len();
    let file = to_file(&bundle);
    eprintln!(
        "bundle: {events} events, {} headers, {} transactions, {} bytes as a file",
        bundle.headers.len(),
        bundle.txs.len(),
        file.len()
    );
    if let Err(e) = bundle.verify(&genesis) {
        panic!("the bench bundle must verify: {e}");
    }
    let mut group = c.benchmark_group("bundle");
    group.throughput(Throughput::Elements(events as u64));
    group.sample_size(20);
    group.bench_function("build 1,001 events at the node", |bench| {
        bench.iter(|| chain.bundle(&parcel))
    });
    group.bench_function("verify 1,001 events", |bench| {
        bench.iter(|| bundle.verify(&genesis))
    });
    group.bench_function("read the file and verify 1,001 events", |bench| {
        bench.iter(|| ReadBundle::parse(&file).and_then(|read| read.verify(&genesis)))
    });
    group.finish();

    let big = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (chain, parcel) = hand_over_chain(big.path(), 25, 5_000);
    let mut group = c.benchmark_group("bundle in blocks of 5,000");
    group.sample_size(10);
    group.bench_function("build 51 events at the node", |bench| {
        bench.iter(|| chain.bundle(&parcel))
    });
    let bundle = chain.bundle(&parcel);
    group.bench_function("verify 51 events", |bench| {
        bench.iter(|| bundle.verify(&genesis))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
