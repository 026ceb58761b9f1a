//! A network cut in two commits nothing until healed, and three honest
//! validators outlast one that equivocates.

use super::*;

/// An enrolment by node `authority`'s Participant, signed here and posted
/// to `node` without waiting for a block.
fn post_enrolment(cluster: &Cluster, node: usize, authority: usize, name: &str) -> TxId {
    let key = read_key_file(&cluster.authority_key(authority), DEV_PASSPHRASE)
        .expect("the authority key decrypts");
    let genesis = cluster.status(node).expect("status").genesis_hash;
    let nonce = last_nonce(cluster, node, &key.public()).pending_last + 1;
    let body = Body::EnrolMember {
        member: SecretKey::generate().public(),
        role: Role::Trader,
        name: name.to_owned(),
        licence: format!("L-{name}"),
        zone: None,
    };
    let tx = Transaction::signed(&key, nonce, genesis, body);
    match post_tx(cluster, node, &tx) {
        Ok(status) => status.id,
        Err(e) => panic!("node{node} refused {name}: {e}"),
    }
}

/// Each of `nodes`' heights, now.
fn heights_of(cluster: &Cluster, nodes: &[usize]) -> Vec<u64> {
    nodes
        .iter()
        .map(|&i| cluster.status(i).expect("status").height)
        .collect()
}

#[test]
fn a_network_cut_in_two_halves_commits_nothing_until_healed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = Options {
        linked: true,
        ..Options::default()
    };
    let cluster = Cluster::start_with(dir, VALIDATORS, options).expect("the cluster starts");
    let all = cluster.all();
    let (_, first) = enrol(&cluster, 0, 0, "before-the-cut", "trader");
    committed_on(&cluster, &all, &first);

    cluster.partition(&[&[0, 1], &[2, 3]]);
    // A block already decided when the cut came may still reach a node.
    std::thread::sleep(Duration::from_secs(2));
    let at_cut = heights_of(&cluster, &all);
    let left = post_enrolment(&cluster, 0, 0, "left-of-the-cut");
    let right = post_enrolment(&cluster, 2, 2, "right-of-the-cut");
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        heights_of(&cluster, &all),
        at_cut,
        "two validators of four are no quorum: neither half may commit"
    );
    for id in [&left, &right] {
        for &i in &all {
            let state = cluster
                .tx_status(i, id)
                .expect("tx status")
                .map(|s| s.state);
            assert_ne!(state, Some(TxState::Committed), "node{i} committed {id}");
        }
    }

    cluster.heal();
    committed_on(&cluster, &all, &left);
    let after = committed_on(&cluster, &all, &right);
    all_agree_through(
        &cluster,
        after.height.expect("committed at a height"),
        CATCH_UP_LIMIT,
    );
}

/// Equivocates at every chance: two proposals for every round it proposes
/// in, and a second, conflicting vote for every vote it casts.
const EQUIVOCATE_ALWAYS: &str =
    r#"{"equivocate_votes":{"mode":"always"},"equivocate_proposals":{"mode":"always"}}"#;

#[test]
fn three_honest_validators_outlast_an_equivocating_one() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = Options {
        byzantine: Some((3, EQUIVOCATE_ALWAYS.to_owned())),
        ..Options::default()
    };
    let cluster = Cluster::start_with(dir, VALIDATORS, options).expect("the cluster starts");
    let honest = [0, 1, 2];
    let mut last = None;
    for (i, &node) in honest.iter().enumerate() {
        let (_, id) = enrol(&cluster, node, node, &format!("honest-{i}"), "trader");
        last = Some(committed_on(&cluster, &honest, &id));
    }
    let height = last.and_then(|s| s.height).expect("committed at a height");
    // Several heights, so that the Byzantine node proposed in some.
    let target = height + VALIDATORS as u64 + 1;
    cluster
        .wait_at_least(&honest, target, COMMIT_LIMIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    cluster
        .same_chain_through(&honest, target)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let logs: String = honest
        .iter()
        .map(|i| std::fs::read_to_string(cluster.dir().join(format!("node{i}.log"))))
        .collect::<Result<_, _>>()
        .expect("the honest nodes' logs");
    assert!(
        logs.contains("two different votes in one round"),
        "the honest validators name the equivocating one"
    );
}
