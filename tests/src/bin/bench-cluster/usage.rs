//! What the processes used while a phase ran: CPU time of the nodes and of
//! the driver (from /proc: on two shared cores, who had the CPU is half
//! the story), the nodes' own commit-latency histogram (from /metrics), and
//! their mempools. Samples are taken at a phase's start and end; the
//! differences are the phase's share.

use std::time::Instant;

use crate::cluster::{self, Node};

/// `/proc/PID/stat` counts CPU time in clock ticks of USER_HZ, which the
/// kernel fixes at 100 for user space on Linux, whatever its own tick rate.
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system) used so far by process `pid` ("self" for
/// this one); `None` when /proc does not say (not Linux, process gone).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: count fields after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime) are 11 and 12 after the name.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / USER_HZ)
}

/// One sample of every process and node.
pub struct Sample {
    at: Instant,
    /// CPU seconds of all node processes together, if every one was read.
    nodes_cpu: Option<f64>,
    driver_cpu: Option<f64>,
    /// Per node: (sum, count) of `kp_commit_latency_seconds`.
    commit_latency: Vec<Option<(f64, f64)>>,
}

pub fn sample(nodes: &[Node]) -> Sample {
    let nodes_cpu = nodes
        .iter()
        .map(|node| node.pid().and_then(|pid| cpu_seconds(&pid.to_string())))
        .sum::<Option<f64>>();
    let commit_latency = nodes
        .iter()
        .map(|node| {
            let text = node.client.metrics().ok()?;
            Some((
                cluster::metric(&text, "kp_commit_latency_seconds_sum")?,
                cluster::metric(&text, "kp_commit_latency_seconds_count")?,
            ))
        })
        .collect();
    Sample {
        at: Instant::now(),
        nodes_cpu,
        driver_cpu: cpu_seconds("self"),
        commit_latency,
    }
}

/// What the processes used between two samples.
pub struct Usage {
    pub from: Instant,
    pub to: Instant,
    /// Cores the four nodes kept busy on average (CPU seconds per second).
    pub nodes_cores: Option<f64>,
    pub driver_cores: Option<f64>,
    /// Mean of the nodes' own commit latency (start of a height to its
    /// commit) over the heights committed in between, ms.
    pub commit_latency_ms_mean: Option<f64>,
}

pub fn between(before: &Sample, after: &Sample) -> Usage {
    let seconds = after.at.duration_since(before.at).as_secs_f64();
    let cores = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / seconds);
    let deltas = before
        .commit_latency
        .iter()
        .zip(&after.commit_latency)
        .filter_map(|(b, a)| Some((a.as_ref()?.0 - b.as_ref()?.0, a.as_ref()?.1 - b.as_ref()?.1)));
    let (sum, count) = deltas
        .into_iter()
        .fold((0.0, 0.0), |(s, c), (ds, dc)| (s + ds, c + dc));
    Usage {
        from: before.at,
        to: after.at,
        nodes_cores: cores(before.nodes_cpu, after.nodes_cpu),
        driver_cores: cores(before.driver_cpu, after.driver_cpu),
        commit_latency_ms_mean: (count > 0.0).then(|| sum / count * 1e3),
    }
}
