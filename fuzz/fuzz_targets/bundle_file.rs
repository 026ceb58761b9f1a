//! The file `kp verify FILE --genesis GENESIS` reads: its text parsed
//! (`ReadBundle::parse`: JSON, hex, the canonical bytes) and verified
//! against the test genesis, the view compared with the bytes.
#![no_main]

use std::sync::OnceLock;

use kp_wire::bundle_file::ReadBundle;
use kp_ledger::genesis::Genesis;
use kp_ledger::testkit::test_genesis;
use libfuzzer_sys::fuzz_target;

fn genesis() -> &'static Genesis {
    static GENESIS: OnceLock<Genesis> = OnceLock::new();
    GENESIS.get_or_init(test_genesis)
}

fuzz_target!(|data: &[u8]| {
    // `kp verify` reads the file as text.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let read = match ReadBundle::parse(text) {
        Ok(read) => read,
        Err(e) => {
            let _ = (e.code(), e.to_string());
            return;
        }
    };
    match read.verify(genesis()) {
        Ok(verified) => {
            let _ = serde_json::to_string(&verified).expect("serializes");
        }
        Err(e) => {
            let _ = (e.code(), e.to_string());
        }
    }
});
