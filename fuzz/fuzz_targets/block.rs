//! A block's bytes (borsh), as sync and the write-ahead log carry them and
//! as a node decodes a synced value (`consensus::app`): decoded, checked
//! canonical, then applied over the fixture as a follower would: as given,
//! and with its header mended to fit the fixture's tip (chain, height,
//! parent, count and transaction root, which a fuzzer cannot forge), so
//! that the transactions it carries reach the rules and the state,
//! validator and parcel commitments are checked.
#![no_main]

use kp_crypto::merkle_root;
use kp_fuzz::fixture::fixture;
use kp_ledger::block::{apply_block, Block, NONE_CHECKED};
use kp_ledger::testkit::{test_chain, CHAIN_ID};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(block) = borsh::from_slice::<Block>(data) else {
        return;
    };
    kp_fuzz::assert_canonical(&block, data, "block");
    let _ = block.header.hash();
    let _ = serde_json::to_string(&block.header);
    let w = &fixture().world;
    let as_given = apply_block(&w.state, &w.tip, &test_chain(), block.clone(), NONE_CHECKED);
    if let Ok(applied) = &as_given {
        assert_eq!(applied.block, block);
        assert_eq!(applied.hash, block.header.hash());
        assert_eq!(applied.txs.len(), block.txs.len());
    }
    let mut mended = block;
    let header = &mut mended.header;
    header.chain_id = CHAIN_ID.to_owned();
    header.height = w.tip.height + 1;
    header.prev_hash = w.tip.hash;
    header.time = header.time.max(w.tip.time);
    header.tx_count = u32::try_from(mended.txs.len()).unwrap_or(u32::MAX);
    header.tx_root = merkle_root(&mended.txs);
    // Signatures taken as checked (as a node takes its mempool's): the
    // pass as given checked them, and the rules are what is left to reach.
    let _ = apply_block(&w.state, &w.tip, &test_chain(), mended, &|_| true);
});
