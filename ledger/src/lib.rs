//! The Kimberley Process ledger: the scheme's rules as a pure, deterministic
//! state machine over blocks, and the storage and queries around it.
//!
//! - [`model`]: Participants, members, parcels, transfers, certificates.
//! - [`tx`]: signed transactions and their bodies.
//! - [`rules`]: what each body may do, as `kpcs-domain.md` says.
//! - [`chain`]: which chain, and where it ends.
//! - [`block`]: building and applying blocks.
//! - [`state`]: the view the rules read and the writes they make;
//!   [`mem_state`]: all of it in memory, for tests.
//! - [`canonical`]: the bytes of what is hashed or signed.
//! - [`commitment`]: the Merkle commitment to the parcels in each header.
//! - [`store`]: the redb database that holds blocks, state and indexes.
//! - [`votes`]: what validators sign when they vote.
//! - [`finality`]: a block's commit certificate, checked offline.
//! - [`bundle`]: provenance bundles, built by a node and checked offline.
//! - [`feed`]: committed events as the node's event stream carries them.
//! - [`summary`]: one line saying what a transaction did.
//! - [`stats`]: the Annex III statistics, kept up to date per block.
//! - [`anomalies`]: the checks that real frauds call for.

pub mod anomalies;
pub mod api;
pub mod block;
pub mod bundle;
pub mod canonical;
pub mod chain;
pub mod commitment;
pub mod feed;
pub mod finality;
pub mod genesis;
pub mod mem_state;
pub mod model;
pub mod rejection;
pub mod rules;
pub mod state;
pub mod stats;
pub mod store;
pub mod summary;
pub mod tx;
pub mod units;
pub mod votes;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use rejection::Rejection;
