//! A consistent read of the database at one committed block: the state the
//! rules read ([`StateRead`]), the blocks and transactions, and the index
//! reads the queries (trace, bundle, statistics, anomalies, the event stream,
//! proposals: each a file of its own) are made of. Every read of one
//! snapshot sees the same block, however many blocks commit meanwhile.

use std::sync::Arc;

use borsh::BorshDeserialize;
use kp_crypto::{Hash32, PublicKey};
use kp_ledger::block::{Block, BlockHeader};
use kp_ledger::chain::ChainTip;
use kp_ledger::commitment::{bucket_ids, ParcelCommitment, ParcelTree};
use kp_ledger::finality::CommitProof;
use kp_ledger::model::{
    Certificate, Member, Parcel, ParcelId, Participant, ParticipantCode, Proposal, ProposalId,
    ProposalStatus, Transfer, TransferId, TxId, ValidatorSet,
};
use kp_ledger::state::{Read, StateRead, StorageFault};
use kp_ledger::stats::{StatsKey, Tally};
use kp_ledger::tx::tx_id;
use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition, TableHandle};

use crate::certificates::CertificateFormat;
use crate::error::{storage, StoreError, ID_PREFIX_CHARS_MIN};
use crate::tables::{self, decode, BlockSummary, Id32, StoredTx, TxRecord};

/// Where a transaction sits in the chain: (height, index in its block).
pub(crate) type ChainPlace = (u64, u32);

/// Parcels with the places of their own events.
pub(crate) type Lineage = Vec<(Parcel, Vec<ChainPlace>)>;

pub struct Snapshot {
    txn: ReadTransaction,
    /// The parcel commitment's tree at the same block as `txn`.
    parcel_tree: Arc<ParcelTree>,
    /// The tables every rule and every trace reads, opened once: opening a
    /// table is a lookup of its own, too dear to repeat for every record.
    open: OpenTables,
    /// How the commit certificates kept with blocks read as proofs.
    certificates: Arc<dyn CertificateFormat>,
}

struct OpenTables {
    participants: ReadOnlyTable<[u8; 2], &'static [u8]>,
    authorities: ReadOnlyTable<Id32, [u8; 2]>,
    members: ReadOnlyTable<Id32, &'static [u8]>,
    nonces: ReadOnlyTable<Id32, u64>,
    parcels: ReadOnlyTable<Id32, &'static [u8]>,
    transfers: ReadOnlyTable<Id32, &'static [u8]>,
    certificates: ReadOnlyTable<&'static str, &'static [u8]>,
    proposals: ReadOnlyTable<Id32, &'static [u8]>,
    txs: ReadOnlyTable<(u64, u32), &'static [u8]>,
    tx_places: ReadOnlyTable<Id32, (u64, u32)>,
    parcel_events: ReadOnlyTable<(Id32, u64, u32), ()>,
}

/// A borsh record by key from an open table of borsh values.
fn get<'k, K: redb::Key + 'static, T: BorshDeserialize>(
    table: &ReadOnlyTable<K, &'static [u8]>,
    name: &str,
    key: impl std::borrow::Borrow<K::SelfType<'k>>,
) -> Result<Option<T>, StoreError> {
    let guard = table.get(key).map_err(storage)?;
    guard.map(|g| decode(name, g.value())).transpose()
}

/// Every borsh record of an open table, in key order.
fn all_records<K: redb::Key + 'static, T: BorshDeserialize>(
    table: &ReadOnlyTable<K, &'static [u8]>,
    name: &str,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for entry in table.iter().map_err(storage)? {
        let (_, value) = entry.map_err(storage)?;
        out.push(decode(name, value.value())?);
    }
    Ok(out)
}

impl Snapshot {
    pub(crate) fn new(
        txn: ReadTransaction,
        parcel_tree: Arc<ParcelTree>,
        certificates: Arc<dyn CertificateFormat>,
    ) -> Result<Self, StoreError> {
        let open = |e: redb::TableError| storage(e);
        let open = OpenTables {
            participants: txn.open_table(tables::PARTICIPANTS).map_err(open)?,
            authorities: txn.open_table(tables::AUTHORITIES).map_err(open)?,
            members: txn.open_table(tables::MEMBERS).map_err(open)?,
            nonces: txn.open_table(tables::NONCES).map_err(open)?,
            parcels: txn.open_table(tables::PARCELS).map_err(open)?,
            transfers: txn.open_table(tables::TRANSFERS).map_err(open)?,
            certificates: txn.open_table(tables::CERTIFICATES).map_err(open)?,
            proposals: txn.open_table(tables::PROPOSALS).map_err(open)?,
            txs: txn.open_table(tables::TXS).map_err(open)?,
            tx_places: txn.open_table(tables::TX_PLACES).map_err(open)?,
            parcel_events: txn.open_table(tables::PARCEL_EVENTS).map_err(open)?,
        };
        Ok(Snapshot {
            txn,
            parcel_tree,
            open,
            certificates,
        })
    }

    /// The parcel commitment's tree from the stored bucket hashes.
    pub(crate) fn parcel_tree_from_buckets(&self) -> Result<ParcelTree, StoreError> {
        let mut buckets = Vec::new();
        for entry in self
            .table(tables::PARCEL_BUCKETS)?
            .iter()
            .map_err(storage)?
        {
            let (bucket, hash) = entry.map_err(storage)?;
            buckets.push((bucket.value(), Hash32(hash.value())));
        }
        let mut tree = ParcelTree::default();
        tree.set(&buckets);
        Ok(tree)
    }

    pub(crate) fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        definition: TableDefinition<K, V>,
    ) -> Result<ReadOnlyTable<K, V>, StoreError> {
        self.txn.open_table(definition).map_err(storage)
    }

    /// A borsh record by key from a table of borsh values.
    pub(crate) fn record<'k, K, T>(
        &self,
        definition: TableDefinition<K, &[u8]>,
        key: impl std::borrow::Borrow<K::SelfType<'k>>,
    ) -> Result<Option<T>, StoreError>
    where
        K: redb::Key + 'static,
        T: BorshDeserialize,
    {
        let table = self.table(definition)?;
        let guard = table.get(key).map_err(storage)?;
        guard
            .map(|g| decode(definition.name(), g.value()))
            .transpose()
    }

    /// The block the snapshot sees last.
    pub fn tip(&self) -> Result<ChainTip, StoreError> {
        self.meta(tables::META_TIP)?
            .ok_or_else(|| StoreError::Corrupt("the tip is missing".into()))
    }

    /// The hash of the genesis this database was created from.
    pub fn genesis_hash(&self) -> Result<Hash32, StoreError> {
        self.meta(tables::META_GENESIS_HASH)?
            .ok_or_else(|| StoreError::Corrupt("the genesis hash is missing".into()))
    }

    fn meta<T: BorshDeserialize>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.record(tables::META, key)
    }

    /// A block's header and its transactions' ids.
    pub fn block_summary(&self, height: u64) -> Result<Option<BlockSummary>, StoreError> {
        let Some(header) = self.record::<u64, BlockHeader>(tables::BLOCKS, height)? else {
            return Ok(None);
        };
        let txs = self
            .block_txs(height)?
            .iter()
            .map(|t| tx_id(&t.bytes))
            .collect();
        Ok(Some(BlockSummary { header, txs }))
    }

    /// The consensus certificate stored with the block at `height`, as the
    /// node encoded it (empty for a block no engine decided).
    pub fn commit_certificate(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let table = self.table(tables::COMMITS)?;
        let guard = table.get(height).map_err(storage)?;
        Ok(guard.map(|g| g.value().to_vec()))
    }

    /// The commit certificate stored with the block at `height`, as the
    /// ledger's proof that the block was decided.
    pub fn commit_proof(&self, height: u64) -> Result<Option<CommitProof>, StoreError> {
        let Some(certificate) = self.commit_certificate(height)? else {
            return Ok(None);
        };
        self.certificates
            .commit_proof(&certificate)
            .map(Some)
            .map_err(|e| {
                StoreError::Corrupt(format!(
                    "the commit certificate at height {height} does not decode: {e}"
                ))
            })
    }

    /// The whole block, as it was decided.
    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let Some(header) = self.record::<u64, BlockHeader>(tables::BLOCKS, height)? else {
            return Ok(None);
        };
        let txs = self
            .block_txs(height)?
            .into_iter()
            .map(|t| t.bytes)
            .collect();
        Ok(Some(Block { header, txs }))
    }

    /// A block's transactions, in block order: neighbours in one range.
    pub(crate) fn block_txs(&self, height: u64) -> Result<Vec<StoredTx>, StoreError> {
        let range = self
            .open
            .txs
            .range((height, 0u32)..=(height, u32::MAX))
            .map_err(storage)?;
        let mut out = Vec::new();
        for entry in range {
            let (_, value) = entry.map_err(storage)?;
            out.push(decode(tables::TXS.name(), value.value())?);
        }
        Ok(out)
    }

    /// The height of the block with this hash.
    pub fn block_height(&self, hash: &Hash32) -> Result<Option<u64>, StoreError> {
        let table = self.table(tables::BLOCK_HEIGHTS)?;
        let height = table.get(hash.0).map_err(storage)?.map(|g| g.value());
        Ok(height)
    }

    pub fn tx(&self, id: &TxId) -> Result<Option<TxRecord>, StoreError> {
        let Some(place) = self.open.tx_places.get(id.0).map_err(storage)? else {
            return Ok(None);
        };
        self.tx_at(place.value()).map(Some)
    }

    /// The transaction at a place that an index names: it must be there.
    pub(crate) fn tx_at(&self, (height, index): ChainPlace) -> Result<TxRecord, StoreError> {
        let stored: StoredTx = get(&self.open.txs, tables::TXS.name(), (height, index))?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("no transaction at height {height}, index {index}"))
            })?;
        Ok(TxRecord {
            bytes: stored.bytes,
            height,
            index,
            time: stored.time,
            kind: stored.kind,
            created: stored.created,
        })
    }

    /// Parcel `id`'s record, read with the store's own error.
    pub(crate) fn parcel_record(&self, id: &ParcelId) -> Result<Option<Parcel>, StoreError> {
        get(&self.open.parcels, tables::PARCELS.name(), id.0)
    }

    /// The statistics index's entries in `range`, in key order.
    pub(crate) fn stats_entries(
        &self,
        range: std::ops::RangeInclusive<tables::StatsKeyBytes>,
    ) -> Result<Vec<(StatsKey, Tally)>, StoreError> {
        let table = self.table(tables::STATS)?;
        let mut out = Vec::new();
        for entry in table.range(range).map_err(storage)? {
            let (key, value) = entry.map_err(storage)?;
            out.push((
                tables::stats_key(key.value())?,
                tables::tally(value.value()),
            ));
        }
        Ok(out)
    }

    /// The one parcel whose id starts with `prefix` (at least 8 hex characters).
    pub fn parcel_by_prefix(&self, prefix: &str) -> Result<Parcel, StoreError> {
        self.unique_by_prefix(tables::PARCELS, "parcel", prefix)
    }

    /// The one transfer whose id starts with `prefix` (at least 8 hex characters).
    pub fn transfer_by_prefix(&self, prefix: &str) -> Result<Transfer, StoreError> {
        self.unique_by_prefix(tables::TRANSFERS, "transfer", prefix)
    }

    /// The one proposal whose id starts with `prefix` (at least 8 hex characters).
    pub fn proposal_by_prefix(&self, prefix: &str) -> Result<Proposal, StoreError> {
        self.unique_by_prefix(tables::PROPOSALS, "proposal", prefix)
    }

    /// The proposals still waiting for approvals, in id order. Read by a
    /// scan: proposals are a few a year, executed ones included.
    pub fn open_proposals(&self) -> Result<Vec<Proposal>, StoreError> {
        let all: Vec<Proposal> = all_records(&self.open.proposals, tables::PROPOSALS.name())?;
        Ok(all
            .into_iter()
            .filter(|p| p.status == ProposalStatus::Open)
            .collect())
    }

    fn unique_by_prefix<T: BorshDeserialize>(
        &self,
        definition: TableDefinition<Id32, &[u8]>,
        what: &'static str,
        prefix: &str,
    ) -> Result<T, StoreError> {
        let (low, high) = prefix_bounds(prefix)?;
        let table = self.table(definition)?;
        // Two matches are enough to know the prefix is ambiguous.
        let mut matches = table.range(low..=high).map_err(storage)?.take(2);
        let first = match matches.next() {
            None => {
                return Err(StoreError::NotFound {
                    what,
                    key: prefix.to_owned(),
                })
            }
            Some(entry) => entry.map_err(storage)?,
        };
        if matches.next().is_some() {
            return Err(StoreError::AmbiguousPrefix {
                what,
                prefix: prefix.to_owned(),
            });
        }
        decode(definition.name(), first.1.value())
    }

    /// Every change of the validator set: the height of the block that made
    /// it and the set that decides the blocks after it.
    pub(crate) fn validator_set_changes(&self) -> Result<Vec<(u64, ValidatorSet)>, StoreError> {
        let table = self.table(tables::VALIDATOR_SET_CHANGES)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(storage)? {
            let (height, set) = entry.map_err(storage)?;
            out.push((
                height.value(),
                decode(tables::VALIDATOR_SET_CHANGES.name(), set.value())?,
            ));
        }
        Ok(out)
    }

    /// The places of the parcel's events, in chain order.
    pub(crate) fn event_index(&self, id: &ParcelId) -> Result<Vec<ChainPlace>, StoreError> {
        let range = self
            .open
            .parcel_events
            .range((id.0, 0u64, 0u32)..=(id.0, u64::MAX, u32::MAX))
            .map_err(storage)?;
        let mut out = Vec::new();
        for entry in range {
            let (key, _) = entry.map_err(storage)?;
            let (_, height, index) = key.value();
            out.push((height, index));
        }
        Ok(out)
    }
}

/// The smallest and largest ids that start with `prefix`, which may have an
/// odd number of characters.
fn prefix_bounds(prefix: &str) -> Result<([u8; 32], [u8; 32]), StoreError> {
    // Length first: a short prefix is refused as such whatever it holds.
    if prefix.len() < ID_PREFIX_CHARS_MIN {
        return Err(StoreError::PrefixTooShort(prefix.to_owned()));
    }
    if !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::BadHex(prefix.to_owned()));
    }
    if prefix.len() > 64 {
        return Err(StoreError::BadId(prefix.to_owned()));
    }
    let padded = |fill: char| {
        let text: String = prefix
            .chars()
            .chain(std::iter::repeat_n(fill, 64 - prefix.len()))
            .collect();
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(|_| StoreError::BadHex(prefix.to_owned()))?;
        Ok::<_, StoreError>(out)
    };
    Ok((padded('0')?, padded('f')?))
}

fn fault(e: StoreError) -> StorageFault {
    e.into()
}

impl ParcelCommitment for Snapshot {
    fn parcels_in_bucket(&self, bucket: u16) -> Result<Vec<(ParcelId, Parcel)>, StorageFault> {
        let (first, last) = bucket_ids(bucket);
        let mut records = Vec::new();
        for entry in self
            .open
            .parcels
            .range(first.0..=last.0)
            .map_err(|e| fault(storage(e)))?
        {
            let (key, value) = entry.map_err(|e| fault(storage(e)))?;
            let parcel = decode(tables::PARCELS.name(), value.value()).map_err(fault)?;
            records.push((Hash32(key.value()), parcel));
        }
        Ok(records)
    }

    fn parcel_tree(&self) -> &ParcelTree {
        &self.parcel_tree
    }
}

impl StateRead for Snapshot {
    fn participant(&self, code: ParticipantCode) -> Read<Participant> {
        get(&self.open.participants, tables::PARTICIPANTS.name(), code.0).map_err(fault)
    }

    /// Every Participant, in code order.
    fn participants(&self) -> Result<Vec<Participant>, StorageFault> {
        all_records(&self.open.participants, tables::PARTICIPANTS.name()).map_err(fault)
    }

    fn participant_by_authority(&self, key: &PublicKey) -> Read<ParticipantCode> {
        let code = self
            .open
            .authorities
            .get(key.0)
            .map_err(storage)
            .map_err(fault)?;
        Ok(code.map(|g| ParticipantCode(g.value())))
    }

    fn member(&self, key: &PublicKey) -> Read<Member> {
        get(&self.open.members, tables::MEMBERS.name(), key.0).map_err(fault)
    }

    fn nonce(&self, signer: &PublicKey) -> Result<u64, StorageFault> {
        let nonce = self
            .open
            .nonces
            .get(signer.0)
            .map_err(storage)
            .map_err(fault)?;
        Ok(nonce.map_or(0, |g| g.value()))
    }

    fn parcel(&self, id: &ParcelId) -> Read<Parcel> {
        self.parcel_record(id).map_err(fault)
    }

    fn transfer(&self, id: &TransferId) -> Read<Transfer> {
        get(&self.open.transfers, tables::TRANSFERS.name(), id.0).map_err(fault)
    }

    fn certificate(&self, number: &str) -> Read<Certificate> {
        get(&self.open.certificates, tables::CERTIFICATES.name(), number).map_err(fault)
    }

    fn proposal(&self, id: &ProposalId) -> Read<Proposal> {
        get(&self.open.proposals, tables::PROPOSALS.name(), id.0).map_err(fault)
    }
}
