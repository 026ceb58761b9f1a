//! The nodes' query protocol (`/kp/query/1`, CBOR through libp2p's codec,
//! within the node's size bounds: `gossip::query_codec`): byte 0 picks a
//! query as the asked node reads it (0) or an answer as the asking node
//! reads it (1). What decodes must encode and read back as itself; a query
//! is then answered as the node answers one (cut by `gossip::bounded`), and
//! an answer's pending transactions are taken as `relay::take_pending`
//! takes them: decoded, checked, judged ([`kp_fuzz::judge`]).
#![no_main]

use std::sync::OnceLock;

use futures::executor::block_on;
use futures::io::Cursor;
use kp_fuzz::fixture::fixture;
use kp_ledger::tx::DecodedTx;
use kp_node::gossip::{bounded, query_codec, Answer, Query, QUERY_PROTOCOL};
use libfuzzer_sys::fuzz_target;
use libp2p::request_response::Codec;

/// What the asked node's mempool holds: the fixture's transactions.
fn pending() -> &'static [Vec<u8>] {
    static PENDING: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    PENDING.get_or_init(|| {
        fixture()
            .transactions()
            .into_iter()
            .map(|tx| tx.bytes)
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let mut codec = query_codec();
    if selector % 2 == 0 {
        let read = block_on(codec.read_request(&QUERY_PROTOCOL, &mut Cursor::new(bytes)));
        let Ok(query) = read else {
            return;
        };
        let mut out = Cursor::new(Vec::new());
        block_on(codec.write_request(&QUERY_PROTOCOL, &mut out, query.clone()))
            .expect("a query encodes");
        let back =
            block_on(codec.read_request(&QUERY_PROTOCOL, &mut Cursor::new(out.into_inner())))
                .expect("an encoded query reads back");
        assert_eq!(back, query);
        let txs_max = match query {
            Query::Pending { max } => usize::try_from(max).unwrap_or(usize::MAX),
            Query::Status => 0,
        };
        match bounded(Answer::Pending(pending().to_vec()), txs_max) {
            Answer::Pending(txs) => assert!(txs.len() <= txs_max),
            other => panic!("a list of transactions cut is {other:?}"),
        }
    } else {
        let read = block_on(codec.read_response(&QUERY_PROTOCOL, &mut Cursor::new(bytes)));
        let Ok(answer) = read else {
            return;
        };
        let mut out = Cursor::new(Vec::new());
        block_on(codec.write_response(&QUERY_PROTOCOL, &mut out, answer.clone()))
            .expect("an answer encodes");
        let back =
            block_on(codec.read_response(&QUERY_PROTOCOL, &mut Cursor::new(out.into_inner())))
                .expect("an encoded answer reads back");
        assert_eq!(back, answer);
        if let Answer::Pending(txs) = answer {
            for bytes in txs {
                if let Ok(tx) = DecodedTx::decode(bytes) {
                    kp_fuzz::judge(&tx, kp_fuzz::Signature::Check);
                }
            }
        }
    }
});
