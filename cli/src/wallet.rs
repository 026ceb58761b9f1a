//! Key files and passphrases. Keys are age-encrypted files
//! (`kp_crypto::keystore`); the passphrase comes from `KP_PASSPHRASE`, else
//! from a prompt when kp runs on a terminal. Signing happens in this
//! process (`Ctx::write`, for the node's genesis hash): the secret key
//! never leaves it.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use kp_crypto::keystore;
use kp_crypto::{PublicKey, SecretKey};

pub const PASSPHRASE_ENV: &str = "KP_PASSPHRASE";

/// Whether the passphrase is being chosen (asked twice) or given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Create,
    Open,
}

fn passphrase(path: &Path, purpose: Purpose) -> Result<String> {
    match std::env::var(PASSPHRASE_ENV) {
        Ok(p) => return Ok(p),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{PASSPHRASE_ENV} is not valid UTF-8"),
        Err(std::env::VarError::NotPresent) => {}
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no passphrase for key file {}: set {PASSPHRASE_ENV}, or run kp on a terminal to be asked",
            path.display()
        );
    }
    let shown = path.display();
    let first = rpassword::prompt_password(format!("Passphrase for {shown}: "))
        .context("reading the passphrase from the terminal")?;
    if purpose == Purpose::Create {
        let again = rpassword::prompt_password(format!("Same passphrase again for {shown}: "))
            .context("reading the passphrase from the terminal")?;
        if again != first {
            bail!("the two passphrases differ; nothing was written");
        }
    }
    Ok(first)
}

/// Creates a new key at `path` (never over an existing file) and returns its
/// public key. `work_factor` is scrypt's log2 cost; `None` lets age take
/// about a second.
pub fn create_key(path: &Path, work_factor: Option<u8>) -> Result<PublicKey> {
    // Refuse before asking for a passphrase that would be thrown away.
    if path.exists() {
        bail!(
            "key file {} already exists; refusing to overwrite it",
            path.display()
        );
    }
    let pass = passphrase(path, Purpose::Create)?;
    if pass.is_empty() {
        bail!("the passphrase must not be empty");
    }
    let key = SecretKey::generate();
    keystore::write_key_file(path, &key, &pass, work_factor).map_err(|e| anyhow!(e))?;
    Ok(key.public())
}

pub fn load_key(path: &Path) -> Result<SecretKey> {
    if !path.exists() {
        bail!(
            "key file {} does not exist (make one with `kp key new --out FILE`)",
            path.display()
        );
    }
    let pass = passphrase(path, Purpose::Open)?;
    keystore::read_key_file(path, &pass).map_err(|e| anyhow!(e))
}
