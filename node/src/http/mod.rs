//! The HTTP/JSON API of `docs/api.md`. Writes take only signed
//! transactions; reads answer from one snapshot of the committed ledger
//! each. Every error is `{"error": {"code", "message"}}` with a stable code
//! (`error`).
//!
//! This file only routes. The handlers live by what they serve
//! (`transactions`, `records`, `blocks`, `governance`, `statistics`,
//! `status`, `events`, `health`), over the services' handles in `state`;
//! `openapi` generates the contract from their annotations, which name the
//! parameters and error answers several routes share (`contract`).

pub mod blocks;
pub mod contract;
pub mod error;
pub mod events;
pub mod governance;
pub mod health;
pub mod openapi;
pub mod path;
pub mod records;
pub mod state;
pub mod statistics;
pub mod status;
pub mod transactions;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::{get, post};
use axum::Router;

use self::blocks::{block, commit, genesis};
use self::error::{ErrorResponse, REQUEST_BODY_BYTES_MAX};
use self::governance::{participants, proposal, proposals};
use self::records::{bundle, certificate, member, parcel, trace, transfer};
use self::state::HttpState;
use self::statistics::{anomalies, stats, stats_table};
use self::status::{metrics, status};
use self::transactions::{nonce, submit, transaction};

pub fn router(state: HttpState) -> Router {
    routes()
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .with_state(state)
}

/// Every route, before the fallbacks and limits `router` adds: the
/// contract's test below reads the paths and methods from it.
fn routes() -> Router<HttpState> {
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
        .route("/v1/events", get(events::events))
        // The spelling of audit issue #4, kept working beside the versioned one.
        .route("/events", get(events::events))
        .route("/v1/stats", get(stats))
        .route("/v1/stats/all", get(stats_table))
        .route("/v1/anomalies", get(anomalies))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}

async fn no_route(method: Method, uri: Uri) -> ErrorResponse {
    ErrorResponse::not_found(format!("no route {method} {}; see docs/api.md", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> ErrorResponse {
    let message = format!("{} does not take {method}; see docs/api.md", uri.path());
    ErrorResponse::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use utoipa::openapi::path::PathItem;
    use utoipa::OpenApi;

    use super::*;

    /// The (method, path) pairs a router routes, read from its `Debug`
    /// text, since axum lists its routes nowhere else: in its `path_router`
    /// (before its `fallback_router`), `RouteId(N): "/path"` names each
    /// path, and `RouteId(N): MethodRouter(.. allow_header:
    /// Bytes(b"GET,HEAD") })` its methods (HEAD comes with GET).
    fn routed(router: &Router<HttpState>) -> BTreeSet<(String, String)> {
        let text = format!("{router:?}");
        let (routes, _) = text.split_once("fallback_router:").unwrap_or((&text, ""));
        let mut paths = BTreeMap::new();
        let mut methods = BTreeMap::new();
        for part in routes.split("RouteId(").skip(1) {
            let Some((id, rest)) = part.split_once("): ") else {
                continue;
            };
            if let Some(path) = rest.strip_prefix('"') {
                paths.insert(id, path.split('"').next().unwrap_or_default());
            } else if let Some((_, allowed)) = rest.split_once("allow_header: Bytes(b\"") {
                methods.insert(id, allowed.split('"').next().unwrap_or_default());
            }
        }
        assert!(
            !paths.is_empty() && paths.keys().eq(methods.keys()),
            "axum's Debug of a router no longer reads as this test expects: {text}"
        );
        paths
            .iter()
            .flat_map(|(id, path)| {
                methods[id]
                    .split(',')
                    .filter(|method| *method != "HEAD")
                    .map(|method| (method.to_owned(), (*path).to_owned()))
            })
            .collect()
    }

    fn operations(item: &PathItem) -> impl Iterator<Item = &'static str> + '_ {
        [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("OPTIONS", &item.options),
            ("HEAD", &item.head),
            ("PATCH", &item.patch),
            ("TRACE", &item.trace),
        ]
        .into_iter()
        .filter(|(_, operation)| operation.is_some())
        .map(|(method, _)| method)
    }

    #[test]
    fn every_route_is_in_the_openapi_document_and_every_documented_route_is_routed() {
        let routed = routed(&routes());
        let documented: BTreeSet<(String, String)> = openapi::ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .flat_map(|(path, item)| {
                operations(item).map(|method| (method.to_owned(), path.clone()))
            })
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "routes without a #[utoipa::path] in ApiDoc: {undocumented:?}; \
             documented but not routed: {unrouted:?}"
        );
    }

    // The router over a fresh ledger of the test chain, driven in process:
    // no socket, no port.

    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, Response};
    use kp_ledger::tx::DecodedTx;
    use tokio::sync::{watch, Semaphore};
    use tower::ServiceExt;

    use crate::admission::{admit_submissions, AdmissionHandle};
    use crate::mempool::{enrol, MempoolLimits};
    use crate::peers::participant_nodes;
    use crate::testing::{test_node, TestNode};

    /// Long enough for any request on a loaded machine; a test that waits
    /// this long has failed.
    const PATIENCE: Duration = Duration::from_secs(30);

    /// A node's HTTP layer, with its admission worker running.
    struct Served {
        node: TestNode,
        state: HttpState,
        /// Kept so that the node is not stopping.
        _stop: watch::Sender<bool>,
    }

    /// Serves a node whose key is `node_key`, its observer standing read
    /// from the ledger as the node does at start.
    fn served(node_key: &str) -> Served {
        let node = test_node(node_key, MempoolLimits::default());
        let nodes = participant_nodes(node.chain.store()).expect("participants");
        node.chain.refresh_read_only(&nodes);
        let (admission, queue) = AdmissionHandle::new();
        let mempool = node.mempool.clone();
        tokio::task::spawn_blocking(move || admit_submissions(&mempool, None, queue));
        let (stop, stopping) = watch::channel(false);
        let state = HttpState {
            chain: node.chain.clone(),
            mempool: node.mempool.clone(),
            admission,
            gossip: None,
            metrics: node.metrics.clone(),
            stopping,
            event_streams: Arc::new(Semaphore::new(events::EVENT_STREAMS_MAX)),
        };
        Served {
            node,
            state,
            _stop: stop,
        }
    }

    async fn ask(served: &Served, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response: Response<Body> =
            tokio::time::timeout(PATIENCE, router(served.state.clone()).oneshot(request))
                .await
                .expect("answered in time")
                .expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        let json = serde_json::from_slice(&body).expect("JSON");
        (status, json)
    }

    async fn get(served: &Served, path: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::get(path).body(Body::empty()).expect("request");
        ask(served, request).await
    }

    async fn submit(served: &Served, body: String) -> (StatusCode, serde_json::Value) {
        let request = Request::post("/v1/transactions")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        ask(served, request).await
    }

    fn tx_json(tx: &DecodedTx) -> String {
        serde_json::json!({ "tx": hex::encode(&tx.bytes) }).to_string()
    }

    /// The code of an error answer, checking its shape on the way.
    fn code(body: &serde_json::Value) -> &str {
        let error = &body["error"];
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        error["code"].as_str().unwrap_or_default()
    }

    #[tokio::test]
    async fn status_answers_from_the_ledger_and_the_mempool() {
        let served = served("validator BW");
        served
            .node
            .mempool
            .admit([Ok(enrol(1, "a"))], crate::mempool::Source::Client);
        let (status, body) = get(&served, "/v1/status").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["chain_id"], "kp-test");
        assert_eq!(body["height"], 0);
        assert_eq!(body["pending_txs"], 1);
        assert_eq!(body["read_only"], false);
        assert!(body["validators"].as_array().is_some_and(|v| !v.is_empty()));
    }

    #[tokio::test]
    async fn what_is_not_there_is_a_404_with_a_code_and_a_message() {
        let served = served("validator BW");
        let (status, body) = get(&served, "/v1/nothing").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(code(&body), "not_found");
        let unknown = format!("/v1/transactions/{}", "ab".repeat(32));
        let (status, body) = get(&served, &unknown).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(code(&body), "not_found");
        let (status, body) = get(&served, "/v1/transactions/xyz").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code(&body), "bad_hex");
    }

    #[tokio::test]
    async fn a_submission_is_pending_or_refused_with_its_code() {
        let served = served("validator BW");
        let tx = enrol(1, "a");
        let (status, body) = submit(&served, tx_json(&tx)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["state"], "pending");
        let (status, body) = get(&served, &format!("/v1/transactions/{}", tx.id)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "pending");

        let (status, body) = submit(&served, tx_json(&enrol(3, "c"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code(&body), "nonce_gap");
        let mut forged = enrol(2, "b").tx;
        forged.signature.0[0] ^= 1;
        let forged = DecodedTx::decode(forged.to_bytes()).expect("decodes");
        let (status, body) = submit(&served, tx_json(&forged)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code(&body), "bad_signature");
        let (status, body) = submit(&served, r#"{"tx": "zz"}"#.to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code(&body), "bad_hex");
        let (status, body) = submit(&served, "{".to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code(&body), "malformed_json");
        assert_eq!(served.node.mempool.len(), 1);
    }

    #[tokio::test]
    async fn an_observer_takes_no_submissions() {
        let served = served("an observer's node");
        let (status, body) = get(&served, "/v1/status").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["read_only"], true);
        let (status, body) = submit(&served, tx_json(&enrol(1, "a"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(code(&body), "read_only_node");
        assert!(served.node.mempool.is_empty());
    }

    #[tokio::test]
    async fn a_stopping_node_takes_no_submissions_and_is_not_ready() {
        let served = served("validator BW");
        served.state.admission.close();
        let (status, body) = submit(&served, tx_json(&enrol(1, "a"))).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(code(&body), "shutting_down");
        let (status, body) = get(&served, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(code(&body), "shutting_down");
        assert!(served.node.mempool.is_empty());
    }
}
