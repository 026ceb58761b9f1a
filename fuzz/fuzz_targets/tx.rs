//! A transaction's bytes (borsh), as the API, gossip and blocks carry them:
//! decoded, checked canonical, then signature-checked and run through the
//! rules over the fixture ([`kp_fuzz::judge`]).
#![no_main]

use kp_ledger::tx::{tx_id, DecodedTx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = DecodedTx::decode(data.to_vec()) else {
        return;
    };
    kp_fuzz::assert_canonical(&tx.tx, data, "transaction");
    assert_eq!(tx.id, tx_id(data));
    assert_eq!(tx.bytes, data);
    kp_fuzz::judge(&tx, kp_fuzz::Signature::Check);
});
