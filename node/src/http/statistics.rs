//! Annex III statistics and the anomaly checks.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use kp_ledger::model::ParticipantCode;
use kp_ledger::state::StateRead;
use kp_wire::anomalies::{AnomaliesView, AnomalyQuery, AnomalyQueryError};
use kp_wire::api::{StatsTableView, StatsView};
use kp_wire::stats::{Period, StatsQueryError};

use super::error::{Answer, ErrorResponse};
use super::state::HttpState;

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
        crate::http::contract::Period,
    ),
    responses(
        (
            status = 200,
            description = "Production, exports and imports, each in total and by reporting \
                period (docs/api.md#statistics-kpcs-annex-iii)",
            body = StatsView
        ),
        crate::http::contract::StatsErrors,
    )
)]
pub(super) async fn stats(
    State(state): State<HttpState>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Answer<StatsView> {
    let Query(query) = query?;
    let participant = query.participant()?;
    let period = query.period()?;
    state
        .read(move |s| {
            if s.participant(participant)?.is_none() {
                return Err(ErrorResponse::not_found(format!(
                    "no Participant {participant}"
                )));
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
    params(crate::http::contract::Period),
    responses(
        (
            status = 200,
            description = "One row per Participant of the set, in code order",
            body = StatsTableView
        ),
        crate::http::contract::StatsTableErrors,
    )
)]
pub(super) async fn stats_table(
    State(state): State<HttpState>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Answer<StatsTableView> {
    let Query(query) = query?;
    let period = query.period()?;
    state
        .read(move |s| Ok(s.stats_table(&period)?))
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
        crate::http::contract::AnomaliesErrors,
    )
)]
pub(super) async fn anomalies(
    State(state): State<HttpState>,
    query: Result<Query<AnomaliesQuery>, QueryRejection>,
) -> Answer<AnomaliesView> {
    let Query(query) = query?;
    let query = query.parse()?;
    state
        .read(move |s| {
            if let Some(participant) = query.participant {
                if s.participant(participant)?.is_none() {
                    return Err(ErrorResponse::not_found(format!(
                        "no Participant {participant}"
                    )));
                }
            }
            Ok(s.anomalies(&query)?)
        })
        .await
        .map(Json)
}
