//! Mark-ups and mark-downs on re-export: a certificate's US$/ct against the
//! US$/ct at which its issuer imported the same carats. Value is not
//! conserved, so a change is no fault in itself; a large one between two
//! links of a chain is what undervaluation at export and mark-up on
//! re-export look like (`docs/domain.md`).

use std::collections::BTreeMap;

use super::{per_carat, signed_percent, AnomalyKind, Finding};
use crate::model::{Certificate, Parcel, ParcelId};
use crate::units::{Carats, Day};

/// The most parcel records read to follow one certificate back: a query
/// costs at most this many reads, and as many receipt ranges, per
/// certificate. A certificate whose ancestry within its issuer is longer
/// is not checked.
pub const ANCESTRY_PARCELS_MAX: usize = 4096;

/// Carats of a re-export that arrived in its issuer under one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportShare {
    /// The certificate they arrived under, received by the re-export's issuer.
    pub certificate: Certificate,
    /// How many of the re-export's milli-carats came in under it.
    pub milli_carats: u64,
    /// The parcels received under it that the re-export draws on, in id order.
    pub parcels: Vec<ParcelId>,
}

/// A certificate and where its carats were imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reexport {
    pub certificate: Certificate,
    pub imports: Vec<ImportShare>,
}

/// Follows `reexport`'s parcels back through splits and merges to the
/// parcels that arrived in its issuer under an earlier certificate, and
/// says how many carats came in under each. `parcel` reads a parcel that
/// must exist; `received_under` names the certificate a parcel was last
/// received under before the re-export (never the re-export itself).
///
/// A split's output owes its carats to its input; a merge's output to its
/// inputs in proportion to their mass (a merge mixes). Parcels are taken
/// latest first, so that a parcel is mostly reached once with all that its
/// descendants owe it; one reached again (a split and a merge in one block)
/// passes on the rest, which shares in proportion allow. Carats mined in
/// the issuer lead to no import and count in no share. `None`: the ancestry
/// is longer than [`ANCESTRY_PARCELS_MAX`].
pub fn imports_behind<E>(
    reexport: &Certificate,
    mut parcel: impl FnMut(&ParcelId) -> Result<Parcel, E>,
    mut received_under: impl FnMut(&ParcelId) -> Result<Option<Certificate>, E>,
) -> Result<Option<Vec<ImportShare>>, E> {
    let mut owed: BTreeMap<(u64, ParcelId), (u64, Parcel)> = BTreeMap::new();
    for id in &reexport.parcels {
        let shipped = parcel(id)?;
        owed.insert(
            (shipped.created_height, shipped.id),
            (shipped.milli_carats, shipped),
        );
    }
    let mut shares: BTreeMap<String, ImportShare> = BTreeMap::new();
    let mut read = reexport.parcels.len();
    while let Some((_, (carats, owing))) = owed.pop_last() {
        if let Some(import) = received_under(&owing.id)? {
            // Received elsewhere last, it did not come into the issuer as
            // this parcel: no share.
            if import.destination == reexport.issuer {
                let share = shares
                    .entry(import.number.clone())
                    .or_insert_with(|| ImportShare {
                        certificate: import,
                        milli_carats: 0,
                        parcels: Vec::new(),
                    });
                share.milli_carats = share.milli_carats.saturating_add(carats);
                if !share.parcels.contains(&owing.id) {
                    share.parcels.push(owing.id);
                }
            }
            continue;
        }
        read += owing.parents.len();
        if read > ANCESTRY_PARCELS_MAX {
            return Ok(None);
        }
        let parents = owing
            .parents
            .iter()
            .map(&mut parcel)
            .collect::<Result<Vec<Parcel>, E>>()?;
        // A sum of u64s in a u128 cannot overflow.
        let parents_mass: u128 = parents.iter().map(|p| u128::from(p.milli_carats)).sum();
        for parent in parents {
            let share = (u128::from(carats) * u128::from(parent.milli_carats))
                .checked_div(parents_mass)
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0);
            let entry = owed
                .entry((parent.created_height, parent.id))
                .or_insert((0, parent));
            entry.0 = entry.0.saturating_add(share);
        }
    }
    Ok(Some(
        shares
            .into_values()
            .map(|mut share| {
                share.parcels.sort();
                share
            })
            .collect(),
    ))
}

/// Re-exports whose US$/ct differs from what their imported carats cost by
/// more than `markup_percent` either way: above the imports' US$/ct by
/// more than that, or with the imports' US$/ct above theirs by more than
/// that (100: more than double, or less than half). The imported carats
/// are weighed at each import certificate's US$/ct, so a shipment drawn
/// from several imports is weighed by its mix; the re-export's own US$/ct
/// is its certificate's. A certificate with no imported carats is skipped.
pub fn markups_on_reexport(reexports: &[Reexport], markup_percent: u32) -> Vec<Finding> {
    reexports
        .iter()
        .filter_map(|Reexport { certificate, imports }| {
            // Sums and products past what the records can hold are no
            // finding to report: the certificate is skipped, never wrapped.
            let traced = imports
                .iter()
                .try_fold(0u64, |sum, i| sum.checked_add(i.milli_carats))?;
            let mut imported_cents: u128 = 0;
            for share in imports {
                let import = &share.certificate;
                let cents = (u128::from(share.milli_carats) * u128::from(import.value_cents))
                    .checked_div(u128::from(import.milli_carats))?;
                imported_cents = imported_cents.checked_add(cents)?;
            }
            let reexported_cents = (u128::from(certificate.value_cents) * u128::from(traced))
                .checked_div(u128::from(certificate.milli_carats))?;
            let (high, low) = if reexported_cents >= imported_cents {
                (reexported_cents, imported_cents)
            } else {
                (imported_cents, reexported_cents)
            };
            let within = |high: u128, low: u128| {
                Some(high.checked_mul(100)? <= low.checked_mul(u128::from(100 + markup_percent))?)
            };
            if low == 0 || within(high, low)? {
                return None;
            }
            let mut certificates = vec![certificate.number.clone()];
            let mut parcels = certificate.parcels.clone();
            for share in imports {
                certificates.push(share.certificate.number.clone());
                for id in &share.parcels {
                    if !parcels.contains(id) {
                        parcels.push(*id);
                    }
                }
            }
            Some(Finding {
                kind: AnomalyKind::MarkupOnReexport,
                participant: certificate.issuer,
                partner: Some(certificate.destination),
                when: Day(certificate.issued_on).to_string(),
                detail: format!(
                    "US$ {}/ct re-exported against US$ {}/ct imported under {} ({}), {} ct of {} ct traced to imports",
                    per_carat(reexported_cents, traced),
                    per_carat(imported_cents, traced),
                    certificates[1..].join(", "),
                    signed_percent(reexported_cents, imported_cents),
                    Carats(traced),
                    Carats(certificate.milli_carats)
                ),
                certificates,
                parcels,
            })
        })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::HashMap;

    use kp_crypto::{Hash32, PublicKey};

    use super::*;
    use crate::model::{CertificateStatus, HsCode, ParcelStatus, ParticipantCode};

    fn code(c: &str) -> ParticipantCode {
        c.parse().expect("code")
    }

    fn parcel(n: u16, milli_carats: u64, parents: Vec<ParcelId>, height: u64) -> Parcel {
        let mut id = [0u8; 32];
        id[..2].copy_from_slice(&n.to_be_bytes());
        Parcel {
            id: Hash32(id),
            origins: Vec::new(),
            zones: Vec::new(),
            mine: None,
            milli_carats,
            stones: 1,
            value_cents: 1,
            hs_code: HsCode::UNSORTED,
            holder: PublicKey([0; 32]),
            status: ParcelStatus::Live,
            flag: None,
            parents,
            created_by: Hash32([0; 32]),
            created_height: height,
            history: Default::default(),
        }
    }

    /// A certificate record of `parcels`, from the Participant its number
    /// names to `to`, with no origins.
    pub(in crate::anomalies) fn certificate(
        number: &str,
        to: &str,
        parcels: &[&Parcel],
        value_cents: u64,
    ) -> Certificate {
        Certificate {
            number: number.into(),
            issuer: code(&number[..2]),
            destination: code(to),
            exporter: PublicKey([1; 32]),
            importer: PublicKey([2; 32]),
            origins: Vec::new(),
            milli_carats: parcels.iter().map(|p| p.milli_carats).sum(),
            value_cents,
            parcels: parcels.iter().map(|p| p.id).collect(),
            hs_codes: vec![HsCode::UNSORTED],
            issued_on: 20_500,
            expires_on: 20_530,
            issued_height: 10,
            status: CertificateStatus::InTransit,
            receipt: None,
        }
    }

    /// The walk over parcels in memory, with the receipts given.
    fn walk(
        reexport: &Certificate,
        parcels: &[Parcel],
        receipts: &HashMap<ParcelId, Certificate>,
    ) -> Option<Vec<ImportShare>> {
        let by_id: HashMap<ParcelId, &Parcel> = parcels.iter().map(|p| (p.id, p)).collect();
        imports_behind(
            reexport,
            |id| by_id.get(id).map(|p| (*p).clone()).ok_or(()),
            |id| Ok(receipts.get(id).cloned()),
        )
        .expect("every parcel is there")
    }

    #[test]
    fn carats_mined_in_the_issuer_are_not_imports() {
        // 1 ct imported at US$ 100/ct, merged with 1 ct mined in India,
        // re-exported at US$ 300/ct.
        let imported = parcel(1, 1_000, Vec::new(), 1);
        let mined = parcel(2, 1_000, Vec::new(), 1);
        let merged = parcel(3, 2_000, vec![imported.id, mined.id], 2);
        let import = certificate("BW-1", "IN", &[&imported], 10_000);
        let reexport = certificate("IN-1", "EU", &[&merged], 60_000);
        let receipts = HashMap::from([(imported.id, import.clone())]);
        let imports = walk(&reexport, &[imported.clone(), mined, merged], &receipts)
            .expect("a short ancestry");
        assert_eq!(
            imports,
            vec![ImportShare {
                certificate: import,
                milli_carats: 1_000,
                parcels: vec![imported.id],
            }]
        );
        let found = markups_on_reexport(
            &[Reexport {
                certificate: reexport,
                imports,
            }],
            100,
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].detail,
            "US$ 300.00/ct re-exported against US$ 100.00/ct imported under BW-1 (+200%), \
             1.000 ct of 2.000 ct traced to imports"
        );
    }

    #[test]
    fn figures_no_ledger_can_hold_skip_the_certificate_rather_than_wrap() {
        let imported = parcel(1, 1, Vec::new(), 1);
        let shares = |milli_carats| {
            ["BW-1", "BW-2"]
                .map(|number| ImportShare {
                    certificate: certificate(number, "IN", &[&imported], u64::MAX),
                    milli_carats,
                    parcels: vec![imported.id],
                })
                .to_vec()
        };
        // Traced carats past what a u64 holds.
        let reexport = certificate("IN-1", "EU", &[&imported], 1);
        let past_u64 = Reexport {
            certificate: reexport,
            imports: shares(u64::MAX),
        };
        // A re-export's US$ past what a u128 holds a hundred times.
        let mut reexport = certificate("IN-2", "EU", &[&imported], u64::MAX);
        reexport.milli_carats = 1;
        let past_u128 = Reexport {
            certificate: reexport,
            imports: shares(u64::MAX / 2),
        };
        assert!(markups_on_reexport(&[past_u64, past_u128], 100).is_empty());
    }

    #[test]
    fn an_ancestry_longer_than_the_bound_is_not_followed() {
        // An imported parcel split into two, over and over: the walk
        // follows one output's line back.
        let depth = u16::try_from(ANCESTRY_PARCELS_MAX).expect("fits");
        let mut parcels = vec![parcel(0, 1_000, Vec::new(), 1)];
        for n in 1..=depth {
            let parent = parcels[usize::from(n) - 1].id;
            parcels.push(parcel(n, 1_000, vec![parent], u64::from(n) + 1));
        }
        let import = certificate("BW-1", "IN", &[&parcels[0]], 10_000);
        let receipts = HashMap::from([(parcels[0].id, import)]);
        let near = certificate("IN-1", "EU", &[&parcels[10]], 10_000);
        assert!(walk(&near, &parcels, &receipts).is_some());
        let far = certificate("IN-2", "EU", &[&parcels[usize::from(depth)]], 10_000);
        assert_eq!(walk(&far, &parcels, &receipts), None);
    }
}
