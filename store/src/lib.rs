//! The ledger's storage: one redb database of blocks, transactions, the
//! state and its indexes ([`Store`]), read through consistent snapshots
//! ([`Snapshot`]) that are both the state the rules build and check blocks
//! against and the queries the API answers: traces, provenance bundles,
//! statistics, anomalies, the event stream and proposals. The rules are the
//! ledger's; the views are the wire's.
//!
//! Files: `database` (opening, and committing a block), `snapshot` (the
//! reads), `tables` (what is stored, and how), `certificates` (commit
//! certificates as proofs), then one file per query.

mod anomalies;
mod bundle;
mod certificates;
mod database;
mod error;
pub mod events;
mod proposals;
mod snapshot;
mod stats;
mod tables;
mod trace;

// Test support, never in a node: a set-up that fails should stop the test
// or benchmark loudly, so the workspace's ban on panics is lifted here.
#[cfg(any(test, feature = "testkit"))]
#[allow(clippy::panic, clippy::unwrap_used)]
pub mod testkit;

#[cfg(test)]
mod tests;

pub use certificates::{CertificateFormat, ProofCertificates};
pub use database::Store;
pub use error::{StoreError, ID_PREFIX_CHARS_MIN};
pub use snapshot::Snapshot;
pub use tables::{BlockSummary, TxRecord};
