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
use kp_ledger::anomalies::{AnomaliesView, AnomalyQuery, AnomalyQueryError};
use kp_ledger::api::{
    ApiError, BlockView, CommitView, ErrorBody, NonceView, ParcelView, ProposalView,
    StatsTableView, StatsView, StatusView, SubmitRequest, TraceView, TxState, TxStatus,
};
use kp_ledger::genesis::Genesis;
use kp_ledger::model::ParticipantCode;
use kp_ledger::model::{Certificate, Member, Participant, Transfer};
use kp_ledger::rules::proposal_view;
use kp_ledger::state::{StateRead, StorageFault};
use kp_ledger::stats::{Period, StatsQueryError};
use kp_ledger::store::{Snapshot, StoreError};
use kp_ledger::tx::{DecodedTx, TX_SIZE_BYTES_MAX};
use kp_ledger::Rejection;
use tokio::sync::oneshot;

use crate::consensus::commit_proof;
use crate::mempool::{AdmitError, Admitted};
use crate::metrics::Metrics;
use crate::node::{lock, Shared};
use crate::relay::Submission;

/// Room for the hex of the largest transaction and its JSON wrapping;
/// anything longer is refused before it is read whole.
const REQUEST_BODY_BYTES_MAX: usize = 2 * TX_SIZE_BYTES_MAX + 1024;

pub fn router(shared: Arc<Shared>) -> Router {
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
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .with_state(shared)
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

/// Prometheus text format.
async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    Metrics::set(&shared.metrics.peers, shared.gossip_peers());
    let mempool = lock(&shared.mempool);
    Metrics::set(&shared.metrics.mempool_txs, mempool.len());
    Metrics::set(&shared.metrics.mempool_bytes, mempool.bytes());
    drop(mempool);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::export(),
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
        chain_id: shared.chain.chain_id.clone(),
        genesis_hash: shared.chain.genesis_hash,
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
async fn proposals(State(shared): State<Arc<Shared>>) -> Answer<Vec<ProposalView>> {
    read(&shared, |s| {
        let mut views = Vec::new();
        for proposal in s.open_proposals()? {
            views.push(proposal_view(s, proposal)?);
        }
        Ok(views)
    })
    .await
    .map(Json)
}

async fn proposal(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<ProposalView> {
    let prefix = id?.0;
    read(&shared, move |s| {
        let proposal = s.proposal_by_prefix(&prefix)?;
        Ok(proposal_view(s, proposal)?)
    })
    .await
    .map(Json)
}

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

async fn trace(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<TraceView> {
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
async fn bundle(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Failure> {
    let prefix = id?.0;
    let file = read(&shared, move |s| {
        let parcel = s.parcel_by_prefix(&prefix)?;
        let decode = |bytes: &[u8]| commit_proof(bytes).map_err(|e| e.to_string());
        let bundle = s
            .bundle(&parcel.id, &decode)?
            .ok_or_else(|| Failure::not_found(format!("no parcel {}", parcel.id)))?;
        Ok(bundle.to_file())
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], file).into_response())
}

/// The genesis this node's chain began from, for verifiers that hold none.
async fn genesis(State(shared): State<Arc<Shared>>) -> Json<Genesis> {
    Json(shared.chain.genesis.clone())
}

async fn transfer(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<Transfer> {
    let prefix = id?.0;
    read(&shared, move |s| Ok(s.transfer_by_prefix(&prefix)?))
        .await
        .map(Json)
}

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

async fn commit(
    State(shared): State<Arc<Shared>>,
    height: Result<Path<String>, PathRejection>,
) -> Answer<CommitView> {
    let height = height?.0;
    read(&shared, move |s| {
        let height = block_height(s, &height)?;
        let bytes = s.commit_certificate(height)?.ok_or_else(|| {
            Failure::not_found(format!("no commit certificate at height {height}"))
        })?;
        let proof = commit_proof(&bytes).map_err(|e| {
            Failure::internal(format!(
                "the commit certificate at height {height} does not decode: {e}"
            ))
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
