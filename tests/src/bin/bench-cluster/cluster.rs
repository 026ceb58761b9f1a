//! The testnet as the driver sees it: the homes `kpnode testnet` wrote into
//! one directory, and the few API calls the benchmark makes of their nodes.
//! Every call has a time limit, so that a stuck node cannot hang the run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kp_crypto::PublicKey;
use kp_ledger::model::ParticipantCode;
use kp_wire::api::ErrorBody;
use kp_wire::client::Client;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::wire::Connection;

/// How long one API call may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One validator of the testnet.
#[derive(Clone)]
pub struct Node {
    pub index: usize,
    pub code: ParticipantCode,
    pub home: PathBuf,
    pub api_addr: SocketAddr,
    /// The key it signs blocks with: a block header's `proposer`.
    pub validator: PublicKey,
    /// Its API, each call bounded by [`REQUEST_TIMEOUT`].
    pub client: Client,
}

/// The fields of `DIR/nodeN/node.json` the driver needs.
#[derive(Deserialize)]
struct NodeSettings {
    participant: ParticipantCode,
    api: SocketAddr,
}

/// The field of `DIR/nodeN/node/participant.json` the driver needs.
#[derive(Deserialize)]
struct ParticipantCard {
    validator: PublicKey,
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is malformed", path.display()))
}

impl Node {
    pub fn authority_key_path(&self) -> PathBuf {
        self.home.join("keys").join(format!("{}.key", self.code))
    }

    /// The process id `scripts/testnet.sh start` wrote, if it did.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.home.join("kpnode.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// The nodes of the testnet in `dir`: `node0`, `node1`, ... in order.
pub fn nodes(dir: &Path) -> Result<Vec<Node>> {
    let mut nodes = Vec::new();
    loop {
        let home = dir.join(format!("node{}", nodes.len()));
        let settings_path = home.join("node.json");
        if !settings_path.exists() {
            break;
        }
        let settings: NodeSettings = read_json(&settings_path)?;
        let card: ParticipantCard = read_json(&home.join("node").join("participant.json"))?;
        nodes.push(Node {
            index: nodes.len(),
            code: settings.participant,
            home,
            api_addr: settings.api,
            client: Client::with_timeout(&settings.api.to_string(), REQUEST_TIMEOUT),
            validator: card.validator,
        });
    }
    if nodes.is_empty() {
        bail!(
            "no node homes in {} (expected node0/node.json ...): make them with `kpnode testnet --dir {}`",
            dir.display(),
            dir.display()
        );
    }
    Ok(nodes)
}

/// What a node said to a submitted transaction.
pub enum Submitted {
    /// 202: admitted to the mempool (or already waiting there).
    Accepted,
    /// Any other answer, with the API's error code.
    Refused { status: u16, code: String },
}

impl Submitted {
    /// 503 means "not now": nothing changed, and the same transaction may
    /// be offered again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Submitted::Refused { status: 503, .. })
    }
}

/// POST a prepared `{"tx": "<hex>"}` body. A transport failure (timeout,
/// connection refused) is the error; any HTTP answer is a `Submitted`.
pub fn submit(connection: &mut Connection, json_body: &str) -> Result<Submitted> {
    let (status, text) = connection.post_json("/v1/transactions", json_body)?;
    if status == 202 {
        return Ok(Submitted::Accepted);
    }
    let code = serde_json::from_str::<ErrorBody>(&text)
        .map(|body| body.error.code)
        .unwrap_or_else(|_| format!("http_{status}"));
    Ok(Submitted::Refused { status, code })
}

/// One sample of a node's Prometheus text, by exact metric name (no labels).
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok())?
        })
}

/// Polls `check` every `interval` until it gives a value or `limit` passes;
/// `what` names the wait in the error. Errors from `check` are remembered
/// and the last one is reported if time runs out.
pub fn wait_for<T>(
    what: &str,
    limit: Duration,
    interval: Duration,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + limit;
    let mut last_error = None;
    loop {
        match check() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() >= deadline {
            let why = last_error.map_or_else(String::new, |e| format!(" (last error: {e:#})"));
            bail!(
                "gave up after {} s waiting for {what}{why}",
                limit.as_secs()
            );
        }
        std::thread::sleep(interval);
    }
}
