//! The node's own libp2p swarm: signed ledger transactions spread between the
//! Participants' nodes by gossipsub, and small queries between them. The
//! consensus engine has a swarm of its own; this one only carries what waits
//! for a block, so a lost message costs latency, never safety: a transaction
//! stays in the mempool of the node it was submitted to until a block holds it.
//!
//! One task owns the swarm. The node talks to it through a [`GossipHandle`]
//! (commands in) and a channel of [`GossipEvent`]s (questions out). Every
//! received transaction waits for the application's [`Verdict`] before it
//! spreads, and every query for its [`Answer`]; the task itself never waits on
//! the application, so a slow mempool delays messages, not the swarm.
//!
//! Only allow-listed peers stay connected (the Participants' validators, whose
//! PeerIds come from their validator keys, and any observers the node adds).
//! Configured peer addresses are redialled with backoff whenever their peer
//! drops, so a restarted node rejoins by itself.
//!
//! Its parts: `config` (settings, bounds, timings), `behaviour` (what the
//! swarm composes), `redial` (configured peers and their back-off), `query`
//! (the query protocol), `events` (what the application is asked),
//! `handle` (what the node asks), `task` (the swarm's loop) and `identity`;
//! this file starts them.

mod behaviour;
mod config;
mod error;
mod events;
mod handle;
mod identity;
mod query;
mod redial;
mod task;
#[cfg(test)]
mod tests;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use libp2p::gossipsub::IdentTopic;
use libp2p::{noise, tcp, yamux, SwarmBuilder};
use tokio::sync::mpsc;

use self::behaviour::build_behaviour;
pub use self::config::GossipConfig;
use self::config::{AWAITING_APPLICATION_MAX, COMMANDS_QUEUED_MAX, LISTEN_TIMEOUT};
use self::error::with_causes;
pub use self::error::GossipError;
pub use self::events::{GossipEvent, IncomingQuery, IncomingTx, Verdict};
pub use self::handle::GossipHandle;
pub use self::identity::{keypair_from_secret, peer_id_of};
pub use self::query::{bounded, query_codec, Answer, Query, QUERY_PROTOCOL};
use self::task::GossipTask;

/// Starts the swarm task and returns once it listens.
pub async fn start(
    config: GossipConfig,
) -> Result<(GossipHandle, mpsc::Receiver<GossipEvent>), GossipError> {
    let topic = IdentTopic::new(format!("kp/tx/{}", config.genesis));
    let behaviour = build_behaviour(&config, &topic)?;
    let Ok(builder) = SwarmBuilder::with_existing_identity(config.keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| GossipError::Transport(e.to_string()))?
        .with_behaviour(|_| behaviour);
    let mut swarm = builder
        // Whether to stay connected is the allow-list's decision, not
        // idleness': a peer outside our mesh still gossips and answers.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::MAX))
        .build();
    let listen_failed = |reason: String| GossipError::Listen {
        addr: config.listen.clone(),
        reason,
    };
    swarm
        .listen_on(config.listen.clone())
        .map_err(|e| listen_failed(with_causes(&e)))?;

    let (events, events_received) = mpsc::channel(AWAITING_APPLICATION_MAX);
    let connected_peers = Arc::new(AtomicUsize::new(0));
    let mut task = GossipTask::new(swarm, topic.hash(), events, connected_peers.clone());
    tokio::time::timeout(LISTEN_TIMEOUT, task.first_listen_addr())
        .await
        .unwrap_or_else(|_| Err(format!("no address after {LISTEN_TIMEOUT:?}")))
        .map_err(listen_failed)?;
    for addr in config.peers {
        task.add_target(addr);
    }

    let (commands, commands_received) = mpsc::channel(COMMANDS_QUEUED_MAX);
    tokio::spawn(task.run(commands_received));
    let handle = GossipHandle::new(commands, connected_peers, config.message_bytes_max);
    Ok((handle, events_received))
}
