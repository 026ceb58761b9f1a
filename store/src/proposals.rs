//! Proposals to change the Participant set as a node answers them: each
//! with where it stands at the snapshot's block.

use kp_ledger::model::Proposal;
use kp_ledger::rules::proposal_standing;
use kp_wire::api::ProposalView;

use crate::error::StoreError;
use crate::snapshot::Snapshot;

impl Snapshot {
    /// `proposal` with its tally against the Participants active now and,
    /// for an open one, why its change cannot apply now, if so.
    pub fn proposal_view(&self, proposal: Proposal) -> Result<ProposalView, StoreError> {
        let now = proposal_standing(self, &proposal)?;
        Ok(ProposalView::new(proposal, &now))
    }

    /// The proposals still waiting for approvals, in id order, as views.
    pub fn open_proposal_views(&self) -> Result<Vec<ProposalView>, StoreError> {
        self.open_proposals()?
            .into_iter()
            .map(|p| self.proposal_view(p))
            .collect()
    }
}
