//! The ledger database: one redb file holding blocks, transactions, the
//! state and its indexes. A block is committed in one write transaction,
//! with fsync before the commit returns, so after a crash the database holds
//! every committed block whole and nothing of any other.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use kp_crypto::Hash32;
use kp_ledger::block::{validators_hash, AppliedBlock};
use kp_ledger::chain::ChainTip;
use kp_ledger::commitment::ParcelTree;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::Participant;
use kp_ledger::state::StateDelta;
use kp_ledger::stats;
use redb::{Database, ReadableDatabase, ReadableTable, TableHandle, WriteTransaction};

use crate::certificates::CertificateFormat;
use crate::error::{storage, StoreError};
use crate::snapshot::Snapshot;
use crate::tables::{self, decode, encode, StoredTx};

pub struct Store {
    db: Database,
    path: PathBuf,
    /// The parcel commitment's tree at the last committed block.
    parcel_tree: RwLock<Arc<ParcelTree>>,
    /// How the commit certificates kept with blocks read as proofs.
    certificates: Arc<dyn CertificateFormat>,
}

impl Store {
    /// Opens the database at `path`, creating it with `genesis`'s state on
    /// first use; a database made from another genesis is refused. Its
    /// commit certificates read as proofs through `certificates`.
    pub fn open(
        path: &Path,
        genesis: &Genesis,
        certificates: Arc<dyn CertificateFormat>,
    ) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                path: shown.clone(),
            },
            other => StoreError::Open {
                path: shown.clone(),
                reason: other.to_string(),
            },
        })?;
        let store = Store {
            db,
            path: path.to_owned(),
            parcel_tree: RwLock::new(Arc::new(ParcelTree::default())),
            certificates,
        };
        store.init_or_check(genesis)?;
        // From the bucket hashes each block stored with its records, checked
        // against the tip's header: a database whose hashes disagree with
        // what the chain committed to is refused, not served.
        let snapshot = store.snapshot()?;
        let tree = snapshot.parcel_tree_from_buckets()?;
        let tip = snapshot.tip()?;
        if tip.height > 0 {
            let header = snapshot
                .block_summary(tip.height)?
                .ok_or_else(|| StoreError::Corrupt(format!("no block at the tip {}", tip.height)))?
                .header;
            if tree.root() != header.parcels_root {
                return Err(StoreError::Corrupt(format!(
                    "the stored parcel bucket hashes give root {}, the tip's header {}",
                    tree.root(),
                    header.parcels_root
                )));
            }
        }
        drop(snapshot);
        *write(&store.parcel_tree) = Arc::new(tree);
        Ok(store)
    }

    fn init_or_check(&self, genesis: &Genesis) -> Result<(), StoreError> {
        let expected = genesis.hash();
        let txn = self.db.begin_write().map_err(storage)?;
        let (stored, format) = {
            let meta = txn.open_table(tables::META).map_err(storage)?;
            let read = |key: &str| meta.get(key).map_err(storage);
            let stored = read(tables::META_GENESIS_HASH)?
                .map(|g| decode::<Hash32>(tables::META.name(), g.value()))
                .transpose()?;
            let format = read(tables::META_FORMAT)?
                .map(|g| decode::<u32>(tables::META.name(), g.value()))
                .transpose()?;
            (stored, format)
        };
        if stored.is_some() && format != Some(tables::FORMAT_VERSION) {
            return Err(StoreError::Format {
                path: self.path.display().to_string(),
                found: format,
                expected: tables::FORMAT_VERSION,
            });
        }
        match stored {
            Some(stored) if stored == expected => Ok(()),
            Some(stored) => Err(StoreError::GenesisMismatch {
                path: self.path.display().to_string(),
                stored,
                expected,
            }),
            None => {
                // Every table exists from the start, so that reads never
                // meet a missing one.
                txn.open_table(tables::BLOCKS).map_err(storage)?;
                txn.open_table(tables::BLOCK_HEIGHTS).map_err(storage)?;
                txn.open_table(tables::COMMITS).map_err(storage)?;
                txn.open_table(tables::TXS).map_err(storage)?;
                txn.open_table(tables::TX_PLACES).map_err(storage)?;
                txn.open_table(tables::PARCEL_EVENTS).map_err(storage)?;
                txn.open_table(tables::STATS).map_err(storage)?;
                txn.open_table(tables::OPEN_CERTIFICATES).map_err(storage)?;
                txn.open_table(tables::DISCREPANCIES).map_err(storage)?;
                txn.open_table(tables::ISSUED_CERTIFICATES)
                    .map_err(storage)?;
                txn.open_table(tables::FLAGGED_PARCELS).map_err(storage)?;
                txn.open_table(tables::VALIDATOR_SET_CHANGES)
                    .map_err(storage)?;
                txn.open_table(tables::PARCEL_RECEIPTS).map_err(storage)?;
                txn.open_table(tables::PARCEL_BUCKETS).map_err(storage)?;
                write_delta(&txn, &genesis.initial_delta())?;
                let mut meta = txn.open_table(tables::META).map_err(storage)?;
                meta.insert(tables::META_GENESIS_HASH, encode(&expected)?.as_slice())
                    .map_err(storage)?;
                meta.insert(tables::META_TIP, encode(&genesis.tip())?.as_slice())
                    .map_err(storage)?;
                meta.insert(
                    tables::META_FORMAT,
                    encode(&tables::FORMAT_VERSION)?.as_slice(),
                )
                .map_err(storage)?;
                drop(meta);
                txn.commit().map_err(storage)
            }
        }
    }

    /// A consistent read at the last committed block.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        // Under the tree's lock, so that the records read and the tree are
        // of the same block.
        let tree = read(&self.parcel_tree);
        Snapshot::new(
            self.db.begin_read().map_err(storage)?,
            tree.clone(),
            self.certificates.clone(),
        )
    }

    /// Where the chain ends now.
    pub fn tip(&self) -> Result<ChainTip, StoreError> {
        self.snapshot()?.tip()
    }

    /// Writes a block that passed every check, with its transactions, state
    /// writes, indexes and the consensus certificate that decided it (in the
    /// store's [`CertificateFormat`]; empty where no engine decided), in one
    /// durable write transaction. A block that does not build on the stored tip is refused
    /// and nothing is written.
    pub fn commit(
        &self,
        applied: &AppliedBlock,
        certificate: &[u8],
    ) -> Result<ChainTip, StoreError> {
        let header = &applied.block.header;
        if applied.txs.len() != applied.block.txs.len() {
            return Err(StoreError::InconsistentBlock(format!(
                "{} transactions but {} applied",
                applied.block.txs.len(),
                applied.txs.len()
            )));
        }
        if applied.hash != header.hash() {
            return Err(StoreError::InconsistentBlock(
                "its hash is not its header's".into(),
            ));
        }
        // What storage keeps of a change of the validator set is what
        // proofs show a verifier: it must be the set the header vouches for.
        let next_validators_hash = applied
            .next_validators
            .as_deref()
            .map_or(header.validators_hash, validators_hash);
        if next_validators_hash != header.next_validators_hash {
            return Err(StoreError::InconsistentBlock(format!(
                "its next validator set hashes to {next_validators_hash}, its header says {}",
                header.next_validators_hash
            )));
        }
        // Held until the tree matches the committed records (see `snapshot`).
        let mut tree = write(&self.parcel_tree);
        let mut next_tree = ParcelTree::clone(&tree);
        next_tree.set(&applied.parcel_buckets);
        if next_tree.root() != header.parcels_root {
            return Err(StoreError::InconsistentBlock(
                "its parcels root is not what its rehashed buckets give".into(),
            ));
        }
        // Dropping `txn` on any error below aborts it: nothing is written.
        let txn = self.db.begin_write().map_err(storage)?;
        let tip: ChainTip = {
            let meta = txn.open_table(tables::META).map_err(storage)?;
            let tip = meta.get(tables::META_TIP).map_err(storage)?;
            let tip = tip.ok_or_else(|| StoreError::Corrupt("the tip is missing".into()))?;
            decode(tables::META.name(), tip.value())?
        };
        if header.height != tip.height + 1 || header.prev_hash != tip.hash {
            return Err(StoreError::NotOnTip {
                tip_height: tip.height,
                tip_hash: tip.hash,
                height: header.height,
                prev_hash: header.prev_hash,
            });
        }
        let height = header.height;
        txn.open_table(tables::BLOCKS)
            .map_err(storage)?
            .insert(height, encode(header)?.as_slice())
            .map_err(storage)?;
        txn.open_table(tables::BLOCK_HEIGHTS)
            .map_err(storage)?
            .insert(applied.hash.0, height)
            .map_err(storage)?;
        txn.open_table(tables::COMMITS)
            .map_err(storage)?
            .insert(height, certificate)
            .map_err(storage)?;
        {
            let mut buckets = txn.open_table(tables::PARCEL_BUCKETS).map_err(storage)?;
            for (bucket, hash) in &applied.parcel_buckets {
                buckets.insert(*bucket, hash.0).map_err(storage)?;
            }
        }
        if let Some(set) = &applied.next_validators {
            txn.open_table(tables::VALIDATOR_SET_CHANGES)
                .map_err(storage)?
                .insert(height, encode(set)?.as_slice())
                .map_err(storage)?;
        }
        {
            let mut txs = txn.open_table(tables::TXS).map_err(storage)?;
            let mut places = txn.open_table(tables::TX_PLACES).map_err(storage)?;
            let mut events = txn.open_table(tables::PARCEL_EVENTS).map_err(storage)?;
            for (index, (tx, bytes)) in applied.txs.iter().zip(&applied.block.txs).enumerate() {
                let index = u32::try_from(index)
                    .map_err(|_| StoreError::InconsistentBlock("too many transactions".into()))?;
                // Nonces make a transaction unrepeatable; a second copy
                // means the block was not checked.
                if places
                    .insert(tx.id.0, (height, index))
                    .map_err(storage)?
                    .is_some()
                {
                    return Err(StoreError::InconsistentBlock(format!(
                        "transaction {} is already on the ledger",
                        tx.id
                    )));
                }
                let stored = StoredTx {
                    bytes: bytes.clone(),
                    time: header.time,
                    kind: tx.kind.to_owned(),
                    created: tx.created.clone(),
                };
                txs.insert((height, index), encode(&stored)?.as_slice())
                    .map_err(storage)?;
                for parcel in &tx.parcels {
                    events
                        .insert((parcel.0, height, index), ())
                        .map_err(storage)?;
                }
            }
        }
        write_delta(&txn, &applied.delta)?;
        add_stats(&txn, height, header.time, &applied.delta)?;
        index_anomalies(&txn, height, header.time, &applied.delta)?;
        let new_tip = applied.tip();
        txn.open_table(tables::META)
            .map_err(storage)?
            .insert(tables::META_TIP, encode(&new_tip)?.as_slice())
            .map_err(storage)?;
        txn.commit().map_err(storage)?;
        *tree = Arc::new(next_tree);
        Ok(new_tip)
    }
}

/// The tree's lock, whoever panicked holding it: it is swapped whole or
/// changed after a commit in one step, so it is never half-written.
fn read(tree: &RwLock<Arc<ParcelTree>>) -> RwLockReadGuard<'_, Arc<ParcelTree>> {
    tree.read().unwrap_or_else(PoisonError::into_inner)
}

fn write(tree: &RwLock<Arc<ParcelTree>>) -> RwLockWriteGuard<'_, Arc<ParcelTree>> {
    tree.write().unwrap_or_else(PoisonError::into_inner)
}

/// Adds the block's increments to the statistics index, in the block's own
/// write transaction, so the index is never behind or ahead of the ledger.
fn add_stats(
    txn: &WriteTransaction,
    height: u64,
    time: u64,
    delta: &StateDelta,
) -> Result<(), StoreError> {
    let increments = stats::block_increments(height, time, delta)
        .map_err(|e| StoreError::InconsistentBlock(e.to_string()))?;
    let mut table = txn.open_table(tables::STATS).map_err(storage)?;
    for (key, increment) in increments {
        let key = tables::stats_key_bytes(&key);
        let mut total = table
            .get(key)
            .map_err(storage)?
            .map_or_else(stats::Tally::default, |g| tables::tally(g.value()));
        total += increment;
        table
            .insert(key, tables::stats_tally(&total))
            .map_err(storage)?;
    }
    Ok(())
}

/// Keeps the indexes the anomaly checks read (`kp_ledger::anomalies`) in the
/// block's own write transaction: a certificate is open from the block that
/// issues it to the one that receives it; a certificate is listed at the
/// time of the block that issues it, and a receipt that differs at its
/// block's; a matching receipt is listed under each of its parcels at its
/// block's height; a parcel is listed while it carries a flag.
fn index_anomalies(
    txn: &WriteTransaction,
    height: u64,
    time: u64,
    delta: &StateDelta,
) -> Result<(), StoreError> {
    let mut open = txn.open_table(tables::OPEN_CERTIFICATES).map_err(storage)?;
    let mut discrepancies = txn.open_table(tables::DISCREPANCIES).map_err(storage)?;
    let mut issued = txn
        .open_table(tables::ISSUED_CERTIFICATES)
        .map_err(storage)?;
    let mut receipts = txn.open_table(tables::PARCEL_RECEIPTS).map_err(storage)?;
    for cert in delta.certificates.values() {
        if cert.issued_height == height {
            issued
                .insert((time, cert.number.as_str()), ())
                .map_err(storage)?;
        }
        let key = (u64::from(cert.expires_on), cert.number.as_str());
        match cert.receipt.as_ref() {
            None if cert.issued_height == height => {
                open.insert(key, ()).map_err(storage)?;
            }
            Some(receipt) if receipt.height == height => {
                open.remove(key).map_err(storage)?;
                if receipt.matches {
                    for parcel in &cert.parcels {
                        receipts
                            .insert((parcel.0, height, cert.number.as_str()), ())
                            .map_err(storage)?;
                    }
                } else {
                    discrepancies
                        .insert((time, cert.number.as_str()), ())
                        .map_err(storage)?;
                }
            }
            _ => {}
        }
    }
    let mut flagged = txn.open_table(tables::FLAGGED_PARCELS).map_err(storage)?;
    for parcel in delta.parcels.values() {
        if parcel.flag.is_some() {
            flagged.insert(parcel.id.0, ()).map_err(storage)?;
        } else {
            flagged.remove(parcel.id.0).map_err(storage)?;
        }
    }
    Ok(())
}

/// Writes every record of `delta` into its state table, and keeps the
/// authority index pointing at each Participant's current authority key.
fn write_delta(txn: &WriteTransaction, delta: &StateDelta) -> Result<(), StoreError> {
    {
        let mut participants = txn.open_table(tables::PARTICIPANTS).map_err(storage)?;
        let mut authorities = txn.open_table(tables::AUTHORITIES).map_err(storage)?;
        for (code, participant) in &delta.participants {
            let previous = participants
                .insert(code.0, encode(participant)?.as_slice())
                .map_err(storage)?
                .map(|g| decode::<Participant>(tables::PARTICIPANTS.name(), g.value()))
                .transpose()?;
            if let Some(previous) = previous.filter(|p| p.authority != participant.authority) {
                // Only while it still names this Participant: within one
                // delta another Participant may have taken the key over.
                let still_ours = authorities
                    .get(previous.authority.0)
                    .map_err(storage)?
                    .is_some_and(|g| g.value() == code.0);
                if still_ours {
                    authorities.remove(previous.authority.0).map_err(storage)?;
                }
            }
            authorities
                .insert(participant.authority.0, code.0)
                .map_err(storage)?;
        }
    }
    {
        let mut members = txn.open_table(tables::MEMBERS).map_err(storage)?;
        for (key, member) in &delta.members {
            members
                .insert(key.0, encode(member)?.as_slice())
                .map_err(storage)?;
        }
    }
    {
        let mut nonces = txn.open_table(tables::NONCES).map_err(storage)?;
        for (key, nonce) in &delta.nonces {
            nonces.insert(key.0, *nonce).map_err(storage)?;
        }
    }
    {
        let mut parcels = txn.open_table(tables::PARCELS).map_err(storage)?;
        for (id, parcel) in &delta.parcels {
            parcels
                .insert(id.0, encode(parcel)?.as_slice())
                .map_err(storage)?;
        }
    }
    {
        let mut transfers = txn.open_table(tables::TRANSFERS).map_err(storage)?;
        for (id, transfer) in &delta.transfers {
            transfers
                .insert(id.0, encode(transfer)?.as_slice())
                .map_err(storage)?;
        }
    }
    {
        let mut certificates = txn.open_table(tables::CERTIFICATES).map_err(storage)?;
        for (number, certificate) in &delta.certificates {
            certificates
                .insert(number.as_str(), encode(certificate)?.as_slice())
                .map_err(storage)?;
        }
    }
    {
        let mut proposals = txn.open_table(tables::PROPOSALS).map_err(storage)?;
        for (id, proposal) in &delta.proposals {
            proposals
                .insert(id.0, encode(proposal)?.as_slice())
                .map_err(storage)?;
        }
    }
    Ok(())
}
