//! The Annex III statistics as the API shows them: a query's period,
//! checked from its words, and the index entries of a year (the ledger's
//! [`kp_ledger::stats`]) summed into one Participant's figures or one line
//! of the published table.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use kp_ledger::model::{HsCode, ParticipantCode};
use kp_ledger::stats::{usd_per_carat_cents, Flow, StatsKey, Tally};
use kp_ledger::units::{Carats, Usd};

use crate::api::{
    Figures, FlowStats, HsFigures, OriginFigures, PartnerFigures, PeriodStats, StatsRow, StatsView,
};

/// Why a statistics query cannot be answered as asked.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StatsQueryError {
    #[error("give the Participant (participant=CODE), or ask for every Participant")]
    MissingParticipant,
    #[error("`{0}` is not a two-letter Participant code")]
    BadParticipant(String),
    #[error("give the year (year=YYYY)")]
    MissingYear,
    #[error("`{0}` is not a year such as 2026")]
    BadYear(String),
    #[error("`{0}` is not a quarter: give 1, 2, 3 or 4")]
    BadQuarter(String),
    #[error("`{0}` is not a half year: give 1 or 2")]
    BadHalf(String),
    #[error("give a quarter or a half year, not both")]
    QuarterAndHalf,
}

impl StatsQueryError {
    /// The stable machine-readable code. Never change one; add new ones.
    pub fn code(&self) -> &'static str {
        match self {
            StatsQueryError::MissingParticipant => "bad_participant",
            StatsQueryError::BadParticipant(_) => "bad_participant",
            StatsQueryError::MissingYear => "bad_year",
            StatsQueryError::BadYear(_) => "bad_year",
            StatsQueryError::BadQuarter(_) => "bad_period",
            StatsQueryError::BadHalf(_) => "bad_period",
            StatsQueryError::QuarterAndHalf => "bad_period",
        }
    }
}

/// The part of a year a query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Year,
    Quarter(u8),
    Half(u8),
}

/// A query's year and scope, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub year: u16,
    pub scope: Scope,
}

impl Period {
    /// From the query's words as given (absent ones `None`).
    pub fn parse(
        year: Option<&str>,
        quarter: Option<&str>,
        half: Option<&str>,
    ) -> Result<Period, StatsQueryError> {
        let year_text = year.ok_or(StatsQueryError::MissingYear)?;
        let year = year_text
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|y| *y >= 1970)
            .ok_or_else(|| StatsQueryError::BadYear(year_text.to_owned()))?;
        let part = |text: &str, max: u8, bad: fn(String) -> StatsQueryError| {
            text.trim()
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| bad(text.to_owned()))
        };
        let scope = match (quarter, half) {
            (Some(_), Some(_)) => return Err(StatsQueryError::QuarterAndHalf),
            (Some(q), None) => Scope::Quarter(part(q, 4, StatsQueryError::BadQuarter)?),
            (None, Some(h)) => Scope::Half(part(h, 2, StatsQueryError::BadHalf)?),
            (None, None) => Scope::Year,
        };
        Ok(Period { year, scope })
    }

    pub fn quarter(&self) -> Option<u8> {
        match self.scope {
            Scope::Quarter(q) => Some(q),
            _ => None,
        }
    }

    pub fn half(&self) -> Option<u8> {
        match self.scope {
            Scope::Half(h) => Some(h),
            _ => None,
        }
    }

    fn quarters(&self) -> RangeInclusive<u8> {
        match self.scope {
            Scope::Year => 1..=4,
            Scope::Quarter(q) => q..=q,
            Scope::Half(h) => (2 * h - 1)..=(2 * h),
        }
    }

    fn label(&self) -> String {
        match self.scope {
            Scope::Year => "year".to_owned(),
            Scope::Quarter(q) => format!("Q{q}"),
            Scope::Half(h) => format!("H{h}"),
        }
    }

    /// The reporting periods within: production by half year and trade by
    /// quarter (Annex III); asked for one quarter, production for it alone.
    fn reporting(&self, flow: Flow) -> Vec<Period> {
        let of = |scope| Period {
            year: self.year,
            scope,
        };
        match (self.scope, flow) {
            (Scope::Year, Flow::Production) => vec![of(Scope::Half(1)), of(Scope::Half(2))],
            (Scope::Half(_) | Scope::Quarter(_), Flow::Production) => vec![*self],
            (_, Flow::Exports | Flow::Imports | Flow::ExportsByOrigin | Flow::ImportsByOrigin) => {
                self.quarters().map(|q| of(Scope::Quarter(q))).collect()
            }
        }
    }
}

impl From<Tally> for Figures {
    fn from(t: Tally) -> Figures {
        let per_carat = usd_per_carat_cents(t.value_cents, t.milli_carats);
        Figures {
            milli_carats: t.milli_carats,
            carats: Carats(t.milli_carats).to_string(),
            value_cents: t.value_cents,
            value_usd: Usd(t.value_cents).to_string(),
            usd_per_carat_cents: per_carat,
            usd_per_carat: per_carat.map(|c| Usd(c).to_string()),
            parcels: t.parcels,
            certificates: t.certificates,
            received_milli_carats: t.received_milli_carats,
            received_carats: Carats(t.received_milli_carats).to_string(),
        }
    }
}

fn period_stats<'a>(
    period: &Period,
    flow: Flow,
    entries: impl Iterator<Item = &'a (StatsKey, Tally)>,
) -> PeriodStats {
    let quarters = period.quarters();
    let mut total = Tally::default();
    let mut by_hs: BTreeMap<HsCode, Tally> = BTreeMap::new();
    let mut by_partner: BTreeMap<ParticipantCode, Tally> = BTreeMap::new();
    let mut by_origin: BTreeMap<ParticipantCode, Tally> = BTreeMap::new();
    let by_origin_flow = flow.by_origin();
    for (key, tally) in entries {
        if key.year != period.year || !quarters.contains(&key.quarter) {
            continue;
        }
        if Some(key.flow) == by_origin_flow {
            if let Some(origin) = key.partner {
                *by_origin.entry(origin).or_default() += *tally;
            }
            continue;
        }
        if key.flow != flow {
            continue;
        }
        total += *tally;
        if let Some(hs) = key.hs {
            *by_hs.entry(hs).or_default() += *tally;
        }
        if let Some(partner) = key.partner {
            *by_partner.entry(partner).or_default() += *tally;
        }
    }
    PeriodStats {
        period: period.label(),
        total: total.into(),
        by_hs: by_hs
            .into_iter()
            .map(|(hs_code, t)| HsFigures {
                hs_code,
                figures: t.into(),
            })
            .collect(),
        by_partner: by_partner
            .into_iter()
            .map(|(partner, t)| PartnerFigures {
                partner,
                figures: t.into(),
            })
            .collect(),
        by_origin: by_origin
            .into_iter()
            .map(|(origin, t)| OriginFigures {
                origin,
                figures: t.into(),
            })
            .collect(),
    }
}

/// One Participant's statistics from its index entries of `period.year`.
pub fn participant_stats(
    participant: ParticipantCode,
    period: &Period,
    entries: &[(StatsKey, Tally)],
) -> StatsView {
    let mine = || entries.iter().filter(|(k, _)| k.participant == participant);
    let flow = |flow| FlowStats {
        total: period_stats(period, flow, mine()),
        periods: period
            .reporting(flow)
            .iter()
            .map(|p| period_stats(p, flow, mine()))
            .collect(),
    };
    StatsView {
        participant,
        year: period.year,
        quarter: period.quarter(),
        half: period.half(),
        production: flow(Flow::Production),
        exports: flow(Flow::Exports),
        imports: flow(Flow::Imports),
    }
}

/// One Participant's line of the published table.
pub fn table_row(
    participant: ParticipantCode,
    period: &Period,
    entries: &[(StatsKey, Tally)],
) -> StatsRow {
    let mine = || entries.iter().filter(|(k, _)| k.participant == participant);
    let total = |flow| period_stats(period, flow, mine()).total;
    StatsRow {
        participant,
        production: total(Flow::Production),
        exports: total(Flow::Exports),
        imports: total(Flow::Imports),
    }
}

#[cfg(test)]
mod tests {
    use kp_ledger::testkit::code;

    use super::*;

    #[test]
    fn a_mixed_origin_certificates_origin_lines_add_up_to_its_totals() {
        // What one certificate of BW, US$ 1000.00 over 3.5 ct for the EU,
        // adds to the index in Q1: its lines by HS code and its count,
        // then its carats by origin (1.5 ct of BW, 2 ct of ZA).
        let entry = |flow, partner: &str, hs, tally| {
            let key = StatsKey {
                year: 2026,
                participant: code("BW"),
                quarter: 1,
                flow,
                partner: Some(code(partner)),
                hs,
            };
            (key, tally)
        };
        let tally = |milli_carats, value_cents, parcels, certificates| Tally {
            milli_carats,
            value_cents,
            parcels,
            certificates,
            received_milli_carats: 0,
        };
        let entries = [
            entry(
                Flow::Exports,
                "EU",
                Some(HsCode::UNSORTED),
                tally(3_500, 100_000, 2, 0),
            ),
            entry(Flow::Exports, "EU", None, tally(0, 0, 0, 1)),
            entry(
                Flow::ExportsByOrigin,
                "BW",
                None,
                tally(1_500, 42_857, 2, 1),
            ),
            entry(
                Flow::ExportsByOrigin,
                "ZA",
                None,
                tally(2_000, 57_143, 1, 1),
            ),
        ];
        let period = Period {
            year: 2026,
            scope: Scope::Quarter(1),
        };
        let view = participant_stats(code("BW"), &period, &entries);
        let exports = &view.exports.total;
        assert_eq!(
            (exports.total.milli_carats, exports.total.value_cents),
            (3_500, 100_000)
        );
        assert_eq!((exports.total.parcels, exports.total.certificates), (2, 1));
        let origins: Vec<_> = exports
            .by_origin
            .iter()
            .map(|o| {
                (
                    o.origin.to_string(),
                    o.figures.milli_carats,
                    o.figures.value_cents,
                )
            })
            .collect();
        assert_eq!(
            origins,
            [("BW".into(), 1_500, 42_857), ("ZA".into(), 2_000, 57_143)]
        );
        let sum =
            |f: fn(&Figures) -> u64| exports.by_origin.iter().map(|o| f(&o.figures)).sum::<u64>();
        assert_eq!(sum(|f| f.milli_carats), exports.total.milli_carats);
        assert_eq!(sum(|f| f.value_cents), exports.total.value_cents);
        assert_eq!(view.exports.periods[0].by_origin, exports.by_origin);
        assert!(view.production.total.by_origin.is_empty());
        assert!(view.imports.total.by_origin.is_empty());
    }

    #[test]
    fn query_words_are_checked() {
        let year = |y, q, h| Period::parse(y, q, h);
        assert_eq!(
            year(Some("2026"), None, None),
            Ok(Period {
                year: 2026,
                scope: Scope::Year
            })
        );
        assert_eq!(
            year(Some("2026"), Some("3"), None).map(|p| p.scope),
            Ok(Scope::Quarter(3))
        );
        assert_eq!(
            year(Some("2026"), None, Some("2")).map(|p| p.scope),
            Ok(Scope::Half(2))
        );
        for (y, q, h, code) in [
            (None, None, None, "bad_year"),
            (Some("20x6"), None, None, "bad_year"),
            (Some("1969"), None, None, "bad_year"),
            (Some("2026"), Some("5"), None, "bad_period"),
            (Some("2026"), Some("0"), None, "bad_period"),
            (Some("2026"), None, Some("3"), "bad_period"),
            (Some("2026"), Some("1"), Some("1"), "bad_period"),
        ] {
            assert_eq!(
                year(y, q, h).map_err(|e| e.code()),
                Err(code),
                "{y:?} {q:?} {h:?}"
            );
        }
    }
}
