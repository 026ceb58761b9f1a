//! Human views of the ledger's records: plain text, carats with three
//! decimals, US$ with two, dates as `YYYY-MM-DD`, ids as lowercase hex.
//! Each function returns a string, so that views are tested without a node.
//! One file per subject; the commands take the views from here.

mod certificates;
mod chain;
mod parcels;
mod participants;
mod units;

pub use certificates::{certificate, CertificateContext};
pub use chain::{committed_line, status, tx_status};
pub use parcels::{parcel_view, trace};
pub use participants::{participants, proposal, proposal_state, proposals, tally};
pub use units::date_time;

// Worded in the ledger, which the node's event stream shares with these views.
pub use kp_ledger::summary::short_id;
