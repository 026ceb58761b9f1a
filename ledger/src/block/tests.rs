//! The block header: it counts its transactions, commits to the parcels
//! and names the validator set, and a block whose header lies is refused.

use crate::block::{apply_block, build_block, validators_hash, BlockError, NONE_CHECKED};
use crate::model::Role;
use crate::rules::validator_set;
use crate::testkit::{test_chain, test_proposer, World};

#[test]
fn a_header_counts_its_transactions_commits_to_the_parcels_and_names_the_validator_set() {
    let mut w = World::new();
    let miner = w.enrol("BW", "Debswana", Role::Miner, None);
    let txs = vec![w.sign(&miner, World::register_body("BW", 1_000))];
    let built = build_block(
        &w.state,
        &w.tip,
        &test_chain(),
        w.time,
        test_proposer(),
        txs,
        NONE_CHECKED,
    )
    .expect("in memory");
    let block = built.applied.block;
    assert_eq!(block.header.tx_count, 1);
    let in_force = validator_set(&w.state).expect("in memory");
    assert!(!in_force.is_empty());
    assert_eq!(block.header.validators_hash, validators_hash(&in_force));
    apply_block(&w.state, &w.tip, &test_chain(), block.clone(), NONE_CHECKED)
        .expect("the block as built applies");

    let mut miscounted = block.clone();
    miscounted.header.tx_count = 2;
    assert!(matches!(
        apply_block(&w.state, &w.tip, &test_chain(), miscounted, NONE_CHECKED),
        Err(BlockError::TxCount {
            claimed: 2,
            held: 1
        })
    ));

    let mut misrooted = block.clone();
    misrooted.header.parcels_root.0[0] ^= 1;
    assert!(matches!(
        apply_block(&w.state, &w.tip, &test_chain(), misrooted, NONE_CHECKED),
        Err(BlockError::ParcelsRoot { .. })
    ));

    // A set without its last validator: what a block would claim if a
    // suspension had been left out of what a verifier was given.
    let mut other_set = block.clone();
    other_set.header.validators_hash = validators_hash(&in_force[1..]);
    assert!(matches!(
        apply_block(&w.state, &w.tip, &test_chain(), other_set, NONE_CHECKED),
        Err(BlockError::ValidatorsHash { .. })
    ));
    let mut other_next = block;
    other_next.header.next_validators_hash = validators_hash(&in_force[1..]);
    assert!(matches!(
        apply_block(&w.state, &w.tip, &test_chain(), other_next, NONE_CHECKED),
        Err(BlockError::NextValidatorsHash { .. })
    ));
}
