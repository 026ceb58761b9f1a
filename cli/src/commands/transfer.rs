//! `kp transfer`: custody of a parcel passing between members of one
//! Participant (across borders, parcels go under a certificate).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use kp_crypto::PublicKey;
use kp_ledger::model::{Transfer, TransferStatus};
use kp_ledger::tx::Body;
use kp_ledger::units::Usd;

use crate::commands::{created_ids, Ctx};
use crate::output::{self, Outcome};
use crate::parse::{self, IdArg};
use crate::view;

#[derive(Debug, Subcommand)]
pub enum TransferCmd {
    /// Offer a parcel you hold to another member; print the transfer id
    #[command(
        long_about = "Offer a parcel you hold to another member of your Participant. The parcel \
            is held for the offer until the recipient accepts it or you cancel. Prints the \
            transfer id, alone on stdout.",
        after_help = "Example:\n  T=$(kp transfer offer --key debswana.key --parcel 3f9a12cd --to 9be0…41 --price-usd 190000.00)"
    )]
    Offer {
        /// The holder's key file
        #[arg(long, value_name = "K")]
        key: PathBuf,
        /// The parcel: its id or a unique prefix of 8+ hex characters
        #[arg(long, value_name = "ID", value_parser = parse::id)]
        parcel: IdArg,
        /// The recipient's public key
        #[arg(long, value_name = "PUBKEY")]
        to: PublicKey,
        /// The agreed price in US$, up to 2 decimals
        #[arg(long, value_name = "USD", value_parser = parse::usd)]
        price_usd: Option<u64>,
    },
    /// Accept a transfer offered to you; the parcel becomes yours
    #[command(after_help = "Example:\n  kp transfer accept --key trader.key --transfer 5d0c77e2")]
    Accept {
        /// The recipient's key file
        #[arg(long, value_name = "K")]
        key: PathBuf,
        /// The transfer: its id or a unique prefix of 8+ hex characters
        #[arg(long, value_name = "ID", value_parser = parse::id)]
        transfer: IdArg,
    },
    /// Cancel a transfer you offered; the parcel is yours to move again
    #[command(
        after_help = "Example:\n  kp transfer cancel --key debswana.key --transfer 5d0c77e2"
    )]
    Cancel {
        /// The key file of the member who offered
        #[arg(long, value_name = "K")]
        key: PathBuf,
        #[arg(long, value_name = "ID", value_parser = parse::id)]
        transfer: IdArg,
    },
    /// Show a transfer
    #[command(after_help = "Example:\n  kp transfer show 5d0c77e2")]
    Show {
        /// The transfer's id or a unique prefix of 8+ hex characters
        #[arg(value_name = "ID", value_parser = parse::id)]
        id: IdArg,
    },
}

pub fn run(ctx: &Ctx, cmd: TransferCmd) -> Result<()> {
    match cmd {
        TransferCmd::Offer {
            key,
            parcel,
            to,
            price_usd,
        } => {
            let parcel = ctx.parcel_id(&parcel)?;
            let body = Body::OfferTransfer {
                parcel,
                to,
                price_cents: price_usd,
            };
            let status = ctx.write(&key, body)?;
            let ids = created_ids(&status, "transfer id")?;
            let summary = format!(
                "parcel {} offered to {} as transfer {}",
                view::short_id(&parcel),
                view::short_id(&to),
                view::short_id(&ids[0])
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
        TransferCmd::Accept { key, transfer } => {
            let transfer = ctx.transfer_id(&transfer)?;
            let status = ctx.write(&key, Body::AcceptTransfer { transfer })?;
            let summary = format!("accepted transfer {transfer}");
            output::committed(ctx.json, &status, Outcome::Summary(&summary))
        }
        TransferCmd::Cancel { key, transfer } => {
            let transfer = ctx.transfer_id(&transfer)?;
            let status = ctx.write(&key, Body::CancelTransfer { transfer })?;
            let summary = format!("cancelled transfer {transfer}");
            output::committed(ctx.json, &status, Outcome::Summary(&summary))
        }
        TransferCmd::Show { id } => {
            let transfer = ctx.client.transfer(&id.as_path())?;
            if ctx.json {
                return output::json(&transfer);
            }
            output::stdout(&show(&transfer));
            Ok(())
        }
    }
}

fn show(t: &Transfer) -> String {
    let status = match t.status {
        TransferStatus::Open => "open: waiting for the recipient",
        TransferStatus::Accepted => "accepted",
        TransferStatus::Cancelled => "cancelled",
    };
    let mut out = String::new();
    let _ = writeln!(out, "transfer {}", t.id);
    let _ = writeln!(out, "  parcel   {}", t.parcel);
    let _ = writeln!(out, "  from     {}", t.from);
    let _ = writeln!(out, "  to       {}", t.to);
    if let Some(price) = t.price_cents {
        let _ = writeln!(out, "  price    US$ {}", Usd(price));
    }
    let _ = writeln!(out, "  status   {status}");
    let _ = writeln!(out, "  offered  at height {}", t.offered_height);
    out
}
