//! The anomaly checks as the API asks for and shows them: a query, checked
//! from its words, and the findings of the ledger's checks
//! ([`kp_ledger::anomalies`]) for it.

use kp_ledger::anomalies::Finding;
use kp_ledger::model::ParticipantCode;
use kp_ledger::units::{parse_date, Day};
use serde::{Deserialize, Serialize};

/// `GET /v1/anomalies`: what the checks found, as of the tip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnomaliesView {
    pub participant: Option<ParticipantCode>,
    /// `YYYY-MM-DD`: the first day looked at.
    pub since: String,
    /// `YYYY-MM-DD`: the tip's block day, the day expiry is judged at.
    pub as_of: String,
    pub band_percent: u32,
    pub period_change_percent: u32,
    pub markup_percent: u32,
    pub findings: Vec<Finding>,
}

/// The documented default: US$/ct more than half above or below the average.
pub const BAND_PERCENT_DEFAULT: u32 = 50;
/// The documented default: a change of more than half between periods.
pub const PERIOD_CHANGE_PERCENT_DEFAULT: u32 = 50;
/// The documented default: a re-export at more than double, or less than
/// half, the US$/ct its carats were imported at.
pub const MARKUP_PERCENT_DEFAULT: u32 = 100;
/// Without `since`, the checks look back this many days from the tip.
pub const LOOKBACK_DAYS_DEFAULT: u32 = 365;

/// Why an anomalies query cannot be answered as asked.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AnomalyQueryError {
    #[error("`{0}` is not a two-letter Participant code")]
    BadParticipant(String),
    #[error("`{0}` is not a date such as 2026-01-31")]
    BadSince(String),
    #[error("`{0}` is not a percentage for period_change: give a whole number from 1 to 1000")]
    BadPeriodChange(String),
    #[error("`{0}` is not a percentage for band: give a whole number from 1 to 1000")]
    BadBand(String),
    #[error("`{0}` is not a percentage for markup: give a whole number from 1 to 1000")]
    BadMarkup(String),
}

impl AnomalyQueryError {
    /// The stable machine-readable code. Never change one; add new ones.
    pub fn code(&self) -> &'static str {
        match self {
            AnomalyQueryError::BadParticipant(_) => "bad_participant",
            AnomalyQueryError::BadSince(_) => "bad_date",
            AnomalyQueryError::BadPeriodChange(_) => "bad_threshold",
            AnomalyQueryError::BadBand(_) => "bad_threshold",
            AnomalyQueryError::BadMarkup(_) => "bad_threshold",
        }
    }
}

/// A query, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnomalyQuery {
    pub participant: Option<ParticipantCode>,
    /// Days since 1970-01-01; `None`: `LOOKBACK_DAYS_DEFAULT` before the tip.
    pub since_day: Option<u32>,
    pub band_percent: u32,
    pub period_change_percent: u32,
    pub markup_percent: u32,
}

/// A percentage as given, or its default; bounded so that a typo (50000)
/// is refused rather than silently turning a check off.
fn percent(
    text: Option<&str>,
    default: u32,
    bad: fn(String) -> AnomalyQueryError,
) -> Result<u32, AnomalyQueryError> {
    match text {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|p| (1..=1000).contains(p))
            .ok_or_else(|| bad(text.to_owned())),
    }
}

impl AnomalyQuery {
    /// From the query's words as given (absent ones `None`).
    pub fn parse(
        participant: Option<&str>,
        since: Option<&str>,
        band: Option<&str>,
        period_change: Option<&str>,
        markup: Option<&str>,
    ) -> Result<AnomalyQuery, AnomalyQueryError> {
        let participant = participant
            .map(|p| {
                p.parse()
                    .map_err(|_| AnomalyQueryError::BadParticipant(p.to_owned()))
            })
            .transpose()?;
        let since_day = since
            .map(|s| parse_date(s).map_err(|_| AnomalyQueryError::BadSince(s.to_owned())))
            .transpose()?;
        Ok(AnomalyQuery {
            participant,
            since_day,
            band_percent: percent(band, BAND_PERCENT_DEFAULT, AnomalyQueryError::BadBand)?,
            period_change_percent: percent(
                period_change,
                PERIOD_CHANGE_PERCENT_DEFAULT,
                AnomalyQueryError::BadPeriodChange,
            )?,
            markup_percent: percent(markup, MARKUP_PERCENT_DEFAULT, AnomalyQueryError::BadMarkup)?,
        })
    }

    /// The first day looked at, given the tip's day.
    pub fn since(&self, as_of_day: u32) -> u32 {
        self.since_day
            .unwrap_or_else(|| as_of_day.saturating_sub(LOOKBACK_DAYS_DEFAULT))
    }
}

/// Every check's findings for one query, filtered to the Participant asked
/// about (as either side of a shipment) and in a stable order.
pub fn findings_for(
    query: &AnomalyQuery,
    mut findings: Vec<Finding>,
    as_of_day: u32,
) -> AnomaliesView {
    if let Some(p) = query.participant {
        findings.retain(|f| f.involves(p));
    }
    findings.sort_by(|a, b| {
        (a.kind, a.participant, &a.when, &a.certificates, &a.parcels).cmp(&(
            b.kind,
            b.participant,
            &b.when,
            &b.certificates,
            &b.parcels,
        ))
    });
    AnomaliesView {
        participant: query.participant,
        since: Day(query.since(as_of_day)).to_string(),
        as_of: Day(as_of_day).to_string(),
        band_percent: query.band_percent,
        period_change_percent: query.period_change_percent,
        markup_percent: query.markup_percent,
        findings,
    }
}
