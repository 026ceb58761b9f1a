//! The body of `POST /v1/transactions`: the JSON extractor the API uses,
//! then the handler's own decoding (`api::decode_submission`: hex, size,
//! transaction), then what the node does with a decoded transaction
//! ([`kp_fuzz::judge`]).
#![no_main]

use axum::Json;
use kp_wire::api::SubmitRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Json(request)) = Json::<SubmitRequest>::from_bytes(data) else {
        return;
    };
    let Ok(tx) = kp_node::http::transactions::decode_submission(&request) else {
        return;
    };
    // What was decoded is the hex the client sent, byte for byte.
    assert_eq!(
        hex::encode(&tx.bytes),
        request.tx.trim().to_ascii_lowercase()
    );
    kp_fuzz::assert_canonical(&tx.tx, &tx.bytes, "submitted transaction");
    kp_fuzz::judge(&tx, kp_fuzz::Signature::Check);
});
