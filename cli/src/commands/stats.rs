//! `kp stats`: the scheme's statistics (KPCS Annex III) as a human table,
//! CSV with a header row, or the node's JSON. The node computes every
//! figure; this module only lays them out.

use anyhow::Result;
use clap::Args;
use kp_ledger::model::ParticipantCode;
use kp_wire::api::{Figures, FlowStats, PeriodStats, StatsTableView, StatsView};
use kp_wire::stats::{Period, Scope};

use crate::commands::Ctx;
use crate::failure::usage;
use crate::output;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The Participant's code (or --all for every Participant)
    #[arg(
        long,
        value_name = "CODE",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub participant: Option<ParticipantCode>,
    /// The year, e.g. 2026 (of the block time, UTC)
    #[arg(long, value_name = "YYYY", value_parser = clap::value_parser!(u16).range(1970..))]
    pub year: u16,
    /// Only this quarter, 1 to 4
    #[arg(long, value_name = "Q", value_parser = clap::value_parser!(u8).range(1..=4), conflicts_with = "half")]
    pub quarter: Option<u8>,
    /// Only this half year, 1 or 2
    #[arg(long, value_name = "H", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub half: Option<u8>,
    /// One table of every Participant's totals, as the scheme publishes them
    #[arg(long)]
    pub all: bool,
    /// CSV with a header row instead of the human view
    #[arg(long)]
    pub csv: bool,
}

pub fn run(ctx: &Ctx, args: &StatsArgs) -> Result<()> {
    if args.csv && ctx.json {
        return Err(usage("give --csv or --json, not both"));
    }
    let scope = match (args.quarter, args.half) {
        (Some(q), _) => Scope::Quarter(q),
        (None, Some(h)) => Scope::Half(h),
        (None, None) => Scope::Year,
    };
    let period = Period {
        year: args.year,
        scope,
    };
    match args.participant {
        Some(participant) => {
            let stats = ctx.client.stats(participant, &period)?;
            if ctx.json {
                return output::json(&stats);
            }
            output::stdout(&if args.csv {
                participant_csv(&stats)?
            } else {
                participant_view(&stats)
            });
        }
        None => {
            let table = ctx.client.stats_table(&period)?;
            if ctx.json {
                return output::json(&table);
            }
            output::stdout(&if args.csv {
                table_csv(&table)?
            } else {
                table_view(&table)
            });
        }
    }
    Ok(())
}

fn per_carat(f: &Figures) -> String {
    f.usd_per_carat.clone().unwrap_or_else(|| "-".to_owned())
}

fn period_name(year: u16, quarter: Option<u8>, half: Option<u8>) -> String {
    match (quarter, half) {
        (Some(q), _) => format!("{year} Q{q}"),
        (None, Some(h)) => format!("{year} H{h}"),
        (None, None) => year.to_string(),
    }
}

/// Columns padded to their widest cell: the first left-aligned, the
/// figures right-aligned so that decimal points line up. Written here
/// rather than with a table crate: padding is all it does, and the layout
/// (two-space gutters, no borders) is what scripts that scrape it expect.
fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Production,
    Exports,
    Imports,
}

/// A line's cells: production has no certificates; imports show the
/// carats found on arrival beside the certified ones.
fn figure_cells(label: String, f: &Figures, flow: Flow) -> Vec<String> {
    let mut cells = vec![
        label,
        f.carats.clone(),
        f.value_usd.clone(),
        per_carat(f),
        f.parcels.to_string(),
    ];
    if flow != Flow::Production {
        cells.push(f.certificates.to_string());
    }
    if flow == Flow::Imports {
        cells.push(f.received_carats.clone());
    }
    cells
}

fn flow_section(out: &mut String, title: &str, flow: &FlowStats, kind: Flow) {
    let mut header = vec!["period", "carats", "US$", "US$/ct", "parcels"];
    let partner = match kind {
        Flow::Production => None,
        Flow::Exports => {
            header.push("certificates");
            Some("destination")
        }
        Flow::Imports => {
            header.extend(["receipts", "received ct"]);
            Some("exporter")
        }
    };
    out.push_str(&format!("{title}\n"));
    let mut rows: Vec<Vec<String>> = flow
        .periods
        .iter()
        .map(|p| figure_cells(p.period.clone(), &p.total, kind))
        .collect();
    if flow.periods.len() > 1 {
        rows.push(figure_cells(
            flow.total.period.clone(),
            &flow.total.total,
            kind,
        ));
    }
    out.push_str(&columns(&header, &rows));
    let total = &flow.total;
    let mut breakdown = |name, rows: Vec<Vec<String>>| {
        if !rows.is_empty() {
            out.push('\n');
            header[0] = name;
            out.push_str(&columns(&header, &rows));
        }
    };
    breakdown(
        "HS code",
        total
            .by_hs
            .iter()
            .map(|h| {
                let mut cells = figure_cells(h.hs_code.to_string(), &h.figures, kind);
                // Certificates are counted per partner, not per HS code.
                if let Some(count) = cells.get_mut(5) {
                    *count = "-".to_owned();
                }
                cells
            })
            .collect(),
    );
    if let Some(partner) = partner {
        breakdown(
            partner,
            total
                .by_partner
                .iter()
                .map(|p| figure_cells(p.partner.to_string(), &p.figures, kind))
                .collect(),
        );
    }
    breakdown(
        "origin",
        total
            .by_origin
            .iter()
            .map(|o| {
                let mut cells = figure_cells(o.origin.to_string(), &o.figures, kind);
                // The carats found on arrival are weighed per certificate, not per origin.
                if let Some(received) = cells.get_mut(6) {
                    *received = "-".to_owned();
                }
                cells
            })
            .collect(),
    );
}

fn participant_view(s: &StatsView) -> String {
    let mut out = format!(
        "{} statistics for {} (by block time, UTC; breakdowns over the whole period)\n\n",
        s.participant,
        period_name(s.year, s.quarter, s.half)
    );
    flow_section(&mut out, "Production", &s.production, Flow::Production);
    out.push('\n');
    flow_section(&mut out, "Exports", &s.exports, Flow::Exports);
    out.push('\n');
    flow_section(&mut out, "Imports", &s.imports, Flow::Imports);
    out
}

/// CSV through the `csv` crate, which quotes a cell only when it must:
/// today's cells are codes and decimal figures, but the format's rules stay
/// in one well-tested place.
fn csv_text<R>(header: &[&str], rows: impl IntoIterator<Item = R>) -> Result<String>
where
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(row)?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes)?)
}

/// A `Figures` as its six CSV cells.
fn csv_figures(f: &Figures) -> [String; 6] {
    [
        f.carats.clone(),
        f.value_usd.clone(),
        f.usd_per_carat.clone().unwrap_or_default(),
        f.parcels.to_string(),
        f.certificates.to_string(),
        f.received_carats.clone(),
    ]
}

/// One line per flow, period and breakdown: `total` (key empty), `hs`
/// (key the HS code), `partner` (key the Participant code) or `origin`
/// (key the country of origin's code; exports and imports only).
fn participant_csv(s: &StatsView) -> Result<String> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let flows = [
        ("production", &s.production),
        ("exports", &s.exports),
        ("imports", &s.imports),
    ];
    for (name, flow) in flows {
        let mut periods: Vec<&PeriodStats> = flow.periods.iter().collect();
        if flow.periods.len() > 1 {
            periods.push(&flow.total);
        }
        for p in periods {
            let mut line = |breakdown: &str, key: String, f: &Figures| {
                let mut row = vec![
                    s.participant.to_string(),
                    s.year.to_string(),
                    name.to_owned(),
                    p.period.clone(),
                    breakdown.to_owned(),
                    key,
                ];
                row.extend(csv_figures(f));
                rows.push(row);
            };
            line("total", String::new(), &p.total);
            for h in &p.by_hs {
                line("hs", h.hs_code.to_string(), &h.figures);
            }
            for partner in &p.by_partner {
                line("partner", partner.partner.to_string(), &partner.figures);
            }
            for origin in &p.by_origin {
                line("origin", origin.origin.to_string(), &origin.figures);
            }
        }
    }
    csv_text(
        &[
            "participant",
            "year",
            "flow",
            "period",
            "breakdown",
            "key",
            "carats",
            "usd",
            "usd_per_carat",
            "parcels",
            "certificates",
            "received_carats",
        ],
        rows,
    )
}

fn table_view(t: &StatsTableView) -> String {
    let header = [
        "Participant",
        "production ct",
        "US$",
        "US$/ct",
        "imports ct",
        "US$",
        "US$/ct",
        "exports ct",
        "US$",
        "US$/ct",
        "certificates",
        "receipts",
    ];
    let rows: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            vec![
                r.participant.to_string(),
                r.production.carats.clone(),
                r.production.value_usd.clone(),
                per_carat(&r.production),
                r.imports.carats.clone(),
                r.imports.value_usd.clone(),
                per_carat(&r.imports),
                r.exports.carats.clone(),
                r.exports.value_usd.clone(),
                per_carat(&r.exports),
                r.exports.certificates.to_string(),
                r.imports.certificates.to_string(),
            ]
        })
        .collect();
    format!(
        "Every Participant, {} (by block time, UTC)\n{}",
        period_name(t.year, t.quarter, t.half),
        columns(&header, &rows)
    )
}

fn table_csv(t: &StatsTableView) -> Result<String> {
    let three = |f: &Figures| {
        [
            f.carats.clone(),
            f.value_usd.clone(),
            f.usd_per_carat.clone().unwrap_or_default(),
        ]
    };
    let rows = t.rows.iter().map(|r| {
        let mut row = vec![r.participant.to_string()];
        row.extend(three(&r.production));
        row.extend(three(&r.imports));
        row.extend(three(&r.exports));
        row.push(r.exports.certificates.to_string());
        row.push(r.imports.certificates.to_string());
        row
    });
    csv_text(
        &[
            "participant",
            "production_carats",
            "production_usd",
            "production_usd_per_carat",
            "imports_carats",
            "imports_usd",
            "imports_usd_per_carat",
            "exports_carats",
            "exports_usd",
            "exports_usd_per_carat",
            "certificates_issued",
            "receipts_confirmed",
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use kp_ledger::model::{HsCode, ParticipantCode};
    use kp_ledger::stats::{Flow, StatsKey, Tally};
    use kp_wire::stats::participant_stats;

    use super::*;

    /// BW's second half: one parcel mined and shipped to the EU, 10 ct of
    /// it of BW origin and 2.345 ct of ZA's, which came in from ZA.
    fn second_half() -> StatsView {
        let bw = ParticipantCode(*b"BW");
        let key = |flow, partner, hs| StatsKey {
            year: 2026,
            participant: bw,
            quarter: 3,
            flow,
            partner,
            hs,
        };
        let shipped = Tally {
            milli_carats: 12_345,
            value_cents: 90_000,
            parcels: 1,
            ..Tally::default()
        };
        let (eu, za) = (Some(ParticipantCode(*b"EU")), Some(ParticipantCode(*b"ZA")));
        let of_origin = |milli_carats, value_cents| Tally {
            milli_carats,
            value_cents,
            parcels: 1,
            certificates: 1,
            ..Tally::default()
        };
        let entries = [
            (key(Flow::Production, None, Some(HsCode::UNSORTED)), shipped),
            (key(Flow::Exports, eu, Some(HsCode::UNSORTED)), shipped),
            (
                key(Flow::Exports, eu, None),
                Tally {
                    certificates: 1,
                    ..Tally::default()
                },
            ),
            (
                key(Flow::ExportsByOrigin, Some(bw), None),
                of_origin(10_000, 72_904),
            ),
            (
                key(Flow::ExportsByOrigin, za, None),
                of_origin(2_345, 17_096),
            ),
            (
                key(Flow::Imports, za, Some(HsCode::UNSORTED)),
                Tally {
                    milli_carats: 2_345,
                    value_cents: 17_096,
                    parcels: 1,
                    ..Tally::default()
                },
            ),
            (
                key(Flow::Imports, za, None),
                Tally {
                    certificates: 1,
                    received_milli_carats: 2_340,
                    ..Tally::default()
                },
            ),
            (
                key(Flow::ImportsByOrigin, za, None),
                of_origin(2_345, 17_096),
            ),
        ];
        let period = Period {
            year: 2026,
            scope: Scope::Half(2),
        };
        participant_stats(bw, &period, &entries)
    }

    #[test]
    fn the_human_view_lines_up_each_flow() {
        let view = participant_view(&second_half());
        assert!(view.starts_with("BW statistics for 2026 H2"), "{view}");
        assert!(
            view.contains("  H2      12.345  900.00   72.90        1\n"),
            "{view}"
        );
        assert!(
            view.contains("  EU           12.345  900.00   72.90        1             1\n"),
            "{view}"
        );
        // Each origin's share of the same exports, and of the imports,
        // whose carats found on arrival are per certificate only.
        assert!(
            view.contains(
                "  origin  carats     US$  US$/ct  parcels  certificates\n\
                 \x20 BW      10.000  729.04   72.90        1             1\n\
                 \x20 ZA       2.345  170.96   72.90        1             1\n"
            ),
            "{view}"
        );
        assert!(
            view.ends_with(
                "  origin  carats     US$  US$/ct  parcels  receipts  received ct\n\
                 \x20 ZA       2.345  170.96   72.90        1         1            -\n"
            ),
            "{view}"
        );
    }

    #[test]
    fn the_csv_marks_each_breakdown() {
        let csv = participant_csv(&second_half()).expect("writes CSV");
        let exports_q3: Vec<&str> = csv
            .lines()
            .filter(|l| l.starts_with("BW,2026,exports,Q3,"))
            .collect();
        assert_eq!(
            exports_q3,
            [
                "BW,2026,exports,Q3,total,,12.345,900.00,72.90,1,1,0.000",
                "BW,2026,exports,Q3,hs,7102.10,12.345,900.00,72.90,1,0,0.000",
                "BW,2026,exports,Q3,partner,EU,12.345,900.00,72.90,1,1,0.000",
                "BW,2026,exports,Q3,origin,BW,10.000,729.04,72.90,1,1,0.000",
                "BW,2026,exports,Q3,origin,ZA,2.345,170.96,72.90,1,1,0.000",
            ]
        );
        assert!(
            csv.contains("\nBW,2026,imports,H2,origin,ZA,2.345,170.96,72.90,1,1,0.000\n"),
            "{csv}"
        );
        assert!(!csv.contains(",production,H2,origin,"), "{csv}");
    }
}
