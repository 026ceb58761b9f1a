//! How the swarm is set up: its configuration, gossipsub's settings, and
//! the bounds and timings every part of the swarm keeps to.

use std::time::Duration;

use kp_crypto::Hash32;
use kp_ledger::tx::tx_id;
use libp2p::gossipsub::{self, IdentTopic, MessageId, ValidationMode};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};

use super::error::GossipError;

pub struct GossipConfig {
    /// This node's identity ([`keypair_from_secret`] of its validator key);
    /// it signs every message the node publishes.
    pub keypair: Keypair,
    pub listen: Multiaddr,
    /// Dialled at start, and redialled whenever the peer behind one drops.
    pub peers: Vec<Multiaddr>,
    /// The only peers that may stay connected.
    pub allowed: Vec<PeerId>,
    /// The chain's genesis hash: names the topic, so that two chains'
    /// transactions never mix, even two of one chain id.
    pub genesis: Hash32,
    /// The largest message published or accepted: the largest transaction.
    pub message_bytes_max: usize,
}

/// Short, so that a peer outside a message's mesh path hears of it (IHAVE)
/// within tens of milliseconds, and a new peer is grafted into the mesh as
/// soon.
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(50);
/// How long a received message waits for the application's verdict; then it
/// is dropped without blame.
pub(super) const VERDICT_TIMEOUT: Duration = Duration::from_secs(2);
pub(super) const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);

/// A gossipsub message is its data plus a few protobuf tags and the topic
/// name; 512 bytes leave room for an author's signature too.
const ENVELOPE_BYTES_MAX: usize = 512;
/// A message id (a transaction id) and its protobuf tag and length.
const MESSAGE_ID_FRAMED_BYTES: usize = 32 + 2;
/// Questions put to the application and not answered yet: received messages
/// and queries. Past this, messages are ignored and queries go unanswered.
pub(super) const AWAITING_APPLICATION_MAX: usize = 1024;
pub(super) const COMMANDS_QUEUED_MAX: usize = 1024;
/// Two, not one: when two nodes dial each other at once, a limit of one can
/// make each refuse the connection the other kept.
pub(super) const CONNECTIONS_PER_PEER_MAX: u32 = 2;
/// Handshakes in progress from anyone: strangers are refused only once their
/// handshake tells who they are.
pub(super) const HANDSHAKES_INCOMING_MAX: u32 = 64;

pub(super) fn gossipsub_config(
    message_bytes_max: usize,
    topic: &IdentTopic,
) -> Result<gossipsub::Config, GossipError> {
    // Every frame is refused above this, control frames included: IHAVE lists
    // are cut to fit.
    let frame_bytes_max = message_bytes_max + ENVELOPE_BYTES_MAX + topic.hash().as_str().len();
    let ihave_ids_max = (message_bytes_max / MESSAGE_ID_FRAMED_BYTES).max(1);
    // The message waits in the cache while the application decides; one
    // evicted before its verdict could no longer be forwarded. The cache
    // moves on at heartbeats, so one that came just before a heartbeat stays
    // a heartbeat less than the count: hence one more.
    let history_heartbeats =
        VERDICT_TIMEOUT.div_duration_f64(HEARTBEAT_INTERVAL).ceil() as usize + 2;
    gossipsub::ConfigBuilder::default()
        .validate_messages()
        .validation_mode(ValidationMode::Anonymous)
        // The hash of the content: the same bytes from two nodes are one
        // message.
        .message_id_fn(|message| MessageId::new(tx_id(&message.data).as_bytes()))
        .max_transmit_size(frame_bytes_max)
        .max_ihave_length(ihave_ids_max)
        .heartbeat_interval(HEARTBEAT_INTERVAL)
        .heartbeat_initial_delay(HEARTBEAT_INTERVAL)
        .history_length(history_heartbeats)
        // Participants number a few to about a hundred. With 4 nodes every
        // peer is in every mesh; with 100, a node forwards each transaction
        // to about 6 peers, not 99, and the rest hear of it by IHAVE.
        .mesh_n(6)
        .mesh_n_low(4)
        .mesh_n_high(12)
        .mesh_outbound_min(2)
        .gossip_lazy(6)
        // The submitting node sends its own transactions to every peer it
        // has, not only its mesh: one hop to all, for a few kilobytes.
        .flood_publish(true)
        .build()
        .map_err(|e| GossipError::Config(e.to_string()))
}
