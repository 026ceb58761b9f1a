//! The write path and the read views against a stand-in node: what `kp`
//! signs, what it sends, and what it prints for each answer.

// A test: a failed step should stop it loudly (the workspace bans
// unwrap and panic in code that runs in a node or `kp`).
#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{error_body, kp, new_key, MockNode, Request};
use kp_crypto::{Hash32, PublicKey};
use kp_ledger::model::{
    HsCode, OriginShare, Parcel, ParcelStatus, ParticipantChange, ParticipantCode, ProposalStatus,
};
use kp_ledger::rules::{parcel_id, proposal_id};
use kp_ledger::trace::{Event, Trace};
use kp_ledger::tx::{Body, DecodedTx};
use kp_wire::api::{
    NonceView, ParcelView, ProposalView, StatusView, SubmitRequest, TxState, TxStatus,
    ValidatorView,
};

const CHAIN: &str = "kp-test";
/// The mock node's genesis hash, which `kp` signs for.
const GENESIS: Hash32 = Hash32([1; 32]);

fn status_json() -> String {
    serde_json::to_string(&StatusView {
        chain_id: CHAIN.into(),
        genesis_hash: GENESIS,
        height: 11,
        last_block_hash: Hash32([2; 32]),
        state_hash: Hash32([3; 32]),
        time: 1_767_225_600,
        validators: vec![ValidatorView {
            participant: ParticipantCode::from_str("BW").unwrap(),
            key: PublicKey([4; 32]),
        }],
        peers: 0,
        pending_txs: 0,
        network_height: Some(40),
        read_only: false,
    })
    .unwrap()
}

fn tx_json(id: Hash32, state: TxState, created: Vec<Hash32>) -> String {
    let committed = state == TxState::Committed;
    serde_json::to_string(&TxStatus {
        id,
        state,
        height: committed.then_some(12),
        index: committed.then_some(0),
        created,
        error: None,
    })
    .unwrap()
}

fn sample_parcel(id: Hash32) -> Parcel {
    Parcel {
        id,
        origins: vec![OriginShare {
            participant: ParticipantCode::from_str("BW").unwrap(),
            milli_carats: 1_250_500,
        }],
        zones: vec![],
        mine: Some("Jwaneng".into()),
        milli_carats: 1_250_500,
        stones: 3400,
        value_cents: 18_750_000,
        hs_code: HsCode::UNSORTED,
        holder: PublicKey([5; 32]),
        status: ParcelStatus::Live,
        flag: None,
        parents: vec![],
        created_by: Hash32([6; 32]),
        created_height: 3,
        history: Default::default(),
    }
}

/// The transaction `kp` posted, decoded as a node would.
fn submitted(req: &Request) -> DecodedTx {
    let submit: SubmitRequest = serde_json::from_str(&req.body).unwrap();
    DecodedTx::decode(hex::decode(submit.tx).unwrap()).unwrap()
}

/// A node that knows the signer's nonces, answers `pending` on submission,
/// then (after `pending_polls` more asks) `final_state` with `created(tx)`.
fn node(
    pending_polls: usize,
    final_state: TxState,
    created: fn(&Hash32) -> Vec<Hash32>,
    extra: fn(&Request) -> Option<(u16, String)>,
) -> MockNode {
    let polls = Arc::new(AtomicUsize::new(0));
    MockNode::start(move |req| {
        if let Some(answer) = extra(req) {
            return answer;
        }
        let path = req.path.as_str();
        if path == "/v1/status" {
            return (200, status_json());
        }
        if let Some(key) = path.strip_prefix("/v1/nonces/") {
            let view = NonceView {
                key: key.parse().unwrap(),
                last: 4,
                pending_last: 6,
            };
            return (200, serde_json::to_string(&view).unwrap());
        }
        if path == "/v1/transactions" && req.method == "POST" {
            let tx = submitted(req);
            return (202, tx_json(tx.id, TxState::Pending, vec![]));
        }
        if let Some(id) = path.strip_prefix("/v1/transactions/") {
            let id: Hash32 = id.parse().unwrap();
            if polls.fetch_add(1, Ordering::SeqCst) < pending_polls {
                return (200, tx_json(id, TxState::Pending, vec![]));
            }
            if final_state == TxState::Rejected {
                let status = TxStatus {
                    id,
                    state: TxState::Rejected,
                    height: None,
                    index: None,
                    created: vec![],
                    error: Some(kp_wire::api::ApiError {
                        code: "parcel_consumed".into(),
                        message: "parcel 3f9a was already split or merged (double spend)".into(),
                    }),
                };
                return (200, serde_json::to_string(&status).unwrap());
            }
            return (200, tx_json(id, final_state, created(&id)));
        }
        (404, error_body("not_found", &format!("no route {path}")))
    })
}

fn no_extra(_: &Request) -> Option<(u16, String)> {
    None
}

fn one_parcel(tx: &Hash32) -> Vec<Hash32> {
    vec![parcel_id(tx, 0)]
}

fn two_parcels(tx: &Hash32) -> Vec<Hash32> {
    vec![parcel_id(tx, 0), parcel_id(tx, 1)]
}

#[test]
fn register_signs_the_right_transaction_and_prints_only_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("miner.key");
    let public = new_key(&key_path);
    let node = node(2, TxState::Committed, one_parcel, no_extra);

    let run = kp(&[
        "--node",
        &node.url,
        "parcel",
        "register",
        "--key",
        key_path.to_str().unwrap(),
        "--origin",
        "bw",
        "--mine",
        "Jwaneng",
        "--carats",
        "1250.5",
        "--stones",
        "3400",
        "--value-usd",
        "187500.00",
        "--hs",
        "7102.10",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let posts: Vec<Request> = node
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    let tx = submitted(&posts[0]);
    let payload = &tx.tx.payload;
    assert_eq!(payload.signer.to_string(), public);
    assert_eq!(payload.nonce, 7, "max(last, pending_last) + 1");
    assert_eq!(payload.genesis, GENESIS, "signed for the node's genesis");
    assert!(payload
        .signer
        .verify(&payload.signing_message(), &tx.tx.signature)
        .is_ok());
    assert_eq!(
        payload.body,
        Body::RegisterParcel {
            origin: ParticipantCode::from_str("BW").unwrap(),
            zone: None,
            mine: "Jwaneng".into(),
            milli_carats: 1_250_500,
            stones: 3400,
            value_cents: 18_750_000,
            hs_code: HsCode::UNSORTED,
        }
    );

    assert_eq!(
        run.stdout,
        format!("{}\n", parcel_id(&tx.id, 0)),
        "stdout is exactly the id"
    );
    assert!(
        run.stderr.starts_with("committed at height 12"),
        "{}",
        run.stderr
    );
}

/// The one transaction `kp` posted to `node`, decoded.
fn the_submission(node: &MockNode) -> DecodedTx {
    let post = node
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("kp posted a transaction");
    submitted(&post)
}

/// A suspension of CF proposed by BW; approved by EU too once `executed`.
fn proposal_json(id: Hash32, executed: bool) -> String {
    let code = |c: &str| ParticipantCode::from_str(c).unwrap();
    let (approvals, status) = if executed {
        let status = ProposalStatus::Executed {
            height: 12,
            approvals: 2,
            active: 2,
        };
        (vec![code("BW"), code("EU")], status)
    } else {
        (vec![code("BW")], ProposalStatus::Open)
    };
    serde_json::to_string(&ProposalView {
        id,
        change: ParticipantChange::Suspend {
            code: code("CF"),
            zones: vec!["Boda".into(), "Nola".into()],
        },
        proposer: code("BW"),
        proposed_height: 11,
        counted: approvals.len() as u32,
        approvals,
        active: 2,
        needed: 2,
        status,
        blocked: None,
    })
    .unwrap()
}

#[test]
fn propose_signs_the_change_and_prints_only_the_proposal_id() {
    fn open_proposal(req: &Request) -> Option<(u16, String)> {
        let id = req.path.strip_prefix("/v1/proposals/")?;
        Some((200, proposal_json(id.parse().unwrap(), false)))
    }
    fn the_proposal(tx: &Hash32) -> Vec<Hash32> {
        vec![proposal_id(tx)]
    }
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("bw-authority.key");
    new_key(&key_path);
    let node = node(0, TxState::Committed, the_proposal, open_proposal);

    let run = kp(&[
        "--node",
        &node.url,
        "participant",
        "propose",
        "--key",
        key_path.to_str().unwrap(),
        "--suspend",
        "cf",
        "--zones",
        "Boda,Nola",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let tx = the_submission(&node);
    assert_eq!(
        tx.tx.payload.body,
        Body::ProposeParticipantChange {
            change: ParticipantChange::Suspend {
                code: ParticipantCode::from_str("CF").unwrap(),
                zones: vec!["Boda".into(), "Nola".into()],
            }
        }
    );
    assert_eq!(run.stdout, format!("{}\n", proposal_id(&tx.id)));
    let id = proposal_id(&tx.id).to_string();
    assert!(
        run.stderr.starts_with("committed at height 12")
            && run.stderr.contains(&format!(
                "new proposal {} to suspend CF except its compliant zones Boda, Nola; \
                 not applied yet: 1 of 2 active Participants approve, 2 needed",
                &id[..12]
            )),
        "{}",
        run.stderr
    );
}

#[test]
fn approve_resolves_the_prefix_and_says_the_change_applied() {
    fn proposal_by_prefix(req: &Request) -> Option<(u16, String)> {
        let id = req.path.strip_prefix("/v1/proposals/")?;
        let executed = id.len() == 64;
        Some((200, proposal_json(Hash32([0x8e; 32]), executed)))
    }
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("eu-authority.key");
    new_key(&key_path);
    let node = node(0, TxState::Committed, |_| vec![], proposal_by_prefix);

    let run = kp(&[
        "--node",
        &node.url,
        "participant",
        "approve",
        "--key",
        key_path.to_str().unwrap(),
        "--proposal",
        "8e8e8e8e",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        the_submission(&node).tx.payload.body,
        Body::ApproveParticipantChange {
            proposal: Hash32([0x8e; 32])
        }
    );
    assert!(
        run.stdout.starts_with("committed at height 12")
            && run.stdout.contains(
                "approved proposal 8e8e8e8e8e8e to suspend CF except its compliant zones \
                 Boda, Nola; it applied at height 12 (2 of 2 active Participants approved)"
            ),
        "{}",
        run.stdout
    );

    let run = kp(&[
        "--node",
        &node.url,
        "participant",
        "approve",
        "--key",
        key_path.to_str().unwrap(),
        "--proposal",
        "8e8e8e8e",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["transaction"]["state"], "committed");
    assert_eq!(json["proposal"]["status"]["state"], "executed");
}

#[test]
fn split_resolves_a_prefix_and_prints_each_new_id() {
    fn parcel_by_prefix(req: &Request) -> Option<(u16, String)> {
        (req.path == "/v1/parcels/3f3f3f3f").then(|| {
            let view = ParcelView {
                parcel: sample_parcel(Hash32([0x3f; 32])),
                events: vec![],
            };
            (200, serde_json::to_string(&view).unwrap())
        })
    }
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("sorter.key");
    new_key(&key_path);
    let node = node(0, TxState::Committed, two_parcels, parcel_by_prefix);

    let run = kp(&[
        "--node",
        &node.url,
        "parcel",
        "split",
        "--key",
        key_path.to_str().unwrap(),
        "--parcel",
        "3F3F3F3F",
        "--carats",
        "1000,250.500",
        "--hs",
        "7102.31,7102.21",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let tx = the_submission(&node);
    let Body::SplitParcel { parcel, outputs } = &tx.tx.payload.body else {
        panic!("not a split: {:?}", tx.tx.payload.body);
    };
    assert_eq!(
        *parcel,
        Hash32([0x3f; 32]),
        "the prefix was resolved to the whole id"
    );
    assert_eq!(outputs.len(), 2);
    assert_eq!(outputs[0].milli_carats, 1_000_000);
    assert_eq!(outputs[1].hs_code, Some(HsCode::INDUSTRIAL));
    assert_eq!(
        run.stdout,
        format!("{}\n{}\n", parcel_id(&tx.id, 0), parcel_id(&tx.id, 1))
    );
}

#[test]
fn a_rejection_at_submission_is_one_line_with_its_code() {
    fn refuse(req: &Request) -> Option<(u16, String)> {
        (req.method == "POST").then(|| {
            (
                422,
                error_body("not_holder", "parcel 3f9a12cd is held by another member"),
            )
        })
    }
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("k.key");
    new_key(&key_path);
    let node = node(0, TxState::Committed, one_parcel, refuse);
    let parcel = "3f".repeat(32);
    let to = "05".repeat(32);

    let run = kp(&[
        "--node",
        &node.url,
        "transfer",
        "offer",
        "--key",
        key_path.to_str().unwrap(),
        "--parcel",
        &parcel,
        "--to",
        &to,
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    assert_eq!(
        run.stderr,
        "rejected: parcel 3f9a12cd is held by another member (not_holder)\n"
    );
}

#[test]
fn a_rejection_after_submission_is_reported_too() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("k.key");
    new_key(&key_path);
    let node = node(1, TxState::Rejected, one_parcel, no_extra);
    let parcel = "3f".repeat(32);
    let run = kp(&[
        "--node",
        &node.url,
        "parcel",
        "merge",
        "--key",
        key_path.to_str().unwrap(),
        "--parcel",
        &parcel,
        "--parcel",
        &"40".repeat(32),
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "rejected: parcel 3f9a was already split or merged (double spend) (parcel_consumed)\n"
    );
}

#[test]
fn still_pending_at_the_deadline_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("k.key");
    new_key(&key_path);
    let node = node(usize::MAX, TxState::Committed, one_parcel, no_extra);
    let run = kp(&[
        "--node",
        &node.url,
        "--timeout",
        "1",
        "parcel",
        "flag",
        "--key",
        key_path.to_str().unwrap(),
        "--parcel",
        &"3f".repeat(32),
        "--reason",
        "review",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("still pending after 1 s"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("kp tx show"), "{}", run.stderr);
}

#[test]
fn json_write_prints_the_tx_status() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("k.key");
    new_key(&key_path);
    let node = node(0, TxState::Committed, one_parcel, no_extra);
    let run = kp(&[
        "--node",
        &node.url,
        "--json",
        "member",
        "enrol",
        "--key",
        key_path.to_str().unwrap(),
        "--member",
        &"07".repeat(32),
        "--role",
        "trader",
        "--name",
        "Okavango Diamond Co",
        "--licence",
        "BW-T-9",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let status: TxStatus = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(status.state, TxState::Committed);
    assert_eq!(status.height, Some(12));
}

#[test]
fn trace_and_status_views() {
    fn reads(req: &Request) -> Option<(u16, String)> {
        let parent = sample_parcel(Hash32([0x3f; 32]));
        let mut child = sample_parcel(Hash32([0x55; 32]));
        child.mine = None;
        child.parents = vec![parent.id];
        child.milli_carats = 1_000_000;
        let register = Event {
            tx: Hash32([6; 32]),
            height: 3,
            index: 0,
            time: 1_767_225_600,
            signer: PublicKey([5; 32]),
            body: Body::RegisterParcel {
                origin: ParticipantCode::from_str("BW").unwrap(),
                zone: None,
                mine: "Jwaneng".into(),
                milli_carats: 1_250_500,
                stones: 3400,
                value_cents: 18_750_000,
                hs_code: HsCode::UNSORTED,
            },
            created: vec![parent.id],
        };
        match req.path.as_str() {
            "/v1/parcels/55555555/trace" => {
                let view = Trace {
                    parcel: child.id,
                    parcels: vec![child, parent],
                    events: vec![register],
                };
                Some((200, serde_json::to_string(&view).unwrap()))
            }
            "/v1/parcels/66666666/trace" => {
                Some((404, error_body("not_found", "no parcel matches 66666666")))
            }
            _ => None,
        }
    }
    let node = node(0, TxState::Committed, one_parcel, reads);

    let run = kp(&["--node", &node.url, "trace", "55555555"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with(&format!("parcel {}\n", "55".repeat(32))),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("2026-01-01  height 3"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("register_parcel"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "{}  origin BW  mine Jwaneng  1250.500 ct",
            "3f".repeat(32)
        )),
        "{}",
        run.stdout
    );

    let run = kp(&["--node", &node.url, "trace", "55555555", "--json"]);
    let view: Trace = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(view.parcels.len(), 2);

    let run = kp(&["--node", &node.url, "trace", "66666666"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: no parcel matches 66666666 (not_found)\n"
    );

    let run = kp(&["--node", &node.url, "status"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("chain         kp-test"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("height        11"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("catching up   29 blocks behind the network's 40"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("block time    2026-01-01 00:00:00 UTC"),
        "{}",
        run.stdout
    );
}
