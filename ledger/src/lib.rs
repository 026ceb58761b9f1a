//! The Kimberley Process ledger: the scheme's rules as a pure, deterministic
//! state machine over blocks, and the storage and queries around it.
//!
//! - [`model`]: Participants, members, parcels, transfers, certificates.
//! - [`tx`]: signed transactions and their bodies.
//! - [`rules`]: what each body may do, as `kpcs-domain.md` says.
//! - [`block`]: building and applying blocks.
//! - [`state`]: the view the rules read and the writes they make.
//! - [`store`]: the redb database that holds blocks, state and indexes.
//! - [`stats`]: the Annex III statistics, kept up to date per block.

pub mod api;
pub mod block;
pub mod genesis;
pub mod model;
pub mod rejection;
pub mod rules;
pub mod state;
pub mod stats;
pub mod store;
pub mod tx;
pub mod units;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use rejection::Rejection;
