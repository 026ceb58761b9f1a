//! The tables of the ledger database and how their values are encoded.
//! Values are borsh, like everything else the ledger hashes or signs, so a
//! record reads back exactly as it was written.

use borsh::{BorshDeserialize, BorshSerialize};
use redb::TableDefinition;

use super::error::StoreError;

/// Chain-wide facts: the genesis hash and the tip.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const META_GENESIS_HASH: &str = "genesis_hash";
pub(crate) const META_TIP: &str = "tip";

/// Height -> borsh of a `StoredBlock`: the header and the transactions'
/// ids; the transactions' bytes are stored once, in `TXS`.
pub(crate) const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// Block hash -> height.
pub(crate) const BLOCK_HEIGHTS: TableDefinition<[u8; 32], u64> =
    TableDefinition::new("block_heights");
/// Transaction id -> borsh of `TxRecord`.
pub(crate) const TXS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("txs");

// The state, one table per kind of record of `StateDelta`.
pub(crate) const PARTICIPANTS: TableDefinition<[u8; 2], &[u8]> =
    TableDefinition::new("participants");
pub(crate) const MEMBERS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("members");
pub(crate) const NONCES: TableDefinition<[u8; 32], u64> = TableDefinition::new("nonces");
pub(crate) const PARCELS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("parcels");
pub(crate) const TRANSFERS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("transfers");
pub(crate) const CERTIFICATES: TableDefinition<&str, &[u8]> = TableDefinition::new("certificates");

/// Authority key -> Participant code, so a signer is resolved in one read.
pub(crate) const AUTHORITIES: TableDefinition<[u8; 32], [u8; 2]> =
    TableDefinition::new("authorities");
/// (parcel id, height, index in block) -> transaction id: a parcel's history
/// is one range scan, in chain order.
pub(crate) const PARCEL_EVENTS: TableDefinition<([u8; 32], u64, u32), [u8; 32]> =
    TableDefinition::new("parcel_events");

/// A committed block as stored: its header and its transactions' ids.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StoredBlock {
    pub header: crate::block::BlockHeader,
    pub txs: Vec<crate::model::TxId>,
}

/// One committed transaction: its bytes as received and where it sits.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxRecord {
    pub bytes: Vec<u8>,
    pub height: u64,
    pub index: u32,
    /// The block's time (UTC seconds), kept here so that history reads no block.
    pub time: u64,
    /// The body's kind, as `Body::kind` names it.
    pub kind: String,
    /// Ids the transaction created (parcels, a transfer), in order.
    pub created: Vec<kp_crypto::Hash32>,
}

pub(crate) fn encode<T: BorshSerialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    borsh::to_vec(value).map_err(|e| StoreError::Storage(format!("cannot encode a record: {e}")))
}

pub(crate) fn decode<T: BorshDeserialize>(table: &str, bytes: &[u8]) -> Result<T, StoreError> {
    borsh::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("table {table}: {e}")))
}
