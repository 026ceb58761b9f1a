//! Between the transaction gossip and the mempool: transactions from peers
//! are checked and admitted like those submitted to the API (and only
//! those admitted spread further); peers' queries are answered from the
//! ledger and the mempool; a peer that joins hands over what it holds.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kp_crypto::PublicKey;
use kp_ledger::block::{check_signatures, NONE_CHECKED};
use kp_ledger::rejection::Rejection;
use kp_ledger::state::StateRead;
use kp_ledger::tx::{DecodedTx, TX_SIZE_BYTES_MAX};
use kp_store::{Store, StoreError};
use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info};

use crate::gossip::{
    peer_id_of, Answer, GossipEvent, GossipHandle, IncomingQuery, IncomingTx, Query, Verdict,
};
use crate::mempool::{AdmitError, Admitted, Mempool, Source};
use crate::node::{lock, now_secs, Shared};

/// Transactions asked of a peer that just joined.
const PENDING_ASKED_MAX: u32 = 20_000;

/// Transactions admitted here travel to peers in batches, one gossip
/// message each: framing, encryption and every hop's handling of a message
/// are then paid once per batch, not once per transaction.
pub const BATCH_BYTES_MAX: usize = 256 * 1024;
/// And at most this many, which bounds a batch's framing.
pub const BATCH_TXS_MAX: usize = 1024;
/// Batches from peers waiting to be judged; the gossip swarm waits (and in
/// the end ignores a message) when this is full.
const JUDGE_QUEUE_MAX: usize = 256;
/// How long the first transaction of a batch waits for company.
const BATCH_WAIT: Duration = Duration::from_millis(5);
/// Transactions waiting to be batched; past this, one is not gossiped (it
/// still waits here for this node's turn to propose, and peers that join
/// ask for what is pending).
pub const OUTBOX_TXS_MAX: usize = 20_000;

/// Decodes `bytes` and checks the signature: what every transaction goes
/// through once, from the API or from a peer, before the mempool.
pub fn checked_tx(bytes: Vec<u8>) -> Result<DecodedTx, Rejection> {
    let tx = DecodedTx::decode(bytes)?;
    let message = tx.tx.payload.signing_message();
    if tx.signer().verify(&message, &tx.tx.signature).is_err() {
        return Err(Rejection::BadSignature(*tx.signer()));
    }
    Ok(tx)
}

/// Admits checked transactions into the mempool in order, under one lock,
/// waking the proposer if any is new.
pub fn admit_all(
    shared: &Shared,
    txs: impl IntoIterator<Item = DecodedTx>,
    source: Source,
) -> Vec<Result<Admitted, AdmitError>> {
    let now = now_secs();
    let outcomes: Vec<_> = {
        let mut mempool = lock(&shared.mempool);
        txs.into_iter()
            .map(|tx| mempool.admit(tx, now, source))
            .collect()
    };
    wake_if_new(shared, &outcomes);
    outcomes
}

fn wake_if_new(shared: &Shared, outcomes: &[Result<Admitted, AdmitError>]) {
    if outcomes.iter().any(|o| matches!(o, Ok(Admitted::New))) {
        shared.work.notify_one();
    }
}

/// Answers a round of client submissions, each as it would be answered
/// with room: a bad signature as `bad_signature`, one already waiting as
/// waiting; only a new, signed one meets the room check (`mempool_full`,
/// which [`Mempool::admit`] makes after the waiting ones and before any
/// rule). The signatures are checked in one batch, outside the lock.
fn admit_client_round(
    mempool: &Mutex<Mempool>,
    txs: Vec<DecodedTx>,
    now: u64,
) -> Vec<Result<Admitted, AdmitError>> {
    let signatures = check_signatures(&txs, NONE_CHECKED);
    let mut mempool = lock(mempool);
    txs.into_iter()
        .zip(signatures)
        .map(|(tx, signature_ok)| {
            if !signature_ok {
                let refused = Rejection::BadSignature(*tx.signer());
                return Err(AdmitError::Rejected(refused));
            }
            mempool.admit(tx, now, Source::Client)
        })
        .collect()
}

/// API submissions waiting for the admission worker; past this, a
/// submission waits for room.
const SUBMISSIONS_QUEUED_MAX: usize = 4096;
/// Submissions one round of the worker takes together.
const SUBMISSIONS_PER_ROUND_MAX: usize = 512;

/// A transaction submitted to the API (decoded, signature not checked yet)
/// and where its outcome goes.
pub struct Submission {
    pub tx: DecodedTx,
    pub outcome: oneshot::Sender<Result<Admitted, AdmitError>>,
}

/// The queue to the admission worker.
pub fn submissions() -> (mpsc::Sender<Submission>, mpsc::Receiver<Submission>) {
    mpsc::channel(SUBMISSIONS_QUEUED_MAX)
}

/// Admits API submissions as they come, taking whatever has queued up as
/// one round: one batch verification of their signatures, one mempool
/// lock, one wake-up of the proposer, instead of one of each per
/// transaction and a thread hop for every request. Runs until every sender
/// is gone.
pub fn admit_submissions(shared: &Shared, mut queue: mpsc::Receiver<Submission>) {
    while let Some(first) = queue.blocking_recv() {
        let mut round = vec![first];
        while round.len() < SUBMISSIONS_PER_ROUND_MAX {
            match queue.try_recv() {
                Ok(next) => round.push(next),
                Err(_) => break,
            }
        }
        let (txs, outcomes): (Vec<DecodedTx>, Vec<_>) =
            round.into_iter().map(|s| (s.tx, s.outcome)).unzip();
        let bytes: Vec<Vec<u8>> = txs.iter().map(|tx| tx.bytes.clone()).collect();
        let answers = admit_client_round(&shared.mempool, txs, now_secs());
        wake_if_new(shared, &answers);
        for ((bytes, outcome), answer) in bytes.into_iter().zip(outcomes).zip(answers) {
            if matches!(answer, Ok(Admitted::New)) {
                spread(shared, bytes);
            }
            // A client that gave up waiting has nobody to tell.
            let _ = outcome.send(answer);
        }
    }
}

/// The validator keys of every Participant of the set: the nodes allowed
/// to gossip, since a node's network identity is its validator key.
pub fn participant_nodes(store: &Store) -> Result<Vec<PublicKey>, StoreError> {
    Ok(store
        .snapshot()?
        .participants()?
        .iter()
        .filter_map(|p| p.validator)
        .collect())
}

/// The gossip peers of [`participant_nodes`].
pub fn allowed_peers(nodes: &[PublicKey]) -> Vec<PeerId> {
    nodes
        .iter()
        .filter_map(|key| peer_id_of(key).ok())
        .collect()
}

/// Hands a transaction admitted here to the gossip, to be sent in the next
/// batch.
pub fn spread(shared: &Shared, bytes: Vec<u8>) {
    if let Some(outbox) = &shared.outbox {
        if outbox.try_send(bytes).is_err() {
            debug!("gossip outbox full: a transaction waits here only");
        }
    }
}

/// Sends what [`spread`] hands over, in batches of up to
/// [`BATCH_BYTES_MAX`] bytes or [`BATCH_WAIT`], whichever comes first.
async fn publish_batches(gossip: GossipHandle, mut outbox: mpsc::Receiver<Vec<u8>>) {
    while let Some(first) = outbox.recv().await {
        let mut bytes = first.len();
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while bytes + TX_SIZE_BYTES_MAX <= BATCH_BYTES_MAX && batch.len() < BATCH_TXS_MAX {
            match tokio::time::timeout_at(deadline, outbox.recv()).await {
                Ok(Some(tx)) => {
                    bytes += tx.len();
                    batch.push(tx);
                }
                Ok(None) | Err(_) => break,
            }
        }
        // Serialising to a Vec cannot fail.
        let message = borsh::to_vec(&batch).unwrap_or_default();
        if let Err(e) = gossip.publish(message).await {
            debug!(
                code = e.code(),
                txs = batch.len(),
                "batch not gossiped: {e}"
            );
        }
    }
}

/// Serves the gossip swarm's events until `stop` turns true or the swarm
/// ends.
pub async fn run(
    shared: Arc<Shared>,
    gossip: GossipHandle,
    mut events: mpsc::Receiver<GossipEvent>,
    outbox: mpsc::Receiver<Vec<u8>>,
    mut stop: watch::Receiver<bool>,
) {
    let publisher = tokio::spawn(publish_batches(gossip.clone(), outbox));
    // One worker judges batches in arrival order: a signer's nonces stay in
    // order, and signature and rule checks (CPU work) stay off the runtime.
    let (judging, mut to_judge) = mpsc::channel::<IncomingTx>(JUDGE_QUEUE_MAX);
    let judge_shared = shared.clone();
    let judge_task = tokio::task::spawn_blocking(move || {
        while let Some(incoming) = to_judge.blocking_recv() {
            judge(&judge_shared, incoming);
        }
    });
    let peers = Arc::new(Mutex::new(HashSet::new()));
    let watcher = tokio::spawn(watch_heights(
        shared.clone(),
        gossip.clone(),
        peers.clone(),
        stop.clone(),
    ));
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = stop.wait_for(|stop| *stop) => None,
        };
        let Some(event) = event else { break };
        match event {
            GossipEvent::Tx(incoming) => {
                if judging.send(incoming).await.is_err() {
                    break;
                }
            }
            GossipEvent::Query(query) => answer(&shared, query),
            GossipEvent::PeerConnected(peer) => {
                info!(%peer, "gossip peer joined");
                lock(&peers).insert(peer);
                tokio::spawn(take_pending(shared.clone(), gossip.clone(), peer));
            }
        }
    }
    watcher.abort();
    publisher.abort();
    drop(judging);
    let _ = judge_task.await;
    gossip.shutdown().await;
}

/// How often peers are asked how far their chain is.
const HEIGHT_POLL: Duration = Duration::from_secs(2);

/// Keeps `network_height` (the highest height peers report) fresh, so that a
/// node catching up can say how far it has to go.
async fn watch_heights(
    shared: Arc<Shared>,
    gossip: GossipHandle,
    peers: Arc<Mutex<HashSet<PeerId>>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(HEIGHT_POLL) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let asked: Vec<PeerId> = lock(&peers).iter().copied().collect();
        let mut highest = None;
        for peer in asked {
            match gossip.query(peer, Query::Status).await {
                Ok(Answer::Status { genesis, height })
                    if genesis == shared.chain.identity.genesis =>
                {
                    highest = highest.max(Some(height));
                }
                Ok(_) => {}
                Err(e) => {
                    debug!(%peer, code = e.code(), "peer gone from the height watch: {e}");
                    lock(&peers).remove(&peer);
                }
            }
        }
        shared.set_network_height(highest);
    }
}

/// A batch from a peer: spread further if it brought anything new, refused
/// if any of it is bad whatever the state (the sender checked it, or should
/// have).
fn judge(shared: &Shared, incoming: IncomingTx) {
    let verdict = match checked_batch(shared, &incoming.bytes) {
        Err(reason) => {
            debug!(from = %incoming.from, "gossiped batch refused: {reason}");
            Verdict::Reject
        }
        Ok(txs) => {
            let new = admit_all(shared, txs, Source::Peer)
                .iter()
                .filter(|admitted| matches!(admitted, Ok(Admitted::New)))
                .count();
            // Known already, or refused over state that differs between
            // nodes for a moment (a nonce not reached yet): no one's fault.
            if new > 0 {
                Verdict::Accept
            } else {
                Verdict::Ignore
            }
        }
    };
    // The swarm may have given up waiting; then the verdict is moot.
    let _ = incoming.verdict.send(verdict);
}

/// Decodes a gossiped batch: every transaction in it must decode.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<DecodedTx>, String> {
    let txs: Vec<Vec<u8>> =
        borsh::from_slice(bytes).map_err(|e| format!("not a batch of transactions: {e}"))?;
    if txs.len() > BATCH_TXS_MAX {
        return Err(format!("{} transactions in one batch", txs.len()));
    }
    txs.into_iter()
        .map(|bytes| DecodedTx::decode(bytes).map_err(|e| Rejection::from(e).to_string()))
        .collect()
}

/// Decodes a batch and checks, in one batch verification, the signatures
/// of the transactions not already waiting here.
fn checked_batch(shared: &Shared, bytes: &[u8]) -> Result<Vec<DecodedTx>, String> {
    let decoded = decode_batch(bytes)?;
    let waiting: HashSet<_> = {
        let mempool = lock(&shared.mempool);
        decoded
            .iter()
            .filter(|tx| mempool.contains(&tx.id))
            .map(|tx| tx.id)
            .collect()
    };
    let signatures = check_signatures(&decoded, &|id| waiting.contains(id));
    if let Some(bad) = signatures.iter().position(|ok| !ok) {
        return Err(format!(
            "transaction {} has a bad signature",
            decoded[bad].id
        ));
    }
    Ok(decoded
        .into_iter()
        .filter(|tx| !waiting.contains(&tx.id))
        .collect())
}

fn answer(shared: &Shared, query: IncomingQuery) {
    debug!(from = %query.from, query = ?query.query, "gossip query");
    let answer = match query.query {
        Query::Status => Answer::Status {
            genesis: shared.chain.identity.genesis,
            height: shared.store.tip().map(|t| t.height).unwrap_or(0),
        },
        Query::Pending { max } => Answer::Pending(
            lock(&shared.mempool)
                .batch(max as usize)
                .into_iter()
                .map(|tx| tx.bytes)
                .collect(),
        ),
    };
    let _ = query.answer.send(answer);
}

/// Asks a peer that just joined for what waits in its mempool, so that
/// transactions gossiped while this node was away are not lost to it.
async fn take_pending(shared: Arc<Shared>, gossip: GossipHandle, peer: PeerId) {
    let asked = Query::Pending {
        max: PENDING_ASKED_MAX,
    };
    let txs = match gossip.query(peer, asked).await {
        Ok(Answer::Pending(txs)) => txs,
        Ok(_) => return,
        Err(e) => {
            debug!(%peer, code = e.code(), "no pending transactions from the peer: {e}");
            return;
        }
    };
    let count = txs.len();
    let admitted = tokio::task::spawn_blocking(move || {
        let checked: Vec<_> = txs
            .into_iter()
            .filter_map(|bytes| checked_tx(bytes).ok())
            .collect();
        admit_all(&shared, checked, Source::Peer)
            .iter()
            .filter(|admitted| matches!(admitted, Ok(Admitted::New)))
            .count()
    })
    .await
    .unwrap_or(0);
    info!(%peer, offered = count, admitted, "took over a peer's pending transactions");
}

#[cfg(test)]
mod tests {
    use kp_ledger::testkit::{test_genesis, START_TIME};
    use kp_store::{ProofCertificates, Store};

    use super::*;
    use crate::mempool::tests::{enrol, mempool_over};
    use crate::mempool::MempoolLimits;

    #[test]
    fn a_full_mempool_answers_waiting_and_badly_signed_submissions_as_it_would_with_room() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(
            &dir.path().join("ledger.redb"),
            &test_genesis(),
            Arc::new(ProofCertificates),
        )
        .expect("open");
        let limits = MempoolLimits {
            client_txs_max: 1,
            ..MempoolLimits::default()
        };
        let mut mempool = mempool_over(&store, limits);
        let waiting = enrol(1, "a");
        mempool
            .admit(waiting.clone(), START_TIME, Source::Client)
            .expect("admitted");
        assert_eq!(mempool.client_room(), 0);
        let mempool = Mutex::new(mempool);

        let mut badly_signed = enrol(2, "b").tx;
        badly_signed.signature.0[0] ^= 1;
        let forged = DecodedTx::decode(badly_signed.to_bytes()).expect("decodes");
        let answers =
            admit_client_round(&mempool, vec![waiting, forged, enrol(2, "c")], START_TIME);
        let answers: Vec<&str> = answers
            .iter()
            .map(|answer| match answer {
                Ok(Admitted::AlreadyPending) => "already_pending",
                Ok(Admitted::New) => "new",
                Err(AdmitError::Rejected(r)) => r.code(),
                Err(AdmitError::Full { .. }) => "mempool_full",
                Err(other) => panic!("unexpected: {other}"),
            })
            .collect();
        assert_eq!(
            answers,
            ["already_pending", "bad_signature", "mempool_full"]
        );
        assert_eq!(lock(&mempool).len(), 1);
    }
}
