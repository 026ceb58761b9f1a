//! Blocks as streams of proposal parts: cutting a block into parts to
//! publish, and putting streams back together as their parts arrive, in
//! any order and from any relay, within bounded memory.

use std::collections::{BTreeMap, HashMap};

use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use kp_crypto::Signature;
use kp_ledger::block::Block;
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_core_types::Round;
use malachitebft_engine::util::streaming::{StreamContent, StreamId, StreamMessage};

use super::context::{Address, BlockPart, Height};

/// Transactions per `Txs` part are bounded by bytes, so that one part stays
/// well inside the engine's gossip message limit.
const PART_BYTES_TARGET: usize = 512 * 1024;

/// A stream larger than this is dropped: no valid block is this large
/// (10,000 transactions of the typical few hundred bytes).
pub const STREAM_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Streams being assembled at once; the oldest give way beyond this.
const STREAMS_MAX: usize = 64;

/// The parts of one proposal, in stream order.
pub fn block_stream(proposal: &SignedProposal) -> Vec<StreamMessage<BlockPart>> {
    let SignedProposal {
        height,
        round,
        pol_round,
        proposer,
        block,
        signature,
    } = proposal;
    let stream_id = stream_id(*height, *round, *proposer);
    let mut parts = vec![BlockPart::Init {
        height: *height,
        round: *round,
        pol_round: *pol_round,
        proposer: *proposer,
        header: Box::new(block.header.clone()),
    }];
    let mut chunk = Vec::new();
    let mut chunk_bytes = 0;
    for tx in &block.txs {
        if chunk_bytes + tx.len() > PART_BYTES_TARGET && !chunk.is_empty() {
            parts.push(BlockPart::Txs(std::mem::take(&mut chunk)));
            chunk_bytes = 0;
        }
        chunk_bytes += tx.len();
        chunk.push(tx.clone());
    }
    if !chunk.is_empty() {
        parts.push(BlockPart::Txs(chunk));
    }
    parts.push(BlockPart::Fin {
        signature: *signature,
    });
    let mut messages: Vec<StreamMessage<BlockPart>> = parts
        .into_iter()
        .enumerate()
        .map(|(seq, part)| {
            StreamMessage::new(stream_id.clone(), seq as u64, StreamContent::Data(part))
        })
        .collect();
    messages.push(StreamMessage::new(
        stream_id,
        messages.len() as u64,
        StreamContent::Fin,
    ));
    messages
}

fn stream_id(height: Height, round: Round, proposer: Address) -> StreamId {
    // Serialising to a Vec cannot fail.
    let bytes = borsh::to_vec(&(height, round, proposer)).unwrap_or_default();
    StreamId::new(Bytes::from(bytes))
}

/// A block as its proposer streams it: who proposed it for which round,
/// signed by the proposer (see `block_stream_signing_bytes`).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedProposal {
    pub height: Height,
    pub round: Round,
    pub pol_round: Round,
    pub proposer: Address,
    pub block: Block,
    pub signature: Signature,
}

/// A proposal put back together from its stream.
#[derive(Debug, Clone)]
pub struct AssembledBlock {
    pub proposal: SignedProposal,
    /// The parts as received, to publish again if the engine asks.
    pub messages: Vec<StreamMessage<BlockPart>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    #[error("proposal stream exceeds {STREAM_BYTES_MAX} bytes")]
    TooLarge,
    #[error("proposal stream is malformed: {0}")]
    Malformed(&'static str),
}

#[derive(Default)]
struct PartialStream {
    messages: BTreeMap<u64, StreamMessage<BlockPart>>,
    end: Option<u64>,
    bytes: usize,
    /// When it started, in arrivals, so the oldest can be evicted.
    arrival: u64,
}

/// Streams being assembled, by publisher and stream id.
#[derive(Default)]
pub struct PartStreams {
    streams: HashMap<(PeerId, StreamId), PartialStream>,
    arrivals: u64,
}

impl PartStreams {
    /// Adds one message; returns the assembled proposal when this message
    /// completes its stream.
    pub fn insert(
        &mut self,
        publisher: PeerId,
        message: StreamMessage<BlockPart>,
    ) -> Result<Option<AssembledBlock>, StreamError> {
        let key = (publisher, message.stream_id.clone());
        if !self.streams.contains_key(&key) && self.streams.len() >= STREAMS_MAX {
            self.evict_oldest();
        }
        self.arrivals += 1;
        let arrival = self.arrivals;
        let stream = self
            .streams
            .entry(key.clone())
            .or_insert_with(|| PartialStream {
                arrival,
                ..PartialStream::default()
            });
        stream.bytes += part_bytes(&message);
        if stream.bytes > STREAM_BYTES_MAX {
            self.streams.remove(&key);
            return Err(StreamError::TooLarge);
        }
        if message.is_fin() {
            stream.end = Some(message.sequence);
        }
        stream.messages.insert(message.sequence, message);
        // A stream ending at sequence `end` has `end + 1` messages; one
        // that claims to end at the last sequence number never completes.
        let complete = stream
            .end
            .and_then(|end| end.checked_add(1))
            .is_some_and(|count| stream.messages.len() as u64 == count);
        if !complete {
            return Ok(None);
        }
        let Some(stream) = self.streams.remove(&key) else {
            return Ok(None);
        };
        assemble(stream.messages.into_values().collect()).map(Some)
    }

    /// Forgets streams for heights below `height`, which can no longer matter.
    pub fn prune_below(&mut self, height: Height) {
        self.streams.retain(|_, stream| {
            stream
                .messages
                .values()
                .find_map(|m| match m.content.as_data() {
                    Some(BlockPart::Init { height: h, .. }) => Some(*h >= height),
                    _ => None,
                })
                .unwrap_or(true)
        });
    }

    fn evict_oldest(&mut self) {
        if let Some(oldest) = self
            .streams
            .iter()
            .min_by_key(|(_, s)| s.arrival)
            .map(|(k, _)| k.clone())
        {
            self.streams.remove(&oldest);
        }
    }
}

fn part_bytes(message: &StreamMessage<BlockPart>) -> usize {
    match message.content.as_data() {
        Some(BlockPart::Txs(txs)) => txs.iter().map(Vec::len).sum(),
        _ => 256,
    }
}

/// Puts a complete stream (every sequence number from 0 to its end) back
/// into a block: `Init`, then `Txs` parts, then `Fin`.
fn assemble(messages: Vec<StreamMessage<BlockPart>>) -> Result<AssembledBlock, StreamError> {
    let mut parts = messages.iter().map(|m| &m.content);
    let Some(StreamContent::Data(BlockPart::Init {
        height,
        round,
        pol_round,
        proposer,
        header,
    })) = parts.next()
    else {
        return Err(StreamError::Malformed(
            "it does not start with the block header",
        ));
    };
    let mut txs = Vec::with_capacity((header.tx_count as usize).min(10_000));
    let mut signature = None;
    for content in parts {
        match (content, signature) {
            (StreamContent::Data(BlockPart::Txs(chunk)), None) => txs.extend(chunk.iter().cloned()),
            (StreamContent::Data(BlockPart::Fin { signature: s }), None) => signature = Some(*s),
            (StreamContent::Fin, Some(_)) => {}
            _ => return Err(StreamError::Malformed("its parts are out of order")),
        }
    }
    let Some(signature) = signature else {
        return Err(StreamError::Malformed("it carries no proposer signature"));
    };
    if txs.len() != header.tx_count as usize {
        return Err(StreamError::Malformed(
            "its transaction count differs from its header part",
        ));
    }
    Ok(AssembledBlock {
        proposal: SignedProposal {
            height: *height,
            round: *round,
            pol_round: *pol_round,
            proposer: *proposer,
            block: Block {
                header: (**header).clone(),
                txs,
            },
            signature,
        },
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_crypto::SecretKey;
    use kp_ledger::testkit::placeholder_block;

    fn block(txs: usize, tx_bytes: usize) -> Block {
        placeholder_block(3, (0..txs).map(|i| vec![i as u8; tx_bytes]).collect())
    }

    fn peer() -> PeerId {
        let key = libp2p::identity::Keypair::generate_ed25519();
        PeerId::from_bytes(&key.public().to_peer_id().to_bytes()).expect("a peer id")
    }

    fn stream(block: &Block) -> Vec<StreamMessage<BlockPart>> {
        block_stream(&SignedProposal {
            height: Height(3),
            round: Round::new(1),
            pol_round: Round::Nil,
            proposer: Address(block.header.proposer),
            block: block.clone(),
            signature: Signature([5; 64]),
        })
    }

    #[test]
    fn a_stream_reassembles_in_any_order() {
        let original = block(300, 4000);
        let mut messages = stream(&original);
        assert!(messages.len() > 4, "several Txs parts: {}", messages.len());
        messages.reverse();
        let peer = peer();
        let mut streams = PartStreams::default();
        let last = messages.pop().expect("a message");
        for m in messages {
            assert!(streams.insert(peer, m).expect("accepted").is_none());
        }
        let assembled = streams
            .insert(peer, last)
            .expect("accepted")
            .expect("complete");
        assert_eq!(assembled.proposal.block, original);
        assert_eq!(assembled.proposal.height, Height(3));
        assert_eq!(assembled.proposal.signature, Signature([5; 64]));
    }

    #[test]
    fn an_empty_block_streams_as_header_and_signature() {
        let original = block(0, 0);
        let peer = peer();
        let mut streams = PartStreams::default();
        let mut done = None;
        for m in stream(&original) {
            done = streams.insert(peer, m).expect("accepted");
        }
        assert_eq!(done.expect("complete").proposal.block, original);
    }

    #[test]
    fn a_stream_without_a_header_is_refused() {
        let mut messages = stream(&block(2, 10));
        messages.remove(0);
        let stream_id = messages[0].stream_id.clone();
        let peer = peer();
        let mut streams = PartStreams::default();
        let mut outcome = Ok(None);
        let count = messages.len();
        for (seq, mut m) in messages.into_iter().enumerate() {
            m.sequence = seq as u64;
            m.stream_id = stream_id.clone();
            outcome = streams.insert(peer, m);
            if seq + 1 < count {
                assert!(matches!(outcome, Ok(None)));
            }
        }
        assert!(matches!(outcome, Err(StreamError::Malformed(_))));
    }

    /// Found by the `proposal_parts` fuzz target
    /// (`fuzz/regressions/proposal_parts/fin-at-last-sequence`): a stream's
    /// end at sequence `u64::MAX` made the count of its messages overflow,
    /// a panic in a build with overflow checks.
    #[test]
    fn a_stream_ending_at_the_last_sequence_number_is_never_complete() {
        let peer = peer();
        let mut streams = PartStreams::default();
        let mut messages = stream(&block(1, 10));
        let mut fin = messages.pop().expect("the stream's end");
        assert!(fin.is_fin());
        fin.sequence = u64::MAX;
        for m in messages {
            assert!(matches!(streams.insert(peer, m), Ok(None)));
        }
        assert!(matches!(streams.insert(peer, fin), Ok(None)));
    }

    #[test]
    fn old_heights_are_pruned_and_streams_are_bounded() {
        let peer = peer();
        let mut streams = PartStreams::default();
        let first = stream(&block(1, 10)).remove(0);
        streams.insert(peer, first).expect("accepted");
        streams.prune_below(Height(4));
        assert!(streams.streams.is_empty());
        for round in 0..(STREAMS_MAX as u32 + 10) {
            let m = block_stream(&SignedProposal {
                height: Height(9),
                round: Round::new(round),
                pol_round: Round::Nil,
                proposer: Address(SecretKey::from_seed([4; 32]).public()),
                block: block(1, 10),
                signature: Signature([0; 64]),
            })
            .remove(0);
            streams.insert(peer, m).expect("accepted");
        }
        assert_eq!(streams.streams.len(), STREAMS_MAX);
    }
}
