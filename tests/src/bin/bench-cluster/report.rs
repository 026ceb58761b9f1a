//! The figures, from what was sent and what was seen committed: rates,
//! latency percentiles, block sizes; printed for people, or as JSON.

use std::collections::{BTreeMap, HashMap};

use kp_ledger::model::TxId;
use serde::Serialize;

use crate::cluster::Node;
use crate::load::{PhaseLoad, SeenBlock};
use crate::usage::Usage;

/// Issue #3's targets.
pub const FINALIZED_PER_SEC_TARGET: f64 = 5_000.0;
pub const LATENCY_P99_MS_TARGET: f64 = 1_000.0;

#[derive(Serialize)]
pub struct Report {
    pub validators: usize,
    /// Cores this machine offers (`available_parallelism`).
    pub cores: usize,
    pub followed_node: usize,
    pub poll_ms: u64,
    pub signatures: SignatureCeiling,
    pub phases: Vec<PhaseReport>,
    pub targets: Targets,
}

/// The bound signature checking alone puts on the cluster: every validator
/// verifies every transaction, and here all of them share this machine.
#[derive(Serialize)]
pub struct SignatureCeiling {
    pub batch_size: usize,
    pub batches: u64,
    /// Batched ed25519 (ZIP-215) verifications a second on one core.
    pub per_core_per_sec: f64,
    /// cores x per_core_per_sec / validators.
    pub ceiling_tx_per_sec: f64,
}

#[derive(Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Nearest-rank percentiles; `None` for no values.
pub fn percentiles(values: &mut [f64]) -> Option<Percentiles> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let index = ((p / 100.0) * values.len() as f64).ceil() as usize;
        values[index.clamp(1, values.len()) - 1]
    };
    Some(Percentiles {
        p50: rank(50.0),
        p90: rank(90.0),
        p99: rank(99.0),
        max: values[values.len() - 1],
    })
}

#[derive(Serialize)]
pub struct BlockStats {
    pub count: usize,
    pub txs_mean: f64,
    pub txs_max: usize,
    /// Mean time between blocks seen, ms.
    pub interval_ms_mean: Option<f64>,
}

#[derive(Serialize)]
pub struct PhaseReport {
    pub name: String,
    pub offered_per_sec: f64,
    pub duration_secs: f64,
    pub slots: u64,
    pub requests: u64,
    /// Requests over the time it took to make them: below the offered
    /// rate when the senders could not keep up.
    pub sent_per_sec: f64,
    /// How late requests went out after their slot was due, ms.
    pub lateness_ms: Option<Percentiles>,
    pub unsent: u64,
    pub accepted: usize,
    /// Refusals by the API's error code (503 `mempool_full` ...).
    pub refused: BTreeMap<String, u64>,
    pub failed: u64,
    pub first_failure: Option<String>,
    /// Accepted transactions of this phase in blocks seen committed within
    /// the phase's window (its start plus its duration).
    pub finalized_in_window: usize,
    /// `finalized_in_window` over the window's length.
    pub finalized_per_sec: f64,
    /// Accepted transactions seen committed by the end of the run.
    pub finalized_total: usize,
    /// Share of those committed in a block proposed by the node they were
    /// submitted to. Proposers take turns, so with gossip carrying every
    /// transaction to every node this is about 1 / validators; a transaction
    /// that only its own node holds pushes it towards 1.
    pub proposed_by_ingress_node: f64,
    pub unfinalized: usize,
    /// Submit (request sent) to the block seen committed, ms, over
    /// `finalized_total`.
    pub latency_ms: Option<Percentiles>,
    /// Blocks seen committed within the window (any transactions).
    pub blocks: BlockStats,
    pub nodes_cores: Option<f64>,
    pub driver_cores: Option<f64>,
    /// The nodes' CPU time per transaction committed while the phase's
    /// requests went out, µs: what the cluster spends on one transaction.
    pub nodes_cpu_us_per_tx: Option<f64>,
    /// The nodes' `kp_commit_latency_seconds` (start of a height to its
    /// commit), mean over the window, ms.
    pub commit_latency_ms_mean: Option<f64>,
    /// Each node's `pending_txs` when the phase's last request was answered.
    pub mempool_txs_at_end: Vec<u64>,
    /// Whether every mempool emptied before the next phase.
    pub drained: bool,
}

/// What was measured around a phase besides its load.
pub struct Observed {
    pub usage: Usage,
    pub mempool_txs_at_end: Vec<u64>,
    pub drained: bool,
}

/// The block each transaction was committed in.
pub fn blocks_by_tx(blocks: &[SeenBlock]) -> HashMap<TxId, &SeenBlock> {
    blocks
        .iter()
        .flat_map(|b| b.txs.iter().map(move |id| (*id, b)))
        .collect()
}

pub fn phase_report(
    load: &PhaseLoad,
    nodes: &[Node],
    blocks: &[SeenBlock],
    committed: &HashMap<TxId, &SeenBlock>,
    observed: Observed,
) -> PhaseReport {
    let phase = load.phase;
    let tally = &load.tally;
    let window_end = load.started + phase.duration;
    let mut latencies_ms = Vec::new();
    let mut finalized_in_window = 0;
    let mut by_ingress_node = 0;
    for tx in &tally.accepted {
        if let Some(block) = committed.get(&tx.id) {
            let seen = block.seen;
            latencies_ms.push(seen.saturating_duration_since(tx.sent).as_secs_f64() * 1e3);
            if seen <= window_end {
                finalized_in_window += 1;
            }
            if nodes.get(tx.node).map(|n| n.validator) == Some(block.proposer) {
                by_ingress_node += 1;
            }
        }
    }
    let in_window: Vec<&SeenBlock> = blocks
        .iter()
        .filter(|b| b.seen >= load.started && b.seen <= window_end)
        .collect();
    let block_txs: Vec<usize> = in_window.iter().map(|b| b.txs.len()).collect();
    let intervals_ms: Vec<f64> = in_window
        .windows(2)
        .map(|pair| pair[1].seen.duration_since(pair[0].seen).as_secs_f64() * 1e3)
        .collect();
    let usage = &observed.usage;
    let committed_while_sending: usize = blocks
        .iter()
        .filter(|b| b.seen >= usage.from && b.seen <= usage.to)
        .map(|b| b.txs.len())
        .sum();
    let nodes_cpu_us_per_tx = usage.nodes_cores.and_then(|cores| {
        let cpu_secs = cores * usage.to.duration_since(usage.from).as_secs_f64();
        (committed_while_sending > 0).then(|| cpu_secs * 1e6 / committed_while_sending as f64)
    });
    let sending_secs = load.finished.duration_since(load.started).as_secs_f64();
    let mut lateness = tally.lateness_ms.clone();
    PhaseReport {
        name: phase.name.to_owned(),
        offered_per_sec: phase.rate_per_sec,
        duration_secs: phase.duration.as_secs_f64(),
        slots: phase.slots(),
        requests: tally.requests,
        sent_per_sec: tally.requests as f64 / sending_secs.max(f64::MIN_POSITIVE),
        lateness_ms: percentiles(&mut lateness),
        unsent: tally.unsent,
        accepted: tally.accepted.len(),
        refused: tally.refused.clone(),
        failed: tally.failed,
        first_failure: tally.first_failure.clone(),
        finalized_in_window,
        finalized_per_sec: finalized_in_window as f64 / phase.duration.as_secs_f64(),
        proposed_by_ingress_node: by_ingress_node as f64 / latencies_ms.len().max(1) as f64,
        finalized_total: latencies_ms.len(),
        unfinalized: tally.accepted.len() - latencies_ms.len(),
        latency_ms: percentiles(&mut latencies_ms),
        blocks: BlockStats {
            count: block_txs.len(),
            txs_mean: block_txs.iter().sum::<usize>() as f64 / block_txs.len().max(1) as f64,
            txs_max: block_txs.iter().copied().max().unwrap_or(0),
            interval_ms_mean: (!intervals_ms.is_empty())
                .then(|| intervals_ms.iter().sum::<f64>() / intervals_ms.len() as f64),
        },
        nodes_cores: usage.nodes_cores,
        driver_cores: usage.driver_cores,
        nodes_cpu_us_per_tx,
        commit_latency_ms_mean: usage.commit_latency_ms_mean,
        mempool_txs_at_end: observed.mempool_txs_at_end,
        drained: observed.drained,
    }
}

#[derive(Serialize)]
pub struct Targets {
    pub finalized_per_sec: Option<f64>,
    pub finalized_per_sec_met: Option<bool>,
    /// Measured finalized rate over the signature ceiling.
    pub finalized_to_ceiling: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_p99_met: Option<bool>,
    /// The offered rate the p99 was measured at.
    pub latency_offered_per_sec: Option<f64>,
}

/// Judges the phase named "throughput" against the rate target and the one
/// named "latency" against the p99 target.
pub fn targets(phases: &[PhaseReport], ceiling: &SignatureCeiling) -> Targets {
    let named = |name: &str| phases.iter().find(|p| p.name == name);
    let finalized = named("throughput").map(|p| p.finalized_per_sec);
    let latency = named("latency");
    let p99 = latency.and_then(|p| p.latency_ms.as_ref().map(|l| l.p99));
    Targets {
        finalized_per_sec: finalized,
        finalized_per_sec_met: finalized.map(|f| f >= FINALIZED_PER_SEC_TARGET),
        finalized_to_ceiling: finalized.map(|f| f / ceiling.ceiling_tx_per_sec),
        latency_p99_ms: p99,
        latency_p99_met: p99.map(|p| p < LATENCY_P99_MS_TARGET),
        latency_offered_per_sec: latency.map(|p| p.offered_per_sec),
    }
}

/// 12345.6 -> "12,346".
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if value < -0.5 {
        grouped.insert(0, '-');
    }
    grouped
}

/// Milliseconds as people read them: "850 ms", "2.31 s".
fn duration_ms(ms: f64) -> String {
    if ms < 1_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

fn optional(value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "n/a".to_owned(), show)
}

fn spread(p: &Option<Percentiles>) -> String {
    match p {
        Some(p) => format!(
            "p50 {}, p90 {}, p99 {}, max {}",
            duration_ms(p.p50),
            duration_ms(p.p90),
            duration_ms(p.p99),
            duration_ms(p.max)
        ),
        None => "n/a".to_owned(),
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "not measured",
    }
}

/// The summary for people.
pub fn print_summary(report: &Report) {
    let s = &report.signatures;
    println!(
        "Cluster benchmark: {} validators on loopback, {} cores; commits followed on node{} (status polled every {} ms)",
        report.validators, report.cores, report.followed_node, report.poll_ms
    );
    println!(
        "Signature ceiling: batched ed25519 verification {}/s on one core (batches of {})",
        thousands(s.per_core_per_sec),
        thousands(s.batch_size as f64)
    );
    println!(
        "  -> {} cores x {} / {} validators = {} tx/s",
        report.cores,
        thousands(s.per_core_per_sec),
        report.validators,
        thousands(s.ceiling_tx_per_sec)
    );
    for p in &report.phases {
        println!();
        println!(
            "{} phase: offered {}/s for {:.0} s",
            p.name,
            thousands(p.offered_per_sec),
            p.duration_secs
        );
        println!(
            "  sent        {} requests at {}/s; late {}{}",
            thousands(p.requests as f64),
            thousands(p.sent_per_sec),
            spread(&p.lateness_ms),
            if p.unsent > 0 {
                format!("; {} slots unsent", thousands(p.unsent as f64))
            } else {
                String::new()
            }
        );
        let refused: Vec<String> = p
            .refused
            .iter()
            .map(|(code, n)| format!("{code} {}", thousands(*n as f64)))
            .collect();
        println!(
            "  answered    {} accepted; refused {}; no answer {}",
            thousands(p.accepted as f64),
            if refused.is_empty() {
                "none".to_owned()
            } else {
                refused.join(", ")
            },
            thousands(p.failed as f64)
        );
        if let Some(failure) = &p.first_failure {
            println!("  first failure: {failure}");
        }
        println!(
            "  finalized   {}/s in the window ({} of the accepted); {} by the end, {} never",
            thousands(p.finalized_per_sec),
            thousands(p.finalized_in_window as f64),
            thousands(p.finalized_total as f64),
            thousands(p.unfinalized as f64)
        );
        println!(
            "  latency     {} (submit to seen committed)",
            spread(&p.latency_ms)
        );
        println!(
            "  gossip      {:.0}% of them committed in blocks proposed by the node they were sent to",
            p.proposed_by_ingress_node * 100.0
        );
        println!(
            "  blocks      {} in the window, {} txs mean, {} max, one every {}",
            p.blocks.count,
            thousands(p.blocks.txs_mean),
            thousands(p.blocks.txs_max as f64),
            optional(p.blocks.interval_ms_mean, duration_ms)
        );
        println!(
            "  nodes       {} cores busy, {} of CPU per committed transaction; commit {} after a height starts (mean)",
            optional(p.nodes_cores, |c| format!("{c:.2}")),
            optional(p.nodes_cpu_us_per_tx, |us| format!("{us:.0} µs")),
            optional(p.commit_latency_ms_mean, duration_ms),
        );
        println!(
            "              mempools when sending ended {:?}{}",
            p.mempool_txs_at_end,
            if p.drained {
                ""
            } else {
                "; NOT drained before the next phase"
            }
        );
        println!(
            "  driver      {} cores busy",
            optional(p.driver_cores, |c| format!("{c:.2}"))
        );
    }
    let t = &report.targets;
    println!();
    println!("Targets (issue #3)");
    println!(
        "  finalized >= {} tx/s     {:>10}/s  {}   ({} of the signature ceiling)",
        thousands(FINALIZED_PER_SEC_TARGET),
        optional(t.finalized_per_sec, thousands),
        verdict(t.finalized_per_sec_met),
        optional(t.finalized_to_ceiling, |r| format!("{:.1}%", r * 100.0))
    );
    println!(
        "  p99 < {} at {}/s offered {:>12}  {}",
        duration_ms(LATENCY_P99_MS_TARGET),
        optional(t.latency_offered_per_sec, thousands),
        optional(t.latency_p99_ms, duration_ms),
        verdict(t.latency_p99_met)
    );
}
