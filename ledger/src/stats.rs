//! The statistics the scheme asks for (KPCS Annex III), kept as running
//! totals that every block adds to, so that a Participant's year is read
//! from a few index entries, never by scanning the ledger.
//!
//! What counts where (the block's time, UTC, is the only clock):
//! - **Production**: a parcel registered at a mine, for its origin
//!   Participant, by HS code. Splits and merges make no diamonds.
//! - **Exports**: a certificate issued, for the issuing Participant, with
//!   the destination as partner: the certified parcels' carats and US$ by HS
//!   code, whatever their origin (a mixed-origin parcel counts whole).
//! - **Imports**: a certificate received, for the destination, with the
//!   issuer as partner, in the quarter of the receipt: the certified
//!   figures, and the carats the importing authority found beside them.
//! - **By origin**: the same exports and imports again, per country of
//!   origin of the certificate: each origin's carats, and the certificate's
//!   US$ shared by those carats to the cent. Flows of their own, so that
//!   every total, and every reader of the index that picks a flow, leaves
//!   these lines out rather than counting the carats twice.
//!
//! [`block_increments`] turns one block's state writes into index
//! increments (a pure function, like the rules); storage adds them up in
//! the block's own write transaction; [`participant_stats`] and
//! [`table_row`] turn the entries of a year back into the API's views.

use std::collections::BTreeMap;
use std::ops::{AddAssign, RangeInclusive};

use crate::api::{
    Figures, FlowStats, HsFigures, OriginFigures, PartnerFigures, PeriodStats, StatsRow, StatsView,
};
use crate::model::{Certificate, HsCode, Parcel, ParticipantCode};
use crate::rules::{apportion, shipment_values};
use crate::state::StateDelta;
use crate::units::{year_and_quarter, Carats, Usd};

/// The three flows of Annex III, and the breakdowns of trade by origin.
/// Production needs none: it is of the producer's own origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flow {
    Production,
    Exports,
    Imports,
    /// Exports again, with the country of origin as partner.
    ExportsByOrigin,
    /// Imports again, with the country of origin as partner.
    ImportsByOrigin,
}

impl Flow {
    /// The flows the scheme totals.
    pub const ANNEX_III: [Flow; 3] = [Flow::Production, Flow::Exports, Flow::Imports];
    pub const ALL: [Flow; 5] = [
        Flow::Production,
        Flow::Exports,
        Flow::Imports,
        Flow::ExportsByOrigin,
        Flow::ImportsByOrigin,
    ];

    /// Its place in index keys: never change one.
    pub fn tag(self) -> u8 {
        match self {
            Flow::Production => 0,
            Flow::Exports => 1,
            Flow::Imports => 2,
            Flow::ExportsByOrigin => 3,
            Flow::ImportsByOrigin => 4,
        }
    }

    /// The flow that breaks this one down by origin, if any.
    pub fn by_origin(self) -> Option<Flow> {
        match self {
            Flow::Exports => Some(Flow::ExportsByOrigin),
            Flow::Imports => Some(Flow::ImportsByOrigin),
            Flow::Production | Flow::ExportsByOrigin | Flow::ImportsByOrigin => None,
        }
    }

    pub fn from_tag(tag: u8) -> Option<Flow> {
        Flow::ALL.into_iter().find(|f| f.tag() == tag)
    }
}

/// Where an increment is counted. Entries of production, exports and
/// imports with an HS code carry carats, US$ and parcels; the entry without
/// one (`hs: None`) carries a partner's certificate count, since one
/// certificate may cover several HS codes. Entries of the by-origin flows
/// have no HS code and carry all of an origin's figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatsKey {
    pub year: u16,
    pub participant: ParticipantCode,
    /// 1 to 4.
    pub quarter: u8,
    pub flow: Flow,
    /// `None` for production; the country of origin for the by-origin flows.
    pub partner: Option<ParticipantCode>,
    pub hs: Option<HsCode>,
}

/// Running totals: what one entry of the index holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub milli_carats: u64,
    pub value_cents: u64,
    pub parcels: u64,
    pub certificates: u64,
    pub received_milli_carats: u64,
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        // Saturating: a total can never make a block fail to commit.
        self.milli_carats = self.milli_carats.saturating_add(other.milli_carats);
        self.value_cents = self.value_cents.saturating_add(other.value_cents);
        self.parcels = self.parcels.saturating_add(other.parcels);
        self.certificates = self.certificates.saturating_add(other.certificates);
        self.received_milli_carats = self
            .received_milli_carats
            .saturating_add(other.received_milli_carats);
    }
}

/// A block whose writes break what the rules guarantee: storage refuses it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StatsError {
    #[error("certificate {certificate} names parcel {parcel}, which its block did not write")]
    MissingParcel {
        certificate: String,
        parcel: crate::model::ParcelId,
    },
    #[error("parcel {0} was registered with {1} origins; a registration names one")]
    RegisteredMixedOrigin(crate::model::ParcelId, usize),
    #[error(
        "certificate {certificate} lists origins of {origins_milli_carats} milli-carats \
         for parcels of {parcels_milli_carats}"
    )]
    OriginsDoNotAddUp {
        certificate: String,
        origins_milli_carats: u64,
        parcels_milli_carats: u64,
    },
}

/// What one block adds to the statistics, from the records it wrote: a
/// parcel created at `height` with no parents was registered; a certificate
/// issued at `height` is an export; one whose receipt is at `height`, an
/// import. The rules write a certificate's parcels in the block that issues
/// it and in the one that receives it, so the delta holds them.
pub fn block_increments(
    height: u64,
    time: u64,
    delta: &StateDelta,
) -> Result<BTreeMap<StatsKey, Tally>, StatsError> {
    let (year, quarter) = year_and_quarter(time);
    let mut out: BTreeMap<StatsKey, Tally> = BTreeMap::new();
    let mut add = |participant, flow, partner, hs, tally| {
        let key = StatsKey {
            year,
            participant,
            quarter,
            flow,
            partner,
            hs,
        };
        *out.entry(key).or_default() += tally;
    };
    for parcel in delta.parcels.values() {
        if parcel.created_height != height || !parcel.parents.is_empty() {
            continue;
        }
        let [origin] = parcel.origins.as_slice() else {
            return Err(StatsError::RegisteredMixedOrigin(
                parcel.id,
                parcel.origins.len(),
            ));
        };
        let tally = Tally {
            milli_carats: parcel.milli_carats,
            value_cents: parcel.value_cents,
            parcels: 1,
            ..Tally::default()
        };
        add(
            origin.participant,
            Flow::Production,
            None,
            Some(parcel.hs_code),
            tally,
        );
    }
    for cert in delta.certificates.values() {
        let mut shipment = |flow: Flow, participant, partner, received_milli_carats| {
            let parcels = certified_parcels(cert, delta)?;
            for (hs, tally) in by_hs_code(cert, &parcels) {
                add(participant, flow, Some(partner), Some(hs), tally);
            }
            if let Some(by_origin_flow) = flow.by_origin() {
                for (origin, tally) in by_origin(cert, &parcels)? {
                    add(participant, by_origin_flow, Some(origin), None, tally);
                }
            }
            let count = Tally {
                certificates: 1,
                received_milli_carats,
                ..Tally::default()
            };
            add(participant, flow, Some(partner), None, count);
            Ok::<(), StatsError>(())
        };
        if cert.issued_height == height {
            shipment(Flow::Exports, cert.issuer, cert.destination, 0)?;
        }
        if let Some(receipt) = cert.receipt.as_ref().filter(|r| r.height == height) {
            shipment(
                Flow::Imports,
                cert.destination,
                cert.issuer,
                receipt.milli_carats,
            )?;
        }
    }
    Ok(out)
}

/// The parcels a certificate names, as its block wrote them.
fn certified_parcels<'a>(
    cert: &Certificate,
    delta: &'a StateDelta,
) -> Result<Vec<&'a Parcel>, StatsError> {
    cert.parcels
        .iter()
        .map(|id| {
            delta
                .parcels
                .get(id)
                .ok_or_else(|| StatsError::MissingParcel {
                    certificate: cert.number.clone(),
                    parcel: *id,
                })
        })
        .collect()
}

/// A certificate's parcels summed per HS code, at the certificate's value
/// (shared among them as a receipt shares it), so that exports and imports
/// count the declared value.
fn by_hs_code(cert: &Certificate, parcels: &[&Parcel]) -> BTreeMap<HsCode, Tally> {
    let values = shipment_values(cert.value_cents, parcels);
    let mut out: BTreeMap<HsCode, Tally> = BTreeMap::new();
    for (parcel, value_cents) in parcels.iter().zip(values) {
        *out.entry(parcel.hs_code).or_default() += Tally {
            milli_carats: parcel.milli_carats,
            value_cents,
            parcels: 1,
            ..Tally::default()
        };
    }
    out
}

/// A certificate's carats per country of origin, with its value shared by
/// those carats exactly to the cent (no origin's value is declared apart),
/// the certificate counted once under each origin and each parcel under
/// every origin it holds. The origins must weigh what the parcels weigh,
/// or these lines would not add up to the certificate's.
fn by_origin(
    cert: &Certificate,
    parcels: &[&Parcel],
) -> Result<Vec<(ParticipantCode, Tally)>, StatsError> {
    let masses: Vec<u64> = cert.origins.iter().map(|o| o.milli_carats).collect();
    let origins_milli_carats = masses.iter().fold(0, |sum: u64, m| sum.saturating_add(*m));
    let parcels_milli_carats = parcels
        .iter()
        .fold(0, |sum: u64, p| sum.saturating_add(p.milli_carats));
    if origins_milli_carats != parcels_milli_carats {
        return Err(StatsError::OriginsDoNotAddUp {
            certificate: cert.number.clone(),
            origins_milli_carats,
            parcels_milli_carats,
        });
    }
    let values = apportion(cert.value_cents, &masses);
    Ok(cert
        .origins
        .iter()
        .zip(values)
        .map(|(origin, value_cents)| {
            let holding = parcels
                .iter()
                .filter(|p| {
                    p.origins
                        .iter()
                        .any(|o| o.participant == origin.participant)
                })
                .count();
            let tally = Tally {
                milli_carats: origin.milli_carats,
                value_cents,
                parcels: holding as u64,
                certificates: 1,
                ..Tally::default()
            };
            (origin.participant, tally)
        })
        .collect())
}

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

/// US$ per carat in cents, rounded half up: cents * 1000 / milli-carats.
/// `None` with no carats (or, past any real trade, beyond a u64).
pub fn usd_per_carat_cents(value_cents: u64, milli_carats: u64) -> Option<u64> {
    if milli_carats == 0 {
        return None;
    }
    let (value, mass) = (u128::from(value_cents) * 1000, u128::from(milli_carats));
    u64::try_from((2 * value + mass) / (2 * mass)).ok()
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
mod tests;
