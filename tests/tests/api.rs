//! The real `kpnode dev` binary, driven over its HTTP API: a signed
//! enrolment is committed and readable, bad submissions are refused with
//! their codes and change nothing, SIGTERM stops it cleanly, and a restart
//! resumes at the same height.

use std::time::{Duration, Instant};

use kp_crypto::keystore::read_key_file;
use kp_crypto::{PublicKey, SecretKey, Signature};
use kp_ledger::block::validators_hash;
use kp_ledger::finality::CommitProof;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::{Member, Role};
use kp_ledger::tx::{Body, Transaction, TxPayload};
use kp_tests::{agent, DevNode, DevOptions, DEV_PASSPHRASE};
use kp_wire::api::{CommitView, TxState, TxStatus};
use kp_wire::client::{Client, ClientResult};

/// Every wait in this test is bounded by this.
const WAIT_MAX: Duration = Duration::from_secs(20);

fn wait_committed(client: &Client, tx: &Transaction) -> TxStatus {
    let id = kp_ledger::tx::tx_id(&tx.to_bytes());
    let deadline = Instant::now() + WAIT_MAX;
    loop {
        let status = client.tx(&id).unwrap_or_else(|e| panic!("{id}: {e}"));
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

fn refused_with<T: std::fmt::Debug>(answer: ClientResult<T>, status: u16, code: &str) {
    match answer {
        Err(e) => assert_eq!((e.http_status(), e.code()), (Some(status), code), "{e}"),
        Ok(value) => panic!("expected {status} {code}, got {value:?}"),
    }
}

/// Posts `body` as it is to `POST /v1/transactions`, for what no client
/// would send; expects `status` with the error `code`.
fn raw_post_refused(node: &DevNode, body: &str, status: u16, code: &str) {
    let mut response = agent()
        .post(&format!("{}/v1/transactions", node.url()))
        .header("content-type", "application/json")
        .send(body)
        .expect("POST answers");
    let text = response.body_mut().read_to_string().expect("a body");
    assert_eq!(response.status().as_u16(), status, "{text}");
    let error: serde_json::Value = serde_json::from_str(&text).expect("an error body");
    assert_eq!(error["error"]["code"], code, "{text}");
}

#[test]
fn dev_node_commits_refuses_stops_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let options = DevOptions {
        args: vec!["--idle-block-ms".into(), "50".into()],
        ..DevOptions::default()
    };
    let mut node = DevNode::start_with(&home, "BW,EU,ZA", &options).expect("kpnode starts");
    let api = node.client();
    let first = api.status().expect("status");
    // An idle chain still makes (empty) blocks: heights are not fixed here.
    assert_eq!(first.chain_id.as_str(), "kp-dev");
    assert_eq!(first.validators.len(), 1);
    assert_eq!(first.validators[0].participant.as_str(), "BW");

    let genesis_text = std::fs::read_to_string(home.join("genesis.json")).expect("genesis.json");
    let genesis = Genesis::from_json(&genesis_text).expect("a genesis");
    assert_eq!(genesis.hash(), first.genesis_hash);
    let bw = read_key_file(&node.key_path("BW"), DEV_PASSPHRASE).expect("BW's authority key");
    assert_eq!(bw.public(), genesis.participants[0].authority);

    // An enrolment is accepted, committed and readable.
    let member = SecretKey::generate().public();
    let tx = enrol(&bw, 1, &genesis, member, "Gaborone Rough");
    let accepted = api.submit(&tx.to_bytes()).expect("accepted");
    assert_eq!(accepted.state, TxState::Pending);
    let committed = wait_committed(&api, &tx);
    assert!(committed.height >= Some(1), "{committed:?}");
    assert_eq!(committed.index, Some(0));

    // Prometheus metrics count it.
    let metrics = api.metrics().expect("metrics");
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
    let block = api.block(at).expect("the block");
    let commit: CommitView = api
        .get(&format!("/v1/blocks/{at}/commit"))
        .expect("its commit");
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
    refused_with(
        api.get::<CommitView>("/v1/blocks/999999/commit"),
        404,
        "not_found",
    );

    let record = api.member(&member).expect("the member");
    assert_eq!(
        (record.role, record.name.as_str()),
        (Role::Trader, "Gaborone Rough")
    );

    // Nonce n+1 is accepted while n still waits for a block.
    let second = enrol(&bw, 2, &genesis, SecretKey::generate().public(), "Second");
    let third = enrol(&bw, 3, &genesis, SecretKey::generate().public(), "Third");
    api.submit(&second.to_bytes()).expect("nonce 2 accepted");
    api.submit(&third.to_bytes()).expect("nonce 3 accepted");
    wait_committed(&api, &second);
    wait_committed(&api, &third);

    // Refusals, each with its code, none changing the state.
    let before = api.status().expect("status");
    raw_post_refused(&node, r#"{"tx":"not hex"}"#, 400, "bad_hex");
    raw_post_refused(&node, r#"{"tx": "#, 400, "malformed_json");
    refused_with(api.submit(&[0x00, 0xff]), 400, "malformed_transaction");
    let bytes = tx.to_bytes();
    refused_with(
        api.submit(&bytes[..bytes.len() - 1]),
        400,
        "malformed_transaction",
    );
    let oversize = vec![0; kp_ledger::tx::TX_SIZE_BYTES_MAX + 1];
    refused_with(api.submit(&oversize), 400, "oversize_transaction");
    let mut wrong_chain = tx.clone();
    wrong_chain.payload.genesis = kp_crypto::Hash32([7; 32]);
    let wrong_chain = wrong_chain.payload.sign(&bw);
    refused_with(api.submit(&wrong_chain.to_bytes()), 422, "wrong_chain");
    refused_with(api.submit(&tx.to_bytes()), 422, "replay");
    let mut forged = enrol(&bw, 4, &genesis, SecretKey::generate().public(), "Forged");
    forged.signature.0[0] ^= 1;
    refused_with(api.submit(&forged.to_bytes()), 422, "bad_signature");
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
    let after = api.status().expect("status");
    // Empty blocks may have come meanwhile; they leave the state as it was.
    assert_eq!(after.state_hash, before.state_hash);
    assert_eq!(after.pending_txs, 0);

    // SIGTERM stops it cleanly; a restart resumes where it was.
    let exit = node.terminate().expect("kpnode stops on SIGTERM");
    assert!(exit.success(), "kpnode exits 0 on SIGTERM: {exit}");
    node.restart().expect("kpnode starts again");
    let resumed = api.status().expect("status");
    assert!(resumed.height >= after.height);
    assert_eq!(resumed.state_hash, after.state_hash);
    let kept = api.block(after.height).expect("the block before the stop");
    assert_eq!(kept.hash, after.last_block_hash);
    api.member(&member).expect("the member after the restart");

    // A committed block survives kill -9.
    let fourth = enrol(&bw, 4, &genesis, SecretKey::generate().public(), "Fourth");
    api.submit(&fourth.to_bytes()).expect("accepted");
    let committed = wait_committed(&api, &fourth);
    node.restart().expect("kpnode starts again after SIGKILL");
    let revived = api.status().expect("status");
    assert!(Some(revived.height) >= committed.height);
    let kept = api.tx(&committed.id).expect("the transaction");
    assert_eq!(kept.state, TxState::Committed);
    let exit = node.terminate().expect("kpnode stops on SIGTERM");
    assert!(exit.success(), "{exit}");
}
