//! Fills a `kpnode dev` home with a large ledger, fast, for benchmarks: it
//! builds and commits real blocks (every rule and signature checked) straight
//! into the node's database while the node is stopped. Includes one parcel
//! with a chain of 50 ancestors (50 splits from one mine parcel), whose id it
//! prints last, for tracing; and, for the statistics, a shipment from BW to
//! the EU every 50 rounds (certificate issued and received), over three HS
//! codes. The home must have BW and EU as Participants.
//!
//!   ledger-fill --home DIR --txs 1000000

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use kp_crypto::keystore::read_key_file;
use kp_crypto::{hash_domain, PublicKey, SecretKey};
use kp_ledger::block::{build_block, NONE_CHECKED};
use kp_ledger::chain::ChainIdentity;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::{HsCode, ParcelId, Role};
use kp_ledger::rules::{parcel_id, transfer_id};
use kp_ledger::tx::{Body, DecodedTx, SplitOutput, TxPayload};
use kp_ledger::units::day_of;
use kp_store::{ProofCertificates, Store};

#[derive(Parser)]
#[command(about = "Fill a stopped kpnode dev home with a large, valid ledger")]
struct Args {
    /// The home that `kpnode dev --participants BW,...` created.
    #[arg(long)]
    home: PathBuf,
    /// How many transactions to add, in all.
    #[arg(long)]
    txs: u64,
    /// Passphrase of the dev keys.
    #[arg(long, env = "KP_PASSPHRASE", default_value = "dev")]
    passphrase: String,
    /// Transactions per block.
    #[arg(long, default_value_t = 5_000)]
    block_txs: usize,
    /// Depth of the traced parcel's ancestry.
    #[arg(long, default_value_t = 50)]
    depth: u32,
}

const MINERS: usize = 200;
/// One shipment (5 transactions) per this many rounds of 3.
const SHIPMENT_EVERY: usize = 50;

struct Filler {
    store: Store,
    chain: ChainIdentity,
    proposer: PublicKey,
    keys: HashMap<PublicKey, SecretKey>,
    nonces: HashMap<PublicKey, u64>,
    pending: Vec<DecodedTx>,
    block_txs: usize,
    committed: u64,
    started: Instant,
    /// Time spent building and committing blocks (signing excluded), and
    /// the transactions committed, since the last report.
    window_secs: f64,
    window_txs: u64,
    block_secs: f64,
}

impl Filler {
    fn sign(&mut self, signer: PublicKey, body: Body) -> Result<DecodedTx> {
        let nonce = self.nonces.entry(signer).or_insert(0);
        *nonce += 1;
        let key = self.keys.get(&signer).context("unknown key")?;
        let tx = TxPayload {
            signer,
            nonce: *nonce,
            genesis: self.chain.genesis,
            body,
        }
        .sign(key);
        let decoded = DecodedTx::decode(tx.to_bytes())?;
        self.pending.push(decoded.clone());
        if self.pending.len() >= self.block_txs {
            self.flush()?;
        }
        Ok(decoded)
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let txs = std::mem::take(&mut self.pending);
        let count = txs.len();
        let block_started = Instant::now();
        let snapshot = self.store.snapshot()?;
        let tip = snapshot.tip()?;
        let built = build_block(
            &snapshot,
            &tip,
            &self.chain,
            tip.time + 1,
            self.proposer,
            txs,
            NONE_CHECKED,
        )?;
        if let Some((id, why)) = built.rejected.first() {
            bail!("transaction {id} was refused: {why} ({})", why.code());
        }
        drop(snapshot);
        self.store.commit(&built.applied, &[])?;
        let seconds = block_started.elapsed().as_secs_f64();
        self.block_secs += seconds;
        self.window_secs += seconds;
        self.window_txs += count as u64;
        self.committed += count as u64;
        if self.committed % 100_000 < count as u64 {
            eprintln!(
                "{} transactions committed; blocks of {count} built and committed at {:.0}/s over the last {} (signing excluded)",
                self.committed,
                self.window_txs as f64 / self.window_secs,
                self.window_txs
            );
            self.window_secs = 0.0;
            self.window_txs = 0;
        }
        Ok(())
    }

    fn remember(&mut self, name: &str) -> PublicKey {
        let key = SecretKey::from_seed(hash_domain("kp ledger-fill key", &[name.as_bytes()]).0);
        let public = key.public();
        self.keys.insert(public, key);
        public
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let genesis_text =
        std::fs::read_to_string(args.home.join("genesis.json")).context("read genesis.json")?;
    let genesis = Genesis::from_json(&genesis_text)?;
    // Its blocks carry no commit certificate, and it builds no bundle: the
    // format certificates are read in is never asked for.
    let path = args.home.join("data").join("ledger.redb");
    let store = Store::open(&path, &genesis, Arc::new(ProofCertificates))?;
    let authority = read_key_file(&args.home.join("keys").join("BW.key"), &args.passphrase)?;
    let proposer = genesis.participants[0]
        .validator
        .context("the first Participant of the genesis runs no validator")?;
    let mut f = Filler {
        store,
        chain: genesis.identity(),
        proposer,
        keys: HashMap::new(),
        nonces: HashMap::new(),
        pending: Vec::new(),
        block_txs: args.block_txs,
        committed: 0,
        started: Instant::now(),
        window_secs: 0.0,
        window_txs: 0,
        block_secs: 0.0,
    };
    let authority_key = authority.public();
    let snapshot = f.store.snapshot()?;
    f.nonces.insert(
        authority_key,
        kp_ledger::state::StateRead::nonce(&snapshot, &authority_key)?,
    );
    drop(snapshot);
    f.keys.insert(authority_key, authority);
    let eu = read_key_file(&args.home.join("keys").join("EU.key"), &args.passphrase)
        .context("read keys/EU.key: the home needs the EU as a Participant")?;
    let eu_key = eu.public();
    let snapshot = f.store.snapshot()?;
    f.nonces.insert(
        eu_key,
        kp_ledger::state::StateRead::nonce(&snapshot, &eu_key)?,
    );
    drop(snapshot);
    f.keys.insert(eu_key, eu);

    let run = format!("{}", f.store.tip()?.height);
    let miners: Vec<PublicKey> = (0..MINERS)
        .map(|i| f.remember(&format!("{run} miner {i}")))
        .collect();
    for (i, miner) in miners.iter().enumerate() {
        let body = Body::EnrolMember {
            member: *miner,
            role: Role::Miner,
            name: format!("Mine {i}"),
            licence: format!("BW-ML-{i:04}"),
            zone: None,
        };
        f.sign(authority_key, body)?;
    }
    let exporter = f.remember(&format!("{run} exporter"));
    let importer = f.remember(&format!("{run} importer"));
    for (authority, member, role) in [
        (authority_key, exporter, Role::Exporter),
        (eu_key, importer, Role::Importer),
    ] {
        let body = Body::EnrolMember {
            member,
            role,
            name: format!("{role}"),
            licence: format!("FILL-{role}"),
            zone: None,
        };
        f.sign(authority, body)?;
    }
    f.flush()?;
    let expires_on = day_of(f.store.tip()?.time) + 3_650;

    // The deep parcel: one registration, then `depth` splits, each of the
    // previous split's first output.
    let deep_miner = miners[0];
    let mut mass = 1_000_000u64;
    let first = f.sign(deep_miner, register(mass, 10_000))?;
    let mut deep: ParcelId = parcel_id(&first.id, 0);
    for _ in 0..args.depth {
        let outputs = vec![
            SplitOutput {
                milli_carats: mass - 1_000,
                hs_code: None,
            },
            SplitOutput {
                milli_carats: 1_000,
                hs_code: None,
            },
        ];
        let split = f.sign(
            deep_miner,
            Body::SplitParcel {
                parcel: deep,
                outputs,
            },
        )?;
        deep = parcel_id(&split.id, 0);
        mass -= 1_000;
    }

    // The bulk: each miner registers a parcel and hands it to the next,
    // who accepts: three transactions a round.
    let mut round = 0usize;
    while f.committed + (f.pending.len() as u64) + 3 <= args.txs {
        let from = miners[round % MINERS];
        let to = miners[(round + 1) % MINERS];
        let registered = f.sign(from, register(1_000 + (round % 997) as u64, 10))?;
        let offer = f.sign(
            from,
            Body::OfferTransfer {
                parcel: parcel_id(&registered.id, 0),
                to,
                price_cents: Some(150_000),
            },
        )?;
        f.sign(
            to,
            Body::AcceptTransfer {
                transfer: transfer_id(&offer.id),
            },
        )?;
        if round.is_multiple_of(SHIPMENT_EVERY)
            && f.committed + (f.pending.len() as u64) + 5 <= args.txs
        {
            let shipment = round / SHIPMENT_EVERY;
            let hs = [HsCode::UNSORTED, HsCode::INDUSTRIAL, HsCode::NON_INDUSTRIAL][shipment % 3];
            let mut body = register(5_000 + (round % 991) as u64, 20);
            if let Body::RegisterParcel { hs_code, .. } = &mut body {
                *hs_code = hs;
            }
            let registered = f.sign(from, body)?;
            let parcel = parcel_id(&registered.id, 0);
            let offer = f.sign(
                from,
                Body::OfferTransfer {
                    parcel,
                    to: exporter,
                    price_cents: None,
                },
            )?;
            f.sign(
                exporter,
                Body::AcceptTransfer {
                    transfer: transfer_id(&offer.id),
                },
            )?;
            let number = format!("BW-F{run}-{shipment}");
            let issue = Body::IssueCertificate {
                number: number.clone(),
                exporter,
                importer,
                destination: kp_ledger::model::ParticipantCode(*b"EU"),
                parcels: vec![parcel],
                hs_codes: vec![hs],
                expires_on,
                value_cents: None,
            };
            f.sign(authority_key, issue)?;
            let milli_carats = 5_000 + (round % 991) as u64;
            let receive = Body::ReceiveCertificate {
                number,
                milli_carats,
                parcel_count: 1,
            };
            f.sign(eu_key, receive)?;
        }
        round += 1;
    }
    f.flush()?;
    let seconds = f.started.elapsed().as_secs_f64();
    eprintln!(
        "filled: {} transactions in {seconds:.1} s ({:.0}/s with signing; blocks built and committed at {:.0}/s), tip {}",
        f.committed,
        f.committed as f64 / seconds,
        f.committed as f64 / f.block_secs,
        f.store.tip()?.height
    );
    println!("{deep}");
    Ok(())
}

fn register(milli_carats: u64, stones: u32) -> Body {
    Body::RegisterParcel {
        origin: "BW"
            .parse()
            .unwrap_or(kp_ledger::model::ParticipantCode(*b"BW")),
        zone: None,
        mine: "Jwaneng".into(),
        milli_carats,
        stones,
        value_cents: milli_carats * 14,
        hs_code: HsCode::UNSORTED,
    }
}
