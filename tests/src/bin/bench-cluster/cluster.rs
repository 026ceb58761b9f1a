//! The testnet as the driver sees it: the homes `kpnode testnet` wrote into
//! one directory, and the few API calls the benchmark makes of their nodes.
//! Every call has a time limit, so that a stuck node cannot hang the run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kp_crypto::PublicKey;
use kp_ledger::model::ParticipantCode;
use kp_wire::api::{BlockView, ErrorBody, StatusView};
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
    /// `http://127.0.0.1:PORT`.
    pub api: String,
    pub api_addr: SocketAddr,
    /// The key it signs blocks with: a block header's `proposer`.
    pub validator: PublicKey,
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
            api: format!("http://{}", settings.api),
            api_addr: settings.api,
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

/// A keep-alive HTTP client that hands back error statuses as answers.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into()
}

/// The status and the whole text of an answer; read whole, so that the
/// connection can carry the next request.
fn read_answer(
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    what: &str,
) -> Result<(u16, String)> {
    let mut response = sent.with_context(|| what.to_owned())?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .with_context(|| format!("{what}: reading the answer"))?;
    Ok((status, text))
}

/// GET `url` and decode a 200 answer; anything else is an error that says
/// what the node answered.
pub fn get_json<T: DeserializeOwned>(agent: &ureq::Agent, url: &str) -> Result<T> {
    let what = format!("GET {url}");
    let (status, text) = read_answer(agent.get(url).call(), &what)?;
    if status != 200 {
        bail!("{what} answered {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{what}: unexpected answer {text}"))
}

pub fn status(agent: &ureq::Agent, node: &Node) -> Result<StatusView> {
    get_json(agent, &format!("{}/v1/status", node.api))
}

pub fn block(agent: &ureq::Agent, node: &Node, height: u64) -> Result<BlockView> {
    get_json(agent, &format!("{}/v1/blocks/{height}", node.api))
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

pub fn metrics_text(agent: &ureq::Agent, node: &Node) -> Result<String> {
    let url = format!("{}/metrics", node.api);
    let (_, text) = read_answer(agent.get(&url).call(), &format!("GET {url}"))?;
    Ok(text)
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
