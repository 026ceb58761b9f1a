//! The parcels' commitment: a Merkle root over every parcel record, in each
//! block header (`parcels_root`), so that where a parcel is and who holds it
//! as of a height is provable, not only that it once moved.
//!
//! Parcels fall into 2^16 buckets by the first two bytes of their id. A
//! bucket's hash is the Merkle root of its records (`(id, parcel)` in borsh,
//! in id order; an empty bucket hashes to zeros), and the commitment is the
//! Merkle root of the bucket hashes. A block rehashes only the buckets it
//! touches and their paths, so its cost follows what it wrote, not what the
//! ledger holds; the tree of bucket hashes (4 MiB) stays in memory, and the
//! store keeps the bucket hashes themselves (2 MiB at most) to rebuild it
//! when it opens.
//!
//! A proof that a record is current at a height is two Merkle proofs: the
//! record in its bucket, and the bucket in the tree (see [`ParcelProof`]).

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use kp_crypto::{merkle_root, Hash32, MerkleProof, MerkleProofError, MerkleTree};
use serde::{Deserialize, Serialize};

use crate::canonical::canonical_bytes;
use crate::model::{Parcel, ParcelId};
use crate::state::{StateDelta, StateRead, StorageFault};

/// Buckets: 2^16. At a million parcels a bucket holds about 15, which is
/// what a block rehashes for each parcel it touches.
pub const BUCKETS: usize = 1 << 16;

/// The bucket a parcel falls into.
pub fn bucket_of(id: &ParcelId) -> u16 {
    u16::from_be_bytes([id.0[0], id.0[1]])
}

/// The first and last ids of `bucket`, for a range read.
pub fn bucket_ids(bucket: u16) -> (ParcelId, ParcelId) {
    let [high, low] = bucket.to_be_bytes();
    let mut first = [0u8; 32];
    let mut last = [0xffu8; 32];
    first[..2].copy_from_slice(&[high, low]);
    last[..2].copy_from_slice(&[high, low]);
    (Hash32(first), Hash32(last))
}

/// The bytes a parcel record contributes to its bucket.
pub fn parcel_leaf(id: &ParcelId, parcel: &Parcel) -> Vec<u8> {
    canonical_bytes(&(id, parcel))
}

/// A bucket's hash from its records in id order.
pub fn bucket_hash(records: &[(ParcelId, Parcel)]) -> Hash32 {
    let leaves: Vec<Vec<u8>> = records.iter().map(|(id, p)| parcel_leaf(id, p)).collect();
    merkle_root(&leaves)
}

/// The tree of bucket hashes at one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelTree {
    tree: MerkleTree,
}

impl Default for ParcelTree {
    fn default() -> Self {
        ParcelTree {
            tree: MerkleTree::filled(BUCKETS, &Hash32::ZERO.0),
        }
    }
}

impl ParcelTree {
    pub fn root(&self) -> Hash32 {
        self.tree.root()
    }

    /// The root with `buckets` rehashed as given, the tree unchanged.
    pub fn root_with(&self, buckets: &[(u16, Hash32)]) -> Hash32 {
        self.tree.root_with(
            buckets
                .iter()
                .map(|(b, h)| (usize::from(*b), h.0.as_slice())),
        )
    }

    pub fn set(&mut self, buckets: &[(u16, Hash32)]) {
        for (bucket, hash) in buckets {
            self.tree.set(usize::from(*bucket), &hash.0);
        }
    }

    /// The proof that `bucket` has its hash in this tree.
    pub fn bucket_proof(&self, bucket: u16) -> MerkleProof {
        // Every u16 is a leaf of a tree of 2^16.
        self.tree
            .proof(usize::from(bucket))
            .unwrap_or_else(|| unreachable!("bucket {bucket} of {BUCKETS}"))
    }
}

/// A state whose parcel records are committed to: what building or
/// checking a block's `parcels_root` reads.
pub trait ParcelCommitment: StateRead {
    /// The parcels in `bucket`, in id order.
    fn parcels_in_bucket(&self, bucket: u16) -> Result<Vec<(ParcelId, Parcel)>, StorageFault>;
    /// The tree of bucket hashes of this state.
    fn parcel_tree(&self) -> &ParcelTree;
}

/// What a block does to the commitment: the new hash of every bucket it
/// touched, and the root after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelsUpdate {
    pub buckets: Vec<(u16, Hash32)>,
    pub root: Hash32,
}

/// The commitment after `delta` is applied to `state`.
pub fn parcels_after<S: ParcelCommitment + ?Sized>(
    state: &S,
    delta: &StateDelta,
) -> Result<ParcelsUpdate, StorageFault> {
    let mut touched: BTreeMap<u16, Vec<(&ParcelId, &Parcel)>> = BTreeMap::new();
    for (id, parcel) in &delta.parcels {
        touched.entry(bucket_of(id)).or_default().push((id, parcel));
    }
    let mut buckets = Vec::with_capacity(touched.len());
    for (bucket, written) in touched {
        let mut records: BTreeMap<ParcelId, Parcel> =
            state.parcels_in_bucket(bucket)?.into_iter().collect();
        for (id, parcel) in written {
            records.insert(*id, parcel.clone());
        }
        let records: Vec<(ParcelId, Parcel)> = records.into_iter().collect();
        buckets.push((bucket, bucket_hash(&records)));
    }
    let root = state.parcel_tree().root_with(&buckets);
    Ok(ParcelsUpdate { buckets, root })
}

/// That a parcel record is the current one in the state a `parcels_root`
/// commits to: the record's place among its bucket's records, and the
/// bucket's place in the tree.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParcelProof {
    pub in_bucket: MerkleProof,
    pub bucket: MerkleProof,
}

/// Why a parcel proof fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParcelProofError {
    #[error("the record is not at its place in its bucket: {0}")]
    InBucket(MerkleProofError),
    #[error("the bucket proof is for bucket {given} of {count}, not the parcel's bucket {expected} of {BUCKETS}")]
    WrongBucket {
        given: u64,
        count: u64,
        expected: u16,
    },
    #[error("the bucket is not in the committed tree: {0}")]
    Bucket(MerkleProofError),
}

impl ParcelProof {
    /// The proof for parcel `id` in a state, `None` if it has no such
    /// parcel.
    pub fn new<S: ParcelCommitment + ?Sized>(
        state: &S,
        id: &ParcelId,
    ) -> Result<Option<Self>, StorageFault> {
        let bucket = bucket_of(id);
        let records = state.parcels_in_bucket(bucket)?;
        let Some(index) = records.iter().position(|(r, _)| r == id) else {
            return Ok(None);
        };
        let leaves: Vec<Vec<u8>> = records.iter().map(|(id, p)| parcel_leaf(id, p)).collect();
        Ok(
            MerkleProof::new(&leaves, index).map(|in_bucket| ParcelProof {
                in_bucket,
                bucket: state.parcel_tree().bucket_proof(bucket),
            }),
        )
    }

    /// Checks that `parcel` is parcel `id`'s record in the state whose
    /// commitment is `parcels_root`.
    pub fn verify(
        &self,
        parcels_root: &Hash32,
        id: &ParcelId,
        parcel: &Parcel,
    ) -> Result<(), ParcelProofError> {
        let bucket_hash = self
            .in_bucket
            .root_of(&parcel_leaf(id, parcel))
            .map_err(ParcelProofError::InBucket)?;
        let expected = bucket_of(id);
        if self.bucket.index != u64::from(expected) || self.bucket.leaf_count != BUCKETS as u64 {
            return Err(ParcelProofError::WrongBucket {
                given: self.bucket.index,
                count: self.bucket.leaf_count,
                expected,
            });
        }
        self.bucket
            .verify(parcels_root, &bucket_hash.0)
            .map_err(ParcelProofError::Bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ParcelStatus, Role};
    use crate::testkit::World;

    /// A world with parcels registered, split and handed over, over several
    /// blocks.
    fn busy_world() -> (World, Vec<ParcelId>) {
        let mut w = World::new();
        let miner = w.enrol("BW", "Debswana", Role::Miner, None);
        let trader = w.enrol("BW", "Okavango", Role::Trader, None);
        let mut parcels: Vec<ParcelId> = (1..=20)
            .map(|i| w.register(&miner, "BW", i * 1_000))
            .collect();
        let halves = w.split(&miner, parcels[0], &[400, 600]);
        parcels.extend(halves);
        w.hand_over(&miner, parcels[3], &trader);
        (w, parcels)
    }

    fn root_from_scratch(w: &World) -> Hash32 {
        let mut tree = ParcelTree::default();
        let buckets: BTreeMap<u16, Vec<(ParcelId, Parcel)>> =
            w.state
                .records
                .parcels
                .iter()
                .fold(BTreeMap::new(), |mut b, (id, p)| {
                    b.entry(bucket_of(id)).or_default().push((*id, p.clone()));
                    b
                });
        let hashes: Vec<(u16, Hash32)> = buckets
            .iter()
            .map(|(b, records)| (*b, bucket_hash(records)))
            .collect();
        tree.set(&hashes);
        tree.root()
    }

    #[test]
    fn the_kept_tree_is_the_tree_of_every_record() {
        let (w, _) = busy_world();
        assert_ne!(w.state.parcel_tree().root(), ParcelTree::default().root());
        assert_eq!(w.state.parcel_tree().root(), root_from_scratch(&w));
    }

    #[test]
    fn a_current_record_proves_and_a_stale_or_altered_one_does_not() {
        let (w, parcels) = busy_world();
        let root = w.state.parcel_tree().root();
        for id in &parcels {
            let parcel = w.parcel(id);
            let proof = ParcelProof::new(&w.state, id)
                .expect("in memory")
                .expect("the parcel exists");
            assert_eq!(proof.verify(&root, id, &parcel), Ok(()));
        }
        // The split parcel's record before the split said it was whole.
        let split = parcels[0];
        let mut stale = w.parcel(&split);
        assert!(matches!(stale.status, ParcelStatus::Consumed { .. }));
        stale.status = ParcelStatus::Live;
        let proof = ParcelProof::new(&w.state, &split)
            .expect("in memory")
            .expect("exists");
        assert!(matches!(
            proof.verify(&root, &split, &stale),
            Err(ParcelProofError::Bucket(_))
        ));
        // Another parcel's proof for this record.
        let other = ParcelProof::new(&w.state, &parcels[1])
            .expect("in memory")
            .expect("exists");
        assert!(other.verify(&root, &split, &w.parcel(&split)).is_err());
        // An altered sibling in the tree of buckets.
        let mut altered = proof.clone();
        altered.bucket.siblings[7].0[0] ^= 1;
        assert!(matches!(
            altered.verify(&root, &split, &w.parcel(&split)),
            Err(ParcelProofError::Bucket(_))
        ));
        // No proof for a parcel that does not exist.
        assert_eq!(ParcelProof::new(&w.state, &Hash32([9; 32])), Ok(None));
    }
}
