//! A gossiped batch of transactions (borsh of a list of transactions'
//! bytes), as `relay` judges each gossip message: decoded whole, checked
//! canonical, signatures checked in one batch (`block::check_signatures`,
//! as `relay::checked_batch`), then each transaction run through the rules
//! ([`kp_fuzz::judge`]).
#![no_main]

use kp_ledger::block::{check_signatures, NONE_CHECKED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(txs) = kp_node::relay::decode_batch(data) else {
        return;
    };
    let bytes: Vec<Vec<u8>> = txs.iter().map(|tx| tx.bytes.clone()).collect();
    kp_fuzz::assert_canonical(&bytes, data, "gossiped batch");
    let verdicts = check_signatures(&txs, NONE_CHECKED);
    assert_eq!(verdicts.len(), txs.len());
    for tx in &txs {
        kp_fuzz::judge(tx, kp_fuzz::Signature::CheckedAlready);
    }
});
