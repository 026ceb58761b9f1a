//! The blocks this validator proposed at the current height, kept on disk
//! until the height is decided: a validator restarted mid-height proposes
//! the same block again for a round it already proposed in, never a second,
//! different one (which would be equivocation).

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use kp_ledger::block::Block;
use malachitebft_core_types::Round;

use super::context::Height;

pub struct OwnProposals {
    path: PathBuf,
}

type Entries = Vec<(Height, Round, Block)>;

impl OwnProposals {
    pub fn new(path: PathBuf) -> Self {
        OwnProposals { path }
    }

    /// The block proposed for (`height`, `round`) before a restart, if any.
    /// An unreadable file counts as none: it is written whole or not at all.
    pub fn get(&self, height: Height, round: Round) -> Option<Block> {
        self.entries()
            .into_iter()
            .find(|(h, r, _)| (*h, *r) == (height, round))
            .map(|(_, _, block)| block)
    }

    /// Records a proposal durably before it is published; entries of
    /// earlier heights are dropped.
    pub fn record(&self, height: Height, round: Round, block: &Block) -> io::Result<()> {
        let mut entries = self.entries();
        entries.retain(|(h, _, _)| *h == height);
        entries.push((height, round, block.clone()));
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

    fn entries(&self) -> Entries {
        fs::read(&self.path)
            .ok()
            .and_then(|bytes| borsh::from_slice(&bytes).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_ledger::testkit::placeholder_block;

    fn block(height: u64) -> Block {
        placeholder_block(height, vec![vec![height as u8; 10]])
    }

    #[test]
    fn a_recorded_proposal_survives_and_later_heights_replace_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let own = OwnProposals::new(dir.path().join("own-proposals"));
        assert!(own.get(Height(5), Round::new(0)).is_none());
        own.record(Height(5), Round::new(0), &block(5))
            .expect("written");
        own.record(Height(5), Round::new(2), &block(55))
            .expect("written");
        let reopened = OwnProposals::new(dir.path().join("own-proposals"));
        assert_eq!(reopened.get(Height(5), Round::new(2)), Some(block(55)));
        assert_eq!(reopened.get(Height(5), Round::new(0)), Some(block(5)));
        reopened
            .record(Height(6), Round::new(0), &block(6))
            .expect("written");
        assert!(reopened.get(Height(5), Round::new(0)).is_none());
        assert_eq!(reopened.get(Height(6), Round::new(0)), Some(block(6)));
    }
}
