//! The HTTP/JSON API of `docs/api.md`. Writes take only signed
//! transactions; reads answer from one snapshot of the committed ledger
//! each. Every error is `{"error": {"code", "message"}}` with a stable code.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kp_crypto::{Hash32, PublicKey};
use kp_ledger::genesis::Genesis;
use kp_ledger::model::ParticipantCode;
use kp_ledger::model::{Certificate, Member, Participant, Transfer};
use kp_ledger::state::{StateRead, StorageFault};
use kp_ledger::trace::Trace;
use kp_ledger::tx::{DecodedTx, TX_SIZE_BYTES_MAX};
use kp_ledger::Rejection;
use kp_store::{Snapshot, StoreError};
use kp_wire::anomalies::{AnomaliesView, AnomalyQuery, AnomalyQueryError};
use kp_wire::api::{
    ApiError, BlockView, CommitView, ErrorBody, NonceView, ParcelView, ProposalView,
    StatsTableView, StatsView, StatusView, SubmitRequest, TxState, TxStatus,
};
use kp_wire::bundle_file::{to_file, BundleFile};
use kp_wire::stats::{Period, StatsQueryError};
use tokio::sync::oneshot;

use crate::mempool::{AdmitError, Admitted};
use crate::metrics::Metrics;
use crate::node::{lock, Shared};
use crate::relay::Submission;

/// Room for the hex of the largest transaction and its JSON wrapping;
/// anything longer is refused before it is read whole.
const REQUEST_BODY_BYTES_MAX: usize = 2 * TX_SIZE_BYTES_MAX + 1024;

pub fn router(shared: Arc<Shared>) -> Router {
    routes()
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .with_state(shared)
}

/// Every route, before the fallbacks and limits `router` adds: the
/// contract's test reads the paths and methods from it (`crate::openapi`).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/transactions", post(submit))
        .route("/v1/transactions/{id}", get(transaction))
        .route("/v1/status", get(status))
        .route("/v1/nonces/{key}", get(nonce))
        .route("/v1/participants", get(participants))
        .route("/v1/proposals", get(proposals))
        .route("/v1/proposals/{id}", get(proposal))
        .route("/v1/members/{key}", get(member))
        .route("/v1/parcels/{id}", get(parcel))
        .route("/v1/parcels/{id}/trace", get(trace))
        .route("/v1/parcels/{id}/bundle", get(bundle))
        .route("/v1/genesis", get(genesis))
        .route("/v1/transfers/{id}", get(transfer))
        .route("/v1/certificates/{number}", get(certificate))
        .route("/v1/blocks/{height}", get(block))
        .route("/v1/blocks/{height}/commit", get(commit))
        .route("/v1/events", get(crate::events::events))
        // The spelling of audit issue #4, kept working beside the versioned one.
        .route("/events", get(crate::events::events))
        .route("/v1/stats", get(stats))
        .route("/v1/stats/all", get(stats_table))
        .route("/v1/anomalies", get(anomalies))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(crate::openapi::serve))
        .route("/healthz", get(crate::health::healthz))
        .route("/readyz", get(crate::health::readyz))
}

/// An error answer: HTTP status, stable code, one line for humans.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    code: String,
    message: String,
}

impl Failure {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Failure {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", message)
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        ApiError {
            code: failure.code,
            message: failure.message,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = self.status;
        let body = ErrorBody { error: self.into() };
        (status, Json(body)).into_response()
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let status = match e {
            StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
            StoreError::AmbiguousPrefix { .. } => StatusCode::CONFLICT,
            StoreError::PrefixTooShort(_) | StoreError::BadHex(_) | StoreError::BadId(_) => {
                StatusCode::BAD_REQUEST
            }
            _ => return Failure::internal(e.to_string()),
        };
        Failure::new(status, e.code(), e.to_string())
    }
}

impl From<StorageFault> for Failure {
    fn from(fault: StorageFault) -> Self {
        Failure::internal(fault.to_string())
    }
}

impl From<Rejection> for Failure {
    fn from(rejection: Rejection) -> Self {
        // The envelope codes say the bytes are no transaction at all: a bad
        // request, not a transaction the rules refused.
        let status = match rejection {
            Rejection::Oversize(_) | Rejection::Malformed(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Failure::new(status, rejection.code(), rejection.to_string())
    }
}

impl From<JsonRejection> for Failure {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            let message = format!("request body is over {REQUEST_BODY_BYTES_MAX} bytes; a transaction is at most {TX_SIZE_BYTES_MAX}");
            return Failure::new(StatusCode::BAD_REQUEST, "oversize_transaction", message);
        }
        Failure::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for Failure {
    fn from(rejection: PathRejection) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, "bad_id", rejection.body_text())
    }
}

impl From<QueryRejection> for Failure {
    fn from(rejection: QueryRejection) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, "bad_query", rejection.body_text())
    }
}

impl From<StatsQueryError> for Failure {
    fn from(e: StatsQueryError) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
    }
}

impl From<AnomalyQueryError> for Failure {
    fn from(e: AnomalyQueryError) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
    }
}

type Answer<T> = Result<Json<T>, Failure>;

/// Runs `work` on a blocking thread: redb is synchronous, and the mempool
/// may be locked for a whole re-check after a block.
async fn blocking<T, F>(shared: &Arc<Shared>, work: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&Shared) -> Result<T, Failure> + Send + 'static,
{
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || work(&shared))
        .await
        .map_err(|e| Failure::internal(format!("the request's work failed: {e}")))?
}

/// Runs `read` over a fresh snapshot of the committed ledger.
pub(crate) async fn read<T, F>(shared: &Arc<Shared>, read: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&Snapshot) -> Result<T, Failure> + Send + 'static,
{
    blocking(shared, move |shared| read(&shared.store.snapshot()?)).await
}

/// A full 64-character hex id or key.
fn parse_id(text: &str) -> Result<Hash32, Failure> {
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "bad_hex",
            format!("`{text}` is not hexadecimal"),
        ));
    }
    text.parse().map_err(|_| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "bad_id",
            format!("`{text}` is not 64 hex characters"),
        )
    })
}

fn parse_key(text: &str) -> Result<PublicKey, Failure> {
    parse_id(text).map(|id| PublicKey(id.0))
}

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
        crate::openapi::SubmitErrors,
    )
)]
async fn submit(
    State(shared): State<Arc<Shared>>,
    request: Result<Json<SubmitRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<TxStatus>), Failure> {
    if !shared.is_accepting() {
        return Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the node is shutting down",
        ));
    }
    if shared.is_read_only() {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "read_only_node",
            "this node is an observer: its key belongs to no Participant, so the validators \
             take no transactions from it; submit through a Participant's node",
        ));
    }
    let Json(request) = request?;
    let tx = decode_submission(&request)?;
    let id = tx.id;
    let (outcome, admitted) = oneshot::channel();
    let stopping = || {
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the node is shutting down",
        )
    };
    let submissions = lock(&shared.submissions).clone().ok_or_else(stopping)?;
    submissions
        .send(Submission { tx, outcome })
        .await
        .map_err(|_| stopping())?;
    match admitted.await.map_err(|_| stopping())? {
        Ok(Admitted::New | Admitted::AlreadyPending) => {}
        Err(full @ AdmitError::Full { .. }) => {
            return Err(Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "mempool_full",
                full.to_string(),
            ));
        }
        Err(busy @ AdmitError::SignerFull { .. }) => {
            return Err(Failure::new(
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
pub fn decode_submission(request: &SubmitRequest) -> Result<DecodedTx, Failure> {
    let hex_text = request.tx.trim();
    if hex_text.len() > 2 * TX_SIZE_BYTES_MAX {
        return Err(Rejection::Oversize(hex_text.len() / 2).into());
    }
    let bytes = hex::decode(hex_text).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "bad_hex",
            format!("`tx` is not hex bytes: {e}"),
        )
    })?;
    Ok(DecodedTx::decode(bytes).map_err(Rejection::from)?)
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
async fn metrics(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    Metrics::set(&shared.metrics.peers, shared.gossip_peers());
    let mempool = lock(&shared.mempool);
    Metrics::set(&shared.metrics.mempool_txs, mempool.len());
    Metrics::set(&shared.metrics.mempool_bytes, mempool.bytes());
    drop(mempool);
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
        crate::openapi::IdErrors,
    )
)]
async fn transaction(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<TxStatus> {
    let id = parse_id(&id?.0)?;
    blocking(&shared, move |shared| {
        // Pending, then committed, then refused, in this order: a settled
        // transaction is on the ledger or among the reasons before it
        // leaves the mempool.
        if lock(&shared.mempool).contains(&id) {
            return Ok(pending(id));
        }
        if let Some(record) = shared.store.snapshot()?.tx(&id)? {
            return Ok(TxStatus {
                id,
                state: TxState::Committed,
                height: Some(record.height),
                index: Some(record.index),
                created: record.created,
                error: None,
            });
        }
        match lock(&shared.rejections).get(&id) {
            Some(error) => Ok(TxStatus {
                id,
                state: TxState::Rejected,
                height: None,
                index: None,
                created: Vec::new(),
                error: Some(error.clone()),
            }),
            None => Err(Failure::not_found(format!(
                "no transaction {id} on the ledger or waiting"
            ))),
        }
    })
    .await
    .map(Json)
}

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
        crate::openapi::ReadErrors,
    )
)]
async fn status(State(shared): State<Arc<Shared>>) -> Answer<StatusView> {
    let (tip, validators, pending_txs) = blocking(&shared, |shared| {
        let snapshot = shared.store.snapshot()?;
        Ok((
            snapshot.tip()?,
            crate::consensus::validators(&snapshot)?,
            lock(&shared.mempool).len() as u64,
        ))
    })
    .await?;
    Ok(Json(StatusView {
        chain_id: shared.chain.identity.chain_id.clone(),
        genesis_hash: shared.chain.identity.genesis,
        height: tip.height,
        last_block_hash: tip.hash,
        state_hash: tip.state_hash,
        time: tip.time,
        validators,
        peers: u32::try_from(shared.gossip_peers()).unwrap_or(u32::MAX),
        pending_txs,
        network_height: shared.network_height(),
        read_only: shared.is_read_only(),
    }))
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
        crate::openapi::NonceErrors,
    )
)]
async fn nonce(
    State(shared): State<Arc<Shared>>,
    key: Result<Path<String>, PathRejection>,
) -> Answer<NonceView> {
    let key = parse_key(&key?.0)?;
    blocking(&shared, move |shared| {
        let last = shared.store.snapshot()?.nonce(&key)?;
        // The mempool's base may be a block behind the fresh snapshot.
        let pending_last = lock(&shared.mempool).pending_nonce(&key)?.max(last);
        Ok(NonceView {
            key,
            last,
            pending_last,
        })
    })
    .await
    .map(Json)
}

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
        crate::openapi::ReadErrors,
    )
)]
async fn participants(State(shared): State<Arc<Shared>>) -> Answer<Vec<Participant>> {
    read(&shared, |s| Ok(s.participants()?)).await.map(Json)
}

/// The words of a statistics query, checked by `Period::parse` so that each
/// bad one gets its own code rather than a generic decoding error.
#[derive(Debug, serde::Deserialize)]
pub struct StatsQuery {
    participant: Option<String>,
    year: Option<String>,
    quarter: Option<String>,
    half: Option<String>,
}

impl StatsQuery {
    pub fn period(&self) -> Result<Period, StatsQueryError> {
        Period::parse(
            self.year.as_deref(),
            self.quarter.as_deref(),
            self.half.as_deref(),
        )
    }

    /// The Participant of a one-Participant query (`/v1/stats`).
    pub fn participant(&self) -> Result<ParticipantCode, StatsQueryError> {
        let text = self
            .participant
            .as_deref()
            .ok_or(StatsQueryError::MissingParticipant)?;
        text.parse()
            .map_err(|_| StatsQueryError::BadParticipant(text.to_owned()))
    }
}

#[utoipa::path(
    get,
    path = "/v1/stats",
    tag = "statistics",
    summary = "One Participant's Annex III statistics",
    params(
        (
            "participant" = String,
            Query,
            pattern = "^[A-Za-z]{2}$",
            description = "The Participant's code"
        ),
        crate::openapi::Period,
    ),
    responses(
        (
            status = 200,
            description = "Production, exports and imports, each in total and by reporting \
                period (docs/api.md#statistics-kpcs-annex-iii)",
            body = StatsView
        ),
        crate::openapi::StatsErrors,
    )
)]
async fn stats(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Answer<StatsView> {
    let Query(query) = query?;
    let participant = query.participant()?;
    let period = query.period()?;
    read(&shared, move |s| {
        if s.participant(participant)?.is_none() {
            return Err(Failure::not_found(format!("no Participant {participant}")));
        }
        Ok(s.stats(participant, &period)?)
    })
    .await
    .map(Json)
}

#[utoipa::path(
    get,
    path = "/v1/stats/all",
    tag = "statistics",
    summary = "Every Participant's totals, as the scheme publishes them",
    params(crate::openapi::Period),
    responses(
        (
            status = 200,
            description = "One row per Participant of the set, in code order",
            body = StatsTableView
        ),
        crate::openapi::StatsTableErrors,
    )
)]
async fn stats_table(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Answer<StatsTableView> {
    let Query(query) = query?;
    let period = query.period()?;
    read(&shared, move |s| Ok(s.stats_table(&period)?))
        .await
        .map(Json)
}

/// The words of an anomalies query, checked by `AnomalyQuery::parse`.
#[derive(Debug, serde::Deserialize)]
pub struct AnomaliesQuery {
    participant: Option<String>,
    since: Option<String>,
    band: Option<String>,
    period_change: Option<String>,
    markup: Option<String>,
}

impl AnomaliesQuery {
    pub fn parse(&self) -> Result<AnomalyQuery, AnomalyQueryError> {
        AnomalyQuery::parse(
            self.participant.as_deref(),
            self.since.as_deref(),
            self.band.as_deref(),
            self.period_change.as_deref(),
            self.markup.as_deref(),
        )
    }
}

#[utoipa::path(
    get,
    path = "/v1/anomalies",
    tag = "statistics",
    summary = "What the anomaly checks find as of the tip",
    params(
        (
            "participant" = Option<String>,
            Query,
            pattern = "^[A-Za-z]{2}$",
            description = "Only findings where this Participant is either side"
        ),
        (
            "since" = Option<String>,
            Query,
            format = Date,
            pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-",
            description = "A date, `YYYY-MM-DD`, from 1970 (default: 365 days before the tip's \
                day)"
        ),
        (
            "band" = Option<u32>,
            Query,
            minimum = 1,
            maximum = 1000,
            description = "Per cent (default 50)"
        ),
        (
            "period_change" = Option<u32>,
            Query,
            minimum = 1,
            maximum = 1000,
            description = "Per cent (default 50)"
        ),
        (
            "markup" = Option<u32>,
            Query,
            minimum = 1,
            maximum = 1000,
            description = "Per cent (default 100)"
        ),
    ),
    responses(
        (
            status = 200,
            description = "The findings, in kind order (docs/api.md#anomalies)",
            body = AnomaliesView
        ),
        crate::openapi::AnomaliesErrors,
    )
)]
async fn anomalies(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<AnomaliesQuery>, QueryRejection>,
) -> Answer<AnomaliesView> {
    let Query(query) = query?;
    let query = query.parse()?;
    read(&shared, move |s| {
        if let Some(participant) = query.participant {
            if s.participant(participant)?.is_none() {
                return Err(Failure::not_found(format!("no Participant {participant}")));
            }
        }
        Ok(s.anomalies(&query)?)
    })
    .await
    .map(Json)
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
        crate::openapi::ReadErrors,
    )
)]
async fn proposals(State(shared): State<Arc<Shared>>) -> Answer<Vec<ProposalView>> {
    read(&shared, |s| Ok(s.open_proposal_views()?))
        .await
        .map(Json)
}

#[utoipa::path(
    get,
    path = "/v1/proposals/{id}",
    tag = "governance",
    summary = "A proposal, open or executed",
    params(crate::openapi::IdPrefix),
    responses(
        (
            status = 200,
            description = "The change, its approvals and its tally now",
            body = ProposalView
        ),
        crate::openapi::PrefixErrors,
    )
)]
async fn proposal(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<ProposalView> {
    let prefix = id?.0;
    read(&shared, move |s| {
        let proposal = s.proposal_by_prefix(&prefix)?;
        Ok(s.proposal_view(proposal)?)
    })
    .await
    .map(Json)
}

#[utoipa::path(
    get,
    path = "/v1/members/{key}",
    tag = "ledger",
    summary = "A member",
    params(
        (
            "key" = String,
            Path,
            pattern = "^[0-9a-fA-F]{64}$",
            description = "The member's public key"
        ),
    ),
    responses(
        (status = 200, description = "The member, revoked or not", body = Member),
        crate::openapi::IdErrors,
    )
)]
async fn member(
    State(shared): State<Arc<Shared>>,
    key: Result<Path<String>, PathRejection>,
) -> Answer<Member> {
    let key = parse_key(&key?.0)?;
    read(&shared, move |s| {
        s.member(&key)?
            .ok_or_else(|| Failure::not_found(format!("no member {key}")))
    })
    .await
    .map(Json)
}

#[utoipa::path(
    get,
    path = "/v1/parcels/{id}",
    tag = "ledger",
    summary = "A parcel and its events",
    params(crate::openapi::IdPrefix),
    responses(
        (status = 200, description = "The parcel record and its own events", body = ParcelView),
        crate::openapi::PrefixErrors,
    )
)]
async fn parcel(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<ParcelView> {
    let prefix = id?.0;
    read(&shared, move |s| {
        let parcel = s.parcel_by_prefix(&prefix)?;
        let events = s.parcel_events(&parcel.id)?;
        Ok(ParcelView { parcel, events })
    })
    .await
    .map(Json)
}

#[utoipa::path(
    get,
    path = "/v1/parcels/{id}/trace",
    tag = "ledger",
    summary = "A parcel, every ancestor and every event, oldest first",
    params(crate::openapi::IdPrefix),
    responses(
        (
            status = 200,
            description = "The parcel first, then its ancestors; the events by height and index",
            body = Trace
        ),
        crate::openapi::PrefixErrors,
    )
)]
async fn trace(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<Trace> {
    let prefix = id?.0;
    read(&shared, move |s| {
        let parcel = s.parcel_by_prefix(&prefix)?;
        s.trace(&parcel.id)?
            .ok_or_else(|| Failure::not_found(format!("no parcel {}", parcel.id)))
    })
    .await
    .map(Json)
}

/// The parcel's provenance bundle at the tip, as the file `kp trace
/// --export` writes (see `kp_ledger::bundle`).
#[utoipa::path(
    get,
    path = "/v1/parcels/{id}/bundle",
    tag = "ledger",
    summary = "A parcel's provenance bundle at the tip",
    params(crate::openapi::IdPrefix),
    responses(
        (
            status = 200,
            description = "The file `kp trace --export` writes; `kp verify` checks it against \
                the genesis (docs/proofs.md)",
            body = BundleFile
        ),
        crate::openapi::PrefixErrors,
    )
)]
async fn bundle(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Failure> {
    let prefix = id?.0;
    let file = read(&shared, move |s| {
        let parcel = s.parcel_by_prefix(&prefix)?;
        let bundle = s
            .bundle(&parcel.id)?
            .ok_or_else(|| Failure::not_found(format!("no parcel {}", parcel.id)))?;
        Ok(to_file(&bundle))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], file).into_response())
}

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
async fn genesis(State(shared): State<Arc<Shared>>) -> Json<Genesis> {
    Json(shared.chain.genesis.clone())
}

#[utoipa::path(
    get,
    path = "/v1/transfers/{id}",
    tag = "ledger",
    summary = "A transfer",
    params(crate::openapi::IdPrefix),
    responses(
        (status = 200, description = "The transfer offer and its state", body = Transfer),
        crate::openapi::PrefixErrors,
    )
)]
async fn transfer(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<Transfer> {
    let prefix = id?.0;
    read(&shared, move |s| Ok(s.transfer_by_prefix(&prefix)?))
        .await
        .map(Json)
}

#[utoipa::path(
    get,
    path = "/v1/certificates/{number}",
    tag = "ledger",
    summary = "A KP certificate, every Annex I field",
    params(
        (
            "number" = String,
            Path,
            pattern = "^[A-Z]{2}[A-Za-z0-9/-]{1,62}$",
            description = "The certificate's number: its issuer's code, then letters, digits, \
                `-` and `/`"
        ),
    ),
    responses(
        (status = 200, description = "The certificate and its receipt, if any", body = Certificate),
        crate::openapi::NamedErrors,
    )
)]
async fn certificate(
    State(shared): State<Arc<Shared>>,
    number: Result<Path<String>, PathRejection>,
) -> Answer<Certificate> {
    let number = number?.0;
    read(&shared, move |s| {
        s.certificate(&number)?
            .ok_or_else(|| Failure::not_found(format!("no certificate `{number}`")))
    })
    .await
    .map(Json)
}

/// `{height}` is a number or `latest`. Height 0 is the genesis, which is
/// no block.
#[utoipa::path(
    get,
    path = "/v1/blocks/{height}",
    tag = "blocks",
    summary = "A block: its hash, header and transaction ids",
    params(crate::openapi::Height),
    responses(
        (
            status = 200,
            description = "The block's hash, header and transaction ids",
            body = BlockView
        ),
        crate::openapi::NamedErrors,
    )
)]
async fn block(
    State(shared): State<Arc<Shared>>,
    height: Result<Path<String>, PathRejection>,
) -> Answer<BlockView> {
    let height = height?.0;
    read(&shared, move |s| {
        let height = block_height(s, &height)?;
        let block = s
            .block_summary(height)?
            .ok_or_else(|| Failure::not_found(format!("no block at height {height}")))?;
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
fn block_height(s: &Snapshot, text: &str) -> Result<u64, Failure> {
    match text {
        "latest" => Ok(s.tip()?.height),
        text => text.parse::<u64>().map_err(|_| {
            Failure::new(
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
    params(crate::openapi::Height),
    responses(
        (
            status = 200,
            description = "More than two thirds of the validators of the header's \
                `validators_hash` signed",
            body = CommitView
        ),
        crate::openapi::NamedErrors,
    )
)]
async fn commit(
    State(shared): State<Arc<Shared>>,
    height: Result<Path<String>, PathRejection>,
) -> Answer<CommitView> {
    let height = height?.0;
    read(&shared, move |s| {
        let height = block_height(s, &height)?;
        let proof = s.commit_proof(height)?.ok_or_else(|| {
            Failure::not_found(format!("no commit certificate at height {height}"))
        })?;
        Ok(CommitView::from(&proof))
    })
    .await
    .map(Json)
}

async fn no_route(method: Method, uri: Uri) -> Failure {
    Failure::not_found(format!("no route {method} {}; see docs/api.md", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> Failure {
    let message = format!("{} does not take {method}; see docs/api.md", uri.path());
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    )
}
