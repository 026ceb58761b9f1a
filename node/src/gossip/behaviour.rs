//! The behaviours the swarm composes: the allow-list and connection limits
//! first, then gossipsub, the query protocol and ping.

use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::request_response::{self, cbor, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{allow_block_list, connection_limits, ping};

use super::config::{
    gossipsub_config, GossipConfig, CONNECTIONS_PER_PEER_MAX, HANDSHAKES_INCOMING_MAX,
};
use super::error::GossipError;
use super::query::{query_codec, Answer, Query, QUERY_PROTOCOL, QUERY_TIMEOUT};

/// The gatekeepers come first: the derive asks each behaviour in turn to
/// accept a connection, and a refused one should be refused before the others
/// build handlers for it.
#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub(super) allowed: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub(super) limits: connection_limits::Behaviour,
    pub(super) gossipsub: gossipsub::Behaviour,
    pub(super) queries: cbor::Behaviour<Query, Answer>,
    /// Finds connections that died without TCP noticing (a peer's machine
    /// gone), so that they are closed and their peer redialled.
    pub(super) ping: ping::Behaviour,
}

pub(super) fn build_behaviour(
    config: &GossipConfig,
    topic: &IdentTopic,
) -> Result<Behaviour, GossipError> {
    let mut allowed = allow_block_list::Behaviour::default();
    for peer in &config.allowed {
        allowed.allow_peer(*peer);
    }
    let limits = connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established_per_peer(Some(CONNECTIONS_PER_PEER_MAX))
            .with_max_pending_incoming(Some(HANDSHAKES_INCOMING_MAX)),
    );
    let mut gossipsub = gossipsub::Behaviour::new(
        // Messages carry signed transactions and travel only between
        // allow-listed peers over authenticated connections: an author's
        // signature on each would cost a signing and a check per message
        // per node and prove nothing more.
        MessageAuthenticity::Anonymous,
        gossipsub_config(config.message_bytes_max, topic)?,
    )
    .map_err(|e| GossipError::Config(e.to_owned()))?;
    gossipsub
        .subscribe(topic)
        .map_err(|e| GossipError::Config(e.to_string()))?;
    let queries = cbor::Behaviour::with_codec(
        query_codec(),
        [(QUERY_PROTOCOL, ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(QUERY_TIMEOUT),
    );
    Ok(Behaviour {
        allowed,
        limits,
        gossipsub,
        queries,
        ping: ping::Behaviour::default(),
    })
}
