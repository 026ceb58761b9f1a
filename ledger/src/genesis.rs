//! The genesis file: the chain id and the founding Participant set.

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use kp_crypto::{hash_domain, Hash32, PublicKey, WeakKeyError};
use serde::{Deserialize, Serialize};

use crate::canonical::canonical_bytes;
use crate::chain::{ChainIdentity, ChainTip};
use crate::model::{Participant, ValidatorSet};
use crate::rules::validators_among;
use crate::state::StateDelta;

const GENESIS_CONTEXT: &str = "kp-ledger 2026 genesis v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Genesis {
    pub chain_id: String,
    /// Block time (UTC seconds) of height 0; every block's time is at least this.
    pub genesis_time: u64,
    pub participants: Vec<Participant>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenesisError {
    #[error("genesis is not valid JSON: {0}")]
    Json(String),
    #[error("genesis chain_id must be 1 to 64 characters")]
    ChainId,
    #[error("genesis lists no Participants")]
    NoParticipants,
    #[error("genesis lists Participant {0} twice")]
    DuplicateParticipant(String),
    #[error("genesis gives one authority or validator key to two Participants ({0})")]
    DuplicateKey(String),
    #[error("genesis Participant code `{0}` is not two capital letters")]
    BadCode(String),
    #[error("genesis gives no active Participant a validator, so no block could be made")]
    NoValidator,
    #[error("genesis gives {participant} the key {key}, which cannot stand for a party: {reason}")]
    WeakKey {
        participant: String,
        key: PublicKey,
        reason: WeakKeyError,
    },
}

impl Genesis {
    pub fn from_json(text: &str) -> Result<Self, GenesisError> {
        let genesis: Genesis =
            serde_json::from_str(text).map_err(|e| GenesisError::Json(e.to_string()))?;
        genesis.validate()?;
        Ok(genesis)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.chain_id.is_empty() || self.chain_id.len() > 64 {
            return Err(GenesisError::ChainId);
        }
        if self.participants.is_empty() {
            return Err(GenesisError::NoParticipants);
        }
        let mut codes = BTreeSet::new();
        let mut keys = BTreeSet::new();
        for p in &self.participants {
            if !p.code.is_well_formed() {
                return Err(GenesisError::BadCode(p.code.to_string()));
            }
            if !codes.insert(p.code) {
                return Err(GenesisError::DuplicateParticipant(p.code.to_string()));
            }
            // The founding keys enter the ledger here, checked as every key
            // that enters later is (`PublicKey::check_strong`).
            for key in std::iter::once(p.authority).chain(p.validator) {
                key.check_strong().map_err(|reason| GenesisError::WeakKey {
                    participant: p.code.to_string(),
                    key,
                    reason,
                })?;
            }
            let validator_reused = p.validator.is_some_and(|v| !keys.insert(v));
            if !keys.insert(p.authority) || validator_reused {
                return Err(GenesisError::DuplicateKey(p.code.to_string()));
            }
        }
        let runs_a_validator = |p: &Participant| p.status.is_active() && p.validator.is_some();
        if !self.participants.iter().any(runs_a_validator) {
            return Err(GenesisError::NoValidator);
        }
        Ok(())
    }

    /// Identifies this genesis; it is the "previous hash" of block 1.
    pub fn hash(&self) -> Hash32 {
        hash_domain(GENESIS_CONTEXT, &[&canonical_bytes(self)])
    }

    /// The chain this genesis begins.
    pub fn identity(&self) -> ChainIdentity {
        ChainIdentity {
            chain_id: self.chain_id.clone(),
            genesis: self.hash(),
        }
    }

    /// The state at height 0.
    pub fn initial_delta(&self) -> StateDelta {
        let mut delta = StateDelta::default();
        for p in &self.participants {
            delta.participants.insert(p.code, p.clone());
        }
        delta
    }

    /// The validator set that decides block 1.
    pub fn validators(&self) -> ValidatorSet {
        validators_among(&self.participants)
    }

    pub fn tip(&self) -> ChainTip {
        ChainTip {
            height: 0,
            hash: self.hash(),
            state_hash: self.initial_delta().next_state_hash(&Hash32::ZERO),
            time: self.genesis_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::test_genesis;

    #[test]
    fn a_participant_may_run_no_validator() {
        let mut genesis = test_genesis();
        genesis.participants[1].validator = None;
        let mut json: serde_json::Value = serde_json::from_str(&genesis.to_json()).unwrap();
        assert_eq!(
            json["participants"][1]["validator"],
            serde_json::Value::Null
        );
        let parsed = Genesis::from_json(&json.to_string()).unwrap();
        assert_eq!(parsed, genesis);
        // Absent means none too.
        json["participants"][1]
            .as_object_mut()
            .unwrap()
            .remove("validator");
        assert_eq!(Genesis::from_json(&json.to_string()).unwrap(), genesis);
    }

    #[test]
    fn keys_are_used_once_and_some_active_participant_validates() {
        let mut genesis = test_genesis();
        genesis.participants[1].validator = genesis.participants[0].validator;
        assert_eq!(
            genesis.validate(),
            Err(GenesisError::DuplicateKey("EU".into()))
        );
        let mut genesis = test_genesis();
        genesis.participants[1].validator = Some(genesis.participants[0].authority);
        assert_eq!(
            genesis.validate(),
            Err(GenesisError::DuplicateKey("EU".into()))
        );
        let mut genesis = test_genesis();
        for p in &mut genesis.participants {
            if p.status.is_active() {
                p.validator = None;
            }
        }
        assert_eq!(genesis.validate(), Err(GenesisError::NoValidator));
    }

    #[test]
    fn founding_keys_anyone_could_sign_for_are_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = PublicKey(identity);
        let mut genesis = test_genesis();
        genesis.participants[1].authority = weak;
        assert_eq!(
            genesis.validate(),
            Err(GenesisError::WeakKey {
                participant: "EU".into(),
                key: weak,
                reason: WeakKeyError::SmallOrder,
            })
        );
        let mut genesis = test_genesis();
        genesis.participants[2].validator = Some(weak);
        assert!(matches!(
            Genesis::from_json(&genesis.to_json()),
            Err(GenesisError::WeakKey { participant, .. }) if participant == "ZA"
        ));
    }
}
