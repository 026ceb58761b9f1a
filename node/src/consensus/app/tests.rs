//! The application driven as the engine would, over fresh ledgers of the
//! test chain: no engine, no network, no clock waits.

use std::path::Path;

use kp_crypto::Hash32;
use kp_ledger::testkit::key_named;
use malachitebft_app_channel::app::types::core::Validity;

use super::super::context::local_timeouts;
use super::*;
use crate::mempool::{enrol, MempoolLimits, Source};
use crate::testing::{test_node, TestNode};

/// The test chain's validators, by the names of their keys.
const VALIDATORS: [&str; 5] = [
    "validator BW",
    "validator EU",
    "validator ZA",
    "validator IN",
    "validator CF",
];

const ROUND: Round = Round::new(0);

/// An application over `node` signing with the key named `key`, its
/// proposal log in `log_dir`.
fn app(node: &TestNode, key: &str, log_dir: &Path) -> App {
    // The node's write-ahead log directory, where the proposals go.
    std::fs::create_dir_all(log_dir).expect("log directory");
    let services = Services {
        chain: node.chain.clone(),
        mempool: node.mempool.clone(),
        metrics: node.metrics.clone(),
        participants: ParticipantNodes::new(node.chain.clone(), None),
    };
    App::new(
        services,
        Arc::new(key_named(key)),
        local_timeouts(),
        Duration::ZERO,
        ProposalLog::new(log_dir.join("proposals")),
    )
}

/// The names of the proposer of height 1, round 0, and of another
/// validator.
fn proposer_and_other(node: &TestNode) -> (&'static str, &'static str) {
    let validators = validator_set(&node.chain.snapshot().expect("snapshot")).expect("set");
    let proposer = KpContext
        .select_proposer(&validators, Height(1), ROUND)
        .address;
    let named = |name: &str| Address(key_named(name).public()) == proposer;
    let proposer = VALIDATORS.into_iter().find(|name| named(name));
    let other = VALIDATORS.into_iter().find(|name| !named(name));
    (proposer.expect("a test validator"), other.expect("another"))
}

fn peer_id() -> PeerId {
    let key = libp2p::identity::Keypair::generate_ed25519();
    PeerId::from_bytes(&key.public().to_peer_id().to_bytes()).expect("a peer id")
}

fn certificate(id: BlockId) -> CommitCertificate<KpContext> {
    CommitCertificate {
        height: Height(1),
        round: ROUND,
        value_id: id,
        commit_signatures: Vec::new(),
    }
}

/// Feeds `messages` to `app` as one peer's stream: the value once the
/// stream is whole.
async fn receive(
    app: &mut App,
    messages: Vec<StreamMessage<BlockPart>>,
) -> Option<ProposedValue<KpContext>> {
    let publisher = peer_id();
    let mut value = None;
    for message in messages {
        value = app
            .received_part(publisher, message)
            .await
            .expect("no storage fault");
    }
    value
}

/// Height 1, round 0 proposed by `key` over `node`, with what waits in
/// its mempool: the block's id and its stream.
async fn proposed(
    node: &TestNode,
    key: &str,
    log_dir: &Path,
) -> (BlockId, Vec<StreamMessage<BlockPart>>) {
    let mut app = app(node, key, log_dir);
    app.enter_height(Height(1)).expect("height 1");
    let id = app
        .propose(Height(1), ROUND, Duration::from_secs(1))
        .await
        .expect("proposed");
    let messages = app.candidates[&id].messages.clone();
    (id, messages)
}

#[tokio::test]
async fn a_block_the_proposer_builds_is_accepted_decided_and_committed_by_a_peer() {
    let logs = tempfile::tempdir().expect("tempdir");
    let proposing = test_node("validator BW", MempoolLimits::default());
    let (proposer, other) = proposer_and_other(&proposing);
    let tx = enrol(1, "a");
    proposing.mempool.admit([Ok(tx.clone())], Source::Client);
    let (id, messages) = proposed(&proposing, proposer, &logs.path().join("a")).await;

    let node = test_node("validator EU", MempoolLimits::default());
    let mut peer = app(&node, other, &logs.path().join("b"));
    peer.enter_height(Height(1)).expect("height 1");
    let value = receive(&mut peer, messages)
        .await
        .expect("a whole proposal");
    assert_eq!(value.value, id);
    assert_eq!(value.validity, Validity::Valid);
    assert!(node.chain.consensus_running());

    peer.decided(certificate(id), VoteExtensions::default())
        .await
        .expect("committed");
    assert_eq!(node.chain.store().tip().expect("tip").height, 1);
    assert_eq!(*node.chain.committed().borrow(), 1);
    let committed = node.chain.snapshot().expect("snapshot").tx(&tx.id);
    assert!(committed.expect("read").is_some());
    assert!(matches!(
        peer.after_finalized(Height(1)).expect("next"),
        Next::Start(Height(2), _)
    ));
}

#[tokio::test]
async fn a_block_proposed_by_another_than_the_rounds_proposer_is_dropped() {
    let logs = tempfile::tempdir().expect("tempdir");
    let proposing = test_node("validator BW", MempoolLimits::default());
    let (_, other) = proposer_and_other(&proposing);
    let (_, messages) = proposed(&proposing, other, &logs.path().join("a")).await;

    let node = test_node("validator EU", MempoolLimits::default());
    let mut peer = app(&node, other, &logs.path().join("b"));
    peer.enter_height(Height(1)).expect("height 1");
    assert!(receive(&mut peer, messages).await.is_none());
    assert!(peer.candidates.is_empty());
}

#[tokio::test]
async fn a_proposal_held_before_a_restart_is_held_again_and_can_be_decided() {
    let logs = tempfile::tempdir().expect("tempdir");
    let proposing = test_node("validator BW", MempoolLimits::default());
    let (proposer, other) = proposer_and_other(&proposing);
    let (id, messages) = proposed(&proposing, proposer, &logs.path().join("a")).await;

    let node = test_node("validator EU", MempoolLimits::default());
    let log_dir = logs.path().join("b");
    {
        let mut before = app(&node, other, &log_dir);
        before.enter_height(Height(1)).expect("height 1");
        receive(&mut before, messages)
            .await
            .expect("a whole proposal");
    }
    let mut after = app(&node, other, &log_dir);
    after.enter_height(Height(1)).expect("height 1");
    after.recover_proposals(Height(1)).await.expect("recovered");
    assert!(after.candidates.get(&id).is_some_and(|c| c.checked.is_ok()));
    after
        .decided(certificate(id), VoteExtensions::default())
        .await
        .expect("committed");
    assert_eq!(node.chain.store().tip().expect("tip").height, 1);
}

#[tokio::test]
async fn a_decided_block_not_held_is_not_committed_and_its_height_runs_again() {
    let logs = tempfile::tempdir().expect("tempdir");
    let node = test_node("validator BW", MempoolLimits::default());
    let mut app = app(&node, "validator BW", logs.path());
    app.enter_height(Height(1)).expect("height 1");
    let unknown = BlockId(Hash32([7; 32]));
    app.decided(certificate(unknown), VoteExtensions::default())
        .await
        .expect("not an error: the engine may decide what sync brings later");
    assert_eq!(node.chain.store().tip().expect("tip").height, 0);
    assert!(matches!(
        app.after_finalized(Height(1)).expect("next"),
        Next::Restart(Height(1), _)
    ));
}
