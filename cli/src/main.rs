//! `kp`: the wallet and audit side of the Kimberley Process ledger.
//!
//! Members and authorities sign transactions locally with encrypted key
//! files and submit them to a node; auditors read parcels, traces and
//! certificates. `docs/commands.md` is the contract for
//! every name and flag here.

mod commands;
mod failure;
mod output;
mod parse;
mod view;
mod wallet;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use commands::anomalies::AnomaliesArgs;
use commands::audit::{TraceArgs, VerifyArgs, WatchArgs};
use commands::cert::CertCmd;
use commands::chain::TxCmd;
use commands::key::KeyCmd;
use commands::member::MemberCmd;
use commands::parcel::ParcelCmd;
use commands::participant::ParticipantCmd;
use commands::stats::StatsArgs;
use commands::transfer::TransferCmd;
use commands::Ctx;

const DEFAULT_NODE: &str = "http://127.0.0.1:8780";

const ABOUT: &str = "Wallet and audit commands for the Kimberley Process traceability ledger";

const LONG_ABOUT: &str = "Wallet and audit commands for the Kimberley Process traceability ledger.

Industry members (miners, traders, sorters, exporters, importers) register parcels of rough \
diamonds and pass them on; authorities enrol members, issue and receive KP certificates and \
flag parcels; auditors trace any parcel back to the mine. Transactions are signed here, with \
an encrypted key file, and sent to a node, which answers once they are in a block.";

const AFTER_HELP: &str = "Examples:
  kp key new --out debswana.key           make a key; give its public key to your authority
  kp status                               is the node there, and how high is the chain?
  PARCEL=$(kp parcel register --key debswana.key --origin BW --mine Jwaneng \\
      --carats 1250.500 --stones 3400 --value-usd 187500.00 --hs 7102.10)
  kp transfer offer --key debswana.key --parcel $PARCEL --to 9be0…41
  kp trace 3f9a12cd                       every event back to the mine
  kp cert show BW-2026-000123             a certificate, as Annex I lays it out

The node: --node URL, else $KP_NODE, else http://127.0.0.1:8780.
Passphrases: $KP_PASSPHRASE, else a prompt on the terminal.
Ids: any unique prefix of 8 or more hex characters is accepted.
Units: carats 12.345, US$ 1500.00, dates YYYY-MM-DD.
Exit status: 0 done; 1 rejected or failed (one line on stderr says why), or a bundle failed verification; 2 bad usage.";

#[derive(Debug, Parser)]
#[command(
    name = "kp",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    arg_required_else_help = true
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
struct GlobalArgs {
    /// The node's API address
    #[arg(
        long,
        global = true,
        env = "KP_NODE",
        hide_env_values = true,
        default_value = DEFAULT_NODE,
        value_name = "URL"
    )]
    node: String,
    /// Print one JSON document on stdout instead of the human view
    #[arg(long, global = true)]
    json: bool,
    /// How long a write waits for its transaction to be in a block
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make and read encrypted key files
    #[command(subcommand)]
    Key(KeyCmd),
    /// Show the chain: id, height, last block, validators, peers
    #[command(
        after_help = "Example:\n  kp status\n  kp --node http://10.0.0.5:8780 status --json"
    )]
    Status,
    /// Enrol and revoke industry members (authorities)
    #[command(subcommand)]
    Member(MemberCmd),
    /// Issue, receive and show KP certificates
    #[command(subcommand)]
    Cert(CertCmd),
    /// Register, split, merge, flag and show parcels
    #[command(subcommand)]
    Parcel(ParcelCmd),
    /// Offer, accept and cancel transfers of parcels between members
    #[command(subcommand)]
    Transfer(TransferCmd),
    /// List Participants; propose and approve changes to the set
    #[command(subcommand)]
    Participant(ParticipantCmd),
    /// Every event of a parcel back to the mine, through splits and merges
    #[command(
        long_about = "Trace a parcel: the parcel, then every event of it and of each of its \
            ancestors, oldest first, with date, height, kind and the essential figures; then \
            each ancestor parcel with its origin, mine and carats.\n\n\
            --verify fetches the parcel's provenance bundle and checks every event against \
            the block that holds it, that block's commit certificate and the validator set \
            of its height, followed from the genesis (--genesis FILE; by default the node's \
            own), and that each record is current with exactly the events shown; it names \
            the step that fails. --export FILE writes the bundle for `kp verify` elsewhere, \
            with no node (docs/proofs.md).",
        after_help = "Example:\n  kp trace 3f9a12cd\n  kp trace 3f9a12cd --json\n  \
            kp trace 3f9a12cd --verify --genesis genesis.json\n  \
            kp trace 3f9a12cd --export 3f9a12cd.bundle.json"
    )]
    Trace(TraceArgs),
    /// Check an exported provenance bundle offline, with no node
    #[command(
        long_about = "Check a provenance bundle written by `kp trace --export`, offline: every \
            event of the parcel's history against its block, each block's commit against the \
            validator set followed from GENESIS through the governance decisions shown, and \
            each record as current with exactly its events. Prints what was verified and \
            the trace, or the step that fails (exit status 1).",
        after_help = "Example:\n  kp verify 3f9a12cd.bundle.json --genesis genesis.json"
    )]
    Verify(VerifyArgs),
    /// Production, exports, imports by HS code, partner and origin (KPCS Annex III)
    #[command(
        long_about = "Production, exports, imports by HS code, partner and origin (KPCS Annex III).\n\n\
            Counted by block time (UTC) from indexes kept per block:\n\
            - production: parcels registered at a mine, for their origin, by half year;\n\
            - exports: certificates issued, for the issuer, by quarter, partner the\n  \
            destination; the certified parcels count whole (mixed origin too);\n\
            - imports: certificates received, for the destination, in the quarter of\n  \
            the receipt, partner the exporter; certified figures, received carats beside;\n\
            - by origin (exports and imports): each country of origin's carats, the\n  \
            certificate's US$ shared by carats to the cent, and the certificates and\n  \
            parcels holding that origin (a mixed-origin one under each of its origins);\n\
            - certificates: issued (exports), receipts confirmed (imports).\n\
            US$/ct is cents x 1000 / milli-carats, rounded half up to the cent.\n\
            --csv prints one line per flow, period and breakdown (total, hs, partner,\n\
            origin).",
        after_help = "Examples:\n  kp stats --participant BW --year 2026\n  \
            kp stats --participant BW --year 2026 --quarter 1 --csv\n  \
            kp stats --all --year 2026 --half 2"
    )]
    Stats(StatsArgs),
    /// What the scheme's fraud checks find, one line each with its records
    #[command(
        after_help = "Kinds: exports_exceed_supply, receipt_discrepancy, expired_without_receipt,\n\
            flagged_parcel, value_outside_band, period_change, markup_on_reexport\n\
            (docs/api.md, Anomalies).\n\
            Time is the tip's block time; without --since, the last 365 days.\n\n\
            Examples:\n  kp anomalies --participant CF\n  \
            kp anomalies --since 2026-01-01 --band 30 --period-change 100 --json\n  \
            kp anomalies --participant AE --markup 50"
    )]
    Anomalies(AnomaliesArgs),
    /// Committed events as they happen, one line each
    #[command(
        long_about = "Follow the ledger: every committed transaction as it happens, one line \
            each (height:index, block time, kind, transaction id, what it did), and a line for \
            each block that carried transactions. --json prints every event, empty blocks \
            included, as one JSON object per line: {\"id\", \"event\", \"data\"}.\n\n\
            Without --from it starts at the next block; --from HEIGHT replays from that height \
            first. A lost connection is retried with a growing pause, resuming after the last \
            event seen (said on stderr). Ctrl-C ends it.",
        after_help = "Example:\n  kp watch\n  kp watch --from 100 --json | jq -c .data"
    )]
    Watch(WatchArgs),
    /// Look up a submitted transaction
    #[command(subcommand)]
    Tx(TxCmd),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return failure::report_clap(&e),
    };
    let ctx = Ctx {
        client: kp_wire::client::Client::new(&cli.global.node),
        json: cli.global.json,
        wait: Duration::from_secs(cli.global.timeout),
    };
    match run(&ctx, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failure::report(&e),
    }
}

fn run(ctx: &Ctx, command: Command) -> Result<()> {
    match command {
        Command::Key(cmd) => commands::key::run(ctx, cmd),
        Command::Status => commands::chain::status(ctx),
        Command::Member(cmd) => commands::member::run(ctx, cmd),
        Command::Cert(cmd) => commands::cert::run(ctx, cmd),
        Command::Parcel(cmd) => commands::parcel::run(ctx, cmd),
        Command::Transfer(cmd) => commands::transfer::run(ctx, cmd),
        Command::Participant(cmd) => commands::participant::run(ctx, cmd),
        Command::Trace(args) => commands::audit::trace(ctx, args),
        Command::Verify(args) => commands::audit::verify(ctx, args),
        Command::Stats(args) => commands::stats::run(ctx, &args),
        Command::Anomalies(args) => commands::anomalies::run(ctx, &args),
        Command::Watch(args) => commands::audit::watch(ctx, args),
        Command::Tx(cmd) => commands::chain::tx(ctx, cmd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kp").chain(args.iter().copied()))
    }

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_anywhere() {
        let cli = parse(&[
            "parcel",
            "show",
            "3f9a12cd",
            "--json",
            "--node",
            "10.0.0.5:8780",
        ])
        .unwrap();
        assert!(cli.global.json);
        assert_eq!(cli.global.node, "10.0.0.5:8780");
        assert_eq!(cli.global.timeout, 30);
        let cli = parse(&["--timeout", "5", "status"]).unwrap();
        assert_eq!(cli.global.timeout, 5);
    }

    #[test]
    fn enrol_is_an_alias_of_enroll() {
        let key = "ab".repeat(32);
        for verb in ["enroll", "enrol"] {
            let cli = parse(&[
                "member",
                verb,
                "--key",
                "a.key",
                "--member",
                &key,
                "--role",
                "Miner",
                "--name",
                "Debswana",
                "--licence",
                "BW-1",
            ])
            .unwrap();
            assert!(matches!(
                cli.command,
                Command::Member(MemberCmd::Enroll { .. })
            ));
        }
    }

    #[test]
    fn bad_values_are_usage_errors_that_name_the_value() {
        let err = parse(&[
            "parcel", "split", "--key", "k", "--parcel", "3f9a12cd", "--carats", "1.2345,2",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(err.to_string().contains("1.2345"), "{err}");
        let err = parse(&["parcel", "show", "3f9a"]).unwrap_err();
        assert!(err.to_string().contains("at least 8"), "{err}");
        let err = parse(&[
            "member",
            "enroll",
            "--key",
            "k",
            "--member",
            "xyz",
            "--role",
            "miner",
            "--name",
            "n",
            "--licence",
            "l",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("xyz"), "{err}");
        let err = parse(&[
            "member",
            "enroll",
            "--key",
            "k",
            "--member",
            &"ab".repeat(32),
            "--role",
            "king",
            "--name",
            "n",
            "--licence",
            "l",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("king"), "{err}");
    }

    #[test]
    fn split_takes_comma_separated_carats_and_codes() {
        let cli = parse(&[
            "parcel",
            "split",
            "--key",
            "k",
            "--parcel",
            "3f9a12cd",
            "--carats",
            "1000,250.5",
            "--hs",
            "7102.31,7102.21",
        ])
        .unwrap();
        let Command::Parcel(ParcelCmd::Split { carats, hs, .. }) = cli.command else {
            panic!("not a split");
        };
        assert_eq!(carats, vec![1_000_000, 250_500]);
        assert_eq!(hs.len(), 2);
    }

    #[test]
    fn propose_needs_exactly_one_change() {
        assert!(parse(&["participant", "propose", "--key", "k"]).is_err());
        assert!(parse(&["participant", "propose", "--key", "k", "--reinstate", "CF"]).is_ok());
        assert!(parse(&["participant", "propose", "--key", "k", "--admit", "AO"]).is_err());
        assert!(parse(&[
            "participant",
            "propose",
            "--key",
            "k",
            "--suspend",
            "CF",
            "--reinstate",
            "CF"
        ])
        .is_err());
    }
}
