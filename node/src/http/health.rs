//! `GET /healthz` and `GET /readyz`, for supervisors and load balancers:
//! is the process alive, and is the node ready to give current answers and
//! take transactions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kp_wire::api::ApiError;
use serde::Serialize;

use super::error::ErrorResponse;
use super::state::HttpState;

/// How far below the height its peers report a node may be and still be
/// ready. Peers' heights reach it every couple of seconds (see
/// `relay::watch_heights`), in which a busy chain makes a few blocks: a
/// node that keeps up can look that far behind for a moment.
pub const READY_BLOCKS_BEHIND_MAX: u64 = 5;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`: a node that is not is answered with an error instead.
    status: &'static str,
}

const OK: Health = Health { status: "ok" };

/// Why a node is not ready.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("the node is shutting down")]
    ShuttingDown,
    #[error("the ledger cannot be read: {0}")]
    Storage(String),
    #[error("consensus has not started")]
    ConsensusNotRunning,
    #[error(
        "catching up: at height {height}, {} blocks below the height its peers report ({network})",
        network - height
    )]
    CatchingUp { height: u64, network: u64 },
}

impl NotReady {
    pub fn code(&self) -> &'static str {
        match self {
            NotReady::ShuttingDown => "shutting_down",
            NotReady::Storage(_) => "storage",
            NotReady::ConsensusNotRunning => "consensus_not_running",
            NotReady::CatchingUp { .. } => "catching_up",
        }
    }
}

impl From<NotReady> for ErrorResponse {
    fn from(not_ready: NotReady) -> Self {
        ErrorResponse::new(
            StatusCode::SERVICE_UNAVAILABLE,
            not_ready.code(),
            not_ready.to_string(),
        )
    }
}

/// The process is alive and answers: nothing else is asked.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "node",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "The process is alive", body = Health))
)]
pub async fn healthz() -> Json<Health> {
    Json(OK)
}

/// 200 when the ledger reads, consensus runs and the node is within a few
/// blocks of its peers; 503 with the code of the first that fails.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "node",
    summary = "Readiness: current answers, transactions taken",
    responses(
        (
            status = 200,
            description = "The ledger reads, consensus runs, and the node is no more than \
                5 blocks below the height its peers report",
            body = Health
        ),
        crate::http::contract::ReadyErrors,
    )
)]
pub async fn readyz(State(state): State<HttpState>) -> Result<Json<Health>, ErrorResponse> {
    if !state.admission.is_accepting() {
        return Err(NotReady::ShuttingDown.into());
    }
    let height = state
        .read(|s| Ok(s.tip()?.height))
        .await
        .map_err(|failure| NotReady::Storage(ApiError::from(failure).message))?;
    readiness(
        state.chain.consensus_running(),
        height,
        state.chain.network_height(),
    )?;
    Ok(Json(OK))
}

/// Whether a node whose ledger reads is ready: consensus running, at
/// `height`, with peers reporting `network_height` (none known: no peer to
/// be behind).
fn readiness(
    consensus_running: bool,
    height: u64,
    network_height: Option<u64>,
) -> Result<(), NotReady> {
    if !consensus_running {
        return Err(NotReady::ConsensusNotRunning);
    }
    match network_height {
        Some(network) if network > height.saturating_add(READY_BLOCKS_BEHIND_MAX) => {
            Err(NotReady::CatchingUp { height, network })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_when_consensus_runs_within_a_few_blocks_of_the_peers() {
        assert_eq!(readiness(true, 10, None), Ok(()));
        assert_eq!(readiness(true, 10, Some(8)), Ok(()));
        assert_eq!(
            readiness(true, 10, Some(10 + READY_BLOCKS_BEHIND_MAX)),
            Ok(())
        );
        let behind = readiness(true, 10, Some(11 + READY_BLOCKS_BEHIND_MAX));
        assert_eq!(
            behind,
            Err(NotReady::CatchingUp {
                height: 10,
                network: 11 + READY_BLOCKS_BEHIND_MAX
            })
        );
        assert_eq!(behind.err().map(|e| e.code()), Some("catching_up"));
        let not_started = readiness(false, 0, None);
        assert_eq!(not_started, Err(NotReady::ConsensusNotRunning));
        assert_eq!(
            not_started.err().map(|e| e.code()),
            Some("consensus_not_running")
        );
    }
}
