//! The committed records: members, parcels (their events, trace and
//! provenance bundle), transfers and certificates.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kp_ledger::model::{Certificate, Member, Transfer};
use kp_ledger::state::StateRead;
use kp_ledger::trace::Trace;
use kp_wire::api::ParcelView;
use kp_wire::bundle_file::{to_file, BundleFile};

use super::error::{Answer, ErrorResponse};
use super::path::parse_key;
use super::state::HttpState;

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
        crate::http::contract::IdErrors,
    )
)]
pub(super) async fn member(
    State(state): State<HttpState>,
    key: Result<Path<String>, PathRejection>,
) -> Answer<Member> {
    let key = parse_key(&key?.0)?;
    state
        .read(move |s| {
            s.member(&key)?
                .ok_or_else(|| ErrorResponse::not_found(format!("no member {key}")))
        })
        .await
        .map(Json)
}

#[utoipa::path(
    get,
    path = "/v1/parcels/{id}",
    tag = "ledger",
    summary = "A parcel and its events",
    params(crate::http::contract::IdPrefix),
    responses(
        (status = 200, description = "The parcel record and its own events", body = ParcelView),
        crate::http::contract::PrefixErrors,
    )
)]
pub(super) async fn parcel(
    State(state): State<HttpState>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<ParcelView> {
    let prefix = id?.0;
    state
        .read(move |s| {
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
    params(crate::http::contract::IdPrefix),
    responses(
        (
            status = 200,
            description = "The parcel first, then its ancestors; the events by height and index",
            body = Trace
        ),
        crate::http::contract::PrefixErrors,
    )
)]
pub(super) async fn trace(
    State(state): State<HttpState>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<Trace> {
    let prefix = id?.0;
    state
        .read(move |s| {
            let parcel = s.parcel_by_prefix(&prefix)?;
            s.trace(&parcel.id)?
                .ok_or_else(|| ErrorResponse::not_found(format!("no parcel {}", parcel.id)))
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
    params(crate::http::contract::IdPrefix),
    responses(
        (
            status = 200,
            description = "The file `kp trace --export` writes; `kp verify` checks it against \
                the genesis (docs/proofs.md)",
            body = BundleFile
        ),
        crate::http::contract::PrefixErrors,
    )
)]
pub(super) async fn bundle(
    State(state): State<HttpState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ErrorResponse> {
    let prefix = id?.0;
    let file = state
        .read(move |s| {
            let parcel = s.parcel_by_prefix(&prefix)?;
            let bundle = s
                .bundle(&parcel.id)?
                .ok_or_else(|| ErrorResponse::not_found(format!("no parcel {}", parcel.id)))?;
            Ok(to_file(&bundle))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], file).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/transfers/{id}",
    tag = "ledger",
    summary = "A transfer",
    params(crate::http::contract::IdPrefix),
    responses(
        (status = 200, description = "The transfer offer and its state", body = Transfer),
        crate::http::contract::PrefixErrors,
    )
)]
pub(super) async fn transfer(
    State(state): State<HttpState>,
    id: Result<Path<String>, PathRejection>,
) -> Answer<Transfer> {
    let prefix = id?.0;
    state
        .read(move |s| Ok(s.transfer_by_prefix(&prefix)?))
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
        crate::http::contract::NamedErrors,
    )
)]
pub(super) async fn certificate(
    State(state): State<HttpState>,
    number: Result<Path<String>, PathRejection>,
) -> Answer<Certificate> {
    let number = number?.0;
    state
        .read(move |s| {
            s.certificate(&number)?
                .ok_or_else(|| ErrorResponse::not_found(format!("no certificate `{number}`")))
        })
        .await
        .map(Json)
}
