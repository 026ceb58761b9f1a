//! Wiring: opens the ledger, builds the services over it (the chain view,
//! the mempool, admission, transaction gossip), starts the tasks that run
//! them (consensus, the HTTP API, admission, the relay) and stops them in
//! order on SIGINT or SIGTERM. Nothing here does a service's work.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use kp_crypto::{Hash32, SecretKey};
use kp_ledger::genesis::Genesis;
use kp_ledger::summary::short_id;
use kp_store::Store;
use libp2p::Multiaddr;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinError;
use tracing::{error, info};

use crate::admission::{admit_submissions, AdmissionHandle};
use crate::chain::{ChainInfo, ChainView};
use crate::consensus::{self, EngineCertificates, Settings};
use crate::gossip::{self, keypair_from_secret, GossipConfig, GossipEvent, GossipHandle};
use crate::http::events::EVENT_STREAMS_MAX;
use crate::http::state::HttpState;
use crate::mempool::{MempoolHandle, MempoolLimits};
use crate::metrics::Metrics;
use crate::peers::{self, ParticipantNodes};
use crate::relay;
use crate::server::{ApiLimits, Server};

/// What [`run`] runs a node with, as `kpnode dev` and `kpnode run` prepare
/// it. (Not `NodeConfig`: that is the consensus engine's trait.)
pub struct RunConfig {
    pub genesis: Genesis,
    pub db_path: PathBuf,
    pub api_addr: SocketAddr,
    pub api_limits: ApiLimits,
    pub consensus: Settings,
    /// Transaction gossip with the other validators; none for a chain of one.
    pub gossip: Option<GossipSettings>,
}

pub struct GossipSettings {
    pub key: Arc<SecretKey>,
    pub listen: Multiaddr,
    pub peers: Vec<Multiaddr>,
}

/// Runs the node until SIGINT or SIGTERM, then stops taking transactions,
/// lets the block being committed finish, and returns.
pub async fn run(config: RunConfig) -> anyhow::Result<()> {
    // Registered before anything is served, so that a signal is never
    // missed and never kills the process mid-commit.
    let mut sigterm = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    // The API's address first, before anything is started that stopping
    // would have to wait for: a taken address ends the start at once.
    let server = Server::bind(config.api_addr, config.api_limits)?;
    let api_addr = server.local_addr().context("cannot read the API address")?;
    consensus::check_listen_free(&config.consensus.listen)?;

    let store = Store::open(
        &config.db_path,
        &config.genesis,
        Arc::new(EngineCertificates),
    )?;
    let tip = store.tip()?;
    info!(height = tip.height, hash = %short_id(&tip.hash), "ledger opened");
    let info = ChainInfo {
        identity: config.genesis.identity(),
        genesis: config.genesis.clone(),
        node_key: config.consensus.key.public(),
    };
    let gossip = match config.gossip {
        Some(settings) => Some(start_gossip(settings, &store, info.identity.genesis).await?),
        None => None,
    };
    let gossip_handle = gossip.as_ref().map(|(handle, _)| handle.clone());
    // Transactions admitted here, on their way to the gossip's batches.
    let (outbox_tx, outbox_rx) = match &gossip {
        Some(_) => {
            let (tx, rx) = mpsc::channel(relay::OUTBOX_TXS_MAX);
            (Some(tx), Some(rx))
        }
        None => (None, None),
    };
    let (admission, submissions) = AdmissionHandle::new();
    let chain = ChainView::new(info, store)?;
    let metrics = Arc::new(Metrics::register());
    let mempool = MempoolHandle::new(chain.clone(), MempoolLimits::default(), metrics.clone())?;
    let participants = ParticipantNodes::new(chain.clone(), gossip_handle.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    chain.refresh_read_only(&peers::participant_nodes(chain.store())?);

    // From here on nothing returns early: every task started is stopped,
    // and waited for, on the way out.
    let admission_mempool = mempool.clone();
    let admission_task = tokio::task::spawn_blocking(move || {
        admit_submissions(&admission_mempool, outbox_tx.as_ref(), submissions)
    });

    let api_stop = stop_rx.clone();
    let router = crate::http::router(HttpState {
        chain: chain.clone(),
        mempool: mempool.clone(),
        admission: admission.clone(),
        gossip: gossip_handle,
        metrics: metrics.clone(),
        stopping: stop_rx.clone(),
        event_streams: Arc::new(Semaphore::new(EVENT_STREAMS_MAX)),
    });
    let mut api_task = tokio::spawn(async move {
        server.serve(router, api_stop).await;
        Ok::<(), Infallible>(())
    });
    let relay_task = gossip.zip(outbox_rx).map(|((handle, events), outbox)| {
        tokio::spawn(relay::run(
            chain.clone(),
            mempool.clone(),
            handle,
            events,
            outbox,
            stop_rx.clone(),
        ))
    });
    let services = consensus::Services {
        chain: chain.clone(),
        mempool,
        metrics,
        participants,
    };
    let mut consensus_task = tokio::spawn(consensus::run(services, config.consensus, stop_rx));
    info!(url = %format!("http://{api_addr}"), "API listening");
    println!("API        http://{api_addr}");

    // Which task, if any, ended on its own (a JoinHandle is awaited once).
    let mut consensus_done = false;
    let mut api_done = false;
    let mut outcome: anyhow::Result<()> = tokio::select! {
        _ = sigterm.recv() => { info!("SIGTERM: shutting down"); Ok(()) }
        _ = sigint.recv() => { info!("SIGINT: shutting down"); Ok(()) }
        result = &mut consensus_task => {
            consensus_done = true;
            ended_early(result, "consensus")
        }
        result = &mut api_task => {
            api_done = true;
            ended_early(result, "the API server")
        }
    };
    if let Err(e) = &outcome {
        error!("{e:#}; shutting down");
    }

    admission.close();
    // Ignored error: the receivers may be gone already, which is the goal.
    let _ = stop_tx.send(true);
    let mut stopping = Vec::new();
    if !consensus_done {
        stopping.push(joined(consensus_task.await, "consensus"));
    }
    if !api_done {
        stopping.push(joined(api_task.await, "the API server"));
    }
    if let Err(e) = admission_task.await {
        stopping.push(Err(anyhow::Error::new(e).context("admission panicked")));
    }
    if let Some(relay_task) = relay_task {
        if let Err(e) = relay_task.await {
            stopping.push(Err(
                anyhow::Error::new(e).context("transaction gossip panicked")
            ));
        }
    }
    for result in stopping {
        if let Err(e) = result {
            error!("{e:#}");
            if outcome.is_ok() {
                outcome = Err(e);
            }
        }
    }
    let tip = chain.store().tip()?;
    info!(height = tip.height, hash = %short_id(&tip.hash), "stopped");
    outcome
}

/// A batch's borsh framing: a length before the list and before each of
/// its (at most 1,024) transactions.
const BATCH_FRAMING_BYTES: usize = 4 + 4 * relay::BATCH_TXS_MAX;

/// Starts transaction gossip, allowing the nodes of the Participants the
/// ledger lists now.
async fn start_gossip(
    settings: GossipSettings,
    store: &Store,
    genesis: Hash32,
) -> anyhow::Result<(GossipHandle, mpsc::Receiver<GossipEvent>)> {
    let config = GossipConfig {
        keypair: keypair_from_secret(&settings.key),
        listen: settings.listen.clone(),
        peers: settings.peers,
        allowed: peers::allowed_peers(&peers::participant_nodes(store)?),
        genesis,
        message_bytes_max: relay::BATCH_BYTES_MAX + BATCH_FRAMING_BYTES,
    };
    let started = gossip::start(config)
        .await
        .with_context(|| format!("cannot start transaction gossip on {}", settings.listen))?;
    let listening = started.0.listen_addrs().await.unwrap_or_default();
    info!(listen = ?listening, "transaction gossip started");
    Ok(started)
}

/// A task's end, as one error naming `what` failed.
fn joined<E>(result: Result<Result<(), E>, JoinError>, what: &str) -> anyhow::Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!("{what} failed"))),
        Err(e) => Err(anyhow::Error::new(e).context(format!("{what} panicked"))),
    }
}

/// A task that should run until told to stop ended by itself: always an error.
fn ended_early<E>(result: Result<Result<(), E>, JoinError>, what: &str) -> anyhow::Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    joined(result, what)?;
    Err(anyhow::anyhow!("{what} stopped unexpectedly"))
}
