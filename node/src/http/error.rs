//! Every error answer of the API: an HTTP status, a stable code and one
//! line for humans, as `{"error": {"code", "message"}}`. (The JSON body
//! itself is `kp_ledger::api::ErrorBody`; this is the whole HTTP answer.)

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kp_ledger::state::StorageFault;
use kp_ledger::tx::TX_SIZE_BYTES_MAX;
use kp_ledger::Rejection;
use kp_store::StoreError;
use kp_wire::anomalies::AnomalyQueryError;
use kp_wire::api::{ApiError, ErrorBody};
use kp_wire::stats::StatsQueryError;

/// Room for the hex of the largest transaction and its JSON wrapping;
/// anything longer is refused before it is read whole.
pub const REQUEST_BODY_BYTES_MAX: usize = 2 * TX_SIZE_BYTES_MAX + 1024;

/// An error answer: HTTP status, stable code, one line for humans.
#[derive(Debug)]
pub struct ErrorResponse {
    status: StatusCode,
    code: String,
    message: String,
}

impl ErrorResponse {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ErrorResponse {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ErrorResponse::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ErrorResponse::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", message)
    }
}

impl From<ErrorResponse> for ApiError {
    fn from(failure: ErrorResponse) -> Self {
        ApiError {
            code: failure.code,
            message: failure.message,
        }
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let status = self.status;
        let body = ErrorBody { error: self.into() };
        (status, Json(body)).into_response()
    }
}

impl From<StoreError> for ErrorResponse {
    fn from(e: StoreError) -> Self {
        let status = match e {
            StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
            StoreError::AmbiguousPrefix { .. } => StatusCode::CONFLICT,
            StoreError::PrefixTooShort(_) | StoreError::BadHex(_) | StoreError::BadId(_) => {
                StatusCode::BAD_REQUEST
            }
            _ => return ErrorResponse::internal(e.to_string()),
        };
        ErrorResponse::new(status, e.code(), e.to_string())
    }
}

impl From<StorageFault> for ErrorResponse {
    fn from(fault: StorageFault) -> Self {
        ErrorResponse::internal(fault.to_string())
    }
}

impl From<Rejection> for ErrorResponse {
    fn from(rejection: Rejection) -> Self {
        // The envelope codes say the bytes are no transaction at all: a bad
        // request, not a transaction the rules refused.
        let status = match rejection {
            Rejection::Oversize(_) | Rejection::Malformed(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ErrorResponse::new(status, rejection.code(), rejection.to_string())
    }
}

impl From<JsonRejection> for ErrorResponse {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            let message = format!("request body is over {REQUEST_BODY_BYTES_MAX} bytes; a transaction is at most {TX_SIZE_BYTES_MAX}");
            return ErrorResponse::new(StatusCode::BAD_REQUEST, "oversize_transaction", message);
        }
        ErrorResponse::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ErrorResponse {
    fn from(rejection: PathRejection) -> Self {
        ErrorResponse::new(StatusCode::BAD_REQUEST, "bad_id", rejection.body_text())
    }
}

impl From<QueryRejection> for ErrorResponse {
    fn from(rejection: QueryRejection) -> Self {
        ErrorResponse::new(StatusCode::BAD_REQUEST, "bad_query", rejection.body_text())
    }
}

impl From<StatsQueryError> for ErrorResponse {
    fn from(e: StatsQueryError) -> Self {
        ErrorResponse::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
    }
}

impl From<AnomalyQueryError> for ErrorResponse {
    fn from(e: AnomalyQueryError) -> Self {
        ErrorResponse::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
    }
}

/// A JSON answer, or an error one.
pub type Answer<T> = Result<Json<T>, ErrorResponse>;
