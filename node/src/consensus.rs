//! Block production: the only path by which blocks come to be, so that the
//! multi-validator engine (the network issue) replaces this module alone.
//!
//! This is the one-validator case: the node's own validator decides alone.
//! Whenever transactions wait, and no sooner than one block interval after
//! the last block, it builds a block from them in arrival order over the
//! committed state, commits it, and settles the mempool. No transactions,
//! no block.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use kp_crypto::SecretKey;
use kp_ledger::block::{build_block, TXS_PER_BLOCK_MAX};
use kp_ledger::state::StorageFault;
use kp_ledger::store::StoreError;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info};

use crate::node::{lock, now_secs, short, Shared};

#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] StorageFault),
    #[error("the block-building task failed: {0}")]
    Task(String),
}

pub struct SoloValidator {
    shared: Arc<Shared>,
    key: Arc<SecretKey>,
    block_interval: Duration,
}

impl SoloValidator {
    pub fn new(shared: Arc<Shared>, key: SecretKey, block_interval: Duration) -> Self {
        SoloValidator {
            shared,
            key: Arc::new(key),
            block_interval,
        }
    }

    /// Produces blocks until `stop` turns true. A block being built or
    /// committed when it does is finished first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<(), ProduceError> {
        let mut last_block: Option<Instant> = None;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            if lock(&self.shared.mempool).is_empty() {
                // `notify_one` keeps a permit when nobody waits, so a
                // submission between the check and the wait is not lost.
                tokio::select! {
                    _ = stop.changed() => return Ok(()),
                    _ = self.shared.work.notified() => continue,
                }
            }
            if let Some(last) = last_block {
                let next = last + self.block_interval;
                if next > Instant::now() {
                    tokio::select! {
                        _ = stop.changed() => return Ok(()),
                        _ = tokio::time::sleep_until(next) => {}
                    }
                }
            }
            let shared = self.shared.clone();
            let key = self.key.clone();
            // redb is synchronous: build and commit on a blocking thread,
            // and wait for it even if asked to stop meanwhile.
            tokio::task::spawn_blocking(move || produce_block(&shared, &key))
                .await
                .map_err(|e| ProduceError::Task(e.to_string()))??;
            last_block = Some(Instant::now());
        }
    }
}

/// Builds one block from what waits, commits it if it carries anything, and
/// settles the mempool: included and refused transactions leave it, and the
/// rest are re-checked over the new state.
fn produce_block(shared: &Shared, key: &SecretKey) -> Result<(), ProduceError> {
    let candidates = lock(&shared.mempool).batch(TXS_PER_BLOCK_MAX);
    if candidates.is_empty() {
        return Ok(());
    }
    let snapshot = shared.store.snapshot()?;
    let tip = snapshot.tip()?;
    let time = now_secs().max(tip.time);
    let built = build_block(
        &snapshot,
        &tip,
        &shared.chain.chain_id,
        time,
        key.public(),
        candidates,
    )?;
    drop(snapshot);

    let applied = &built.applied;
    if applied.block.txs.is_empty() {
        info!(
            refused = built.rejected.len(),
            "no block: every waiting transaction was refused"
        );
    } else {
        shared.store.commit(applied)?;
        info!(
            height = applied.block.header.height,
            txs = applied.block.txs.len(),
            refused = built.rejected.len(),
            hash = %short(&applied.hash),
            "committed block"
        );
    }

    // Reasons are recorded before the mempool lets go of the transactions,
    // so a status query always finds each one somewhere.
    {
        let mut rejections = lock(&shared.rejections);
        for (id, rejection) in &built.rejected {
            debug!(tx = %id, code = rejection.code(), "transaction refused at block building");
            rejections.record(*id, rejection);
        }
    }
    let settled: HashSet<_> = applied
        .txs
        .iter()
        .map(|t| t.id)
        .chain(built.rejected.iter().map(|(id, _)| *id))
        .collect();
    let mut mempool = lock(&shared.mempool);
    let dropped = mempool.rebase(shared.store.snapshot()?, &settled, now_secs())?;
    let mut rejections = lock(&shared.rejections);
    for (id, rejection) in &dropped {
        debug!(tx = %id, code = rejection.code(), "waiting transaction no longer passes");
        rejections.record(*id, rejection);
    }
    Ok(())
}
