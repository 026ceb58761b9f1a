//! Provenance bundles: a parcel's whole history back to each mine, with what
//! it takes to check it against the genesis file alone (no node, no engine,
//! no trust in whoever handed the bundle over). A node builds them (the
//! store's `bundle`); the file people pass around, the bytes with a JSON
//! view of them, is the wire's `bundle_file`. `docs/proofs.md` explains
//! what each part proves; [`Bundle::verify`] checks them in this order and
//! names the first step that fails:
//!
//! 1. the bundle is for the genesis given (chain id and genesis hash);
//! 2. the headers, oldest first: each names the validator set the verifier
//!    holds (starting from the genesis set), carries a commit certificate of
//!    more than two thirds of that set, and, where it changes the set, comes
//!    with the new set, which becomes the one held;
//! 3. each transaction is at its place in its block (a Merkle proof against
//!    the header's transaction root and count) and decodes;
//! 4. each parcel record (the parcel, then every ancestor) is current at the
//!    newest header (a proof against its `parcels_root`), its history chain
//!    is exactly the transactions the bundle lists for it, and every parent
//!    it names is in the bundle too;
//! 5. every signature (transactions and precommits), in one batch, and one
//!    by one to name the bad one when the batch fails.

use std::collections::{BTreeMap, BTreeSet};

use borsh::{BorshDeserialize, BorshSerialize};
use kp_crypto::{verify_each, Hash32, MerkleProof, MerkleProofError, PublicKey};
use serde::{Deserialize, Serialize};

use crate::block::{validators_hash, BlockHeader};
use crate::commitment::{ParcelProof, ParcelProofError};
use crate::finality::{CommitError, CommitProof, SignedMessage};
use crate::genesis::Genesis;
use crate::model::{History, Parcel, ParcelId, TxId, ValidatorSet};
use crate::trace::{Event, Trace};
use crate::tx::DecodedTx;

/// The layout of [`Bundle`]'s bytes; raised with any change to it, or to
/// what its signatures cover. 2: transactions and precommits are signed for
/// the genesis hash.
pub const BUNDLE_FORMAT: u32 = 2;

/// A self-contained provenance proof. Its borsh bytes are canonical; the
/// file written for people carries them with a JSON view derived from them.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Bundle {
    pub format: u32,
    pub chain_id: String,
    pub genesis: Hash32,
    /// The parcel whose provenance this is.
    pub parcel: ParcelId,
    /// Oldest first, each height once; the last is the height the records
    /// are proven at.
    pub headers: Vec<CertifiedHeader>,
    /// Every change of the validator set up to the newest header, oldest
    /// first.
    pub set_changes: Vec<SetChange>,
    /// In chain order, each once.
    pub txs: Vec<IncludedTx>,
    /// The parcel first, then each ancestor once.
    pub parcels: Vec<ProvenParcel>,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CertifiedHeader {
    pub header: BlockHeader,
    pub commit: CommitProof,
}

/// A block that changed the validator set, and the set that decides the
/// blocks after it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SetChange {
    pub height: u64,
    pub validators: ValidatorSet,
    /// The governance transactions of that block (indexes into
    /// [`Bundle::txs`]): the decisions behind the change.
    pub decisions: Vec<u32>,
}

/// A transaction and its place in its block.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct IncludedTx {
    pub height: u64,
    /// Against the block's `tx_root`; its index is the place in the block.
    pub proof: MerkleProof,
    pub bytes: Vec<u8>,
}

/// A parcel record, current at the newest header, with its own events.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProvenParcel {
    pub record: Parcel,
    pub proof: ParcelProof,
    /// Its history, oldest first (indexes into [`Bundle::txs`]).
    pub events: Vec<u32>,
}

/// Which check a bundle fails, naming the step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle file is not readable: {0}")]
    File(String),
    #[error("the bundle's JSON view does not match its canonical bytes (it was edited)")]
    ViewMismatch,
    #[error("bundle format {found} is not one this build reads ({BUNDLE_FORMAT})")]
    Format { found: u32 },
    #[error("the bundle is for chain `{bundle}`, the genesis file for `{genesis}`")]
    OtherChain { bundle: String, genesis: String },
    #[error("the bundle is for genesis {bundle}, the genesis file hashes to {genesis}")]
    OtherGenesis { bundle: Hash32, genesis: Hash32 },
    #[error("the bundle holds no block header")]
    NoHeaders,
    #[error("header at height {height}: headers must be in height order, each once, all of chain `{chain_id}`")]
    HeaderOrder { height: u64, chain_id: String },
    #[error("header at height {height} names validator set {named}, but the set in force from the genesis and the changes shown is {held}: a change of the validator set is missing")]
    ValidatorSet {
        height: u64,
        named: Hash32,
        held: Hash32,
    },
    #[error("commit of block {height}: {source}")]
    Commit { height: u64, source: CommitError },
    #[error("header at height {height} changes the validator set, and the bundle does not show the new set")]
    SetChangeMissing { height: u64 },
    #[error("the validator set change at height {height} is not the set that block's header vouches for")]
    SetChange { height: u64 },
    #[error("the validator set change at height {height} has no certified header of that height before it, or is out of order")]
    SetChangeUnvouched { height: u64 },
    #[error("the validator set change at height {height} names transaction {index}, which is not a governance decision of that block")]
    Decision { height: u64, index: u32 },
    #[error("transaction {index} of the bundle: transactions must be in chain order, each once")]
    TxOrder { index: u32 },
    #[error("transaction {index} of the bundle is at height {height}, and the bundle has no header of that height")]
    TxHeader { index: u32, height: u64 },
    #[error("transaction {index} of the bundle claims place {place} of {claimed} in block {height}, which holds {held}")]
    TxPlace {
        index: u32,
        height: u64,
        place: u64,
        claimed: u64,
        held: u32,
    },
    #[error("transaction {index} of the bundle is not in block {height}: {source}")]
    TxInclusion {
        index: u32,
        height: u64,
        source: MerkleProofError,
    },
    #[error("transaction {index} of the bundle (block {height}) does not decode: {reason}")]
    TxDecode {
        index: u32,
        height: u64,
        reason: String,
    },
    #[error("transaction {tx} (block {height}) has a bad signature")]
    TxSignature { tx: TxId, height: u64 },
    #[error("the bundle's first record is parcel {found}, not the parcel it is for, {expected}")]
    Subject { expected: ParcelId, found: ParcelId },
    #[error("parcel {parcel}: its record is not the current one at height {height}: {source}")]
    ParcelProof {
        parcel: ParcelId,
        height: u64,
        source: ParcelProofError,
    },
    #[error("parcel {parcel}: the bundle lists {listed} events, and the record's history chains {recorded} events that are not those (an event is missing, extra or altered)")]
    History {
        parcel: ParcelId,
        listed: usize,
        recorded: u32,
    },
    #[error(
        "parcel {parcel}: its events must name transactions of the bundle, oldest first, each once"
    )]
    EventOrder { parcel: ParcelId },
    #[error("parcel {parcel} names parent {parent}, whose record the bundle lacks")]
    AncestorMissing { parcel: ParcelId, parent: ParcelId },
    #[error("parcel {0} appears twice, or is not in the traced parcel's ancestry")]
    Unrelated(ParcelId),
    #[error("transaction {tx} (block {height}) belongs to no parcel's history and no validator set change")]
    UnusedTx { tx: TxId, height: u64 },
}

impl BundleError {
    /// A stable code, for `--json` output, scripts and tests.
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::File(_) => "bundle_file",
            BundleError::ViewMismatch => "bundle_view_mismatch",
            BundleError::Format { .. } => "bundle_format",
            BundleError::OtherChain { .. } => "bundle_other_chain",
            BundleError::OtherGenesis { .. } => "bundle_other_genesis",
            BundleError::NoHeaders => "bundle_no_headers",
            BundleError::HeaderOrder { .. } => "bundle_header_order",
            BundleError::ValidatorSet { .. } => "bundle_validator_set",
            BundleError::Commit { .. } => "bundle_commit",
            BundleError::SetChangeMissing { .. } => "bundle_set_change_missing",
            BundleError::SetChange { .. } => "bundle_set_change",
            BundleError::SetChangeUnvouched { .. } => "bundle_set_change_unvouched",
            BundleError::Decision { .. } => "bundle_decision",
            BundleError::TxOrder { .. } => "bundle_tx_order",
            BundleError::TxHeader { .. } => "bundle_tx_header",
            BundleError::TxPlace { .. } => "bundle_tx_place",
            BundleError::TxInclusion { .. } => "bundle_tx_inclusion",
            BundleError::TxDecode { .. } => "bundle_tx_decode",
            BundleError::TxSignature { .. } => "bundle_tx_signature",
            BundleError::Subject { .. } => "bundle_subject",
            BundleError::ParcelProof { .. } => "bundle_parcel_proof",
            BundleError::History { .. } => "bundle_history",
            BundleError::EventOrder { .. } => "bundle_event_order",
            BundleError::AncestorMissing { .. } => "bundle_ancestor_missing",
            BundleError::Unrelated(_) => "bundle_unrelated",
            BundleError::UnusedTx { .. } => "bundle_unused_tx",
        }
    }
}

/// What a verified bundle establishes, for people to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub chain_id: String,
    pub genesis: Hash32,
    /// The height, and its block time, at which the records are proven.
    pub height: u64,
    pub time: u64,
    pub genesis_validators: usize,
    /// (height of the block that changed it, size of the new set).
    pub set_changes: Vec<(u64, usize)>,
    /// Headers checked, each with its commit.
    pub headers: usize,
    pub precommits: usize,
    pub txs: usize,
    /// The parcel, its ancestors and every event of each: the trace, as
    /// proven.
    pub trace: Trace,
}

/// What [`Bundle::check_structure`] leaves for the signature step.
struct Pending {
    signatures: Vec<(Step, SignedMessage)>,
    verified: Verified,
}

/// Which step a signature belongs to, to name it when it is bad.
#[derive(Debug, Clone, Copy)]
enum Step {
    Commit { height: u64 },
    Tx { tx: TxId, height: u64 },
}

impl Step {
    fn failure(self, key: PublicKey) -> BundleError {
        match self {
            Step::Commit { height } => BundleError::Commit {
                height,
                source: CommitError::BadSignature(key),
            },
            Step::Tx { tx, height } => BundleError::TxSignature { tx, height },
        }
    }
}

impl Bundle {
    /// Checks every step against `genesis`; see the module's documentation.
    pub fn verify(&self, genesis: &Genesis) -> Result<Verified, BundleError> {
        let pending = self.check_structure(genesis)?;
        let verdicts = verify_each(
            pending
                .signatures
                .iter()
                .map(|(_, s)| (&s.key, s.message.as_slice(), &s.signature)),
        );
        if let Some(bad) = verdicts.iter().position(|ok| !ok) {
            let (step, signed) = &pending.signatures[bad];
            return Err(step.failure(signed.key));
        }
        Ok(pending.verified)
    }

    /// Every check but the signatures, which it collects.
    fn check_structure(&self, genesis: &Genesis) -> Result<Pending, BundleError> {
        if self.format != BUNDLE_FORMAT {
            return Err(BundleError::Format { found: self.format });
        }
        if self.chain_id != genesis.chain_id {
            return Err(BundleError::OtherChain {
                bundle: self.chain_id.clone(),
                genesis: genesis.chain_id.clone(),
            });
        }
        let genesis_hash = genesis.hash();
        if self.genesis != genesis_hash {
            return Err(BundleError::OtherGenesis {
                bundle: self.genesis,
                genesis: genesis_hash,
            });
        }
        let newest = self.headers.last().ok_or(BundleError::NoHeaders)?;
        let mut signatures = Vec::new();
        let headers = self.check_headers(genesis, &mut signatures)?;
        let txs = self.check_txs(&headers)?;
        let mut used = vec![false; txs.len()];
        for change in &self.set_changes {
            for &index in &change.decisions {
                let governance = txs.get(index as usize).is_some_and(|tx| {
                    tx.height == change.height && tx.decoded.body().is_governance()
                });
                if !governance {
                    return Err(BundleError::Decision {
                        height: change.height,
                        index,
                    });
                }
                used[index as usize] = true;
            }
        }
        let parcels = self.check_parcels(&newest.header, &txs, &mut used)?;
        if let Some(unused) = used.iter().position(|u| !u) {
            return Err(BundleError::UnusedTx {
                tx: txs[unused].decoded.id,
                height: txs[unused].height,
            });
        }
        let precommits = signatures
            .iter()
            .filter(|(step, _)| matches!(step, Step::Commit { .. }))
            .count();
        let events = txs
            .iter()
            .filter(|tx| !tx.governance_only)
            .map(|tx| Event {
                tx: tx.decoded.id,
                height: tx.height,
                index: tx.index,
                time: tx.time,
                signer: *tx.decoded.signer(),
                body: tx.decoded.body().clone(),
                created: Vec::new(),
            })
            .collect();
        for tx in &txs {
            signatures.push((
                Step::Tx {
                    tx: tx.decoded.id,
                    height: tx.height,
                },
                SignedMessage {
                    key: *tx.decoded.signer(),
                    message: tx.decoded.tx.payload.signing_message(),
                    signature: tx.decoded.tx.signature,
                },
            ));
        }
        Ok(Pending {
            signatures,
            verified: Verified {
                chain_id: self.chain_id.clone(),
                genesis: self.genesis,
                height: newest.header.height,
                time: newest.header.time,
                genesis_validators: genesis.validators().len(),
                set_changes: self
                    .set_changes
                    .iter()
                    .map(|c| (c.height, c.validators.len()))
                    .collect(),
                headers: self.headers.len(),
                precommits,
                txs: txs.len(),
                trace: Trace {
                    parcel: self.parcel,
                    parcels,
                    events,
                },
            },
        })
    }

    /// Walks the headers from the genesis set, following the set's changes.
    /// Returns each header by height.
    fn check_headers(
        &self,
        genesis: &Genesis,
        signatures: &mut Vec<(Step, SignedMessage)>,
    ) -> Result<BTreeMap<u64, &BlockHeader>, BundleError> {
        let mut held = genesis.validators();
        let mut changes = self.set_changes.iter().peekable();
        let mut by_height = BTreeMap::new();
        let mut last = 0;
        for certified in &self.headers {
            let header = &certified.header;
            if header.height <= last || header.chain_id != self.chain_id {
                return Err(BundleError::HeaderOrder {
                    height: header.height,
                    chain_id: self.chain_id.clone(),
                });
            }
            // A change shown for a height the headers skipped is vouched
            // for by nothing.
            if let Some(change) = changes.next_if(|c| c.height < header.height) {
                return Err(BundleError::SetChangeUnvouched {
                    height: change.height,
                });
            }
            last = header.height;
            let held_hash = validators_hash(&held);
            if header.validators_hash != held_hash {
                return Err(BundleError::ValidatorSet {
                    height: header.height,
                    named: header.validators_hash,
                    held: held_hash,
                });
            }
            let votes = certified
                .commit
                .votes(&self.genesis, &header.hash(), header.height, &held)
                .map_err(|source| BundleError::Commit {
                    height: header.height,
                    source,
                })?;
            signatures.extend(votes.into_iter().map(|vote| {
                let step = Step::Commit {
                    height: header.height,
                };
                (step, vote)
            }));
            if header.next_validators_hash != header.validators_hash {
                let change = changes.next_if(|c| c.height == header.height).ok_or(
                    BundleError::SetChangeMissing {
                        height: header.height,
                    },
                )?;
                if validators_hash(&change.validators) != header.next_validators_hash {
                    return Err(BundleError::SetChange {
                        height: header.height,
                    });
                }
                held = change.validators.clone();
            }
            by_height.insert(header.height, header);
        }
        if let Some(change) = changes.next() {
            return Err(BundleError::SetChangeUnvouched {
                height: change.height,
            });
        }
        Ok(by_height)
    }

    /// Each transaction at its place in a certified block, decoded.
    fn check_txs(
        &self,
        headers: &BTreeMap<u64, &BlockHeader>,
    ) -> Result<Vec<CheckedTx>, BundleError> {
        let governance: BTreeSet<u32> = self
            .set_changes
            .iter()
            .flat_map(|c| c.decisions.iter().copied())
            .collect();
        let mut out: Vec<CheckedTx> = Vec::with_capacity(self.txs.len());
        for (index, tx) in (0u32..).zip(&self.txs) {
            let header = headers.get(&tx.height).ok_or(BundleError::TxHeader {
                index,
                height: tx.height,
            })?;
            let place = (tx.height, tx.proof.index);
            if out
                .last()
                .is_some_and(|before| (before.height, u64::from(before.index)) >= place)
            {
                return Err(BundleError::TxOrder { index });
            }
            if tx.proof.leaf_count != u64::from(header.tx_count)
                || tx.proof.index >= tx.proof.leaf_count
            {
                return Err(BundleError::TxPlace {
                    index,
                    height: tx.height,
                    place: tx.proof.index,
                    claimed: tx.proof.leaf_count,
                    held: header.tx_count,
                });
            }
            tx.proof
                .verify(&header.tx_root, &tx.bytes)
                .map_err(|source| BundleError::TxInclusion {
                    index,
                    height: tx.height,
                    source,
                })?;
            let decoded =
                DecodedTx::decode(tx.bytes.clone()).map_err(|e| BundleError::TxDecode {
                    index,
                    height: tx.height,
                    reason: e.to_string(),
                })?;
            out.push(CheckedTx {
                decoded,
                height: tx.height,
                // Below the header's count, itself a u32.
                index: tx.proof.index as u32,
                time: header.time,
                governance_only: governance.contains(&index),
            });
        }
        Ok(out)
    }

    /// Each record current at the newest header, its history exactly its
    /// listed events, and the ancestry closed.
    fn check_parcels(
        &self,
        newest: &BlockHeader,
        txs: &[CheckedTx],
        used: &mut [bool],
    ) -> Result<Vec<Parcel>, BundleError> {
        let first = self.parcels.first().map(|p| p.record.id);
        if first != Some(self.parcel) {
            return Err(BundleError::Subject {
                expected: self.parcel,
                found: first.unwrap_or(Hash32::ZERO),
            });
        }
        // Named by a record listed before (the parcel itself first), and
        // not listed yet: what each next record must be.
        let mut wanted: BTreeSet<ParcelId> = BTreeSet::from([self.parcel]);
        let mut listed: BTreeSet<ParcelId> = BTreeSet::new();
        let mut records = Vec::with_capacity(self.parcels.len());
        for proven in &self.parcels {
            let record = &proven.record;
            if !wanted.remove(&record.id) || !listed.insert(record.id) {
                return Err(BundleError::Unrelated(record.id));
            }
            proven
                .proof
                .verify(&newest.parcels_root, &record.id, record)
                .map_err(|source| BundleError::ParcelProof {
                    parcel: record.id,
                    height: newest.height,
                    source,
                })?;
            let in_order = proven.events.windows(2).all(|w| w[0] < w[1])
                && proven
                    .events
                    .last()
                    .is_none_or(|&last| (last as usize) < txs.len());
            if !in_order {
                return Err(BundleError::EventOrder { parcel: record.id });
            }
            let history = History::of(proven.events.iter().map(|&i| &txs[i as usize].decoded.id));
            if history != record.history {
                return Err(BundleError::History {
                    parcel: record.id,
                    listed: proven.events.len(),
                    recorded: record.history.events,
                });
            }
            for &i in &proven.events {
                used[i as usize] = true;
            }
            wanted.extend(record.parents.iter().filter(|p| !listed.contains(p)));
            records.push(record.clone());
        }
        // A parent named but never listed is missing.
        for record in &records {
            for parent in &record.parents {
                if !listed.contains(parent) {
                    return Err(BundleError::AncestorMissing {
                        parcel: record.id,
                        parent: *parent,
                    });
                }
            }
        }
        Ok(records)
    }
}

/// A transaction that passed its inclusion check.
struct CheckedTx {
    decoded: DecodedTx,
    height: u64,
    index: u32,
    time: u64,
    /// Shown only as the decision behind a validator set change.
    governance_only: bool,
}
