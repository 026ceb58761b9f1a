//! Swarms of a few nodes on loopback (ports the system picks): gossip,
//! verdicts, queries, the allow-list and redials.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use kp_crypto::{Hash32, PublicKey, SecretKey};
use kp_ledger::tx::TX_SIZE_BYTES_MAX;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;

use super::query::PENDING_ANSWER_TX_BYTES_MAX;
use super::*;

const GENESIS: Hash32 = Hash32([7; 32]);
/// The bound on every wait for something that should happen.
const WAIT: Duration = Duration::from_secs(5);
/// How long something that should not happen is given to happen.
const SILENCE: Duration = Duration::from_millis(300);

struct TestNode {
    handle: GossipHandle,
    events: mpsc::Receiver<GossipEvent>,
    keypair: Keypair,
    id: PeerId,
    addr: Multiaddr,
}

fn any_port() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().expect("a multiaddr")
}

async fn start_node(
    keypair: Keypair,
    listen: Multiaddr,
    peers: Vec<Multiaddr>,
    allowed: Vec<PeerId>,
) -> TestNode {
    let id = keypair.public().to_peer_id();
    let (handle, events) = start(GossipConfig {
        keypair: keypair.clone(),
        listen,
        peers,
        allowed,
        genesis: GENESIS,
        message_bytes_max: TX_SIZE_BYTES_MAX,
    })
    .await
    .expect("gossip starts");
    let addr = handle.listen_addrs().await.expect("running")[0].clone();
    TestNode {
        handle,
        events,
        keypair,
        id,
        addr,
    }
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Takes events until each of `peers` has joined.
async fn joined(node: &mut TestNode, peers: &[PeerId]) {
    let mut waiting: HashSet<PeerId> = peers.iter().copied().collect();
    within("peers to join", async {
        while !waiting.is_empty() {
            match node.events.recv().await {
                Some(GossipEvent::PeerConnected(peer)) => waiting.remove(&peer),
                other => panic!("expected a peer to join, got {other:?}"),
            };
        }
    })
    .await;
}

async fn next_tx(node: &mut TestNode) -> IncomingTx {
    match within("a transaction", node.events.recv()).await {
        Some(GossipEvent::Tx(tx)) => tx,
        other => panic!("expected a transaction, got {other:?}"),
    }
}

async fn quiet(node: &mut TestNode) {
    if let Ok(event) = tokio::time::timeout(SILENCE, node.events.recv()).await {
        panic!("expected nothing, got {event:?}");
    }
}

async fn peers_become(node: &TestNode, count: usize) {
    within("the peer count", async {
        while node.handle.peers() != count {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// A dials B; each allows only the other.
async fn pair() -> (TestNode, TestNode) {
    let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let (a_id, b_id) = (a.public().to_peer_id(), b.public().to_peer_id());
    let mut b = start_node(b, any_port(), vec![], vec![a_id]).await;
    let mut a = start_node(a, any_port(), vec![b.addr.clone()], vec![b_id]).await;
    joined(&mut a, &[b_id]).await;
    joined(&mut b, &[a_id]).await;
    (a, b)
}

/// A–B–C: A and C dial B and know only B.
async fn line() -> (TestNode, TestNode, TestNode) {
    let (a, b, c) = (
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
    );
    let (a_id, b_id, c_id) = (
        a.public().to_peer_id(),
        b.public().to_peer_id(),
        c.public().to_peer_id(),
    );
    let mut b = start_node(b, any_port(), vec![], vec![a_id, c_id]).await;
    let mut a = start_node(a, any_port(), vec![b.addr.clone()], vec![b_id]).await;
    let mut c = start_node(c, any_port(), vec![b.addr.clone()], vec![b_id]).await;
    joined(&mut a, &[b_id]).await;
    joined(&mut b, &[a_id, c_id]).await;
    joined(&mut c, &[b_id]).await;
    (a, b, c)
}

#[tokio::test]
async fn a_message_crosses_the_line_once_the_middle_accepts_it() {
    let (a, mut b, mut c) = line().await;
    // The largest transaction fits, framing and all; one byte more does not.
    let largest = vec![7; TX_SIZE_BYTES_MAX];
    let error = a.handle.publish(vec![7; TX_SIZE_BYTES_MAX + 1]).await;
    assert_eq!(error.unwrap_err().code(), "gossip_message_too_large");
    a.handle.publish(largest.clone()).await.expect("published");

    let at_b = next_tx(&mut b).await;
    assert_eq!((&at_b.bytes, at_b.from), (&largest, a.id));
    // Held while B decides.
    quiet(&mut c).await;
    at_b.verdict.send(Verdict::Accept).expect("B waits");

    let at_c = next_tx(&mut c).await;
    assert_eq!((&at_c.bytes, at_c.from), (&largest, b.id));
}

#[tokio::test]
async fn messages_rejected_or_ignored_in_the_middle_stop_there() {
    let (a, mut b, mut c) = line().await;
    for bytes in [&b"rejected"[..], b"ignored", b"accepted"] {
        a.handle.publish(bytes.to_vec()).await.expect("published");
        let at_b = next_tx(&mut b).await;
        assert_eq!(at_b.bytes, bytes);
        match bytes {
            b"rejected" => at_b.verdict.send(Verdict::Reject).expect("B waits"),
            // A dropped question counts as Ignore.
            b"ignored" => drop(at_b.verdict),
            _ => at_b.verdict.send(Verdict::Accept).expect("B waits"),
        }
    }
    assert_eq!(next_tx(&mut c).await.bytes, b"accepted");
    quiet(&mut c).await;
}

#[tokio::test]
async fn the_same_bytes_from_two_nodes_are_one_message() {
    let (a, mut b, c) = line().await;
    let same = b"submitted at two nodes".to_vec();
    let (from_a, from_c) = tokio::join!(
        a.handle.publish(same.clone()),
        c.handle.publish(same.clone())
    );
    from_a.expect("published");
    from_c.expect("published");

    let at_b = next_tx(&mut b).await;
    assert_eq!(at_b.bytes, same);
    at_b.verdict.send(Verdict::Accept).expect("B waits");
    quiet(&mut b).await;
}

#[tokio::test]
async fn only_allowed_peers_stay_connected() {
    let (a, mut b) = pair().await;
    // The stranger would talk to B, but B has not allowed it.
    let stranger = start_node(
        Keypair::generate_ed25519(),
        any_port(),
        vec![b.addr.clone()],
        vec![b.id],
    )
    .await;

    stranger
        .handle
        .publish(b"from a stranger".to_vec())
        .await
        .expect("publishing to nobody is no error");
    quiet(&mut b).await;
    assert_eq!(b.handle.peers(), 1);

    // Taken off the list, A is cut off, and its redials are refused.
    b.handle.set_allowed_peers(vec![]).await.expect("running");
    peers_become(&b, 0).await;
    peers_become(&a, 0).await;
    a.handle
        .publish(b"after removal".to_vec())
        .await
        .expect("published");
    quiet(&mut b).await;
    assert_eq!(b.handle.peers(), 0);
}

#[tokio::test]
async fn queries_are_answered_by_the_application() {
    let (a, b) = pair().await;
    let b_id = b.id;
    // B's application: height 7, three transactions waiting.
    let mut b_events = b.events;
    tokio::spawn(async move {
        let waiting = [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()];
        while let Some(event) = b_events.recv().await {
            if let GossipEvent::Query(IncomingQuery { query, answer, .. }) = event {
                let _ = answer.send(match query {
                    Query::Status => Answer::Status {
                        genesis: GENESIS,
                        height: 7,
                    },
                    Query::Pending { max } => {
                        Answer::Pending(waiting.iter().take(max as usize).cloned().collect())
                    }
                });
            }
        }
    });

    let status = a.handle.query(b_id, Query::Status).await.expect("answered");
    assert_eq!(
        status,
        Answer::Status {
            genesis: GENESIS,
            height: 7
        }
    );
    let pending = a
        .handle
        .query(b_id, Query::Pending { max: 2 })
        .await
        .expect("answered");
    assert_eq!(
        pending,
        Answer::Pending(vec![b"one".to_vec(), b"two".to_vec()])
    );

    let stranger = Keypair::generate_ed25519().public().to_peer_id();
    let error = a.handle.query(stranger, Query::Status).await.unwrap_err();
    assert_eq!(error.code(), "gossip_peer_not_connected");
}

#[tokio::test]
async fn a_restarted_peer_rejoins_by_itself() {
    let (mut a, first_b) = pair().await;
    first_b.handle.shutdown().await;
    peers_become(&a, 0).await;

    // Only A knows where to find B: the reconnection is A's redial.
    let mut b = start_node(first_b.keypair, first_b.addr, vec![], vec![a.id]).await;
    joined(&mut a, &[b.id]).await;
    joined(&mut b, &[a.id]).await;

    a.handle
        .publish(b"after the restart".to_vec())
        .await
        .expect("published");
    assert_eq!(next_tx(&mut b).await.bytes, b"after the restart");
}

#[test]
fn a_node_is_known_by_its_validator_key() {
    let validator = SecretKey::generate();
    let keypair = keypair_from_secret(&validator);
    assert_eq!(
        peer_id_of(&validator.public()).expect("a valid key"),
        keypair.public().to_peer_id()
    );
    // y = 2 is on no ed25519 curve point.
    let mut off_curve = [0; 32];
    off_curve[0] = 2;
    let error = peer_id_of(&PublicKey(off_curve)).unwrap_err();
    assert_eq!(error.code(), "gossip_invalid_validator_key");
}

#[test]
fn pending_answers_are_cut_to_the_count_and_the_byte_budget() {
    let half = vec![0; PENDING_ANSWER_TX_BYTES_MAX / 2];
    let three = Answer::Pending(vec![half.clone(), half.clone(), half.clone()]);
    assert_eq!(
        bounded(three.clone(), 10),
        Answer::Pending(vec![half.clone(), half.clone()])
    );
    assert_eq!(bounded(three, 1), Answer::Pending(vec![half]));
}
