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
//! the block's own write transaction; the wire's `stats` turns the entries
//! of a year back into the API's views.

use std::collections::BTreeMap;
use std::ops::AddAssign;

use crate::model::{Certificate, HsCode, Parcel, ParticipantCode};
use crate::rules::{apportion, shipment_values};
use crate::state::StateDelta;
use crate::units::year_and_quarter;

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

/// US$ per carat in cents, rounded half up: cents * 1000 / milli-carats.
/// `None` with no carats (or, past any real trade, beyond a u64).
pub fn usd_per_carat_cents(value_cents: u64, milli_carats: u64) -> Option<u64> {
    if milli_carats == 0 {
        return None;
    }
    let (value, mass) = (u128::from(value_cents) * 1000, u128::from(milli_carats));
    u64::try_from((2 * value + mass) / (2 * mass)).ok()
}

#[cfg(test)]
mod tests;
