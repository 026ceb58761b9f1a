//! Wiring: opens the ledger, starts the block producer and the API over the
//! same store and mempool, and stops them in order on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use kp_crypto::{Hash32, SecretKey};
use kp_ledger::api::ValidatorView;
use kp_ledger::genesis::Genesis;
use kp_ledger::store::Store;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{watch, Notify};
use tokio::task::JoinError;
use tracing::{error, info};

use crate::consensus::SoloValidator;
use crate::mempool::{Mempool, MempoolLimits};
use crate::rejections::{RecentRejections, REJECTIONS_KEPT_MAX};

pub struct NodeConfig {
    pub genesis: Genesis,
    pub validator: SecretKey,
    pub db_path: PathBuf,
    pub api_addr: SocketAddr,
    pub block_interval: Duration,
}

/// What never changes while the node runs.
pub struct ChainInfo {
    pub chain_id: String,
    pub genesis_hash: Hash32,
    pub validators: Vec<ValidatorView>,
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
}

impl Shared {
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
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

    let store = Store::open(&config.db_path, &config.genesis)?;
    let tip = store.tip()?;
    info!(height = tip.height, hash = %short(&tip.hash), "ledger opened");
    let validator = config.validator.public();
    let chain = ChainInfo {
        chain_id: config.genesis.chain_id.clone(),
        genesis_hash: config.genesis.hash(),
        validators: config
            .genesis
            .participants
            .iter()
            .filter(|p| p.validator == Some(validator))
            .map(|p| ValidatorView {
                participant: p.code,
                key: validator,
            })
            .collect(),
    };
    let mempool = Mempool::new(
        store.snapshot()?,
        chain.chain_id.clone(),
        MempoolLimits::default(),
    )?;
    let shared = Arc::new(Shared {
        chain,
        mempool: Mutex::new(mempool),
        store,
        rejections: Mutex::new(RecentRejections::new(REJECTIONS_KEPT_MAX)),
        work: Notify::new(),
        accepting: AtomicBool::new(true),
    });

    let listener = tokio::net::TcpListener::bind(config.api_addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another node using it? try --api)",
                config.api_addr
            )
        })?;
    let api_addr = listener
        .local_addr()
        .context("cannot read the API address")?;
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut api_stop = stop_rx.clone();
    let router = crate::api::router(shared.clone());
    let mut api_task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                // An error means the sender is gone: stop as well.
                let _ = api_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    let producer = SoloValidator::new(shared.clone(), config.validator, config.block_interval);
    let mut producer_task = tokio::spawn(producer.run(stop_rx));
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
            ended_early(result, "block production")
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
    // Ignored error: the receivers may be gone already, which is the goal.
    let _ = stop_tx.send(true);
    let mut stopping = Vec::new();
    if !producer_done {
        stopping.push(joined(producer_task.await, "block production"));
    }
    if !api_done {
        stopping.push(joined(api_task.await, "the API server"));
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

/// The first 12 hex characters of a hash, for logs.
pub fn short(hash: &Hash32) -> String {
    hash.to_hex()[..12].to_owned()
}
