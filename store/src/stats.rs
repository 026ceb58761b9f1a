//! The Annex III statistics as a node answers them: one range of the
//! statistics index per query, however long the ledger, made into the
//! wire's views.

use std::collections::BTreeSet;

use kp_ledger::model::ParticipantCode;
use kp_ledger::state::StateRead;
use kp_wire::api::{StatsTableView, StatsView};
use kp_wire::stats::{self, Period};

use crate::error::StoreError;
use crate::snapshot::Snapshot;

impl Snapshot {
    /// A Participant's Annex III statistics for a period of a year: one
    /// range of the index (a few entries per quarter, HS code and partner),
    /// however long the ledger.
    pub fn stats(
        &self,
        participant: ParticipantCode,
        period: &Period,
    ) -> Result<StatsView, StoreError> {
        let (p, y) = (participant.0, period.year);
        let entries = self.stats_entries(
            (y, p, 0, 0, [0; 2], 0)..=(y, p, u8::MAX, u8::MAX, [u8::MAX; 2], u32::MAX),
        )?;
        Ok(stats::participant_stats(participant, period, &entries))
    }

    /// Every Participant's totals for a period of a year, in code order:
    /// each one of the set, with or without trade, and any other the index
    /// names. One range of the index.
    pub fn stats_table(&self, period: &Period) -> Result<StatsTableView, StoreError> {
        let y = period.year;
        let entries = self.stats_entries(
            (y, [0; 2], 0, 0, [0; 2], 0)
                ..=(y, [u8::MAX; 2], u8::MAX, u8::MAX, [u8::MAX; 2], u32::MAX),
        )?;
        let mut codes: BTreeSet<ParticipantCode> =
            entries.iter().map(|(k, _)| k.participant).collect();
        codes.extend(self.participants()?.into_iter().map(|p| p.code));
        Ok(StatsTableView {
            year: y,
            quarter: period.quarter(),
            half: period.half(),
            rows: codes
                .into_iter()
                .map(|code| stats::table_row(code, period, &entries))
                .collect(),
        })
    }
}
