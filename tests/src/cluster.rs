//! A network of validators on loopback, as `kpnode testnet` lays it out and
//! `scripts/testnet.sh` runs it: one `kpnode run` process a node, each with
//! its home, log and ports in the test's directory.

use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::hash::BuildHasher;
use std::net::TcpListener;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kp_crypto::Hash32;
use kp_ledger::model::TxId;
use kp_wire::api::{BlockView, StatusView, TxState, TxStatus};
use kp_wire::client::Client;
use tempfile::TempDir;

use crate::links::PeerLink;
use crate::process::{NodeProcess, READY_LIMIT};
use crate::{binary, DEV_PASSPHRASE};

/// Where a cluster's ports are drawn from: below Linux's ephemeral range
/// (32768-60999), so that the kernel does not hand one of them to an
/// outgoing connection between the check here and the node's own bind.
const PORT_RANGE: Range<u16> = 20_000..32_000;
/// Random blocks of ports tried before giving up.
const PORT_BLOCK_ATTEMPTS_MAX: u64 = 8;
/// `kpnode testnet` puts node i's consensus on base+10i and its
/// transaction gossip on base+10i+1.
const PORT_STRIDE: u16 = 10;
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// One cluster at a time per test binary. Two clusters of debug-built
/// nodes on a 2-core machine starve each other's consensus timers and turn
/// timing into flakiness; tests in one file otherwise run in parallel.
static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The ports of a testnet: consensus and gossip per node, then the APIs.
#[derive(Debug, Clone, Copy)]
pub struct PortBlock {
    base: u16,
    validators: u16,
}

impl PortBlock {
    fn consensus(&self, node: u16) -> u16 {
        self.base + PORT_STRIDE * node
    }

    /// The API ports follow the last node's consensus ports.
    fn api_base(&self) -> u16 {
        self.base + PORT_STRIDE * self.validators
    }

    pub fn api(&self, node: u16) -> u16 {
        self.api_base() + node
    }

    /// Every port the nodes will listen on.
    fn ports(&self) -> Vec<u16> {
        (0..self.validators)
            .flat_map(|i| [self.consensus(i), self.consensus(i) + 1, self.api(i)])
            .collect()
    }

    fn span(validators: u16) -> u16 {
        (PORT_STRIDE + 1) * validators
    }

    /// A block of ports all free now, from a random base; checked by
    /// binding each of them, all held at once until the check is done.
    fn free(validators: u16) -> Result<PortBlock> {
        let span = PortBlock::span(validators);
        let bases = u64::from(PORT_RANGE.end - PORT_RANGE.start - span);
        let random = RandomState::new();
        for attempt in 0..PORT_BLOCK_ATTEMPTS_MAX {
            let offset = u16::try_from(random.hash_one(attempt) % bases)
                .context("a port offset below the range's size fits a port")?;
            let block = PortBlock {
                base: PORT_RANGE.start + offset,
                validators,
            };
            let held: std::io::Result<Vec<TcpListener>> = block
                .ports()
                .into_iter()
                .map(|port| TcpListener::bind(("127.0.0.1", port)))
                .collect();
            if held.is_ok() {
                return Ok(block);
            }
        }
        bail!(
            "no block of {span} free loopback ports in {PORT_RANGE:?} after \
             {PORT_BLOCK_ATTEMPTS_MAX} random tries"
        )
    }
}

/// Runs `kpnode testnet` for `validators` nodes into `root` on a block of
/// free loopback ports, which it returns.
pub fn write_testnet(root: &Path, validators: u16) -> Result<PortBlock> {
    let ports = PortBlock::free(validators)?;
    let made = Command::new(binary("kpnode"))
        .arg("testnet")
        .args(["--validators", &validators.to_string()])
        .arg("--dir")
        .arg(root)
        .args(["--base-port", &ports.base.to_string()])
        .args(["--api-port", &ports.api_base().to_string()])
        .env("KP_PASSPHRASE", DEV_PASSPHRASE)
        .output()
        .context("run kpnode testnet")?;
    if !made.status.success() {
        bail!(
            "kpnode testnet failed ({}): {}",
            made.status,
            String::from_utf8_lossy(&made.stderr)
        );
    }
    Ok(ports)
}

/// `kpnode testnet --validators N` run in a test's directory, every node
/// started; killed when dropped. If the test is failing then, each node's
/// log tail is printed and the directory (homes, genesis, logs) is kept.
pub struct Cluster {
    nodes: Vec<NodeProcess>,
    /// Participant codes, node by node.
    participants: Vec<String>,
    ports: PortBlock,
    /// With [`Options::linked`]: node i's links to each peer j, as (j, link).
    links: Vec<Vec<(usize, PeerLink)>>,
    root: PathBuf,
    dir: Option<TempDir>,
    _turn: MutexGuard<'static, ()>,
}

/// How a cluster's nodes reach each other and which one misbehaves.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Every node reaches every peer through a [`PeerLink`] of its own, so
    /// that the test can partition the network ([`Cluster::partition`]).
    pub linked: bool,
    /// This node runs `kpnode-byzantine` with this attack (the engine's
    /// `ByzantineConfig` as JSON).
    pub byzantine: Option<(usize, String)>,
}

impl Cluster {
    /// Writes a testnet of `validators` nodes into `dir`, starts every node
    /// and waits (bounded) until each API answers.
    pub fn start(dir: TempDir, validators: u16) -> Result<Cluster> {
        Cluster::start_with(dir, validators, Options::default())
    }

    /// The same, wired and run as `options` say.
    pub fn start_with(dir: TempDir, validators: u16, options: Options) -> Result<Cluster> {
        // A test that failed while holding the turn left nothing shared
        // behind: its nodes died with it.
        let turn = ONE_CLUSTER_AT_A_TIME
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let root = dir.path().to_path_buf();
        let ports = write_testnet(&root, validators)?;
        let genesis = root.join("genesis.json");
        let mut cluster = Cluster {
            nodes: Vec::new(),
            participants: Vec::new(),
            ports,
            links: Vec::new(),
            root,
            dir: Some(dir),
            _turn: turn,
        };
        if let Err(e) = cluster.start_nodes(&options, &genesis) {
            let kept = cluster.keep_files();
            return Err(e.context(format!("cluster files kept in {}", kept.display())));
        }
        Ok(cluster)
    }

    fn start_nodes(&mut self, options: &Options, genesis: &Path) -> Result<()> {
        let ports = self.ports;
        for i in 0..ports.validators {
            let home = self.home(usize::from(i));
            self.participants.push(participant_code(&home)?);
            if options.linked {
                self.link(i)?;
            }
            let mut args: Vec<OsString> = vec![
                "run".into(),
                "--home".into(),
                home.into(),
                "--genesis".into(),
                genesis.into(),
            ];
            let log = self.root.join(format!("node{i}.log"));
            let node = match &options.byzantine {
                Some((byzantine, attack)) if *byzantine == usize::from(i) => {
                    args.extend(["--byzantine".into(), attack.into()]);
                    NodeProcess::new(args, ports.api(i), log).with_binary("kpnode-byzantine")
                }
                _ => NodeProcess::new(args, ports.api(i), log),
            };
            self.nodes.push(node);
        }
        // All started before any is waited for: each waits for its peers.
        for node in &mut self.nodes {
            node.spawn()?;
        }
        let deadline = Instant::now() + READY_LIMIT;
        for node in &mut self.nodes {
            node.wait_ready(deadline.saturating_duration_since(Instant::now()))?;
        }
        Ok(())
    }

    /// Puts a link between node `i` and each of its peers, and makes the
    /// links its peers (in its `node.json`).
    fn link(&mut self, i: u16) -> Result<()> {
        let mut links = Vec::new();
        for j in (0..self.ports.validators).filter(|&j| j != i) {
            links.push((usize::from(j), PeerLink::start(self.ports.consensus(j))?));
        }
        let path = self.home(usize::from(i)).join("node.json");
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let mut settings: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
        settings["peers"] = links.iter().map(|(_, l)| l.multiaddr()).collect();
        std::fs::write(&path, settings.to_string())
            .with_context(|| format!("write {}", path.display()))?;
        self.links.push(links);
        Ok(())
    }

    /// Cuts every link between nodes on different `sides` (and heals those
    /// within one side). Needs [`Options::linked`].
    pub fn partition(&self, sides: &[&[usize]]) {
        let side_of = |node: usize| sides.iter().position(|side| side.contains(&node));
        for (i, links) in self.links.iter().enumerate() {
            for (j, link) in links {
                if side_of(i) == side_of(*j) {
                    link.heal();
                } else {
                    link.cut();
                }
            }
        }
    }

    /// Cuts every consensus link to and from node `node`, and only those:
    /// transaction gossip, and with it the heights its peers report, still
    /// flows, so the node falls behind and knows it. Needs
    /// [`Options::linked`]; [`Cluster::heal`] mends it.
    pub fn cut_consensus(&self, node: usize) {
        for (i, links) in self.links.iter().enumerate() {
            for (j, link) in links {
                if i == node || *j == node {
                    link.consensus.cut();
                }
            }
        }
    }

    /// Every link open again.
    pub fn heal(&self) {
        for (_, link) in self.links.iter().flatten() {
            link.heal();
        }
    }

    /// A new Participant's home (`kpnode init`), with ports of its own, not
    /// started: its authority and validator keys can be proposed for
    /// admission first.
    pub fn init_joiner(&self, code: &str) -> Result<Joiner> {
        let ports = PortBlock::free(1)?;
        let home = self.root.join(format!("joiner-{code}"));
        let made = Command::new(binary("kpnode"))
            .arg("init")
            .arg("--home")
            .arg(&home)
            .args(["--participant", code])
            .args([
                "--listen",
                &format!("/ip4/127.0.0.1/tcp/{}", ports.consensus(0)),
            ])
            .args(["--api", &format!("127.0.0.1:{}", ports.api(0))])
            .env("KP_PASSPHRASE", DEV_PASSPHRASE)
            .output()
            .context("run kpnode init")?;
        if !made.status.success() {
            bail!(
                "kpnode init failed ({}): {}",
                made.status,
                String::from_utf8_lossy(&made.stderr)
            );
        }
        let card = read_card(&home)?;
        let key = |field: &str| {
            card[field]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("{}'s card has no {field}", home.display()))
        };
        Ok(Joiner {
            authority: key("authority")?,
            validator: key("validator")?,
            code: code.to_owned(),
            home,
            api_port: ports.api(0),
        })
    }

    /// Starts a joiner's node with every node of the cluster as its peer
    /// and waits for its API; returns its index.
    pub fn start_joiner(&mut self, joiner: &Joiner) -> Result<usize> {
        let mut args: Vec<OsString> = vec![
            "run".into(),
            "--home".into(),
            joiner.home.clone().into(),
            "--genesis".into(),
            self.root.join("genesis.json").into(),
        ];
        for i in 0..self.ports.validators {
            args.push("--peer".into());
            args.push(format!("/ip4/127.0.0.1/tcp/{}", self.ports.consensus(i)).into());
        }
        let index = self.nodes.len();
        let log = self.root.join(format!("node{index}.log"));
        let mut node = NodeProcess::new(args, joiner.api_port, log);
        node.spawn()?;
        node.wait_ready(READY_LIMIT)?;
        self.nodes.push(node);
        self.participants.push(joiner.code.clone());
        Ok(index)
    }

    /// Keeps the directory when the cluster goes, and returns its path.
    fn keep_files(&mut self) -> PathBuf {
        self.dir
            .take()
            .map_or_else(|| self.root.clone(), TempDir::keep)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node's index: `0..len()`.
    pub fn all(&self) -> Vec<usize> {
        (0..self.len()).collect()
    }

    /// The test's directory: homes, genesis, logs, and room for key files.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    pub fn home(&self, i: usize) -> PathBuf {
        self.root.join(format!("node{i}"))
    }

    pub fn node(&self, i: usize) -> &NodeProcess {
        &self.nodes[i]
    }

    pub fn url(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    /// Node `i`'s API, as `kp` calls it.
    pub fn client(&self, i: usize) -> Client {
        self.nodes[i].client()
    }

    pub fn status(&self, i: usize) -> Result<StatusView> {
        self.nodes[i].status()
    }

    pub fn kill9(&mut self, i: usize) {
        self.nodes[i].kill9();
    }

    /// Starts node `i` again on the same home and ports, and waits for its API.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.nodes[i].restart()
    }

    /// Runs `kp` against node `i` (with `KP_NODE` and `KP_PASSPHRASE`).
    pub fn kp<S: AsRef<str>>(&self, i: usize, args: &[S]) -> Output {
        self.nodes[i].kp(args)
    }

    /// The Participant code of node `i`, as its `node/participant.json` says.
    pub fn participant(&self, i: usize) -> &str {
        &self.participants[i]
    }

    /// Node `i`'s Participant's authority key, encrypted with `DEV_PASSPHRASE`.
    pub fn authority_key(&self, i: usize) -> PathBuf {
        self.home(i)
            .join("keys")
            .join(format!("{}.key", self.participants[i]))
    }

    /// A joiner's authority key, encrypted with `DEV_PASSPHRASE`.
    pub fn joiner_key(&self, joiner: &Joiner) -> PathBuf {
        joiner
            .home
            .join("keys")
            .join(format!("{}.key", joiner.code))
    }

    pub fn block(&self, i: usize, height: u64) -> Result<BlockView> {
        Ok(self.client(i).block(height)?)
    }

    pub fn block_hash(&self, i: usize, height: u64) -> Result<Hash32> {
        Ok(self.block(i, height)?.hash)
    }

    /// What node `i` knows of transaction `id`; `None` if nothing.
    pub fn tx_status(&self, i: usize, id: &TxId) -> Result<Option<TxStatus>> {
        Ok(self
            .client(i)
            .get_if_found(&format!("/v1/transactions/{id}"))?)
    }

    /// The highest height any of `nodes` reports (those not answering
    /// count for nothing).
    pub fn max_height(&self, nodes: &[usize]) -> u64 {
        nodes
            .iter()
            .filter_map(|&i| self.status(i).ok())
            .map(|s| s.height)
            .max()
            .unwrap_or(0)
    }

    /// Each of `nodes` with its height, or why it did not answer, for errors.
    pub fn heights(&self, nodes: &[usize]) -> String {
        nodes
            .iter()
            .map(|&i| match self.status(i) {
                Ok(status) => format!("node{i} at {}", status.height),
                Err(e) => format!("node{i} not answering ({e:#})"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Waits until every one of `nodes` is at `height` or past it.
    pub fn wait_at_least(&self, nodes: &[usize], height: u64, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let reached = nodes
                .iter()
                .all(|&i| self.status(i).is_ok_and(|s| s.height >= height));
            if reached {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "not all of nodes {nodes:?} reached height {height} within {limit:?}: {}",
                    self.heights(nodes)
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits until every node is at `height` or past it.
    pub fn wait_all_at_least(&self, height: u64, limit: Duration) -> Result<()> {
        self.wait_at_least(&self.all(), height, limit)
    }

    /// Waits until each of `nodes` has transaction `id` in a block, and
    /// returns what each says of it, in the order of `nodes`. Fails at once
    /// if one of them reports it rejected.
    pub fn wait_committed(
        &self,
        nodes: &[usize],
        id: &TxId,
        limit: Duration,
    ) -> Result<Vec<TxStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            let mut committed = Vec::with_capacity(nodes.len());
            let mut waiting = Vec::new();
            for &i in nodes {
                match self.tx_status(i, id) {
                    Ok(Some(status)) if status.state == TxState::Committed => {
                        committed.push(status)
                    }
                    Ok(Some(status)) if status.state == TxState::Rejected => {
                        bail!("node{i} rejected transaction {id}: {:?}", status.error)
                    }
                    Ok(Some(_)) => waiting.push(format!("node{i}: pending")),
                    Ok(None) => waiting.push(format!("node{i}: unknown")),
                    Err(e) => waiting.push(format!("node{i}: {e:#}")),
                }
            }
            if waiting.is_empty() {
                return Ok(committed);
            }
            if Instant::now() > deadline {
                bail!(
                    "transaction {id} not committed on all of {nodes:?} within {limit:?}: {}",
                    waiting.join(", ")
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Checks that `nodes` hold the same blocks 1..=`height` (hash, header
    /// and transactions) and returns the state hash after `height`.
    pub fn same_chain_through(&self, nodes: &[usize], height: u64) -> Result<Hash32> {
        let Some((&first, others)) = nodes.split_first() else {
            bail!("no nodes to compare")
        };
        let mut state_hash = None;
        for h in 1..=height {
            let expected = self.block(first, h)?;
            for &i in others {
                let block = self.block(i, h)?;
                if block != expected {
                    bail!(
                        "node{i} and node{first} differ at height {h}: {} vs {}",
                        block.hash,
                        expected.hash
                    );
                }
            }
            state_hash = Some(expected.header.state_hash);
        }
        state_hash.context("height 0 has no block to compare")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Each node prints its log's tail if the test is failing; the files
        // stay for a failing test, or for any when KP_TEST_KEEP is set.
        self.nodes.clear();
        if std::thread::panicking() || std::env::var_os("KP_TEST_KEEP").is_some() {
            let kept = self.keep_files();
            eprintln!(
                "cluster files (homes, genesis, logs) kept in {}",
                kept.display()
            );
        }
    }
}

/// A Participant about to join a running cluster: its home and keys.
#[derive(Debug, Clone)]
pub struct Joiner {
    pub code: String,
    pub home: PathBuf,
    /// Public keys, hex.
    pub authority: String,
    pub validator: String,
    api_port: u16,
}

/// A home's `node/participant.json`: code, name, authority, validator.
fn read_card(home: &Path) -> Result<serde_json::Value> {
    let path = home.join("node").join("participant.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))
}

/// The Participant code in a home's `node/participant.json`.
fn participant_code(home: &Path) -> Result<String> {
    read_card(home)?["code"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{} names no participant code", home.display()))
}
