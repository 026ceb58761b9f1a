//! Prometheus metrics, served at `/metrics` together with the consensus
//! engine's own (they share one registry): in OpenMetrics when the scraper
//! asks for it (Prometheus does), else in Prometheus's classic text format.
//!
//! The registry encodes OpenMetrics. Two things are mended on the way out:
//! the engine registers some counters with names that already end in
//! `_total`, to which OpenMetrics adds another (`..._total_total`); and the
//! classic text format names a counter's family after its sample
//! (`kp_txs_committed_total`), has no `# UNIT` and no `# EOF`.

use std::collections::HashSet;

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

/// A format `/metrics` is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    /// Prometheus's text format 0.0.4.
    Text,
}

const OPEN_METRICS_MEDIA_TYPE: &str = "application/openmetrics-text";

impl Format {
    /// The format for a request's `Accept` header: OpenMetrics when it
    /// names it with a preference no lower than any other type it takes,
    /// the text format otherwise (no header, `*/*`, `text/plain`).
    pub fn negotiate(accept: Option<&str>) -> Format {
        let mut open_metrics = 0.0_f32;
        let mut other = 0.0_f32;
        for range in accept.unwrap_or_default().split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media_type = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if media_type == OPEN_METRICS_MEDIA_TYPE {
                open_metrics = open_metrics.max(quality);
            } else if !media_type.is_empty() {
                other = other.max(quality);
            }
        }
        if open_metrics > 0.0 && open_metrics >= other {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Every metric of this process, in `format`.
pub fn export(format: Format) -> String {
    let mut open_metrics = String::new();
    malachitebft_app_channel::app::metrics::export(&mut open_metrics);
    let open_metrics = without_double_total(&open_metrics);
    match format {
        Format::OpenMetrics => open_metrics,
        Format::Text => to_text_format(&open_metrics),
    }
}

/// The metric a line is about: the name in `# HELP`, `# TYPE` and
/// `# UNIT` lines, and a sample's name (before its labels or value).
fn metric_name(line: &str) -> Option<&str> {
    match line.strip_prefix("# ") {
        Some(comment) => {
            let mut words = comment.split(' ');
            match words.next() {
                Some("HELP" | "TYPE" | "UNIT") => words.next(),
                _ => None,
            }
        }
        None => line
            .split(['{', ' '])
            .next()
            .filter(|name| !name.is_empty()),
    }
}

/// The counter families of an OpenMetrics text, from their `# TYPE` lines.
fn counters(open_metrics: &str) -> HashSet<&str> {
    open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect()
}

/// `line` with the metric `name` it starts with (after `# HELP ` and the
/// like, if a comment) renamed to `renamed`.
fn rename(line: &str, name: &str, renamed: &str) -> String {
    match line.strip_prefix("# ") {
        Some(comment) => {
            let (keyword, rest) = comment.split_once(' ').unwrap_or((comment, ""));
            let rest = rest.strip_prefix(name).unwrap_or(rest);
            format!("# {keyword} {renamed}{rest}")
        }
        None => format!("{renamed}{}", line.strip_prefix(name).unwrap_or(line)),
    }
}

/// OpenMetrics whose counter families named `X_total` (samples
/// `X_total_total`) are renamed `X` (samples `X_total`), as OpenMetrics
/// means a counter to be named.
fn without_double_total(open_metrics: &str) -> String {
    let doubled: HashSet<&str> = counters(open_metrics)
        .into_iter()
        .filter(|family| family.ends_with("_total"))
        .collect();
    let mut family = "";
    let mut out = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        let name = metric_name(line).unwrap_or_default();
        if line.starts_with("# ") && !name.is_empty() {
            family = name;
        }
        match family.strip_suffix("_total") {
            Some(base) if doubled.contains(family) && name.starts_with(family) => {
                // `X_total_total` -> `X_total`, `X_total` (the family) -> `X`.
                let renamed = format!("{base}{}", &name[family.len()..]);
                out.push_str(&rename(line, name, &renamed));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// OpenMetrics as Prometheus's text format 0.0.4: a counter family takes
/// its sample's name (`_total`), and `# UNIT` and `# EOF` go.
fn to_text_format(open_metrics: &str) -> String {
    let counters = counters(open_metrics);
    let mut out = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        match metric_name(line) {
            Some(name) if line.starts_with("# ") && counters.contains(name) => {
                out.push_str(&rename(line, name, &format!("{name}_total")));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How the engine's registry encodes a counter registered as
    /// `sync_status_total`, beside one of the node's own and a histogram.
    const ENGINE_LIKE: &str = "\
# HELP sync_status_total Total number of status updates received.
# TYPE sync_status_total counter
sync_status_total_total{moniker=\"BW-dev\"} 3
# HELP kp_txs_committed Transactions committed since the node started.
# TYPE kp_txs_committed counter
kp_txs_committed_total 7
# HELP rtt_seconds Round trip.
# TYPE rtt_seconds histogram
# UNIT rtt_seconds seconds
rtt_seconds_sum 0.5
rtt_seconds_count 1
rtt_seconds_bucket{le=\"+Inf\"} 1
# EOF
";

    #[test]
    fn prometheus_gets_openmetrics_and_others_the_text_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0,\
            application/openmetrics-text;version=0.0.1;q=0.75,\
            text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
        for other in [
            None,
            Some(""),
            Some("*/*"),
            Some("text/plain"),
            Some("text/plain, application/openmetrics-text;q=0.5"),
            Some("application/openmetrics-text;q=0"),
        ] {
            assert_eq!(Format::negotiate(other), Format::Text, "{other:?}");
        }
    }

    #[test]
    fn a_counter_named_total_is_not_totalled_twice() {
        let fixed = without_double_total(ENGINE_LIKE);
        assert!(!fixed.contains("_total_total"), "{fixed}");
        assert!(fixed.contains("# HELP sync_status Total number of status updates received.\n"));
        assert!(fixed.contains("# TYPE sync_status counter\n"));
        assert!(fixed.contains("sync_status_total{moniker=\"BW-dev\"} 3\n"));
        assert!(fixed.contains("# TYPE kp_txs_committed counter\nkp_txs_committed_total 7\n"));
        assert!(fixed.ends_with("# EOF\n"));
    }

    #[test]
    fn the_text_format_names_counters_by_their_samples() {
        let text = to_text_format(&without_double_total(ENGINE_LIKE));
        assert!(
            text.contains("# HELP sync_status_total Total number"),
            "{text}"
        );
        assert!(text.contains("# TYPE sync_status_total counter\nsync_status_total{"));
        assert!(text.contains("# TYPE kp_txs_committed_total counter\nkp_txs_committed_total 7"));
        assert!(text.contains("# TYPE rtt_seconds histogram\nrtt_seconds_sum 0.5"));
        assert!(
            !text.contains("# UNIT") && !text.contains("# EOF"),
            "{text}"
        );
    }
}
