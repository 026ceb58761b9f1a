//! `GET /healthz` and `GET /readyz` of real nodes: a dev node is alive and
//! ready; a validator cut off from consensus (but still told its peers'
//! heights) is alive but not ready while it falls behind, and ready again
//! once it has caught up.

use std::time::{Duration, Instant};

use kp_tests::{agent, Cluster, DevNode, Options};
use kp_wire::api::ErrorBody;
use serde_json::Value;

/// How long a node may take to become ready, or not ready: consensus to
/// start, blocks to be made (one a second on an idle testnet, slower while
/// a round's proposer is cut off and the round times out) and peers'
/// heights to arrive (every two seconds), on a busy two-core machine.
const CHANGE_LIMIT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Status and JSON body of `GET {url}{path}`.
fn get(url: &str, path: &str) -> (u16, Value) {
    let mut response = agent()
        .get(&format!("{url}{path}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {url}{path}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_json()
        .unwrap_or_else(|e| panic!("GET {url}{path}: not JSON: {e}"));
    (status, body)
}

/// Polls `GET {url}/readyz` until `wanted` says yes to its answer, and
/// returns it; fails after `CHANGE_LIMIT`, saying what it last was.
fn wait_readyz(url: &str, what: &str, wanted: impl Fn(u16, &Value) -> bool) -> (u16, Value) {
    let deadline = Instant::now() + CHANGE_LIMIT;
    loop {
        let (status, body) = get(url, "/readyz");
        if wanted(status, &body) {
            return (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "{url} was not {what} within {CHANGE_LIMIT:?}: {status} {body}"
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn ready(status: u16, body: &Value) -> bool {
    status == 200 && body["status"] == "ok"
}

#[test]
fn a_dev_node_is_alive_and_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), "BW,EU").expect("node");
    let (status, body) = get(&node.url(), "/healthz");
    assert_eq!((status, body), (200, serde_json::json!({"status": "ok"})));
    wait_readyz(&node.url(), "ready", ready);
}

#[test]
fn a_validator_cut_off_from_consensus_is_not_ready_until_it_catches_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options {
        linked: true,
        ..Options::default()
    };
    let cluster = Cluster::start_with(dir, 4, options).expect("the cluster starts");
    for i in cluster.all() {
        wait_readyz(&cluster.url(i), "ready", ready);
    }

    // Three validators of four still make blocks; the fourth hears of them
    // through gossip but gets none.
    cluster.cut_consensus(3);
    let (_, body) = wait_readyz(&cluster.url(3), "not ready", |status, _| status == 503);
    let error: ErrorBody = serde_json::from_value(body.clone()).expect("an error body");
    assert_eq!(error.error.code, "catching_up", "{body}");
    assert_eq!(get(&cluster.url(3), "/healthz").0, 200, "alive all along");
    for i in 0..3 {
        let (status, body) = get(&cluster.url(i), "/readyz");
        assert!(ready(status, &body), "node{i}: {status} {body}");
    }

    cluster.heal();
    wait_readyz(&cluster.url(3), "ready again", ready);
}
