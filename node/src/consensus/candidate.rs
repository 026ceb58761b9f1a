//! A block proposed for the height consensus is at, as the application
//! holds it until the height is decided.

use kp_ledger::block::AppliedBlock;
use malachitebft_app_channel::app::types::core::{Round, Validity};
use malachitebft_app_channel::app::types::ProposedValue;
use malachitebft_engine::util::streaming::StreamMessage;

use super::context::{Address, BlockId, BlockPart, Height, KpContext};
use super::parts::SignedProposal;

/// A block proposed for the current height, and what checking it found.
pub(super) struct Candidate {
    pub(super) height: Height,
    pub(super) round: Round,
    pub(super) pol_round: Round,
    pub(super) proposer: Address,
    /// The block's effects if it is valid; why not otherwise.
    pub(super) checked: Result<AppliedBlock, String>,
    /// Its parts, to publish again when the engine asks.
    pub(super) messages: Vec<StreamMessage<BlockPart>>,
}

impl Candidate {
    /// `proposal`, with what checking its block found, and its stream.
    pub(super) fn of(
        proposal: &SignedProposal,
        checked: Result<AppliedBlock, String>,
        messages: Vec<StreamMessage<BlockPart>>,
    ) -> Self {
        Candidate {
            height: proposal.height,
            round: proposal.round,
            pol_round: proposal.pol_round,
            proposer: proposal.proposer,
            checked,
            messages,
        }
    }

    pub(super) fn proposed_value(&self, id: BlockId) -> ProposedValue<KpContext> {
        ProposedValue {
            height: self.height,
            round: self.round,
            valid_round: self.pol_round,
            proposer: self.proposer,
            value: id,
            validity: Validity::from_bool(self.checked.is_ok()),
        }
    }
}
