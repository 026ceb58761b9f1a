//! The anomaly checks as a node answers them: ranges of the indexes the
//! store keeps for them, given to the ledger's pure checks
//! ([`kp_ledger::anomalies`]), never a block scan.

use kp_crypto::Hash32;
use kp_ledger::anomalies;
use kp_ledger::model::{Certificate, ParcelId};
use kp_ledger::state::StateRead;
use kp_ledger::stats::Flow;
use kp_ledger::units::{self, Day};
use kp_wire::anomalies::{findings_for, AnomaliesView, AnomalyQuery};
use redb::{ReadOnlyTable, ReadableTable, TableDefinition, TableHandle};

use crate::error::{storage, StoreError};
use crate::snapshot::Snapshot;
use crate::tables::{self, Id32};

impl Snapshot {
    /// The certificates an anomaly index names in `range` of its keys.
    fn indexed_certificates(
        &self,
        index: TableDefinition<(u64, &str), ()>,
        range: std::ops::Range<(u64, &str)>,
    ) -> Result<Vec<Certificate>, StoreError> {
        let mut out = Vec::new();
        for entry in self.table(index)?.range(range).map_err(storage)? {
            let (key, _) = entry.map_err(storage)?;
            let number = key.value().1;
            out.push(self.certificate(number)?.ok_or_else(|| {
                StoreError::Corrupt(format!("index {} names certificate {number}", index.name()))
            })?);
        }
        Ok(out)
    }

    /// The certificate `parcel` was last received under at or before
    /// `height`, other than `except`: one short range of the receipt index,
    /// read from its end.
    fn received_under(
        &self,
        receipts: &ReadOnlyTable<(Id32, u64, &'static str), ()>,
        parcel: &ParcelId,
        height: u64,
        except: &str,
    ) -> Result<Option<Certificate>, StoreError> {
        let range = receipts
            .range((parcel.0, 0u64, "")..(parcel.0, height.saturating_add(1), ""))
            .map_err(storage)?;
        for entry in range.rev() {
            let (key, _) = entry.map_err(storage)?;
            let number = key.value().2;
            if number != except {
                return Ok(Some(self.certificate(number)?.ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "index {} names certificate {number}",
                        tables::PARCEL_RECEIPTS.name()
                    ))
                })?));
            }
        }
        Ok(None)
    }

    /// Each certificate with where its carats were imported: its parcels'
    /// ancestry within its issuer, at most `ANCESTRY_PARCELS_MAX` parcel
    /// records and receipt ranges per certificate.
    fn reexports(&self, issued: &[Certificate]) -> Result<Vec<anomalies::Reexport>, StoreError> {
        let receipts = self.table(tables::PARCEL_RECEIPTS)?;
        let mut out = Vec::new();
        for cert in issued {
            let imports = anomalies::imports_behind(
                cert,
                |id| {
                    self.parcel_record(id)?.ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "certificate {} leads to a missing parcel {id}",
                            cert.number
                        ))
                    })
                },
                |id| self.received_under(&receipts, id, cert.issued_height, &cert.number),
            )?;
            if let Some(imports) = imports.filter(|i| !i.is_empty()) {
                out.push(anomalies::Reexport {
                    certificate: cert.clone(),
                    imports,
                });
            }
        }
        Ok(out)
    }

    /// What the anomaly checks find as of the tip: ranges of their indexes
    /// (open certificates expiring from `since` to the tip's day;
    /// discrepancies, certificates issued and statistics since `since`; the
    /// flagged parcels; the receipts behind each certificate issued), never
    /// a block scan. The certificates issued are read one by one, with
    /// their ancestry within their issuer, so a long `since` on a busy
    /// ledger costs a few reads per certificate of the period.
    pub fn anomalies(&self, query: &AnomalyQuery) -> Result<AnomaliesView, StoreError> {
        let as_of_time = self.tip()?.time;
        let as_of_day = units::day_of(as_of_time);
        let since_day = query.since(as_of_day);
        let since_time = anomalies::day_start(since_day);
        // No key reaches u64::MAX: a time or a day.
        let (since, after) = ((since_time, ""), (u64::MAX, ""));
        let received = self.indexed_certificates(tables::DISCREPANCIES, since..after)?;
        let issued = self.indexed_certificates(tables::ISSUED_CERTIFICATES, since..after)?;
        let open = self.indexed_certificates(
            tables::OPEN_CERTIFICATES,
            (u64::from(since_day), "")..(u64::from(as_of_day), ""),
        )?;
        let mut flagged = Vec::new();
        for entry in self
            .table(tables::FLAGGED_PARCELS)?
            .iter()
            .map_err(storage)?
        {
            let id = Hash32(entry.map_err(storage)?.0.value());
            let parcel = self
                .parcel(&id)?
                .ok_or_else(|| StoreError::Corrupt(format!("the flag index names parcel {id}")))?;
            let holder = self
                .member(&parcel.holder)?
                .ok_or_else(|| StoreError::Corrupt(format!("parcel {id} is held by no member")))?;
            flagged.push((parcel, holder.participant));
        }
        // Every Participant's, since a shipment is weighed against its
        // origins'; and the year before `since` too, since its first period
        // is compared with the one before it.
        let (from_year, _) = units::year_and_quarter(since_time);
        let (to_year, _) = units::year_and_quarter(as_of_time);
        let entries = self.stats_entries(
            (from_year.saturating_sub(1), [0; 2], 0, 0, [0; 2], 0)
                ..=(
                    to_year,
                    [u8::MAX; 2],
                    u8::MAX,
                    u8::MAX,
                    [u8::MAX; 2],
                    u32::MAX,
                ),
        )?;
        let production = anomalies::flow_totals(&entries, Flow::Production, since_time, as_of_time);
        let imports = anomalies::flow_totals(&entries, Flow::Imports, since_time, as_of_time);
        let period = format!("{} to {}", Day(since_day), Day(as_of_day));
        let mut findings =
            anomalies::exports_exceed_supply(&issued, &production, &imports, &period);
        findings.extend(anomalies::receipt_discrepancies(&received));
        findings.extend(anomalies::expired_without_receipt(&open, as_of_day));
        findings.extend(anomalies::flagged_parcels(&flagged, as_of_day));
        findings.extend(anomalies::values_outside_band(
            &issued,
            &production,
            query.band_percent,
        ));
        findings.extend(anomalies::period_changes(
            &entries,
            since_time,
            as_of_time,
            query.period_change_percent,
        ));
        findings.extend(anomalies::markups_on_reexport(
            &self.reexports(&issued)?,
            query.markup_percent,
        ));
        Ok(findings_for(query, findings, as_of_day))
    }
}
