//! The whole state in memory, with its parcel commitment: what the rules
//! are tested, property-tested and benchmarked against where storage is
//! beside the point.

use std::collections::{BTreeMap, BTreeSet};

use kp_crypto::{Hash32, PublicKey};

use crate::commitment::{bucket_hash, bucket_ids, bucket_of, ParcelCommitment, ParcelTree};
use crate::model::{
    Certificate, Member, Parcel, ParcelId, Participant, ParticipantCode, Proposal, ProposalId,
    Transfer, TransferId,
};
use crate::state::{Read, StateDelta, StateRead, StorageFault};

/// The whole state in memory: for tests, property tests and benchmarks of the
/// rules, where storage is beside the point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemState {
    pub records: StateDelta,
    authorities: BTreeMap<PublicKey, ParticipantCode>,
    parcel_tree: ParcelTree,
}

impl MemState {
    pub fn apply(&mut self, delta: StateDelta) {
        for p in delta.participants.values() {
            self.authorities.retain(|_, code| *code != p.code);
            self.authorities.insert(p.authority, p.code);
        }
        let touched: BTreeSet<u16> = delta.parcels.keys().map(bucket_of).collect();
        self.records.absorb(delta);
        let rehashed: Vec<(u16, Hash32)> = touched
            .into_iter()
            .map(|bucket| (bucket, bucket_hash(&self.bucket(bucket))))
            .collect();
        self.parcel_tree.set(&rehashed);
    }

    fn bucket(&self, bucket: u16) -> Vec<(ParcelId, Parcel)> {
        let (first, last) = bucket_ids(bucket);
        self.records
            .parcels
            .range(first..=last)
            .map(|(id, p)| (*id, p.clone()))
            .collect()
    }
}

impl ParcelCommitment for MemState {
    fn parcels_in_bucket(&self, bucket: u16) -> Result<Vec<(ParcelId, Parcel)>, StorageFault> {
        Ok(self.bucket(bucket))
    }

    fn parcel_tree(&self) -> &ParcelTree {
        &self.parcel_tree
    }
}

impl StateRead for MemState {
    fn participant(&self, code: ParticipantCode) -> Read<Participant> {
        Ok(self.records.participants.get(&code).cloned())
    }

    fn participants(&self) -> Result<Vec<Participant>, StorageFault> {
        Ok(self.records.participants.values().cloned().collect())
    }

    fn participant_by_authority(&self, key: &PublicKey) -> Read<ParticipantCode> {
        Ok(self.authorities.get(key).copied())
    }

    fn member(&self, key: &PublicKey) -> Read<Member> {
        Ok(self.records.members.get(key).cloned())
    }

    fn nonce(&self, signer: &PublicKey) -> Result<u64, StorageFault> {
        Ok(self.records.nonces.get(signer).copied().unwrap_or(0))
    }

    fn parcel(&self, id: &ParcelId) -> Read<Parcel> {
        Ok(self.records.parcels.get(id).cloned())
    }

    fn transfer(&self, id: &TransferId) -> Read<Transfer> {
        Ok(self.records.transfers.get(id).cloned())
    }

    fn certificate(&self, number: &str) -> Read<Certificate> {
        Ok(self.records.certificates.get(number).cloned())
    }

    fn proposal(&self, id: &ProposalId) -> Read<Proposal> {
        Ok(self.records.proposals.get(id).cloned())
    }
}
