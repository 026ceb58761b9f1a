//! What the node says about the chain and about one transaction.

use anyhow::Result;
use clap::Subcommand;
use kp_ledger::model::TxId;

use crate::commands::Ctx;
use crate::output;
use crate::parse;
use crate::view;

pub fn status(ctx: &Ctx) -> Result<()> {
    let status = ctx.client.status()?;
    if ctx.json {
        return output::json(&status);
    }
    output::stdout(&view::status(&status));
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum TxCmd {
    /// Show whether a transaction is pending, committed or rejected
    #[command(
        long_about = "Show a submitted transaction's fate: pending, committed (at which height, \
            with the ids it created) or rejected (with the rule's reason). Useful after a \
            write gave up waiting for its block.",
        after_help = "Example:\n  kp tx show 1b2c…(64 hex characters)"
    )]
    Show {
        /// The transaction id (all 64 hex characters)
        #[arg(value_name = "ID", value_parser = parse::tx_id)]
        id: TxId,
    },
}

pub fn tx(ctx: &Ctx, cmd: TxCmd) -> Result<()> {
    match cmd {
        TxCmd::Show { id } => {
            let status = ctx.client.tx(&id)?;
            if ctx.json {
                return output::json(&status);
            }
            output::stdout(&view::tx_status(&status));
            Ok(())
        }
    }
}
