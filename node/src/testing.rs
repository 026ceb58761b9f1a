//! Services over a fresh ledger of the test chain, for unit tests of what
//! works through their handles (admission, consensus, the HTTP layer).

use std::sync::Arc;

use kp_ledger::testkit::{key_named, test_genesis};
use kp_store::Store;
use tempfile::TempDir;

use crate::chain::{ChainInfo, ChainView};
use crate::consensus::EngineCertificates;
use crate::mempool::{MempoolHandle, MempoolLimits};
use crate::metrics::Metrics;

pub struct TestNode {
    /// Holds the ledger's file for as long as the node lives.
    pub _dir: TempDir,
    pub chain: ChainView,
    pub mempool: MempoolHandle,
    pub metrics: Arc<Metrics>,
}

/// A node of the test chain whose key is `node_key` (`validator BW` is
/// Botswana's validator; a name that is no Participant's makes an observer),
/// its mempool under `limits`.
pub fn test_node(node_key: &str, limits: MempoolLimits) -> TestNode {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = test_genesis();
    let store = Store::open(
        &dir.path().join("ledger.redb"),
        &genesis,
        Arc::new(EngineCertificates),
    )
    .expect("open");
    let info = ChainInfo {
        identity: genesis.identity(),
        genesis,
        node_key: key_named(node_key).public(),
    };
    let chain = ChainView::new(info, store).expect("chain view");
    let metrics = Arc::new(Metrics::register());
    let mempool = MempoolHandle::new(chain.clone(), limits, metrics.clone()).expect("mempool");
    TestNode {
        _dir: dir,
        chain,
        mempool,
        metrics,
    }
}
