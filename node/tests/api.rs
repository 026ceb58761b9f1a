//! The real `kpnode dev` binary, driven over its HTTP API: a signed
//! enrolment is committed and readable, bad submissions are refused with
//! their codes and change nothing, SIGTERM stops it cleanly, and a restart
//! resumes at the same height.

// A test: a failed step should stop it loudly (the workspace bans
// unwrap and panic in code that runs in a node or `kp`).
#![allow(clippy::panic, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use kp_crypto::keystore::read_key_file;
use kp_crypto::{PublicKey, SecretKey, Signature};
use kp_ledger::block::validators_hash;
use kp_ledger::finality::CommitProof;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::{Member, Role};
use kp_ledger::tx::{Body, Transaction, TxPayload};
use kp_wire::api::{BlockView, CommitView, ErrorBody, StatusView, TxState, TxStatus};
use serde::de::DeserializeOwned;

/// Every wait in this test is bounded by this.
const WAIT_MAX: Duration = Duration::from_secs(20);

/// The node process, killed if the test ends before it stopped.
struct Node {
    child: Child,
    log: PathBuf,
}

impl Node {
    fn start(home: &Path, port: u16) -> Node {
        // Every run of one home logs into one file, shown if the test fails.
        let log_path = home.with_extension("log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_kpnode"))
            .args(["dev", "--participants", "BW,EU,ZA", "--idle-block-ms", "50"])
            .arg("--home")
            .arg(home)
            .args(["--api", &format!("127.0.0.1:{port}")])
            .env_remove("KP_PASSPHRASE")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("kpnode starts");
        Node {
            child,
            log: log_path,
        }
    }

    fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM was sent");
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "kpnode did not stop within {WAIT_MAX:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- kpnode's log ---\n{log}");
        }
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

struct Api {
    agent: ureq::Agent,
    base: String,
}

impl Api {
    fn new(port: u16) -> Api {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        Api {
            agent,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> (u16, Result<T, ErrorBody>) {
        let response = self
            .agent
            .get(&format!("{}{path}", self.base))
            .call()
            .expect("GET answers");
        read(response)
    }

    /// `GET /metrics`: Prometheus text.
    fn metrics(&self) -> String {
        let mut response = self
            .agent
            .get(&format!("{}/metrics", self.base))
            .call()
            .expect("GET /metrics answers");
        assert_eq!(response.status().as_u16(), 200);
        response.body_mut().read_to_string().expect("text")
    }

    fn post_raw<T: DeserializeOwned>(&self, body: &str) -> (u16, Result<T, ErrorBody>) {
        let response = self
            .agent
            .post(&format!("{}/v1/transactions", self.base))
            .header("content-type", "application/json")
            .send(body)
            .expect("POST answers");
        read(response)
    }

    fn submit(&self, tx: &Transaction) -> (u16, Result<TxStatus, ErrorBody>) {
        self.post_raw(&format!(r#"{{"tx":"{}"}}"#, hex::encode(tx.to_bytes())))
    }

    fn status(&self) -> StatusView {
        match self.get("/v1/status") {
            (200, Ok(status)) => status,
            other => panic!("status: {:?}", other.1.err()),
        }
    }

    /// Waits until the node answers.
    fn wait_ready(&self) -> StatusView {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            if let Ok(response) = self.agent.get(&format!("{}/v1/status", self.base)).call() {
                if let (200, Ok(status)) = read::<StatusView>(response) {
                    return status;
                }
            }
            assert!(
                Instant::now() < deadline,
                "kpnode did not answer within {WAIT_MAX:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_committed(&self, tx: &Transaction) -> TxStatus {
        let id = kp_ledger::tx::tx_id(&tx.to_bytes());
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let (code, status) = self.get::<TxStatus>(&format!("/v1/transactions/{id}"));
            let status = status.unwrap_or_else(|e| panic!("{code}: {}", e.error.message));
            match status.state {
                TxState::Committed => return status,
                TxState::Rejected => panic!("refused: {:?}", status.error),
                TxState::Pending => {}
            }
            assert!(
                Instant::now() < deadline,
                "{id} was not committed within {WAIT_MAX:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn read<T: DeserializeOwned>(
    mut response: ureq::http::Response<ureq::Body>,
) -> (u16, Result<T, ErrorBody>) {
    let code = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    if code < 300 {
        (
            code,
            Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))),
        )
    } else {
        (
            code,
            Err(serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("not an error body ({e}): {text}"))),
        )
    }
}

fn enrol(
    authority: &SecretKey,
    nonce: u64,
    genesis: &Genesis,
    member: PublicKey,
    name: &str,
) -> Transaction {
    TxPayload {
        signer: authority.public(),
        nonce,
        genesis: genesis.hash(),
        body: Body::EnrolMember {
            member,
            role: Role::Trader,
            name: name.to_owned(),
            licence: format!("BW-LIC-{name}"),
            zone: None,
        },
    }
    .sign(authority)
}

fn refused_with<T: std::fmt::Debug>(answer: (u16, Result<T, ErrorBody>), status: u16, code: &str) {
    match answer {
        (got, Err(body)) => {
            assert_eq!(
                (got, body.error.code.as_str()),
                (status, code),
                "{}",
                body.error.message
            )
        }
        (got, Ok(value)) => panic!("expected {status} {code}, got {got} {value:?}"),
    }
}

#[test]
fn dev_node_commits_refuses_stops_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let port = free_port();
    let mut node = Node::start(&home, port);
    let api = Api::new(port);
    let first = api.wait_ready();
    // An idle chain still makes (empty) blocks: heights are not fixed here.
    assert_eq!(first.chain_id.as_str(), "kp-dev");
    assert_eq!(first.validators.len(), 1);
    assert_eq!(first.validators[0].participant.as_str(), "BW");

    let genesis_text = std::fs::read_to_string(home.join("genesis.json")).expect("genesis.json");
    let genesis = Genesis::from_json(&genesis_text).expect("a genesis");
    assert_eq!(genesis.hash(), first.genesis_hash);
    let bw = read_key_file(&home.join("keys").join("BW.key"), "dev").expect("BW's authority key");
    assert_eq!(bw.public(), genesis.participants[0].authority);

    // An enrolment is accepted, committed and readable.
    let member = SecretKey::generate().public();
    let tx = enrol(&bw, 1, &genesis, member, "Gaborone Rough");
    let (code, accepted) = api.submit(&tx);
    let accepted = accepted.unwrap_or_else(|e| panic!("{code}: {}", e.error.message));
    assert_eq!((code, accepted.state), (202, TxState::Pending));
    let committed = api.wait_committed(&tx);
    assert!(committed.height >= Some(1), "{committed:?}");
    assert_eq!(committed.index, Some(0));

    // Prometheus metrics count it.
    let metrics = api.metrics();
    for expected in [
        "kp_validators 1",
        "kp_txs_committed_total 1",
        "kp_commit_latency_seconds_count",
        "kp_mempool_txs 0",
    ] {
        assert!(metrics.contains(expected), "no `{expected}` in:\n{metrics}");
    }
    let height = metrics
        .lines()
        .find_map(|l| l.strip_prefix("kp_height "))
        .and_then(|h| h.parse::<u64>().ok())
        .expect("kp_height");
    assert!(Some(height) >= committed.height);
    // The block's commit certificate checks offline against the validator
    // set its header names.
    let at = committed.height.expect("a height");
    let (code, block) = api.get::<BlockView>(&format!("/v1/blocks/{at}"));
    let block = block.unwrap_or_else(|e| panic!("{code}: {}", e.error.message));
    let (code, commit) = api.get::<CommitView>(&format!("/v1/blocks/{at}/commit"));
    let commit = commit.unwrap_or_else(|e| panic!("{code}: {}", e.error.message));
    let set: Vec<_> = first
        .validators
        .iter()
        .map(|v| (v.participant, v.key))
        .collect();
    assert_eq!(block.header.validators_hash, validators_hash(&set));
    let proof = CommitProof {
        height: commit.height,
        round: commit.round,
        block: commit.block,
        precommits: commit
            .precommits
            .iter()
            .map(|p| {
                let bytes = hex::decode(&p.signature).expect("hex");
                let signature = Signature(bytes.try_into().expect("64 bytes"));
                (p.validator, signature)
            })
            .collect(),
    };
    assert_eq!(proof.verify(&genesis.hash(), &block.hash, at, &set), Ok(()));
    let (status, _) = api.get::<CommitView>("/v1/blocks/999999/commit");
    assert_eq!(status, 404);

    let (code, record) = api.get::<Member>(&format!("/v1/members/{member}"));
    let record = record.unwrap_or_else(|e| panic!("{code}: {}", e.error.message));
    assert_eq!(
        (record.role, record.name.as_str()),
        (Role::Trader, "Gaborone Rough")
    );

    // Nonce n+1 is accepted while n still waits for a block.
    let second = enrol(&bw, 2, &genesis, SecretKey::generate().public(), "Second");
    let third = enrol(&bw, 3, &genesis, SecretKey::generate().public(), "Third");
    assert_eq!(api.submit(&second).0, 202);
    assert_eq!(api.submit(&third).0, 202);
    api.wait_committed(&second);
    api.wait_committed(&third);

    // Refusals, each with its code, none changing the state.
    let before = api.status();
    refused_with(
        api.post_raw::<TxStatus>(r#"{"tx":"not hex"}"#),
        400,
        "bad_hex",
    );
    refused_with(
        api.post_raw::<TxStatus>(r#"{"tx": "#),
        400,
        "malformed_json",
    );
    refused_with(
        api.post_raw::<TxStatus>(r#"{"tx":"00ff"}"#),
        400,
        "malformed_transaction",
    );
    let truncated = hex::encode(&tx.to_bytes()[..tx.to_bytes().len() - 1]);
    refused_with(
        api.post_raw::<TxStatus>(&format!(r#"{{"tx":"{truncated}"}}"#)),
        400,
        "malformed_transaction",
    );
    let oversize = "00".repeat(kp_ledger::tx::TX_SIZE_BYTES_MAX + 1);
    refused_with(
        api.post_raw::<TxStatus>(&format!(r#"{{"tx":"{oversize}"}}"#)),
        400,
        "oversize_transaction",
    );
    let mut wrong_chain = tx.clone();
    wrong_chain.payload.genesis = kp_crypto::Hash32([7; 32]);
    let wrong_chain = wrong_chain.payload.sign(&bw);
    refused_with(api.submit(&wrong_chain), 422, "wrong_chain");
    refused_with(api.submit(&tx), 422, "replay");
    let mut forged = enrol(&bw, 4, &genesis, SecretKey::generate().public(), "Forged");
    forged.signature.0[0] ^= 1;
    refused_with(api.submit(&forged), 422, "bad_signature");
    refused_with(api.get::<Member>("/v1/members/xyz"), 400, "bad_hex");
    refused_with(
        api.get::<Member>(&format!("/v1/members/{}", "ab".repeat(32))),
        404,
        "not_found",
    );
    refused_with(
        api.get::<serde_json::Value>("/v1/parcels/abc"),
        400,
        "prefix_too_short",
    );
    let after = api.status();
    // Empty blocks may have come meanwhile; they leave the state as it was.
    assert_eq!(after.state_hash, before.state_hash);
    assert_eq!(after.pending_txs, 0);

    // SIGTERM stops it cleanly; a restart resumes where it was.
    assert!(node.terminate().success(), "kpnode exits 0 on SIGTERM");
    let mut node = Node::start(&home, port);
    let resumed = api.wait_ready();
    assert!(resumed.height >= after.height);
    assert_eq!(resumed.state_hash, after.state_hash);
    let (code, kept) = api.get::<BlockView>(&format!("/v1/blocks/{}", after.height));
    assert_eq!(
        kept.map(|b| b.hash).map_err(|e| (code, e.error.code)),
        Ok(after.last_block_hash)
    );
    let (code, record) = api.get::<Member>(&format!("/v1/members/{member}"));
    assert_eq!(code, 200, "{:?}", record.err());

    // A committed block survives kill -9.
    let fourth = enrol(&bw, 4, &genesis, SecretKey::generate().public(), "Fourth");
    assert_eq!(api.submit(&fourth).0, 202);
    let committed = api.wait_committed(&fourth);
    node.child.kill().expect("SIGKILL");
    node.child.wait().expect("reaped");
    let mut node = Node::start(&home, port);
    let revived = api.wait_ready();
    assert!(Some(revived.height) >= committed.height);
    assert_eq!(
        api.get::<TxStatus>(&format!("/v1/transactions/{}", committed.id))
            .1
            .map(|s| s.state),
        Ok(TxState::Committed)
    );
    assert!(node.terminate().success());
}
