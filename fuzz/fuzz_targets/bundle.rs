//! A provenance bundle's canonical bytes (borsh), the part of a bundle file
//! that is verified: decoded, checked canonical, verified against the test
//! genesis (every step of `kp_ledger::bundle`), and written out as a file
//! (the JSON view of whatever it holds), which must read back as the same
//! bundle and, for a bundle that verifies, verify the same.
#![no_main]

use std::sync::OnceLock;

use kp_ledger::bundle::{Bundle, BundleError, BUNDLE_FORMAT};
use kp_wire::bundle_file::{to_file, ReadBundle};
use kp_ledger::genesis::Genesis;
use kp_ledger::testkit::test_genesis;
use libfuzzer_sys::fuzz_target;

fn genesis() -> &'static Genesis {
    static GENESIS: OnceLock<Genesis> = OnceLock::new();
    GENESIS.get_or_init(test_genesis)
}

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = borsh::from_slice::<Bundle>(data) else {
        return;
    };
    kp_fuzz::assert_canonical(&bundle, data, "bundle");
    let verified = bundle.verify(genesis());
    if let Err(e) = &verified {
        let _ = (e.code(), e.to_string());
    }
    let file = to_file(&bundle);
    let read = match ReadBundle::parse(&file) {
        Ok(read) => read,
        // A file says which format its bytes are in; this build reads one.
        Err(BundleError::Format { found }) if found != BUNDLE_FORMAT => return,
        Err(e) => panic!("a bundle's own file does not read back: {e}"),
    };
    assert_eq!(read.bundle, bundle);
    if let Ok(verified) = verified {
        let _ = serde_json::to_string(&verified).expect("serializes");
        assert_eq!(read.verify(genesis()), Ok(verified));
    }
});
