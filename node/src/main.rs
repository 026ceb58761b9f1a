//! `kpnode`: the Kimberley Process ledger daemon. See `docs/commands.md`
//! for the commands and `docs/api.md` for the API it serves.

mod api;
mod consensus;
mod dev;
// Wired into the node with the multi-validator consensus change (#3).
#[allow(dead_code)]
mod gossip;
mod mempool;
mod node;
mod rejections;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "kpnode",
    version,
    about = "The Kimberley Process traceability ledger node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A one-validator chain for trying things out
    ///
    /// The first run creates DIR/genesis.json and one authority key per
    /// Participant at DIR/keys/<CODE>.key; later runs resume. Serves the API
    /// until stopped (Ctrl-C or SIGTERM).
    Dev(dev::DevArgs),
    /// Create this Participant's node identity, validator key and authority key.
    Init(InitArgs),
    /// Build a genesis file from the homes of the founding Participants.
    Genesis(GenesisArgs),
    /// Run a validator of a multi-validator network.
    Run(RunArgs),
    /// Write N ready homes (DIR/node0 ...) with one genesis, for a local cluster.
    Testnet(TestnetArgs),
}

// The multi-validator commands take their documented flags, so that --help
// shows the contract now; the network issue (#3) gives them a body.
#[derive(Debug, Args)]
struct InitArgs {
    /// Directory for this node's keys and data.
    #[arg(long, value_name = "DIR")]
    home: PathBuf,
    /// This Participant's code (ISO 3166-1 alpha-2; EU for the European Union).
    #[arg(long, value_name = "CODE")]
    participant: String,
}

#[derive(Debug, Args)]
struct GenesisArgs {
    /// Where to write the genesis file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The new chain's id.
    #[arg(long, value_name = "ID")]
    chain_id: String,
    /// A founding Participant's home; repeat for each.
    #[arg(long, value_name = "DIR", required = true)]
    home: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// This node's home, as `kpnode init` made it.
    #[arg(long, value_name = "DIR")]
    home: PathBuf,
    /// The network's genesis file.
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
    /// Address to listen on for peers.
    #[arg(long, value_name = "MULTIADDR")]
    listen: Option<String>,
    /// Address the HTTP API listens on.
    #[arg(long, value_name = "ADDR")]
    api: Option<String>,
    /// A peer to dial; repeat for each.
    #[arg(long, value_name = "MULTIADDR")]
    peer: Vec<String>,
}

#[derive(Debug, Args)]
struct TestnetArgs {
    /// How many validators.
    #[arg(long, value_name = "N")]
    validators: u32,
    /// Directory to write the homes into.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

/// Exit code of a command that is documented but not built yet.
const EXIT_NOT_YET: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let not_yet = match cli.command {
        Command::Dev(args) => return exit_code("kpnode dev", run_dev(&args)),
        Command::Init(_) => "init",
        Command::Genesis(_) => "genesis",
        Command::Run(_) => "run",
        Command::Testnet(_) => "testnet",
    };
    eprintln!("kpnode {not_yet}: not there yet: multi-validator networks come with the network issue (#3)");
    ExitCode::from(EXIT_NOT_YET)
}

fn run_dev(args: &dev::DevArgs) -> anyhow::Result<()> {
    let config = dev::prepare(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(node::run(config))
}

fn exit_code(what: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{what}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
