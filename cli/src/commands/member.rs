//! `kp member`: an authority licenses and revokes industry members.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use kp_crypto::PublicKey;
use kp_ledger::model::Role;
use kp_ledger::tx::Body;

use crate::commands::Ctx;
use crate::output::{self, Outcome};

#[derive(Debug, Subcommand)]
pub enum MemberCmd {
    /// Enrol an industry member under your Participant (authorities)
    #[command(
        visible_alias = "enrol",
        long_about = "Enrol an industry member: the authority of a Participant licenses the \
            holder of PUBKEY as a miner, trader, sorter, exporter or importer of that \
            Participant. Signed with the authority's key.",
        after_help = "Example:\n  kp member enroll --key bw-authority.key --member 6c1f…e2 \\\n      \
            --role miner --name \"Debswana\" --licence BW-ML-0042 --zone Jwaneng"
    )]
    Enroll {
        /// The authority's key file
        #[arg(long, value_name = "AUTH")]
        key: PathBuf,
        /// The member's public key (64 hex characters, from `kp key new`)
        #[arg(long, value_name = "PUBKEY")]
        member: PublicKey,
        /// miner | trader | sorter | exporter | importer
        #[arg(long, value_name = "ROLE")]
        role: Role,
        /// The member's registered name
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The licence number the authority issued
        #[arg(long, value_name = "ID", visible_alias = "license")]
        licence: String,
        /// The sub-national area the member works in: a miner's parcels are from it (a miner of a Participant restricted to compliant zones needs one of them)
        #[arg(long, value_name = "ZONE")]
        zone: Option<String>,
    },
    /// Revoke a member of your Participant; it can then do nothing (authorities)
    #[command(
        long_about = "Revoke a member's licence. A revoked member can sign nothing more; its \
            record and history stay on the ledger.",
        after_help = "Example:\n  kp member revoke --key bw-authority.key --member 6c1f…e2"
    )]
    Revoke {
        /// The authority's key file
        #[arg(long, value_name = "AUTH")]
        key: PathBuf,
        /// The member's public key
        #[arg(long, value_name = "PUBKEY")]
        member: PublicKey,
    },
}

pub fn run(ctx: &Ctx, cmd: MemberCmd) -> Result<()> {
    match cmd {
        MemberCmd::Enroll {
            key,
            member,
            role,
            name,
            licence,
            zone,
        } => {
            let body = Body::EnrolMember {
                member,
                role,
                name,
                licence,
                zone,
            };
            let status = ctx.write(&key, body)?;
            let summary = format!("enrolled {member} as {role}");
            output::committed(ctx.json, &status, Outcome::Summary(&summary))
        }
        MemberCmd::Revoke { key, member } => {
            let status = ctx.write(&key, Body::RevokeMember { member })?;
            let summary = format!("revoked member {member}");
            output::committed(ctx.json, &status, Outcome::Summary(&summary))
        }
    }
}
