//! The validators of a height, as the ledger names them.

use kp_store::{Snapshot, StoreError};
use kp_wire::api::ValidatorView;

use super::context::ValidatorSet;

/// The validators of the next height: the validator keys of the
/// Participants in good standing after the last committed block.
pub fn validators(snapshot: &Snapshot) -> Result<Vec<ValidatorView>, StoreError> {
    Ok(kp_ledger::rules::validator_set(snapshot)?
        .into_iter()
        .map(|(participant, key)| ValidatorView { participant, key })
        .collect())
}

pub(super) fn validator_set(snapshot: &Snapshot) -> Result<ValidatorSet, StoreError> {
    Ok(ValidatorSet::new(
        validators(snapshot)?.into_iter().map(|v| v.key),
    ))
}
