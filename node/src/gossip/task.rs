//! The task that owns the swarm: it runs the swarm, carries out the
//! handle's commands and hands what the swarm receives to the application.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use libp2p::futures::future::BoxFuture;
use libp2p::futures::stream::{FuturesUnordered, StreamExt};
use libp2p::gossipsub::{self, MessageAcceptance, MessageId, PublishError, TopicHash};
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, DialError, SwarmEvent};
use libp2p::{ping, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::behaviour::{Behaviour, BehaviourEvent};
use super::config::{AWAITING_APPLICATION_MAX, VERDICT_TIMEOUT};
use super::error::{with_causes, GossipError};
use super::events::{GossipEvent, IncomingQuery, IncomingTx, Verdict};
use super::handle::Command;
use super::query::{bounded, Answer, Query, QUERY_TIMEOUT};
use super::redial::DialTarget;

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

pub(super) struct GossipTask {
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
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        topic: TopicHash,
        events: mpsc::Sender<GossipEvent>,
        connected_peers: Arc<AtomicUsize>,
    ) -> Self {
        GossipTask {
            swarm,
            topic,
            events,
            connected: HashSet::new(),
            joined: HashSet::new(),
            connected_peers,
            targets: Vec::new(),
            dialing: HashMap::new(),
            redials: FuturesUnordered::new(),
            awaiting_application: FuturesUnordered::new(),
            queries_sent: HashMap::new(),
        }
    }

    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
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
    pub(super) async fn first_listen_addr(&mut self) -> Result<(), String> {
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
            self.targets[index].reset_backoff();
            self.dial(index);
        }
    }

    pub(super) fn add_target(&mut self, addr: Multiaddr) {
        if self.targets.iter().any(|target| target.addr == addr) {
            return;
        }
        self.targets.push(DialTarget::new(addr));
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
        let delay = target.next_delay();
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
            target.reset_backoff();
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
