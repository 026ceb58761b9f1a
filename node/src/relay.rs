//! Between the transaction gossip and the mempool: transactions from peers
//! are checked and admitted like those submitted to the API (and only
//! those admitted spread further); what admission hands over goes out in
//! batches; peers' queries are answered from the ledger and the mempool; a
//! peer that joins hands over what it holds.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kp_ledger::block::check_signatures;
use kp_ledger::rejection::Rejection;
use kp_ledger::tx::{DecodedTx, TX_SIZE_BYTES_MAX};
use libp2p::PeerId;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info};

use crate::admission::checked_tx;
use crate::chain::ChainView;
use crate::gossip::{Answer, GossipEvent, GossipHandle, IncomingQuery, IncomingTx, Query, Verdict};
use crate::lock::lock;
use crate::mempool::{Admitted, MempoolHandle, Source};

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

/// Sends what admission hands over, in batches of up to
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
    chain: ChainView,
    mempool: MempoolHandle,
    gossip: GossipHandle,
    mut events: mpsc::Receiver<GossipEvent>,
    outbox: mpsc::Receiver<Vec<u8>>,
    mut stop: watch::Receiver<bool>,
) {
    let publisher = tokio::spawn(publish_batches(gossip.clone(), outbox));
    // One worker judges batches in arrival order: a signer's nonces stay in
    // order, and signature and rule checks (CPU work) stay off the runtime.
    let (judging, mut to_judge) = mpsc::channel::<IncomingTx>(JUDGE_QUEUE_MAX);
    let judge_mempool = mempool.clone();
    let judge_task = tokio::task::spawn_blocking(move || {
        while let Some(incoming) = to_judge.blocking_recv() {
            judge(&judge_mempool, incoming);
        }
    });
    let peers = Arc::new(Mutex::new(HashSet::new()));
    let watcher = tokio::spawn(watch_heights(
        chain.clone(),
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
            GossipEvent::Query(query) => answer(&chain, &mempool, query),
            GossipEvent::PeerConnected(peer) => {
                info!(%peer, "gossip peer joined");
                lock(&peers).insert(peer);
                tokio::spawn(take_pending(mempool.clone(), gossip.clone(), peer));
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
    chain: ChainView,
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
                Ok(Answer::Status { genesis, height }) if genesis == chain.identity().genesis => {
                    highest = highest.max(Some(height));
                }
                Ok(_) => {}
                Err(e) => {
                    debug!(%peer, code = e.code(), "peer gone from the height watch: {e}");
                    lock(&peers).remove(&peer);
                }
            }
        }
        chain.set_network_height(highest);
    }
}

/// A batch from a peer: spread further if it brought anything new, refused
/// if any of it is bad whatever the state (the sender checked it, or should
/// have).
fn judge(mempool: &MempoolHandle, incoming: IncomingTx) {
    let verdict = match checked_batch(mempool, &incoming.bytes) {
        Err(reason) => {
            debug!(from = %incoming.from, "gossiped batch refused: {reason}");
            Verdict::Reject
        }
        Ok(txs) => {
            let new = mempool
                .admit(txs.into_iter().map(Ok), Source::Peer)
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
fn checked_batch(mempool: &MempoolHandle, bytes: &[u8]) -> Result<Vec<DecodedTx>, String> {
    let decoded = decode_batch(bytes)?;
    let waiting = mempool.waiting_among(&decoded);
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

fn answer(chain: &ChainView, mempool: &MempoolHandle, query: IncomingQuery) {
    debug!(from = %query.from, query = ?query.query, "gossip query");
    let answer = match query.query {
        Query::Status => Answer::Status {
            genesis: chain.identity().genesis,
            height: chain.store().tip().map(|t| t.height).unwrap_or(0),
        },
        Query::Pending { max } => Answer::Pending(
            mempool
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
async fn take_pending(mempool: MempoolHandle, gossip: GossipHandle, peer: PeerId) {
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
        let checked = txs.into_iter().filter_map(|bytes| checked_tx(bytes).ok());
        mempool
            .admit(checked.map(Ok), Source::Peer)
            .iter()
            .filter(|admitted| matches!(admitted, Ok(Admitted::New)))
            .count()
    })
    .await
    .unwrap_or(0);
    info!(%peer, offered = count, admitted, "took over a peer's pending transactions");
}
