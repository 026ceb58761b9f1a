//! Why consensus stops: each a reason the node cannot go on voting.

use kp_store::StoreError;
use malachitebft_app_channel::app::net::Multiaddr;

#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] kp_ledger::state::StorageFault),
    #[error("the consensus engine failed to start: {0}")]
    Engine(String),
    #[error("cannot listen for consensus on {addr} ({reason}); is another node using it?")]
    Listen { addr: Multiaddr, reason: String },
    #[error("a consensus task failed: {0}")]
    Task(String),
    #[error(
        "no Participant in good standing has a validator at height {0}: the chain cannot go on"
    )]
    NoValidators(u64),
    #[error("cannot record a proposal durably: {0}")]
    ProposalLog(String),
    #[error("the block this validator proposed before a restart no longer passes: {0}")]
    OwnProposalInvalid(String),
    #[error(
        "the validators decided block {height}, which this node's ledger refuses ({reason}); \
         its software or its database differs from theirs"
    )]
    DecidedInvalid { height: u64, reason: String },
}
