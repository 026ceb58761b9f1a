//! The ledger state as the rules see it: a read-only view ([`StateRead`]) of
//! the committed state, and an [`Overlay`] that buffers one block's or one
//! transaction's writes on top of it as a [`StateDelta`]. The rules never
//! write anywhere else, which is what makes a rejected transaction change
//! nothing and lets storage commit a whole block in one write transaction.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use kp_crypto::{hash_domain, Hash32, PublicKey};

use crate::canonical::canonical_bytes;
use crate::model::{
    Certificate, Member, Parcel, ParcelId, Participant, ParticipantCode, Proposal, ProposalId,
    Transfer, TransferId,
};

const STATE_CONTEXT: &str = "kp-ledger 2026 state v1";

/// Reading the state failed below the rules (a disk error, a corrupt record).
/// Not a verdict on the transaction: the block is not applied.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("state storage failed: {0}")]
pub struct StorageFault(pub String);

pub type Read<T> = Result<Option<T>, StorageFault>;

pub trait StateRead {
    fn participant(&self, code: ParticipantCode) -> Read<Participant>;
    /// Every Participant, in code order. The set is small (tens), and only
    /// governance and the validator set read it whole.
    fn participants(&self) -> Result<Vec<Participant>, StorageFault>;
    /// The Participant whose authority key this is, if any.
    fn participant_by_authority(&self, key: &PublicKey) -> Read<ParticipantCode>;
    fn member(&self, key: &PublicKey) -> Read<Member>;
    /// The signer's last used nonce; 0 when it has signed nothing yet.
    fn nonce(&self, signer: &PublicKey) -> Result<u64, StorageFault>;
    fn parcel(&self, id: &ParcelId) -> Read<Parcel>;
    fn transfer(&self, id: &TransferId) -> Read<Transfer>;
    fn certificate(&self, number: &str) -> Read<Certificate>;
    fn proposal(&self, id: &ProposalId) -> Read<Proposal>;
}

/// Every record a block (or a transaction) writes, in key order, so that its
/// borsh bytes are the same on every node.
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StateDelta {
    pub participants: BTreeMap<ParticipantCode, Participant>,
    pub members: BTreeMap<PublicKey, Member>,
    pub nonces: BTreeMap<PublicKey, u64>,
    pub parcels: BTreeMap<ParcelId, Parcel>,
    pub transfers: BTreeMap<TransferId, Transfer>,
    pub certificates: BTreeMap<String, Certificate>,
    pub proposals: BTreeMap<ProposalId, Proposal>,
}

impl StateDelta {
    /// Later writes win: `other` happened after `self`.
    pub fn absorb(&mut self, other: StateDelta) {
        self.participants.extend(other.participants);
        self.members.extend(other.members);
        self.nonces.extend(other.nonces);
        self.parcels.extend(other.parcels);
        self.transfers.extend(other.transfers);
        self.certificates.extend(other.certificates);
        self.proposals.extend(other.proposals);
    }

    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
            && self.members.is_empty()
            && self.nonces.is_empty()
            && self.parcels.is_empty()
            && self.transfers.is_empty()
            && self.certificates.is_empty()
            && self.proposals.is_empty()
    }

    /// Whether a Participant was admitted or changed standing: only then can
    /// the validator set of the next height differ (see
    /// [`validator_set`](crate::rules::validator_set)).
    pub fn changes_participants(&self) -> bool {
        !self.participants.is_empty()
    }

    /// The state hash after this delta: chained over every block's writes, so
    /// it costs what the block wrote, never what the whole state holds.
    pub fn next_state_hash(&self, previous: &Hash32) -> Hash32 {
        // A block that writes nothing (an idle chain's empty blocks) leaves
        // the state, and so its hash, as it was.
        if self.is_empty() {
            return *previous;
        }
        let bytes = canonical_bytes(self);
        hash_domain(STATE_CONTEXT, &[&previous.0, &bytes])
    }
}

/// Writes buffered over a base view. Reads see the buffered writes first.
pub struct Overlay<'a, S: StateRead + ?Sized> {
    base: &'a S,
    delta: StateDelta,
}

impl<'a, S: StateRead + ?Sized> Overlay<'a, S> {
    pub fn new(base: &'a S) -> Self {
        Overlay {
            base,
            delta: StateDelta::default(),
        }
    }

    pub fn delta(&self) -> &StateDelta {
        &self.delta
    }

    pub fn into_delta(self) -> StateDelta {
        self.delta
    }

    pub fn absorb(&mut self, delta: StateDelta) {
        self.delta.absorb(delta);
    }

    pub fn put_participant(&mut self, p: Participant) {
        self.delta.participants.insert(p.code, p);
    }

    pub fn put_member(&mut self, m: Member) {
        self.delta.members.insert(m.key, m);
    }

    pub fn put_nonce(&mut self, signer: PublicKey, nonce: u64) {
        self.delta.nonces.insert(signer, nonce);
    }

    pub fn put_parcel(&mut self, p: Parcel) {
        self.delta.parcels.insert(p.id, p);
    }

    pub fn put_transfer(&mut self, t: Transfer) {
        self.delta.transfers.insert(t.id, t);
    }

    pub fn put_certificate(&mut self, c: Certificate) {
        self.delta.certificates.insert(c.number.clone(), c);
    }

    pub fn put_proposal(&mut self, p: Proposal) {
        self.delta.proposals.insert(p.id, p);
    }
}

fn buffered_or<T: Clone>(buffered: Option<&T>, base: impl FnOnce() -> Read<T>) -> Read<T> {
    match buffered {
        Some(value) => Ok(Some(value.clone())),
        None => base(),
    }
}

/// A read view of `delta`'s writes over `base`, borrowing both: what an
/// [`Overlay`] reads through, and what a node reads pending transactions'
/// effects through without copying them.
pub struct Layered<'a, S: StateRead + ?Sized> {
    pub base: &'a S,
    pub delta: &'a StateDelta,
}

impl<S: StateRead + ?Sized> StateRead for Layered<'_, S> {
    fn participant(&self, code: ParticipantCode) -> Read<Participant> {
        buffered_or(self.delta.participants.get(&code), || {
            self.base.participant(code)
        })
    }

    fn participants(&self) -> Result<Vec<Participant>, StorageFault> {
        let mut all: BTreeMap<ParticipantCode, Participant> = self
            .base
            .participants()?
            .into_iter()
            .map(|p| (p.code, p))
            .collect();
        all.extend(
            self.delta
                .participants
                .iter()
                .map(|(code, p)| (*code, p.clone())),
        );
        Ok(all.into_values().collect())
    }

    fn participant_by_authority(&self, key: &PublicKey) -> Read<ParticipantCode> {
        if let Some(p) = self
            .delta
            .participants
            .values()
            .find(|p| p.authority == *key)
        {
            return Ok(Some(p.code));
        }
        // The base may still index a key that a buffered write replaced.
        match self.base.participant_by_authority(key)? {
            Some(code) => Ok(self
                .participant(code)?
                .filter(|p| p.authority == *key)
                .map(|p| p.code)),
            None => Ok(None),
        }
    }

    fn member(&self, key: &PublicKey) -> Read<Member> {
        buffered_or(self.delta.members.get(key), || self.base.member(key))
    }

    fn nonce(&self, signer: &PublicKey) -> Result<u64, StorageFault> {
        match self.delta.nonces.get(signer) {
            Some(n) => Ok(*n),
            None => self.base.nonce(signer),
        }
    }

    fn parcel(&self, id: &ParcelId) -> Read<Parcel> {
        buffered_or(self.delta.parcels.get(id), || self.base.parcel(id))
    }

    fn transfer(&self, id: &TransferId) -> Read<Transfer> {
        buffered_or(self.delta.transfers.get(id), || self.base.transfer(id))
    }

    fn certificate(&self, number: &str) -> Read<Certificate> {
        buffered_or(self.delta.certificates.get(number), || {
            self.base.certificate(number)
        })
    }

    fn proposal(&self, id: &ProposalId) -> Read<Proposal> {
        buffered_or(self.delta.proposals.get(id), || self.base.proposal(id))
    }
}

impl<S: StateRead + ?Sized> Overlay<'_, S> {
    fn layered(&self) -> Layered<'_, S> {
        Layered {
            base: self.base,
            delta: &self.delta,
        }
    }
}

impl<S: StateRead + ?Sized> StateRead for Overlay<'_, S> {
    fn participant(&self, code: ParticipantCode) -> Read<Participant> {
        self.layered().participant(code)
    }

    fn participants(&self) -> Result<Vec<Participant>, StorageFault> {
        self.layered().participants()
    }

    fn participant_by_authority(&self, key: &PublicKey) -> Read<ParticipantCode> {
        self.layered().participant_by_authority(key)
    }

    fn member(&self, key: &PublicKey) -> Read<Member> {
        self.layered().member(key)
    }

    fn nonce(&self, signer: &PublicKey) -> Result<u64, StorageFault> {
        self.layered().nonce(signer)
    }

    fn parcel(&self, id: &ParcelId) -> Read<Parcel> {
        self.layered().parcel(id)
    }

    fn transfer(&self, id: &TransferId) -> Read<Transfer> {
        self.layered().transfer(id)
    }

    fn certificate(&self, number: &str) -> Read<Certificate> {
        self.layered().certificate(number)
    }

    fn proposal(&self, id: &ProposalId) -> Read<Proposal> {
        self.layered().proposal(id)
    }
}

#[cfg(test)]
mod tests;
