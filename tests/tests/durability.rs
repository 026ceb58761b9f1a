//! A `kpnode dev` under a stream of transactions is killed with SIGKILL at
//! random moments, 20 times. After each restart every block a client saw
//! committed is there, whole (same hash, same transactions), and at the end
//! the state hash equals that of a replay of all stored blocks from genesis.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kp_crypto::keystore::read_key_file;
use kp_crypto::{Hash32, SecretKey};
use kp_ledger::block::{apply_block, NONE_CHECKED};
use kp_ledger::genesis::Genesis;
use kp_ledger::mem_state::MemState;
use kp_ledger::model::{HsCode, Role};
use kp_ledger::tx::{Body, Transaction};
use kp_store::{ProofCertificates, Store};
use kp_tests::{binary, client, enroll_args, ok_stdout, register_args, DevNode, DEV_PASSPHRASE};
use kp_wire::api::{BlockView, NonceView, ParcelView, TxState, TxStatus};

const KILLS: usize = 20;

/// xorshift64*: reproducible from the printed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % below
    }
}

/// What clients saw committed: tx id -> height, and height -> block hash.
#[derive(Default)]
struct Seen {
    txs: BTreeMap<Hash32, u64>,
    blocks: BTreeMap<u64, Hash32>,
    /// Parcels `kp parcel register` reported committed, with their height.
    kp_parcels: BTreeMap<Hash32, u64>,
}

/// Registers parcels with `kp`, one after another as a user would, until
/// `stop` is set, and records each one `kp` reports committed.
fn kp_writer(url: String, key_file: String, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let out = std::process::Command::new(binary("kp"))
            .args(["--json", "--timeout", "5"])
            .args(register_args(&key_file, "BW", None, "2.500", "7102.10"))
            .env("KP_NODE", &url)
            .env("KP_PASSPHRASE", DEV_PASSPHRASE)
            .output();
        let Ok(out) = out else { return };
        if !out.status.success() {
            continue;
        }
        let status: TxStatus = match serde_json::from_slice(&out.stdout) {
            Ok(status) => status,
            Err(e) => panic!("kp --json printed no TxStatus: {e}"),
        };
        assert_eq!(
            status.state,
            TxState::Committed,
            "kp exits 0 only once committed"
        );
        if let (Some(parcel), Some(height)) = (status.created.first(), status.height) {
            seen.lock().unwrap().kp_parcels.insert(*parcel, height);
        }
    }
}

fn submit(url: &str, genesis: Hash32, key: &SecretKey, nonce: u64, body: Body) -> Option<Hash32> {
    let tx = Transaction::signed(key, nonce, genesis, body);
    client(url)
        .submit(&tx.to_bytes())
        .ok()
        .map(|status| status.id)
}

/// Submits batches of transactions from the authority and the miner and
/// waits for each batch to commit, until the node dies or `stop` is set.
fn stream(
    url: String,
    genesis: Hash32,
    authority: SecretKey,
    miner: SecretKey,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) {
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let next_nonce = |key: &SecretKey| -> Option<u64> {
            let n: NonceView = client(&url).nonces(&key.public()).ok()?;
            Some(n.last.max(n.pending_last) + 1)
        };
        let (Some(a), Some(m)) = (next_nonce(&authority), next_nonce(&miner)) else {
            return;
        };
        let mut ids = Vec::new();
        for k in 0..8u64 {
            let member = SecretKey::generate().public();
            let enrol = Body::EnrolMember {
                member,
                role: Role::Trader,
                name: format!("trader {round}-{k}"),
                licence: format!("L-{round}-{k}"),
                zone: None,
            };
            let register = Body::RegisterParcel {
                origin: "BW".parse().unwrap(),
                zone: None,
                mine: "Orapa".into(),
                milli_carats: 1_000 + k,
                stones: 3,
                value_cents: 100_000,
                hs_code: HsCode::UNSORTED,
            };
            ids.extend(submit(&url, genesis, &authority, a + k, enrol));
            ids.extend(submit(&url, genesis, &miner, m + k, register));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for id in ids {
            loop {
                let Ok(status) = client(&url).tx(&id) else {
                    return;
                };
                if status.state == TxState::Committed {
                    let height = status.height.unwrap_or_default();
                    let Ok(block) = client(&url).block(height) else {
                        return;
                    };
                    let mut seen = seen.lock().unwrap();
                    seen.txs.insert(id, height);
                    seen.blocks.insert(height, block.hash);
                    break;
                }
                if status.state == TxState::Rejected || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        round += 1;
    }
}

#[test]
fn committed_blocks_survive_sigkill_and_replay_to_the_same_state() {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    println!("durability seed {seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    let mut node = DevNode::start(&home, "BW,EU").unwrap();
    let url = node.url();
    let genesis = node.status().unwrap().genesis_hash;
    let authority = read_key_file(&node.key_path("BW"), DEV_PASSPHRASE).unwrap();

    // A miner to register parcels, enrolled before the storm.
    let miner = SecretKey::generate();
    let enrol = Body::EnrolMember {
        member: miner.public(),
        role: Role::Miner,
        name: "Orapa".into(),
        licence: "BW-ML-1".into(),
        zone: None,
    };
    let id = submit(&url, genesis, &authority, 1, enrol).expect("enrol the miner");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !client(&url)
        .tx(&id)
        .is_ok_and(|s| s.state == TxState::Committed)
    {
        assert!(Instant::now() < deadline, "miner enrolment did not commit");
        std::thread::sleep(Duration::from_millis(20));
    }

    // And a miner that uses kp itself, as a member would.
    let (kp_miner, kp_miner_public) = node.new_key(dir.path(), "kp-miner");
    let bw_key = node.key_path("BW").to_string_lossy().into_owned();
    let enrol = node.kp(&enroll_args(
        &bw_key,
        &kp_miner_public,
        "miner",
        "Letlhakane",
        "BW-ML-2",
    ));
    ok_stdout(&enrol, "kp member enroll");
    let seen = Arc::new(Mutex::new(Seen::default()));
    for kill in 0..KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (url, seen, stop) = (url.clone(), seen.clone(), stop.clone());
            let (authority, miner) = (
                SecretKey::from_seed(authority.seed()),
                SecretKey::from_seed(miner.seed()),
            );
            std::thread::spawn(move || stream(url, genesis, authority, miner, seen, stop))
        };
        let kp = {
            let (url, key_file, seen, stop) =
                (url.clone(), kp_miner.clone(), seen.clone(), stop.clone());
            std::thread::spawn(move || kp_writer(url, key_file, seen, stop))
        };
        std::thread::sleep(Duration::from_millis(100 + rng.next(700)));
        node.kill9();
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        kp.join().unwrap();
        node.restart()
            .unwrap_or_else(|e| panic!("restart after kill {kill}: {e}"));

        let seen = seen.lock().unwrap();
        let tip = node.status().unwrap().height;
        for (height, hash) in &seen.blocks {
            assert!(
                *height <= tip,
                "kill {kill}: block {height} was seen committed but the tip is {tip}"
            );
            let block: BlockView = client(&url).block(*height).unwrap();
            assert_eq!(block.hash, *hash, "kill {kill}: block {height} changed");
        }
        for (parcel, height) in &seen.kp_parcels {
            let view: ParcelView = client(&url)
                .parcel(&parcel.to_string())
                .unwrap_or_else(|e| {
                    panic!("kill {kill}: parcel {parcel} that kp saw committed: {e}")
                });
            assert_eq!(
                view.parcel.created_height, *height,
                "kill {kill}: parcel {parcel}"
            );
        }
        for (id, height) in &seen.txs {
            let status: TxStatus = client(&url).tx(id).unwrap();
            assert_eq!(
                (status.state, status.height),
                (TxState::Committed, Some(*height)),
                "kill {kill}: tx {id}"
            );
        }
    }
    let (committed, by_kp) = {
        let seen = seen.lock().unwrap();
        (seen.txs.len(), seen.kp_parcels.len())
    };
    println!(
        "{KILLS} kills: {committed} transactions seen committed over HTTP, {by_kp} parcels by kp"
    );
    assert!(by_kp >= KILLS / 4, "kp saw only {by_kp} parcels committed");
    assert!(
        committed > KILLS,
        "the stream committed only {committed} transactions"
    );

    // Stop the node and replay every stored block from genesis.
    let final_status = node.status().unwrap();
    assert!(node.terminate().unwrap().success(), "SIGTERM exits cleanly");
    let genesis =
        Genesis::from_json(&std::fs::read_to_string(home.join("genesis.json")).unwrap()).unwrap();
    // Blocks and state are read, no commit certificate: the format they are
    // kept in (the node's engine's) is never asked for.
    let path = home.join("data").join("ledger.redb");
    let store = Store::open(&path, &genesis, Arc::new(ProofCertificates)).unwrap();
    let mut state = MemState::default();
    state.apply(genesis.initial_delta());
    let mut tip = genesis.tip();
    for height in 1..=final_status.height {
        let block = store
            .snapshot()
            .unwrap()
            .block(height)
            .unwrap()
            .unwrap_or_else(|| panic!("block {height} is stored"));
        let applied = apply_block(&state, &tip, &genesis.identity(), block, NONE_CHECKED)
            .unwrap_or_else(|e| panic!("replay {height}: {e}"));
        state.apply(applied.delta.clone());
        tip = applied.tip();
    }
    assert_eq!(
        tip.state_hash, final_status.state_hash,
        "replay gives the node's state hash"
    );
    assert_eq!(tip.hash, final_status.last_block_hash);
}
