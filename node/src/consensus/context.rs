//! The engine's `Context`: what a height, a validator, a value, a proposal
//! and a vote are on this ledger, and how they are signed.
//!
//! The value the validators agree on is a block's hash; the block itself
//! travels as proposal parts (or as synced bytes) and is checked by the
//! ledger before the node votes for its hash.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use borsh::{BorshDeserialize, BorshSerialize};
use kp_crypto::{hash_domain, Hash32, PublicKey, SecretKey, Signature};
use kp_ledger::block::BlockHeader;
use kp_ledger::model::BlockHash;
use kp_ledger::votes::{vote_signing_bytes, VoteKind};
use malachitebft_core_types::{
    self as core, LinearTimeouts, NilOrVal, Round, SignedExtension, SignedMessage, SigningScheme,
    ValidatorProof, VoteExtensionScope, VoteType, VotingPower,
};
use malachitebft_signing::{Error as SigningError, Signer, VerificationResult, Verifier};

const PROPOSAL_CONTEXT: &str = "kp-node 2026 consensus proposal v1";
const VOTE_EXTENSION_CONTEXT: &str = "kp-node 2026 consensus vote extension v1";
const BLOCK_STREAM_CONTEXT: &str = "kp-node 2026 consensus block stream v1";

#[derive(Clone, Debug, Default)]
pub struct KpContext;

/// A block height; the engine's heights start at 1, as the ledger's blocks do.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl core::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address is its public key.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Address(pub PublicKey);

/// The whole key in hex: the engine's network layer matches validators by
/// this text.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex()[..12])
    }
}

impl core::Address for Address {}

/// The value decided at a height: the hash of the block's header.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct BlockId(pub BlockHash);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex()[..12])
    }
}

impl core::Value for BlockId {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        *self
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub address: Address,
    pub public_key: PublicKey,
}

impl core::Validator<KpContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// One Participant, one vote.
    fn voting_power(&self) -> VotingPower {
        1
    }
}

/// Validators sorted by address, so that every node sees one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
}

impl ValidatorSet {
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let mut validators: Vec<Validator> = keys
            .into_iter()
            .map(|key| Validator {
                address: Address(key),
                public_key: key,
            })
            .collect();
        validators.sort_by_key(|v| v.address);
        validators.dedup_by_key(|v| v.address);
        ValidatorSet { validators }
    }

    pub fn contains(&self, address: &Address) -> bool {
        self.position(address).is_some()
    }

    pub fn len(&self) -> usize {
        self.validators.len()
    }

    pub fn keys(&self) -> impl Iterator<Item = PublicKey> + '_ {
        self.validators.iter().map(|v| v.public_key)
    }

    fn position(&self, address: &Address) -> Option<usize> {
        self.validators
            .binary_search_by_key(address, |v| v.address)
            .ok()
    }
}

impl core::ValidatorSet<KpContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.validators.len() as VotingPower
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.position(address).map(|i| &self.validators[i])
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    pub height: Height,
    pub round: Round,
    pub value: BlockId,
    pub pol_round: Round,
    pub proposer: Address,
}

impl core::Proposal<KpContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockId {
        &self.value
    }

    fn take_value(self) -> BlockId {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Vote {
    pub kind: VoteType,
    pub height: Height,
    pub round: Round,
    pub value: NilOrVal<BlockId>,
    pub validator: Address,
    /// Vote extensions are off on this chain; the field exists because the
    /// engine's vote type must be able to carry one.
    pub extension: Option<SignedExtension<KpContext>>,
}

impl Vote {
    /// What a validator signs: everything but the (unused) extension, for
    /// the chain of genesis `genesis`.
    fn signing_bytes(&self, genesis: &Hash32) -> Vec<u8> {
        let kind = match self.kind {
            VoteType::Prevote => VoteKind::Prevote,
            VoteType::Precommit => VoteKind::Precommit,
        };
        let block = match &self.value {
            NilOrVal::Val(id) => Some(&id.0),
            NilOrVal::Nil => None,
        };
        vote_signing_bytes(
            genesis,
            kind,
            self.height.0,
            self.round.as_i64(),
            block,
            &self.validator.0,
        )
    }
}

impl core::Vote<KpContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.kind
    }

    fn validator_address(&self) -> &Address {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<KpContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<KpContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<KpContext>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// A block as the proposer streams it: its header first, its transactions
/// in chunks, and last the proposer's signature over the whole, so that a
/// node executes only blocks their proposer stands behind.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum BlockPart {
    Init {
        height: Height,
        round: Round,
        pol_round: Round,
        proposer: Address,
        /// Boxed: the other parts are small. It states how many
        /// transactions follow.
        header: Box<BlockHeader>,
    },
    Txs(Vec<Vec<u8>>),
    Fin {
        signature: Signature,
    },
}

impl core::ProposalPart<KpContext> for BlockPart {
    fn is_first(&self) -> bool {
        matches!(self, BlockPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, BlockPart::Fin { .. })
    }
}

/// What a proposer's `Fin` part signs: the stream's height and round and
/// the block it carries.
pub fn block_stream_signing_bytes(height: Height, round: Round, block: &BlockHash) -> Vec<u8> {
    signing_bytes(BLOCK_STREAM_CONTEXT, &(height, round, block))
}

/// ed25519 under ZIP-215 rules (ed25519-consensus, as the engine's own
/// `arc-malachitebft-signing-ed25519` uses), with the ledger's key and
/// signature types: that crate's `Signature` has serde but no borsh, and
/// the engine's borsh encodings of votes, proposals and certificates need
/// the signature to be borsh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519;

#[derive(Debug, thiserror::Error)]
#[error("expected {expected} bytes, got {got}")]
pub struct KeyLengthError {
    expected: usize,
    got: usize,
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], KeyLengthError> {
    <[u8; N]>::try_from(bytes).map_err(|_| KeyLengthError {
        expected: N,
        got: bytes.len(),
    })
}

impl SigningScheme for Ed25519 {
    type DecodingError = KeyLengthError;
    type Signature = Signature;
    type PublicKey = PublicKey;
    type PrivateKey = Arc<SecretKey>;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, KeyLengthError> {
        fixed(bytes).map(Signature)
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, KeyLengthError> {
        fixed(bytes).map(PublicKey)
    }

    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.0.to_vec()
    }
}

impl core::Context for KpContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = BlockPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    /// Round-robin over the validators in address order, moving on by one
    /// at every height and every round.
    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let count = validator_set.validators.len() as u64;
        assert!(count > 0, "a height needs at least one validator");
        let round = u64::from(round.as_u32().unwrap_or(0));
        let index = height.0.wrapping_add(round) % count;
        &validator_set.validators[index as usize]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        new_vote(VoteType::Prevote, height, round, value_id, address)
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        new_vote(VoteType::Precommit, height, round, value_id, address)
    }
}

fn new_vote(
    kind: VoteType,
    height: Height,
    round: Round,
    value: NilOrVal<BlockId>,
    validator: Address,
) -> Vote {
    Vote {
        kind,
        height,
        round,
        value,
        validator,
        extension: None,
    }
}

/// The domain-separated hash of a message's borsh bytes: what is signed.
fn signing_bytes(context: &str, message: &impl BorshSerialize) -> Vec<u8> {
    // Serialising to a Vec cannot fail.
    let bytes = borsh::to_vec(message).unwrap_or_default();
    hash_domain(context, &[&bytes]).0.to_vec()
}

fn verified(key: &PublicKey, message: &[u8], signature: &Signature) -> VerificationResult {
    VerificationResult::from_bool(key.verify(message, signature).is_ok())
}

/// Signs and checks consensus messages with ed25519-consensus (ZIP-215, the
/// same rules as every other signature on the ledger), votes for the chain
/// of one genesis.
#[derive(Clone)]
pub struct ValidatorSigner {
    key: Arc<SecretKey>,
    genesis: Hash32,
}

impl ValidatorSigner {
    pub fn new(key: Arc<SecretKey>, genesis: Hash32) -> Self {
        ValidatorSigner { key, genesis }
    }

    fn sign(&self, message: &[u8]) -> Result<Signature, SigningError> {
        Ok(self.key.sign(message))
    }
}

#[async_trait]
impl Verifier<KpContext> for ValidatorSigner {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verified(
            public_key,
            &vote.signing_bytes(&self.genesis),
            signature,
        ))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verified(
            public_key,
            &signing_bytes(PROPOSAL_CONTEXT, proposal),
            signature,
        ))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<KpContext>,
        _extension: &(),
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verified(
            public_key,
            &extension_signing_bytes(scope),
            signature,
        ))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<KpContext>,
    ) -> Result<VerificationResult, SigningError> {
        let Ok(key) = Ed25519::decode_public_key(&proof.public_key) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(verified(&key, &proof.preimage(), &proof.signature))
    }
}

#[async_trait]
impl Signer<KpContext> for ValidatorSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<KpContext, Vote>, SigningError> {
        let signature = self.sign(&vote.signing_bytes(&self.genesis))?;
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<KpContext, Proposal>, SigningError> {
        let signature = self.sign(&signing_bytes(PROPOSAL_CONTEXT, &proposal))?;
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<KpContext>,
        extension: (),
    ) -> Result<SignedMessage<KpContext, ()>, SigningError> {
        let signature = self.sign(&extension_signing_bytes(&scope))?;
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<KpContext>, SigningError> {
        let signature = self.sign(&ValidatorProof::<KpContext>::signing_bytes(
            &public_key,
            &peer_id,
        ))?;
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

fn extension_signing_bytes(scope: &VoteExtensionScope<KpContext>) -> Vec<u8> {
    let signed = (
        &scope.height,
        &scope.round,
        &scope.value_id,
        &scope.validator_address,
    );
    signing_bytes(VOTE_EXTENSION_CONTEXT, &signed)
}

/// Timeouts for a network of national authorities across continents.
pub fn wide_area_timeouts() -> LinearTimeouts {
    LinearTimeouts::default()
}

/// Timeouts for validators on one machine or one LAN (the local testnet and
/// the one-validator dev chain), where a message takes milliseconds.
pub fn local_timeouts() -> LinearTimeouts {
    use std::time::Duration;
    let propose = Duration::from_millis(1500);
    let vote = Duration::from_millis(500);
    LinearTimeouts {
        propose,
        propose_delta: Duration::from_millis(250),
        prevote: vote,
        prevote_delta: Duration::from_millis(250),
        precommit: vote,
        precommit_delta: Duration::from_millis(250),
        rebroadcast: propose + vote + vote,
        max_timeout: Duration::from_secs(10),
    }
}

/// The hash of a block's header: a block's identity in consensus.
pub fn block_id(header: &BlockHeader) -> BlockId {
    BlockId(header.hash())
}
