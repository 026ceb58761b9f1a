//! Four validators on loopback, each a real `kpnode run`, as one test
//! binary (a cluster takes seconds to start; one binary links once). The
//! helpers are here; the tests are by subject:
//!
//! - `agreement`: every node agrees on every block whatever node a
//!   transaction enters by.
//! - `recovery`: a node killed with SIGKILL catches up and votes again.
//! - `races`: one parcel offered twice at once through two nodes ends with
//!   exactly one offer on every node.
//! - `faults`: a network cut in two commits nothing until healed; three
//!   honest validators outlast an equivocating one.
//! - `membership`: a Participant admitted by vote joins and votes, a
//!   suspended one cannot export, and a node outside the set observes.

mod agreement;
mod faults;
mod membership;
mod races;
mod recovery;

use std::collections::BTreeSet;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use kp_crypto::keystore::read_key_file;
use kp_crypto::{Hash32, PublicKey, SecretKey};
use kp_ledger::bundle::Verified;
use kp_ledger::model::{ParcelId, ParcelStatus, Role, Transfer, TransferStatus, TxId};
use kp_ledger::tx::{tx_id, Body, Transaction};
use kp_tests::{
    cert_issue_args, enroll_args, ok_stdout, register_args, Cluster, Options, Shipment,
    DEV_PASSPHRASE,
};
use kp_wire::api::{NonceView, ParcelView, TxState, TxStatus};
use kp_wire::client::ClientResult;

const VALIDATORS: u16 = 4;
/// Generous for one block on a loaded 2-core machine, even when the round's
/// proposer is down and the round must time out first.
const COMMIT_LIMIT: Duration = Duration::from_secs(30);
/// A restarted node replays its log and fetches what it missed.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(60);

fn start_cluster() -> Cluster {
    let dir = tempfile::tempdir().expect("a temporary directory");
    Cluster::start(dir, VALIDATORS).expect("the cluster starts")
}

/// A member's key file and public key.
struct Member {
    key_file: String,
    public: String,
}

impl Member {
    fn key(&self) -> PublicKey {
        self.public.parse().expect("kp key new prints a public key")
    }
}

/// Runs a `kp --json` write against node `node`: it exits 0 only once the
/// transaction is in a block there. Returns the status it printed.
fn kp_write<S: AsRef<str>>(cluster: &Cluster, node: usize, args: &[S]) -> TxStatus {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let out = cluster.kp(node, &[&["--json"], &args[..]].concat());
    let what = format!("kp {} on node{node}", args[..2].join(" "));
    let status: TxStatus = serde_json::from_str(&ok_stdout(&out, &what))
        .unwrap_or_else(|e| panic!("{what} printed no TxStatus: {e}"));
    assert_eq!(status.state, TxState::Committed, "{what}");
    status
}

/// Waits until every one of `nodes` has `id` in a block and checks that
/// they all put it in the same place; returns that place.
fn committed_on(cluster: &Cluster, nodes: &[usize], id: &TxId) -> TxStatus {
    let statuses = cluster
        .wait_committed(nodes, id, COMMIT_LIMIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    for (node, status) in nodes.iter().zip(&statuses) {
        assert_eq!(
            status, &statuses[0],
            "node{node} and node{} disagree on transaction {id}",
            nodes[0]
        );
    }
    statuses[0].clone()
}

/// Waits until every node is at `height` or past it and checks that they
/// all hold the same blocks up to it; returns the state hash there.
fn all_agree_through(cluster: &Cluster, height: u64, limit: Duration) -> Hash32 {
    cluster
        .wait_all_at_least(height, limit)
        .unwrap_or_else(|e| panic!("{e:#}"));
    cluster
        .same_chain_through(&cluster.all(), height)
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Authority `authority` enrols a new member through node `node`.
fn enrol(
    cluster: &Cluster,
    node: usize,
    authority: usize,
    name: &str,
    role: &str,
) -> (Member, TxId) {
    let (key_file, public) = cluster.node(node).new_key(cluster.dir(), name);
    let authority_key = cluster.authority_key(authority);
    let authority_key = authority_key.to_string_lossy();
    let args = enroll_args(&authority_key, &public, role, name, &format!("L-{name}"));
    let status = kp_write(cluster, node, &args);
    (Member { key_file, public }, status.id)
}

/// A miner registers a parcel of its Participant through node `node`.
fn register(cluster: &Cluster, node: usize, miner: &Member, origin: &str) -> (ParcelId, TxId) {
    let args = register_args(&miner.key_file, origin, None, "2.500", "7102.10");
    let status = kp_write(cluster, node, &args);
    (status.created[0], status.id)
}

fn offer(
    cluster: &Cluster,
    node: usize,
    from: &Member,
    parcel: &ParcelId,
    to: &Member,
) -> TxStatus {
    kp_write(
        cluster,
        node,
        &[
            "transfer",
            "offer",
            "--key",
            &from.key_file,
            "--parcel",
            &parcel.to_string(),
            "--to",
            &to.public,
        ],
    )
}

fn accept(cluster: &Cluster, node: usize, to: &Member, transfer: &str) -> TxStatus {
    kp_write(
        cluster,
        node,
        &[
            "transfer",
            "accept",
            "--key",
            &to.key_file,
            "--transfer",
            transfer,
        ],
    )
}

fn parcel_on(cluster: &Cluster, node: usize, parcel: &ParcelId) -> ParcelView {
    cluster
        .client(node)
        .parcel(&parcel.to_string())
        .unwrap_or_else(|e| panic!("parcel {parcel} on node{node}: {e}"))
}

/// What node `node` answers to `tx`: `pending`, or its refusal.
fn post_tx(cluster: &Cluster, node: usize, tx: &Transaction) -> ClientResult<TxStatus> {
    cluster.client(node).submit(&tx.to_bytes())
}

fn last_nonce(cluster: &Cluster, node: usize, key: &PublicKey) -> NonceView {
    cluster.client(node).nonces(key).expect("nonce view")
}
