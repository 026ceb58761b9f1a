//! The node's side of the engine: it answers every `AppMsg`. It builds
//! blocks from the mempool when this validator proposes, checks the blocks
//! others propose (or that sync brings) against the ledger before the
//! engine votes for them, and commits a block with its certificate once the
//! engine has decided it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kp_crypto::SecretKey;
use kp_ledger::block::{apply_block, build_block, AppliedBlock, Block, TXS_PER_BLOCK_MAX};
use kp_ledger::model::TxId;
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, Context as _, LinearTimeouts, Round, VoteExtensions,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, PeerId, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use malachitebft_engine::util::streaming::StreamMessage;
use tracing::{debug, error, info, warn};

use super::candidate::Candidate;
use super::codec::{decode_certificate, encode_certificate};
use super::context::{
    block_id, block_stream_signing_bytes, Address, BlockId, BlockPart, Height, KpContext,
    ValidatorSet,
};
use super::error::ConsensusError;
use super::parts::{block_stream, AssembledBlock, PartStreams, SignedProposal};
use super::proposal_log::ProposalLog;
use super::validators::validator_set;
use crate::chain::ChainView;
use crate::clock::now_secs;
use crate::mempool::MempoolHandle;
use crate::metrics::Metrics;
use crate::peers::ParticipantNodes;
use kp_ledger::summary::short_id;

/// A proposer's clock may run ahead of ours by this much before its block
/// is refused: block time is the rules' only clock, and it must not run
/// away into the future.
const CLOCK_DRIFT_MAX_SECS: u64 = 30;

/// Further behind the network than this, a node is catching up, and says
/// so every few seconds instead of logging every block.
const CATCHING_UP_BLOCKS: u64 = 10;
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(3);

/// Complete proposals kept for heights this node has not reached.
const EARLY_PROPOSALS_MAX: usize = 8;

/// Sync responses stop adding blocks past this many bytes.
const SYNC_RESPONSE_BYTES_MAX: usize = 48 * 1024 * 1024;

/// What the application works with: the services it reads and writes.
pub struct Services {
    pub chain: ChainView,
    pub mempool: MempoolHandle,
    pub metrics: Arc<Metrics>,
    /// Told after each block that changes the Participant set.
    pub participants: ParticipantNodes,
}

pub struct App {
    chain: ChainView,
    mempool: MempoolHandle,
    metrics: Arc<Metrics>,
    participants: ParticipantNodes,
    key: Arc<SecretKey>,
    timeouts: LinearTimeouts,
    /// How long a proposer waits for transactions before proposing an empty
    /// block.
    idle_wait: Duration,
    ctx: KpContext,
    height: Height,
    round: Round,
    validators: ValidatorSet,
    candidates: HashMap<BlockId, Candidate>,
    /// What this validator proposed, by round: a round asked again gets the
    /// same block.
    own_proposals: HashMap<Round, BlockId>,
    /// Every valid proposal of the height (this validator's own and the
    /// others'), on disk before the engine hears of it, for a restart
    /// mid-height.
    proposal_log: Arc<ProposalLog>,
    streams: PartStreams,
    /// Complete streams for a height not started yet.
    early: Vec<AssembledBlock>,
    /// When the current height started, for the commit latency metric.
    height_started: Instant,
    progress_logged: Instant,
}

impl App {
    pub fn new(
        services: Services,
        key: Arc<SecretKey>,
        timeouts: LinearTimeouts,
        idle_wait: Duration,
        proposal_log: ProposalLog,
    ) -> Self {
        let Services {
            chain,
            mempool,
            metrics,
            participants,
        } = services;
        App {
            chain,
            mempool,
            metrics,
            participants,
            key,
            timeouts,
            idle_wait,
            ctx: KpContext,
            height: Height(0),
            round: Round::Nil,
            validators: ValidatorSet::new([]),
            candidates: HashMap::new(),
            own_proposals: HashMap::new(),
            proposal_log: Arc::new(proposal_log),
            streams: PartStreams::default(),
            early: Vec::new(),
            height_started: Instant::now(),
            progress_logged: Instant::now(),
        }
    }

    /// Answers the engine until it stops (then returns Ok) or until the
    /// ledger cannot be written (then returns the error: a node that cannot
    /// store what was decided must stop rather than vote on).
    pub async fn run(mut self, mut channels: Channels<KpContext>) -> Result<(), ConsensusError> {
        while let Some(msg) = channels.consensus.recv().await {
            self.handle(msg, &channels).await?;
        }
        Ok(())
    }

    async fn handle(
        &mut self,
        msg: AppMsg<KpContext>,
        channels: &Channels<KpContext>,
    ) -> Result<(), ConsensusError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let tip = self.chain.store().tip()?;
                let height = Height(tip.height + 1);
                let params = self.enter_height(height)?;
                self.recover_proposals(height).await?;
                info!(%height, validators = self.validators.len(), "consensus ready");
                answer(reply.send((height, params)), "ConsensusReady");
            }
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                debug!(%height, %round, %proposer, ?role, "round started");
                self.round = round;
                Metrics::set(&self.metrics.round, round.as_i64());
                for early in std::mem::take(&mut self.early) {
                    if early.proposal.height == height {
                        self.accept_assembled(early).await?;
                    } else if early.proposal.height > height {
                        self.early.push(early);
                    }
                }
                let known: Vec<_> = self
                    .candidates
                    .iter()
                    .filter(|(_, c)| c.height == height && c.round == round)
                    .map(|(id, c)| c.proposed_value(*id))
                    .collect();
                answer(reply_value.send(known), "StartedRound");
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                let id = match self.own_proposals.get(&round) {
                    Some(id) => *id,
                    None => self.propose(height, round, timeout).await?,
                };
                answer(
                    reply.send(LocallyProposedValue::new(height, round, id)),
                    "GetValue",
                );
                self.publish(id, channels).await;
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let publisher = published_by.unwrap_or(from);
                let value = self.received_part(publisher, part).await?;
                answer(reply.send(value), "ReceivedProposalPart");
            }
            AppMsg::RestreamProposal { value_id, .. } => self.publish(value_id, channels).await,
            AppMsg::ExtendVote { reply, .. } => answer(reply.send(None), "ExtendVote"),
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                // Extensions are off on this chain; none is ever produced.
                let verdicts = extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect();
                answer(reply.send(verdicts), "VerifyVoteExtensions");
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                // Every node keeps the whole chain.
                answer(reply.send(Height(1)), "GetHistoryMinHeight");
            }
            AppMsg::Decided {
                certificate,
                extensions,
                reply,
            } => {
                self.decided(certificate, extensions).await?;
                answer(reply.send(()), "Decided");
            }
            AppMsg::Finalized {
                certificate,
                evidence,
                reply,
                ..
            } => {
                // A validator that signed two proposals or two votes for one
                // round is named, so its Participant can be asked why.
                for (validator, doubles) in evidence.proposals.iter() {
                    warn!(height = %certificate.height, %validator, count = doubles.len(), "validator proposed two blocks in one round");
                }
                for (validator, doubles) in evidence.votes.iter() {
                    warn!(height = %certificate.height, %validator, count = doubles.len(), "validator cast two different votes in one round");
                }
                let next = self.after_finalized(certificate.height)?;
                answer(reply.send(next), "Finalized");
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let values = self.decided_values(*range.start(), *range.end()).await?;
                answer(reply.send(values), "GetDecidedValues");
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let outcome = self
                    .synced_value(height, round, proposer, value_bytes)
                    .await?;
                answer(reply.send(outcome), "ProcessSyncedValue");
            }
        }
        Ok(())
    }

    /// Once `decided` is finalized: the next height if its block was
    /// committed here, else `decided` again.
    fn after_finalized(&mut self, decided: Height) -> Result<Next<KpContext>, ConsensusError> {
        let tip = self.chain.store().tip()?;
        if tip.height >= decided.0 {
            let height = Height(tip.height + 1);
            return Ok(Next::Start(height, self.enter_height(height)?));
        }
        // The decided block was not here to commit, though the proposal log
        // holds every block the engine can decide: the log was lost.
        // Running the height again lets sync bring the block, but resets the
        // engine's write-ahead log, so this node may sign a second vote in a
        // round it voted in: the last resort, said loudly.
        error!(height = %decided, "decided block missing; restarting the height (this node may now equivocate)");
        Ok(Next::Restart(decided, self.enter_height(decided)?))
    }

    /// Starts `height`: the validator set is read from the ledger after the
    /// block before it, and what belonged to earlier heights is dropped.
    fn enter_height(&mut self, height: Height) -> Result<HeightParams<KpContext>, ConsensusError> {
        let snapshot = self.chain.snapshot()?;
        self.validators = validator_set(&snapshot)?;
        if self.validators.len() == 0 {
            return Err(ConsensusError::NoValidators(height.0));
        }
        self.height = height;
        self.round = Round::Nil;
        self.candidates.retain(|_, c| c.height >= height);
        self.own_proposals.clear();
        self.streams.prune_below(height);
        self.early.retain(|b| b.proposal.height >= height);
        self.height_started = Instant::now();
        Metrics::set(&self.metrics.height, height.0.saturating_sub(1));
        Metrics::set(&self.metrics.round, 0);
        Metrics::set(&self.metrics.validators, self.validators.len());
        self.chain.consensus_started();
        Ok(HeightParams::new(
            self.validators.clone(),
            self.timeouts,
            None,
        ))
    }

    /// Builds this validator's block for (`height`, `round`) from what
    /// waits in the mempool, waiting a little for transactions when none
    /// waits, so an idle chain grows slowly.
    async fn propose(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
    ) -> Result<BlockId, ConsensusError> {
        let key = self.key.clone();
        let wait = self.idle_wait.min(timeout / 2);
        self.mempool.wait_for_work(wait).await;
        let address = Address(key.public());
        let built = match self.proposal_log.proposed_by(address, height, round) {
            // Proposed before a restart: the same block again, checked anew.
            Some(block) => {
                info!(%height, %round, "proposing again the block proposed before a restart");
                match self.check_block(block, address).await? {
                    Ok(applied) => applied,
                    Err(reason) => return Err(ConsensusError::OwnProposalInvalid(reason)),
                }
            }
            None => self.build(key.clone()).await?,
        };
        let id = block_id(&built.block.header);
        let proposal = SignedProposal {
            height,
            round,
            pol_round: Round::Nil,
            proposer: address,
            signature: key.sign(&block_stream_signing_bytes(height, round, &id.0)),
            block: built.block.clone(),
        };
        self.log_proposal(&proposal).await?;
        let messages = block_stream(&proposal);
        info!(%height, %round, txs = built.block.txs.len(), block = %id, "proposing");
        self.candidates
            .insert(id, Candidate::of(&proposal, Ok(built), messages));
        self.own_proposals.insert(round, id);
        Ok(id)
    }

    /// A new block from what waits in the mempool, over the committed state.
    async fn build(&self, key: Arc<SecretKey>) -> Result<AppliedBlock, ConsensusError> {
        let chain = self.chain.clone();
        let mempool = self.mempool.clone();
        blocking(move || {
            let candidates = mempool.batch(TXS_PER_BLOCK_MAX);
            let snapshot = chain.snapshot()?;
            let tip = snapshot.tip()?;
            let time = now_secs().max(tip.time);
            let built = build_block(
                &snapshot,
                &tip,
                chain.identity(),
                time,
                key.public(),
                candidates,
                // Every one came out of the mempool, which checked it.
                &|_| true,
            )?;
            drop(snapshot);
            if !built.rejected.is_empty() {
                mempool.record_dropped(&built.rejected);
                let refused: HashSet<_> = built.rejected.iter().map(|(id, _)| *id).collect();
                mempool.settle(&refused)?;
            }
            Ok(built.applied)
        })
        .await
    }

    /// Publishes a known block's parts (again).
    async fn publish(&self, id: BlockId, channels: &Channels<KpContext>) {
        let Some(candidate) = self.candidates.get(&id) else {
            debug!(block = %id, "asked to publish a block not held");
            return;
        };
        for message in &candidate.messages {
            if channels
                .network
                .send(NetworkMsg::PublishProposalPart(message.clone()))
                .await
                .is_err()
            {
                warn!("the engine's network has stopped; proposal not published");
                return;
            }
        }
    }

    async fn received_part(
        &mut self,
        publisher: PeerId,
        part: StreamMessage<BlockPart>,
    ) -> Result<Option<ProposedValue<KpContext>>, ConsensusError> {
        let assembled = match self.streams.insert(publisher, part) {
            Ok(Some(assembled)) => assembled,
            Ok(None) => return Ok(None),
            Err(e) => {
                warn!(%publisher, "dropping a proposal stream: {e}");
                return Ok(None);
            }
        };
        if assembled.proposal.height > self.height {
            // A node catching up sees live proposals far ahead of it: keep
            // only the last few, for the heights it is about to reach.
            if self.early.len() >= EARLY_PROPOSALS_MAX {
                self.early.remove(0);
            }
            self.early.push(assembled);
            return Ok(None);
        }
        self.accept_assembled(assembled).await
    }

    /// Checks a complete proposal: it must come from the round's proposer,
    /// signed by it, and then the ledger decides whether the block is valid.
    async fn accept_assembled(
        &mut self,
        assembled: AssembledBlock,
    ) -> Result<Option<ProposedValue<KpContext>>, ConsensusError> {
        let AssembledBlock { proposal, messages } = assembled;
        if proposal.height != self.height {
            return Ok(None);
        }
        let expected = self
            .ctx
            .select_proposer(&self.validators, proposal.height, proposal.round)
            .address;
        let id = block_id(&proposal.block.header);
        let signed = block_stream_signing_bytes(proposal.height, proposal.round, &id.0);
        if proposal.proposer != expected
            || proposal
                .proposer
                .0
                .verify(&signed, &proposal.signature)
                .is_err()
        {
            warn!(
                height = %proposal.height,
                round = %proposal.round,
                proposer = %proposal.proposer,
                "dropping a proposal not signed by the round's proposer"
            );
            return Ok(None);
        }
        if let Some(known) = self.candidates.get(&id) {
            return Ok(Some(known.proposed_value(id)));
        }
        let checked = self
            .check_block(proposal.block.clone(), proposal.proposer)
            .await?;
        match &checked {
            // Only a valid block can be decided: that is the one to hold
            // through a restart.
            Ok(_) => self.log_proposal(&proposal).await?,
            Err(reason) => {
                warn!(height = %proposal.height, round = %proposal.round, block = %id, "invalid proposal: {reason}")
            }
        }
        let candidate = Candidate::of(&proposal, checked, messages);
        let value = candidate.proposed_value(id);
        self.candidates.insert(id, candidate);
        Ok(Some(value))
    }

    /// Writes a proposal to the log, durably, before the engine hears of it.
    async fn log_proposal(&self, proposal: &SignedProposal) -> Result<(), ConsensusError> {
        let log = self.proposal_log.clone();
        let proposal = proposal.clone();
        blocking(move || {
            log.record(&proposal)
                .map_err(|e| ConsensusError::ProposalLog(e.to_string()))
        })
        .await
    }

    /// After a restart mid-height: the valid proposals this node held
    /// before are held again, so that a block the engine's write-ahead log
    /// leads it to decide is here to commit.
    async fn recover_proposals(&mut self, height: Height) -> Result<(), ConsensusError> {
        let log = self.proposal_log.clone();
        let logged = blocking(move || Ok(log.of_height(height))).await?;
        for proposal in logged {
            let id = block_id(&proposal.block.header);
            let checked = self
                .check_block(proposal.block.clone(), proposal.proposer)
                .await?;
            info!(%height, round = %proposal.round, block = %id, valid = checked.is_ok(), "proposal held again after a restart");
            let messages = block_stream(&proposal);
            self.candidates
                .insert(id, Candidate::of(&proposal, checked, messages));
        }
        Ok(())
    }

    /// Runs `block` through the ledger over the committed state.
    async fn check_block(
        &self,
        block: Block,
        proposer: Address,
    ) -> Result<Result<AppliedBlock, String>, ConsensusError> {
        if block.header.proposer != proposer.0 {
            return Ok(Err("its header names another proposer".into()));
        }
        let latest = now_secs() + CLOCK_DRIFT_MAX_SECS;
        if block.header.time > latest {
            return Ok(Err(format!(
                "its time {} is ahead of this node's clock by more than {CLOCK_DRIFT_MAX_SECS} s",
                block.header.time
            )));
        }
        let chain = self.chain.clone();
        let mempool = self.mempool.clone();
        blocking(move || {
            let snapshot = chain.snapshot()?;
            let tip = snapshot.tip()?;
            // What this node's mempool holds it checked on admission.
            let in_mempool = |id: &TxId| mempool.contains(id);
            Ok(
                apply_block(&snapshot, &tip, chain.identity(), block, &in_mempool)
                    .map_err(|e| e.to_string()),
            )
        })
        .await
    }

    async fn decided(
        &mut self,
        certificate: CommitCertificate<KpContext>,
        extensions: VoteExtensions<KpContext>,
    ) -> Result<(), ConsensusError> {
        let height = certificate.height;
        let id = certificate.value_id;
        let Some(candidate) = self.candidates.remove(&id) else {
            error!(%height, block = %id, "decided a block this node does not hold");
            return Ok(());
        };
        let applied = match candidate.checked {
            Ok(applied) => applied,
            Err(reason) => {
                // More than two thirds of the validators voted for a block
                // this node's ledger refuses: its rules differ from theirs.
                return Err(ConsensusError::DecidedInvalid {
                    height: height.0,
                    reason,
                });
            }
        };
        let bytes = encode_certificate(&certificate, extensions);
        let round = certificate.round;
        let participants_changed = applied.delta.changes_participants();
        let chain = self.chain.clone();
        let mempool = self.mempool.clone();
        let (tip, txs) = blocking(move || {
            let tip = chain.store().commit(&applied, &bytes)?;
            chain.block_committed(tip.height);
            let included: HashSet<_> = applied.txs.iter().map(|t| t.id).collect();
            mempool.settle(&included)?;
            Ok((tip, applied.txs.len()))
        })
        .await?;
        if participants_changed {
            self.participants.changed().await;
        }
        let metrics = &self.metrics;
        metrics.txs_committed.inc_by(txs as u64);
        metrics
            .commit_latency
            .observe(self.height_started.elapsed().as_secs_f64());
        match self.chain.network_height() {
            // Catching up: a line every few seconds rather than every block.
            Some(network) if network > tip.height + CATCHING_UP_BLOCKS => {
                if self.progress_logged.elapsed() >= PROGRESS_LOG_INTERVAL {
                    self.progress_logged = Instant::now();
                    info!(
                        height = tip.height,
                        network,
                        behind = network - tip.height,
                        "catching up"
                    );
                }
            }
            _ => info!(
                height = tip.height,
                %round,
                txs,
                signatures = certificate.commit_signatures.len(),
                hash = %short_id(&tip.hash),
                "committed block"
            ),
        }
        Ok(())
    }

    async fn decided_values(
        &self,
        from: Height,
        to: Height,
    ) -> Result<Vec<RawDecidedValue<KpContext>>, ConsensusError> {
        let chain = self.chain.clone();
        blocking(move || {
            let snapshot = chain.snapshot()?;
            let mut values = Vec::new();
            let mut bytes_total = 0;
            for height in from.0..=to.0 {
                let (Some(block), Some(certificate)) = (
                    snapshot.block(height)?,
                    snapshot.commit_certificate(height)?,
                ) else {
                    break;
                };
                let Ok(certificate) = decode_certificate(&certificate) else {
                    // A block decided before this chain ran the engine has
                    // no certificate to serve.
                    break;
                };
                // Serialising to a Vec cannot fail.
                let value_bytes = borsh::to_vec(&block).unwrap_or_default();
                bytes_total += value_bytes.len();
                values.push(RawDecidedValue {
                    value_bytes: Bytes::from(value_bytes),
                    certificate,
                });
                if bytes_total > SYNC_RESPONSE_BYTES_MAX {
                    break;
                }
            }
            Ok(values)
        })
        .await
    }

    async fn synced_value(
        &mut self,
        height: Height,
        round: Round,
        proposer: Address,
        value_bytes: Bytes,
    ) -> Result<SyncedValueOutcome<KpContext>, ConsensusError> {
        let Ok(block) = borsh::from_slice::<Block>(&value_bytes) else {
            warn!(%height, "a peer sent a block that does not decode");
            return Ok(SyncedValueOutcome::PeerFault);
        };
        if height != self.height || block.header.height != height.0 {
            return Ok(SyncedValueOutcome::LocalTransientError);
        }
        let id = block_id(&block.header);
        if let Some(known) = self.candidates.get(&id) {
            return Ok(SyncedValueOutcome::Verdict(known.proposed_value(id)));
        }
        let checked = self.check_block(block, proposer).await?;
        info!(%height, block = %id, valid = checked.is_ok(), "synced block checked");
        let candidate = Candidate {
            height,
            round,
            pol_round: Round::Nil,
            proposer,
            checked,
            messages: Vec::new(),
        };
        let value = candidate.proposed_value(id);
        self.candidates.insert(id, candidate);
        Ok(SyncedValueOutcome::Verdict(value))
    }
}

/// Runs storage work on a blocking thread: redb is synchronous.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ConsensusError> + Send + 'static,
) -> Result<T, ConsensusError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ConsensusError::Task(e.to_string()))?
}

/// A reply the engine no longer waits for means it is stopping; that is
/// worth a line in the log and nothing more.
fn answer<T>(sent: Result<(), T>, what: &str) {
    if sent.is_err() {
        debug!("the engine stopped before the {what} reply");
    }
}

#[cfg(test)]
mod tests;
