use std::collections::{BTreeMap, BTreeSet};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::hash::{hash_domain, Hash32};

const LEAF_CONTEXT: &str = "kp-ledger 2026 merkle leaf v1";
const NODE_CONTEXT: &str = "kp-ledger 2026 merkle node v1";

fn leaf_hash(leaf: &[u8]) -> Hash32 {
    hash_domain(LEAF_CONTEXT, &[leaf])
}

fn parent(left: &Hash32, right: &Hash32) -> Hash32 {
    hash_domain(NODE_CONTEXT, &[&left.0, &right.0])
}

/// The level above `level`: pairs hashed together, an odd last node carried
/// up unchanged.
fn level_above(level: &[Hash32]) -> Vec<Hash32> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => parent(left, right),
            [single] => *single,
            _ => unreachable!("chunks(2) yields one or two items"),
        })
        .collect()
}

/// The root of a binary Merkle tree over `leaves` (each hashed as a leaf
/// first). Leaves and inner nodes hash under different contexts so that an
/// inner node can never pass for a leaf. An odd node is carried up unchanged;
/// an empty tree's root is all zeros.
pub fn merkle_root<T: AsRef<[u8]>>(leaves: &[T]) -> Hash32 {
    if leaves.is_empty() {
        return Hash32::ZERO;
    }
    let mut level: Vec<Hash32> = leaves.iter().map(|l| leaf_hash(l.as_ref())).collect();
    while level.len() > 1 {
        level = level_above(&level);
    }
    level[0]
}

/// That one leaf is in a tree: its place, the tree's size, and the sibling
/// at every level where its node had one (a node carried up has none), from
/// the leaf upwards.
///
/// The root binds the leaf and the siblings. It binds the place only
/// together with the size: leaf 2 of 3 and leaf 1 of 2 take the same path.
/// So a verifier checks `leaf_count` against a size it knows from
/// elsewhere (a block header states how many transactions its block holds).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MerkleProof {
    pub index: u64,
    pub leaf_count: u64,
    pub siblings: Vec<Hash32>,
}

/// Why a proof does not lead from a leaf to a root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleProofError {
    #[error("leaf {index} of a tree of {leaf_count} does not exist")]
    NoSuchLeaf { index: u64, leaf_count: u64 },
    #[error("the proof has {given} sibling hashes where its tree needs {needed}")]
    WrongLength { given: usize, needed: usize },
    #[error("the proof leads to root {computed}, not {expected}")]
    RootMismatch { computed: Hash32, expected: Hash32 },
}

impl MerkleProof {
    /// The proof for leaf `index` of `leaves`; `None` if there is no such
    /// leaf.
    pub fn new<T: AsRef<[u8]>>(leaves: &[T], index: usize) -> Option<Self> {
        if index >= leaves.len() {
            return None;
        }
        let mut level: Vec<Hash32> = leaves.iter().map(|l| leaf_hash(l.as_ref())).collect();
        let mut at = index;
        let mut siblings = Vec::new();
        while level.len() > 1 {
            let sibling = at ^ 1;
            if sibling < level.len() {
                siblings.push(level[sibling]);
            }
            level = level_above(&level);
            at /= 2;
        }
        Some(MerkleProof {
            index: index as u64,
            leaf_count: leaves.len() as u64,
            siblings,
        })
    }

    /// The root that `leaf` at this proof's place leads to.
    pub fn root_of(&self, leaf: &[u8]) -> Result<Hash32, MerkleProofError> {
        if self.index >= self.leaf_count {
            return Err(MerkleProofError::NoSuchLeaf {
                index: self.index,
                leaf_count: self.leaf_count,
            });
        }
        let mut node = leaf_hash(leaf);
        let mut siblings = self.siblings.iter();
        // The whole path is walked, so that a proof of the wrong length is
        // told how many siblings its place needs.
        let (mut needed, mut short) = (0, false);
        let (mut at, mut width) = (self.index, self.leaf_count);
        while width > 1 {
            if at % 2 == 1 || at + 1 < width {
                needed += 1;
                match siblings.next() {
                    Some(sibling) if at % 2 == 0 => node = parent(&node, sibling),
                    Some(sibling) => node = parent(sibling, &node),
                    None => short = true,
                }
            }
            at /= 2;
            width = width.div_ceil(2);
        }
        if short || siblings.next().is_some() {
            return Err(MerkleProofError::WrongLength {
                given: self.siblings.len(),
                needed,
            });
        }
        Ok(node)
    }

    /// Checks that `leaf` is at this proof's place in the tree of `root`.
    pub fn verify(&self, root: &Hash32, leaf: &[u8]) -> Result<(), MerkleProofError> {
        let computed = self.root_of(leaf)?;
        if computed != *root {
            return Err(MerkleProofError::RootMismatch {
                computed,
                expected: *root,
            });
        }
        Ok(())
    }
}

/// A Merkle tree of a fixed power-of-two number of leaves, kept whole in
/// memory so that changing a few leaves costs their paths, not the tree. Its
/// root is [`merkle_root`] of the same leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    width: usize,
    /// Heap order: node 1 is the root, node i has children 2i and 2i + 1,
    /// and the leaves' hashes sit at `width..2 * width`.
    nodes: Vec<Hash32>,
}

impl MerkleTree {
    /// A tree of `width` leaves (a power of two, at least 1), each `empty`.
    pub fn filled(width: usize, empty: &[u8]) -> Self {
        assert!(width.is_power_of_two(), "a width of {width} leaves");
        let mut nodes = vec![Hash32::ZERO; 2 * width];
        let mut node = leaf_hash(empty);
        let mut level_width = width;
        // Every node of a level is the same: hash each level once.
        while level_width >= 1 {
            nodes[level_width..2 * level_width].fill(node);
            node = parent(&node, &node);
            level_width /= 2;
        }
        MerkleTree { width, nodes }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn root(&self) -> Hash32 {
        self.nodes[1]
    }

    /// Replaces leaf `index` (below `width`) and rehashes its path.
    pub fn set(&mut self, index: usize, leaf: &[u8]) {
        let mut at = self.width + index;
        self.nodes[at] = leaf_hash(leaf);
        while at > 1 {
            at /= 2;
            self.nodes[at] = parent(&self.nodes[2 * at], &self.nodes[2 * at + 1]);
        }
    }

    /// The root the tree would have with `changes` (leaf index, new leaf)
    /// made, without making them.
    pub fn root_with<'a>(&self, changes: impl IntoIterator<Item = (usize, &'a [u8])>) -> Hash32 {
        let mut changed: BTreeMap<usize, Hash32> = changes
            .into_iter()
            .map(|(index, leaf)| (self.width + index, leaf_hash(leaf)))
            .collect();
        while changed.keys().next().is_some_and(|&at| at > 1) {
            let node = |at: usize, changed: &BTreeMap<usize, Hash32>| {
                changed.get(&at).copied().unwrap_or(self.nodes[at])
            };
            changed = changed
                .keys()
                .map(|&at| at / 2)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|up| {
                    (
                        up,
                        parent(&node(2 * up, &changed), &node(2 * up + 1, &changed)),
                    )
                })
                .collect();
        }
        changed.get(&1).copied().unwrap_or(self.root())
    }

    /// The proof for leaf `index`; `None` past the last leaf.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        if index >= self.width {
            return None;
        }
        let mut siblings = Vec::new();
        let mut at = self.width + index;
        while at > 1 {
            siblings.push(self.nodes[at ^ 1]);
            at /= 2;
        }
        Some(MerkleProof {
            index: index as u64,
            leaf_count: self.width as u64,
            siblings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(count: u8) -> Vec<Vec<u8>> {
        (0..count).map(|i| vec![i, i.wrapping_mul(7)]).collect()
    }

    #[test]
    fn root_depends_on_every_leaf_and_order() {
        let leaves = leaves(5);
        let root = merkle_root(&leaves);
        for i in 0..leaves.len() {
            let mut changed = leaves.clone();
            changed[i].push(0xff);
            assert_ne!(merkle_root(&changed), root, "leaf {i} must count");
        }
        let mut swapped = leaves.clone();
        swapped.swap(0, 1);
        assert_ne!(merkle_root(&swapped), root);
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(merkle_root::<&[u8]>(&[]), Hash32::ZERO);
        assert_ne!(merkle_root(&[b"a"]), Hash32::ZERO);
        let proof = MerkleProof::new(&[b"a"], 0).expect("a leaf");
        assert!(proof.siblings.is_empty());
        assert_eq!(proof.verify(&merkle_root(&[b"a"]), b"a"), Ok(()));
        assert_eq!(MerkleProof::new::<&[u8]>(&[], 0), None);
    }

    #[test]
    fn every_leaf_of_every_size_proves_and_nothing_else_does() {
        for count in 1..=33u8 {
            let leaves = leaves(count);
            let root = merkle_root(&leaves);
            for (index, leaf) in leaves.iter().enumerate() {
                let proof = MerkleProof::new(&leaves, index).expect("a leaf");
                assert_eq!(proof.verify(&root, leaf), Ok(()), "{index} of {count}");

                // Another leaf's bytes at this place.
                let other = &leaves[(index + 1) % leaves.len()];
                if other != leaf {
                    assert!(matches!(
                        proof.verify(&root, other),
                        Err(MerkleProofError::RootMismatch { .. })
                    ));
                }
                // Each sibling altered.
                for s in 0..proof.siblings.len() {
                    let mut altered = proof.clone();
                    altered.siblings[s].0[0] ^= 1;
                    assert!(
                        matches!(
                            altered.verify(&root, leaf),
                            Err(MerkleProofError::RootMismatch { .. })
                        ),
                        "sibling {s} of leaf {index} of {count}"
                    );
                }
                // Another place, or another size, than the leaf's.
                let mut moved = proof.clone();
                moved.index = (moved.index + 1) % moved.leaf_count;
                if moved.index != proof.index {
                    assert!(moved.verify(&root, leaf).is_err());
                }
            }
        }
    }

    #[test]
    fn malformed_proofs_say_what_is_wrong() {
        let leaves = leaves(6);
        let root = merkle_root(&leaves);
        let proof = MerkleProof::new(&leaves, 2).expect("a leaf");
        let mut short = proof.clone();
        short.siblings.pop();
        assert_eq!(
            short.verify(&root, &leaves[2]),
            Err(MerkleProofError::WrongLength {
                given: 2,
                needed: 3
            })
        );
        let mut past_the_end = proof.clone();
        past_the_end.index = 6;
        assert_eq!(
            past_the_end.verify(&root, &leaves[2]),
            Err(MerkleProofError::NoSuchLeaf {
                index: 6,
                leaf_count: 6
            })
        );
    }

    #[test]
    fn a_kept_tree_agrees_with_the_root_of_its_leaves() {
        for width in [1usize, 2, 8, 64] {
            let mut leaves: Vec<Vec<u8>> = vec![b"empty".to_vec(); width];
            let mut tree = MerkleTree::filled(width, b"empty");
            assert_eq!(tree.root(), merkle_root(&leaves));
            for (step, index) in [0, width - 1, width / 2, 0].into_iter().enumerate() {
                let leaf = vec![step as u8; 3];
                let foreseen = tree.root_with([(index, leaf.as_slice())]);
                tree.set(index, &leaf);
                leaves[index] = leaf;
                assert_eq!(tree.root(), merkle_root(&leaves), "width {width}");
                assert_eq!(foreseen, tree.root(), "root_with agrees with set");
                for (i, leaf) in leaves.iter().enumerate() {
                    let proof = tree.proof(i).expect("a leaf");
                    assert_eq!(proof, MerkleProof::new(&leaves, i).expect("a leaf"));
                    assert_eq!(proof.verify(&tree.root(), leaf), Ok(()));
                }
            }
            // Several changes at once, one of them twice (the last counts).
            let changes: Vec<(usize, &[u8])> = vec![(0, b"a"), (width - 1, b"b"), (0, b"c")];
            let foreseen = tree.root_with(changes.iter().copied());
            for (index, leaf) in changes {
                tree.set(index, leaf);
            }
            assert_eq!(foreseen, tree.root());
            assert_eq!(tree.root_with([]), tree.root());
            assert_eq!(tree.proof(width), None);
        }
    }
}
