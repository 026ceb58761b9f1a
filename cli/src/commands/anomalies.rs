//! `kp anomalies`: what the checks of `docs/domain.md` find, one line per
//! finding with the records behind it, or the node's JSON. The node runs
//! every check; this module only lays the findings out.

use anyhow::Result;
use clap::Args;
use kp_ledger::anomalies::Finding;
use kp_ledger::model::ParticipantCode;
use kp_wire::anomalies::AnomaliesView;
use kp_wire::client::AnomalyFilter;

use crate::commands::Ctx;
use crate::output;
use crate::parse;

#[derive(Debug, Args)]
pub struct AnomaliesArgs {
    /// Only findings where this Participant is either side
    #[arg(long, value_name = "CODE")]
    pub participant: Option<ParticipantCode>,
    /// From this day (default: 365 days before the tip's block day)
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse::date)]
    pub since: Option<u32>,
    /// Report a certificate whose US$/ct is this percentage or more above or
    /// below its origins' average (default 50)
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub band: Option<u32>,
    /// Report a change between periods above this percentage (default 50)
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub period_change: Option<u32>,
    /// Report a re-export whose US$/ct is more than this percentage above
    /// the US$/ct its carats were imported at, or the import's more than
    /// this percentage above the re-export's (default 100: more than
    /// double, or less than half)
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub markup: Option<u32>,
}

pub fn run(ctx: &Ctx, args: &AnomaliesArgs) -> Result<()> {
    let view = ctx.client.anomalies(&AnomalyFilter {
        participant: args.participant,
        since_day: args.since,
        band_percent: args.band,
        period_change_percent: args.period_change,
        markup_percent: args.markup,
    })?;
    if ctx.json {
        return output::json(&view);
    }
    let lines: String = view.findings.iter().map(line).collect();
    if !lines.is_empty() {
        output::stdout(&lines);
    }
    // On stderr: stdout holds exactly one line per finding, for scripts.
    output::note(&summary(&view));
    Ok(())
}

/// What was looked at, so that an empty answer says so.
fn summary(view: &AnomaliesView) -> String {
    format!(
        "{} finding(s) from {} to {} (band {}%, period change above {}%, markup above {}%)",
        view.findings.len(),
        view.since,
        view.as_of,
        view.band_percent,
        view.period_change_percent,
        view.markup_percent
    )
}

/// `kind  BW->EU  2026-01-16  numbers  cert ...  parcel ...`
fn line(f: &Finding) -> String {
    let who = match f.partner {
        Some(partner) => format!("{}->{partner}", f.participant),
        None => f.participant.to_string(),
    };
    let mut text = format!("{}  {who}  {}  {}", f.kind.code(), f.when, f.detail);
    for number in &f.certificates {
        text.push_str(&format!("  cert {number}"));
    }
    for id in &f.parcels {
        text.push_str(&format!("  parcel {id}"));
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_ledger::anomalies::AnomalyKind;

    #[test]
    fn one_line_per_finding_with_its_records() {
        let view = AnomaliesView {
            participant: None,
            since: "2025-03-01".into(),
            as_of: "2026-03-01".into(),
            band_percent: 50,
            period_change_percent: 50,
            markup_percent: 100,
            findings: vec![Finding {
                kind: AnomalyKind::ReceiptDiscrepancy,
                participant: "BW".parse().expect("code"),
                partner: Some("EU".parse().expect("code")),
                when: "2026-01-16".into(),
                detail: "certified 1.000 ct in 1 parcels, received 0.900 ct in 1 parcels".into(),
                certificates: vec!["BW-002".into()],
                parcels: vec![kp_crypto::Hash32([0xab; 32])],
            }],
        };
        assert_eq!(
            line(&view.findings[0]),
            format!(
                "receipt_discrepancy  BW->EU  2026-01-16  certified 1.000 ct in 1 parcels, \
                 received 0.900 ct in 1 parcels  cert BW-002  parcel {}",
                "ab".repeat(32)
            ) + "\n"
        );
        assert_eq!(
            summary(&view),
            "1 finding(s) from 2025-03-01 to 2026-03-01 (band 50%, period change above 50%, \
             markup above 100%)"
        );
    }
}
