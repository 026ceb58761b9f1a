//! Which chain, and where it ends: what blocks, transactions, the genesis
//! and storage all speak of, kept apart from each of them so that none has
//! to import another for it.

use borsh::{BorshDeserialize, BorshSerialize};
use kp_crypto::Hash32;
use serde::{Deserialize, Serialize};

use crate::model::BlockHash;

/// Which chain a block or a transaction is of: the chain id people read,
/// and the hash of the genesis the chain grew from, which is what
/// transactions and validators' votes are signed for (the hash fixes the
/// chain id and the founding Participants both, so two chains of one name
/// share no signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainIdentity {
    pub chain_id: String,
    pub genesis: Hash32,
}

/// Where the chain ends: what the next block must build on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize,
)]
pub struct ChainTip {
    pub height: u64,
    pub hash: BlockHash,
    pub state_hash: Hash32,
    pub time: u64,
}
