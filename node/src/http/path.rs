//! Ids and keys as paths spell them.

use axum::http::StatusCode;
use kp_crypto::{Hash32, PublicKey};

use super::error::ErrorResponse;

/// A full 64-character hex id or key.
pub fn parse_id(text: &str) -> Result<Hash32, ErrorResponse> {
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ErrorResponse::new(
            StatusCode::BAD_REQUEST,
            "bad_hex",
            format!("`{text}` is not hexadecimal"),
        ));
    }
    text.parse().map_err(|_| {
        ErrorResponse::new(
            StatusCode::BAD_REQUEST,
            "bad_id",
            format!("`{text}` is not 64 hex characters"),
        )
    })
}

pub fn parse_key(text: &str) -> Result<PublicKey, ErrorResponse> {
    parse_id(text).map(|id| PublicKey(id.0))
}
