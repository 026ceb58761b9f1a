//! The query protocol between the nodes: what one asks another (its
//! chain and height, what waits in its mempool) and how the questions and
//! answers travel, within their size bounds.

use std::time::Duration;

use kp_crypto::Hash32;
use libp2p::request_response::cbor;
use libp2p::StreamProtocol;
use serde::{Deserialize, Serialize};

pub const QUERY_PROTOCOL: StreamProtocol = StreamProtocol::new("/kp/query/1");

/// For both sides of a query: the asker gives up, and the asked stops waiting
/// for its application.
pub(super) const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Transaction bytes in one answer to [`Query::Pending`]. serde writes each
/// transaction as an array of numbers, at most two CBOR bytes a byte, so the
/// answer's encoding stays under [`ANSWER_BYTES_MAX`].
pub(super) const PENDING_ANSWER_TX_BYTES_MAX: usize = 4 * 1024 * 1024;
const ANSWER_BYTES_MAX: u64 = 2 * PENDING_ANSWER_TX_BYTES_MAX as u64 + 64 * 1024;
const QUERY_BYTES_MAX: u64 = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    Status,
    /// Up to `max` of the transactions waiting in the peer's mempool, oldest
    /// first.
    Pending {
        max: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    Status {
        /// The peer's chain, by its genesis hash: a height of another
        /// chain (of the same chain id, say) means nothing here.
        genesis: Hash32,
        height: u64,
    },
    /// Cut to at most [`PENDING_ANSWER_TX_BYTES_MAX`] bytes of transactions.
    Pending(Vec<Vec<u8>>),
}

/// How queries and answers are put into bytes (CBOR) and read back, within
/// their size bounds.
pub fn query_codec() -> cbor::codec::Codec<Query, Answer> {
    cbor::codec::Codec::default()
        .set_request_size_maximum(QUERY_BYTES_MAX)
        .set_response_size_maximum(ANSWER_BYTES_MAX)
}

/// Cuts a list of pending transactions to what was asked for and what one
/// answer carries.
pub fn bounded(answer: Answer, txs_max: usize) -> Answer {
    match answer {
        Answer::Pending(txs) => {
            let mut budget = PENDING_ANSWER_TX_BYTES_MAX;
            Answer::Pending(
                txs.into_iter()
                    .take(txs_max)
                    .take_while(|tx| match budget.checked_sub(tx.len()) {
                        Some(rest) => {
                            budget = rest;
                            true
                        }
                        None => false,
                    })
                    .collect(),
            )
        }
        status @ Answer::Status { .. } => status,
    }
}
