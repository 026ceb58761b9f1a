//! Transactions and the chain: what a write reports, `kp tx show` and
//! `kp status`.

use std::fmt::Write as _;

use kp_ledger::summary::short_id;
use kp_wire::api::{StatusView, TxStatus};

use crate::view::units::date_time;

/// `committed at height 12 (tx 1a2b3c4d5e6f)`
pub fn committed_line(status: &TxStatus) -> String {
    match status.height {
        Some(h) => format!("committed at height {h} (tx {})", short_id(&status.id)),
        None => format!("committed (tx {})", short_id(&status.id)),
    }
}

pub fn tx_status(s: &TxStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "transaction {}", s.id);
    let state = match (&s.state, s.height, &s.error) {
        (kp_wire::api::TxState::Committed, Some(h), _) => {
            format!("committed at height {h}, index {}", s.index.unwrap_or(0))
        }
        (kp_wire::api::TxState::Committed, None, _) => "committed".to_owned(),
        (kp_wire::api::TxState::Rejected, _, Some(e)) => {
            format!("rejected: {} ({})", e.message, e.code)
        }
        (kp_wire::api::TxState::Rejected, _, None) => "rejected".to_owned(),
        (kp_wire::api::TxState::Pending, _, _) => "pending: waiting for a block".to_owned(),
    };
    let _ = writeln!(out, "  state    {state}");
    for id in &s.created {
        let _ = writeln!(out, "  created  {id}");
    }
    out
}

pub fn status(s: &StatusView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "chain         {}", s.chain_id);
    let _ = writeln!(out, "height        {}", s.height);
    if let Some(network) = s.network_height.filter(|n| *n > s.height) {
        let _ = writeln!(
            out,
            "catching up   {} blocks behind the network's {network}",
            network - s.height
        );
    }
    if s.read_only {
        let _ = writeln!(
            out,
            "observer      read-only: this node's key belongs to no Participant; submit \
             transactions through a Participant's node"
        );
    }
    let _ = writeln!(out, "last block    {}", s.last_block_hash);
    let _ = writeln!(out, "block time    {}", date_time(s.time));
    let _ = writeln!(out, "state hash    {}", s.state_hash);
    let _ = writeln!(out, "genesis       {}", s.genesis_hash);
    let _ = writeln!(out, "validators    {}", s.validators.len());
    for v in &s.validators {
        let _ = writeln!(out, "  {}  {}", v.participant, v.key);
    }
    let _ = writeln!(out, "peers         {}", s.peers);
    let _ = writeln!(out, "pending txs   {}", s.pending_txs);
    out
}
