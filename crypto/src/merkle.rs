use crate::hash::{hash_domain, Hash32};

const LEAF_CONTEXT: &str = "kp-ledger 2026 merkle leaf v1";
const NODE_CONTEXT: &str = "kp-ledger 2026 merkle node v1";

/// The root of a binary Merkle tree over `leaves` (each hashed as a leaf
/// first). Leaves and inner nodes hash under different contexts so that an
/// inner node can never pass for a leaf. An odd node is carried up unchanged;
/// an empty tree's root is all zeros.
pub fn merkle_root<T: AsRef<[u8]>>(leaves: &[T]) -> Hash32 {
    if leaves.is_empty() {
        return Hash32::ZERO;
    }
    let mut level: Vec<Hash32> = leaves
        .iter()
        .map(|leaf| hash_domain(LEAF_CONTEXT, &[leaf.as_ref()]))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => hash_domain(NODE_CONTEXT, &[&left.0, &right.0]),
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_depends_on_every_leaf_and_order() {
        let leaves: Vec<Vec<u8>> = (0u8..5).map(|i| vec![i]).collect();
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
    }
}
