//! A validator killed with SIGKILL replays its log, catches up and votes again.

use super::*;

#[test]
fn a_killed_validator_catches_up_and_votes_again() {
    let mut cluster = start_cluster();
    let started = Instant::now();
    let all = cluster.all();
    cluster
        .wait_all_at_least(2, COMMIT_LIMIT)
        .unwrap_or_else(|e| panic!("{e:#}"));

    // Node 3 dies; three of four still make a quorum.
    let victim = 3;
    let victim_height = cluster.status(victim).expect("status").height;
    cluster.kill9(victim);
    let up = [0, 1, 2];
    let before = cluster.max_height(&up);
    let while_down: Vec<TxId> = std::thread::scope(|s| {
        let running: Vec<_> = up
            .iter()
            .enumerate()
            .map(|(k, &authority)| {
                let cluster = &cluster;
                s.spawn(move || {
                    (0..2)
                        .map(|round| {
                            let node = up[(k + round + 1) % up.len()];
                            let name = format!("down-{authority}-{round}");
                            let (_, id) = enrol(cluster, node, authority, &name, "trader");
                            committed_on(cluster, &up, &id);
                            id
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        running
            .into_iter()
            .flat_map(|enrolments| enrolments.join().expect("enrolments"))
            .collect()
    });
    // Past anything node 3 may have held, so that it has blocks to fetch.
    let moved_on = before.max(victim_height) + 2;
    cluster
        .wait_at_least(&up, moved_on, COMMIT_LIMIT)
        .unwrap_or_else(|e| panic!("{e:#}"));

    // It comes back, fetches what it missed, and agrees.
    let target = cluster.max_height(&up);
    let restarted = Instant::now();
    cluster.restart(victim).expect("restart the killed node");
    all_agree_through(&cluster, target, CATCH_UP_LIMIT);
    for id in &while_down {
        committed_on(&cluster, &all, id);
    }
    let caught_up = restarted.elapsed();

    // Node 0 dies: blocks now need node 3's votes, so they show it votes.
    let second = 0;
    cluster.kill9(second);
    let up = [1, 2, 3];
    let before = cluster.max_height(&up);
    let (_, id) = enrol(&cluster, victim, 1, "after-restart", "trader");
    committed_on(&cluster, &up, &id);
    cluster
        .wait_at_least(&up, before + 2, COMMIT_LIMIT)
        .unwrap_or_else(|e| panic!("with node{victim} back and node{second} down: {e:#}"));

    // With two of four, nothing commits: a transaction waits.
    let third = 1;
    cluster.kill9(third);
    let up = [2, 3];
    // Anything decided before the kill has reached both by now.
    std::thread::sleep(Duration::from_secs(3));
    let stalled = cluster.max_height(&up);
    let authority = read_key_file(&cluster.authority_key(2), DEV_PASSPHRASE).expect("key");
    let nonce = last_nonce(&cluster, 2, &authority.public()).pending_last + 1;
    let enrol_body = Body::EnrolMember {
        member: SecretKey::generate().public(),
        role: Role::Trader,
        name: "while stalled".into(),
        licence: "L-stalled".into(),
        zone: None,
    };
    let genesis = cluster.status(2).expect("status").genesis_hash;
    let Ok(waiting) = post_tx(
        &cluster,
        2,
        &Transaction::signed(&authority, nonce, genesis, enrol_body),
    ) else {
        panic!("node2 takes a transaction while the chain is stalled")
    };
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        cluster.max_height(&up),
        stalled,
        "blocks committed with only two of four validators: {}",
        cluster.heights(&up)
    );
    assert_eq!(
        cluster
            .tx_status(2, &waiting.id)
            .expect("tx status")
            .map(|s| s.state),
        Some(TxState::Pending)
    );

    // Both come back: the waiting transaction commits and all four agree.
    cluster.restart(third).expect("restart");
    cluster.restart(second).expect("restart");
    committed_on(&cluster, &all, &waiting.id);
    let height = cluster.max_height(&all);
    all_agree_through(&cluster, height, CATCH_UP_LIMIT);
    // Node 1 was killed mid-height, while it voted, and came back while the
    // other two were still at that height: from its write-ahead log it must
    // vote as before. A second, different vote would be evidence that the
    // deciding validators log.
    let logs: String = all
        .iter()
        .map(|i| std::fs::read_to_string(cluster.dir().join(format!("node{i}.log"))))
        .collect::<Result<_, _>>()
        .expect("the nodes' logs");
    assert!(
        !logs.contains("two different votes in one round"),
        "a restarted validator voted twice in one round"
    );
    // What led to that once: a block decided from the write-ahead log's
    // replay that the restarted node no longer held.
    assert!(
        !logs.contains("decided block missing"),
        "a restarted validator decided a block it had lost"
    );
    println!(
        "node{victim} caught up {} blocks in {caught_up:?}; whole test {:?} ({height} blocks)",
        target - victim_height,
        started.elapsed()
    );
}
