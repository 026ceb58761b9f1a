//! What happens before the clock starts: the authorities' keys are
//! decrypted, miners are enrolled with each of them and committed, and every
//! load transaction is signed, so that signing costs the load nothing.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use kp_crypto::keystore::read_key_file;
use kp_crypto::{Hash32, PublicKey, SecretKey};
use kp_ledger::model::{HsCode, ParticipantCode, Role, TxId};
use kp_ledger::tx::{tx_id, Body, TxPayload};
use kp_wire::api::{NonceView, TxState, TxStatus};

use crate::cluster::{self, wait_for, Node, Submitted};
use crate::wire::Connection;

/// One Participant's authority, which enrols miners.
pub struct Authority {
    node: usize,
    code: ParticipantCode,
    key: SecretKey,
    /// The last nonce used, on the ledger or waiting.
    last_nonce: u64,
}

/// An enrolled miner: it registers parcels of its own Participant's origin.
pub struct Miner {
    key: SecretKey,
    origin: ParticipantCode,
}

/// A signed transaction, ready to POST as it is.
pub struct Prepared {
    pub id: TxId,
    /// `{"tx": "<hex of borsh bytes>"}`.
    pub json_body: String,
}

/// Decrypts each node's authority key and asks its node for the key's last
/// nonce, so that a testnet used before still works.
pub fn read_authorities(nodes: &[Node], passphrase: &str) -> Result<Vec<Authority>> {
    nodes
        .iter()
        .map(|node| {
            let path = node.authority_key_path();
            let key = read_key_file(&path, passphrase).with_context(|| {
                format!(
                    "cannot decrypt {} (wrong passphrase? set KP_PASSPHRASE)",
                    path.display()
                )
            })?;
            let nonces: NonceView = node.client.nonces(&key.public())?;
            Ok(Authority {
                node: node.index,
                code: node.code,
                key,
                last_nonce: nonces.pending_last,
            })
        })
        .collect()
}

fn sign(key: &SecretKey, nonce: u64, genesis: &Hash32, body: Body) -> Prepared {
    let bytes = TxPayload {
        signer: key.public(),
        nonce,
        genesis: *genesis,
        body,
    }
    .sign(key)
    .to_bytes();
    Prepared {
        id: tx_id(&bytes),
        json_body: format!(r#"{{"tx":"{}"}}"#, hex::encode(&bytes)),
    }
}

/// How many miners to enrol, and how.
#[derive(Clone, Copy)]
pub struct EnrolPlan {
    pub per_authority: usize,
    /// Enrolments each authority submits before waiting for them to commit.
    pub batch: usize,
    /// Longest wait for one batch to commit.
    pub commit_limit: Duration,
}

/// Enrols `plan.per_authority` new miners with every authority, each
/// authority through its own node (so that its nonces arrive in order),
/// `plan.batch` at a time, and waits for every batch to be committed.
pub fn enrol_miners(
    nodes: &[Node],
    authorities: &mut [Authority],
    genesis: &Hash32,
    plan: &EnrolPlan,
    progress: &ProgressBar,
) -> Result<Vec<Miner>> {
    let EnrolPlan {
        per_authority,
        batch,
        commit_limit,
    } = *plan;
    let mut miners = Vec::with_capacity(per_authority * authorities.len());
    let mut connections: Vec<Connection> = nodes
        .iter()
        .map(|node| Connection::new(node.api_addr, cluster::REQUEST_TIMEOUT))
        .collect();
    let mut enrolled = 0;
    while enrolled < per_authority {
        let count = batch.min(per_authority - enrolled);
        let mut last_ids = Vec::new();
        for authority in authorities.iter_mut() {
            let node = &nodes[authority.node];
            let mut last_id = None;
            for i in enrolled..enrolled + count {
                let miner = SecretKey::generate();
                authority.last_nonce += 1;
                let body = Body::EnrolMember {
                    member: miner.public(),
                    role: Role::Miner,
                    name: format!("Bench mine {} {i}", authority.code),
                    licence: format!("{}-BENCH-{i:05}", authority.code),
                    zone: None,
                };
                let tx = sign(&authority.key, authority.last_nonce, genesis, body);
                match cluster::submit(&mut connections[authority.node], &tx.json_body)? {
                    Submitted::Accepted => {}
                    Submitted::Refused { status, code } => bail!(
                        "node{} refused an enrolment by {}: {status} {code}",
                        node.index,
                        authority.code
                    ),
                }
                last_id = Some(tx.id);
                miners.push(Miner {
                    key: miner,
                    origin: authority.code,
                });
                progress.inc(1);
            }
            if let Some(id) = last_id {
                last_ids.push((node, id));
            }
        }
        // An authority's enrolments commit in nonce order: its last one
        // committed means the whole batch is.
        for (node, id) in last_ids {
            wait_committed(node, &id, commit_limit)?;
        }
        enrolled += count;
    }
    Ok(miners)
}

fn wait_committed(node: &Node, id: &TxId, limit: Duration) -> Result<()> {
    wait_for(
        &format!("enrolment {id} to commit on node{}", node.index),
        limit,
        Duration::from_millis(100),
        || {
            let status: TxStatus = node.client.tx(id)?;
            match status.state {
                TxState::Committed => Ok(Some(())),
                TxState::Pending => Ok(None),
                TxState::Rejected => bail!(
                    "enrolment {id} was rejected: {}",
                    status.error.map_or_else(String::new, |e| e.message)
                ),
            }
        },
    )
}

/// The load: a parcel registered at the miner's own Participant's mine.
fn registration(miner: &Miner, nonce: u64) -> Body {
    let milli_carats = 1_000 + nonce % 997;
    Body::RegisterParcel {
        origin: miner.origin,
        zone: None,
        mine: format!("Bench mine {}", miner.origin),
        milli_carats,
        stones: 10,
        value_cents: milli_carats * 14,
        hs_code: HsCode::UNSORTED,
    }
}

/// Signs `per_miner` registrations for every miner, nonces 1, 2, ...; one
/// queue a miner, in the miners' order. Spread over every core: it is the
/// slow part of the setup.
pub fn presign(
    miners: &[Miner],
    per_miner: usize,
    genesis: &Hash32,
    progress: &ProgressBar,
) -> Vec<VecDeque<Prepared>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = miners.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = miners
            .chunks(chunk)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|miner| {
                            let queue = (1..=per_miner as u64)
                                .map(|nonce| {
                                    sign(&miner.key, nonce, genesis, registration(miner, nonce))
                                })
                                .collect::<VecDeque<_>>();
                            progress.inc(per_miner as u64);
                            queue
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            // A panic while signing is a bug here; pass it on.
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
            .collect()
    })
}

/// Messages and signatures of the load's kind, for timing verification:
/// one registration by each of the first `count` miners (nonces beyond any
/// the load uses, so nothing here is ever submitted).
pub fn signed_samples(
    miners: &[Miner],
    count: usize,
    genesis: &Hash32,
) -> Vec<(PublicKey, Vec<u8>, kp_crypto::Signature)> {
    miners
        .iter()
        .cycle()
        .take(count)
        .enumerate()
        .map(|(i, miner)| {
            let payload = TxPayload {
                signer: miner.key.public(),
                nonce: u64::MAX - i as u64,
                genesis: *genesis,
                body: registration(miner, i as u64),
            };
            let message = payload.signing_message();
            let signature = miner.key.sign(&message);
            (miner.key.public(), message, signature)
        })
        .collect()
}
