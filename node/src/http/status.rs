//! The node's own state: `GET /v1/status` for clients, `GET /metrics` for
//! Prometheus.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use kp_wire::api::StatusView;

use super::error::Answer;
use super::state::HttpState;
use crate::metrics::Metrics;

#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "node",
    summary = "The node and its chain",
    responses(
        (
            status = 200,
            description = "Chain, height and last block, state hash, the next height's \
                validators, peers, pending transactions; `read_only` for an observer",
            body = StatusView
        ),
        crate::http::contract::ReadErrors,
    )
)]
pub(super) async fn status(State(state): State<HttpState>) -> Answer<StatusView> {
    let (tip, validators, pending_txs) = state
        .blocking(|state| {
            let snapshot = state.chain.snapshot()?;
            Ok((
                snapshot.tip()?,
                crate::consensus::validators(&snapshot)?,
                state.mempool.len() as u64,
            ))
        })
        .await?;
    let identity = state.chain.identity();
    Ok(Json(StatusView {
        chain_id: identity.chain_id.clone(),
        genesis_hash: identity.genesis,
        height: tip.height,
        last_block_hash: tip.hash,
        state_hash: tip.state_hash,
        time: tip.time,
        validators,
        peers: u32::try_from(state.gossip_peers()).unwrap_or(u32::MAX),
        pending_txs,
        network_height: state.chain.network_height(),
        read_only: state.chain.is_read_only(),
    }))
}

/// OpenMetrics when asked for (Prometheus does), else Prometheus's text
/// format (see `crate::metrics::Format`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "node",
    summary = "Prometheus metrics",
    responses(
        (
            status = 200,
            description = "The node's `kp_height`, `kp_round`, `kp_validators`, `kp_peers`, \
                `kp_mempool_txs`, `kp_mempool_bytes`, `kp_txs_committed_total`, \
                `kp_commit_latency_seconds` and the consensus engine's own: OpenMetrics 1.0 \
                when `Accept` prefers it (as Prometheus does), else the text format 0.0.4",
            content(
                (String = "text/plain"),
                (String = "application/openmetrics-text")
            )
        ),
    )
)]
pub(super) async fn metrics(
    State(state): State<HttpState>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    Metrics::set(&state.metrics.peers, state.gossip_peers());
    state.mempool.update_metrics();
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = crate::metrics::Format::negotiate(accept);
    (
        [
            (header::CONTENT_TYPE, format.content_type()),
            // Caches keep one answer per format asked for.
            (header::VARY, "accept"),
        ],
        crate::metrics::export(format),
    )
}
