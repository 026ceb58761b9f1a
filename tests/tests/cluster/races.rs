//! Two conflicting offers of one parcel, posted at the same moment through
//! two nodes: exactly one commits, the same on every node.

use super::*;

/// How a race of two conflicting offers ended.
struct Race {
    /// The committed offer, as every node reports it.
    won: TxStatus,
    /// Whether each node took the offer posted to it, before hearing of
    /// the other one: the conflict was then settled by consensus alone.
    both_accepted: bool,
}

/// The holder signs two offers of one parcel with the same nonce, one to
/// each trader, and posts them at the same moment to two different nodes.
/// Checks that exactly one commits, the same on every node, and that no
/// node keeps the other.
fn race_two_offers(
    cluster: &Cluster,
    nodes: [usize; 2],
    holder: &SecretKey,
    parcel: &ParcelId,
    to: [PublicKey; 2],
) -> Race {
    let nonce = last_nonce(cluster, nodes[0], &holder.public());
    assert_eq!(
        nonce.last, nonce.pending_last,
        "nothing of the holder's waits"
    );
    let genesis = cluster.status(nodes[0]).expect("status").genesis_hash;
    let barrier = Barrier::new(2);
    let submissions: Vec<(TxId, ClientResult<TxStatus>)> = std::thread::scope(|s| {
        let racing: Vec<_> = nodes
            .iter()
            .zip(to)
            .map(|(&node, to)| {
                let barrier = &barrier;
                s.spawn(move || {
                    let body = Body::OfferTransfer {
                        parcel: *parcel,
                        to,
                        price_cents: None,
                    };
                    // The same nonce: at most one of the two can ever apply.
                    let tx = Transaction::signed(holder, nonce.last + 1, genesis, body);
                    barrier.wait();
                    (tx_id(&tx.to_bytes()), post_tx(cluster, node, &tx))
                })
            })
            .collect();
        racing
            .into_iter()
            .map(|r| r.join().expect("a racing submission"))
            .collect()
    });
    let mut accepted = 0;
    for ((id, submission), node) in submissions.iter().zip(nodes) {
        match submission {
            Ok(status) => {
                assert_eq!(&status.id, id);
                accepted += 1;
            }
            // The other one reached this node by gossip first.
            Err(refused) => {
                assert_eq!(
                    (refused.http_status(), refused.code()),
                    (Some(422), "replay"),
                    "node{node}: {id}"
                );
            }
        }
    }
    assert!(
        accepted >= 1,
        "one of the two is accepted somewhere: {submissions:?}"
    );

    // Exactly one commits, the same one everywhere.
    let all = cluster.all();
    let ids = [submissions[0].0, submissions[1].0];
    let deadline = Instant::now() + COMMIT_LIMIT;
    let winner = loop {
        let committed: Vec<TxId> = ids
            .iter()
            .filter(|id| {
                cluster
                    .tx_status(nodes[0], id)
                    .is_ok_and(|s| s.is_some_and(|s| s.state == TxState::Committed))
            })
            .copied()
            .collect();
        assert!(committed.len() <= 1, "both offers committed");
        if let Some(id) = committed.first() {
            break *id;
        }
        assert!(Instant::now() < deadline, "neither offer committed");
        std::thread::sleep(Duration::from_millis(100));
    };
    let loser = if winner == ids[0] { ids[1] } else { ids[0] };
    let won = committed_on(cluster, &all, &winner);
    // A block later the loser is still out, and no node holds it.
    let settled = won.height.expect("a committed height") + 1;
    cluster
        .wait_all_at_least(settled, COMMIT_LIMIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    for &i in &all {
        match cluster.tx_status(i, &loser).expect("tx status") {
            None => {}
            Some(TxStatus {
                state: TxState::Rejected,
                error: Some(error),
                ..
            }) => assert_eq!(error.code, "replay", "node{i}: {loser}"),
            Some(other) => panic!("node{i} still holds the losing offer: {other:?}"),
        }
    }
    Race {
        won,
        both_accepted: accepted == 2,
    }
}

#[test]
fn one_parcel_offered_twice_at_once_through_two_nodes_has_one_offer() {
    let cluster = start_cluster();
    let started = Instant::now();
    let all = cluster.all();
    let code = cluster.participant(0).to_owned();
    let (miner, id) = enrol(&cluster, 0, 0, "miner", "miner");
    committed_on(&cluster, &all, &id);
    let mut traders = Vec::new();
    for name in ["trader-a", "trader-b"] {
        let (trader, id) = enrol(&cluster, 0, 0, name, "trader");
        committed_on(&cluster, &all, &id);
        traders.push(trader);
    }
    let holder = read_key_file(miner.key_file.as_ref(), DEV_PASSPHRASE).expect("miner key");
    let to = [traders[0].key(), traders[1].key()];

    // Two races, between different pairs of nodes: all four take part.
    let mut both_accepted = 0;
    for nodes in [[1, 2], [3, 0]] {
        let (parcel, id) = register(&cluster, 0, &miner, &code);
        committed_on(&cluster, &all, &id);
        let race = race_two_offers(&cluster, nodes, &holder, &parcel, to);
        both_accepted += usize::from(race.both_accepted);
        let transfer_id = race.won.created[0];

        // One open offer, to the winner's trader, on every node.
        let view = parcel_on(&cluster, 0, &parcel);
        assert_eq!(
            view.parcel.status,
            ParcelStatus::Offered {
                transfer: transfer_id
            }
        );
        let offers = view
            .events
            .iter()
            .filter(|e| matches!(e.body, Body::OfferTransfer { .. }))
            .count();
        assert_eq!(offers, 1, "parcel {parcel}: {:?}", view.events);
        let transfer_on = |i: usize| -> Transfer {
            cluster
                .client(i)
                .transfer(&transfer_id.to_string())
                .expect("transfer")
        };
        let transfer = transfer_on(0);
        assert_eq!(transfer.status, TransferStatus::Open);
        let recipient = traders
            .iter()
            .find(|t| t.key() == transfer.to)
            .expect("the offer names one of the two traders");
        for &i in &all[1..] {
            assert_eq!(
                parcel_on(&cluster, i, &parcel),
                view,
                "node{i}: parcel {parcel}"
            );
            assert_eq!(transfer_on(i), transfer, "node{i}: transfer {transfer_id}");
        }

        // Offering it again, with the next nonce, is refused by both nodes
        // of the race; the named trader takes it.
        let other = traders
            .iter()
            .find(|t| t.key() != transfer.to)
            .expect("the other trader");
        for i in nodes {
            cluster.node(i).kp_refused(
                &[
                    "transfer",
                    "offer",
                    "--key",
                    &miner.key_file,
                    "--parcel",
                    &parcel.to_string(),
                    "--to",
                    &other.public,
                ],
                "parcel_offered",
            );
        }
        let accepted = accept(&cluster, nodes[1], recipient, &transfer_id.to_string());
        committed_on(&cluster, &all, &accepted.id);
        for &i in &all {
            assert_eq!(
                parcel_on(&cluster, i, &parcel).parcel.holder,
                transfer.to,
                "node{i}: parcel {parcel}"
            );
        }
    }
    println!(
        "two double-spend races ({both_accepted} with both offers accepted by their nodes) in {:?}",
        started.elapsed()
    );
}
