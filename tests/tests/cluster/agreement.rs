//! Every node agrees on every block whatever node a transaction enters by.

use super::*;

/// What one Participant did, through every node in turn.
struct Story {
    txs: Vec<TxId>,
    /// The parcel the miner kept, and the one it sold to the trader.
    kept: ParcelId,
    sold: ParcelId,
    miner: Member,
    trader: Member,
}

/// Participant `p` enrols a miner and a trader, the miner registers two
/// parcels and offers one to the trader, who accepts: each step through
/// the next node. A step depends on the one before, which went through
/// another node, so each waits until every node has committed the last.
fn participant_story(cluster: &Cluster, p: usize) -> Story {
    let all = cluster.all();
    let through = |step: usize| (p + step) % cluster.len();
    let mut txs = Vec::new();
    let mut settle = |id: TxId| {
        committed_on(cluster, &all, &id);
        txs.push(id);
    };
    let code = cluster.participant(p);
    let (miner, id) = enrol(cluster, through(0), p, &format!("{code}-miner"), "miner");
    settle(id);
    let (trader, id) = enrol(cluster, through(1), p, &format!("{code}-trader"), "trader");
    settle(id);
    let (kept, id) = register(cluster, through(2), &miner, code);
    settle(id);
    let (sold, id) = register(cluster, through(3), &miner, code);
    settle(id);
    let offered = offer(cluster, through(4), &miner, &sold, &trader);
    settle(offered.id);
    let transfer = offered.created[0].to_string();
    settle(accept(cluster, through(5), &trader, &transfer).id);
    Story {
        txs,
        kept,
        sold,
        miner,
        trader,
    }
}

#[test]
fn validators_agree_on_every_block_whatever_node_a_transaction_enters_by() {
    let cluster = start_cluster();
    let started = Instant::now();
    let all = cluster.all();

    // The four Participants' stories run at once, so that blocks carry
    // transactions that entered by different nodes.
    let stories: Vec<_> = std::thread::scope(|s| {
        let running: Vec<_> = all
            .iter()
            .map(|&p| {
                let cluster = &cluster;
                s.spawn(move || participant_story(cluster, p))
            })
            .collect();
        running
            .into_iter()
            .map(|story| story.join().expect("a participant's story"))
            .collect()
    });
    let submitted: BTreeSet<TxId> = stories.iter().flat_map(|s| s.txs.clone()).collect();
    assert_eq!(submitted.len(), 6 * all.len(), "every transaction is new");

    let height = cluster.max_height(&all);
    // Equal headers: equal state hashes at every height, the last included.
    let state_hash = all_agree_through(&cluster, height, COMMIT_LIMIT);

    // Every transaction committed on every node at the same place, and no
    // block holds anything else.
    for id in &submitted {
        let status = committed_on(&cluster, &all, id);
        let at = status.height.expect("a committed height");
        let index = status.index.expect("a committed index") as usize;
        let block = cluster.block(0, at).expect("block");
        assert_eq!(block.txs.get(index), Some(id), "tx {id} at {at}:{index}");
    }
    let mut in_blocks = BTreeSet::new();
    let mut proposers = BTreeSet::new();
    for h in 1..=height {
        let block = cluster.block(0, h).expect("block");
        for id in block.txs {
            assert!(in_blocks.insert(id), "tx {id} is in two blocks");
        }
        proposers.insert(block.header.proposer);
    }
    assert_eq!(in_blocks, submitted, "the blocks hold what was submitted");
    let validators: BTreeSet<PublicKey> = cluster
        .status(0)
        .expect("status")
        .validators
        .iter()
        .map(|v| v.key)
        .collect();
    assert_eq!(
        proposers, validators,
        "every validator proposed blocks that were committed"
    );

    // And the state they lead to reads the same everywhere.
    for story in &stories {
        for (parcel, holder) in [(&story.kept, &story.miner), (&story.sold, &story.trader)] {
            let view = parcel_on(&cluster, 0, parcel);
            assert_eq!(view.parcel.holder, holder.key(), "parcel {parcel}'s holder");
            for &i in &all[1..] {
                assert_eq!(
                    parcel_on(&cluster, i, parcel),
                    view,
                    "node{i}: parcel {parcel}"
                );
            }
        }
    }
    println!(
        "{} transactions through {} nodes in {height} blocks (state {state_hash}), {:?}",
        submitted.len(),
        all.len(),
        started.elapsed()
    );
}
