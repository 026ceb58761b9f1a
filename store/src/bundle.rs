//! Provenance bundles as a node builds them (see [`kp_ledger::bundle`],
//! which checks them): a parcel's lineage, with every proof a verifier
//! holding only the genesis needs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kp_crypto::MerkleProof;
use kp_ledger::block::BlockHeader;
use kp_ledger::bundle::{
    Bundle, CertifiedHeader, IncludedTx, ProvenParcel, SetChange, BUNDLE_FORMAT,
};
use kp_ledger::commitment::ParcelProof;
use kp_ledger::model::ParcelId;
use kp_ledger::tx::DecodedTx;

use crate::error::StoreError;
use crate::snapshot::{ChainPlace, Snapshot};
use crate::tables;

impl Snapshot {
    /// The provenance bundle of parcel `id` at this snapshot's block (see
    /// [`kp_ledger::bundle`]): its lineage's events, the governance
    /// decisions that changed the validator set, each with its proof of
    /// inclusion, and the headers they need with their commits.
    pub fn bundle(&self, id: &ParcelId) -> Result<Option<Bundle>, StoreError> {
        let Some(lineage) = self.lineage(id)? else {
            return Ok(None);
        };
        let tip = self.tip()?;
        let mut places: BTreeSet<ChainPlace> = lineage
            .iter()
            .flat_map(|(_, places)| places.iter().copied())
            .collect();
        let changes = self.validator_set_changes()?;
        let mut decisions: Vec<Vec<ChainPlace>> = Vec::with_capacity(changes.len());
        for (height, _) in &changes {
            let mut governance = Vec::new();
            for (index, stored) in (0u32..).zip(self.block_txs(*height)?) {
                let tx = DecodedTx::decode(stored.bytes).map_err(|e| {
                    StoreError::Corrupt(format!("transaction {index} of block {height}: {e}"))
                })?;
                if tx.body().is_governance() {
                    governance.push((*height, index));
                }
            }
            places.extend(governance.iter().copied());
            decisions.push(governance);
        }

        let mut txs = Vec::with_capacity(places.len());
        let mut position: HashMap<ChainPlace, u32> = HashMap::with_capacity(places.len());
        let mut by_block: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for (height, index) in &places {
            by_block.entry(*height).or_default().push(*index);
        }
        for (height, indexes) in &by_block {
            // A proof needs every leaf of its block.
            let block: Vec<Vec<u8>> = self
                .block_txs(*height)?
                .into_iter()
                .map(|t| t.bytes)
                .collect();
            for index in indexes {
                let proof = MerkleProof::new(&block, *index as usize).ok_or_else(|| {
                    StoreError::Corrupt(format!("no transaction at height {height}, index {index}"))
                })?;
                position.insert((*height, *index), txs.len() as u32);
                txs.push(IncludedTx {
                    height: *height,
                    proof,
                    bytes: block[*index as usize].clone(),
                });
            }
        }

        let heights: BTreeSet<u64> = by_block
            .keys()
            .copied()
            .chain(changes.iter().map(|(height, _)| *height))
            .chain([tip.height])
            .collect();
        let mut headers = Vec::with_capacity(heights.len());
        for height in heights {
            let header: BlockHeader = self
                .record(tables::BLOCKS, height)?
                .ok_or_else(|| StoreError::Corrupt(format!("no block at height {height}")))?;
            let commit = self.commit_proof(height)?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "no commit certificate is stored with block {height}"
                ))
            })?;
            headers.push(CertifiedHeader { header, commit });
        }

        let set_changes = changes
            .into_iter()
            .zip(decisions)
            .map(|((height, validators), places)| SetChange {
                height,
                validators,
                decisions: places.iter().map(|place| position[place]).collect(),
            })
            .collect();
        let mut parcels = Vec::with_capacity(lineage.len());
        for (record, places) in lineage {
            let proof = ParcelProof::new(self, &record.id)?.ok_or_else(|| {
                StoreError::Corrupt(format!("parcel {} is not in its bucket", record.id))
            })?;
            parcels.push(ProvenParcel {
                events: places.iter().map(|place| position[place]).collect(),
                record,
                proof,
            });
        }
        Ok(Some(Bundle {
            format: BUNDLE_FORMAT,
            chain_id: headers
                .first()
                .map(|h| h.header.chain_id.clone())
                .unwrap_or_default(),
            genesis: self.genesis_hash()?,
            parcel: *id,
            headers,
            set_changes,
            txs,
            parcels,
        }))
    }
}
