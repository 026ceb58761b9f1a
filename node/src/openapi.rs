//! The API's contract: an OpenAPI 3.1 document generated from the
//! handlers' annotations (`#[utoipa::path]` in `api.rs` and `events.rs`)
//! and the views' schemas (the `openapi` feature of `kp_wire` and
//! `kp_ledger`), served at `GET /v1/openapi.json` and committed as
//! `docs/openapi.json`. Each error answer lists the codes its route can
//! give, so that clients, and the contract check in CI
//! (`scripts/check-api-contract.sh`), can hold the node to them. The tests
//! below fail when the committed document, the router or `docs/errors.md`
//! drifts from it.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use kp_ledger::Rejection;
use kp_wire::api::{ApiError, BlockEventView, ErrorBody, TxEventView};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr, Required};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kpnode",
        description = "The HTTP API of a Kimberley Process ledger node (docs/api.md). Writes \
            take only signed transactions; every error is `{\"error\": {\"code\", \"message\"}}` \
            with one of the codes its response lists (docs/errors.md)."
    ),
    paths(
        crate::api::submit,
        crate::api::transaction,
        crate::api::status,
        crate::api::nonce,
        crate::api::participants,
        crate::api::proposals,
        crate::api::proposal,
        crate::api::member,
        crate::api::parcel,
        crate::api::trace,
        crate::api::bundle,
        crate::api::genesis,
        crate::api::transfer,
        crate::api::certificate,
        crate::api::block,
        crate::api::commit,
        crate::events::events,
        crate::api::stats,
        crate::api::stats_table,
        crate::api::anomalies,
        crate::api::metrics,
        crate::health::healthz,
        crate::health::readyz,
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
struct ApiDoc;

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
pub(crate) async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

/// One event of `GET /v1/events`, as an event-stream parser reads it
/// (`id`, `event`, `data`): in OpenAPI 3.1 the schema of a
/// `text/event-stream` answer describes each event. `data` is JSON, of the
/// schema its `contentSchema` names.
pub(crate) struct StreamEvent;

impl PartialSchema for StreamEvent {
    fn schema() -> RefOr<Schema> {
        let transaction = stream_event(
            "A committed transaction; `event` is its kind (`type` in its body)",
            Some("^[0-9]+:[0-9]+$"),
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[a-z_]+$")),
            "TxEventView",
        );
        let block = stream_event(
            "A committed block, after its transactions' events",
            Some("^[0-9]+$"),
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["block"])),
            "BlockEventView",
        );
        let error = stream_event(
            "The node could not read a block: the stream ends",
            None,
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["error"])),
            "ApiError",
        );
        OneOfBuilder::new()
            .item(transaction)
            .item(block)
            .item(error)
            .into()
    }
}

impl ToSchema for StreamEvent {}

/// An event whose `id` matches `id` (none if `None`), whose name is `event`
/// and whose `data` is the JSON of the component `data`.
fn stream_event(
    description: &str,
    id: Option<&str>,
    event: ObjectBuilder,
    data: &str,
) -> ObjectBuilder {
    // utoipa's schema object has no `contentSchema`; its extensions are
    // written out as they are.
    let content_schema = Extensions::from_iter([(
        "contentSchema",
        serde_json::json!({ "$ref": format!("#/components/schemas/{data}") }),
    )]);
    let data = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/json")
        .extensions(Some(content_schema));
    let object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .property("event", event)
        .property("data", data)
        .required("event")
        .required("data");
    match id {
        Some(pattern) => object
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(pattern)),
            )
            .required("id"),
        None => object,
    }
}

/// `{id}` of a record found by a prefix of its id.
pub(crate) struct IdPrefix;

impl IntoParams for IdPrefix {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "id",
            ParameterIn::Path,
            Required::True,
            "The id, or any unique prefix of it of at least 8 hex characters",
            string("^[0-9a-fA-F]{8,64}$"),
        )]
    }
}

/// `{height}` of a block.
pub(crate) struct Height;

impl IntoParams for Height {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "height",
            ParameterIn::Path,
            Required::True,
            "A block height (1 or more), or `latest` for the tip",
            string("^(latest|[0-9]{1,19})$"),
        )]
    }
}

/// The period of the statistics: a year, or a quarter or a half of it.
pub(crate) struct Period;

impl IntoParams for Period {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            parameter(
                "year",
                ParameterIn::Query,
                Required::True,
                "The calendar year",
                integer(1970, u16::MAX),
            ),
            parameter(
                "quarter",
                ParameterIn::Query,
                Required::False,
                "One quarter of it (not with `half`)",
                integer(1, 4),
            ),
            parameter(
                "half",
                ParameterIn::Query,
                Required::False,
                "One half year of it (not with `quarter`)",
                integer(1, 2),
            ),
        ]
    }
}

fn parameter(
    name: &str,
    location: ParameterIn,
    required: Required,
    description: &str,
    schema: ObjectBuilder,
) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(required)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn string(pattern: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
}

fn integer(minimum: u16, maximum: u16) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(minimum))
        .maximum(Some(maximum))
}

/// The rules' codes that say the bytes are no transaction at all: a bad
/// request (400), where every other rule's code is 422 (`api::Failure`).
const ENVELOPE_CODES: [&str; 2] = ["malformed_transaction", "oversize_transaction"];

/// What any read of the store may meet.
const STORAGE: [&str; 1] = ["storage"];

/// Every rule's code but the envelope's: a transaction the rules refused.
fn rule_codes() -> Vec<&'static str> {
    Rejection::CODES
        .iter()
        .copied()
        .filter(|code| !ENVELOPE_CODES.contains(code))
        .collect()
}

/// `{"error": {"code", "message"}}` with `code` one of `codes`.
fn error_response(codes: &[&str]) -> RefOr<Response> {
    let code = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes.iter().copied()));
    let error = ObjectBuilder::new()
        .property("code", code)
        .property("message", ObjectBuilder::new().schema_type(Type::String))
        .required("code")
        .required("message");
    let body = ObjectBuilder::new()
        .property("error", error)
        .required("error");
    let listed: Vec<String> = codes.iter().map(|code| format!("`{code}`")).collect();
    ResponseBuilder::new()
        .description(format!("{} (docs/errors.md)", listed.join(", ")))
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(body)).build(),
        )
        .build()
        .into()
}

/// Declares the error answers of a route, or of routes alike: per HTTP
/// status, the codes it can give.
macro_rules! errors {
    ($($(#[$doc:meta])* $name:ident { $($status:literal => $codes:expr),+ $(,)? })+) => {$(
        $(#[$doc])*
        pub(crate) struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([$(($status.to_string(), error_response(&$codes))),+])
            }
        }
    )+};
}

errors! {
    /// `POST /v1/transactions`.
    SubmitErrors {
        400 => [&["malformed_json", "bad_hex"][..], &ENVELOPE_CODES].concat(),
        403 => ["read_only_node"],
        408 => ["request_timeout"],
        422 => rule_codes(),
        500 => STORAGE,
        503 => ["shutting_down", "mempool_full", "mempool_signer_full"],
    }
    /// A read that needs no input.
    ReadErrors {
        500 => STORAGE,
    }
    /// A record by its full id or key.
    IdErrors {
        400 => ["bad_hex", "bad_id"],
        404 => ["not_found"],
        500 => STORAGE,
    }
    /// `GET /v1/nonces/{key}`: a key never seen has nonce 0, not 404.
    NonceErrors {
        400 => ["bad_hex", "bad_id"],
        500 => STORAGE,
    }
    /// A record by a unique prefix of its id.
    PrefixErrors {
        400 => ["bad_hex", "bad_id", "prefix_too_short"],
        404 => ["not_found"],
        409 => ["ambiguous_prefix"],
        500 => STORAGE,
    }
    /// A record by a name or a height (`bad_id`: not one).
    NamedErrors {
        400 => ["bad_id"],
        404 => ["not_found"],
        500 => STORAGE,
    }
    /// `GET /v1/events`.
    EventsErrors {
        400 => ["bad_query", "bad_height", "bad_event_id"],
        503 => ["too_many_streams"],
    }
    /// `GET /v1/stats`.
    StatsErrors {
        400 => ["bad_query", "bad_participant", "bad_year", "bad_period"],
        404 => ["not_found"],
        500 => STORAGE,
    }
    /// `GET /v1/stats/all`.
    StatsTableErrors {
        400 => ["bad_query", "bad_year", "bad_period"],
        500 => STORAGE,
    }
    /// `GET /readyz`: the first check that fails.
    ReadyErrors {
        503 => ["shutting_down", "storage", "consensus_not_running", "catching_up"],
    }
    /// `GET /v1/anomalies`.
    AnomaliesErrors {
        400 => ["bad_query", "bad_participant", "bad_date", "bad_threshold"],
        404 => ["not_found"],
        500 => STORAGE,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;
    use std::sync::Arc;

    use axum::Router;
    use utoipa::openapi::path::PathItem;

    use super::*;
    use crate::node::Shared;

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

    /// The (method, path) pairs a router routes, read from its `Debug`
    /// text, since axum lists its routes nowhere else: in its `path_router`
    /// (before its `fallback_router`), `RouteId(N): "/path"` names each
    /// path, and `RouteId(N): MethodRouter(.. allow_header:
    /// Bytes(b"GET,HEAD") })` its methods (HEAD comes with GET).
    fn routed(router: &Router<Arc<Shared>>) -> BTreeSet<(String, String)> {
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
    fn every_route_is_documented_and_every_documented_route_is_routed() {
        let routed = routed(&crate::api::routes());
        let documented: BTreeSet<(String, String)> = ApiDoc::openapi()
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

    #[test]
    fn every_error_code_of_the_contract_is_in_errors_md() {
        let errors_md = include_str!("../../docs/errors.md");
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
