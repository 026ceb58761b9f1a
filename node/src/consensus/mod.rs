//! Consensus: the Malachite engine decides the order of blocks among the
//! Participants' validators. Everything the engine's API touches lives in
//! this module, so that its churn between versions stays here.
//!
//! - `context`: what heights, validators, votes and proposals are, and how
//!   they are signed;
//! - `codec`: their bytes on the wire and in the write-ahead log;
//! - `parts`: blocks streamed as proposal parts;
//! - `validators`: a height's validators, read from the ledger;
//! - `proposal_log`: the proposals of the height, kept through a restart;
//! - `app`: the node's answers to the engine (build, check, commit), and
//!   `candidate`: a proposed block as it holds it;
//! - `error`: why consensus stops.
//!
//! `codec`, `parts` and the context's message types are public so that
//! the fuzz targets (`fuzz/`) can drive the decoders of what peers send.

mod app;
mod candidate;
pub mod codec;
mod context;
mod error;
pub mod parts;
mod proposal_log;
mod validators;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kp_crypto::{Hash32, SecretKey};
use libp2p::multiaddr::Protocol;
use malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, NodeConfig, P2pConfig, ValueSyncConfig,
};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::types::core::LinearTimeouts;
use malachitebft_app_channel::{
    Channels, ConsensusContext, EngineBuilder, EngineHandle, NetworkContext, NetworkIdentity,
    RequestContext, SyncContext, WalContext,
};
use tokio::sync::watch;
use tracing::info;

pub use self::app::Services;
pub use self::codec::EngineCertificates;
pub use self::context::{
    block_id, block_stream_signing_bytes, local_timeouts, wide_area_timeouts, Address, BlockId,
    BlockPart, Height, KpContext, Proposal, ValidatorSigner, Vote,
};
pub use self::error::ConsensusError;
pub use self::validators::validators;

use self::app::App;
use self::codec::BorshCodec;
use self::proposal_log::ProposalLog;
use crate::gossip::keypair_from_secret;

/// How the engine runs on this node.
pub struct Settings {
    /// Where the engine keeps its write-ahead log.
    pub wal_dir: PathBuf,
    pub moniker: String,
    /// The validator key, which is also the node's network identity, so
    /// that peers can be allow-listed from the Participant set.
    pub key: Arc<SecretKey>,
    pub listen: Multiaddr,
    pub peers: Vec<Multiaddr>,
    pub timeouts: LinearTimeouts,
    /// How long a proposer waits for a first transaction before proposing
    /// an empty block.
    pub idle_wait: Duration,
    /// The attacks this node makes on purpose (the fault tests' Byzantine
    /// validator); built only with the `byzantine` feature.
    #[cfg(feature = "byzantine")]
    pub byzantine: Option<malachitebft_engine_byzantine::ByzantineConfig>,
}

struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

const MIB: u64 = 1024 * 1024;

fn engine_config(settings: &Settings) -> EngineConfig {
    let p2p = P2pConfig {
        listen_addr: settings.listen.clone(),
        persistent_peers: settings.peers.clone(),
        // Inbound connections from nodes not listed are accepted, so that a
        // newly admitted Participant can join by dialling any node; what
        // they send counts only if signed by a validator of the height.
        persistent_peers_only: false,
        discovery: DiscoveryConfig::default(),
        // Synced blocks can be large: up to 10,000 transactions each.
        rpc_max_size: bytesize(64 * MIB),
        ..P2pConfig::default()
    };
    let value_sync = ValueSyncConfig {
        status_update_interval: Duration::from_secs(2),
        max_response_size: bytesize(64 * MIB),
        ..ValueSyncConfig::default()
    };
    EngineConfig {
        moniker: settings.moniker.clone(),
        consensus: ConsensusConfig {
            p2p,
            ..ConsensusConfig::default()
        },
        value_sync,
    }
}

/// The engine logs a port it cannot bind and goes on without a network,
/// which would leave the node at height 0 for ever: a TCP address already
/// taken is refused here, before the engine starts. (Port 0 and non-TCP
/// addresses are left to the engine.) Called before anything starts, so
/// that the node stops at once, saying why.
pub fn check_listen_free(listen: &Multiaddr) -> Result<(), ConsensusError> {
    let mut ip = None;
    let mut port = None;
    for protocol in listen.iter() {
        match protocol {
            Protocol::Ip4(a) => ip = Some(IpAddr::V4(a)),
            Protocol::Ip6(a) => ip = Some(IpAddr::V6(a)),
            Protocol::Tcp(p) if p != 0 => port = Some(p),
            _ => {}
        }
    }
    let (Some(ip), Some(port)) = (ip, port) else {
        return Ok(());
    };
    std::net::TcpListener::bind((ip, port))
        .map(drop)
        .map_err(|e| ConsensusError::Listen {
            addr: listen.clone(),
            reason: e.to_string(),
        })
}

fn bytesize(bytes: u64) -> bytesize::ByteSize {
    bytesize::ByteSize::b(bytes)
}

/// Runs the engine and answers it until `stop` turns true; the block being
/// committed when it does is finished first.
pub async fn run(
    services: Services,
    settings: Settings,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ConsensusError> {
    let genesis = services.chain.identity().genesis;
    let (channels, engine) = start_engine(&settings, genesis).await?;
    info!(listen = %settings.listen, peers = settings.peers.len(), "consensus engine started");

    let proposal_log = ProposalLog::new(settings.wal_dir.join("proposals"));
    let app = App::new(
        services,
        settings.key,
        settings.timeouts,
        settings.idle_wait,
        proposal_log,
    );
    let outcome = tokio::select! {
        outcome = app.run(channels) => outcome,
        _ = stop.wait_for(|stop| *stop) => Ok(()),
    };
    engine.actor.stop(Some("the node is stopping".into()));
    // The engine's actors end with the node actor; a panic there is not
    // worth more than the outcome already known.
    let _ = engine.handle.await;
    outcome
}

/// The engine, its votes signed for the chain of genesis `genesis`.
async fn start_engine(
    settings: &Settings,
    genesis: Hash32,
) -> Result<(Channels<KpContext>, EngineHandle), ConsensusError> {
    let address = Address(settings.key.public());
    let signer = ValidatorSigner::new(settings.key.clone(), genesis);
    let identity = NetworkIdentity::new(
        settings.moniker.clone(),
        keypair_from_secret(&settings.key),
        Some(address.to_string()),
    );
    let consensus = ConsensusContext::new_validator(
        address,
        Box::new(signer.clone()),
        Box::new(signer.clone()),
    );
    let wal = settings.wal_dir.join("consensus.wal");
    // Every part but the network, which a Byzantine test node replaces.
    let builder = EngineBuilder::new(KpContext, engine_config(settings))
        .with_default_wal(WalContext::new(wal, BorshCodec))
        .with_default_sync(SyncContext::new(BorshCodec))
        .with_default_consensus(consensus)
        .with_default_request(RequestContext::new(100));
    #[cfg(feature = "byzantine")]
    if let Some(attack) = &settings.byzantine {
        let byzantine = malachitebft_app_channel::ByzantineContext {
            identity,
            codec: BorshCodec,
            config: attack.clone(),
            signer: Box::new(signer),
            address,
            // A proposal for a block that does not exist.
            conflicting_value_fn: Some(Box::new(|id: &BlockId| {
                let mut other = id.0;
                other.0[31] ^= 1;
                BlockId(other)
            })),
            conflicting_vote_value_fn: None,
        };
        tracing::warn!("this node equivocates on purpose (a test of Byzantine faults)");
        return builder
            .with_byzantine_network(byzantine)
            .await
            .map_err(engine_error)?
            .build()
            .await
            .map_err(engine_error);
    }
    builder
        .with_default_network(NetworkContext::new(identity, BorshCodec))
        .build()
        .await
        .map_err(engine_error)
}

fn engine_error(e: impl std::fmt::Display) -> ConsensusError {
    ConsensusError::Engine(format!("{e:#}"))
}
