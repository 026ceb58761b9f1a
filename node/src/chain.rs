//! The chain view: the committed ledger and what the node knows about its
//! place in the chain (the committed height, the height peers report,
//! whether consensus runs, whether this node is an observer). Consensus
//! writes it; the HTTP layer, the relay and the event streams read it.
//! A cheap-to-clone handle: every clone sees the one store.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use kp_crypto::PublicKey;
use kp_ledger::chain::ChainIdentity;
use kp_ledger::genesis::Genesis;
use kp_store::{Snapshot, Store, StoreError};
use tokio::sync::watch;
use tracing::info;

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

#[derive(Clone)]
pub struct ChainView {
    inner: Arc<Inner>,
}

struct Inner {
    info: ChainInfo,
    store: Store,
    /// The height of the last committed block. Event streams wait on it and
    /// read the blocks from the store themselves, so a slow follower only
    /// falls behind: nothing queues up for it here.
    committed: watch::Sender<u64>,
    /// The highest height peers report (0: none known).
    network_height: AtomicU64,
    /// True once consensus has entered its first height: from then on it
    /// runs until the node stops.
    consensus_running: AtomicBool,
    /// True while this node's key belongs to no Participant: the other
    /// nodes take no gossip from it, so it serves reads only (an observer).
    read_only: AtomicBool,
}

impl ChainView {
    /// A view of `store`, whose last committed block is the tip.
    pub fn new(info: ChainInfo, store: Store) -> Result<Self, StoreError> {
        let tip = store.tip()?;
        Ok(ChainView {
            inner: Arc::new(Inner {
                info,
                store,
                committed: watch::Sender::new(tip.height),
                network_height: AtomicU64::new(0),
                consensus_running: AtomicBool::new(false),
                read_only: AtomicBool::new(false),
            }),
        })
    }

    pub fn info(&self) -> &ChainInfo {
        &self.inner.info
    }

    pub fn identity(&self) -> &ChainIdentity {
        &self.inner.info.identity
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// A fresh snapshot of the committed ledger.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.inner.store.snapshot()
    }

    /// The block at `height` is stored: event streams may read it.
    pub fn block_committed(&self, height: u64) {
        self.inner.committed.send_replace(height);
    }

    /// The committed height, as it changes.
    pub fn committed(&self) -> watch::Receiver<u64> {
        self.inner.committed.subscribe()
    }

    pub fn is_read_only(&self) -> bool {
        self.inner.read_only.load(Ordering::Relaxed)
    }

    /// Whether this node is an observer now, given the Participants' nodes
    /// (`peers::participant_nodes`): if its key is none of theirs, no peer
    /// allows its gossip and a transaction submitted here would never reach
    /// a block.
    pub fn refresh_read_only(&self, participant_nodes: &[PublicKey]) {
        let read_only = !participant_nodes.contains(&self.inner.info.node_key);
        if self.inner.read_only.swap(read_only, Ordering::Relaxed) != read_only {
            info!(read_only, "this node's standing as an observer changed");
        }
    }

    /// Consensus has entered a height: from now on it runs.
    pub fn consensus_started(&self) {
        self.inner.consensus_running.store(true, Ordering::Relaxed);
    }

    pub fn consensus_running(&self) -> bool {
        self.inner.consensus_running.load(Ordering::Relaxed)
    }

    pub fn set_network_height(&self, height: Option<u64>) {
        self.inner
            .network_height
            .store(height.unwrap_or(0), Ordering::Relaxed);
    }

    pub fn network_height(&self) -> Option<u64> {
        Some(self.inner.network_height.load(Ordering::Relaxed)).filter(|h| *h > 0)
    }
}
