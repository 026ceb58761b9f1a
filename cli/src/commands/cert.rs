//! `kp cert`: KP certificates. The exporting authority issues one for a
//! shipment; the importing authority confirms receipt; anyone reads one.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use kp_crypto::PublicKey;
use kp_ledger::model::{Certificate, HsCode, Member, ParticipantCode};
use kp_ledger::tx::Body;
use kp_ledger::units::Carats;

use crate::commands::Ctx;
use crate::output::{self, Outcome};
use crate::parse::{self, IdArg};
use crate::view;

#[derive(Debug, Subcommand)]
pub enum CertCmd {
    /// Issue a KP certificate for a shipment of parcels (exporting authorities)
    #[command(
        long_about = "Issue (validate) a Kimberley Process certificate for parcels held by the \
            exporter, addressed to the importer in another Participant. The ledger computes \
            origin, carats and parcel count from the parcels themselves; the value is the one \
            you declare with --value-usd, else the parcels' recorded value. The parcels are in \
            transit until the importing authority receives the certificate, and then take the \
            certificate's value. NUMBER must start with your Participant's code.",
        after_help = "Example:\n  kp cert issue --key bw-authority.key --number BW-2026-000123 \\\n      \
            --exporter 6c1f…e2 --importer a4d9…07 --to EU \\\n      \
            --parcel 3f9a12cd --parcel 77b0e4a1 --hs 7102.10 --expires 2026-06-30 \\\n      \
            --value-usd 187500.00"
    )]
    Issue {
        /// The exporting authority's key file
        #[arg(long, value_name = "AUTH")]
        key: PathBuf,
        /// The certificate's unique number, prefixed with the issuer's code
        #[arg(long, value_name = "NUMBER")]
        number: String,
        /// The exporter's public key (holder of the parcels)
        #[arg(long, value_name = "PUBKEY")]
        exporter: PublicKey,
        /// The importer's public key
        #[arg(long, value_name = "PUBKEY")]
        importer: PublicKey,
        /// The destination Participant's code
        #[arg(long, value_name = "CODE")]
        to: ParticipantCode,
        /// A parcel in the shipment (repeat for each)
        #[arg(long = "parcel", value_name = "ID", required = true, value_parser = parse::id)]
        parcels: Vec<IdArg>,
        /// The shipment's HS code(s): repeat, or comma-separate
        #[arg(long, value_name = "CODE", required = true, value_delimiter = ',')]
        hs: Vec<HsCode>,
        /// Date of expiry, YYYY-MM-DD (after today's block date)
        #[arg(long, value_name = "DATE", value_parser = parse::date)]
        expires: u32,
        /// The shipment's value in US$, up to 2 decimals (default: the
        /// parcels' recorded value)
        #[arg(long, value_name = "USD", value_parser = parse::usd)]
        value_usd: Option<u64>,
    },
    /// Confirm receipt of a certificate's shipment (importing authorities)
    #[command(
        long_about = "Confirm receipt of a shipment: the importing authority states the carats \
            and parcel count it found on arrival. Figures that differ from the certificate \
            are recorded as a discrepancy and freeze the parcels; a second receipt, or one \
            after expiry, is refused.",
        after_help = "Example:\n  kp cert receive --key eu-authority.key --number BW-2026-000123 --carats 1250.500 --parcels 2"
    )]
    Receive {
        /// The importing authority's key file
        #[arg(long, value_name = "AUTH")]
        key: PathBuf,
        /// The certificate number
        #[arg(long, value_name = "NUMBER")]
        number: String,
        /// Carats found on arrival, up to 3 decimals
        #[arg(long, value_name = "CT", value_parser = parse::carats)]
        carats: u64,
        /// Number of parcels found on arrival
        #[arg(long = "parcels", value_name = "N")]
        parcel_count: u32,
    },
    /// Show a certificate with every Annex I field
    #[command(
        long_about = "Show a certificate as KPCS Annex I lays it out: title and statement, \
            origin, number, dates of issue and expiry, issuing authority, exporter and \
            importer, carats, US$ value, parcel count, HS codes, validation, and the receipt.",
        after_help = "Example:\n  kp cert show BW-2026-000123"
    )]
    Show {
        /// The certificate number
        #[arg(value_name = "NUMBER")]
        number: String,
    },
}

pub fn run(ctx: &Ctx, cmd: CertCmd) -> Result<()> {
    match cmd {
        CertCmd::Issue {
            key,
            number,
            exporter,
            importer,
            to,
            parcels,
            hs,
            expires,
            value_usd,
        } => {
            let parcels = parcels
                .iter()
                .map(|p| ctx.parcel_id(p))
                .collect::<Result<Vec<_>>>()?;
            let count = parcels.len();
            let body = Body::IssueCertificate {
                number: number.clone(),
                exporter,
                importer,
                destination: to,
                parcels,
                hs_codes: hs,
                expires_on: expires,
                value_cents: value_usd,
            };
            let status = ctx.write(&key, body)?;
            let summary = format!("certificate {number} issued for {count} parcel(s) to {to}");
            output::committed(ctx.json, &status, Outcome::Summary(&summary))
        }
        CertCmd::Receive {
            key,
            number,
            carats,
            parcel_count,
        } => {
            let body = Body::ReceiveCertificate {
                number: number.clone(),
                milli_carats: carats,
                parcel_count,
            };
            let status = ctx.write(&key, body)?;
            let summary = receipt_summary(ctx, &number);
            output::committed(ctx.json, &status, Outcome::Summary(&summary))
        }
        CertCmd::Show { number } => {
            let cert = ctx.client.certificate(&number)?;
            if ctx.json {
                return output::json(&with_title(&cert)?);
            }
            let participants = ctx.client.participants()?;
            let exporter = member_or_none(ctx, &cert.exporter)?;
            let importer = member_or_none(ctx, &cert.importer)?;
            let context = view::CertificateContext {
                participants: &participants,
                exporter: exporter.as_ref(),
                importer: importer.as_ref(),
            };
            output::stdout(&view::certificate(&cert, &context));
            Ok(())
        }
    }
}

/// Says whether the receipt matched; a discrepancy is what the authority
/// most needs to see. The receipt itself is already committed, so a failure
/// to read the certificate back only shortens the sentence.
fn receipt_summary(ctx: &Ctx, number: &str) -> String {
    let received = format!("certificate {number} received");
    let Ok(cert) = ctx.client.certificate(number) else {
        return received;
    };
    match &cert.receipt {
        Some(r) if r.matches => format!("{received}; the figures match the certificate"),
        Some(r) => format!(
            "{received} with a DISCREPANCY: found {} ct in {} parcel(s), the certificate says {} ct in {}; its parcels are frozen",
            Carats(r.milli_carats),
            r.parcel_count,
            Carats(cert.milli_carats),
            cert.parcels.len()
        ),
        None => received,
    }
}

/// The certificate's JSON with Annex I's title and statement added.
fn with_title(cert: &Certificate) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(cert)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("title".into(), Certificate::TITLE.into());
        map.insert("statement".into(), Certificate::STATEMENT.into());
    }
    Ok(value)
}

fn member_or_none(ctx: &Ctx, key: &PublicKey) -> Result<Option<Member>> {
    match ctx.client.member(key) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}
