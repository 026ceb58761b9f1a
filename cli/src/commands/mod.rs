//! One module per group of commands. Every write goes through
//! [`Ctx::write`]: sign locally, submit, wait for the block.

pub mod anomalies;
pub mod audit;
pub mod cert;
pub mod chain;
pub mod key;
pub mod member;
pub mod parcel;
pub mod participant;
pub mod provenance;
pub mod stats;
pub mod transfer;
pub mod watch;

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use kp_crypto::Hash32;
use kp_ledger::model::{ParcelId, ProposalId, TransferId};
use kp_ledger::tx::{tx_id, Body, Transaction};
use kp_wire::api::{ApiError, TxState, TxStatus};

use crate::failure::Rejected;
use crate::parse::IdArg;
use crate::view;
use crate::wallet;
use kp_wire::client::Client;

/// What every command may use: the node, the output mode, the patience.
pub struct Ctx {
    pub client: Client,
    pub json: bool,
    /// How long a write waits for its block.
    pub wait: Duration,
}

impl Ctx {
    /// Signs `body` with the key in `key_file`, submits it, and waits until
    /// it is committed. A rejection (at submission or later) is an error
    /// carrying the rule's code; so is still being pending at the deadline.
    pub fn write(&self, key_file: &Path, body: Body) -> Result<TxStatus> {
        let key = wallet::load_key(key_file)?;
        let signer = key.public();
        let nonces = self.client.nonces(&signer)?;
        let status = self.client.status()?;
        let nonce = nonces
            .last
            .max(nonces.pending_last)
            .checked_add(1)
            .ok_or_else(|| anyhow!("signer {signer} has no nonces left"))?;
        let tx = Transaction::signed(&key, nonce, status.genesis_hash, body);
        let bytes = tx.to_bytes();
        let id = tx_id(&bytes);
        let submitted = self.client.submit(&bytes)?;
        if submitted.id != id {
            bail!(
                "the node at {} names the transaction {} but its id is {id}",
                self.client.base(),
                submitted.id
            );
        }
        // A word while the block is being made, on a terminal only, wiped
        // once the answer is in (stdout and pipes never see it). Written
        // here rather than with a progress crate: one line and one escape to
        // erase it, with no bar, rate or redraw to manage.
        let progress = !self.json && std::io::stderr().is_terminal();
        if progress {
            eprint!(
                "submitted transaction {}; waiting for a block…",
                view::short_id(&id)
            );
        }
        let done = self.client.wait(submitted, self.wait);
        if progress {
            eprint!("\r\x1b[K");
        }
        let done = done?;
        match done.state {
            TxState::Committed => Ok(done),
            TxState::Rejected => Err(Rejected(done.error.unwrap_or_else(|| ApiError {
                code: "rejected".into(),
                message: format!("transaction {id} was rejected; the node gave no reason"),
            }))
            .into()),
            TxState::Pending => bail!(
                "transaction {id} is still pending after {} s; it may yet be committed: \
                 check with `kp tx show {id}` before trying again",
                self.wait.as_secs()
            ),
        }
    }

    /// The whole id of a parcel given by id or unique prefix.
    pub fn parcel_id(&self, id: &IdArg) -> Result<ParcelId> {
        resolve(id, "parcel", |prefix| {
            Ok(self.client.parcel(prefix)?.parcel.id)
        })
    }

    pub fn transfer_id(&self, id: &IdArg) -> Result<TransferId> {
        resolve(id, "transfer", |prefix| {
            Ok(self.client.transfer(prefix)?.id)
        })
    }

    pub fn proposal_id(&self, id: &IdArg) -> Result<ProposalId> {
        resolve(id, "proposal", |prefix| {
            Ok(self.client.proposal(prefix)?.id)
        })
    }
}

/// A whole id as given, or the one the node finds for a prefix.
fn resolve(id: &IdArg, what: &str, look_up: impl FnOnce(&str) -> Result<Hash32>) -> Result<Hash32> {
    match id {
        IdArg::Full(full) => Ok(*full),
        IdArg::Prefix(prefix) => {
            look_up(prefix).with_context(|| format!("looking up {what} {prefix}"))
        }
    }
}

/// The ids a committed write created, as hex, or an error if it created
/// none (a script capturing them would otherwise get an empty string).
pub fn created_ids(status: &TxStatus, what: &str) -> Result<Vec<String>> {
    if status.created.is_empty() {
        bail!(
            "transaction {} was committed at height {}, but the node reported no {what}",
            status.id,
            status.height.unwrap_or(0)
        );
    }
    Ok(status.created.iter().map(ToString::to_string).collect())
}
