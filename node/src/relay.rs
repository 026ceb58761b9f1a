//! Between the transaction gossip and the mempool: transactions from peers
//! are checked and admitted like those submitted to the API (and only
//! those admitted spread further); peers' queries are answered from the
//! ledger and the mempool; a peer that joins hands over what it holds.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kp_ledger::rejection::Rejection;
use kp_ledger::state::StateRead;
use kp_ledger::store::{Store, StoreError};
use kp_ledger::tx::DecodedTx;
use libp2p::PeerId;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info};

use crate::gossip::{
    peer_id_of, Answer, GossipEvent, GossipHandle, IncomingQuery, IncomingTx, Query, Verdict,
};
use crate::mempool::{AdmitError, Admitted};
use crate::node::{lock, now_secs, Shared};

/// Transactions asked of a peer that just joined.
const PENDING_ASKED_MAX: u32 = 20_000;

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

/// Admits a checked transaction into the mempool, waking the proposer if
/// it is new.
pub fn admit(shared: &Shared, tx: DecodedTx) -> Result<Admitted, AdmitError> {
    let admitted = lock(&shared.mempool).admit(tx, now_secs())?;
    if admitted == Admitted::New {
        shared.work.notify_one();
    }
    Ok(admitted)
}

/// The peers allowed to gossip: the nodes of every Participant of the set.
pub fn allowed_peers(store: &Store) -> Result<Vec<PeerId>, StoreError> {
    Ok(store
        .snapshot()?
        .participants()?
        .iter()
        .filter_map(|p| peer_id_of(&p.validator?).ok())
        .collect())
}

/// Serves the gossip swarm's events until `stop` turns true or the swarm
/// ends.
pub async fn run(
    shared: Arc<Shared>,
    gossip: GossipHandle,
    mut events: mpsc::Receiver<GossipEvent>,
    mut stop: watch::Receiver<bool>,
) {
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
                let shared = shared.clone();
                // Signature checks and rule checks are CPU work.
                tokio::task::spawn_blocking(move || judge(&shared, incoming));
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
                Ok(Answer::Status { chain_id, height }) if chain_id == shared.chain.chain_id => {
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

fn judge(shared: &Shared, incoming: IncomingTx) {
    let verdict = match checked_tx(incoming.bytes) {
        // Bad whatever the state: the sender should not have passed it on.
        Err(rejection) => {
            debug!(from = %incoming.from, code = rejection.code(), "gossiped transaction refused");
            Verdict::Reject
        }
        Ok(tx) => match admit(shared, tx) {
            Ok(Admitted::New) => Verdict::Accept,
            // Known already, or refused over state that differs between
            // nodes for a moment (a nonce not reached yet): no one's fault.
            Ok(Admitted::AlreadyPending) | Err(_) => Verdict::Ignore,
        },
    };
    // The swarm may have given up waiting; then the verdict is moot.
    let _ = incoming.verdict.send(verdict);
}

fn answer(shared: &Shared, query: IncomingQuery) {
    debug!(from = %query.from, query = ?query.query, "gossip query");
    let answer = match query.query {
        Query::Status => Answer::Status {
            chain_id: shared.chain.chain_id.clone(),
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
        txs.into_iter()
            .filter_map(|bytes| checked_tx(bytes).ok())
            .map(|tx| admit(&shared, tx))
            .filter(|admitted| matches!(admitted, Ok(Admitted::New)))
            .count()
    })
    .await
    .unwrap_or(0);
    info!(%peer, offered = count, admitted, "took over a peer's pending transactions");
}
