//! Two `kpnode dev` chains share the chain id `kp-dev`, and a member
//! enrolled on both: a transaction signed for one is refused by the other
//! (`wrong_chain`), since transactions are signed for their chain's genesis
//! hash, not its name.

use kp_crypto::keystore::read_key_file;
use kp_ledger::model::HsCode;
use kp_ledger::tx::{Body, Transaction};
use kp_tests::{enroll_args, ok_stdout, register_args, DevNode, DEV_PASSPHRASE};
use kp_wire::api::TxState;

#[test]
fn a_transaction_signed_for_one_dev_chain_is_refused_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let first = DevNode::start(&d.join("first"), "BW,EU").unwrap();
    let second = DevNode::start(&d.join("second"), "BW,EU").unwrap();
    let (first_status, second_status) = (first.status().unwrap(), second.status().unwrap());
    assert_eq!(first_status.chain_id, second_status.chain_id);
    assert_ne!(first_status.genesis_hash, second_status.genesis_hash);

    // One miner, licensed by Botswana on both chains.
    let (key_file, public) = first.new_key(d, "miner");
    for node in [&first, &second] {
        let bw = node.key_path("BW").to_string_lossy().into_owned();
        let enrol = enroll_args(&bw, &public, "miner", "Jwaneng Mine", "BW-ML-0042");
        ok_stdout(&node.kp(&enrol), "enrol");
    }
    let miner = read_key_file(key_file.as_ref(), DEV_PASSPHRASE).expect("the miner's key");

    // Its first registration, signed for the first chain: taken there...
    let body = Body::RegisterParcel {
        origin: "BW".parse().unwrap(),
        zone: None,
        mine: "Jwaneng".into(),
        milli_carats: 1_000,
        stones: 3,
        value_cents: 14_000,
        hs_code: HsCode::UNSORTED,
    };
    let tx = Transaction::signed(&miner, 1, first_status.genesis_hash, body);
    let pending = first.client().submit(&tx.to_bytes()).unwrap();
    assert_eq!(pending.state, TxState::Pending);

    // ...and refused by the second, though its signer, nonce and rules fit.
    let refusal = second.client().submit(&tx.to_bytes()).unwrap_err();
    assert!(refusal.is_rejection(), "{refusal:?}");
    assert_eq!(refusal.code(), "wrong_chain");
    let message = refusal.to_string();
    for genesis in [first_status.genesis_hash, second_status.genesis_hash] {
        assert!(message.contains(&genesis.to_string()), "{message}");
    }

    // kp signs for the chain of the node it talks to.
    let register = register_args(&key_file, "BW", None, "1.000", "7102.10");
    ok_stdout(&second.kp(&register), "register on the second chain");
}
