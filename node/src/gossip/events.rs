//! What the swarm asks of the application: a verdict on each received
//! transaction, an answer to each query, and news of a peer that joined.

use libp2p::PeerId;
use tokio::sync::oneshot;

use super::query::{Answer, Query};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: spread it to our peers.
    Accept,
    /// Invalid: drop it. (Gossipsub would count it against the sender with
    /// peer scoring, which is off: the allow-list already says who may talk.)
    Reject,
    /// Not for now (already known, or the node is busy): drop it, blame no one.
    Ignore,
}

/// A transaction from the network, waiting for the application's verdict.
/// Dropping `verdict` counts as [`Verdict::Ignore`].
#[derive(Debug)]
pub struct IncomingTx {
    pub bytes: Vec<u8>,
    /// The peer that sent it to us, not necessarily the one that published it.
    pub from: PeerId,
    pub verdict: oneshot::Sender<Verdict>,
}

/// A peer's query. Dropping `answer` leaves the peer without one.
#[derive(Debug)]
pub struct IncomingQuery {
    pub query: Query,
    pub from: PeerId,
    pub answer: oneshot::Sender<Answer>,
}

#[derive(Debug)]
pub enum GossipEvent {
    Tx(IncomingTx),
    Query(IncomingQuery),
    /// An allowed peer connected and joined the transaction topic: what we
    /// publish from now on reaches it. Ask it for [`Query::Pending`] to pick
    /// up what was gossiped while it was away.
    PeerConnected(PeerId),
}
