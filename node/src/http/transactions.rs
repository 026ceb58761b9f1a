//! `POST /v1/transactions`, a transaction's state and a signer's nonces:
//! what a wallet needs to submit and follow its transactions.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kp_crypto::Hash32;
use kp_ledger::state::StateRead;
use kp_ledger::tx::{DecodedTx, TX_SIZE_BYTES_MAX};
use kp_ledger::Rejection;
use kp_wire::api::{NonceView, SubmitRequest, TxState, TxStatus};

use super::error::{Answer, ErrorResponse};
use super::path::{parse_id, parse_key};
use super::state::HttpState;
use crate::admission::Closed;
use crate::mempool::{AdmitError, Admitted};

#[utoipa::path(
    post,
    path = "/v1/transactions",
    tag = "transactions",
    summary = "Submit a signed transaction",
    description = "The node checks its size, encoding, signature and every rule against the \
        latest state, then holds it for a block and gossips it to the other validators.",
    request_body = SubmitRequest,
    responses(
        (status = 202, description = "Accepted: `state` is `pending`", body = TxStatus),
        crate::http::contract::SubmitErrors,
    )
)]
pub(super) async fn submit(
    State(state): State<HttpState>,
    request: Result<Json<SubmitRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<TxStatus>), ErrorResponse> {
    if !state.admission.is_accepting() {
        return Err(ErrorResponse::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the node is shutting down",
        ));
    }
    if state.chain.is_read_only() {
        return Err(ErrorResponse::new(
            StatusCode::FORBIDDEN,
            "read_only_node",
            "this node is an observer: its key belongs to no Participant, so the validators \
             take no transactions from it; submit through a Participant's node",
        ));
    }
    let Json(request) = request?;
    let tx = decode_submission(&request)?;
    let id = tx.id;
    let stopping = |closed: Closed| {
        ErrorResponse::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            closed.to_string(),
        )
    };
    match state.admission.submit(tx).await.map_err(stopping)? {
        Ok(Admitted::New | Admitted::AlreadyPending) => {}
        Err(full @ AdmitError::Full { .. }) => {
            return Err(ErrorResponse::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "mempool_full",
                full.to_string(),
            ));
        }
        Err(busy @ AdmitError::SignerFull { .. }) => {
            return Err(ErrorResponse::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "mempool_signer_full",
                busy.to_string(),
            ));
        }
        Err(AdmitError::Rejected(rejection)) => return Err(rejection.into()),
        Err(AdmitError::Storage(fault)) => return Err(fault.into()),
    }
    Ok((StatusCode::ACCEPTED, Json(pending(id))))
}

/// The transaction a submission's `tx` holds (hex of its bytes), decoded;
/// its signature is not checked yet.
pub fn decode_submission(request: &SubmitRequest) -> Result<DecodedTx, ErrorResponse> {
    let hex_text = request.tx.trim();
    if hex_text.len() > 2 * TX_SIZE_BYTES_MAX {
        return Err(Rejection::Oversize(hex_text.len() / 2).into());
    }
    let bytes = hex::decode(hex_text).map_err(|e| {
        ErrorResponse::new(
            StatusCode::BAD_REQUEST,
            "bad_hex",
            format!("`tx` is not hex bytes: {e}"),
        )
    })?;
    Ok(DecodedTx::decode(bytes).map_err(Rejection::from)?)
}

fn pending(id: Hash32) -> TxStatus {
    TxStatus {
        id,
        state: TxState::Pending,
        height: None,
        index: None,
        created: Vec::new(),
        error: None,
    }
}

#[utoipa::path(
    get,
    path = "/v1/transactions/{id}",
    tag = "transactions",
    summary = "A transaction's state",
    params(
        ("id" = String, Path, pattern = "^[0-9a-fA-F]{64}$", description = "The transaction's id"),
    ),
    responses(
        (
            status = 200,
            description = "`pending`, `committed` (with `height`, `index`, `created`) or \
                `rejected` (with `error`)",
            body = TxStatus
        ),
        crate::http::contract::IdErrors,
    )
)]
pub(super) async fn transaction(
    State(state): State<HttpState>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<TxStatus> {
    let id = parse_id(&id?.0)?;
    state
        .blocking(move |state| {
            // Pending, then committed, then refused, in this order: a settled
            // transaction is on the ledger or among the reasons before it
            // leaves the mempool.
            if state.mempool.contains(&id) {
                return Ok(pending(id));
            }
            if let Some(record) = state.chain.snapshot()?.tx(&id)? {
                return Ok(TxStatus {
                    id,
                    state: TxState::Committed,
                    height: Some(record.height),
                    index: Some(record.index),
                    created: record.created,
                    error: None,
                });
            }
            match state.mempool.dropped(&id) {
                Some(error) => Ok(TxStatus {
                    id,
                    state: TxState::Rejected,
                    height: None,
                    index: None,
                    created: Vec::new(),
                    error: Some(error),
                }),
                None => Err(ErrorResponse::not_found(format!(
                    "no transaction {id} on the ledger or waiting"
                ))),
            }
        })
        .await
        .map(Json)
}

#[utoipa::path(
    get,
    path = "/v1/nonces/{key}",
    tag = "transactions",
    summary = "A signer's last nonces",
    params(
        (
            "key" = String,
            Path,
            pattern = "^[0-9a-fA-F]{64}$",
            description = "The signer's public key"
        ),
    ),
    responses(
        (
            status = 200,
            description = "The last nonce on the ledger and among pending transactions (0: none)",
            body = NonceView
        ),
        crate::http::contract::NonceErrors,
    )
)]
pub(super) async fn nonce(
    State(state): State<HttpState>,
    key: Result<Path<String>, PathRejection>,
) -> Answer<NonceView> {
    let key = parse_key(&key?.0)?;
    state
        .blocking(move |state| {
            let last = state.chain.snapshot()?.nonce(&key)?;
            // The mempool's base may be a block behind the fresh snapshot.
            let pending_last = state.mempool.pending_nonce(&key)?.max(last);
            Ok(NonceView {
                key,
                last,
                pending_last,
            })
        })
        .await
        .map(Json)
}
