//! The JSON shapes of the node's HTTP API, shared by `kpnode` (which serves
//! them) and `kp` (which reads them), so that the two cannot drift apart.
//! `docs/api.md` describes the routes. A trace and its events are the
//! ledger's own ([`kp_ledger::trace`]): a verified bundle establishes them.
//!
//! One word, "event", for one idea: an [`Event`] is a committed transaction
//! as history shows it (in a trace, a parcel's view, the stream). The event
//! stream (`GET /v1/events`; `events` in the store and in the node's HTTP
//! layer; `kp watch`) sends each as a [`TxEventView`] (the event with its
//! kind, what it touched and a summary), then the block as a
//! [`BlockEventView`]; the store hands one height's over as `HeightEvents`.

use kp_crypto::{Hash32, PublicKey};
use serde::{Deserialize, Serialize};

use kp_ledger::block::BlockHeader;
use kp_ledger::finality::CommitProof;
use kp_ledger::model::{
    BlockHash, HsCode, Parcel, ParcelId, ParticipantChange, ParticipantCode, Proposal, ProposalId,
    ProposalStatus, TransferId, TxId,
};
use kp_ledger::rejection::Rejection;
use kp_ledger::rules::ProposalStanding;
use kp_ledger::trace::Event;

/// Every error the API returns: a stable code and one line for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

/// A rejection as the API reports it.
impl From<&Rejection> for ApiError {
    fn from(rejection: &Rejection) -> Self {
        ApiError {
            code: rejection.code().to_owned(),
            message: rejection.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ApiError,
}

/// `POST /v1/transactions`: the borsh bytes of a signed transaction, as hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitRequest {
    pub tx: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidatorView {
    pub participant: ParticipantCode,
    pub key: PublicKey,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// An observer: this node's key belongs to no Participant, so it serves
    /// reads and refuses submissions (`read_only_node`).
    #[serde(default)]
    pub read_only: bool,
}

/// `GET /v1/nonces/{key}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NonceView {
    pub key: PublicKey,
    /// The last nonce the ledger has seen from this key (0: none yet).
    pub last: u64,
    /// Last nonce of this key's transactions accepted but not yet in a block.
    pub pending_last: u64,
}

/// `GET /v1/events`: one committed transaction on the event stream: the
/// event as history shows it, with its kind, every parcel, transfer and
/// certificate it touched or created, and one line saying what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TxEventView {
    #[serde(flatten)]
    pub event: Event,
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParcelView {
    pub parcel: Parcel,
    pub events: Vec<Event>,
}

/// `GET /v1/blocks/{height}/commit`: the precommits that decided a block,
/// as an offline verifier checks them (see [`kp_ledger::finality`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    // The words the API's document has always carried, from when this
    // view was the ledger's.
    schema(
        description = "`GET /v1/blocks/{height}/commit`: the precommits that decided a block,\nas an offline verifier checks them (see [`crate::finality`])."
    )
)]
pub struct CommitView {
    pub height: u64,
    pub round: i64,
    pub block: BlockHash,
    pub precommits: Vec<PrecommitView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrecommitView {
    pub validator: PublicKey,
    /// The ed25519 signature, hex.
    pub signature: String,
}

impl From<&CommitProof> for CommitView {
    fn from(proof: &CommitProof) -> Self {
        CommitView {
            height: proof.height,
            round: proof.round,
            block: proof.block,
            precommits: proof
                .precommits
                .iter()
                .map(|(validator, signature)| PrecommitView {
                    validator: *validator,
                    signature: hex::encode(signature.0),
                })
                .collect(),
        }
    }
}

/// `GET /v1/blocks/{height}` and `/v1/blocks/latest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockView {
    pub hash: Hash32,
    pub header: BlockHeader,
    pub txs: Vec<TxId>,
}

/// `GET /v1/proposals` (the open ones) and `GET /v1/proposals/{id}`: a
/// proposed change to the Participant set and its tally now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

impl ProposalView {
    /// `proposal` as it stands now (see
    /// [`proposal_standing`](kp_ledger::rules::proposal_standing)).
    pub fn new(proposal: Proposal, now: &ProposalStanding) -> ProposalView {
        ProposalView {
            id: proposal.id,
            change: proposal.change,
            proposer: proposal.proposer,
            proposed_height: proposal.proposed_height,
            approvals: proposal.approvals,
            counted: now.tally.approvals,
            active: now.tally.active,
            needed: now.tally.needed(),
            status: proposal.status,
            blocked: now.blocked.as_ref().map(ApiError::from),
        }
    }
}

/// Carats, US$ and counts of one line of the Annex III statistics, as
/// integers and as the scheme writes them (`12.345`, `1500.00`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figures {
    pub milli_carats: u64,
    pub carats: String,
    pub value_cents: u64,
    pub value_usd: String,
    /// US$ per carat in cents, rounded half up to the cent; `None` (null)
    /// when there are no carats.
    pub usd_per_carat_cents: Option<u64>,
    pub usd_per_carat: Option<String>,
    /// Parcels registered (production) or shipped under certificates (trade).
    pub parcels: u64,
    /// Certificates issued (exports) or receipts confirmed (imports); 0 in
    /// production and in by-HS lines (one certificate may cover several codes).
    pub certificates: u64,
    /// Imports only: the carats the importing authority found on arrival,
    /// which differ from `milli_carats` (the certified) on a discrepancy.
    pub received_milli_carats: u64,
    pub received_carats: String,
}

/// One HS code's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HsFigures {
    pub hs_code: HsCode,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One partner Participant's line: the destination of exports, the
/// exporting Participant of imports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartnerFigures {
    pub partner: ParticipantCode,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One country of origin's share of a flow: its carats, the certificates'
/// US$ shared by carats to the cent, the certificates and the parcels that
/// hold diamonds of that origin (a mixed-origin one under each of its
/// origins, so counts may add up to more than the total).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OriginFigures {
    pub origin: ParticipantCode,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One flow over one period, whole and broken down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeriodStats {
    /// `H1`, `H2`, `Q1` to `Q4`, or `year`.
    pub period: String,
    pub total: Figures,
    /// In HS code order.
    pub by_hs: Vec<HsFigures>,
    /// In code order; empty for production.
    pub by_partner: Vec<PartnerFigures>,
    /// The same carats and US$ per country of origin, in code order; empty
    /// for production. Absent from a node older than the breakdown.
    #[serde(default)]
    pub by_origin: Vec<OriginFigures>,
}

/// One flow over the period asked for: its total, and each reporting
/// period within (production by half year, trade by quarter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowStats {
    pub total: PeriodStats,
    pub periods: Vec<PeriodStats>,
}

/// `GET /v1/stats?participant=CODE&year=YYYY[&quarter=Q|&half=H]`: one
/// Participant's Annex III statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsView {
    pub participant: ParticipantCode,
    pub year: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarter: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half: Option<u8>,
    pub production: FlowStats,
    pub exports: FlowStats,
    pub imports: FlowStats,
}

/// One Participant's line of the published table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsRow {
    pub participant: ParticipantCode,
    pub production: Figures,
    pub exports: Figures,
    pub imports: Figures,
}

/// `GET /v1/stats/all?year=YYYY[&quarter=Q|&half=H]`: every Participant's
/// totals, as the scheme publishes them, in code order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsTableView {
    pub year: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarter: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half: Option<u8>,
    pub rows: Vec<StatsRow>,
}
