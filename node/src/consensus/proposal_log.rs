//! The proposals of the current height that this node handed the engine,
//! kept on disk until the height is decided.
//!
//! The engine's write-ahead log records that a value was proposed (its id),
//! not the block itself. A node restarted mid-height replays that log and
//! may then decide a block whose id it knows and whose bytes it lost with
//! its memory. Restarting the height instead would reset the engine's log,
//! and a node that forgot its votes can sign a second, different one:
//! equivocation. So every block is written here before the engine hears of
//! it, and read back at start: a restarted validator proposes again the
//! block it proposed, and holds every block it may have voted for.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use kp_ledger::block::Block;
use malachitebft_core_types::Round;

use super::context::{Address, Height};
use super::parts::SignedProposal;

pub struct ProposalLog {
    path: PathBuf,
}

impl ProposalLog {
    pub fn new(path: PathBuf) -> Self {
        ProposalLog { path }
    }

    /// The block `proposer` proposed for (`height`, `round`) before a
    /// restart, if any.
    pub fn proposed_by(&self, proposer: Address, height: Height, round: Round) -> Option<Block> {
        self.entries()
            .into_iter()
            .find(|p| (p.proposer, p.height, p.round) == (proposer, height, round))
            .map(|p| p.block)
    }

    /// Every proposal logged for `height`.
    pub fn of_height(&self, height: Height) -> Vec<SignedProposal> {
        let mut entries = self.entries();
        entries.retain(|p| p.height == height);
        entries
    }

    /// Records a proposal durably; entries of other heights are dropped,
    /// and one already logged is not written again.
    pub fn record(&self, proposal: &SignedProposal) -> io::Result<()> {
        let mut entries = self.of_height(proposal.height);
        if entries.contains(proposal) {
            return Ok(());
        }
        entries.push(proposal.clone());
        let bytes = borsh::to_vec(&entries)?;
        let partial = self.path.with_extension("partial");
        let mut file = fs::File::create(&partial)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&partial, &self.path)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// An unreadable file counts as empty: it is written whole or not at all.
    fn entries(&self) -> Vec<SignedProposal> {
        fs::read(&self.path)
            .ok()
            .and_then(|bytes| borsh::from_slice(&bytes).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_crypto::SecretKey;
    use kp_ledger::testkit::placeholder_block;

    fn proposal(height: u64, round: u32, proposer: &SecretKey) -> SignedProposal {
        let block = placeholder_block(height, vec![vec![round as u8; 10]]);
        SignedProposal {
            height: Height(height),
            round: Round::new(round),
            pol_round: Round::Nil,
            proposer: Address(proposer.public()),
            signature: proposer.sign(&[round as u8]),
            block,
        }
    }

    #[test]
    fn logged_proposals_survive_and_a_later_height_replaces_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("proposals");
        let (own, other) = (SecretKey::generate(), SecretKey::generate());
        let log = ProposalLog::new(path.clone());
        assert!(log.of_height(Height(5)).is_empty());
        let first = proposal(5, 0, &other);
        let second = proposal(5, 1, &own);
        log.record(&first).expect("written");
        log.record(&second).expect("written");
        log.record(&first).expect("written again");

        let reopened = ProposalLog::new(path);
        assert_eq!(
            reopened.of_height(Height(5)),
            vec![first.clone(), second.clone()]
        );
        let own_address = Address(own.public());
        assert_eq!(
            reopened.proposed_by(own_address, Height(5), Round::new(1)),
            Some(second.block)
        );
        assert_eq!(
            reopened.proposed_by(own_address, Height(5), Round::new(0)),
            None
        );

        let next = proposal(6, 0, &own);
        reopened.record(&next).expect("written");
        assert!(reopened.of_height(Height(5)).is_empty());
        assert_eq!(reopened.of_height(Height(6)), vec![next]);
    }

    #[test]
    fn an_unreadable_log_counts_as_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("proposals");
        fs::write(&path, b"not a log").expect("written");
        let log = ProposalLog::new(path);
        assert!(log.of_height(Height(1)).is_empty());
        let own = SecretKey::generate();
        log.record(&proposal(1, 0, &own)).expect("replaced");
        assert_eq!(log.of_height(Height(1)).len(), 1);
    }
}
