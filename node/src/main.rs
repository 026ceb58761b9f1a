//! `kpnode`: the Kimberley Process ledger daemon. See `docs/commands.md`
//! for the commands and `docs/api.md` for the API it serves.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kp_node::{dev, node, setup};
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
    Init(setup::InitArgs),
    /// Build a genesis file from the homes of the founding Participants.
    Genesis(setup::GenesisArgs),
    /// Run a validator of a multi-validator network.
    Run(setup::RunArgs),
    /// Write N ready homes (DIR/node0 ...) with one genesis, for a local cluster.
    Testnet(setup::TestnetArgs),
}

/// The node's own progress at info; the engine's step-by-step rounds only
/// when asked for with RUST_LOG.
const DEFAULT_LOG: &str = "info,arc_malachitebft_core_consensus=warn,arc_malachitebft_engine=warn,\
     arc_malachitebft_network=warn,arc_malachitebft_sync=warn,arc_malachitebft_engine::wal=warn";

/// A chain of one has no peers to publish consensus messages to, which the
/// engine's network reports as an error at every step: not worth a line.
const DEV_LOG: &str = ",arc_malachitebft_network=off";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = match cli.command {
        Command::Dev(_) => format!("{DEFAULT_LOG}{DEV_LOG}"),
        _ => DEFAULT_LOG.to_owned(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_log)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Command::Dev(args) => exit_code("kpnode dev", dev::prepare(&args).and_then(serve)),
        Command::Init(args) => exit_code("kpnode init", setup::init(&args)),
        Command::Genesis(args) => exit_code("kpnode genesis", setup::genesis(&args)),
        Command::Run(args) => exit_code("kpnode run", setup::prepare_run(&args).and_then(serve)),
        Command::Testnet(args) => exit_code("kpnode testnet", setup::testnet(&args)),
    }
}

/// How long the runtime waits, once the node has stopped, for work it
/// cannot cancel (a blocking read of the store) before the process exits
/// anyway.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

fn serve(config: node::RunConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(node::run(config));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    outcome
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
