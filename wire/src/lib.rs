//! What the node's HTTP API and the files people pass around look like as
//! JSON: the views `kpnode` serves and `kp`, the tests and the tools read,
//! the `{code, message}` error body, statistics and anomaly queries with
//! the views made from their answers, and the provenance bundle file. No
//! storage and no rules: the ledger decides, the store reads, this crate
//! only shapes.
//!
//! - [`api`]: the routes' views and the error body.
//! - [`stats`]: statistics periods and the Annex III views.
//! - [`anomalies`]: anomaly queries and their view.
//! - [`bundle_file`]: the provenance bundle file.

pub mod anomalies;
pub mod api;
pub mod bundle_file;
pub mod stats;
