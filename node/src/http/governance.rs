//! The Participant set and the proposals to change it.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use kp_ledger::model::Participant;
use kp_ledger::state::StateRead;
use kp_wire::api::ProposalView;

use super::error::Answer;
use super::state::HttpState;

#[utoipa::path(
    get,
    path = "/v1/participants",
    tag = "governance",
    summary = "The Participants",
    responses(
        (
            status = 200,
            description = "Every Participant, with its standing",
            body = Vec<Participant>
        ),
        crate::http::contract::ReadErrors,
    )
)]
pub(super) async fn participants(State(state): State<HttpState>) -> Answer<Vec<Participant>> {
    state.read(|s| Ok(s.participants()?)).await.map(Json)
}

/// The open proposals, each with its tally against the Participants active now.
#[utoipa::path(
    get,
    path = "/v1/proposals",
    tag = "governance",
    summary = "The open proposals to change the Participant set",
    responses(
        (
            status = 200,
            description = "Each with its tally against the Participants active now",
            body = Vec<ProposalView>
        ),
        crate::http::contract::ReadErrors,
    )
)]
pub(super) async fn proposals(State(state): State<HttpState>) -> Answer<Vec<ProposalView>> {
    state.read(|s| Ok(s.open_proposal_views()?)).await.map(Json)
}

#[utoipa::path(
    get,
    path = "/v1/proposals/{id}",
    tag = "governance",
    summary = "A proposal, open or executed",
    params(crate::http::contract::IdPrefix),
    responses(
        (
            status = 200,
            description = "The change, its approvals and its tally now",
            body = ProposalView
        ),
        crate::http::contract::PrefixErrors,
    )
)]
pub(super) async fn proposal(
    State(state): State<HttpState>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<ProposalView> {
    let prefix = id?.0;
    state
        .read(move |s| {
            let proposal = s.proposal_by_prefix(&prefix)?;
            Ok(s.proposal_view(proposal)?)
        })
        .await
        .map(Json)
}
