//! What the HTTP handlers work with: a handle on each service they reach,
//! and nothing else (axum clones it for every request, so each is cheap to
//! clone).

use std::sync::Arc;

use kp_store::Snapshot;
use tokio::sync::{watch, Semaphore};

use super::error::ErrorResponse;
use crate::admission::AdmissionHandle;
use crate::chain::ChainView;
use crate::gossip::GossipHandle;
use crate::mempool::MempoolHandle;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct HttpState {
    pub chain: ChainView,
    pub mempool: MempoolHandle,
    pub admission: AdmissionHandle,
    /// Transaction gossip, for its peer count; none for a chain of one.
    pub gossip: Option<GossipHandle>,
    pub metrics: Arc<Metrics>,
    /// True once the node is stopping: open event streams then end, rather
    /// than hold the API's shutdown until it cuts them (`Server::serve`).
    pub stopping: watch::Receiver<bool>,
    /// One permit per open event stream (see `events::EVENT_STREAMS_MAX`).
    pub event_streams: Arc<Semaphore>,
}

impl HttpState {
    /// Connected transaction-gossip peers.
    pub fn gossip_peers(&self) -> usize {
        self.gossip.as_ref().map_or(0, GossipHandle::peers)
    }

    /// Runs `work` on a blocking thread: redb is synchronous, and the mempool
    /// may be locked for a whole re-check after a block.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, ErrorResponse>
    where
        T: Send + 'static,
        F: FnOnce(&HttpState) -> Result<T, ErrorResponse> + Send + 'static,
    {
        let state = self.clone();
        on_blocking_thread(move || work(&state)).await
    }

    /// Runs `read` over a fresh snapshot of the committed ledger.
    pub async fn read<T, F>(&self, read: F) -> Result<T, ErrorResponse>
    where
        T: Send + 'static,
        F: FnOnce(&Snapshot) -> Result<T, ErrorResponse> + Send + 'static,
    {
        read_ledger(&self.chain, read).await
    }
}

/// Runs `read` over a fresh snapshot of `chain`'s committed ledger, on a
/// blocking thread: for an event stream, which holds the chain and not
/// the whole state.
pub async fn read_ledger<T, F>(chain: &ChainView, read: F) -> Result<T, ErrorResponse>
where
    T: Send + 'static,
    F: FnOnce(&Snapshot) -> Result<T, ErrorResponse> + Send + 'static,
{
    let chain = chain.clone();
    on_blocking_thread(move || read(&chain.snapshot()?)).await
}

async fn on_blocking_thread<T, F>(work: F) -> Result<T, ErrorResponse>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ErrorResponse> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ErrorResponse::internal(format!("the request's work failed: {e}")))?
}
