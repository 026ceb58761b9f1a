//! A parcel's provenance as history tells it: the parcel, every ancestor
//! back to the mines, and the committed transactions of each. What a node
//! serves as a trace, and what a verified provenance bundle establishes.
//!
//! The API's document has always named these `EventView` and `TraceView`,
//! and keeps those names and words (the `openapi` schemas say so).

use kp_crypto::{Hash32, PublicKey};
use serde::{Deserialize, Serialize};

use crate::model::{Parcel, TxId};
use crate::tx::Body;

/// One committed transaction, as history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(as = EventView)
)]
pub struct Event {
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

/// A parcel, every ancestor back to the mines, and every event of each,
/// oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(
        as = TraceView,
        description = "`GET /v1/parcels/{id}/trace`: the parcel, every ancestor back to the\nmines, and every event of each, oldest first."
    )
)]
pub struct Trace {
    pub parcel: Hash32,
    /// The parcel first, then its ancestors, each once.
    pub parcels: Vec<Parcel>,
    /// Ordered by (height, index), each once.
    pub events: Vec<Event>,
}
