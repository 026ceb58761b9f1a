//! Blocks: a header hash-chained to its predecessor, committing to its
//! transactions (Merkle root) and to the state after it; and the two ways a
//! block comes to be: built by a proposer from candidate transactions, or
//! checked and applied by everyone else. Both are pure functions of the
//! state and the block.

use borsh::{BorshDeserialize, BorshSerialize};
use kp_crypto::{hash_domain, merkle_root, verify_each, Hash32, PublicKey};
use serde::{Deserialize, Serialize};

use crate::canonical::canonical_bytes;
use crate::chain::{ChainIdentity, ChainTip};
use crate::commitment::{parcels_after, ParcelCommitment};
use crate::model::{BlockHash, ParcelId, ParticipantCode, TxId, ValidatorSet};
use crate::rejection::Rejection;
use crate::rules::{apply_tx, validator_set, ApplyError, BlockContext};
use crate::state::{Layered, Overlay, StateDelta, StateRead, StorageFault};
use crate::tx::DecodedTx;

const BLOCK_CONTEXT: &str = "kp-ledger 2026 block v1";
const VALIDATORS_CONTEXT: &str = "kp-ledger 2026 validator set v1";

/// The hash a header carries of the validator set that decides its block:
/// the (Participant, validator key) pairs in key order, as
/// [`validator_set`] lists them.
pub fn validators_hash(set: &[(ParticipantCode, PublicKey)]) -> Hash32 {
    hash_domain(VALIDATORS_CONTEXT, &[&canonical_bytes(set)])
}

/// Bounds what one block may carry, so that one block is one bounded write.
pub const TXS_PER_BLOCK_MAX: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockHeader {
    pub chain_id: String,
    pub height: u64,
    pub prev_hash: BlockHash,
    /// How many transactions the block holds: with it, a Merkle proof
    /// fixes a transaction's place in the block, not only its presence.
    pub tx_count: u32,
    /// Merkle root of the transactions' bytes, in block order.
    pub tx_root: Hash32,
    /// The state hash after applying this block.
    pub state_hash: Hash32,
    /// The Merkle commitment to every parcel record after this block (see
    /// [`commitment`](crate::commitment)).
    pub parcels_root: Hash32,
    /// The hash of the validator set that decides this block (see
    /// [`validators_hash`]), so that whoever checks the block's commit
    /// certificate offline knows which set to expect, and notices a
    /// governance decision left out of what it was given.
    pub validators_hash: Hash32,
    /// The hash of the set that decides the next block: this one's, changed
    /// by any governance decision the block executed. The set deciding this
    /// block vouches with it for its successor, so that from the genesis a
    /// verifier can follow every change of the set.
    pub next_validators_hash: Hash32,
    /// UTC seconds, agreed by consensus; the rules' only clock.
    pub time: u64,
    pub proposer: PublicKey,
}

impl BlockHeader {
    pub fn hash(&self) -> BlockHash {
        hash_domain(BLOCK_CONTEXT, &[&canonical_bytes(self)])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<Vec<u8>>,
}

/// One applied transaction: what storage indexes it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedTx {
    pub id: TxId,
    pub kind: &'static str,
    /// Every parcel whose history this transaction is part of.
    pub parcels: Vec<ParcelId>,
    /// Ids this transaction created (parcels, a transfer), in order.
    pub created: Vec<Hash32>,
}

/// A block that passed every check, with everything storage writes for it.
#[derive(Debug, Clone)]
pub struct AppliedBlock {
    pub block: Block,
    pub hash: BlockHash,
    pub delta: StateDelta,
    pub txs: Vec<AppliedTx>,
    /// The buckets of the parcel commitment the block rehashed, with their
    /// new hashes: what storage updates its tree with.
    pub parcel_buckets: Vec<(u16, Hash32)>,
    /// The validator set that decides the next block, when this block
    /// changed it: what storage keeps so that proofs can show the change.
    pub next_validators: Option<ValidatorSet>,
}

impl AppliedBlock {
    pub fn tip(&self) -> ChainTip {
        ChainTip {
            height: self.block.header.height,
            hash: self.hash,
            state_hash: self.block.header.state_hash,
            time: self.block.header.time,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BlockError {
    #[error("block is for chain `{got}`, not `{expected}`")]
    WrongChain { expected: String, got: String },
    #[error("block height {got} does not follow {tip}")]
    WrongHeight { tip: u64, got: u64 },
    #[error("block does not build on the last block {expected}")]
    WrongParent { expected: BlockHash },
    #[error("block time {got} is before its parent's {parent}")]
    TimeBackwards { parent: u64, got: u64 },
    #[error("block carries {0} transactions; the limit is {TXS_PER_BLOCK_MAX}")]
    TooManyTxs(usize),
    #[error("block's header counts {claimed} transactions but it holds {held}")]
    TxCount { claimed: u32, held: usize },
    #[error("block's transaction root does not match its transactions")]
    TxRoot,
    #[error("block's parcels root {claimed} differs from the computed {computed}")]
    ParcelsRoot { claimed: Hash32, computed: Hash32 },
    #[error(
        "block's next validator set hash {claimed} is not that of the set after it, {computed}"
    )]
    NextValidatorsHash { claimed: Hash32, computed: Hash32 },
    #[error("block's validator set hash {claimed} is not that of the set in force, {computed}")]
    ValidatorsHash { claimed: Hash32, computed: Hash32 },
    #[error("block's state hash {claimed} differs from the computed {computed}")]
    StateHash { claimed: Hash32, computed: Hash32 },
    #[error("transaction {index} of the block is invalid: {rejection}")]
    InvalidTx { index: usize, rejection: Rejection },
    #[error(transparent)]
    Storage(#[from] StorageFault),
}

/// Result of building a block: the block (possibly empty) and the
/// candidates left out with the reason.
pub struct BuiltBlock {
    pub applied: AppliedBlock,
    pub rejected: Vec<(TxId, Rejection)>,
}

/// Which transactions' signatures were checked already, by whoever calls
/// (a node's mempool checks every transaction it admits, and a transaction's
/// id is the hash of its bytes, signature included): those are not checked
/// twice. Pass [`NONE_CHECKED`] to check every one.
pub type SignaturesChecked<'a> = &'a dyn Fn(&TxId) -> bool;

pub const NONE_CHECKED: SignaturesChecked<'static> = &|_| false;

/// Verifies every signature not checked already, in one batch when all are
/// good; when the batch fails, one by one, to name the bad ones. Returns,
/// per transaction, whether its signature holds.
pub fn check_signatures(txs: &[DecodedTx], checked: SignaturesChecked<'_>) -> Vec<bool> {
    let unchecked: Vec<(usize, Vec<u8>)> = txs
        .iter()
        .enumerate()
        .filter(|(_, tx)| !checked(&tx.id))
        .map(|(i, tx)| (i, tx.tx.payload.signing_message()))
        .collect();
    let verdicts = verify_each(
        unchecked
            .iter()
            .map(|(i, msg)| (txs[*i].signer(), msg.as_slice(), &txs[*i].tx.signature)),
    );
    let mut ok = vec![true; txs.len()];
    for ((i, _), verdict) in unchecked.iter().zip(verdicts) {
        ok[*i] = verdict;
    }
    ok
}

/// The validator set that decides a block over `state` and the one that
/// decides the next block: the same unless the block changed it.
struct ValidatorSets {
    now: Hash32,
    next: Hash32,
    /// The next set, when it differs.
    changed_to: Option<ValidatorSet>,
}

fn validator_sets<S: StateRead + ?Sized>(
    state: &S,
    delta: &StateDelta,
) -> Result<ValidatorSets, StorageFault> {
    let now = validators_hash(&validator_set(state)?);
    let unchanged = ValidatorSets {
        now,
        next: now,
        changed_to: None,
    };
    if !delta.changes_participants() {
        return Ok(unchanged);
    }
    let after = validator_set(&Layered { base: state, delta })?;
    let next = validators_hash(&after);
    if next == now {
        return Ok(unchanged);
    }
    Ok(ValidatorSets {
        now,
        next,
        changed_to: Some(after),
    })
}

/// Builds the next block from `candidates` in their order, leaving out (with
/// the reason) every one that fails, so the block itself is always valid.
pub fn build_block<S: ParcelCommitment + ?Sized>(
    state: &S,
    tip: &ChainTip,
    chain: &ChainIdentity,
    time: u64,
    proposer: PublicKey,
    mut candidates: Vec<DecodedTx>,
    checked: SignaturesChecked<'_>,
) -> Result<BuiltBlock, StorageFault> {
    candidates.truncate(TXS_PER_BLOCK_MAX);
    let ctx = BlockContext {
        chain: chain.clone(),
        height: tip.height + 1,
        time: time.max(tip.time),
    };
    let signatures_ok = check_signatures(&candidates, checked);
    let mut overlay = Overlay::new(state);
    let mut rejected = Vec::new();
    let mut included = Vec::new();
    let mut applied_txs = Vec::new();
    for (tx, signature_ok) in candidates.into_iter().zip(signatures_ok) {
        if !signature_ok {
            rejected.push((tx.id, Rejection::BadSignature(*tx.signer())));
            continue;
        }
        match apply_tx(&overlay, &ctx, &tx) {
            Ok(effects) => {
                overlay.absorb(effects.delta);
                applied_txs.push(AppliedTx {
                    id: tx.id,
                    kind: tx.body().kind(),
                    parcels: effects.parcels,
                    created: effects.created,
                });
                included.push(tx.bytes);
            }
            Err(ApplyError::Rejected(rejection)) => rejected.push((tx.id, rejection)),
            Err(ApplyError::Storage(fault)) => return Err(fault),
        }
    }
    let delta = overlay.into_delta();
    let parcels = parcels_after(state, &delta)?;
    let validators = validator_sets(state, &delta)?;
    let header = BlockHeader {
        chain_id: chain.chain_id.clone(),
        height: ctx.height,
        prev_hash: tip.hash,
        tx_count: included.len() as u32,
        tx_root: merkle_root(&included),
        state_hash: delta.next_state_hash(&tip.state_hash),
        parcels_root: parcels.root,
        validators_hash: validators.now,
        next_validators_hash: validators.next,
        time: ctx.time,
        proposer,
    };
    let hash = header.hash();
    Ok(BuiltBlock {
        applied: AppliedBlock {
            block: Block {
                header,
                txs: included,
            },
            hash,
            delta,
            txs: applied_txs,
            parcel_buckets: parcels.buckets,
            next_validators: validators.changed_to,
        },
        rejected,
    })
}

/// Checks a block proposed or decided elsewhere against the state at `tip`
/// and returns its effects; any invalid transaction makes the whole block
/// invalid.
pub fn apply_block<S: ParcelCommitment + ?Sized>(
    state: &S,
    tip: &ChainTip,
    chain: &ChainIdentity,
    block: Block,
    checked: SignaturesChecked<'_>,
) -> Result<AppliedBlock, BlockError> {
    let header = &block.header;
    if header.chain_id != chain.chain_id {
        return Err(BlockError::WrongChain {
            expected: chain.chain_id.clone(),
            got: header.chain_id.clone(),
        });
    }
    if header.height != tip.height + 1 {
        return Err(BlockError::WrongHeight {
            tip: tip.height,
            got: header.height,
        });
    }
    if header.prev_hash != tip.hash {
        return Err(BlockError::WrongParent { expected: tip.hash });
    }
    if header.time < tip.time {
        return Err(BlockError::TimeBackwards {
            parent: tip.time,
            got: header.time,
        });
    }
    if block.txs.len() > TXS_PER_BLOCK_MAX {
        return Err(BlockError::TooManyTxs(block.txs.len()));
    }
    if block.txs.len() != header.tx_count as usize {
        return Err(BlockError::TxCount {
            claimed: header.tx_count,
            held: block.txs.len(),
        });
    }
    if merkle_root(&block.txs) != header.tx_root {
        return Err(BlockError::TxRoot);
    }
    let mut decoded = Vec::with_capacity(block.txs.len());
    for (index, bytes) in block.txs.iter().enumerate() {
        let tx = DecodedTx::decode(bytes.clone()).map_err(|e| BlockError::InvalidTx {
            index,
            rejection: e.into(),
        })?;
        decoded.push(tx);
    }
    if let Some(index) = check_signatures(&decoded, checked)
        .iter()
        .position(|ok| !ok)
    {
        let rejection = Rejection::BadSignature(*decoded[index].signer());
        return Err(BlockError::InvalidTx { index, rejection });
    }
    let ctx = BlockContext {
        chain: chain.clone(),
        height: header.height,
        time: header.time,
    };
    let mut overlay = Overlay::new(state);
    let mut applied_txs = Vec::with_capacity(decoded.len());
    for (index, tx) in decoded.iter().enumerate() {
        let effects = apply_tx(&overlay, &ctx, tx).map_err(|e| match e {
            ApplyError::Rejected(rejection) => BlockError::InvalidTx { index, rejection },
            ApplyError::Storage(fault) => BlockError::Storage(fault),
        })?;
        overlay.absorb(effects.delta);
        applied_txs.push(AppliedTx {
            id: tx.id,
            kind: tx.body().kind(),
            parcels: effects.parcels,
            created: effects.created,
        });
    }
    let delta = overlay.into_delta();
    let computed = delta.next_state_hash(&tip.state_hash);
    if computed != header.state_hash {
        return Err(BlockError::StateHash {
            claimed: header.state_hash,
            computed,
        });
    }
    let validators = validator_sets(state, &delta)?;
    if header.validators_hash != validators.now {
        return Err(BlockError::ValidatorsHash {
            claimed: header.validators_hash,
            computed: validators.now,
        });
    }
    if header.next_validators_hash != validators.next {
        return Err(BlockError::NextValidatorsHash {
            claimed: header.next_validators_hash,
            computed: validators.next,
        });
    }
    let parcels = parcels_after(state, &delta)?;
    if parcels.root != header.parcels_root {
        return Err(BlockError::ParcelsRoot {
            claimed: header.parcels_root,
            computed: parcels.root,
        });
    }
    let hash = header.hash();
    Ok(AppliedBlock {
        block,
        hash,
        delta,
        txs: applied_txs,
        parcel_buckets: parcels.buckets,
        next_validators: validators.changed_to,
    })
}

#[cfg(test)]
mod tests;
