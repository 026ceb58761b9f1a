//! The bytes of a value that the ledger hashes or signs: its borsh
//! encoding, made in one place, so that every hash and signature covers
//! one byte string per value and none can quietly cover an empty one.

use borsh::BorshSerialize;

/// `value`'s canonical bytes.
///
/// It cannot fail. Borsh fails only when its writer does, and a `Vec`
/// grows rather than failing; or for a value it will not write, which the
/// ledger's types never are: they hold no floats (NaN is refused) and no
/// collection of more than `u32::MAX` items (a length is a u32), every one
/// being bounded far below that (blocks, text fields, Participant sets).
pub fn canonical_bytes<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Err(e) = value.serialize(&mut bytes) {
        unreachable!("a ledger value has no canonical bytes: {e}");
    }
    bytes
}
