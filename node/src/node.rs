//! Wiring: opens the ledger, starts the block producer and the API over the
//! same store and mempool, and stops them in order on SIGINT or SIGTERM.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use kp_crypto::{Hash32, PublicKey, SecretKey};
use kp_ledger::chain::ChainIdentity;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::TxId;
use kp_ledger::rejection::Rejection;
use kp_ledger::summary::short;
use kp_store::{Store, StoreError};
use libp2p::Multiaddr;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::task::JoinError;
use tracing::{debug, error, info, warn};

use crate::consensus::{self, EngineCertificates, Settings};
use crate::gossip::{self, keypair_from_secret, GossipConfig, GossipEvent, GossipHandle};
use crate::mempool::{Mempool, MempoolLimits};
use crate::metrics::Metrics;
use crate::rejections::{RecentRejections, REJECTIONS_KEPT_MAX};
use crate::relay::{self, Submission};
use crate::server::{ApiLimits, Server};

pub struct NodeConfig {
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

/// What never changes while the node runs.
pub struct ChainInfo {
    /// The chain id and the genesis hash, which transactions and votes are
    /// signed for.
    pub identity: ChainIdentity,
    /// Served to clients that verify proofs and hold no genesis file.
    pub genesis: Genesis,
    /// This node's validator key, which is also its network identity.
    pub node_key: PublicKey,
}

/// What the API and the block producer share.
pub struct Shared {
    pub chain: ChainInfo,
    // Before `store`: fields drop in order, and the mempool holds a read
    // transaction that should end before the database closes.
    pub mempool: Mutex<Mempool>,
    pub store: Store,
    pub rejections: Mutex<RecentRejections>,
    /// Woken when a transaction is accepted, so a block follows promptly.
    pub work: Notify,
    /// Cleared at shutdown: submissions are then refused.
    pub accepting: AtomicBool,
    pub metrics: Metrics,
    pub gossip: Option<GossipHandle>,
    /// API submissions, on their way to the admission worker; taken away
    /// at shutdown, which ends the worker.
    pub submissions: Mutex<Option<mpsc::Sender<Submission>>>,
    /// Transactions admitted here, on their way to the gossip's batches.
    pub outbox: Option<mpsc::Sender<Vec<u8>>>,
    /// The highest height peers report (0: none known).
    network_height: AtomicU64,
    /// True once consensus has entered its first height: from then on it
    /// runs until the node stops.
    consensus_running: AtomicBool,
    /// The height of the last committed block. Event streams wait on it and
    /// read the blocks from the store themselves, so a slow follower only
    /// falls behind: nothing queues up for it here.
    pub committed: watch::Sender<u64>,
    /// True once the node is stopping: open event streams then end, rather
    /// than hold the API's shutdown until it cuts them (`Server::serve`).
    pub stopping: watch::Receiver<bool>,
    /// One permit per open event stream (see `events::EVENT_STREAMS_MAX`).
    pub event_streams: Arc<Semaphore>,
    /// True while this node's key belongs to no Participant: the other
    /// nodes take no gossip from it, so it serves reads only (an observer).
    read_only: AtomicBool,
}

impl Shared {
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    /// The block at `height` is stored: event streams may read it.
    pub fn block_committed(&self, height: u64) {
        self.committed.send_replace(height);
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Relaxed)
    }

    /// Whether this node is an observer now, given the Participants' nodes
    /// (`relay::participant_nodes`): if its key is none of theirs, no peer
    /// allows its gossip and a transaction submitted here would never reach
    /// a block.
    pub fn refresh_read_only(&self, participant_nodes: &[PublicKey]) {
        let read_only = !participant_nodes.contains(&self.chain.node_key);
        if self.read_only.swap(read_only, Ordering::Relaxed) != read_only {
            info!(read_only, "this node's standing as an observer changed");
        }
    }

    /// Consensus moved to `height`, with this many validators.
    pub fn entered_height(&self, height: u64, validators: usize) {
        Metrics::set(&self.metrics.height, height.saturating_sub(1));
        Metrics::set(&self.metrics.round, 0);
        Metrics::set(&self.metrics.validators, validators);
        self.consensus_running.store(true, Ordering::Relaxed);
    }

    pub fn consensus_running(&self) -> bool {
        self.consensus_running.load(Ordering::Relaxed)
    }

    pub fn set_network_height(&self, height: Option<u64>) {
        self.network_height
            .store(height.unwrap_or(0), Ordering::Relaxed);
    }

    pub fn network_height(&self) -> Option<u64> {
        Some(self.network_height.load(Ordering::Relaxed)).filter(|h| *h > 0)
    }

    /// Connected transaction-gossip peers.
    pub fn gossip_peers(&self) -> usize {
        self.gossip.as_ref().map_or(0, GossipHandle::peers)
    }

    /// After a block that changed the Participant set: whether this node is
    /// an observer, and which peers may gossip with it.
    pub async fn participants_changed(&self) {
        let nodes = match relay::participant_nodes(&self.store) {
            Ok(nodes) => nodes,
            Err(e) => {
                warn!(
                    code = e.code(),
                    "gossip allow-list and observer standing left as they were: {e}"
                );
                return;
            }
        };
        self.refresh_read_only(&nodes);
        let Some(gossip) = &self.gossip else { return };
        if let Err(e) = gossip.set_allowed_peers(relay::allowed_peers(&nodes)).await {
            warn!(code = e.code(), "cannot update the gossip allow-list: {e}");
        }
    }

    /// Keeps the reasons transactions were refused, for status queries.
    pub fn record_rejections(&self, refused: &[(TxId, Rejection)]) {
        let mut rejections = lock(&self.rejections);
        for (id, rejection) in refused {
            debug!(tx = %id, code = rejection.code(), "transaction refused");
            rejections.record(*id, rejection);
        }
    }

    /// After a block, or after the proposer left some out: drops `settled`
    /// from the mempool and re-checks the rest over the committed state,
    /// recording why any that no longer pass were dropped.
    pub fn settle_mempool(&self, settled: &HashSet<TxId>) -> Result<(), StoreError> {
        let mut mempool = lock(&self.mempool);
        let dropped = mempool.rebase(self.store.snapshot()?, settled, now_secs())?;
        Metrics::set(&self.metrics.mempool_txs, mempool.len());
        Metrics::set(&self.metrics.mempool_bytes, mempool.bytes());
        drop(mempool);
        self.record_rejections(&dropped);
        Ok(())
    }
}

/// Locks a mutex even if a thread panicked while holding it: the mempool and
/// the rejection log change in single steps, so what a panic leaves behind is
/// still whole, and one failed request must not take the node down.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This machine's clock, UTC seconds: a proposal for block time, never read
/// by the rules themselves.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs the node until SIGINT or SIGTERM, then stops taking transactions,
/// lets the block being committed finish, and returns.
pub async fn run(config: NodeConfig) -> anyhow::Result<()> {
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
    info!(height = tip.height, hash = %short(&tip.hash), "ledger opened");
    let chain = ChainInfo {
        identity: config.genesis.identity(),
        genesis: config.genesis.clone(),
        node_key: config.consensus.key.public(),
    };
    let gossip = match config.gossip {
        Some(settings) => Some(start_gossip(settings, &store, chain.identity.genesis).await?),
        None => None,
    };
    let (outbox_tx, outbox_rx) = match &gossip {
        Some(_) => {
            let (tx, rx) = mpsc::channel(relay::OUTBOX_TXS_MAX);
            (Some(tx), Some(rx))
        }
        None => (None, None),
    };
    let (submissions_tx, submissions_rx) = relay::submissions();
    let mempool = Mempool::new(
        store.snapshot()?,
        chain.identity.clone(),
        MempoolLimits::default(),
    )?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        chain,
        mempool: Mutex::new(mempool),
        store,
        rejections: Mutex::new(RecentRejections::new(REJECTIONS_KEPT_MAX)),
        work: Notify::new(),
        accepting: AtomicBool::new(true),
        metrics: Metrics::register(),
        gossip: gossip.as_ref().map(|(handle, _)| handle.clone()),
        outbox: outbox_tx,
        submissions: Mutex::new(Some(submissions_tx)),
        network_height: AtomicU64::new(0),
        consensus_running: AtomicBool::new(false),
        committed: watch::Sender::new(tip.height),
        stopping: stop_rx.clone(),
        event_streams: Arc::new(Semaphore::new(crate::events::EVENT_STREAMS_MAX)),
        read_only: AtomicBool::new(false),
    });
    shared.refresh_read_only(&relay::participant_nodes(&shared.store)?);

    // From here on nothing returns early: every task started is stopped,
    // and waited for, on the way out.
    let admission_shared = shared.clone();
    let admission_task = tokio::task::spawn_blocking(move || {
        relay::admit_submissions(&admission_shared, submissions_rx)
    });

    let api_stop = stop_rx.clone();
    let router = crate::api::router(shared.clone());
    let mut api_task = tokio::spawn(async move {
        server.serve(router, api_stop).await;
        Ok::<(), Infallible>(())
    });
    let relay_task = gossip.zip(outbox_rx).map(|((handle, events), outbox)| {
        tokio::spawn(relay::run(
            shared.clone(),
            handle,
            events,
            outbox,
            stop_rx.clone(),
        ))
    });
    let mut producer_task = tokio::spawn(consensus::run(shared.clone(), config.consensus, stop_rx));
    info!(url = %format!("http://{api_addr}"), "API listening");
    println!("API        http://{api_addr}");

    // Which task, if any, ended on its own (a JoinHandle is awaited once).
    let mut producer_done = false;
    let mut api_done = false;
    let mut outcome: anyhow::Result<()> = tokio::select! {
        _ = sigterm.recv() => { info!("SIGTERM: shutting down"); Ok(()) }
        _ = sigint.recv() => { info!("SIGINT: shutting down"); Ok(()) }
        result = &mut producer_task => {
            producer_done = true;
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

    shared.accepting.store(false, Ordering::SeqCst);
    lock(&shared.submissions).take();
    // Ignored error: the receivers may be gone already, which is the goal.
    let _ = stop_tx.send(true);
    let mut stopping = Vec::new();
    if !producer_done {
        stopping.push(joined(producer_task.await, "consensus"));
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
    let tip = shared.store.tip()?;
    info!(height = tip.height, hash = %short(&tip.hash), "stopped");
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
        allowed: relay::allowed_peers(&relay::participant_nodes(store)?),
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
