//! The auditors' commands: trace a parcel to the mine, with proofs checked
//! against the genesis or exported for offline checking; the scheme's
//! statistics, anomalies and a live feed.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use kp_ledger::model::ParticipantCode;

use crate::commands::provenance;
use crate::commands::Ctx;
use crate::output;
use crate::parse::{self, IdArg};
use crate::view;

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The parcel's id or a unique prefix of 8+ hex characters
    #[arg(value_name = "ID", value_parser = parse::id)]
    id: IdArg,
    /// Check each step against a proof and the genesis
    #[arg(long)]
    verify: bool,
    /// The genesis file --verify checks against (default: the node's own,
    /// which proves only that the node is consistent with itself)
    #[arg(long, value_name = "GENESIS", requires = "verify")]
    genesis: Option<PathBuf>,
    /// Write a self-contained provenance bundle to FILE
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A provenance bundle written by `kp trace --export`
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The chain's genesis file
    #[arg(long, value_name = "GENESIS")]
    genesis: PathBuf,
}

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

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Start from this block height
    #[arg(long, value_name = "HEIGHT")]
    from: Option<u64>,
}

pub fn trace(ctx: &Ctx, args: TraceArgs) -> Result<()> {
    if args.verify || args.export.is_some() {
        let genesis = args.verify.then_some(args.genesis.as_deref());
        return provenance::trace(ctx, &args.id.as_path(), genesis, args.export.as_deref());
    }
    let trace = ctx.client.trace(&args.id.as_path())?;
    if ctx.json {
        return output::json(&trace);
    }
    output::stdout(&view::trace(&trace));
    Ok(())
}

pub fn verify(ctx: &Ctx, args: VerifyArgs) -> Result<()> {
    provenance::verify_file(ctx, &args.file, &args.genesis)
}

pub fn stats(ctx: &Ctx, args: StatsArgs) -> Result<()> {
    crate::commands::stats::run(ctx, &args)
}

pub fn anomalies(ctx: &Ctx, args: AnomaliesArgs) -> Result<()> {
    crate::commands::anomalies::run(ctx, &args)
}

pub fn watch(ctx: &Ctx, args: WatchArgs) -> Result<()> {
    crate::commands::watch::run(ctx, args.from)
}
