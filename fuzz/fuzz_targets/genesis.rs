//! A genesis file (`Genesis::from_json`, as `kpnode run`, `kp verify` and
//! `kp trace --verify` read it): what parses and validates must write and
//! read back as itself; then what a node makes of it: its hash, the state
//! at height 0 and the validator set that decides block 1.
#![no_main]

use std::sync::OnceLock;

use kp_ledger::genesis::Genesis;
use kp_ledger::rules::validator_set;
use kp_ledger::mem_state::MemState;
use kp_ledger::state::Layered;
use libfuzzer_sys::fuzz_target;

/// An empty state, made once (its parcel tree is 4 MiB).
fn empty() -> &'static MemState {
    static EMPTY: OnceLock<MemState> = OnceLock::new();
    EMPTY.get_or_init(MemState::default)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let genesis = match Genesis::from_json(text) {
        Ok(genesis) => genesis,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let again = Genesis::from_json(&genesis.to_json()).expect("a genesis's own JSON reads back");
    assert_eq!(again, genesis);
    assert_eq!(again.hash(), genesis.hash());
    let tip = genesis.tip();
    assert_eq!(tip.height, 0);
    let delta = genesis.initial_delta();
    let state = Layered {
        base: empty(),
        delta: &delta,
    };
    let set = validator_set(&state).expect("in memory");
    assert_eq!(set, genesis.validators());
    assert!(!set.is_empty(), "a valid genesis has a validator");
});
