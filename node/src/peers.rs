//! Who may gossip with this node, and whether it is an observer: both
//! follow the Participant set on the ledger, since a node's network
//! identity is its validator key. Read at start, and again by consensus
//! after each block that changes the set.

use kp_crypto::PublicKey;
use kp_ledger::state::StateRead;
use kp_store::{Store, StoreError};
use libp2p::PeerId;
use tracing::warn;

use crate::chain::ChainView;
use crate::gossip::{peer_id_of, GossipHandle};

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

/// Keeps the observer standing and the gossip allow-list in step with the
/// Participant set.
#[derive(Clone)]
pub struct ParticipantNodes {
    chain: ChainView,
    /// None for a chain of one, which gossips with nobody.
    gossip: Option<GossipHandle>,
}

impl ParticipantNodes {
    pub fn new(chain: ChainView, gossip: Option<GossipHandle>) -> Self {
        ParticipantNodes { chain, gossip }
    }

    /// After a block that changed the Participant set: whether this node is
    /// an observer, and which peers may gossip with it.
    pub async fn changed(&self) {
        let nodes = match participant_nodes(self.chain.store()) {
            Ok(nodes) => nodes,
            Err(e) => {
                warn!(
                    code = e.code(),
                    "gossip allow-list and observer standing left as they were: {e}"
                );
                return;
            }
        };
        self.chain.refresh_read_only(&nodes);
        let Some(gossip) = &self.gossip else { return };
        if let Err(e) = gossip.set_allowed_peers(allowed_peers(&nodes)).await {
            warn!(code = e.code(), "cannot update the gossip allow-list: {e}");
        }
    }
}
