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

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kp_crypto::{Hash32, PublicKey, SecretKey};
use kp_ledger::tx::tx_id;
use libp2p::futures::future::BoxFuture;
use libp2p::futures::stream::{FuturesUnordered, StreamExt};
use libp2p::gossipsub::{
    self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId, PublishError, TopicHash,
    ValidationMode,
};
use libp2p::identity::{self, Keypair};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{
    self, cbor, OutboundFailure, OutboundRequestId, ProtocolSupport, ResponseChannel,
};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, DialError, NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, connection_limits, noise, ping, tcp, yamux, Multiaddr, PeerId,
    StreamProtocol, Swarm, SwarmBuilder,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

pub const QUERY_PROTOCOL: StreamProtocol = StreamProtocol::new("/kp/query/1");

/// Short, so that a peer outside a message's mesh path hears of it (IHAVE)
/// within tens of milliseconds, and a new peer is grafted into the mesh as
/// soon.
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(50);
/// How long a received message waits for the application's verdict; then it
/// is dropped without blame.
const VERDICT_TIMEOUT: Duration = Duration::from_secs(2);
/// For both sides of a query: the asker gives up, and the asked stops waiting
/// for its application.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);
const REDIAL_BACKOFF_MIN: Duration = Duration::from_millis(250);
const REDIAL_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A gossipsub message is its data plus a few protobuf tags and the topic
/// name; 512 bytes leave room for an author's signature too.
const ENVELOPE_BYTES_MAX: usize = 512;
/// A message id (a transaction id) and its protobuf tag and length.
const MESSAGE_ID_FRAMED_BYTES: usize = 32 + 2;
/// Questions put to the application and not answered yet: received messages
/// and queries. Past this, messages are ignored and queries go unanswered.
const AWAITING_APPLICATION_MAX: usize = 1024;
const COMMANDS_QUEUED_MAX: usize = 1024;
/// Transaction bytes in one answer to [`Query::Pending`]. serde writes each
/// transaction as an array of numbers, at most two CBOR bytes a byte, so the
/// answer's encoding stays under [`ANSWER_BYTES_MAX`].
const PENDING_ANSWER_TX_BYTES_MAX: usize = 4 * 1024 * 1024;
const ANSWER_BYTES_MAX: u64 = 2 * PENDING_ANSWER_TX_BYTES_MAX as u64 + 64 * 1024;
const QUERY_BYTES_MAX: u64 = 1024;
/// Two, not one: when two nodes dial each other at once, a limit of one can
/// make each refuse the connection the other kept.
const CONNECTIONS_PER_PEER_MAX: u32 = 2;
/// Handshakes in progress from anyone: strangers are refused only once their
/// handshake tells who they are.
const HANDSHAKES_INCOMING_MAX: u32 = 64;

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    Status,
    /// Up to `max` of the transactions waiting in the peer's mempool, oldest
    /// first.
    Pending {
        max: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    Status {
        /// The peer's chain, by its genesis hash: a height of another
        /// chain (of the same chain id, say) means nothing here.
        genesis: Hash32,
        height: u64,
    },
    /// Cut to at most [`PENDING_ANSWER_TX_BYTES_MAX`] bytes of transactions.
    Pending(Vec<Vec<u8>>),
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

/// The PeerId of a Participant's node: the node's libp2p identity is its
/// validator key, so the allow-list follows the on-ledger Participant set.
pub fn peer_id_of(validator: &PublicKey) -> Result<PeerId, GossipError> {
    let key = identity::ed25519::PublicKey::try_from_bytes(&validator.0)
        .map_err(|_| GossipError::InvalidValidatorKey(*validator))?;
    Ok(identity::PublicKey::from(key).to_peer_id())
}

/// The libp2p identity made from a validator's secret key (the same 32-byte
/// seed, so the same public key).
pub fn keypair_from_secret(secret: &SecretKey) -> Keypair {
    // A seed is 32 bytes by type, and length is all this checks.
    Keypair::ed25519_from_bytes(secret.seed()).expect("an ed25519 seed is 32 bytes")
}

/// Talks to the swarm task. Clones share it; when the last is dropped, the
/// task stops.
#[derive(Clone)]
pub struct GossipHandle {
    commands: mpsc::Sender<Command>,
    connected_peers: Arc<AtomicUsize>,
    message_bytes_max: usize,
}

impl GossipHandle {
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

enum Command {
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
    let mut task = GossipTask {
        swarm,
        topic: topic.hash(),
        events,
        connected: HashSet::new(),
        joined: HashSet::new(),
        connected_peers: connected_peers.clone(),
        targets: Vec::new(),
        dialing: HashMap::new(),
        redials: FuturesUnordered::new(),
        awaiting_application: FuturesUnordered::new(),
        queries_sent: HashMap::new(),
    };
    tokio::time::timeout(LISTEN_TIMEOUT, task.first_listen_addr())
        .await
        .unwrap_or_else(|_| Err(format!("no address after {LISTEN_TIMEOUT:?}")))
        .map_err(listen_failed)?;
    for addr in config.peers {
        task.add_target(addr);
    }

    let (commands, commands_received) = mpsc::channel(COMMANDS_QUEUED_MAX);
    tokio::spawn(task.run(commands_received));
    let handle = GossipHandle {
        commands,
        connected_peers,
        message_bytes_max: config.message_bytes_max,
    };
    Ok((handle, events_received))
}

/// The gatekeepers come first: the derive asks each behaviour in turn to
/// accept a connection, and a refused one should be refused before the others
/// build handlers for it.
#[derive(NetworkBehaviour)]
struct Behaviour {
    allowed: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    limits: connection_limits::Behaviour,
    gossipsub: gossipsub::Behaviour,
    queries: cbor::Behaviour<Query, Answer>,
    /// Finds connections that died without TCP noticing (a peer's machine
    /// gone), so that they are closed and their peer redialled.
    ping: ping::Behaviour,
}

fn build_behaviour(config: &GossipConfig, topic: &IdentTopic) -> Result<Behaviour, GossipError> {
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

/// How queries and answers are put into bytes (CBOR) and read back, within
/// their size bounds.
pub fn query_codec() -> cbor::codec::Codec<Query, Answer> {
    cbor::codec::Codec::default()
        .set_request_size_maximum(QUERY_BYTES_MAX)
        .set_response_size_maximum(ANSWER_BYTES_MAX)
}

fn gossipsub_config(
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

/// A configured peer address.
struct DialTarget {
    addr: Multiaddr,
    /// From the address (`/p2p/...`) or learnt at the first connection.
    peer: Option<PeerId>,
    /// The wait before the next redial: doubled at each, back to the least
    /// once the peer has joined (a peer that refuses us at once is not
    /// hammered).
    backoff: Duration,
    redial_scheduled: bool,
}

/// What the application decided, once it did (or did not in time).
enum Settled {
    Verdict {
        message_id: MessageId,
        from: PeerId,
        verdict: Verdict,
    },
    Answer {
        channel: ResponseChannel<Answer>,
        answer: Option<Answer>,
        txs_max: usize,
    },
}

struct GossipTask {
    swarm: Swarm<Behaviour>,
    topic: TopicHash,
    events: mpsc::Sender<GossipEvent>,
    /// Peers with at least one connection: all allowed, the allow-list
    /// refuses the rest.
    connected: HashSet<PeerId>,
    /// Connected peers subscribed to the topic, each announced once.
    joined: HashSet<PeerId>,
    connected_peers: Arc<AtomicUsize>,
    /// Never shrinks, so an index stays valid in a scheduled redial.
    targets: Vec<DialTarget>,
    dialing: HashMap<ConnectionId, usize>,
    redials: FuturesUnordered<BoxFuture<'static, usize>>,
    awaiting_application: FuturesUnordered<BoxFuture<'static, Settled>>,
    queries_sent: HashMap<OutboundRequestId, oneshot::Sender<Result<Answer, GossipError>>>,
}

impl GossipTask {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let shutdown = loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = commands.recv() => match command {
                    Some(command) => {
                        if let ControlFlow::Break(done) = self.on_command(command) {
                            break Some(done);
                        }
                    }
                    None => break None,
                },
                Some(settled) = self.awaiting_application.next() => self.on_settled(settled),
                Some(index) = self.redials.next() => self.dial(index),
            }
        };
        // The swarm goes before the shutdown is confirmed, so that whoever
        // waits on it may bind the same port again.
        drop(self);
        info!("gossip stopped");
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    }

    /// Runs the swarm until its listener has an address (or fails).
    async fn first_listen_addr(&mut self) -> Result<(), String> {
        loop {
            match self.swarm.select_next_some().await {
                SwarmEvent::ListenerClosed { reason, .. } => {
                    return Err(match reason {
                        Ok(()) => "the listener closed".to_owned(),
                        Err(e) => with_causes(&e),
                    })
                }
                SwarmEvent::ListenerError { error, .. } => return Err(with_causes(&error)),
                event => {
                    let listening = matches!(event, SwarmEvent::NewListenAddr { .. });
                    self.on_swarm_event(event);
                    if listening {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn on_command(&mut self, command: Command) -> ControlFlow<oneshot::Sender<()>> {
        match command {
            Command::Publish { bytes, done } => {
                let _ = done.send(self.publish(bytes));
            }
            Command::SetAllowedPeers(peers) => self.set_allowed_peers(peers),
            Command::Query {
                peer,
                query,
                answer,
            } => self.send_query(peer, query, answer),
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Shutdown(done) => return ControlFlow::Break(done),
        }
        ControlFlow::Continue(())
    }

    fn publish(&mut self, bytes: Vec<u8>) -> Result<(), GossipError> {
        let size = bytes.len();
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(self.topic.clone(), bytes)
        {
            Ok(message) => debug!(%message, size, "published"),
            Err(PublishError::NoPeersSubscribedToTopic) => {
                debug!(size, "published to nobody: no peer has joined yet");
            }
            // The same bytes came from a peer or were published before:
            // they are on their way already.
            Err(PublishError::Duplicate) => debug!(size, "already published"),
            Err(other) => return Err(GossipError::Publish(other.to_string())),
        }
        Ok(())
    }

    fn set_allowed_peers(&mut self, peers: Vec<PeerId>) {
        let wanted: HashSet<PeerId> = peers.into_iter().collect();
        let allowed = &mut self.swarm.behaviour_mut().allowed;
        let removed: Vec<PeerId> = allowed
            .allowed_peers()
            .difference(&wanted)
            .copied()
            .collect();
        for peer in removed {
            // Closes its connections too.
            allowed.disallow_peer(peer);
            info!(%peer, "peer no longer allowed");
        }
        let added: HashSet<PeerId> = wanted
            .into_iter()
            .filter(|peer| allowed.allow_peer(*peer))
            .collect();
        // A configured peer allowed again is dialled now, not after its
        // backoff grew while it was refused.
        let readmitted: Vec<usize> = (0..self.targets.len())
            .filter(|&index| {
                self.targets[index]
                    .peer
                    .is_some_and(|peer| added.contains(&peer))
            })
            .collect();
        for index in readmitted {
            self.targets[index].backoff = REDIAL_BACKOFF_MIN;
            self.dial(index);
        }
    }

    fn add_target(&mut self, addr: Multiaddr) {
        if self.targets.iter().any(|target| target.addr == addr) {
            return;
        }
        let peer = match addr.iter().last() {
            Some(Protocol::P2p(peer)) => Some(peer),
            _ => None,
        };
        self.targets.push(DialTarget {
            addr,
            peer,
            backoff: REDIAL_BACKOFF_MIN,
            redial_scheduled: false,
        });
        self.dial(self.targets.len() - 1);
    }

    fn dial(&mut self, index: usize) {
        let Some(target) = self.targets.get_mut(index) else {
            return;
        };
        target.redial_scheduled = false;
        let opts = match target.peer {
            // Dialled again when it is allowed again.
            Some(peer)
                if !self
                    .swarm
                    .behaviour()
                    .allowed
                    .allowed_peers()
                    .contains(&peer) =>
            {
                return
            }
            Some(peer) => DialOpts::peer_id(peer)
                .addresses(vec![target.addr.clone()])
                .build(),
            None => DialOpts::unknown_peer_id()
                .address(target.addr.clone())
                .build(),
        };
        let connection = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.dialing.insert(connection, index);
            }
            // Connected or being dialled already.
            Err(DialError::DialPeerConditionFalse(_)) => {}
            Err(error) => {
                debug!(addr = %target.addr, %error, "cannot dial");
                self.schedule_redial(index);
            }
        }
    }

    fn schedule_redial(&mut self, index: usize) {
        let Some(target) = self.targets.get_mut(index) else {
            return;
        };
        if target.redial_scheduled {
            return;
        }
        target.redial_scheduled = true;
        let delay = target.backoff;
        target.backoff = (target.backoff * 2).min(REDIAL_BACKOFF_MAX);
        debug!(addr = %target.addr, ?delay, "redial scheduled");
        self.redials.push(Box::pin(async move {
            tokio::time::sleep(delay).await;
            index
        }));
    }

    fn send_query(
        &mut self,
        peer: PeerId,
        query: Query,
        answer: oneshot::Sender<Result<Answer, GossipError>>,
    ) {
        // Asking would otherwise dial it, with no address to dial.
        if !self.connected.contains(&peer) {
            let _ = answer.send(Err(GossipError::NotConnected(peer)));
            return;
        }
        let request = self
            .swarm
            .behaviour_mut()
            .queries
            .send_request(&peer, query);
        self.queries_sent.insert(request, answer);
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossipsub(event),
            SwarmEvent::Behaviour(BehaviourEvent::Queries(event)) => self.on_query_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(failure),
            })) => {
                debug!(%peer, %failure, "ping failed; closing the connection");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(_)) => {}
            SwarmEvent::Behaviour(BehaviourEvent::Allowed(never))
            | SwarmEvent::Behaviour(BehaviourEvent::Limits(never)) => match never {},
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                if let Some(index) = self.dialing.remove(&connection_id) {
                    self.targets[index].peer = Some(peer_id);
                }
                if num_established.get() == 1 {
                    self.connected.insert(peer_id);
                    self.connected_peers
                        .store(self.connected.len(), Ordering::Relaxed);
                    info!(peer = %peer_id, addr = %endpoint.get_remote_address(), "peer connected");
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                self.connected.remove(&peer_id);
                self.joined.remove(&peer_id);
                self.connected_peers
                    .store(self.connected.len(), Ordering::Relaxed);
                info!(peer = %peer_id, ?cause, "peer disconnected");
                let redial: Vec<usize> = (0..self.targets.len())
                    .filter(|&index| self.targets[index].peer == Some(peer_id))
                    .collect();
                for index in redial {
                    self.schedule_redial(index);
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                if let Some(index) = self.dialing.remove(&connection_id) {
                    debug!(addr = %self.targets[index].addr, %error, "dial failed");
                    self.schedule_redial(index);
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => debug!(addr = %send_back_addr, %error, "inbound connection refused or failed"),
            SwarmEvent::NewListenAddr { address, .. } => info!(%address, "gossip listening"),
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                warn!(?addresses, ?reason, "gossip listener closed");
            }
            SwarmEvent::ListenerError { error, .. } => warn!(%error, "gossip listener failed"),
            _ => {}
        }
    }

    fn on_gossipsub(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => self.ask_verdict(propagation_source, message_id, message.data),
            gossipsub::Event::Subscribed { peer_id, topic } if topic == self.topic => {
                self.on_joined(peer_id);
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } if topic == self.topic => {
                self.joined.remove(&peer_id);
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                warn!(peer = %peer_id, "peer does not speak gossipsub");
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => debug!(peer = %peer_id, ?failed_messages, "peer is slow to take messages"),
            _ => {}
        }
    }

    fn on_joined(&mut self, peer: PeerId) {
        // Every connection to a peer repeats its subscriptions.
        if !self.joined.insert(peer) {
            return;
        }
        for target in self.targets.iter_mut().filter(|t| t.peer == Some(peer)) {
            target.backoff = REDIAL_BACKOFF_MIN;
        }
        debug!(%peer, "peer joined the transaction topic");
        if self
            .events
            .try_send(GossipEvent::PeerConnected(peer))
            .is_err()
        {
            warn!(%peer, "the application is not keeping up: not told of a new peer");
        }
    }

    fn ask_verdict(&mut self, from: PeerId, message_id: MessageId, bytes: Vec<u8>) {
        debug!(message = %message_id, %from, size = bytes.len(), "received");
        let (verdict, decided) = oneshot::channel();
        if !self.ask_application(GossipEvent::Tx(IncomingTx {
            bytes,
            from,
            verdict,
        })) {
            debug!(message = %message_id, "application busy: message dropped");
            self.report(&message_id, &from, Verdict::Ignore);
            return;
        }
        self.awaiting_application.push(Box::pin(async move {
            let verdict = match tokio::time::timeout(VERDICT_TIMEOUT, decided).await {
                Ok(Ok(verdict)) => verdict,
                Ok(Err(_)) | Err(_) => Verdict::Ignore,
            };
            Settled::Verdict {
                message_id,
                from,
                verdict,
            }
        }));
    }

    fn ask_answer(&mut self, from: PeerId, query: Query, channel: ResponseChannel<Answer>) {
        debug!(%from, ?query, "query received");
        let txs_max = match query {
            Query::Pending { max } => usize::try_from(max).unwrap_or(usize::MAX),
            Query::Status => 0,
        };
        let (answer, answered) = oneshot::channel();
        if !self.ask_application(GossipEvent::Query(IncomingQuery {
            query,
            from,
            answer,
        })) {
            // Dropping the channel tells the asker at once.
            debug!(%from, "application busy: query dropped");
            return;
        }
        self.awaiting_application.push(Box::pin(async move {
            let answer = tokio::time::timeout(QUERY_TIMEOUT, answered)
                .await
                .ok()
                .and_then(Result::ok);
            Settled::Answer {
                channel,
                answer,
                txs_max,
            }
        }));
    }

    /// Hands a question to the application without waiting: false when too
    /// many are open or its queue is full (or it has gone).
    fn ask_application(&mut self, event: GossipEvent) -> bool {
        self.awaiting_application.len() < AWAITING_APPLICATION_MAX
            && self.events.try_send(event).is_ok()
    }

    fn on_settled(&mut self, settled: Settled) {
        match settled {
            Settled::Verdict {
                message_id,
                from,
                verdict,
            } => self.report(&message_id, &from, verdict),
            Settled::Answer {
                channel,
                answer: Some(answer),
                txs_max,
            } => {
                let answer = bounded(answer, txs_max);
                if self
                    .swarm
                    .behaviour_mut()
                    .queries
                    .send_response(channel, answer)
                    .is_err()
                {
                    debug!("the asker left before the answer");
                }
            }
            Settled::Answer { answer: None, .. } => debug!("query left unanswered"),
        }
    }

    fn report(&mut self, message_id: &MessageId, from: &PeerId, verdict: Verdict) {
        debug!(message = %message_id, ?verdict, "verdict");
        let acceptance = match verdict {
            Verdict::Accept => MessageAcceptance::Accept,
            Verdict::Reject => MessageAcceptance::Reject,
            Verdict::Ignore => MessageAcceptance::Ignore,
        };
        // False when the message left the cache first; gossipsub logs it.
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(message_id, from, acceptance);
    }

    fn on_query_event(&mut self, event: request_response::Event<Query, Answer>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.ask_answer(peer, request, channel),
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.queries_sent.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.queries_sent.remove(&request_id) {
                    let error = match error {
                        OutboundFailure::Timeout => GossipError::QueryTimeout(peer),
                        other => GossipError::QueryFailed {
                            peer,
                            reason: other.to_string(),
                        },
                    };
                    let _ = reply.send(Err(error));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "query from peer failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// Cuts a list of pending transactions to what was asked for and what one
/// answer carries.
pub fn bounded(answer: Answer, txs_max: usize) -> Answer {
    match answer {
        Answer::Pending(txs) => {
            let mut budget = PENDING_ANSWER_TX_BYTES_MAX;
            Answer::Pending(
                txs.into_iter()
                    .take(txs_max)
                    .take_while(|tx| match budget.checked_sub(tx.len()) {
                        Some(rest) => {
                            budget = rest;
                            true
                        }
                        None => false,
                    })
                    .collect(),
            )
        }
        status @ Answer::Status { .. } => status,
    }
}

/// An error and its causes, as one line: libp2p's transport errors print
/// nothing themselves and keep what happened (an address in use) as their
/// source.
fn with_causes(error: &dyn std::error::Error) -> String {
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

#[cfg(test)]
mod tests {
    use std::future::Future;

    use kp_ledger::tx::TX_SIZE_BYTES_MAX;

    use super::*;

    const GENESIS: Hash32 = Hash32([7; 32]);
    /// The bound on every wait for something that should happen.
    const WAIT: Duration = Duration::from_secs(5);
    /// How long something that should not happen is given to happen.
    const SILENCE: Duration = Duration::from_millis(300);

    struct TestNode {
        handle: GossipHandle,
        events: mpsc::Receiver<GossipEvent>,
        keypair: Keypair,
        id: PeerId,
        addr: Multiaddr,
    }

    fn any_port() -> Multiaddr {
        "/ip4/127.0.0.1/tcp/0".parse().expect("a multiaddr")
    }

    async fn start_node(
        keypair: Keypair,
        listen: Multiaddr,
        peers: Vec<Multiaddr>,
        allowed: Vec<PeerId>,
    ) -> TestNode {
        let id = keypair.public().to_peer_id();
        let (handle, events) = start(GossipConfig {
            keypair: keypair.clone(),
            listen,
            peers,
            allowed,
            genesis: GENESIS,
            message_bytes_max: TX_SIZE_BYTES_MAX,
        })
        .await
        .expect("gossip starts");
        let addr = handle.listen_addrs().await.expect("running")[0].clone();
        TestNode {
            handle,
            events,
            keypair,
            id,
            addr,
        }
    }

    async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
        tokio::time::timeout(WAIT, future)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// Takes events until each of `peers` has joined.
    async fn joined(node: &mut TestNode, peers: &[PeerId]) {
        let mut waiting: HashSet<PeerId> = peers.iter().copied().collect();
        within("peers to join", async {
            while !waiting.is_empty() {
                match node.events.recv().await {
                    Some(GossipEvent::PeerConnected(peer)) => waiting.remove(&peer),
                    other => panic!("expected a peer to join, got {other:?}"),
                };
            }
        })
        .await;
    }

    async fn next_tx(node: &mut TestNode) -> IncomingTx {
        match within("a transaction", node.events.recv()).await {
            Some(GossipEvent::Tx(tx)) => tx,
            other => panic!("expected a transaction, got {other:?}"),
        }
    }

    async fn quiet(node: &mut TestNode) {
        if let Ok(event) = tokio::time::timeout(SILENCE, node.events.recv()).await {
            panic!("expected nothing, got {event:?}");
        }
    }

    async fn peers_become(node: &TestNode, count: usize) {
        within("the peer count", async {
            while node.handle.peers() != count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    /// A dials B; each allows only the other.
    async fn pair() -> (TestNode, TestNode) {
        let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let (a_id, b_id) = (a.public().to_peer_id(), b.public().to_peer_id());
        let mut b = start_node(b, any_port(), vec![], vec![a_id]).await;
        let mut a = start_node(a, any_port(), vec![b.addr.clone()], vec![b_id]).await;
        joined(&mut a, &[b_id]).await;
        joined(&mut b, &[a_id]).await;
        (a, b)
    }

    /// A–B–C: A and C dial B and know only B.
    async fn line() -> (TestNode, TestNode, TestNode) {
        let (a, b, c) = (
            Keypair::generate_ed25519(),
            Keypair::generate_ed25519(),
            Keypair::generate_ed25519(),
        );
        let (a_id, b_id, c_id) = (
            a.public().to_peer_id(),
            b.public().to_peer_id(),
            c.public().to_peer_id(),
        );
        let mut b = start_node(b, any_port(), vec![], vec![a_id, c_id]).await;
        let mut a = start_node(a, any_port(), vec![b.addr.clone()], vec![b_id]).await;
        let mut c = start_node(c, any_port(), vec![b.addr.clone()], vec![b_id]).await;
        joined(&mut a, &[b_id]).await;
        joined(&mut b, &[a_id, c_id]).await;
        joined(&mut c, &[b_id]).await;
        (a, b, c)
    }

    #[tokio::test]
    async fn a_message_crosses_the_line_once_the_middle_accepts_it() {
        let (a, mut b, mut c) = line().await;
        // The largest transaction fits, framing and all; one byte more does not.
        let largest = vec![7; TX_SIZE_BYTES_MAX];
        let error = a.handle.publish(vec![7; TX_SIZE_BYTES_MAX + 1]).await;
        assert_eq!(error.unwrap_err().code(), "gossip_message_too_large");
        a.handle.publish(largest.clone()).await.expect("published");

        let at_b = next_tx(&mut b).await;
        assert_eq!((&at_b.bytes, at_b.from), (&largest, a.id));
        // Held while B decides.
        quiet(&mut c).await;
        at_b.verdict.send(Verdict::Accept).expect("B waits");

        let at_c = next_tx(&mut c).await;
        assert_eq!((&at_c.bytes, at_c.from), (&largest, b.id));
    }

    #[tokio::test]
    async fn messages_rejected_or_ignored_in_the_middle_stop_there() {
        let (a, mut b, mut c) = line().await;
        for bytes in [&b"rejected"[..], b"ignored", b"accepted"] {
            a.handle.publish(bytes.to_vec()).await.expect("published");
            let at_b = next_tx(&mut b).await;
            assert_eq!(at_b.bytes, bytes);
            match bytes {
                b"rejected" => at_b.verdict.send(Verdict::Reject).expect("B waits"),
                // A dropped question counts as Ignore.
                b"ignored" => drop(at_b.verdict),
                _ => at_b.verdict.send(Verdict::Accept).expect("B waits"),
            }
        }
        assert_eq!(next_tx(&mut c).await.bytes, b"accepted");
        quiet(&mut c).await;
    }

    #[tokio::test]
    async fn the_same_bytes_from_two_nodes_are_one_message() {
        let (a, mut b, c) = line().await;
        let same = b"submitted at two nodes".to_vec();
        let (from_a, from_c) = tokio::join!(
            a.handle.publish(same.clone()),
            c.handle.publish(same.clone())
        );
        from_a.expect("published");
        from_c.expect("published");

        let at_b = next_tx(&mut b).await;
        assert_eq!(at_b.bytes, same);
        at_b.verdict.send(Verdict::Accept).expect("B waits");
        quiet(&mut b).await;
    }

    #[tokio::test]
    async fn only_allowed_peers_stay_connected() {
        let (a, mut b) = pair().await;
        // The stranger would talk to B, but B has not allowed it.
        let stranger = start_node(
            Keypair::generate_ed25519(),
            any_port(),
            vec![b.addr.clone()],
            vec![b.id],
        )
        .await;

        stranger
            .handle
            .publish(b"from a stranger".to_vec())
            .await
            .expect("publishing to nobody is no error");
        quiet(&mut b).await;
        assert_eq!(b.handle.peers(), 1);

        // Taken off the list, A is cut off, and its redials are refused.
        b.handle.set_allowed_peers(vec![]).await.expect("running");
        peers_become(&b, 0).await;
        peers_become(&a, 0).await;
        a.handle
            .publish(b"after removal".to_vec())
            .await
            .expect("published");
        quiet(&mut b).await;
        assert_eq!(b.handle.peers(), 0);
    }

    #[tokio::test]
    async fn queries_are_answered_by_the_application() {
        let (a, b) = pair().await;
        let b_id = b.id;
        // B's application: height 7, three transactions waiting.
        let mut b_events = b.events;
        tokio::spawn(async move {
            let waiting = [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()];
            while let Some(event) = b_events.recv().await {
                if let GossipEvent::Query(IncomingQuery { query, answer, .. }) = event {
                    let _ = answer.send(match query {
                        Query::Status => Answer::Status {
                            genesis: GENESIS,
                            height: 7,
                        },
                        Query::Pending { max } => {
                            Answer::Pending(waiting.iter().take(max as usize).cloned().collect())
                        }
                    });
                }
            }
        });

        let status = a.handle.query(b_id, Query::Status).await.expect("answered");
        assert_eq!(
            status,
            Answer::Status {
                genesis: GENESIS,
                height: 7
            }
        );
        let pending = a
            .handle
            .query(b_id, Query::Pending { max: 2 })
            .await
            .expect("answered");
        assert_eq!(
            pending,
            Answer::Pending(vec![b"one".to_vec(), b"two".to_vec()])
        );

        let stranger = Keypair::generate_ed25519().public().to_peer_id();
        let error = a.handle.query(stranger, Query::Status).await.unwrap_err();
        assert_eq!(error.code(), "gossip_peer_not_connected");
    }

    #[tokio::test]
    async fn a_restarted_peer_rejoins_by_itself() {
        let (mut a, first_b) = pair().await;
        first_b.handle.shutdown().await;
        peers_become(&a, 0).await;

        // Only A knows where to find B: the reconnection is A's redial.
        let mut b = start_node(first_b.keypair, first_b.addr, vec![], vec![a.id]).await;
        joined(&mut a, &[b.id]).await;
        joined(&mut b, &[a.id]).await;

        a.handle
            .publish(b"after the restart".to_vec())
            .await
            .expect("published");
        assert_eq!(next_tx(&mut b).await.bytes, b"after the restart");
    }

    #[test]
    fn a_node_is_known_by_its_validator_key() {
        let validator = SecretKey::generate();
        let keypair = keypair_from_secret(&validator);
        assert_eq!(
            peer_id_of(&validator.public()).expect("a valid key"),
            keypair.public().to_peer_id()
        );
        // y = 2 is on no ed25519 curve point.
        let mut off_curve = [0; 32];
        off_curve[0] = 2;
        let error = peer_id_of(&PublicKey(off_curve)).unwrap_err();
        assert_eq!(error.code(), "gossip_invalid_validator_key");
    }

    #[test]
    fn pending_answers_are_cut_to_the_count_and_the_byte_budget() {
        let half = vec![0; PENDING_ANSWER_TX_BYTES_MAX / 2];
        let three = Answer::Pending(vec![half.clone(), half.clone(), half.clone()]);
        assert_eq!(
            bounded(three.clone(), 10),
            Answer::Pending(vec![half.clone(), half.clone()])
        );
        assert_eq!(bounded(three, 1), Answer::Pending(vec![half]));
    }
}
