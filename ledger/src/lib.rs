//! The Kimberley Process ledger: the scheme's rules as a pure, deterministic
//! state machine over blocks, and what an offline verifier checks. No
//! storage, no clock, no network, no HTTP: it builds for WebAssembly. The
//! database and its queries are `kp-store`'s, the API's views `kp-wire`'s.
//!
//! - [`model`]: Participants, members, parcels, transfers, certificates.
//! - [`tx`]: signed transactions and their bodies.
//! - [`rules`]: what each body may do, as `docs/domain.md` says.
//! - [`chain`]: which chain, and where it ends.
//! - [`block`]: building and applying blocks.
//! - [`state`]: the view the rules read and the writes they make;
//!   [`mem_state`]: all of it in memory, for tests.
//! - [`canonical`]: the bytes of what is hashed or signed.
//! - [`commitment`]: the Merkle commitment to the parcels in each header.
//! - [`genesis`]: the genesis file.
//! - [`votes`]: what validators sign when they vote.
//! - [`finality`]: a block's commit certificate, checked offline.
//! - [`trace`]: a parcel's provenance, as history tells it.
//! - [`bundle`]: provenance bundles, checked offline.
//! - [`summary`]: one line saying what a transaction did.
//! - [`stats`]: the Annex III statistics, as increments per block.
//! - [`anomalies`]: the checks that real frauds call for.
//! - [`units`], [`rejection`]: carats, money and days; why a transaction
//!   is refused.

pub mod anomalies;
pub mod block;
pub mod bundle;
pub mod canonical;
pub mod chain;
pub mod commitment;
pub mod finality;
pub mod genesis;
pub mod mem_state;
pub mod model;
pub mod rejection;
pub mod rules;
pub mod state;
pub mod stats;
pub mod summary;
pub mod trace;
pub mod tx;
pub mod units;
pub mod votes;

// Test support, never in a node: a set-up that fails should stop the test
// or benchmark loudly, so the workspace's ban on panics is lifted here.
#[cfg(any(test, feature = "testkit"))]
#[allow(clippy::panic, clippy::unwrap_used)]
pub mod testkit;

pub use rejection::Rejection;
