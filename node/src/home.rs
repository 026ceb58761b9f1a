//! A node's home directory: where its keys, its settings and its ledger
//! sit, for every kind of node (`kpnode dev`, `init`, `run`, `testnet`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use kp_crypto::SecretKey;
use kp_ledger::model::ParticipantCode;
use tracing::{info, warn};

/// Where everything sits under a home directory.
pub struct Layout {
    pub home: PathBuf,
    /// The chain's genesis, kept in the home once the node has one.
    pub genesis: PathBuf,
    pub keys: PathBuf,
    /// Signs votes and proposals; also the node's network identity.
    pub validator_key: PathBuf,
    pub data: PathBuf,
    pub db: PathBuf,
    /// The consensus engine's write-ahead log.
    pub wal: PathBuf,
}

impl Layout {
    pub fn new(home: &Path) -> Self {
        let data = home.join("data");
        Layout {
            home: home.to_owned(),
            genesis: home.join("genesis.json"),
            keys: home.join("keys"),
            validator_key: home.join("node").join("validator.key"),
            db: data.join("ledger.redb"),
            wal: data.join("wal"),
            data,
        }
    }

    pub fn authority_key(&self, code: ParticipantCode) -> PathBuf {
        self.keys.join(format!("{code}.key"))
    }

    pub fn node_dir(&self) -> PathBuf {
        self.home.join("node")
    }
}

/// The passphrase for keys written for trying things out (dev chains and
/// local testnets): `KP_PASSPHRASE` if set, else this, with a warning.
pub const TRYOUT_PASSPHRASE: &str = "dev";

/// The passphrase for throwaway keys and how to describe it.
pub fn tryout_passphrase() -> (String, String) {
    match std::env::var("KP_PASSPHRASE") {
        Ok(p) if !p.is_empty() => {
            info!("authority keys are encrypted with the passphrase from KP_PASSPHRASE");
            (p, "passphrase from KP_PASSPHRASE".to_owned())
        }
        _ => {
            warn!("KP_PASSPHRASE is not set: authority keys are encrypted with the passphrase \"{TRYOUT_PASSPHRASE}\"; they are for trying things out only");
            (
                TRYOUT_PASSPHRASE.to_owned(),
                format!("passphrase \"{TRYOUT_PASSPHRASE}\""),
            )
        }
    }
}

pub fn create_dirs(dirs: &[&Path]) -> anyhow::Result<()> {
    for dir in dirs {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(())
}

pub fn dir_has_entries(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

/// The validator key signs unattended, so it is kept as a plain hex seed,
/// readable by its owner only.
pub fn write_validator_key(path: &Path, key: &SecretKey) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(format!("{}\n", hex::encode(key.seed())).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

pub fn read_validator_key(path: &Path) -> anyhow::Result<SecretKey> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_validator_key(&text)
        .with_context(|| format!("{} does not hold a 64-hex-character key", path.display()))
}

/// A validator key file's text: the seed in hex, with any surrounding
/// white space.
pub fn parse_validator_key(text: &str) -> Result<SecretKey, hex::FromHexError> {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed)?;
    Ok(SecretKey::from_seed(seed))
}

pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    kp_crypto::files::write_atomically(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}
