//! The pieces of the API's contract that the handlers' annotations name:
//! the parameters and error answers several routes share, and the schema
//! of one event of the event stream. Apart from `openapi`, which gathers
//! the handlers, so that the handlers can name these and `openapi` can
//! name the handlers without the two importing each other.

use std::collections::BTreeMap;

use kp_ledger::Rejection;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, RefOr, Required};
use utoipa::{IntoParams, IntoResponses, PartialSchema, ToSchema};

/// One event of `GET /v1/events`, as an event-stream parser reads it
/// (`id`, `event`, `data`): in OpenAPI 3.1 the schema of a
/// `text/event-stream` answer describes each event. `data` is JSON, of the
/// schema its `contentSchema` names.
pub struct StreamEvent;

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
pub struct IdPrefix;

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
pub struct Height;

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
pub struct Period;

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
/// request (400), where every other rule's code is 422 (`ErrorResponse`).
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
        pub struct $name;

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
