//! The provenance bundle file: what `kp trace --export` writes, the node
//! serves and `kp verify` reads. It carries the bundle's canonical bytes,
//! which are what is verified ([`kp_ledger::bundle`]), and a JSON view of
//! them for people, which must match them.

use kp_crypto::{Hash32, MerkleProof, PublicKey};
use kp_ledger::block::BlockHeader;
use kp_ledger::bundle::{Bundle, BundleError, Verified, BUNDLE_FORMAT};
use kp_ledger::canonical::canonical_bytes;
use kp_ledger::commitment::ParcelProof;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::{BlockHash, Parcel, ParcelId, ParticipantCode, TxId};
use kp_ledger::tx::{tx_id, Body, DecodedTx};
use serde::{Deserialize, Serialize};

use crate::api::CommitView;

/// The file `kp trace --export` writes: the canonical bytes, hex, and a JSON
/// view of them for people. Only the bytes are verified; a view that does
/// not match them is refused, so that what a reader sees is what was
/// checked.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BundleFile {
    /// The bundle's layout: 1, the one this build reads.
    kp_provenance_bundle: u32,
    /// The bundle's borsh bytes, hex: what is verified.
    canonical: String,
    /// The same, in JSON, each transaction decoded.
    #[cfg_attr(feature = "openapi", schema(value_type = BundleView))]
    view: serde_json::Value,
}

/// The JSON view of a bundle: the same parts, with each transaction decoded.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct BundleView<'a> {
    chain_id: &'a str,
    genesis: Hash32,
    parcel: ParcelId,
    headers: Vec<HeaderView<'a>>,
    set_changes: Vec<SetChangeView<'a>>,
    txs: Vec<TxView<'a>>,
    parcels: Vec<ProvenParcelView<'a>>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct HeaderView<'a> {
    hash: BlockHash,
    header: &'a BlockHeader,
    commit: CommitView,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct SetChangeView<'a> {
    height: u64,
    validators: &'a [(ParticipantCode, PublicKey)],
    decisions: &'a [u32],
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct TxView<'a> {
    height: u64,
    id: TxId,
    /// `None` for bytes that are not a transaction (verification says so).
    signer: Option<PublicKey>,
    body: Option<Body>,
    proof: &'a MerkleProof,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct ProvenParcelView<'a> {
    record: &'a Parcel,
    events: &'a [u32],
    proof: &'a ParcelProof,
}

/// The JSON view of `bundle`'s parts.
fn view(bundle: &Bundle) -> BundleView<'_> {
    BundleView {
        chain_id: &bundle.chain_id,
        genesis: bundle.genesis,
        parcel: bundle.parcel,
        headers: bundle
            .headers
            .iter()
            .map(|c| HeaderView {
                hash: c.header.hash(),
                header: &c.header,
                commit: CommitView::from(&c.commit),
            })
            .collect(),
        set_changes: bundle
            .set_changes
            .iter()
            .map(|c| SetChangeView {
                height: c.height,
                validators: &c.validators,
                decisions: &c.decisions,
            })
            .collect(),
        txs: bundle
            .txs
            .iter()
            .map(|tx| {
                let decoded = DecodedTx::decode(tx.bytes.clone()).ok();
                TxView {
                    height: tx.height,
                    id: tx_id(&tx.bytes),
                    signer: decoded.as_ref().map(|d| *d.signer()),
                    body: decoded.map(|d| d.body().clone()),
                    proof: &tx.proof,
                }
            })
            .collect(),
        parcels: bundle
            .parcels
            .iter()
            .map(|p| ProvenParcelView {
                record: &p.record,
                events: &p.events,
                proof: &p.proof,
            })
            .collect(),
    }
}

/// The bundle file's text: canonical bytes and the JSON view.
pub fn to_file(bundle: &Bundle) -> String {
    let file = BundleFile {
        kp_provenance_bundle: bundle.format,
        canonical: hex::encode(canonical_bytes(bundle)),
        view: serde_json::to_value(view(bundle)).unwrap_or_default(),
    };
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}

/// A bundle file as read: the bundle its canonical bytes hold, and the
/// view that came with them.
#[derive(Debug, Clone)]
pub struct ReadBundle {
    pub bundle: Bundle,
    view: serde_json::Value,
}

impl ReadBundle {
    /// Reads a bundle file: its canonical bytes must decode whole.
    pub fn parse(text: &str) -> Result<ReadBundle, BundleError> {
        let file: BundleFile = serde_json::from_str(text)
            .map_err(|e| BundleError::File(format!("not a provenance bundle file: {e}")))?;
        if file.kp_provenance_bundle != BUNDLE_FORMAT {
            return Err(BundleError::Format {
                found: file.kp_provenance_bundle,
            });
        }
        let bytes = hex::decode(&file.canonical)
            .map_err(|e| BundleError::File(format!("`canonical` is not hex: {e}")))?;
        let bundle: Bundle = borsh::from_slice(&bytes)
            .map_err(|e| BundleError::File(format!("`canonical` is not a bundle: {e}")))?;
        Ok(ReadBundle {
            bundle,
            view: file.view,
        })
    }

    /// Verifies the bundle (see [`Bundle::verify`]), then that the view is
    /// the bundle's: what a reader of the file sees is what was checked.
    pub fn verify(&self, genesis: &Genesis) -> Result<Verified, BundleError> {
        let verified = self.bundle.verify(genesis)?;
        if serde_json::to_value(view(&self.bundle)).ok().as_ref() != Some(&self.view) {
            return Err(BundleError::ViewMismatch);
        }
        Ok(verified)
    }
}
