//! `kp participant`: the scheme's Participants, and governance of the set.
//! Admitting, suspending (wholly or but for compliant zones) and
//! reinstating a Participant each take approvals from more than two thirds
//! of the active Participants' authorities: one proposes, the others approve.

use std::path::PathBuf;

use anyhow::Result;
use clap::{ArgGroup, Subcommand};
use kp_crypto::PublicKey;
use kp_ledger::model::{ParticipantChange, ParticipantCode, ProposalStatus};
use kp_ledger::tx::Body;
use kp_wire::api::{ProposalView, TxStatus};
use serde::Serialize;

use crate::commands::{created_ids, Ctx};
use crate::failure::usage;
use crate::output;
use crate::parse::{self, IdArg};
use crate::view;

#[derive(Debug, Subcommand)]
pub enum ParticipantCmd {
    /// List the Participants: code, name, authority, validator, standing
    #[command(after_help = "Example:\n  kp participant list\n  kp participant list --json")]
    List,
    /// Propose admitting, suspending or reinstating a Participant; print the proposal id (authorities)
    #[command(
        long_about = "Propose a change to the Participant set, signed with your authority's key; \
            your signature counts as the first approval. The change applies once more than two \
            thirds of the active Participants approve it (at once, if yours is the only active \
            Participant). Only an active Participant's authority proposes: a suspended or \
            restricted one does not vote. Prints the proposal id, alone on stdout, for the \
            others to approve.\n\n\
            --suspend without --zones suspends the Participant wholly; with --zones it is \
            partly suspended, exporting only diamonds from those compliant zones. A \
            Participant admitted without --validator takes part with its authority key and \
            runs no validator.",
        group(ArgGroup::new("change").required(true).args(["admit", "suspend", "reinstate"])),
        after_help = "Examples:\n  P=$(kp participant propose --key bw-authority.key --admit AO --name Angola \\\n      \
            --authority 0d4e…9a --validator 7c21…f3)\n  \
            kp participant propose --key bw-authority.key --suspend CF --zones Berberati,Boda,Carnot,Nola\n  \
            kp participant propose --key bw-authority.key --reinstate CF"
    )]
    Propose {
        /// The proposing authority's key file
        #[arg(long, value_name = "AUTH")]
        key: PathBuf,
        /// Admit a new Participant with this code
        #[arg(long, value_name = "CODE", requires_all = ["name", "authority"])]
        admit: Option<ParticipantCode>,
        /// The new Participant's name
        #[arg(long, value_name = "NAME", requires = "admit")]
        name: Option<String>,
        /// The new Participant's authority key
        #[arg(long, value_name = "PUBKEY", requires = "admit")]
        authority: Option<PublicKey>,
        /// The new Participant's validator key (none: it runs no validator)
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
    /// Approve a proposal; say whether it now applies (authorities)
    #[command(
        long_about = "Approve a proposed change to the Participant set, signed with your \
            authority's key, once per Participant. Every approval counts again the approvals \
            of the Participants active now; when they are more than two thirds of the active \
            Participants, the change applies in this same transaction. Prints whether it \
            applied, and the tally.",
        after_help = "Example:\n  kp participant approve --key eu-authority.key --proposal 8e1d52aa"
    )]
    Approve {
        /// The approving authority's key file
        #[arg(long, value_name = "AUTH")]
        key: PathBuf,
        /// The proposal: its id or a unique prefix of 8+ hex characters
        #[arg(long, value_name = "ID", value_parser = parse::id)]
        proposal: IdArg,
    },
    /// List the proposals waiting for approvals, with their tallies
    #[command(
        after_help = "Example:\n  kp participant proposals\n  kp participant proposals --json"
    )]
    Proposals,
    /// Show one proposal, open or applied
    #[command(after_help = "Example:\n  kp participant proposal 8e1d52aa")]
    Proposal {
        /// The proposal's id or a unique prefix of 8+ hex characters
        #[arg(value_name = "ID", value_parser = parse::id)]
        id: IdArg,
    },
}

/// What `--json` prints after a proposal or an approval: the committed
/// transaction and the proposal as it stands after it.
#[derive(Serialize)]
struct Decision<'a> {
    transaction: &'a TxStatus,
    proposal: &'a ProposalView,
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
        ParticipantCmd::Propose {
            key,
            admit,
            name,
            authority,
            validator,
            suspend,
            zones,
            reinstate,
        } => {
            let change = match (admit, suspend, reinstate, name, authority) {
                (Some(code), _, _, Some(name), Some(authority)) => ParticipantChange::Admit {
                    code,
                    name,
                    authority,
                    validator,
                },
                (_, Some(code), _, _, _) => ParticipantChange::Suspend { code, zones },
                (_, _, Some(code), _, _) => ParticipantChange::Reinstate { code },
                // clap requires exactly one change, and --name and
                // --authority with --admit.
                _ => return Err(usage(
                    "give one of --admit (with --name and --authority), --suspend or --reinstate",
                )),
            };
            let status = ctx.write(&key, Body::ProposeParticipantChange { change })?;
            let id = created_ids(&status, "proposal id")?.remove(0);
            report(ctx, &status, &id, "new", Print::IdAlone)
        }
        ParticipantCmd::Approve { key, proposal } => {
            let id = ctx.proposal_id(&proposal)?;
            let status = ctx.write(&key, Body::ApproveParticipantChange { proposal: id })?;
            report(ctx, &status, &id.to_string(), "approved", Print::Sentence)
        }
        ParticipantCmd::Proposals => {
            let list = ctx.client.proposals()?;
            if ctx.json {
                return output::json(&list);
            }
            output::stdout(&view::proposals(&list));
            Ok(())
        }
        ParticipantCmd::Proposal { id } => {
            let proposal = ctx.client.proposal(&id.as_path())?;
            if ctx.json {
                return output::json(&proposal);
            }
            output::stdout(&view::proposal(&proposal));
            Ok(())
        }
    }
}

/// What goes on stdout after a proposal or an approval, without `--json`.
enum Print {
    /// The proposal id alone, for scripts; the sentence on stderr.
    IdAlone,
    /// The sentence.
    Sentence,
}

/// Prints what a committed proposal or approval did: with `--json` the
/// transaction and the proposal as it stands now; else a sentence saying
/// whether the change applied, and the tally.
fn report(ctx: &Ctx, status: &TxStatus, id: &str, verb: &str, print: Print) -> Result<()> {
    let proposal = ctx.client.proposal(id)?;
    if ctx.json {
        return output::json(&Decision {
            transaction: status,
            proposal: &proposal,
        });
    }
    let sentence = format!(
        "{}: {verb} proposal {} to {}; {}",
        view::committed_line(status),
        view::short_id(&proposal.id),
        proposal.change,
        outcome(&proposal)
    );
    match print {
        Print::IdAlone => {
            output::note(&sentence);
            output::stdout(id);
        }
        Print::Sentence => output::stdout(&sentence),
    }
    Ok(())
}

/// Whether the change applied, and the tally, in a few words.
fn outcome(p: &ProposalView) -> String {
    match p.status {
        ProposalStatus::Executed { .. } => format!("it {}", view::proposal_state(p)),
        ProposalStatus::Open => format!("not applied yet: {}", view::tally(p)),
    }
}
