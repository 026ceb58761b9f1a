//! The node's side of the swarm task: commands in, through a handle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use super::error::GossipError;
use super::query::{Answer, Query};

/// Talks to the swarm task. Clones share it; when the last is dropped, the
/// task stops.
#[derive(Clone)]
pub struct GossipHandle {
    commands: mpsc::Sender<Command>,
    connected_peers: Arc<AtomicUsize>,
    message_bytes_max: usize,
}

impl GossipHandle {
    /// The handle on a task that reads `commands` and counts its peers in
    /// `connected_peers`.
    pub(super) fn new(
        commands: mpsc::Sender<Command>,
        connected_peers: Arc<AtomicUsize>,
        message_bytes_max: usize,
    ) -> Self {
        GossipHandle {
            commands,
            connected_peers,
            message_bytes_max,
        }
    }

    /// Sends a locally submitted transaction to the peers. Having no peer yet
    /// is not an error: they ask for what waits when they join.
    pub async fn publish(&self, bytes: Vec<u8>) -> Result<(), GossipError> {
        if bytes.len() > self.message_bytes_max {
            return Err(GossipError::TooLarge {
                size: bytes.len(),
                max: self.message_bytes_max,
            });
        }
        self.request(|done| Command::Publish { bytes, done })
            .await?
    }

    /// Replaces the allow-list; peers no longer on it are disconnected.
    pub async fn set_allowed_peers(&self, peers: Vec<PeerId>) -> Result<(), GossipError> {
        self.send(Command::SetAllowedPeers(peers)).await
    }

    /// Connected (so allowed) peers.
    pub fn peers(&self) -> usize {
        self.connected_peers.load(Ordering::Relaxed)
    }

    /// Asks `peer` and waits (bounded) for its answer.
    pub async fn query(&self, peer: PeerId, query: Query) -> Result<Answer, GossipError> {
        self.request(|answer| Command::Query {
            peer,
            query,
            answer,
        })
        .await?
    }

    /// Where peers can reach this node (with a port of 0 asked for, the one
    /// the system chose).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, GossipError> {
        self.request(Command::ListenAddrs).await
    }

    /// Stops the swarm task, for every clone, and returns once its listeners
    /// are closed, so the port can be bound again.
    pub async fn shutdown(self) {
        // An error only says the task had stopped already.
        let _ = self.request(Command::Shutdown).await;
    }

    async fn send(&self, command: Command) -> Result<(), GossipError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| GossipError::Stopped)
    }

    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, GossipError> {
        let (reply, answer) = oneshot::channel();
        self.send(command(reply)).await?;
        answer.await.map_err(|_| GossipError::Stopped)
    }
}

pub(super) enum Command {
    Publish {
        bytes: Vec<u8>,
        done: oneshot::Sender<Result<(), GossipError>>,
    },
    SetAllowedPeers(Vec<PeerId>),
    Query {
        peer: PeerId,
        query: Query,
        answer: oneshot::Sender<Result<Answer, GossipError>>,
    },
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    Shutdown(oneshot::Sender<()>),
}
