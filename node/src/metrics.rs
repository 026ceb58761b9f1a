//! Prometheus metrics, served at `/metrics` in the text format together
//! with the consensus engine's own (they share one registry).

use malachitebft_app_channel::app::metrics::prometheus::metrics::counter::Counter;
use malachitebft_app_channel::app::metrics::prometheus::metrics::gauge::Gauge;
use malachitebft_app_channel::app::metrics::prometheus::metrics::histogram::Histogram;
use malachitebft_app_channel::app::metrics::SharedRegistry;

pub struct Metrics {
    pub height: Gauge,
    pub round: Gauge,
    pub validators: Gauge,
    pub peers: Gauge,
    pub mempool_txs: Gauge,
    pub mempool_bytes: Gauge,
    pub txs_committed: Counter,
    /// Seconds from the start of a height to its block being committed.
    pub commit_latency: Histogram,
}

impl Metrics {
    /// Creates the node's metrics and registers them under the `kp` prefix.
    pub fn register() -> Self {
        let metrics = Metrics {
            height: Gauge::default(),
            round: Gauge::default(),
            validators: Gauge::default(),
            peers: Gauge::default(),
            mempool_txs: Gauge::default(),
            mempool_bytes: Gauge::default(),
            txs_committed: Counter::default(),
            commit_latency: Histogram::new([
                0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0,
            ]),
        };
        SharedRegistry::global().with_prefix("kp", |registry| {
            registry.register(
                "height",
                "Height of the last committed block",
                metrics.height.clone(),
            );
            registry.register(
                "round",
                "Consensus round at the current height",
                metrics.round.clone(),
            );
            registry.register(
                "validators",
                "Validators at the current height",
                metrics.validators.clone(),
            );
            registry.register(
                "peers",
                "Connected transaction-gossip peers",
                metrics.peers.clone(),
            );
            registry.register(
                "mempool_txs",
                "Transactions waiting for a block",
                metrics.mempool_txs.clone(),
            );
            registry.register(
                "mempool_bytes",
                "Bytes of the transactions waiting for a block",
                metrics.mempool_bytes.clone(),
            );
            registry.register(
                "txs_committed",
                "Transactions committed since the node started",
                metrics.txs_committed.clone(),
            );
            registry.register(
                "commit_latency_seconds",
                "From the start of a height to its block being committed",
                metrics.commit_latency.clone(),
            );
        });
        metrics
    }

    pub fn set<T: TryInto<i64>>(gauge: &Gauge, value: T) {
        gauge.set(value.try_into().unwrap_or(i64::MAX));
    }
}

/// Every metric of this process, in the Prometheus text format.
pub fn export() -> String {
    let mut text = String::new();
    malachitebft_app_channel::app::metrics::export(&mut text);
    text
}
