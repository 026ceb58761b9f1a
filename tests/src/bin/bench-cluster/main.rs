//! The driver of the cluster benchmark (issue #3): open-loop load on a
//! running testnet of `kpnode` validators, measuring the finalized rate and
//! the submit-to-final latency. `scripts/bench-cluster.sh` makes the testnet,
//! starts it, runs this and stops it.
//!
//!   bench-cluster --testnet DIR [--json]
//!
//! Setup (not timed): miners enrolled with every authority and committed;
//! every load transaction (a parcel registration by a miner) signed. Then
//! two phases: "throughput", offered well above what the cluster finalizes,
//! and "latency", offered at a rate it should keep up with. Between them
//! the mempools drain, so that one phase's backlog does not blur the next.

mod cluster;
mod load;
mod report;
mod setup;
mod usage;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use kp_crypto::{BatchVerifier, Hash32, PublicKey, Signature};

use crate::cluster::{wait_for, Node};
use crate::load::{Counters, Follower, Phase};
use crate::report::{Observed, Report, SignatureCeiling};
use crate::setup::EnrolPlan;

#[derive(Parser)]
#[command(
    about = "Open-loop load on a running kpnode testnet: finalized transactions per second and submit-to-final latency",
    long_about = "Open-loop load on a running kpnode testnet (made by `kpnode testnet`, started by \
`scripts/testnet.sh start`): finalized transactions per second and submit-to-final latency. \
Normally run by scripts/bench-cluster.sh, which makes, starts and stops the testnet.\n\n\
Transactions are due at fixed times (start + i / rate) whatever the answers, spread \
round-robin over the nodes' APIs; refusals (503 mempool_full ...) are counted apart. \
A transaction is final when the block holding it shows on the followed node's API."
)]
struct Args {
    /// The directory `kpnode testnet --dir` wrote, with its nodes running.
    #[arg(long, value_name = "DIR")]
    testnet: PathBuf,
    /// Passphrase of the authority keys.
    #[arg(
        long,
        env = "KP_PASSPHRASE",
        default_value = "dev",
        hide_env_values = true
    )]
    passphrase: String,
    /// Offered rate of the throughput phase, transactions a second: well
    /// above what the cluster finalizes.
    #[arg(long, value_name = "TX/S", default_value_t = 8_000.0)]
    throughput_rate: f64,
    /// Length of the throughput phase.
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    throughput_secs: u64,
    /// Offered rate of the latency phase, transactions a second.
    #[arg(long, value_name = "TX/S", default_value_t = 1_000.0)]
    latency_rate: f64,
    /// Length of the latency phase.
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    latency_secs: u64,
    /// Sender threads, each with its own keep-alive connection (rounded up
    /// to a multiple of the node count). They bound the requests in flight:
    /// when the nodes answer slowly, fewer go out than offered, and the
    /// report says how late they went.
    #[arg(long, value_name = "N", default_value_t = 128)]
    senders: usize,
    /// Miners to enrol, spread evenly over the authorities. Each sends its
    /// transactions in nonce order through one connection, so more miners
    /// means fewer of one miner's transactions in flight at once.
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    miners: usize,
    /// Enrolments each authority submits before waiting for them to commit.
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..=2_000))]
    enrol_batch: u64,
    /// Longest wait for the nodes to start, and for a batch of enrolments.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    setup_secs: u64,
    /// Longest wait, after a phase, for every mempool to empty.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    drain_secs: u64,
    /// How often the followed node's status is asked for new blocks.
    #[arg(long, value_name = "MS", default_value_t = 10)]
    poll_ms: u64,
    /// Signatures per batch when timing verification.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    verify_batch: usize,
    /// How long to time verification, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    verify_secs: f64,
    /// Print the report as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-cluster: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let phases = phases(args)?;
    let nodes = cluster::nodes(&args.testnet)?;
    let threads = load::sender_threads(args.senders, nodes.len());
    if args.miners < threads {
        bail!(
            "{} miners cannot feed {threads} sender threads (each miner keeps to one): \
             raise --miners or lower --senders",
            args.miners
        );
    }
    let setup_limit = Duration::from_secs(args.setup_secs);
    let genesis = wait_until_running(&nodes, setup_limit)?;

    let mut authorities = setup::read_authorities(&nodes, &args.passphrase)?;
    let plan = EnrolPlan {
        per_authority: args.miners.div_ceil(nodes.len()),
        batch: args.enrol_batch as usize,
        commit_limit: setup_limit,
    };
    let bar = progress_bar(
        (plan.per_authority * nodes.len()) as u64,
        "enrolling miners",
    );
    let miners = setup::enrol_miners(&nodes, &mut authorities, &genesis, &plan, &bar)?;
    bar.finish_and_clear();

    let per_miner = txs_per_miner(&phases, threads, miners.len());
    let bar = progress_bar((per_miner * miners.len()) as u64, "signing the load");
    let queues = setup::presign(&miners, per_miner, &genesis, &bar);
    bar.finish_and_clear();

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let samples = setup::signed_samples(&miners, args.verify_batch.max(1), &genesis);
    let verify_time = Duration::from_secs_f64(args.verify_secs.max(0.01));
    let signatures = signature_ceiling(&samples, verify_time, cores, nodes.len())?;

    let mut senders = load::senders(&nodes, threads, queues);
    let counters = Arc::new(Counters::default());
    let followed = &nodes[0];
    let start_height = followed.client.status()?.height;
    let poll = Duration::from_millis(args.poll_ms.max(1));
    let follower = Follower::start(followed.clone(), start_height, poll, counters.clone());

    let mut loads = Vec::new();
    for phase in phases {
        if !follower.is_running() {
            follower.finish()?;
            bail!(
                "the follower of node{} stopped before the {} phase",
                followed.index,
                phase.name
            );
        }
        let before = usage::sample(&nodes);
        let bar = progress_bar(phase.slots(), phase.name);
        let load = with_status_line(&bar, &counters, || {
            load::run_phase(&mut senders, phase, &counters, &bar)
        });
        let after = usage::sample(&nodes);
        let mempool_txs_at_end = nodes
            .iter()
            .map(|node| node.client.status().map(|s| s.pending_txs))
            .collect::<Result<Vec<u64>, _>>()
            .context("a node did not answer at the end of a phase")?;
        bar.finish_and_clear();
        let drained = drain(&nodes, &follower, Duration::from_secs(args.drain_secs));
        let observed = Observed {
            usage: usage::between(&before, &after),
            mempool_txs_at_end,
            drained,
        };
        loads.push((load, observed));
    }
    let blocks = follower.finish()?;

    let committed = report::blocks_by_tx(&blocks);
    let phase_reports: Vec<_> = loads
        .into_iter()
        .map(|(load, observed)| report::phase_report(&load, &nodes, &blocks, &committed, observed))
        .collect();
    let targets = report::targets(&phase_reports, &signatures);
    let report = Report {
        validators: nodes.len(),
        cores,
        followed_node: followed.index,
        poll_ms: poll.as_millis() as u64,
        signatures,
        phases: phase_reports,
        targets,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report::print_summary(&report);
    }
    Ok(())
}

fn phases(args: &Args) -> Result<[Phase; 2]> {
    let phases = [
        Phase {
            name: "throughput",
            rate_per_sec: args.throughput_rate,
            duration: Duration::from_secs(args.throughput_secs),
        },
        Phase {
            name: "latency",
            rate_per_sec: args.latency_rate,
            duration: Duration::from_secs(args.latency_secs),
        },
    ];
    for phase in &phases {
        if !(phase.rate_per_sec > 0.0 && phase.rate_per_sec.is_finite()) {
            bail!("--{}-rate must be a positive number", phase.name);
        }
        if phase.duration.is_zero() {
            bail!("--{}-secs must be at least 1", phase.name);
        }
    }
    Ok(phases)
}

/// Waits until every node answers, has committed a block and is connected
/// to all the others for gossip; returns the genesis hash they share, which
/// transactions are signed for.
fn wait_until_running(nodes: &[Node], limit: Duration) -> Result<Hash32> {
    let peers_wanted = u32::try_from(nodes.len() - 1).unwrap_or(u32::MAX);
    let mut not_ready = String::new();
    let started = wait_for(
        "every node to commit a block and see its peers",
        limit,
        Duration::from_millis(250),
        || {
            let mut geneses = Vec::new();
            let mut waiting = Vec::new();
            for node in nodes {
                let status = node.client.status()?;
                if status.height < 1 || status.peers < peers_wanted {
                    waiting.push(format!(
                        "node{} at height {} with {} of {peers_wanted} peers",
                        node.index, status.height, status.peers
                    ));
                }
                geneses.push(status.genesis_hash);
            }
            geneses.dedup();
            if geneses.len() > 1 {
                bail!("the nodes run different chains, of geneses {geneses:?}");
            }
            not_ready = waiting.join(", ");
            Ok(waiting.is_empty().then(|| geneses.pop()).flatten())
        },
    );
    started.with_context(|| format!("not ready: {not_ready} (see the nodes' logs)"))
}

/// Enough pre-signed transactions that no miner runs dry: the most slots
/// one sender thread gets over all phases, over the fewest miners one
/// thread holds, plus one.
fn txs_per_miner(phases: &[Phase], threads: usize, miners: usize) -> usize {
    let slots_per_thread: u64 = phases
        .iter()
        .map(|p| p.slots().div_ceil(threads as u64))
        .sum();
    let miners_per_thread = (miners / threads).max(1);
    (slots_per_thread as usize).div_ceil(miners_per_thread) + 1
}

/// Times batched verification of `samples` on this thread for about
/// `duration`, and the bound it sets on a cluster of `validators` sharing
/// `cores`: every validator verifies every transaction.
fn signature_ceiling(
    samples: &[(PublicKey, Vec<u8>, Signature)],
    duration: Duration,
    cores: usize,
    validators: usize,
) -> Result<SignatureCeiling> {
    let started = Instant::now();
    let mut batches = 0u64;
    while batches == 0 || started.elapsed() < duration {
        let mut batch = BatchVerifier::new();
        for (key, message, signature) in samples {
            batch.queue(key, message, signature);
        }
        if !batch.verify() {
            bail!("a freshly made signature did not verify: kp-crypto is broken");
        }
        batches += 1;
    }
    let per_core_per_sec =
        (batches * samples.len() as u64) as f64 / started.elapsed().as_secs_f64();
    Ok(SignatureCeiling {
        batch_size: samples.len(),
        batches,
        per_core_per_sec,
        ceiling_tx_per_sec: cores as f64 * per_core_per_sec / validators as f64,
    })
}

/// After a phase: waits, at most `limit`, until every node's mempool is
/// empty and the follower has every block the nodes have. Returns whether
/// that happened; a cluster that did not drain is reported, not fatal.
fn drain(nodes: &[Node], follower: &Follower, limit: Duration) -> bool {
    let spinner = ProgressBar::new_spinner().with_prefix("draining");
    spinner.enable_steady_tick(Duration::from_millis(200));
    let drained = wait_for(
        "the mempools to empty",
        limit,
        Duration::from_millis(250),
        || {
            let statuses = nodes
                .iter()
                .map(|node| node.client.status())
                .collect::<Result<Vec<_>, _>>()?;
            let pending: Vec<u64> = statuses.iter().map(|s| s.pending_txs).collect();
            let tip = statuses.iter().map(|s| s.height).max().unwrap_or(0);
            spinner.set_message(format!("pending in the mempools: {pending:?}"));
            Ok((pending.iter().all(|p| *p == 0) && follower.height() >= tip).then_some(()))
        },
    );
    spinner.finish_and_clear();
    match drained {
        Ok(()) => true,
        Err(e) => {
            eprintln!("warning: {e:#}; going on");
            false
        }
    }
}

fn progress_bar(length: u64, prefix: &'static str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix:>16} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(length)
        .with_style(style)
        .with_prefix(prefix)
}

/// Runs `work` while the bar's message shows the counters every quarter
/// of a second.
fn with_status_line<T>(bar: &ProgressBar, counters: &Counters, work: impl FnOnce() -> T) -> T {
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                bar.set_message(format!(
                    "accepted {} refused {} failed {} committed {}",
                    counters.accepted.load(Ordering::Relaxed),
                    counters.refused.load(Ordering::Relaxed),
                    counters.failed.load(Ordering::Relaxed),
                    counters.committed.load(Ordering::Relaxed),
                ));
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        let result = work();
        done.store(true, Ordering::Relaxed);
        result
    })
}
