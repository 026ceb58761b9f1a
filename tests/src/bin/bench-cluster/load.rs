//! Open-loop load and the commit follower.
//!
//! Open loop: transaction slot `i` of a phase is due at `start + i / rate`
//! whatever the answers to earlier ones. Slots go round-robin to sender
//! threads, each with its own keep-alive connection to one node, so the
//! threads bound the requests in flight: when answers are slow, a thread
//! sends late rather than skipping, and the lateness is recorded, so that a
//! client held back by the cluster shows in the figures.
//!
//! A miner's transactions carry consecutive nonces, so each miner belongs
//! to one thread (one request in flight, in order) and one node (a second
//! node could see nonce n + 1 before gossip brings it n).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::ProgressBar;
use kp_crypto::PublicKey;
use kp_ledger::model::TxId;

use crate::cluster::{self, Node, Submitted};
use crate::setup::Prepared;
use crate::wire::Connection;

/// A stretch of load at one offered rate.
#[derive(Clone, Copy)]
pub struct Phase {
    pub name: &'static str,
    pub rate_per_sec: f64,
    pub duration: Duration,
}

impl Phase {
    pub fn slots(&self) -> u64 {
        (self.rate_per_sec * self.duration.as_secs_f64()).round() as u64
    }
}

/// Counters the progress display reads while threads run.
#[derive(Default)]
pub struct Counters {
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub failed: AtomicU64,
    /// Transactions in blocks the follower has seen (any transaction).
    pub committed: AtomicU64,
}

/// One miner's pre-signed transactions, next nonce first.
struct MinerQueue {
    txs: VecDeque<Prepared>,
    /// Refused for good (by the rules): its later nonces could only gap.
    retired: bool,
}

/// One sender thread's share of the load.
pub struct Sender {
    node: Node,
    connection: Connection,
    miners: Vec<MinerQueue>,
    cursor: usize,
}

/// A transaction a node admitted, which node, and when it was sent.
pub struct Accepted {
    pub id: TxId,
    pub node: usize,
    pub sent: Instant,
}

/// What senders did in a phase: one thread's share, or all of it.
#[derive(Default)]
pub struct Tally {
    /// Requests made (a slot with nothing left to send makes none).
    pub requests: u64,
    pub accepted: Vec<Accepted>,
    /// Refusals by the API's error code.
    pub refused: BTreeMap<String, u64>,
    /// Requests with no answer (timeout, connection refused).
    pub failed: u64,
    pub first_failure: Option<String>,
    /// How late each request went out after its slot was due, ms.
    pub lateness_ms: Vec<f64>,
    /// Slots given up on: the senders had fallen more than `LATE_LIMIT`
    /// behind the phase's end.
    pub unsent: u64,
}

impl Tally {
    fn absorb(&mut self, other: Tally) {
        self.requests += other.requests;
        self.accepted.extend(other.accepted);
        for (code, count) in other.refused {
            *self.refused.entry(code).or_default() += count;
        }
        self.failed += other.failed;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self.lateness_ms.extend(other.lateness_ms);
        self.unsent += other.unsent;
    }
}

/// One phase's load.
pub struct PhaseLoad {
    pub phase: Phase,
    pub started: Instant,
    /// When the last request of the phase was answered.
    pub finished: Instant,
    pub tally: Tally,
}

/// How far past a phase's end senders may still be catching up before
/// they give up on the slots left, so that a stuck cluster (every request
/// waiting for its time-out) cannot stretch a phase without bound.
const LATE_LIMIT: Duration = Duration::from_secs(10);

/// How long a sender waits after a 503 (`mempool_full`) before its next
/// request; the slots that come due meanwhile go out late.
const FULL_BACKOFF: Duration = Duration::from_millis(50);

/// The sender threads for `requested`, rounded up to a multiple of the node
/// count so that slot i goes to node i mod N.
pub fn sender_threads(requested: usize, nodes: usize) -> usize {
    requested.max(1).div_ceil(nodes) * nodes
}

/// Deals the miners' queues out to `threads` senders (see `sender_threads`);
/// a thread left without miners lets its slots pass unsent.
pub fn senders(nodes: &[Node], threads: usize, queues: Vec<VecDeque<Prepared>>) -> Vec<Sender> {
    let threads = sender_threads(threads, nodes.len());
    let mut senders: Vec<Sender> = (0..threads)
        .map(|t| Sender {
            node: nodes[t % nodes.len()].clone(),
            connection: Connection::new(nodes[t % nodes.len()].api_addr, cluster::REQUEST_TIMEOUT),
            miners: Vec::new(),
            cursor: 0,
        })
        .collect();
    for (i, txs) in queues.into_iter().enumerate() {
        senders[i % threads].miners.push(MinerQueue {
            txs,
            retired: false,
        });
    }
    senders
}

impl Sender {
    /// The next miner with something to send, round-robin.
    fn next_miner(&mut self) -> Option<usize> {
        let count = self.miners.len();
        (0..count)
            .map(|step| (self.cursor + step) % count)
            .find(|&m| !self.miners[m].retired && !self.miners[m].txs.is_empty())
            .inspect(|&m| self.cursor = (m + 1) % count)
    }

    /// Sends slots `first`, `first + stride`, ... of `phase`, each when due.
    fn run(
        &mut self,
        phase: Phase,
        started: Instant,
        first: u64,
        stride: u64,
        counters: &Counters,
        progress: &ProgressBar,
    ) -> (Tally, Instant) {
        let mut load = Tally::default();
        let mut finished = started;
        let slots = phase.slots();
        let give_up = started + phase.duration + LATE_LIMIT;
        let mut slot = first;
        while slot < slots {
            if Instant::now() > give_up {
                let left = (slots - slot).div_ceil(stride);
                load.unsent += left;
                progress.inc(left);
                break;
            }
            let due = started + Duration::from_secs_f64(slot as f64 / phase.rate_per_sec);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            slot += stride;
            progress.inc(1);
            let Some(m) = self.next_miner() else {
                load.unsent += 1;
                continue;
            };
            let miner = &mut self.miners[m];
            // `next_miner` only picks a miner with something to send.
            let Some(tx) = miner.txs.front() else {
                load.unsent += 1;
                continue;
            };
            let sent = Instant::now();
            load.lateness_ms
                .push(sent.saturating_duration_since(due).as_secs_f64() * 1e3);
            load.requests += 1;
            match cluster::submit(&mut self.connection, &tx.json_body) {
                Ok(Submitted::Accepted) => {
                    load.accepted.push(Accepted {
                        id: tx.id,
                        node: self.node.index,
                        sent,
                    });
                    miner.txs.pop_front();
                    counters.accepted.fetch_add(1, Ordering::Relaxed);
                }
                Ok(refusal) => {
                    // "Not now" keeps the transaction for the miner's next
                    // turn; a refusal by the rules retires the miner.
                    if refusal.is_retryable() {
                        // As a polite client does: the node is full for
                        // now, and asking again at once only adds load.
                        std::thread::sleep(FULL_BACKOFF);
                    } else {
                        miner.retired = true;
                    }
                    if let Submitted::Refused { code, .. } = refusal {
                        *load.refused.entry(code).or_default() += 1;
                    }
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    // Maybe admitted, maybe not: offering the same bytes
                    // again is harmless either way.
                    load.failed += 1;
                    load.first_failure.get_or_insert_with(|| format!("{e:#}"));
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            finished = Instant::now();
        }
        (load, finished)
    }
}

/// Runs one phase across all senders; returns when every slot is sent.
pub fn run_phase(
    senders: &mut [Sender],
    phase: Phase,
    counters: &Counters,
    progress: &ProgressBar,
) -> PhaseLoad {
    let stride = senders.len() as u64;
    let started = Instant::now();
    let loads: Vec<(Tally, Instant)> = std::thread::scope(|scope| {
        let workers: Vec<_> = senders
            .iter_mut()
            .enumerate()
            .map(|(t, sender)| {
                scope
                    .spawn(move || sender.run(phase, started, t as u64, stride, counters, progress))
            })
            .collect();
        workers
            .into_iter()
            // A sender only panics on a bug; pass it on.
            .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut total = PhaseLoad {
        phase,
        started,
        finished: started,
        tally: Tally::default(),
    };
    for (tally, finished) in loads {
        total.finished = total.finished.max(finished);
        total.tally.absorb(tally);
    }
    total
}

/// A committed block, and when the follower first saw it.
pub struct SeenBlock {
    pub seen: Instant,
    pub proposer: PublicKey,
    pub txs: Vec<TxId>,
}

/// Follows one node's committed blocks from a thread of its own.
pub struct Follower {
    stop: Arc<AtomicBool>,
    /// The height of the last block fetched.
    height: Arc<AtomicU64>,
    thread: JoinHandle<Result<Vec<SeenBlock>>>,
}

/// A node whose API fails for this long is taken to be down.
const FOLLOW_FAILING_MAX: Duration = Duration::from_secs(30);

impl Follower {
    /// Starts following `node` after `from_height`, asking its status every
    /// `poll`: a block's "seen" time is when its height first showed, so it
    /// is late by at most one poll plus one status request.
    pub fn start(
        node: Node,
        from_height: u64,
        poll: Duration,
        counters: Arc<Counters>,
    ) -> Follower {
        let stop = Arc::new(AtomicBool::new(false));
        let height = Arc::new(AtomicU64::new(from_height));
        let thread = {
            let stop = stop.clone();
            let height = height.clone();
            std::thread::spawn(move || follow(&node, &height, poll, &stop, &counters))
        };
        Follower {
            stop,
            height,
            thread,
        }
    }

    pub fn height(&self) -> u64 {
        self.height.load(Ordering::Relaxed)
    }

    /// Stops following; the blocks seen, oldest first.
    pub fn finish(self) -> Result<Vec<SeenBlock>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// True while the thread still follows (it ends early only on error).
    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }
}

fn follow(
    node: &Node,
    height: &AtomicU64,
    poll: Duration,
    stop: &AtomicBool,
    counters: &Counters,
) -> Result<Vec<SeenBlock>> {
    let mut blocks = Vec::new();
    let mut last = height.load(Ordering::Relaxed);
    let mut failing_since: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let fetched = node.client.status().and_then(|status| {
            let seen = Instant::now();
            for h in last + 1..=status.height {
                let block = node.client.block(h)?;
                counters
                    .committed
                    .fetch_add(block.txs.len() as u64, Ordering::Relaxed);
                blocks.push(SeenBlock {
                    seen,
                    proposer: block.header.proposer,
                    txs: block.txs,
                });
                last = h;
                height.store(h, Ordering::Relaxed);
            }
            Ok(())
        });
        match fetched {
            Ok(()) => failing_since = None,
            Err(e) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > FOLLOW_FAILING_MAX {
                    return Err(anyhow::Error::from(e).context(format!(
                        "node{} has not answered for {} s",
                        node.index,
                        FOLLOW_FAILING_MAX.as_secs()
                    )));
                }
            }
        }
        std::thread::sleep(poll);
    }
    Ok(blocks)
}
