//! The tables of the ledger database and how their values are encoded.
//! Values are borsh, like everything else the ledger hashes or signs, so a
//! record reads back exactly as it was written.

use borsh::{BorshDeserialize, BorshSerialize};
use std::cmp::Ordering;

use redb::{Key, TableDefinition, TableHandle, TypeName, Value};

use kp_crypto::Hash32;
use kp_ledger::block::BlockHeader;
use kp_ledger::model::{HsCode, ParticipantCode, TxId};
use kp_ledger::stats::{Flow, StatsKey, Tally};
use kp_ledger::trace::Event;
use kp_ledger::tx::{tx_id, Transaction};

use crate::error::StoreError;

/// A 32-byte id (a hash or a public key) as a key, compared with one memcmp:
/// redb compares a `[u8; 32]` key byte by byte, a few per cent of a commit.
#[derive(Debug)]
pub(crate) struct Id32;

impl Value for Id32 {
    type SelfType<'a> = [u8; 32];
    type AsBytes<'a> = [u8; 32];

    fn fixed_width() -> Option<usize> {
        Some(32)
    }

    fn from_bytes<'a>(data: &'a [u8]) -> [u8; 32]
    where
        Self: 'a,
    {
        // redb hands back exactly what `as_bytes` wrote: 32 bytes.
        let mut id = [0u8; 32];
        id.copy_from_slice(data);
        id
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a [u8; 32]) -> [u8; 32]
    where
        Self: 'b,
    {
        *value
    }

    fn type_name() -> TypeName {
        // Written into every table keyed by it: the name the type had when
        // the store was part of `kp_ledger`, kept so that the format holds.
        TypeName::new("kp_ledger::Id32")
    }
}

impl Key for Id32 {
    fn compare(data1: &[u8], data2: &[u8]) -> Ordering {
        data1.cmp(data2)
    }
}

/// Chain-wide facts: the genesis hash and the tip.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const META_GENESIS_HASH: &str = "genesis_hash";
pub(crate) const META_TIP: &str = "tip";
pub(crate) const META_FORMAT: &str = "format";
/// The layout of the tables below. Raise it with any change to them, so that
/// a database of another layout is refused by name rather than misread.
/// 3: Participants may run no validator; proposals to change their set;
/// commit certificates stored with blocks. 4: block headers state their
/// transaction count, the parcel commitment and the hashes of the validator
/// sets that decide them and the next block; the Annex III statistics index
/// (`STATS`); the anomaly indexes `OPEN_CERTIFICATES`, `DISCREPANCIES`,
/// `ISSUED_CERTIFICATES` and `FLAGGED_PARCELS`. 5: parcel records carry the
/// hash chain of their history; `VALIDATOR_SET_CHANGES`; `issue_certificate`
/// bodies carry the declared value, so stored transactions encode anew; the
/// anomaly index `PARCEL_RECEIPTS`; the parcel commitment's bucket hashes
/// (`PARCEL_BUCKETS`); `STATS` entries of exports and imports by origin
/// (flows 3 and 4). 6: transactions are signed for the genesis hash rather
/// than the chain id, and validators' votes for it too, so stored
/// transactions and commit certificates are other bytes.
pub(crate) const FORMAT_VERSION: u32 = 6;

/// Height -> borsh of the block's header; its transactions are in `TXS`.
pub(crate) const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// Height -> the consensus engine's commit certificate for that block, as
/// the node encoded it: the ledger stores it next to the block, unread.
pub(crate) const COMMITS: TableDefinition<u64, &[u8]> = TableDefinition::new("commits");
/// Block hash -> height.
pub(crate) const BLOCK_HEIGHTS: TableDefinition<Id32, u64> = TableDefinition::new("block_heights");
/// (height, index in block) -> borsh of `StoredTx`. Keyed by place, not by
/// id, so that a block's transactions are neighbours, appended in order:
/// under random ids every transaction would dirty a page of its own, and
/// that was most of the cost of a commit (docs/performance.md).
pub(crate) const TXS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("txs");
/// Transaction id -> (height, index in block): small entries under the random key.
pub(crate) const TX_PLACES: TableDefinition<Id32, (u64, u32)> = TableDefinition::new("tx_places");

// The state, one table per kind of record of `StateDelta`.
pub(crate) const PARTICIPANTS: TableDefinition<[u8; 2], &[u8]> =
    TableDefinition::new("participants");
pub(crate) const MEMBERS: TableDefinition<Id32, &[u8]> = TableDefinition::new("members");
pub(crate) const NONCES: TableDefinition<Id32, u64> = TableDefinition::new("nonces");
pub(crate) const PARCELS: TableDefinition<Id32, &[u8]> = TableDefinition::new("parcels");
pub(crate) const TRANSFERS: TableDefinition<Id32, &[u8]> = TableDefinition::new("transfers");
pub(crate) const CERTIFICATES: TableDefinition<&str, &[u8]> = TableDefinition::new("certificates");
/// Proposals to change the Participant set, open and executed.
pub(crate) const PROPOSALS: TableDefinition<Id32, &[u8]> = TableDefinition::new("proposals");

/// Authority key -> Participant code, so a signer is resolved in one read.
pub(crate) const AUTHORITIES: TableDefinition<Id32, [u8; 2]> = TableDefinition::new("authorities");
/// (parcel id, height, index in block), no value: a parcel's history is one
/// range scan, in chain order, and each entry names the transaction's place.
pub(crate) const PARCEL_EVENTS: TableDefinition<(Id32, u64, u32), ()> =
    TableDefinition::new("parcel_events");

/// (year, Participant, quarter, flow, partner (the origin for the
/// by-origin flows) or `[0, 0]`, HS code or 0) ->
/// (milli-carats, cents, parcels, certificates, received milli-carats):
/// the running totals of `kp_ledger::stats`, so that a Participant's year is one
/// short range, in key order.
pub(crate) const STATS: TableDefinition<StatsKeyBytes, StatsTally> = TableDefinition::new("stats");
pub(crate) type StatsKeyBytes = (u16, [u8; 2], u8, u8, [u8; 2], u32);
pub(crate) type StatsTally = (u64, u64, u64, u64, u64);

/// (expiry day, certificate number), no value: certificates issued and not
/// yet received, so those past expiry are one short range of days. The day
/// is a u64 so that every anomaly index of certificates has one key type.
pub(crate) const OPEN_CERTIFICATES: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("open_certificates");
/// (block time of the receipt, certificate number), no value: receipts
/// whose figures differ from the certificate, in time order.
pub(crate) const DISCREPANCIES: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("discrepancies");
/// (block time of the issue, certificate number), no value: certificates
/// in the order issued, so a period's exports are one range.
pub(crate) const ISSUED_CERTIFICATES: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("issued_certificates");
/// (parcel id, height of the receipt, certificate number), no value: the
/// matching receipts that brought each parcel into a Participant, so that
/// a re-export's ancestry finds where its carats were imported with one
/// short range per parcel. The number is in the key because one block may
/// hold two receipts of a parcel (in, and on out again).
pub(crate) const PARCEL_RECEIPTS: TableDefinition<(Id32, u64, &str), ()> =
    TableDefinition::new("parcel_receipts");
/// Parcel id, no value: the parcels under a flag now.
pub(crate) const FLAGGED_PARCELS: TableDefinition<Id32, ()> =
    TableDefinition::new("flagged_parcels");
/// Bucket of the parcel commitment -> the hash of its records, for every
/// bucket a block has written: at most 2^16 entries (2 MiB), from which the
/// tree is rebuilt when the database opens instead of from every record.
pub(crate) const PARCEL_BUCKETS: TableDefinition<u16, [u8; 32]> =
    TableDefinition::new("parcel_buckets");
/// Height of a block that changed the validator set -> borsh of the set
/// that decides the blocks after it: what a proof of a later block must
/// show, found without reading every header.
pub(crate) const VALIDATOR_SET_CHANGES: TableDefinition<u64, &[u8]> =
    TableDefinition::new("validator_set_changes");

const NO_PARTNER: [u8; 2] = [0, 0];

pub(crate) fn stats_key_bytes(key: &StatsKey) -> StatsKeyBytes {
    (
        key.year,
        key.participant.0,
        key.quarter,
        key.flow.tag(),
        key.partner.map_or(NO_PARTNER, |p| p.0),
        key.hs.map_or(0, |h| h.0),
    )
}

pub(crate) fn stats_key(bytes: StatsKeyBytes) -> Result<StatsKey, StoreError> {
    let (year, participant, quarter, flow, partner, hs) = bytes;
    let flow = Flow::from_tag(flow)
        .ok_or_else(|| StoreError::Corrupt(format!("table stats: flow {flow}")))?;
    Ok(StatsKey {
        year,
        participant: ParticipantCode(participant),
        quarter,
        flow,
        partner: (partner != NO_PARTNER).then_some(ParticipantCode(partner)),
        hs: (hs != 0).then_some(HsCode(hs)),
    })
}

pub(crate) fn stats_tally(t: &Tally) -> StatsTally {
    (
        t.milli_carats,
        t.value_cents,
        t.parcels,
        t.certificates,
        t.received_milli_carats,
    )
}

pub(crate) fn tally(v: StatsTally) -> Tally {
    Tally {
        milli_carats: v.0,
        value_cents: v.1,
        parcels: v.2,
        certificates: v.3,
        received_milli_carats: v.4,
    }
}

/// One committed transaction as stored under its place.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub(crate) struct StoredTx {
    pub bytes: Vec<u8>,
    pub time: u64,
    pub kind: String,
    pub created: Vec<Hash32>,
}

/// A block's header and its transactions' ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSummary {
    pub header: BlockHeader,
    pub txs: Vec<TxId>,
}

/// One committed transaction: its bytes as received and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    pub bytes: Vec<u8>,
    pub height: u64,
    pub index: u32,
    /// The block's time (UTC seconds), kept here so that history reads no block.
    pub time: u64,
    /// The body's kind, as `Body::kind` names it.
    pub kind: String,
    /// Ids the transaction created (parcels, a transfer), in order.
    pub created: Vec<Hash32>,
}

impl TxRecord {
    /// The transaction as history shows it.
    pub(crate) fn event(self) -> Result<Event, StoreError> {
        let tx: Transaction = decode(TXS.name(), &self.bytes)?;
        Ok(Event {
            tx: tx_id(&self.bytes),
            height: self.height,
            index: self.index,
            time: self.time,
            signer: tx.payload.signer,
            body: tx.payload.body,
            created: self.created,
        })
    }
}

pub(crate) fn encode<T: BorshSerialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    borsh::to_vec(value).map_err(|e| StoreError::Storage(format!("cannot encode a record: {e}")))
}

pub(crate) fn decode<T: BorshDeserialize>(table: &str, bytes: &[u8]) -> Result<T, StoreError> {
    borsh::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("table {table}: {e}")))
}
