//! Why the gossip failed, with a stable code for each.

use kp_crypto::PublicKey;
use libp2p::{Multiaddr, PeerId};

#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    #[error("the gossip configuration is invalid: {0}")]
    Config(String),
    #[error("cannot set up the gossip transport: {0}")]
    Transport(String),
    #[error("cannot listen for peers on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
    #[error("validator key {0} is not an ed25519 public key, so it names no peer")]
    InvalidValidatorKey(PublicKey),
    #[error("the message is {size} bytes; the limit is {max}")]
    TooLarge { size: usize, max: usize },
    #[error("cannot publish: {0}")]
    Publish(String),
    #[error("peer {0} is not connected")]
    NotConnected(PeerId),
    #[error("peer {0} did not answer in time")]
    QueryTimeout(PeerId),
    #[error("the query to peer {peer} failed: {reason}")]
    QueryFailed { peer: PeerId, reason: String },
    #[error("the gossip task has stopped")]
    Stopped,
}

impl GossipError {
    /// A stable name for the error, for logs and scripts.
    pub fn code(&self) -> &'static str {
        use GossipError::*;
        match self {
            Config(_) => "gossip_config_invalid",
            Transport(_) => "gossip_transport_failed",
            Listen { .. } => "gossip_listen_failed",
            InvalidValidatorKey(_) => "gossip_invalid_validator_key",
            TooLarge { .. } => "gossip_message_too_large",
            Publish(_) => "gossip_publish_failed",
            NotConnected(_) => "gossip_peer_not_connected",
            QueryTimeout(_) => "gossip_query_timeout",
            QueryFailed { .. } => "gossip_query_failed",
            Stopped => "gossip_stopped",
        }
    }
}

/// An error and its causes, as one line: libp2p's transport errors print
/// nothing themselves and keep what happened (an address in use) as their
/// source.
pub(super) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.contains(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}
