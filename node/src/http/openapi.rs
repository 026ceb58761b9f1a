//! The API's contract: an OpenAPI 3.1 document generated from the
//! handlers' annotations (`#[utoipa::path]` in this folder's handler
//! modules, with the shared pieces of `contract`) and the views' schemas
//! (`kp_ledger`'s `openapi` feature), served at
//! `GET /v1/openapi.json` and committed as `docs/openapi.json`. Each error
//! answer lists the codes its route can give, so that clients, and the
//! contract check in CI (`scripts/check-api-contract.sh`), can hold the node
//! to them. The tests below fail when the committed document or
//! `docs/errors.md` drifts from it; the router's test (`http`) when the
//! routes do.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use kp_wire::api::{ApiError, BlockEventView, ErrorBody, TxEventView};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kpnode",
        description = "The HTTP API of a Kimberley Process ledger node (docs/api.md). Writes \
            take only signed transactions; every error is `{\"error\": {\"code\", \"message\"}}` \
            with one of the codes its response lists (docs/errors.md)."
    ),
    paths(
        crate::http::transactions::submit,
        crate::http::transactions::transaction,
        crate::http::status::status,
        crate::http::transactions::nonce,
        crate::http::governance::participants,
        crate::http::governance::proposals,
        crate::http::governance::proposal,
        crate::http::records::member,
        crate::http::records::parcel,
        crate::http::records::trace,
        crate::http::records::bundle,
        crate::http::blocks::genesis,
        crate::http::records::transfer,
        crate::http::records::certificate,
        crate::http::blocks::block,
        crate::http::blocks::commit,
        crate::http::events::events,
        crate::http::statistics::stats,
        crate::http::statistics::stats_table,
        crate::http::statistics::anomalies,
        crate::http::status::metrics,
        crate::http::health::healthz,
        crate::http::health::readyz,
        serve,
    ),
    components(schemas(ErrorBody, ApiError, TxEventView, BlockEventView)),
    modifiers(&UnversionedEvents),
    tags(
        (name = "transactions", description = "Submitting signed transactions and following them"),
        (name = "ledger", description = "The committed records"),
        (name = "governance", description = "The Participant set and the proposals to change it"),
        (name = "blocks", description = "Blocks, their commit certificates and the genesis"),
        (name = "statistics", description = "Annex III statistics and anomaly checks"),
        (name = "node", description = "The node itself")
    )
)]
pub(super) struct ApiDoc;

/// `GET /events`, the spelling of audit issue #4, is `GET /v1/events`
/// under another path; one handler cannot carry two annotations.
struct UnversionedEvents;

impl Modify for UnversionedEvents {
    fn modify(&self, document: &mut Document) {
        let paths = &mut document.paths.paths;
        let Some(mut item) = paths.get("/v1/events").cloned() else {
            return;
        };
        if let Some(get) = item.get.as_mut() {
            get.operation_id = Some("events_unversioned".to_owned());
            get.summary =
                Some("The event stream of `GET /v1/events`, at its older path".to_owned());
        }
        paths.insert("/events".to_owned(), item);
    }
}

/// The document as served and as committed in `docs/openapi.json`.
pub fn document() -> &'static str {
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
        // Serializing the document's own types cannot fail; an empty one
        // would fail the test that compares it with the committed file.
        let mut text = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
        text.push('\n');
        text
    });
    &DOCUMENT
}

#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "node",
    summary = "The API's contract, this document",
    responses((
        status = 200,
        description = "This OpenAPI 3.1 document (also `docs/openapi.json`)",
        content_type = "application/json",
        body = Object
    ))
)]
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Set to write the generated document over `docs/openapi.json`.
    const UPDATE: &str = "KP_UPDATE_OPENAPI";

    #[test]
    fn committed_document_is_the_generated_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        if std::env::var_os(UPDATE).is_some() {
            std::fs::write(&path, document()).expect("write docs/openapi.json");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        let first_difference = committed
            .lines()
            .zip(document().lines())
            .position(|(committed, generated)| committed != generated)
            .map_or("its end".to_owned(), |line| format!("line {}", line + 1));
        assert!(
            committed == document(),
            "docs/openapi.json is not the document the code generates (they differ at \
             {first_difference}); if the change is meant, regenerate it with\n\n    \
             {UPDATE}=1 cargo test -p kp-node --lib openapi\n\nand commit it"
        );
    }

    #[test]
    fn every_error_code_of_the_contract_is_in_errors_md() {
        let errors_md = include_str!("../../../docs/errors.md");
        let document: serde_json::Value =
            serde_json::from_str(document()).expect("the document is JSON");
        let mut codes = BTreeSet::new();
        for item in document["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
        {
            for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
                for response in operation["responses"]
                    .as_object()
                    .into_iter()
                    .flat_map(|r| r.values())
                {
                    let code = &response["content"]["application/json"]["schema"]["properties"]
                        ["error"]["properties"]["code"]["enum"];
                    codes.extend(
                        code.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|c| c.as_str()),
                    );
                }
            }
        }
        assert!(codes.len() > 60, "found only {} error codes", codes.len());
        let missing: Vec<_> = codes
            .iter()
            .filter(|code| !errors_md.contains(&format!("`{code}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/errors.md does not list {missing:?}"
        );
    }
}
