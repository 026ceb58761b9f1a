//! `kp key`: make and inspect encrypted key files.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use crate::commands::Ctx;
use crate::output;
use crate::wallet;

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Make a new signing key in an encrypted file; print its public key
    #[command(
        long_about = "Make a new ed25519 signing key and write it to FILE, encrypted under a \
            passphrase (age, scrypt). Prints the public key: give it to your authority to be \
            enrolled, or to a trading partner to receive transfers.\n\n\
            The passphrase is read from KP_PASSPHRASE, else asked twice on the terminal. \
            An existing file is never overwritten.",
        after_help = "Example:\n  kp key new --out debswana.key\n  \
            KP_PASSPHRASE=… kp key new --out debswana.key --work-factor 18"
    )]
    New {
        /// Where to write the key file
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// scrypt cost, as a power of two (1 to 20); default: about one second on this machine
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=20))]
        work_factor: Option<u8>,
    },
    /// Print the public key of an encrypted key file
    #[command(
        long_about = "Open an encrypted key file (the passphrase from KP_PASSPHRASE, else a \
            prompt) and print its public key.",
        after_help = "Example:\n  kp key show debswana.key"
    )]
    Show {
        /// The key file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

pub fn run(ctx: &Ctx, cmd: KeyCmd) -> Result<()> {
    let (file, public) = match cmd {
        KeyCmd::New { out, work_factor } => {
            let public = wallet::create_key(&out, work_factor)?;
            if !ctx.json {
                output::note(&format!("wrote key file {}", out.display()));
            }
            (out, public)
        }
        KeyCmd::Show { file } => {
            let public = wallet::load_key(&file)?.public();
            (file, public)
        }
    };
    if ctx.json {
        return output::json(&json!({
            "file": file.display().to_string(),
            "public_key": public,
        }));
    }
    output::stdout(&public.to_string());
    Ok(())
}
