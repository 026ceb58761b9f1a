//! Four validators on loopback, each a real `kpnode run`: they agree on
//! every block whatever node a transaction enters by, a node killed with
//! SIGKILL catches up and votes again, and one parcel offered twice at once
//! through two nodes ends with exactly one offer on every node.

use std::collections::BTreeSet;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use kp_crypto::keystore::read_key_file;
use kp_crypto::{Hash32, PublicKey, SecretKey};
use kp_ledger::bundle::Verified;
use kp_ledger::model::{ParcelId, ParcelStatus, Role, Transfer, TransferStatus, TxId};
use kp_ledger::tx::{tx_id, Body, Transaction};
use kp_tests::{
    agent, cert_issue_args, enroll_args, get_json, ok_stdout, register_args, Cluster, Options,
    Shipment, DEV_PASSPHRASE,
};
use kp_wire::api::{ErrorBody, NonceView, ParcelView, SubmitRequest, TxState, TxStatus};

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
    get_json(&format!("{}/v1/parcels/{parcel}", cluster.url(node)))
        .unwrap_or_else(|e| panic!("parcel {parcel} on node{node}: {e:#}"))
}

/// What a node answered to a transaction posted to it.
#[derive(Debug)]
enum Submission {
    Accepted(TxStatus),
    Refused { http: u16, code: String },
}

fn post_tx(cluster: &Cluster, node: usize, tx: &Transaction) -> Submission {
    let request = SubmitRequest {
        tx: hex::encode(tx.to_bytes()),
    };
    let mut response = agent()
        .post(&format!("{}/v1/transactions", cluster.url(node)))
        .send_json(&request)
        .unwrap_or_else(|e| panic!("POST a transaction to node{node}: {e}"));
    let http = response.status().as_u16();
    if http == 202 {
        let status = response
            .body_mut()
            .read_json()
            .expect("202 carries a TxStatus");
        return Submission::Accepted(status);
    }
    let error: ErrorBody = response
        .body_mut()
        .read_json()
        .unwrap_or_else(|e| panic!("a {http} answer carries an error body: {e}"));
    Submission::Refused {
        http,
        code: error.error.code,
    }
}

fn last_nonce(cluster: &Cluster, node: usize, key: &PublicKey) -> NonceView {
    get_json(&format!("{}/v1/nonces/{key}", cluster.url(node))).expect("nonce view")
}

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
    let Submission::Accepted(waiting) = post_tx(
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
    let submissions: Vec<(TxId, Submission)> = std::thread::scope(|s| {
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
            Submission::Accepted(status) => {
                assert_eq!(&status.id, id);
                accepted += 1;
            }
            // The other one reached this node by gossip first.
            Submission::Refused { http, code } => {
                assert_eq!((*http, code.as_str()), (422, "replay"), "node{node}: {id}");
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
            get_json(&format!("{}/v1/transfers/{transfer_id}", cluster.url(i))).expect("transfer")
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
        Submission::Accepted(status) => status.id,
        Submission::Refused { http, code } => panic!("node{node} refused {name}: {http} {code}"),
    }
}

/// An authority approves a proposal through node `node`; `kp` prints the
/// transaction's status and the proposal's.
fn approve(cluster: &Cluster, node: usize, key: &str, proposal: &str) -> TxStatus {
    let out = cluster.kp(
        node,
        &[
            "--json",
            "participant",
            "approve",
            "--key",
            key,
            "--proposal",
            proposal,
        ],
    );
    let printed: serde_json::Value =
        serde_json::from_str(&ok_stdout(&out, "kp participant approve")).expect("JSON");
    let status: TxStatus =
        serde_json::from_value(printed["transaction"].clone()).expect("a TxStatus");
    assert_eq!(status.state, TxState::Committed);
    status
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

#[test]
fn an_admitted_participant_joins_and_votes_and_a_suspended_one_cannot_export() {
    let mut cluster = start_cluster();
    let code = |i: usize| cluster.participant(i).to_owned();
    let (am, ao) = (code(1), code(0));

    // A shipment AM's exporter could send to AO's importer.
    let (miner, _) = enrol(&cluster, 1, 1, "am-miner", "miner");
    let (exporter, _) = enrol(&cluster, 1, 1, "am-exporter", "exporter");
    let (importer, _) = enrol(&cluster, 0, 0, "ao-importer", "importer");
    let (parcel, _) = register(&cluster, 1, &miner, &am);
    let offered = offer(&cluster, 1, &miner, &parcel, &exporter);
    accept(&cluster, 1, &exporter, &offered.created[0].to_string());

    // BW is admitted: three of four active Participants approve.
    let joiner = cluster.init_joiner("BW").expect("kpnode init");
    let ao_key = cluster.authority_key(0).to_string_lossy().into_owned();
    let proposal = ok_stdout(
        &cluster.kp(
            0,
            &[
                "participant",
                "propose",
                "--key",
                &ao_key,
                "--admit",
                "BW",
                "--name",
                "Botswana",
                "--authority",
                &joiner.authority,
                "--validator",
                &joiner.validator,
            ],
        ),
        "kp participant propose --admit",
    );
    for approver in [1, 2] {
        let key = cluster
            .authority_key(approver)
            .to_string_lossy()
            .into_owned();
        let approved = approve(&cluster, approver, &key, &proposal);
        committed_on(&cluster, &cluster.all(), &approved.id);
    }
    let admitted_at = cluster.status(0).expect("status").height;
    assert_eq!(cluster.status(0).expect("status").validators.len(), 5);

    // Its node catches up from height 1 and agrees.
    let bw = cluster.start_joiner(&joiner).expect("the joiner starts");
    cluster
        .wait_at_least(&[bw], admitted_at, CATCH_UP_LIMIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    cluster
        .same_chain_through(&[0, bw], admitted_at)
        .unwrap_or_else(|e| panic!("{e:#}"));

    // With BD's node down, four of five validators are up: a block needs
    // four votes, so BW's counts.
    cluster.kill9(3);
    let (_, id) = enrol(&cluster, 0, 0, "after-bw-joined", "trader");
    let with_bw = committed_on(&cluster, &[0, 1, 2, bw], &id);
    let block = cluster
        .block(0, with_bw.height.expect("committed at a height"))
        .expect("the block");
    assert!(block.header.height > admitted_at);

    // AM is suspended (four of five approve: BD's authority signs through
    // another node); its authority can no longer export.
    let bw_key = cluster.joiner_key(&joiner).to_string_lossy().into_owned();
    let bd_key = cluster.authority_key(3).to_string_lossy().into_owned();
    let suspension = ok_stdout(
        &cluster.kp(
            0,
            &["participant", "propose", "--key", &ao_key, "--suspend", &am],
        ),
        "kp participant propose --suspend",
    );
    let au_key = cluster.authority_key(2).to_string_lossy().into_owned();
    for key in [&au_key, &bw_key, &bd_key] {
        let approved = approve(&cluster, 2, key, &suspension);
        committed_on(&cluster, &[0, 1, 2, bw], &approved.id);
    }
    let validators = cluster.status(0).expect("status").validators;
    assert!(
        validators.iter().all(|v| v.participant.as_str() != am),
        "a suspended Participant's validator no longer counts"
    );
    let am_key = cluster.authority_key(1).to_string_lossy().into_owned();
    let number = format!("{am}-2026-0001");
    let parcel = parcel.to_string();
    cluster.node(0).kp_refused(
        &cert_issue_args(&Shipment {
            authority_key: &am_key,
            number: &number,
            exporter: &exporter.public,
            importer: &importer.public,
            to: &ao,
            parcels: &[&parcel],
            hs: "7102.10",
            expires: "2030-01-01",
            value_usd: None,
        }),
        "participant_suspended",
    );

    // The parcel's provenance, proven at a height after both changes of the
    // validator set, checks against the genesis file through both, on the
    // engine's own commit certificates.
    let genesis = cluster.dir().join("genesis.json");
    let genesis = genesis.to_string_lossy().into_owned();
    let verified: Verified = serde_json::from_str(&ok_stdout(
        &cluster.kp(
            0,
            &[
                "trace",
                &parcel,
                "--verify",
                "--genesis",
                &genesis,
                "--json",
            ],
        ),
        "kp trace --verify",
    ))
    .expect("kp trace --verify --json");
    let sizes: Vec<usize> = verified.set_changes.iter().map(|(_, n)| *n).collect();
    assert_eq!(sizes, [5, 4], "BW admitted, then AM suspended");
    assert_eq!(verified.genesis_validators, 4);
    // Registered, offered, accepted.
    assert_eq!(verified.trace.events.len(), 3);
}

#[test]
fn a_node_outside_the_validator_set_follows_the_chain_as_an_observer() {
    let mut cluster = start_cluster();
    let origin = cluster.participant(0).to_owned();
    let (miner, _) = enrol(&cluster, 0, 0, "observed-miner", "miner");
    let (parcel, _) = register(&cluster, 0, &miner, &origin);

    // A Participant the ledger does not know runs a node: it fetches the
    // chain from the validators and agrees with them.
    let observer = cluster.init_joiner("ZW").expect("kpnode init");
    let watching = cluster
        .start_joiner(&observer)
        .expect("the observer starts");
    let height = cluster.status(0).expect("status").height;
    cluster
        .wait_at_least(&[watching], height, CATCH_UP_LIMIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    cluster
        .same_chain_through(&[0, watching], height)
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        cluster.status(watching).expect("status").validators.len(),
        usize::from(VALIDATORS),
        "the observer is not counted"
    );

    // Auditors can ask it, and check what it says against the genesis.
    let genesis = cluster.dir().join("genesis.json");
    let verified: Verified = serde_json::from_str(&ok_stdout(
        &cluster.kp(
            watching,
            &[
                "trace",
                &parcel.to_string(),
                "--verify",
                "--genesis",
                &genesis.to_string_lossy(),
                "--json",
            ],
        ),
        "kp trace --verify on the observer",
    ))
    .expect("kp trace --verify --json");
    assert_eq!(verified.trace.events.len(), 1);

    // It takes no transactions: none it took could reach a block.
    assert!(cluster.status(watching).expect("status").read_only);
    assert!(!cluster.status(0).expect("status").read_only);
    let authority = cluster.authority_key(0).to_string_lossy().into_owned();
    cluster.node(watching).kp_refused(
        &enroll_args(&authority, &miner.public, "trader", "Refused", "LIC-X"),
        "read_only_node",
    );
    let human = ok_stdout(&cluster.kp(watching, &["status"]), "kp status");
    assert!(human.contains("observer      read-only"), "{human}");
}
