//! What the node's HTTP API and the files people pass around look like as
//! JSON: the views `kpnode` serves and `kp`, the tests and the tools read,
//! the `{code, message}` error body, statistics and anomaly queries with
//! the views made from their answers, and the provenance bundle file; and
//! how a client reads them off a node: the event stream's server-sent
//! events and, with the `client` feature, the blocking HTTP client that
//! `kp`, the tests and the benchmark share. No storage and no rules: the
//! ledger decides, the store reads, this crate shapes and carries.
//!
//! - [`api`]: the routes' views and the error body.
//! - [`stats`]: statistics periods and the Annex III views.
//! - [`anomalies`]: anomaly queries and their view.
//! - [`bundle_file`]: the provenance bundle file.
//! - [`sse`]: the event stream's server-sent events, read line by line.
//! - [`client`] (feature `client`): the API as typed, blocking calls.

pub mod anomalies;
pub mod api;
pub mod bundle_file;
#[cfg(feature = "client")]
pub mod client;
pub mod sse;
pub mod stats;
