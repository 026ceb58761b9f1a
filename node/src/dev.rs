//! `kpnode dev`: a one-validator chain on this machine, for trying things
//! out. The first run writes a genesis from the scheme's Participants (the
//! embedded 2017 list), an encrypted authority key per Participant and the
//! first Participant's validator key (the others run no validator); later
//! runs resume from them.

use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use kp_crypto::keystore::write_key_file;
use kp_crypto::SecretKey;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::{Participant, ParticipantCode, ParticipantStatus};
use tracing::{info, warn};

use crate::clock::now_secs;
use crate::consensus::{local_timeouts, Settings};
use crate::home::{
    create_dirs, dir_has_entries, read_validator_key, tryout_passphrase, write_atomically,
    write_validator_key, Layout,
};
use crate::node::RunConfig;
use crate::server::{ApiLimitArgs, ApiLimits};
use kp_ledger::summary::short_id;

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Directory holding the chain: genesis.json, keys/, node/, data/.
    /// Created on first run, resumed from afterwards.
    #[arg(long, value_name = "DIR", default_value = "kpnode-dev")]
    pub home: PathBuf,
    /// Address the HTTP API listens on (loopback unless you mean otherwise).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8780")]
    pub api: SocketAddr,
    /// Founding Participants by code, first run only (default: every
    /// Participant of the scheme). The first one's validator runs the chain.
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub participants: Vec<String>,
    /// Longest wait for a first transaction before the validator proposes an
    /// empty block (transactions that wait are proposed at once).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub idle_block_ms: u64,
    #[command(flatten)]
    pub api_limits: ApiLimitArgs,
}

const CHAIN_ID: &str = "kp-dev";
/// The 2017 Participants (see `docs/domain.md`, "The genesis file"), embedded so the
/// binary needs no data files.
const PARTICIPANTS_CSV: &str = include_str!("../data/kp-participants.csv");
/// The compliant zones of partly suspended Participants (CAR, 2016).
const COMPLIANT_ZONES: &[(&str, &[&str])] = &[("CF", &["Berbérati", "Boda", "Carnot", "Nola"])];
/// scrypt cost 2^10: dev keys are throwaway and there are about 55 of them,
/// so writing them should take moments, not a minute.
const DEV_KEY_WORK_FACTOR: u8 = 10;

/// Creates or resumes the dev chain under `--home` and says where things are.
pub fn prepare(args: &DevArgs) -> anyhow::Result<RunConfig> {
    let layout = Layout::new(&args.home);
    let (genesis, validator, passphrase_note) = if layout.genesis.exists() {
        resume(&layout, args)?
    } else {
        create(&layout, args)?
    };
    create_dirs(&[&layout.data, &layout.wal])?;

    let codes: Vec<String> = genesis
        .participants
        .iter()
        .map(|p| p.code.to_string())
        .collect();
    let runner = genesis
        .participants
        .first()
        .map(|p| p.code.to_string())
        .unwrap_or_default();
    println!(
        "kpnode dev: chain {} of {} Participants, genesis {}",
        genesis.chain_id,
        codes.len(),
        short_id(&genesis.hash())
    );
    println!("home       {}", layout.home.display());
    println!("genesis    {}", layout.genesis.display());
    println!(
        "keys       {}  ({passphrase_note})",
        layout.keys.join("<CODE>.key").display()
    );
    println!(
        "validator  {}  ({runner}'s validator, unencrypted)",
        layout.validator_key.display()
    );
    println!("ledger     {}", layout.db.display());
    Ok(RunConfig {
        genesis,
        db_path: layout.db,
        api_addr: args.api,
        api_limits: args.api_limits.over(ApiLimits::default()),
        consensus: Settings {
            wal_dir: layout.wal,
            moniker: format!("{runner}-dev"),
            key: Arc::new(validator),
            // One validator: nobody to talk to, any free port will do.
            listen: "/ip4/127.0.0.1/tcp/0".parse()?,
            peers: Vec::new(),
            timeouts: local_timeouts(),
            idle_wait: Duration::from_millis(args.idle_block_ms),
            #[cfg(feature = "byzantine")]
            byzantine: None,
        },
        gossip: None,
    })
}

fn create(layout: &Layout, args: &DevArgs) -> anyhow::Result<(Genesis, SecretKey, String)> {
    // Keys without a genesis mean an earlier first run stopped half-way;
    // key files are never overwritten, so say how to start over.
    if layout.validator_key.exists() || dir_has_entries(&layout.keys) {
        bail!(
            "{} holds keys but no genesis.json (an earlier first run was interrupted?); \
             remove {} and {} to start over, or choose another --home",
            layout.home.display(),
            layout.keys.display(),
            layout.validator_key.display()
        );
    }
    let founders = select(&scheme_participants()?, &args.participants)?;
    let (passphrase, passphrase_note) = tryout_passphrase();
    create_dirs(&[&layout.keys, &layout.node_dir()])?;

    if founders.is_empty() {
        bail!("no Participants were selected")
    }
    // One validator: the first Participant's. The others govern with their
    // authority keys and run no validator.
    let validator = SecretKey::generate();
    let mut participants = Vec::with_capacity(founders.len());
    for founder in founders {
        let authority = SecretKey::generate();
        let path = layout.authority_key(founder.code);
        write_key_file(&path, &authority, &passphrase, Some(DEV_KEY_WORK_FACTOR))?;
        participants.push(Participant {
            code: founder.code,
            name: founder.name,
            authority: authority.public(),
            validator: participants.is_empty().then(|| validator.public()),
            status: founder.status,
        });
    }
    let genesis = Genesis {
        chain_id: CHAIN_ID.to_owned(),
        genesis_time: now_secs(),
        participants,
    };
    genesis.validate()?;
    write_validator_key(&layout.validator_key, &validator)?;
    // Last, and whole or not at all: its presence marks a finished first run.
    write_atomically(&layout.genesis, genesis.to_json().as_bytes())?;
    info!(participants = genesis.participants.len(), home = %layout.home.display(), "created a dev chain");
    Ok((genesis, validator, passphrase_note))
}

fn resume(layout: &Layout, args: &DevArgs) -> anyhow::Result<(Genesis, SecretKey, String)> {
    let text = fs::read_to_string(&layout.genesis)
        .with_context(|| format!("cannot read {}", layout.genesis.display()))?;
    let genesis = Genesis::from_json(&text)
        .with_context(|| format!("{} is not a genesis file", layout.genesis.display()))?;
    let founders: Vec<String> = genesis
        .participants
        .iter()
        .map(|p| p.code.to_string())
        .collect();
    let asked: Vec<String> = args
        .participants
        .iter()
        .map(|c| c.trim().to_ascii_uppercase())
        .collect();
    if !asked.is_empty() && asked != founders {
        warn!(
            "--participants is ignored: {} already exists and fixes the Participants ({})",
            layout.genesis.display(),
            founders.join(",")
        );
    }
    let validator = read_validator_key(&layout.validator_key)?;
    let first = genesis
        .participants
        .first()
        .context("genesis lists no Participants")?;
    if first.validator != Some(validator.public()) {
        bail!(
            "{} is not the validator key of {} (the first Participant of {})",
            layout.validator_key.display(),
            first.code,
            layout.genesis.display()
        );
    }
    info!(home = %layout.home.display(), "resuming the dev chain");
    Ok((genesis, validator, "as set on the first run".to_owned()))
}

/// A Participant as the embedded list gives it.
pub struct Founder {
    pub code: ParticipantCode,
    pub name: String,
    pub status: ParticipantStatus,
}

pub fn scheme_participants() -> anyhow::Result<Vec<Founder>> {
    #[derive(serde::Deserialize)]
    struct Row {
        code: String,
        name: String,
        status_2017: String,
    }
    let mut reader = csv::Reader::from_reader(PARTICIPANTS_CSV.as_bytes());
    let mut founders = Vec::new();
    for row in reader.deserialize::<Row>() {
        let row = row.context("the embedded Participants list is malformed")?;
        let code: ParticipantCode = row.code.parse()?;
        let status = match row.status_2017.as_str() {
            // Venezuela was readmitted in 2016: active again.
            "active" | "resumed" => ParticipantStatus::Active,
            "partial" => {
                let zones = COMPLIANT_ZONES
                    .iter()
                    .find(|(c, _)| *c == row.code)
                    .map(|(_, zones)| zones.iter().map(|z| z.to_string()).collect())
                    .with_context(|| {
                        format!("{code} is partly suspended but has no compliant zones listed")
                    })?;
                ParticipantStatus::Restricted { zones }
            }
            other => {
                bail!("{code} has an unknown status `{other}` in the embedded Participants list")
            }
        };
        founders.push(Founder {
            code,
            name: row.name,
            status,
        });
    }
    Ok(founders)
}

/// The Participants named in `wanted`, in that order; all of them if empty.
fn select(all: &[Founder], wanted: &[String]) -> anyhow::Result<Vec<Founder>> {
    let copy = |f: &Founder| Founder {
        code: f.code,
        name: f.name.clone(),
        status: f.status.clone(),
    };
    if wanted.is_empty() {
        return Ok(all.iter().map(copy).collect());
    }
    let mut chosen: Vec<Founder> = Vec::with_capacity(wanted.len());
    for text in wanted {
        let code: ParticipantCode = text.parse()?;
        if chosen.iter().any(|f| f.code == code) {
            bail!("--participants names {code} twice");
        }
        let founder = all.iter().find(|f| f.code == code).with_context(|| {
            let known: Vec<&str> = all.iter().map(|f| f.code.as_str()).collect();
            format!(
                "{code} is not a Participant of the scheme (known: {})",
                known.join(",")
            )
        })?;
        chosen.push(copy(founder));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_list_is_the_scheme() {
        let all = scheme_participants().expect("the embedded list parses");
        assert_eq!(all.len(), 55, "54 Participants and Chinese Taipei");
        let cf = all.iter().find(|f| f.code.as_str() == "CF").expect("CAR");
        assert!(matches!(&cf.status, ParticipantStatus::Restricted { zones } if zones.len() == 4));
        let ve = all
            .iter()
            .find(|f| f.code.as_str() == "VE")
            .expect("Venezuela");
        assert_eq!(ve.status, ParticipantStatus::Active);
    }

    #[test]
    fn selection_keeps_the_order_given() {
        let all = scheme_participants().expect("parses");
        let wanted = ["za", "BW"].map(str::to_owned);
        let chosen = select(&all, &wanted).expect("known codes");
        let codes: Vec<&str> = chosen.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["ZA", "BW"]);
        assert!(select(&all, &["XX".to_owned()]).is_err());
        assert!(select(&all, &["BW".to_owned(), "bw".to_owned()]).is_err());
    }
}
