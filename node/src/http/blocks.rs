//! Blocks, their commit certificates and the genesis: what a verifier
//! holding no copy of the chain reads.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kp_ledger::genesis::Genesis;
use kp_store::Snapshot;
use kp_wire::api::{BlockView, CommitView};

use super::error::{Answer, ErrorResponse};
use super::state::HttpState;

/// The genesis this node's chain began from, for verifiers that hold none.
#[utoipa::path(
    get,
    path = "/v1/genesis",
    tag = "blocks",
    summary = "The genesis the chain began from",
    responses(
        (status = 200, description = "The genesis file's content", body = Genesis),
    )
)]
pub(super) async fn genesis(State(state): State<HttpState>) -> Json<Genesis> {
    Json(state.chain.info().genesis.clone())
}

/// `{height}` is a number or `latest`. Height 0 is the genesis, which is
/// no block.
#[utoipa::path(
    get,
    path = "/v1/blocks/{height}",
    tag = "blocks",
    summary = "A block: its hash, header and transaction ids",
    params(crate::http::contract::Height),
    responses(
        (
            status = 200,
            description = "The block's hash, header and transaction ids",
            body = BlockView
        ),
        crate::http::contract::NamedErrors,
    )
)]
pub(super) async fn block(
    State(state): State<HttpState>,
    height: Result<Path<String>, PathRejection>,
) -> Answer<BlockView> {
    let height = height?.0;
    state
        .read(move |s| {
            let height = block_height(s, &height)?;
            let block = s
                .block_summary(height)?
                .ok_or_else(|| ErrorResponse::not_found(format!("no block at height {height}")))?;
            Ok(BlockView {
                hash: block.header.hash(),
                txs: block.txs,
                header: block.header,
            })
        })
        .await
        .map(Json)
}

/// A height in a path: a number, or `latest` for the tip.
fn block_height(s: &Snapshot, text: &str) -> Result<u64, ErrorResponse> {
    match text {
        "latest" => Ok(s.tip()?.height),
        text => text.parse::<u64>().map_err(|_| {
            ErrorResponse::new(
                StatusCode::BAD_REQUEST,
                "bad_id",
                format!("`{text}` is not a block height or `latest`"),
            )
        }),
    }
}

#[utoipa::path(
    get,
    path = "/v1/blocks/{height}/commit",
    tag = "blocks",
    summary = "The precommits that decided a block",
    params(crate::http::contract::Height),
    responses(
        (
            status = 200,
            description = "More than two thirds of the validators of the header's \
                `validators_hash` signed",
            body = CommitView
        ),
        crate::http::contract::NamedErrors,
    )
)]
pub(super) async fn commit(
    State(state): State<HttpState>,
    height: Result<Path<String>, PathRejection>,
) -> Answer<CommitView> {
    let height = height?.0;
    state
        .read(move |s| {
            let height = block_height(s, &height)?;
            let proof = s.commit_proof(height)?.ok_or_else(|| {
                ErrorResponse::not_found(format!("no commit certificate at height {height}"))
            })?;
            Ok(CommitView::from(&proof))
        })
        .await
        .map(Json)
}
