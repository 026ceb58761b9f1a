//! Why the store could not do what was asked: the database failed, the file
//! belongs to another chain, a block does not follow the stored tip, or a
//! query by id prefix found nothing or too much.

use kp_crypto::Hash32;

use kp_ledger::state::StorageFault;

/// The shortest id prefix accepted back from users (see `docs/commands.md`).
pub const ID_PREFIX_CHARS_MIN: usize = 8;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("cannot open the ledger database {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("the ledger database {path} is in use by another process (is a node already running on this home?)")]
    InUse { path: String },
    #[error("ledger database failed: {0}")]
    Storage(String),
    #[error("ledger database holds a record it cannot read: {0}")]
    Corrupt(String),
    #[error(
        "{path} holds a ledger of {}; this kpnode reads format {expected}, and a ledger is not \
         converted (its signatures cover other bytes). Start the chain again: give this kpnode \
         a new home, or move this home's data directory away and start it again (the chain \
         begins anew from its genesis, without the old history); or run the kpnode that made it",
        found.map_or("an earlier, unversioned format".to_owned(), |f| format!("format {f}"))
    )]
    Format {
        path: String,
        found: Option<u32>,
        expected: u32,
    },
    #[error("the ledger database {path} belongs to genesis {stored}, not to this genesis {expected}; use the matching genesis file or another home")]
    GenesisMismatch {
        path: String,
        stored: Hash32,
        expected: Hash32,
    },
    #[error("block {height} (parent {prev_hash}) does not build on the stored tip {tip_height} ({tip_hash})")]
    NotOnTip {
        tip_height: u64,
        tip_hash: Hash32,
        height: u64,
        prev_hash: Hash32,
    },
    #[error("applied block is inconsistent: {0}")]
    InconsistentBlock(String),
    #[error("no {what} {key}")]
    NotFound { what: &'static str, key: String },
    #[error("{what} prefix `{prefix}` matches more than one; give more characters")]
    AmbiguousPrefix { what: &'static str, prefix: String },
    #[error("id prefix `{0}` is too short; give at least {ID_PREFIX_CHARS_MIN} hex characters")]
    PrefixTooShort(String),
    #[error("`{0}` is not hexadecimal")]
    BadHex(String),
    #[error("`{0}` is longer than an id (64 hex characters)")]
    BadId(String),
}

impl StoreError {
    /// The stable machine-readable code. Never change one; add new ones.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Open { .. } => "storage_open",
            StoreError::InUse { .. } => "storage_in_use",
            StoreError::Storage(_) => "storage",
            StoreError::Corrupt(_) => "storage_corrupt",
            StoreError::Format { .. } => "storage_format",
            StoreError::GenesisMismatch { .. } => "genesis_mismatch",
            StoreError::NotOnTip { .. } => "not_on_tip",
            StoreError::InconsistentBlock(_) => "inconsistent_block",
            StoreError::NotFound { .. } => "not_found",
            StoreError::AmbiguousPrefix { .. } => "ambiguous_prefix",
            StoreError::PrefixTooShort(_) => "prefix_too_short",
            StoreError::BadHex(_) => "bad_hex",
            StoreError::BadId(_) => "bad_id",
        }
    }
}

/// Any redb failure, as one storage error carrying redb's message.
pub(crate) fn storage(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Storage(e.into().to_string())
}

impl From<StorageFault> for StoreError {
    fn from(fault: StorageFault) -> Self {
        StoreError::Storage(fault.0)
    }
}

impl From<StoreError> for StorageFault {
    fn from(e: StoreError) -> Self {
        StorageFault(e.to_string())
    }
}
