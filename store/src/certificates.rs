//! The commit certificates kept with blocks. The store keeps each as the
//! bytes it was given at commit: a node gives its consensus engine's own
//! encoding, which it serves back to peers that sync and which the store
//! format has always held. A proof for an offline verifier is the
//! ledger's [`CommitProof`]; whoever opens the store says how its
//! certificates read as one, so that no query needs telling.

use kp_ledger::finality::CommitProof;

/// How a certificate kept with a block reads as the ledger's proof that
/// the block was decided. A node implements it for its engine's encoding.
pub trait CertificateFormat: Send + Sync {
    /// The proof `stored` holds, or why it holds none.
    fn commit_proof(&self, stored: &[u8]) -> Result<CommitProof, String>;
}

/// Certificates kept as the canonical bytes of a [`CommitProof`] itself:
/// those of a chain no engine decides (the certified test chain, tools
/// that fill a ledger).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProofCertificates;

impl CertificateFormat for ProofCertificates {
    fn commit_proof(&self, stored: &[u8]) -> Result<CommitProof, String> {
        borsh::from_slice(stored).map_err(|e| e.to_string())
    }
}
