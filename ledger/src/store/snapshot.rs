//! A consistent read of the database at one committed block: the state the
//! rules read ([`StateRead`]) and the queries the API answers. Every read of
//! one snapshot sees the same block, however many blocks commit meanwhile.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use borsh::BorshDeserialize;
use kp_crypto::{Hash32, MerkleProof, PublicKey};
use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition, TableHandle};

use super::error::{storage, StoreError, ID_PREFIX_CHARS_MIN};
use super::tables::{self, decode, BlockSummary, Id32, StoredTx, TxRecord};
use crate::anomalies::{self, AnomaliesView, AnomalyQuery};
use crate::api::{BlockEventView, EventView, StatsTableView, StatsView, TraceView};
use crate::block::{Block, BlockHeader};
use crate::bundle::{Bundle, CertifiedHeader, IncludedTx, ProvenParcel, SetChange, BUNDLE_FORMAT};
use crate::chain::ChainTip;
use crate::commitment::{bucket_ids, ParcelCommitment, ParcelProof, ParcelTree};
use crate::feed::{self, BlockEvents};
use crate::finality::CommitProof;
use crate::model::{
    Certificate, Member, Parcel, ParcelId, Participant, ParticipantCode, Proposal, ProposalId,
    ProposalStatus, Transfer, TransferId, TxId, ValidatorSet,
};
use crate::state::{Read, StateRead, StorageFault};
use crate::stats::{self, Flow, Period, StatsKey, Tally};
use crate::tx::{tx_id, DecodedTx, Transaction};
use crate::units::{self, Day};

/// Where a transaction sits in the chain: (height, index in its block).
type ChainPlace = (u64, u32);

/// Parcels with the places of their own events.
type Lineage = Vec<(Parcel, Vec<ChainPlace>)>;

pub struct Snapshot {
    txn: ReadTransaction,
    /// The parcel commitment's tree at the same block as `txn`.
    parcel_tree: Arc<ParcelTree>,
    /// The tables every rule and every trace reads, opened once: opening a
    /// table is a lookup of its own, too dear to repeat for every record.
    open: OpenTables,
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

    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        definition: TableDefinition<K, V>,
    ) -> Result<ReadOnlyTable<K, V>, StoreError> {
        self.txn.open_table(definition).map_err(storage)
    }

    /// A borsh record by key from a table of borsh values.
    fn record<'k, K, T>(
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
    fn block_txs(&self, height: u64) -> Result<Vec<StoredTx>, StoreError> {
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
    fn tx_at(&self, (height, index): ChainPlace) -> Result<TxRecord, StoreError> {
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

    /// The statistics index's entries in `range`, in key order.
    fn stats_entries(
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

    /// A Participant's Annex III statistics for a period of a year: one
    /// range of the index (a few entries per quarter, HS code and partner),
    /// however long the ledger.
    pub fn stats(
        &self,
        participant: ParticipantCode,
        period: &Period,
    ) -> Result<StatsView, StoreError> {
        let (p, y) = (participant.0, period.year);
        let entries = self.stats_entries(
            (y, p, 0, 0, [0; 2], 0)..=(y, p, u8::MAX, u8::MAX, [u8::MAX; 2], u32::MAX),
        )?;
        Ok(stats::participant_stats(participant, period, &entries))
    }

    /// Every Participant's totals for a period of a year, in code order:
    /// each one of the set, with or without trade, and any other the index
    /// names. One range of the index.
    pub fn stats_table(&self, period: &Period) -> Result<StatsTableView, StoreError> {
        let y = period.year;
        let entries = self.stats_entries(
            (y, [0; 2], 0, 0, [0; 2], 0)
                ..=(y, [u8::MAX; 2], u8::MAX, u8::MAX, [u8::MAX; 2], u32::MAX),
        )?;
        let mut codes: BTreeSet<ParticipantCode> =
            entries.iter().map(|(k, _)| k.participant).collect();
        codes.extend(self.participants()?.into_iter().map(|p| p.code));
        Ok(StatsTableView {
            year: y,
            quarter: period.quarter(),
            half: period.half(),
            rows: codes
                .into_iter()
                .map(|code| stats::table_row(code, period, &entries))
                .collect(),
        })
    }

    /// The certificates an anomaly index names in `range` of its keys.
    fn indexed_certificates(
        &self,
        index: TableDefinition<(u64, &str), ()>,
        range: std::ops::Range<(u64, &str)>,
    ) -> Result<Vec<Certificate>, StoreError> {
        let mut out = Vec::new();
        for entry in self.table(index)?.range(range).map_err(storage)? {
            let (key, _) = entry.map_err(storage)?;
            let number = key.value().1;
            out.push(self.certificate(number)?.ok_or_else(|| {
                StoreError::Corrupt(format!("index {} names certificate {number}", index.name()))
            })?);
        }
        Ok(out)
    }

    /// The certificate `parcel` was last received under at or before
    /// `height`, other than `except`: one short range of the receipt index,
    /// read from its end.
    fn received_under(
        &self,
        receipts: &ReadOnlyTable<(Id32, u64, &'static str), ()>,
        parcel: &ParcelId,
        height: u64,
        except: &str,
    ) -> Result<Option<Certificate>, StoreError> {
        let range = receipts
            .range((parcel.0, 0u64, "")..(parcel.0, height.saturating_add(1), ""))
            .map_err(storage)?;
        for entry in range.rev() {
            let (key, _) = entry.map_err(storage)?;
            let number = key.value().2;
            if number != except {
                return Ok(Some(self.certificate(number)?.ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "index {} names certificate {number}",
                        tables::PARCEL_RECEIPTS.name()
                    ))
                })?));
            }
        }
        Ok(None)
    }

    /// Each certificate with where its carats were imported: its parcels'
    /// ancestry within its issuer, at most `ANCESTRY_PARCELS_MAX` parcel
    /// records and receipt ranges per certificate.
    fn reexports(&self, issued: &[Certificate]) -> Result<Vec<anomalies::Reexport>, StoreError> {
        let receipts = self.table(tables::PARCEL_RECEIPTS)?;
        let mut out = Vec::new();
        for cert in issued {
            let imports = anomalies::imports_behind(
                cert,
                |id| {
                    get(&self.open.parcels, tables::PARCELS.name(), id.0)?.ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "certificate {} leads to a missing parcel {id}",
                            cert.number
                        ))
                    })
                },
                |id| self.received_under(&receipts, id, cert.issued_height, &cert.number),
            )?;
            if let Some(imports) = imports.filter(|i| !i.is_empty()) {
                out.push(anomalies::Reexport {
                    certificate: cert.clone(),
                    imports,
                });
            }
        }
        Ok(out)
    }

    /// What the anomaly checks find as of the tip: ranges of their indexes
    /// (open certificates expiring from `since` to the tip's day;
    /// discrepancies, certificates issued and statistics since `since`; the
    /// flagged parcels; the receipts behind each certificate issued), never
    /// a block scan. The certificates issued are read one by one, with
    /// their ancestry within their issuer, so a long `since` on a busy
    /// ledger costs a few reads per certificate of the period.
    pub fn anomalies(&self, query: &AnomalyQuery) -> Result<AnomaliesView, StoreError> {
        let as_of_time = self.tip()?.time;
        let as_of_day = units::day_of(as_of_time);
        let since_day = query.since(as_of_day);
        let since_time = anomalies::day_start(since_day);
        // No key reaches u64::MAX: a time or a day.
        let (since, after) = ((since_time, ""), (u64::MAX, ""));
        let received = self.indexed_certificates(tables::DISCREPANCIES, since..after)?;
        let issued = self.indexed_certificates(tables::ISSUED_CERTIFICATES, since..after)?;
        let open = self.indexed_certificates(
            tables::OPEN_CERTIFICATES,
            (u64::from(since_day), "")..(u64::from(as_of_day), ""),
        )?;
        let mut flagged = Vec::new();
        for entry in self
            .table(tables::FLAGGED_PARCELS)?
            .iter()
            .map_err(storage)?
        {
            let id = Hash32(entry.map_err(storage)?.0.value());
            let parcel = self
                .parcel(&id)?
                .ok_or_else(|| StoreError::Corrupt(format!("the flag index names parcel {id}")))?;
            let holder = self
                .member(&parcel.holder)?
                .ok_or_else(|| StoreError::Corrupt(format!("parcel {id} is held by no member")))?;
            flagged.push((parcel, holder.participant));
        }
        // Every Participant's, since a shipment is weighed against its
        // origins'; and the year before `since` too, since its first period
        // is compared with the one before it.
        let (from_year, _) = units::year_and_quarter(since_time);
        let (to_year, _) = units::year_and_quarter(as_of_time);
        let entries = self.stats_entries(
            (from_year.saturating_sub(1), [0; 2], 0, 0, [0; 2], 0)
                ..=(
                    to_year,
                    [u8::MAX; 2],
                    u8::MAX,
                    u8::MAX,
                    [u8::MAX; 2],
                    u32::MAX,
                ),
        )?;
        let production = anomalies::flow_totals(&entries, Flow::Production, since_time, as_of_time);
        let imports = anomalies::flow_totals(&entries, Flow::Imports, since_time, as_of_time);
        let period = format!("{} to {}", Day(since_day), Day(as_of_day));
        let mut findings =
            anomalies::exports_exceed_supply(&issued, &production, &imports, &period);
        findings.extend(anomalies::receipt_discrepancies(&received));
        findings.extend(anomalies::expired_without_receipt(&open, as_of_day));
        findings.extend(anomalies::flagged_parcels(&flagged, as_of_day));
        findings.extend(anomalies::values_outside_band(
            &issued,
            &production,
            query.band_percent,
        ));
        findings.extend(anomalies::period_changes(
            &entries,
            since_time,
            as_of_time,
            query.period_change_percent,
        ));
        findings.extend(anomalies::markups_on_reexport(
            &self.reexports(&issued)?,
            query.markup_percent,
        ));
        Ok(anomalies::findings_for(query, findings, as_of_day))
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

    /// A parcel's own history, in chain order.
    pub fn parcel_events(&self, id: &ParcelId) -> Result<Vec<EventView>, StoreError> {
        self.event_index(id)?
            .into_iter()
            .map(|place| self.event(place))
            .collect()
    }

    /// The parcel, every ancestor back to the mines (through splits and
    /// merges, each once), and every event of each, oldest first. Costs what
    /// these parcels' histories cost: a read and an index range per parcel.
    pub fn trace(&self, id: &ParcelId) -> Result<Option<TraceView>, StoreError> {
        let Some(lineage) = self.lineage(id)? else {
            return Ok(None);
        };
        // A split or merge is in the history of both sides: keyed by its
        // place in the chain, it is listed once and in order.
        let events: BTreeSet<ChainPlace> = lineage
            .iter()
            .flat_map(|(_, places)| places.iter().copied())
            .collect();
        let events = events
            .into_iter()
            .map(|place| self.event(place))
            .collect::<Result<_, _>>()?;
        Ok(Some(TraceView {
            parcel: *id,
            parcels: lineage.into_iter().map(|(parcel, _)| parcel).collect(),
            events,
        }))
    }

    /// The parcel and every ancestor, breadth first, each once, with the
    /// places of its own events in chain order.
    fn lineage(&self, id: &ParcelId) -> Result<Option<Lineage>, StoreError> {
        let Some(root) = self.parcel(id)? else {
            return Ok(None);
        };
        let mut seen: HashSet<ParcelId> = HashSet::from([root.id]);
        let mut queue = VecDeque::from([root]);
        let mut lineage = Vec::new();
        while let Some(parcel) = queue.pop_front() {
            for parent in &parcel.parents {
                if seen.insert(*parent) {
                    let record = self.parcel(parent)?.ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "parcel {} names a missing parent {parent}",
                            parcel.id
                        ))
                    })?;
                    queue.push_back(record);
                }
            }
            let places = self.event_index(&parcel.id)?;
            lineage.push((parcel, places));
        }
        Ok(Some(lineage))
    }

    /// The provenance bundle of parcel `id` at this snapshot's block (see
    /// [`crate::bundle`]): its lineage's events, the governance decisions
    /// that changed the validator set, each with its proof of inclusion, and
    /// the headers they need with their commits. `commit` turns a stored
    /// commit certificate into its proof (the node's engine encoded it).
    pub fn bundle(
        &self,
        id: &ParcelId,
        commit: &dyn Fn(&[u8]) -> Result<CommitProof, String>,
    ) -> Result<Option<Bundle>, StoreError> {
        let Some(lineage) = self.lineage(id)? else {
            return Ok(None);
        };
        let tip = self.tip()?;
        let mut places: BTreeSet<ChainPlace> = lineage
            .iter()
            .flat_map(|(_, places)| places.iter().copied())
            .collect();
        let changes = self.validator_set_changes()?;
        let mut decisions: Vec<Vec<ChainPlace>> = Vec::with_capacity(changes.len());
        for (height, _) in &changes {
            let mut governance = Vec::new();
            for (index, stored) in (0u32..).zip(self.block_txs(*height)?) {
                let tx = DecodedTx::decode(stored.bytes).map_err(|e| {
                    StoreError::Corrupt(format!("transaction {index} of block {height}: {e}"))
                })?;
                if tx.body().is_governance() {
                    governance.push((*height, index));
                }
            }
            places.extend(governance.iter().copied());
            decisions.push(governance);
        }

        let mut txs = Vec::with_capacity(places.len());
        let mut position: HashMap<ChainPlace, u32> = HashMap::with_capacity(places.len());
        let mut by_block: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for (height, index) in &places {
            by_block.entry(*height).or_default().push(*index);
        }
        for (height, indexes) in &by_block {
            // A proof needs every leaf of its block.
            let block: Vec<Vec<u8>> = self
                .block_txs(*height)?
                .into_iter()
                .map(|t| t.bytes)
                .collect();
            for index in indexes {
                let proof = MerkleProof::new(&block, *index as usize).ok_or_else(|| {
                    StoreError::Corrupt(format!("no transaction at height {height}, index {index}"))
                })?;
                position.insert((*height, *index), txs.len() as u32);
                txs.push(IncludedTx {
                    height: *height,
                    proof,
                    bytes: block[*index as usize].clone(),
                });
            }
        }

        let heights: BTreeSet<u64> = by_block
            .keys()
            .copied()
            .chain(changes.iter().map(|(height, _)| *height))
            .chain([tip.height])
            .collect();
        let mut headers = Vec::with_capacity(heights.len());
        for height in heights {
            let header: BlockHeader = self
                .record(tables::BLOCKS, height)?
                .ok_or_else(|| StoreError::Corrupt(format!("no block at height {height}")))?;
            let certificate = self.commit_certificate(height)?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "no commit certificate is stored with block {height}"
                ))
            })?;
            let commit = commit(&certificate).map_err(|e| {
                StoreError::Corrupt(format!(
                    "the commit certificate of block {height} does not decode: {e}"
                ))
            })?;
            headers.push(CertifiedHeader { header, commit });
        }

        let set_changes = changes
            .into_iter()
            .zip(decisions)
            .map(|((height, validators), places)| SetChange {
                height,
                validators,
                decisions: places.iter().map(|place| position[place]).collect(),
            })
            .collect();
        let mut parcels = Vec::with_capacity(lineage.len());
        for (record, places) in lineage {
            let proof = ParcelProof::new(self, &record.id)?.ok_or_else(|| {
                StoreError::Corrupt(format!("parcel {} is not in its bucket", record.id))
            })?;
            parcels.push(ProvenParcel {
                events: places.iter().map(|place| position[place]).collect(),
                record,
                proof,
            });
        }
        Ok(Some(Bundle {
            format: BUNDLE_FORMAT,
            chain_id: headers
                .first()
                .map(|h| h.header.chain_id.clone())
                .unwrap_or_default(),
            genesis: self.genesis_hash()?,
            parcel: *id,
            headers,
            set_changes,
            txs,
            parcels,
        }))
    }

    /// Every change of the validator set: the height of the block that made
    /// it and the set that decides the blocks after it.
    fn validator_set_changes(&self) -> Result<Vec<(u64, ValidatorSet)>, StoreError> {
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
    fn event_index(&self, id: &ParcelId) -> Result<Vec<ChainPlace>, StoreError> {
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

    fn event(&self, place: ChainPlace) -> Result<EventView, StoreError> {
        event_view(self.tx_at(place)?)
    }

    /// What the event feed sends for `height`: the block's transactions
    /// from `first_index` on, in block order, then the block; `None` while
    /// no block is stored at that height.
    pub fn block_events(
        &self,
        height: u64,
        first_index: u32,
    ) -> Result<Option<BlockEvents>, StoreError> {
        let Some(header) = self.record::<u64, BlockHeader>(tables::BLOCKS, height)? else {
            return Ok(None);
        };
        let stored = self.block_txs(height)?;
        let count = u32::try_from(stored.len())
            .map_err(|_| StoreError::Corrupt(format!("block {height} is over-long")))?;
        let mut txs = Vec::new();
        for (index, tx) in (0u32..).zip(stored).skip(first_index as usize) {
            let event = event_view(TxRecord {
                bytes: tx.bytes,
                height,
                index,
                time: tx.time,
                kind: tx.kind,
                created: tx.created,
            })?;
            txs.push(feed::tx_event(self, event)?);
        }
        Ok(Some(BlockEvents {
            txs,
            block: BlockEventView {
                height,
                hash: header.hash(),
                time: header.time,
                txs: count,
            },
        }))
    }
}

/// A stored transaction as history shows it.
fn event_view(record: TxRecord) -> Result<EventView, StoreError> {
    let tx: Transaction = decode(tables::TXS.name(), &record.bytes)?;
    Ok(EventView {
        tx: tx_id(&record.bytes),
        height: record.height,
        index: record.index,
        time: record.time,
        signer: tx.payload.signer,
        body: tx.payload.body,
        created: record.created,
    })
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
        get(&self.open.parcels, tables::PARCELS.name(), id.0).map_err(fault)
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
