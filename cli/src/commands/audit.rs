//! The auditors' commands: trace a parcel to the mine, with proofs checked
//! against the genesis or exported for offline checking, and a live feed.
//! The scheme's statistics and anomalies have modules of their own
//! ([`super::stats`], [`super::anomalies`]), each with its arguments.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

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

pub fn watch(ctx: &Ctx, args: WatchArgs) -> Result<()> {
    crate::commands::watch::run(ctx, args.from)
}
