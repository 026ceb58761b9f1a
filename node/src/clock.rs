//! This machine's clock. A leaf module: the wiring, the set-up commands,
//! admission and consensus all read it, and it reads nothing of theirs.

use std::time::{SystemTime, UNIX_EPOCH};

/// This machine's clock, UTC seconds: a proposal for block time, never read
/// by the rules themselves.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
