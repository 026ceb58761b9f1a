//! The JSON shapes of the node's HTTP API, shared by `kpnode` (which serves
//! them) and `kp` (which reads them), so that the two cannot drift apart.
//! `docs/api.md` describes the routes.

use kp_crypto::{Hash32, PublicKey};
use serde::{Deserialize, Serialize};

use crate::block::BlockHeader;
use crate::model::{
    BlockHash, Parcel, ParcelId, ParticipantChange, ParticipantCode, ProposalId, ProposalStatus,
    TransferId, TxId,
};
use crate::tx::Body;

/// Every error the API returns: a stable code and one line for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ApiError,
}

/// `POST /v1/transactions`: the borsh bytes of a signed transaction, as hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitRequest {
    pub tx: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    /// Accepted by the node's checks, waiting for a block.
    Pending,
    /// In a committed block.
    Committed,
    /// Left out of every block, with the reason in `error`.
    Rejected,
}

/// `POST /v1/transactions` (202) and `GET /v1/transactions/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxStatus {
    pub id: TxId,
    pub state: TxState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Ids the transaction created (parcels, a transfer), once committed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<Hash32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorView {
    pub participant: ParticipantCode,
    pub key: PublicKey,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    pub chain_id: String,
    pub genesis_hash: Hash32,
    pub height: u64,
    pub last_block_hash: Hash32,
    pub state_hash: Hash32,
    /// Block time of the last block, UTC seconds.
    pub time: u64,
    pub validators: Vec<ValidatorView>,
    pub peers: u32,
    pub pending_txs: u64,
    /// The highest height this node's peers report, when any has: above
    /// `height`, this node is catching up.
    #[serde(default)]
    pub network_height: Option<u64>,
}

/// `GET /v1/nonces/{key}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceView {
    pub key: PublicKey,
    /// The last nonce the ledger has seen from this key (0: none yet).
    pub last: u64,
    /// Last nonce of this key's transactions accepted but not yet in a block.
    pub pending_last: u64,
}

/// One committed transaction, as history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub tx: TxId,
    pub height: u64,
    pub index: u32,
    /// Block time, UTC seconds.
    pub time: u64,
    pub signer: PublicKey,
    pub body: Body,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<Hash32>,
}

/// `GET /v1/events`: one committed transaction on the event stream: the
/// event as history shows it, with its kind, every parcel, transfer and
/// certificate it touched or created, and one line saying what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxEventView {
    #[serde(flatten)]
    pub event: EventView,
    pub kind: String,
    #[serde(default)]
    pub parcels: Vec<ParcelId>,
    #[serde(default)]
    pub transfers: Vec<TransferId>,
    /// Certificate numbers.
    #[serde(default)]
    pub certificates: Vec<String>,
    pub summary: String,
}

/// `GET /v1/events`: a committed block, sent after its transactions' events,
/// so that a follower sees progress through empty blocks too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEventView {
    pub height: u64,
    pub hash: BlockHash,
    /// Block time, UTC seconds.
    pub time: u64,
    /// How many transactions the block carries.
    pub txs: u32,
}

/// `GET /v1/parcels/{id}`: the parcel and its own events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelView {
    pub parcel: Parcel,
    pub events: Vec<EventView>,
}

/// `GET /v1/parcels/{id}/trace`: the parcel, every ancestor back to the
/// mines, and every event of each, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceView {
    pub parcel: Hash32,
    /// The parcel first, then its ancestors, each once.
    pub parcels: Vec<Parcel>,
    /// Ordered by (height, index), each once.
    pub events: Vec<EventView>,
}

/// `GET /v1/blocks/{height}` and `/v1/blocks/latest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    pub hash: Hash32,
    pub header: BlockHeader,
    pub txs: Vec<TxId>,
}

/// `GET /v1/proposals` (the open ones) and `GET /v1/proposals/{id}`: a
/// proposed change to the Participant set and its tally now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    pub id: ProposalId,
    pub change: ParticipantChange,
    pub proposer: ParticipantCode,
    pub proposed_height: u64,
    /// Every Participant that approved, the proposer first.
    pub approvals: Vec<ParticipantCode>,
    /// Approvals by Participants active now: only these count.
    pub counted: u32,
    /// Participants active now.
    pub active: u32,
    /// Approvals needed now: more than two thirds of `active`.
    pub needed: u32,
    pub status: ProposalStatus,
    /// For an open proposal whose change cannot apply now (it has become
    /// moot), the refusal an approval would meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<ApiError>,
}
