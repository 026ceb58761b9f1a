//! Setting up a multi-validator network: `kpnode init` (one Participant's
//! node), `kpnode genesis` (the founders' common genesis), `kpnode testnet`
//! (N ready homes on loopback) and `kpnode run`.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use kp_crypto::keystore::write_key_file;
use kp_crypto::{PublicKey, SecretKey};
use kp_ledger::genesis::Genesis;
use kp_ledger::model::{Participant, ParticipantCode, ParticipantStatus};
use malachitebft_app_channel::app::net::Multiaddr;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::clock::now_secs;
use crate::consensus::{local_timeouts, wide_area_timeouts, Settings};
use crate::dev::scheme_participants;
use crate::home::{
    create_dirs, read_validator_key, tryout_passphrase, write_atomically, write_validator_key,
    Layout,
};
use crate::node::{GossipSettings, RunConfig};
use crate::server::{ApiLimitArgs, ApiLimits};
use kp_ledger::summary::short_id;

/// scrypt cost for testnet keys: throwaway, so quick to write.
const TESTNET_KEY_WORK_FACTOR: u8 = 10;

/// How quickly a round gives up on a silent proposer or missing votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Timeouts {
    /// Validators across continents (the default).
    WideArea,
    /// Validators on one machine or LAN.
    Local,
}

/// `DIR/node.json`: how this node runs. Flags of `kpnode run` override it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeSettings {
    pub participant: ParticipantCode,
    /// Consensus listens here; transaction gossip on the next port.
    pub listen: String,
    pub api: SocketAddr,
    /// Other validators' consensus addresses.
    pub peers: Vec<String>,
    pub timeouts: Timeouts,
    /// Longest wait for a first transaction before an empty block.
    pub idle_block_ms: u64,
    /// The API's connection cap and timeouts (`api_connections_max`, ...),
    /// each optional.
    #[serde(flatten)]
    pub api_limits: ApiLimits,
}

/// `DIR/node/participant.json`: the public half of what `init` made, for
/// the genesis or for a proposal to admit this Participant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParticipantCard {
    pub code: ParticipantCode,
    pub name: String,
    pub authority: PublicKey,
    pub validator: PublicKey,
}

fn settings_path(home: &Path) -> PathBuf {
    home.join("node.json")
}

fn card_path(layout: &Layout) -> PathBuf {
    layout.node_dir().join("participant.json")
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory for this node's keys and data.
    #[arg(long, value_name = "DIR")]
    home: PathBuf,
    /// This Participant's code (ISO 3166-1 alpha-2; EU for the European Union).
    #[arg(long, value_name = "CODE")]
    participant: ParticipantCode,
    /// Its name (default: as the scheme lists it).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Consensus listen address; transaction gossip takes the next port.
    #[arg(
        long,
        value_name = "MULTIADDR",
        default_value = "/ip4/0.0.0.0/tcp/27000"
    )]
    listen: String,
    /// Address the HTTP API listens on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8780")]
    api: SocketAddr,
}

/// `kpnode init`: keys and settings for one Participant's node. The
/// authority key is encrypted with `KP_PASSPHRASE` or a passphrase asked
/// on the terminal.
pub fn init(args: &InitArgs) -> anyhow::Result<()> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => scheme_participants()?
            .into_iter()
            .find(|f| f.code == args.participant)
            .map(|f| f.name)
            .with_context(|| {
                format!(
                    "{} is not in the scheme's list; give its name with --name",
                    args.participant
                )
            })?,
    };
    let passphrase = init_passphrase()?;
    let settings = NodeSettings {
        participant: args.participant,
        listen: parse_multiaddr(&args.listen)?.to_string(),
        api: args.api,
        peers: Vec::new(),
        timeouts: Timeouts::WideArea,
        idle_block_ms: 1000,
        api_limits: ApiLimits::default(),
    };
    let card = create_home(
        &args.home,
        args.participant,
        name,
        &settings,
        &passphrase,
        None,
    )?;
    println!("kpnode init: {} ({})", card.name, card.code);
    println!("home       {}", args.home.display());
    println!("authority  {}", card.authority);
    println!("validator  {}", card.validator);
    println!(
        "next: a genesis (kpnode genesis) or, to join a running network, a proposal to admit it:\n  \
         kp participant propose --key AUTH --admit {} --name \"{}\" --authority {} --validator {}",
        card.code, card.name, card.authority, card.validator
    );
    Ok(())
}

fn init_passphrase() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("KP_PASSPHRASE") {
        if !p.is_empty() {
            return Ok(p);
        }
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        bail!("set KP_PASSPHRASE or run on a terminal: the authority key needs a passphrase");
    }
    let first = rpassword::prompt_password("Passphrase for the authority key: ")?;
    let again = rpassword::prompt_password("Same passphrase again: ")?;
    if first != again {
        bail!("the two passphrases differ; nothing was written");
    }
    if first.is_empty() {
        bail!("an empty passphrase would leave the authority key unprotected");
    }
    Ok(first)
}

/// Writes a new home: authority key, validator key, public card, settings.
fn create_home(
    home: &Path,
    code: ParticipantCode,
    name: String,
    settings: &NodeSettings,
    passphrase: &str,
    work_factor: Option<u8>,
) -> anyhow::Result<ParticipantCard> {
    let layout = Layout::new(home);
    if settings_path(home).exists() || layout.validator_key.exists() {
        bail!(
            "{} already holds a node; keys are never overwritten (choose another --home)",
            home.display()
        );
    }
    create_dirs(&[&layout.keys, &layout.node_dir(), &layout.data])?;
    let authority = SecretKey::generate();
    write_key_file(
        &layout.authority_key(code),
        &authority,
        passphrase,
        work_factor,
    )?;
    let validator = SecretKey::generate();
    write_validator_key(&layout.validator_key, &validator)?;
    let card = ParticipantCard {
        code,
        name,
        authority: authority.public(),
        validator: validator.public(),
    };
    write_atomically(&card_path(&layout), &to_json(&card)?)?;
    write_atomically(&settings_path(home), &to_json(settings)?)?;
    Ok(card)
}

fn to_json(value: &impl Serialize) -> anyhow::Result<Vec<u8>> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text.into_bytes())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is malformed", path.display()))
}

#[derive(Debug, Args)]
pub struct GenesisArgs {
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

/// `kpnode genesis`: one genesis from the founders' homes.
pub fn genesis(args: &GenesisArgs) -> anyhow::Result<()> {
    let cards = args
        .home
        .iter()
        .map(|home| read_json::<ParticipantCard>(&card_path(&Layout::new(home))))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let genesis = genesis_of(&args.chain_id, cards)?;
    write_new(&args.out, &genesis)?;
    println!(
        "genesis    {} (chain {}, {} Participants, hash {})",
        args.out.display(),
        genesis.chain_id,
        genesis.participants.len(),
        short_id(&genesis.hash())
    );
    Ok(())
}

fn genesis_of(chain_id: &str, cards: Vec<ParticipantCard>) -> anyhow::Result<Genesis> {
    let genesis = Genesis {
        chain_id: chain_id.to_owned(),
        genesis_time: now_secs(),
        participants: cards
            .into_iter()
            .map(|card| Participant {
                code: card.code,
                name: card.name,
                authority: card.authority,
                validator: Some(card.validator),
                status: ParticipantStatus::Active,
            })
            .collect(),
    };
    genesis.validate()?;
    Ok(genesis)
}

fn write_new(path: &Path, genesis: &Genesis) -> anyhow::Result<()> {
    if path.exists() {
        bail!("{} exists; a genesis is never overwritten", path.display());
    }
    write_atomically(path, genesis.to_json().as_bytes())
}

#[derive(Debug, Args)]
pub struct TestnetArgs {
    /// How many validators.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=50))]
    validators: u16,
    /// Directory to write the homes into.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Node i listens for consensus on PORT+10i and for gossip on PORT+10i+1.
    #[arg(long, value_name = "PORT", default_value_t = 27000)]
    base_port: u16,
    /// Node i serves its API on 127.0.0.1:PORT+i.
    #[arg(long, value_name = "PORT", default_value_t = 8780)]
    api_port: u16,
}

/// `kpnode testnet`: N homes on loopback with one genesis, each listing the
/// others as peers; `scripts/testnet.sh` runs them.
pub fn testnet(args: &TestnetArgs) -> anyhow::Result<()> {
    let count = usize::from(args.validators);
    let founders: Vec<_> = scheme_participants()?
        .into_iter()
        .filter(|f| f.status == ParticipantStatus::Active)
        .take(count)
        .collect();
    let port = |i: usize, offset: usize| -> anyhow::Result<u16> {
        u16::try_from(usize::from(args.base_port) + 10 * i + offset)
            .context("--base-port leaves no room for that many nodes")
    };
    let listens: Vec<String> = (0..count)
        .map(|i| Ok(format!("/ip4/127.0.0.1/tcp/{}", port(i, 0)?)))
        .collect::<anyhow::Result<_>>()?;
    let genesis_path = args.dir.join("genesis.json");
    if genesis_path.exists() {
        bail!("{} exists; choose another --dir", genesis_path.display());
    }
    let (passphrase, passphrase_note) = tryout_passphrase();
    let mut cards = Vec::with_capacity(count);
    for (i, founder) in founders.into_iter().enumerate() {
        let api_port = u16::try_from(usize::from(args.api_port) + i)
            .context("--api-port leaves no room for that many nodes")?;
        let settings = NodeSettings {
            participant: founder.code,
            listen: listens[i].clone(),
            api: SocketAddr::from(([127, 0, 0, 1], api_port)),
            peers: listens
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| l.clone())
                .collect(),
            timeouts: Timeouts::Local,
            idle_block_ms: 1000,
            api_limits: ApiLimits::default(),
        };
        let home = args.dir.join(format!("node{i}"));
        cards.push(create_home(
            &home,
            founder.code,
            founder.name,
            &settings,
            &passphrase,
            Some(TESTNET_KEY_WORK_FACTOR),
        )?);
        println!(
            "node{i}      {} {}  api http://{}  consensus {}",
            cards[i].code,
            home.display(),
            settings.api,
            settings.listen
        );
    }
    let genesis = genesis_of("kp-testnet", cards)?;
    write_new(&genesis_path, &genesis)?;
    println!(
        "genesis    {} ({} validators, hash {})",
        genesis_path.display(),
        count,
        short_id(&genesis.hash())
    );
    println!(
        "keys       {}  ({passphrase_note})",
        args.dir.join("node*/keys/<CODE>.key").display()
    );
    println!("start      scripts/testnet.sh start {}", args.dir.display());
    Ok(())
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// This node's home, as `kpnode init` made it.
    #[arg(long, value_name = "DIR")]
    home: PathBuf,
    /// The network's genesis file.
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
    /// Consensus listen address (default: from DIR/node.json).
    #[arg(long, value_name = "MULTIADDR")]
    listen: Option<String>,
    /// Address the HTTP API listens on (default: from DIR/node.json).
    #[arg(long, value_name = "ADDR")]
    api: Option<SocketAddr>,
    /// A peer's consensus address; repeat for each (added to DIR/node.json's).
    #[arg(long, value_name = "MULTIADDR")]
    peer: Vec<String>,
    #[command(flatten)]
    api_limits: ApiLimitArgs,
    /// Attacks to make on purpose, as the engine's ByzantineConfig in JSON
    /// (fault tests only; this build has the `byzantine` feature).
    #[cfg(feature = "byzantine")]
    #[arg(long, value_name = "JSON", hide = true)]
    byzantine: Option<String>,
}

/// `kpnode run`: what a node of a multi-validator network runs with.
pub fn prepare_run(args: &RunArgs) -> anyhow::Result<RunConfig> {
    let layout = Layout::new(&args.home);
    let mut settings: NodeSettings = read_json(&settings_path(&args.home))
        .context("is this a home made by `kpnode init` or `kpnode testnet`?")?;
    if let Some(listen) = &args.listen {
        settings.listen = listen.clone();
    }
    if let Some(api) = args.api {
        settings.api = api;
    }
    settings.peers.extend(args.peer.iter().cloned());
    let text = fs::read_to_string(&args.genesis)
        .with_context(|| format!("cannot read {}", args.genesis.display()))?;
    let genesis = Genesis::from_json(&text)
        .with_context(|| format!("{} is not a genesis file", args.genesis.display()))?;
    let validator = Arc::new(read_validator_key(&layout.validator_key)?);
    create_dirs(&[&layout.data, &layout.wal])?;
    let peers = settings
        .peers
        .iter()
        .map(|p| parse_multiaddr(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let listen = parse_multiaddr(&settings.listen)?;
    let gossip = GossipSettings {
        key: validator.clone(),
        listen: gossip_addr(&listen)?,
        peers: peers
            .iter()
            .map(gossip_addr)
            .collect::<anyhow::Result<_>>()?,
    };
    info!(
        participant = %settings.participant,
        chain = %genesis.chain_id,
        genesis = %short_id(&genesis.hash()),
        "starting"
    );
    Ok(RunConfig {
        genesis,
        db_path: layout.db,
        api_addr: settings.api,
        api_limits: args.api_limits.over(settings.api_limits),
        consensus: Settings {
            wal_dir: layout.wal,
            moniker: settings.participant.to_string(),
            key: validator,
            listen,
            peers,
            timeouts: match settings.timeouts {
                Timeouts::WideArea => wide_area_timeouts(),
                Timeouts::Local => local_timeouts(),
            },
            idle_wait: Duration::from_millis(settings.idle_block_ms),
            #[cfg(feature = "byzantine")]
            byzantine: args
                .byzantine
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .context("--byzantine takes the engine's ByzantineConfig as JSON")?,
        },
        gossip: Some(gossip),
    })
}

/// Transaction gossip listens on the port after consensus's.
pub fn gossip_addr(consensus: &Multiaddr) -> anyhow::Result<Multiaddr> {
    use libp2p::multiaddr::Protocol;
    let mut found = false;
    let addr = consensus
        .iter()
        .map(|p| match p {
            Protocol::Tcp(port) if !found => {
                found = true;
                port.checked_add(1).map(Protocol::Tcp)
            }
            other => Some(other),
        })
        .collect::<Option<Multiaddr>>();
    match addr {
        Some(addr) if found => Ok(addr),
        _ => bail!(
            "`{consensus}` names no TCP port below 65535 (transaction gossip takes the next one)"
        ),
    }
}

pub fn parse_multiaddr(text: &str) -> anyhow::Result<Multiaddr> {
    text.parse()
        .with_context(|| format!("`{text}` is not a multiaddr (like /ip4/127.0.0.1/tcp/27000)"))
}
