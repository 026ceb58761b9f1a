//! Key files: byte 0 picks an encrypted key file (age, scrypt passphrase:
//! `kp_crypto::keystore`, as `kp` and the tests read authority and member
//! keys) (0), or a validator key file's hex text (`home::parse_validator_key`,
//! as `kpnode run` reads it) (1). A key that comes out signs and verifies.
#![no_main]

use std::sync::OnceLock;

use kp_crypto::keystore::KeyFileReader;
use kp_crypto::SecretKey;
use kp_fuzz::seeds::KEY_FILE_PASSPHRASE;
use libfuzzer_sys::fuzz_target;

/// Files asking more scrypt work than 2^4 are refused as past the bound
/// (the production bound, `keystore::MAX_WORK_FACTOR`, is 2^20, seconds a
/// run: a cost by design, which `keystore`'s own tests cover). The seeds ask
/// 2^1 to 2^4, so every path of the reader is reached, while scrypt itself
/// (not our code) no longer takes most of each run: at 2^12 the target ran
/// 1,600 times a second, the fuzzer having learnt to write files that pass
/// the bound. Made once: making one times scrypt (age's calibration).
fn reader() -> &'static KeyFileReader {
    static READER: OnceLock<KeyFileReader> = OnceLock::new();
    READER.get_or_init(|| KeyFileReader::with_max_work_factor(KEY_FILE_PASSPHRASE, 4))
}

fn usable(key: &SecretKey) {
    let signature = key.sign(b"kp fuzz");
    assert!(key.public().verify(b"kp fuzz", &signature).is_ok());
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        match reader().decrypt(bytes, "fuzz.key") {
            Ok(key) => usable(&key),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(key) = kp_node::home::parse_validator_key(text) {
            usable(&key);
            assert_eq!(hex::encode(key.seed()), text.trim().to_ascii_lowercase());
        }
    }
});
