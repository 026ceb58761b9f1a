//! The envelope every transaction passes first (`rules/mod.rs`): the
//! signer is known, the chain is this one, the nonce is the next one and
//! the signature holds.

use super::*;

#[test]
fn next_nonce_is_accepted_replay_and_gap_are_not() {
    let mut c = chain();
    let body = World::register_body("BW", 1_000);
    let tx = c.w.sign(&c.miner, body.clone());
    assert!(c.w.apply_signed(&tx).is_ok());
    assert_eq!(rejected(c.w.apply_signed(&tx)), "replay");
    let gap = c.w.sign_with_nonce(&c.miner, 5, body);
    assert_eq!(rejected(c.w.apply_signed(&gap)), "nonce_gap");
}

#[test]
fn unknown_signer_and_wrong_chain() {
    let mut w = World::new();
    let stranger = w.key("stranger");
    assert_eq!(
        rejected(w.apply(&stranger, World::register_body("BW", 1))),
        "unknown_signer"
    );

    // Signed, well, for a chain of the same name that grew from
    // another genesis.
    let mut c = chain();
    let mut other = crate::testkit::test_genesis();
    other.genesis_time += 1;
    let ours = c.w.genesis.hash();
    assert_eq!(other.chain_id, c.w.genesis.chain_id);
    let tx = crate::tx::TxPayload {
        signer: c.miner,
        nonce: 1,
        genesis: other.hash(),
        body: World::register_body("BW", 1_000),
    }
    .sign(&crate::testkit::key_named("debswana"));
    let tx = crate::tx::DecodedTx::decode(tx.to_bytes()).unwrap();
    let refusal = c.w.apply_signed(&tx).unwrap_err();
    assert_eq!(refusal.code(), "wrong_chain");
    let message = refusal.to_string();
    assert!(
        message.contains(&other.hash().to_string()) && message.contains(&ours.to_string()),
        "{message}"
    );
}

#[test]
fn bad_signatures_never_enter_a_block() {
    let mut c = chain();
    let good = c.w.sign(&c.miner, World::register_body("BW", 1_000));
    let mut forged = c.w.sign(&c.trader, World::register_body("BW", 1_000));
    forged.tx.signature.0[0] ^= 1;
    let (block, rejected) = c.w.commit_block(vec![good.clone(), forged.clone()]);
    assert_eq!(block.txs.len(), 1);
    assert_eq!(block.txs[0].id, good.id);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].1.code(), "bad_signature");
}
