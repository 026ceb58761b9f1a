//! The mempool service: the transactions accepted here and waiting for a
//! block, checked over the committed chain (`pool`), why those dropped
//! since were dropped (`dropped`), the proposer's wake-up when there is
//! work, and the mempool's metrics. The
//! rest of the node reaches it through a [`MempoolHandle`]: admission and
//! the relay put transactions in, consensus takes them out and settles
//! them, the HTTP layer reads.

mod dropped;
mod pool;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kp_crypto::PublicKey;
use kp_ledger::model::TxId;
use kp_ledger::rejection::Rejection;
use kp_ledger::state::StorageFault;
use kp_ledger::tx::DecodedTx;
use kp_store::StoreError;
use kp_wire::api::ApiError;
use tokio::sync::Notify;
use tracing::debug;

use self::dropped::{DroppedTxs, DROPPED_KEPT_MAX};
#[cfg(test)]
pub(crate) use self::pool::tests::enrol;
pub use self::pool::{AdmitError, Admitted, Mempool, MempoolLimits, Source};
use crate::chain::ChainView;
use crate::clock::now_secs;
use crate::lock::lock;
use crate::metrics::Metrics;

/// The mempool, shared: clones reach the same one.
#[derive(Clone)]
pub struct MempoolHandle {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Mutex<Mempool>,
    dropped: Mutex<DroppedTxs>,
    /// Woken when a transaction is accepted, so a block follows promptly.
    work: Notify,
    metrics: Arc<Metrics>,
    /// What the pool is checked over. Last: fields drop in order, and the
    /// pool holds a read transaction of the chain's store, which must end
    /// before the database closes.
    chain: ChainView,
}

impl MempoolHandle {
    /// An empty mempool over `chain`'s committed state.
    pub fn new(
        chain: ChainView,
        limits: MempoolLimits,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let pool = Mempool::new(chain.snapshot()?, chain.identity().clone(), limits)?;
        Ok(MempoolHandle {
            inner: Arc::new(Inner {
                pool: Mutex::new(pool),
                dropped: Mutex::new(DroppedTxs::new(DROPPED_KEPT_MAX)),
                work: Notify::new(),
                metrics,
                chain,
            }),
        })
    }

    /// Admits transactions in order, under one lock, waking the proposer if
    /// any is new. Each comes checked (decoded, its signature verified) or
    /// refused already, and a refused one is answered as such in its place.
    pub fn admit(
        &self,
        txs: impl IntoIterator<Item = Result<DecodedTx, Rejection>>,
        source: Source,
    ) -> Vec<Result<Admitted, AdmitError>> {
        let now = now_secs();
        let outcomes: Vec<_> = {
            let mut pool = lock(&self.inner.pool);
            txs.into_iter()
                .map(|tx| pool.admit(tx.map_err(AdmitError::Rejected)?, now, source))
                .collect()
        };
        if outcomes.iter().any(|o| matches!(o, Ok(Admitted::New))) {
            self.inner.work.notify_one();
        }
        outcomes
    }

    /// When nothing waits, waits up to `wait` for a transaction to be
    /// admitted.
    pub async fn wait_for_work(&self, wait: Duration) {
        if lock(&self.inner.pool).is_empty() {
            // `notify_one` keeps a permit when nobody waits, so a submission
            // between the check and the wait is not lost.
            let _ = tokio::time::timeout(wait, self.inner.work.notified()).await;
        }
    }

    pub fn contains(&self, id: &TxId) -> bool {
        lock(&self.inner.pool).contains(id)
    }

    /// Those of `txs` that wait here already, under one lock.
    pub fn waiting_among(&self, txs: &[DecodedTx]) -> HashSet<TxId> {
        let pool = lock(&self.inner.pool);
        txs.iter()
            .filter(|tx| pool.contains(&tx.id))
            .map(|tx| tx.id)
            .collect()
    }

    pub fn len(&self) -> usize {
        lock(&self.inner.pool).len()
    }

    pub fn is_empty(&self) -> bool {
        lock(&self.inner.pool).is_empty()
    }

    /// Up to `max` waiting transactions, oldest first.
    pub fn batch(&self, max: usize) -> Vec<DecodedTx> {
        lock(&self.inner.pool).batch(max)
    }

    /// The signer's last nonce counting the waiting transactions.
    pub fn pending_nonce(&self, signer: &PublicKey) -> Result<u64, StorageFault> {
        lock(&self.inner.pool).pending_nonce(signer)
    }

    /// Keeps the reasons transactions were refused, for status queries.
    pub fn record_dropped(&self, refused: &[(TxId, Rejection)]) {
        let mut dropped = lock(&self.inner.dropped);
        for (id, rejection) in refused {
            debug!(tx = %id, code = rejection.code(), "transaction refused");
            dropped.record(*id, rejection);
        }
    }

    /// Why transaction `id` was dropped, if it was, lately.
    pub fn dropped(&self, id: &TxId) -> Option<ApiError> {
        lock(&self.inner.dropped).get(id).cloned()
    }

    /// After a block, or after the proposer left some out: drops `settled`
    /// from the mempool and re-checks the rest over the committed state,
    /// recording why any that no longer pass were dropped.
    pub fn settle(&self, settled: &HashSet<TxId>) -> Result<(), StoreError> {
        let mut pool = lock(&self.inner.pool);
        let dropped = pool.rebase(self.inner.chain.snapshot()?, settled, now_secs())?;
        self.set_metrics(&pool);
        drop(pool);
        self.record_dropped(&dropped);
        Ok(())
    }

    /// Brings the mempool's gauges up to date, for a scrape.
    pub fn update_metrics(&self) {
        self.set_metrics(&lock(&self.inner.pool));
    }

    fn set_metrics(&self, pool: &Mempool) {
        Metrics::set(&self.inner.metrics.mempool_txs, pool.len());
        Metrics::set(&self.inner.metrics.mempool_bytes, pool.bytes());
    }
}
