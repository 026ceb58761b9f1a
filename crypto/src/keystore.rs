//! Key files: the 32-byte ed25519 seed, encrypted with age's passphrase mode
//! (scrypt + ChaCha20-Poly1305), a standard construction, nothing home-made.

use std::io::{Read, Write};
use std::path::Path;

use age::secrecy::SecretString;

use crate::keys::SecretKey;

/// scrypt cost `2^n` that decryption accepts at most, and encryption
/// writes at most: 2^20 takes 1 GiB and a few seconds. A key file names its
/// own cost, and scrypt runs before the passphrase can be found wrong, so
/// this bounds what any file (a corrupted or a hostile one) can make a
/// reader spend: at 2^22 it was 4 GiB and tens of seconds, found by the
/// `key_file` fuzz target. age's calibration to about a second stays under
/// it on any machine (2^21 moves 4 GiB through memory).
pub const MAX_WORK_FACTOR: u8 = 20;

#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {0} already exists; refusing to overwrite it")]
    Exists(String),
    #[error("cannot decrypt key file {path}: {reason} (wrong passphrase?)")]
    Decrypt { path: String, reason: String },
    #[error("key file {0} does not hold a 32-byte key")]
    Malformed(String),
    #[error("encryption failed: {0}")]
    Encrypt(String),
}

/// Encrypts `key` under `passphrase`. `work_factor` is scrypt's log2 cost;
/// `None` lets age tune it to about a second on this machine.
pub fn encrypt_key(
    key: &SecretKey,
    passphrase: &str,
    work_factor: Option<u8>,
) -> Result<Vec<u8>, KeystoreError> {
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    if let Some(log_n) = work_factor {
        recipient.set_work_factor(log_n.clamp(1, MAX_WORK_FACTOR));
    }
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| KeystoreError::Encrypt(e.to_string()))?;
    let mut out = Vec::new();
    let mut writer = encryptor
        .wrap_output(&mut out)
        .map_err(|e| KeystoreError::Encrypt(e.to_string()))?;
    writer
        .write_all(&key.seed())
        .and_then(|_| writer.finish().map(|_| ()))
        .map_err(|e| KeystoreError::Encrypt(e.to_string()))?;
    Ok(out)
}

/// Decrypts a key file's bytes. `label` names the file in errors.
pub fn decrypt_key(
    bytes: &[u8],
    passphrase: &str,
    label: &str,
) -> Result<SecretKey, KeystoreError> {
    KeyFileReader::new(passphrase).decrypt(bytes, label)
}

/// Decrypts key files under one passphrase. Making one times scrypt on this
/// machine (age calibrates its identities so), so whoever reads many files
/// (the fuzz target) makes it once.
pub struct KeyFileReader {
    identity: age::scrypt::Identity,
    max_work_factor: u8,
}

impl KeyFileReader {
    pub fn new(passphrase: &str) -> Self {
        Self::with_max_work_factor(passphrase, MAX_WORK_FACTOR)
    }

    /// A reader that refuses files costing more than `2^max_work_factor`
    /// (at most [`MAX_WORK_FACTOR`]); the fuzz target reads with a lower
    /// bound, where every input may cost a full scrypt.
    pub fn with_max_work_factor(passphrase: &str, max_work_factor: u8) -> Self {
        let max_work_factor = max_work_factor.min(MAX_WORK_FACTOR);
        let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
        identity.set_max_work_factor(max_work_factor);
        KeyFileReader {
            identity,
            max_work_factor,
        }
    }

    /// Decrypts a key file's bytes. `label` names the file in errors.
    pub fn decrypt(&self, bytes: &[u8], label: &str) -> Result<SecretKey, KeystoreError> {
        let fail = |reason: String| KeystoreError::Decrypt {
            path: label.to_owned(),
            reason,
        };
        let decryptor = age::Decryptor::new(bytes).map_err(|e| fail(e.to_string()))?;
        let mut reader = decryptor
            .decrypt(std::iter::once(&self.identity as &dyn age::Identity))
            .map_err(|e| match e {
                // Not age's own message: it computes 2^(asked - calibrated)
                // in an i32, which overflows (a panic with overflow checks)
                // for a file that asks far more than this machine's calibration.
                age::DecryptError::ExcessiveWork { required, .. } => fail(format!(
                    "the file asks for scrypt work 2^{required}, more than the 2^{} a key \
                     file may ask",
                    self.max_work_factor
                )),
                other => fail(other.to_string()),
            })?;
        let mut seed = Vec::with_capacity(32);
        reader
            .read_to_end(&mut seed)
            .map_err(|e| fail(e.to_string()))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| KeystoreError::Malformed(label.to_owned()))?;
        Ok(SecretKey::from_seed(seed))
    }
}

/// Writes a new encrypted key file, never over an existing one, readable by
/// its owner only.
pub fn write_key_file(
    path: &Path,
    key: &SecretKey,
    passphrase: &str,
    work_factor: Option<u8>,
) -> Result<(), KeystoreError> {
    let shown = path.display().to_string();
    let bytes = encrypt_key(key, passphrase, work_factor)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeystoreError::Exists(shown.clone())
        } else {
            KeystoreError::Write {
                path: shown.clone(),
                source,
            }
        }
    })?;
    file.write_all(&bytes)
        .and_then(|_| file.sync_all())
        .map_err(|source| KeystoreError::Write {
            path: shown,
            source,
        })
}

pub fn read_key_file(path: &Path, passphrase: &str) -> Result<SecretKey, KeystoreError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| KeystoreError::Read {
        path: shown.clone(),
        source,
    })?;
    decrypt_key(&bytes, passphrase, &shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = SecretKey::generate();
        write_key_file(&path, &key, "correct horse", Some(4)).unwrap();
        assert_eq!(
            read_key_file(&path, "correct horse").unwrap().public(),
            key.public()
        );
        assert!(matches!(
            read_key_file(&path, "wrong"),
            Err(KeystoreError::Decrypt { .. })
        ));
        assert!(matches!(
            write_key_file(&path, &key, "x", Some(4)),
            Err(KeystoreError::Exists(_))
        ));
    }

    /// A key file whose header names a cost of its own choosing: the
    /// `age-work-4` seed of the `key_file` fuzz target with its work factor
    /// raised (`fuzz/regressions/key_file/work-factor-22` is such a file).
    fn with_work_factor(log_n: u8) -> Vec<u8> {
        let key = SecretKey::from_seed([7; 32]);
        let bytes = encrypt_key(&key, "p", Some(4)).unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let stanza = text.find("-> scrypt ").expect("an scrypt stanza");
        let end = stanza + text[stanza..].find('\n').expect("a line");
        let at = stanza + text[stanza..end].rfind(' ').expect("arguments") + 1;
        assert_eq!(&bytes[at..end], b"4");
        let mut out = bytes[..at].to_vec();
        out.extend_from_slice(log_n.to_string().as_bytes());
        out.extend_from_slice(&bytes[end..]);
        out
    }

    /// Found by the `key_file` fuzz target: a 200-byte key file asking for
    /// scrypt at 2^22 made a reader spend 4 GiB and tens of seconds before
    /// the passphrase could be checked. Past the bound it is refused at once,
    /// and saying so does not overflow (age's own message for it computes
    /// 2^(asked - calibrated) in an i32: a panic at 2^63 with overflow checks).
    #[test]
    fn a_key_file_asking_more_work_than_the_bound_is_refused_at_once() {
        for log_n in [MAX_WORK_FACTOR + 1, 22, 40, 63] {
            let started = std::time::Instant::now();
            let refused = decrypt_key(&with_work_factor(log_n), "p", "x");
            assert!(
                matches!(&refused, Err(KeystoreError::Decrypt { reason, .. }) if reason.contains("work")),
                "work factor {log_n}: {refused:?}"
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
        }
        // The file with its own cost left as written still opens.
        let key = SecretKey::from_seed([7; 32]);
        let opened = decrypt_key(&with_work_factor(4), "p", "x").unwrap();
        assert_eq!(opened.public(), key.public());
    }

    #[test]
    fn file_is_not_plaintext() {
        let key = SecretKey::generate();
        let bytes = encrypt_key(&key, "p", Some(4)).unwrap();
        assert!(!bytes.windows(32).any(|w| w == key.seed()));
        assert!(matches!(
            decrypt_key(b"garbage", "p", "x"),
            Err(KeystoreError::Decrypt { .. })
        ));
    }
}
