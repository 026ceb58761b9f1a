//! The checks that real frauds call for (`docs/domain.md`), as pure
//! functions over records that storage reads from small per-block indexes:
//! each returns findings with a stable kind and the records behind them.
//!
//! Time is block time: "past expiry" is judged at the tip's day, never at
//! the node's clock, so every node answers the same at the same height.
//!
//! Checks here: exports of own origin above production plus imports,
//! receipt discrepancies, certificates past expiry with no receipt, flagged
//! parcels, US$/ct outside a band around the origins' average, changes
//! between periods large enough for the Working Group's questionnaire, and
//! mark-ups or mark-downs on re-export (`markup`).

mod markup;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Certificate, Parcel, ParcelId, ParticipantCode};
use crate::stats::{usd_per_carat_cents, Flow, StatsKey, Tally};
use crate::units::{year_and_quarter, Carats, Day, Usd, SECONDS_PER_DAY};

pub use markup::{
    imports_behind, markups_on_reexport, ImportShare, Reexport, ANCESTRY_PARCELS_MAX,
};

/// What a finding is about. The snake_case names are stable codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AnomalyKind {
    /// A Participant exported more carats of its own origin over the period
    /// than it produced and imported in it.
    ExportsExceedSupply,
    /// The importing authority found other carats or parcels than certified.
    ReceiptDiscrepancy,
    /// A certificate's expiry has passed and no receipt was ever recorded.
    ExpiredWithoutReceipt,
    /// An authority flagged a parcel (it cannot move until cleared).
    FlaggedParcel,
    /// A certificate's US$/ct is outside the band around the average of
    /// its origins' production over the period.
    ValueOutsideBand,
    /// A Participant's carats changed between consecutive periods by more
    /// than the threshold.
    PeriodChange,
    /// A certificate's US$/ct differs from the US$/ct at which its issuer
    /// imported the same carats by more than the threshold, either way.
    MarkupOnReexport,
}

impl AnomalyKind {
    pub fn code(self) -> &'static str {
        match self {
            AnomalyKind::ExportsExceedSupply => "exports_exceed_supply",
            AnomalyKind::ReceiptDiscrepancy => "receipt_discrepancy",
            AnomalyKind::ExpiredWithoutReceipt => "expired_without_receipt",
            AnomalyKind::FlaggedParcel => "flagged_parcel",
            AnomalyKind::ValueOutsideBand => "value_outside_band",
            AnomalyKind::PeriodChange => "period_change",
            AnomalyKind::MarkupOnReexport => "markup_on_reexport",
        }
    }
}

/// One thing a check found, with the records behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    pub kind: AnomalyKind,
    /// The Participant whose figures or records are in question.
    pub participant: ParticipantCode,
    /// The other Participant of a shipment, if any.
    pub partner: Option<ParticipantCode>,
    /// `YYYY-MM-DD`, or a period such as `2026-Q3` or `2026-H1`.
    pub when: String,
    /// The numbers, in words.
    pub detail: String,
    pub certificates: Vec<String>,
    pub parcels: Vec<ParcelId>,
}

impl Finding {
    /// Whether `participant` is either side of what the finding is about.
    pub fn involves(&self, participant: ParticipantCode) -> bool {
        self.participant == participant || self.partner == Some(participant)
    }
}

/// Certificates received with figures other than certified: the issuer's
/// certificate is in question, the destination found the difference.
pub fn receipt_discrepancies(received: &[Certificate]) -> Vec<Finding> {
    received
        .iter()
        .filter_map(|cert| {
            let receipt = cert.receipt.as_ref().filter(|r| !r.matches)?;
            Some(Finding {
                kind: AnomalyKind::ReceiptDiscrepancy,
                participant: cert.issuer,
                partner: Some(cert.destination),
                when: Day(receipt.received_on).to_string(),
                detail: format!(
                    "certified {} ct in {} parcels, received {} ct in {} parcels",
                    Carats(cert.milli_carats),
                    cert.parcels.len(),
                    Carats(receipt.milli_carats),
                    receipt.parcel_count
                ),
                certificates: vec![cert.number.clone()],
                parcels: cert.parcels.clone(),
            })
        })
        .collect()
}

/// Certificates with no receipt whose expiry day is before `as_of_day` (a
/// receipt on the expiry day itself is still accepted).
pub fn expired_without_receipt(open: &[Certificate], as_of_day: u32) -> Vec<Finding> {
    open.iter()
        .filter(|cert| cert.receipt.is_none() && cert.expires_on < as_of_day)
        .map(|cert| Finding {
            kind: AnomalyKind::ExpiredWithoutReceipt,
            participant: cert.issuer,
            partner: Some(cert.destination),
            when: Day(cert.expires_on).to_string(),
            detail: format!(
                "issued {}, expired {}, {} ct never received",
                Day(cert.issued_on),
                Day(cert.expires_on),
                Carats(cert.milli_carats)
            ),
            certificates: vec![cert.number.clone()],
            parcels: cert.parcels.clone(),
        })
        .collect()
}

/// Parcels under a flag, each with the Participant of its holder, as
/// found at `as_of_day` (a flag records no time of its own).
pub fn flagged_parcels(flagged: &[(Parcel, ParticipantCode)], as_of_day: u32) -> Vec<Finding> {
    flagged
        .iter()
        .filter_map(|(parcel, holder_participant)| {
            let reason = parcel.flag.as_ref()?;
            Some(Finding {
                kind: AnomalyKind::FlaggedParcel,
                participant: *holder_participant,
                partner: None,
                when: Day(as_of_day).to_string(),
                detail: format!("{} ct flagged: {reason}", Carats(parcel.milli_carats)),
                certificates: Vec::new(),
                parcels: vec![parcel.id],
            })
        })
        .collect()
}

/// Each Participant's totals of one flow over the quarters from the one
/// holding `since_time` to the one holding `as_of_time`, from statistics
/// entries (those with an HS code: the others carry counts only).
pub fn flow_totals(
    entries: &[(StatsKey, Tally)],
    flow: Flow,
    since_time: u64,
    as_of_time: u64,
) -> BTreeMap<ParticipantCode, Tally> {
    let (from, to) = (year_and_quarter(since_time), year_and_quarter(as_of_time));
    let mut out: BTreeMap<ParticipantCode, Tally> = BTreeMap::new();
    for (key, tally) in entries {
        let when = (key.year, key.quarter);
        if key.flow == flow && key.hs.is_some() && from <= when && when <= to {
            *out.entry(key.participant).or_default() += *tally;
        }
    }
    out
}

/// Participants whose certificates issued in the period carry more carats
/// of their own origin than they produced and imported over the period.
/// Stock from before the period is not counted: over the whole ledger the
/// rules already keep own-origin exports within production (mass is
/// conserved), so only a period can show a country drawing on diamonds
/// the ledger did not see it produce or import then, which is what the
/// Working Group asks about.
pub fn exports_exceed_supply(
    issued: &[Certificate],
    production: &BTreeMap<ParticipantCode, Tally>,
    imports: &BTreeMap<ParticipantCode, Tally>,
    period: &str,
) -> Vec<Finding> {
    let mut own: BTreeMap<ParticipantCode, (u64, Vec<String>)> = BTreeMap::new();
    for cert in issued {
        let carats: u64 = cert
            .origins
            .iter()
            .filter(|o| o.participant == cert.issuer)
            .map(|o| o.milli_carats)
            .fold(0, u64::saturating_add);
        if carats > 0 {
            let entry = own.entry(cert.issuer).or_default();
            entry.0 = entry.0.saturating_add(carats);
            entry.1.push(cert.number.clone());
        }
    }
    own.into_iter()
        .filter_map(|(participant, (exported, certificates))| {
            let carats = |totals: &BTreeMap<ParticipantCode, Tally>| {
                totals.get(&participant).map_or(0, |t| t.milli_carats)
            };
            let (produced, imported) = (carats(production), carats(imports));
            (exported > produced.saturating_add(imported)).then(|| Finding {
                kind: AnomalyKind::ExportsExceedSupply,
                participant,
                partner: None,
                when: period.to_owned(),
                detail: format!(
                    "exported {} ct of own origin against {} ct produced and {} ct imported",
                    Carats(exported),
                    Carats(produced),
                    Carats(imported)
                ),
                certificates,
                parcels: Vec::new(),
            })
        })
        .collect()
}

/// Certificates whose US$ differ from what their carats are worth at their
/// origins' average production US$/ct by more than `band_percent`: each
/// origin's share of the carats at that origin's average, so a mixed-origin
/// shipment is weighed by its mix. A certificate with an origin that
/// produced nothing in the period has no average to compare and is skipped.
pub fn values_outside_band(
    issued: &[Certificate],
    production: &BTreeMap<ParticipantCode, Tally>,
    band_percent: u32,
) -> Vec<Finding> {
    issued
        .iter()
        .filter_map(|cert| {
            let mut expected_cents: u128 = 0;
            for share in &cert.origins {
                let origin = production.get(&share.participant)?;
                if origin.milli_carats == 0 {
                    return None;
                }
                // Past what the records can hold, the certificate is
                // skipped rather than the sum wrapped.
                let cents = u128::from(share.milli_carats) * u128::from(origin.value_cents)
                    / u128::from(origin.milli_carats);
                expected_cents = expected_cents.checked_add(cents)?;
            }
            let value = u128::from(cert.value_cents);
            let gap = value.abs_diff(expected_cents).checked_mul(100)?;
            if expected_cents == 0 || gap <= expected_cents.checked_mul(u128::from(band_percent))? {
                return None;
            }
            let origins: Vec<&str> = cert
                .origins
                .iter()
                .map(|o| o.participant.as_str())
                .collect();
            Some(Finding {
                kind: AnomalyKind::ValueOutsideBand,
                participant: cert.issuer,
                partner: Some(cert.destination),
                when: Day(cert.issued_on).to_string(),
                detail: format!(
                    "US$ {}/ct against US$ {}/ct at the average of origin {} ({})",
                    per_carat(value, cert.milli_carats),
                    per_carat(expected_cents, cert.milli_carats),
                    origins.join("+"),
                    signed_percent(value, expected_cents)
                ),
                certificates: vec![cert.number.clone()],
                parcels: cert.parcels.clone(),
            })
        })
        .collect()
}

/// US$/ct of `cents` over `milli_carats`, as the findings write it.
fn per_carat(cents: u128, milli_carats: u64) -> String {
    u64::try_from(cents)
        .ok()
        .and_then(|c| usd_per_carat_cents(c, milli_carats))
        .map_or_else(|| "-".to_owned(), |c| Usd(c).to_string())
}

/// How far `value` is from `reference` (not zero), as `+150%` or `-60%`.
fn signed_percent(value: u128, reference: u128) -> String {
    let sign = if value >= reference { '+' } else { '-' };
    let percent = value.abs_diff(reference).saturating_mul(100) / reference;
    format!("{sign}{percent}%")
}

/// A reporting period: trade by quarter, production by half year (Annex III).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    year: u16,
    /// Quarter 1 to 4, or half 1 or 2 for production.
    part: u8,
}

impl Slot {
    fn of(flow: Flow, year: u16, quarter: u8) -> Slot {
        let part = match flow {
            Flow::Production => quarter.div_ceil(2),
            Flow::Exports | Flow::Imports | Flow::ExportsByOrigin | Flow::ImportsByOrigin => {
                quarter
            }
        };
        Slot { year, part }
    }

    fn previous(self, flow: Flow) -> Slot {
        let last = if flow == Flow::Production { 2 } else { 4 };
        match self.part {
            1 => Slot {
                year: self.year.saturating_sub(1),
                part: last,
            },
            p => Slot {
                year: self.year,
                part: p - 1,
            },
        }
    }

    fn label(self, flow: Flow) -> String {
        let letter = if flow == Flow::Production { 'H' } else { 'Q' };
        format!("{}-{letter}{}", self.year, self.part)
    }
}

/// Every Participant's carats per flow and period from statistics entries
/// (those with an HS code: the others carry certificate counts only), and
/// each period from `since_time` to `as_of_time` compared with the one
/// before. A change from nothing is new trade, not a change, and is left out.
pub fn period_changes(
    entries: &[(StatsKey, Tally)],
    since_time: u64,
    as_of_time: u64,
    threshold_percent: u32,
) -> Vec<Finding> {
    let mut carats: BTreeMap<(ParticipantCode, Flow, Slot), u64> = BTreeMap::new();
    let mut participants: Vec<ParticipantCode> = Vec::new();
    for (key, tally) in entries.iter().filter(|(k, _)| k.hs.is_some()) {
        let slot = Slot::of(key.flow, key.year, key.quarter);
        let total = carats.entry((key.participant, key.flow, slot)).or_default();
        *total = total.saturating_add(tally.milli_carats);
        participants.push(key.participant);
    }
    participants.sort();
    participants.dedup();
    let (from_year, from_quarter) = year_and_quarter(since_time);
    let (to_year, to_quarter) = year_and_quarter(as_of_time);
    let mut out = Vec::new();
    for participant in participants {
        for flow in Flow::ANNEX_III {
            let (first, last) = (
                Slot::of(flow, from_year, from_quarter),
                Slot::of(flow, to_year, to_quarter),
            );
            let read = |slot| carats.get(&(participant, flow, slot)).copied().unwrap_or(0);
            let mut slot = last;
            while slot >= first {
                let before = slot.previous(flow);
                let (now, then) = (read(slot), read(before));
                if then > 0 {
                    let change = u128::from(now.abs_diff(then)) * 100;
                    if change > u128::from(then) * u128::from(threshold_percent) {
                        out.push(Finding {
                            kind: AnomalyKind::PeriodChange,
                            participant,
                            partner: None,
                            when: slot.label(flow),
                            detail: format!(
                                "{} {} ct against {} ct in {} ({})",
                                flow_name(flow),
                                Carats(now),
                                Carats(then),
                                before.label(flow),
                                signed_percent(u128::from(now), u128::from(then))
                            ),
                            certificates: Vec::new(),
                            parcels: Vec::new(),
                        });
                    }
                }
                if before.year == 0 {
                    break;
                }
                slot = before;
            }
        }
    }
    out
}

fn flow_name(flow: Flow) -> &'static str {
    match flow {
        Flow::Production => "production",
        Flow::Exports => "exports",
        Flow::Imports => "imports",
        Flow::ExportsByOrigin => "exports by origin",
        Flow::ImportsByOrigin => "imports by origin",
    }
}

/// The first second of a day.
pub fn day_start(day: u32) -> u64 {
    u64::from(day) * SECONDS_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::markup::tests::certificate;
    use super::*;
    use crate::model::OriginShare;

    #[test]
    fn figures_no_ledger_can_hold_skip_the_band_check_rather_than_wrap() {
        // A milli-carat of Botswana's production worth the most a u64
        // holds, and a certificate of the most carats a u64 holds: what
        // they are worth at that average is past what a u128 holds a
        // hundred times.
        let botswana: ParticipantCode = "BW".parse().expect("code");
        let production = BTreeMap::from([(
            botswana,
            Tally {
                milli_carats: 1,
                value_cents: u64::MAX,
                ..Tally::default()
            },
        )]);
        let mut cert = certificate("BW-1", "EU", &[], 1);
        cert.origins = vec![OriginShare {
            participant: botswana,
            milli_carats: u64::MAX,
        }];
        cert.milli_carats = u64::MAX;
        assert!(values_outside_band(&[cert], &production, 50).is_empty());
    }
}
