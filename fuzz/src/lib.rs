//! What the fuzz targets share with the seed writer: the fixed ledgers that
//! decoded input is run against ([`fixture`]), valid inputs for every target
//! made by the project's own code ([`seeds`]), and the properties asserted on
//! whatever decodes.
//!
//! Seeds are written by code, never by hand, so that they stay valid when a
//! format changes (a field added to the signed payload, say): rebuild and run
//! `scripts/fuzz seed`.

pub mod chain;
pub mod fixture;
pub mod seeds;

use borsh::BorshSerialize;

/// One value, one byte string: what decoded from `bytes` must encode back to
/// exactly `bytes`. Borsh canonicity is a claim the ledger relies on (`ledger/src/tx.rs`): the
/// ledger hashes and verifies the bytes it received, so two encodings of one
/// value would be two ids for one transaction, or a signature that holds for
/// bytes nobody signed.
pub fn assert_canonical<T: BorshSerialize + std::fmt::Debug>(value: &T, bytes: &[u8], what: &str) {
    let again = borsh::to_vec(value).expect("encoding into a Vec cannot fail");
    assert!(
        again == bytes,
        "{what}: decoded value re-encodes to other bytes\n  input:  {}\n  again:  {}\n  value:  {value:?}",
        hex::encode(bytes),
        hex::encode(&again),
    );
}

/// Splits a fuzz input into the messages it frames: each a little-endian
/// `u16` length then that many bytes (a short last one takes what is left).
/// How the multi-message targets (proposal parts) read their input.
pub fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([data[0], data[1]]));
        data = &data[2..];
        let take = len.min(data.len());
        out.push(&data[..take]);
        data = &data[take..];
    }
    out
}

/// The inverse of [`frames`], for the seed writer.
pub fn framed<'a>(messages: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        let len = u16::try_from(message.len()).expect("a seed message fits a u16 length");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(message);
    }
    out
}

/// Whether [`judge`] checks the signature itself, or its caller did.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    Check,
    CheckedAlready,
}

/// What follows a decoded transaction in a node: its signature check (the
/// node's own, `admission::checked_tx`, unless the caller checked it as a node
/// does a batch's), then the rules, here over the
/// [`fixture`](fixture::fixture) whatever the signature (the rules are a
/// pure function of state and transaction; running them on unsigned input
/// reaches every rule, which a fuzzer could never sign for). A transaction
/// the rules accept must have an event-stream view that reads back as
/// itself: `kp watch` parses what the node sends.
pub fn judge(tx: &kp_ledger::tx::DecodedTx, signature: Signature) {
    use kp_ledger::rules::{apply_tx, ApplyError};
    use kp_ledger::state::Layered;
    use kp_ledger::trace::Event;
    use kp_wire::api::TxEventView;

    if signature == Signature::Check {
        let _signed = kp_node::admission::checked_tx(tx.bytes.clone()).is_ok();
    }
    let fx = fixture::fixture();
    let ctx = fixture::block_context(&fx.world);
    match apply_tx(&fx.world.state, &ctx, tx) {
        Ok(effects) => {
            let after = Layered {
                base: &fx.world.state,
                delta: &effects.delta,
            };
            let event = Event {
                tx: tx.id,
                height: ctx.height,
                index: 0,
                time: ctx.time,
                signer: *tx.signer(),
                body: tx.body().clone(),
                created: effects.created.clone(),
            };
            let view = kp_store::events::tx_event(&after, event)
                .unwrap_or_else(|e| panic!("in-memory state cannot fail: {e}"));
            let json = serde_json::to_string(&view).expect("a view serializes");
            let back: TxEventView = serde_json::from_str(&json).unwrap_or_else(|e| {
                panic!("an accepted transaction's event does not read back: {e}\n{json}")
            });
            assert_eq!(
                back, view,
                "an accepted transaction's event reads back as another"
            );
        }
        Err(ApplyError::Rejected(rejection)) => {
            let _ = (rejection.code(), rejection.to_string());
        }
        Err(ApplyError::Storage(fault)) => panic!("in-memory state cannot fail: {fault}"),
    }
}
