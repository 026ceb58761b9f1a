//! `kp participant`: the scheme's Participants; governance of the set
//! (propose, approve) arrives with issue #3.

use std::path::PathBuf;

use anyhow::Result;
use clap::{ArgGroup, Subcommand};
use kp_crypto::PublicKey;
use kp_ledger::model::ParticipantCode;

use crate::commands::Ctx;
use crate::failure::not_yet;
use crate::output;
use crate::view;

#[derive(Debug, Subcommand)]
pub enum ParticipantCmd {
    /// List the Participants: code, name, authority key, standing
    #[command(after_help = "Example:\n  kp participant list\n  kp participant list --json")]
    List,
    /// Propose admitting, suspending or reinstating a Participant; print the proposal id (authorities)
    #[command(
        group(ArgGroup::new("change").required(true).args(["admit", "suspend", "reinstate"])),
        after_help = "Examples:\n  kp participant propose --key bw-authority.key --admit AO --name Angola \\\n      \
            --authority 0d4e…9a --validator 7c21…f3\n  \
            kp participant propose --key bw-authority.key --suspend CF --zones Berberati,Boda,Carnot,Nola\n  \
            kp participant propose --key bw-authority.key --reinstate CF"
    )]
    Propose {
        /// The proposing authority's key file
        #[arg(long, value_name = "AUTH")]
        key: PathBuf,
        /// Admit a new Participant with this code
        #[arg(long, value_name = "CODE", requires_all = ["name", "authority", "validator"])]
        admit: Option<ParticipantCode>,
        /// The new Participant's name
        #[arg(long, value_name = "NAME", requires = "admit")]
        name: Option<String>,
        /// The new Participant's authority key
        #[arg(long, value_name = "PUBKEY", requires = "admit")]
        authority: Option<PublicKey>,
        /// The new Participant's validator key
        #[arg(long, value_name = "PUBKEY", requires = "admit")]
        validator: Option<PublicKey>,
        /// Suspend this Participant
        #[arg(long, value_name = "CODE")]
        suspend: Option<ParticipantCode>,
        /// Compliant zones it may still export from (a partial suspension)
        #[arg(
            long,
            value_name = "Z1,Z2",
            value_delimiter = ',',
            requires = "suspend"
        )]
        zones: Vec<String>,
        /// Lift this Participant's suspension
        #[arg(long, value_name = "CODE")]
        reinstate: Option<ParticipantCode>,
    },
    /// Approve a proposal (authorities)
    #[command(
        after_help = "Example:\n  kp participant approve --key eu-authority.key --proposal 8e1d52aa"
    )]
    Approve {
        /// The approving authority's key file
        #[arg(long, value_name = "AUTH")]
        key: PathBuf,
        /// The proposal id
        #[arg(long, value_name = "ID")]
        proposal: String,
    },
}

pub fn run(ctx: &Ctx, cmd: ParticipantCmd) -> Result<()> {
    match cmd {
        ParticipantCmd::List => {
            let list = ctx.client.participants()?;
            if ctx.json {
                return output::json(&list);
            }
            output::stdout(&view::participants(&list));
            Ok(())
        }
        ParticipantCmd::Propose { .. } => Err(not_yet("kp participant propose", "issue #3")),
        ParticipantCmd::Approve { .. } => Err(not_yet("kp participant approve", "issue #3")),
    }
}
