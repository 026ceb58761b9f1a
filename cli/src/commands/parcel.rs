//! `kp parcel`: register at the mine, split, merge (members); flag and
//! unflag (authorities); show (anyone).

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use kp_ledger::model::{HsCode, ParticipantCode};
use kp_ledger::tx::{Body, SplitOutput};

use crate::commands::{created_ids, Ctx};
use crate::failure::usage;
use crate::output::{self, Outcome};
use crate::parse::{self, IdArg};
use crate::view;

#[derive(Debug, Subcommand)]
pub enum ParcelCmd {
    /// Register a new parcel at the mine; print its id (miners)
    #[command(
        long_about = "Register a parcel of rough diamonds as it leaves the mine. Signed by an \
            enrolled miner of the origin Participant. Prints the new parcel's id, alone on \
            stdout, so that a script can capture it.",
        after_help = "Example:\n  PARCEL=$(kp parcel register --key debswana.key --origin BW --mine Jwaneng \\\n      \
            --carats 1250.500 --stones 3400 --value-usd 187500.00 --hs 7102.10)"
    )]
    Register {
        /// The miner's key file
        #[arg(long, value_name = "K")]
        key: PathBuf,
        /// Country of origin: the Participant's two-letter code
        #[arg(long, value_name = "CODE")]
        origin: ParticipantCode,
        /// The zone of origin, as a check: it is the zone your authority enrolled you for, and no other
        #[arg(long, value_name = "ZONE")]
        zone: Option<String>,
        /// The mine's name
        #[arg(long, value_name = "NAME")]
        mine: String,
        /// Weight in carats, up to 3 decimals
        #[arg(long, value_name = "CT", value_parser = parse::carats)]
        carats: u64,
        /// Number of stones
        #[arg(long, value_name = "N")]
        stones: u32,
        /// Value in US$, up to 2 decimals
        #[arg(long, value_name = "USD", value_parser = parse::usd)]
        value_usd: u64,
        /// HS code: 7102.10 (unsorted), 7102.21 (industrial) or 7102.31 (non-industrial)
        #[arg(long, value_name = "CODE")]
        hs: HsCode,
    },
    /// Split a parcel into parts whose carats add up to it; print the new ids
    #[command(
        long_about = "Split a parcel you hold into several. The parts' carats must add up to the \
            parcel's exactly (mass is conserved; value is shared by weight). A sorter may \
            classify the parts of an unsorted (7102.10) parcel with --hs: one code for all \
            parts, or one per part. Prints the new parcel ids, one per line.",
        after_help = "Example:\n  kp parcel split --key sorter.key --parcel 3f9a12cd --carats 1000.000,250.500\n  \
            kp parcel split --key sorter.key --parcel 3f9a12cd --carats 1000,250.5 --hs 7102.31,7102.21"
    )]
    Split {
        /// The holder's key file
        #[arg(long, value_name = "K")]
        key: PathBuf,
        /// The parcel to split: its id or a unique prefix of 8+ hex characters
        #[arg(long, value_name = "ID", value_parser = parse::id)]
        parcel: IdArg,
        /// The parts' weights, comma-separated
        #[arg(long, value_name = "CT,CT", value_delimiter = ',', required = true, value_parser = parse::carats)]
        carats: Vec<u64>,
        /// HS codes of the parts: one for all, or one per part
        #[arg(long, value_name = "CODE,CODE", value_delimiter = ',')]
        hs: Vec<HsCode>,
    },
    /// Merge parcels you hold into one; print the new id
    #[command(
        long_about = "Merge two or more parcels you hold, of one HS code, into one. Origins are \
            kept with their carats: parcels of different origins make a parcel of mixed \
            origin. Prints the new parcel id.",
        after_help = "Example:\n  kp parcel merge --key trader.key --parcel 3f9a12cd --parcel 77b0e4a1"
    )]
    Merge {
        /// The holder's key file
        #[arg(long, value_name = "K")]
        key: PathBuf,
        /// A parcel to merge (repeat: at least two)
        #[arg(long = "parcel", value_name = "ID", required = true, value_parser = parse::id)]
        parcels: Vec<IdArg>,
    },
    /// Flag a parcel so that it cannot move (authorities)
    #[command(
        long_about = "Flag a parcel held under your Participant: until the flag is cleared the \
            parcel cannot be offered, split, merged or certified.",
        after_help = "Example:\n  kp parcel flag --key bw-authority.key --parcel 3f9a12cd --reason \"origin under review\""
    )]
    Flag {
        /// The authority's key file
        #[arg(long, value_name = "AUTH")]
        key: PathBuf,
        #[arg(long, value_name = "ID", value_parser = parse::id)]
        parcel: IdArg,
        /// Why, for the record
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Clear an authority's flag on a parcel (authorities)
    #[command(
        after_help = "Example:\n  kp parcel unflag --key bw-authority.key --parcel 3f9a12cd"
    )]
    Unflag {
        /// The authority's key file
        #[arg(long, value_name = "AUTH")]
        key: PathBuf,
        #[arg(long, value_name = "ID", value_parser = parse::id)]
        parcel: IdArg,
    },
    /// Show a parcel and its own events
    #[command(
        long_about = "Show a parcel: origin, mine, carats, value, HS code, holder, status, and \
            the events that touched it, oldest first. `kp trace` goes further back, through \
            splits and merges to the mine.",
        after_help = "Example:\n  kp parcel show 3f9a12cd\n  kp parcel show 3f9a12cd --json"
    )]
    Show {
        /// The parcel's id or a unique prefix of 8+ hex characters
        #[arg(value_name = "ID", value_parser = parse::id)]
        id: IdArg,
    },
}

pub fn run(ctx: &Ctx, cmd: ParcelCmd) -> Result<()> {
    match cmd {
        ParcelCmd::Register {
            key,
            origin,
            zone,
            mine,
            carats,
            stones,
            value_usd,
            hs,
        } => {
            let body = Body::RegisterParcel {
                origin,
                zone,
                mine,
                milli_carats: carats,
                stones,
                value_cents: value_usd,
                hs_code: hs,
            };
            let status = ctx.write(&key, body)?;
            let ids = created_ids(&status, "new parcel")?;
            let summary = format!("registered parcel {}", view::short_id(&ids[0]));
            output::committed(
                ctx.json,
                &status,
                Outcome::Ids {
                    summary: &summary,
                    ids: &ids,
                },
            )
        }
        ParcelCmd::Split {
            key,
            parcel,
            carats,
            hs,
        } => {
            let outputs = split_outputs(&carats, &hs)?;
            let parcel = ctx.parcel_id(&parcel)?;
            let status = ctx.write(&key, Body::SplitParcel { parcel, outputs })?;
            let ids = created_ids(&status, "new parcels")?;
            let summary = format!(
                "split parcel {} into {} parcels",
                view::short_id(&parcel),
                ids.len()
            );
            output::committed(
                ctx.json,
                &status,
                Outcome::Ids {
                    summary: &summary,
                    ids: &ids,
                },
            )
        }
        ParcelCmd::Merge { key, parcels } => {
            if parcels.len() < 2 {
                return Err(usage(
                    "a merge needs at least two parcels: give --parcel twice or more",
                ));
            }
            let parcels = parcels
                .iter()
                .map(|p| ctx.parcel_id(p))
                .collect::<Result<Vec<_>>>()?;
            let count = parcels.len();
            let status = ctx.write(&key, Body::MergeParcels { parcels })?;
            let ids = created_ids(&status, "new parcel")?;
            let summary = format!("merged {count} parcels into {}", view::short_id(&ids[0]));
            output::committed(
                ctx.json,
                &status,
                Outcome::Ids {
                    summary: &summary,
                    ids: &ids,
                },
            )
        }
        ParcelCmd::Flag {
            key,
            parcel,
            reason,
        } => {
            let parcel = ctx.parcel_id(&parcel)?;
            let status = ctx.write(&key, Body::FlagParcel { parcel, reason })?;
            let summary = format!("flagged parcel {parcel}");
            output::committed(ctx.json, &status, Outcome::Summary(&summary))
        }
        ParcelCmd::Unflag { key, parcel } => {
            let parcel = ctx.parcel_id(&parcel)?;
            let status = ctx.write(&key, Body::ClearFlag { parcel })?;
            let summary = format!("cleared the flag on parcel {parcel}");
            output::committed(ctx.json, &status, Outcome::Summary(&summary))
        }
        ParcelCmd::Show { id } => {
            let shown = ctx.client.parcel(&id.as_path())?;
            if ctx.json {
                return output::json(&shown);
            }
            output::stdout(&view::parcel_view(&shown.parcel, &shown.events));
            Ok(())
        }
    }
}

/// The parts of a split: each weight with its HS code, if any was given.
fn split_outputs(carats: &[u64], hs: &[HsCode]) -> Result<Vec<SplitOutput>> {
    if carats.len() < 2 {
        return Err(usage(
            "a split needs at least two parts: --carats CT,CT[,CT...]",
        ));
    }
    let code_of = |i: usize| -> Result<Option<HsCode>> {
        match hs.len() {
            0 => Ok(None),
            1 => Ok(Some(hs[0])),
            n if n == carats.len() => Ok(Some(hs[i])),
            n => Err(usage(format!(
                "--hs gives {n} codes for {} parts: give one code for all, or one per part",
                carats.len()
            ))),
        }
    };
    carats
        .iter()
        .enumerate()
        .map(|(i, mct)| {
            Ok(SplitOutput {
                milli_carats: *mct,
                hs_code: code_of(i)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_codes_one_for_all_or_one_each() {
        let parts = split_outputs(&[1_000, 500], &[]).unwrap();
        assert!(parts.iter().all(|p| p.hs_code.is_none()));
        let parts = split_outputs(&[1_000, 500], &[HsCode::INDUSTRIAL]).unwrap();
        assert!(parts.iter().all(|p| p.hs_code == Some(HsCode::INDUSTRIAL)));
        let parts =
            split_outputs(&[1_000, 500], &[HsCode::INDUSTRIAL, HsCode::NON_INDUSTRIAL]).unwrap();
        assert_eq!(parts[1].hs_code, Some(HsCode::NON_INDUSTRIAL));
        assert!(split_outputs(
            &[1_000, 500, 1],
            &[HsCode::INDUSTRIAL, HsCode::NON_INDUSTRIAL]
        )
        .is_err());
        assert!(split_outputs(&[1_000], &[]).is_err());
    }
}
