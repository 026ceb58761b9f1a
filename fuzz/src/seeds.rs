//! Valid inputs for every target, made with the project's own code: what
//! `write_seeds` writes to `fuzz/seeds/<target>/` (see `scripts/fuzz seed`).
//! Each seed is `(name, bytes)`; targets whose first byte picks what the
//! rest is ([`Seeds::selected`]) say so in their own file.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::executor::block_on;
use futures::io::Cursor;
use kp_crypto::keystore::encrypt_key;
use kp_crypto::SecretKey;
use kp_wire::api::SubmitRequest;
use kp_wire::bundle_file::to_file;
use kp_ledger::block::{build_block, Block, NONE_CHECKED};
use kp_ledger::finality::CommitProof;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::ParticipantStatus;
use kp_ledger::rules::apply_tx;
use kp_ledger::testkit::{key_named, test_chain, test_genesis, test_proposer, START_TIME};
use kp_ledger::tx::DecodedTx;
use kp_node::consensus::codec::{decode_certificate, encode_certificate, BorshCodec};
use kp_node::consensus::parts::{block_stream, SignedProposal};
use kp_node::consensus::{
    block_id, block_stream_signing_bytes, Address, BlockId, BlockPart, Height, KpContext,
    ValidatorSigner,
};
use kp_node::gossip::{query_codec, Answer, Query, QUERY_PROTOCOL};
use kp_node::server::ApiLimits;
use kp_node::setup::{NodeSettings, ParticipantCard, Timeouts};
use libp2p::request_response::Codec as _;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_core_consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_core_types::{
    CommitCertificate, CommitSignature, Context, NilOrVal, PolkaCertificate, PolkaSignature, Round,
    RoundCertificate, RoundCertificateType, RoundSignature, Validity, VoteExtensions,
};
use malachitebft_engine::util::streaming::StreamMessage;
use malachitebft_signing::Signer;
use malachitebft_sync::{RawDecidedValue, Request, Response, Status, ValueRequest, ValueResponse};

use crate::chain::Chain;
use crate::fixture::{block_context, fixture};

/// The passphrase of the key files the `key_file` target reads.
pub const KEY_FILE_PASSPHRASE: &str = "fuzz passphrase";

/// Every target's seeds, by target name.
pub struct Seeds(pub BTreeMap<&'static str, Vec<(String, Vec<u8>)>>);

impl Seeds {
    fn add(&mut self, target: &'static str, name: impl Into<String>, bytes: Vec<u8>) {
        self.0.entry(target).or_default().push((name.into(), bytes));
    }

    /// For targets whose first byte chooses what the rest is.
    fn selected(
        &mut self,
        target: &'static str,
        name: impl Into<String>,
        selector: u8,
        rest: &[u8],
    ) {
        let mut bytes = vec![selector];
        bytes.extend_from_slice(rest);
        self.add(target, name, bytes);
    }
}

/// Everything, for every target.
pub fn all() -> Seeds {
    let mut seeds = Seeds(BTreeMap::new());
    let chain = Chain::build();
    transactions(&mut seeds);
    let block = blocks(&mut seeds);
    proposal_parts(&mut seeds, &block);
    consensus_messages(&mut seeds, &block);
    certified(&mut seeds, &chain);
    queries(&mut seeds);
    genesis(&mut seeds);
    key_files(&mut seeds);
    node_files(&mut seeds);
    api_queries(&mut seeds, &chain);
    seeds
}

fn transactions(seeds: &mut Seeds) {
    let fx = fixture();
    let txs = fx.transactions();
    let ctx = block_context(&fx.world);
    for tx in &txs {
        let kind = tx.body().kind();
        // Valid inputs: each one passes the rules over the fixture.
        if let Err(e) = apply_tx(&fx.world.state, &ctx, tx) {
            panic!("the fixture's {kind} is refused: {e}");
        }
        seeds.add("tx", kind, tx.bytes.clone());
        let request = SubmitRequest {
            tx: hex::encode(&tx.bytes),
        };
        let json = serde_json::to_vec(&request).expect("JSON of a request");
        seeds.add("submit_json", kind, json);
    }
    // Small batches: every signature of a batch is checked on every run,
    // and the kinds themselves are the `tx` target's.
    let all: Vec<Vec<u8>> = txs.iter().map(|tx| tx.bytes.clone()).collect();
    let batch = |txs: &[Vec<u8>]| borsh::to_vec(&txs.to_vec()).expect("borsh of a batch");
    seeds.add("gossip_batch", "one", batch(&all[..1]));
    seeds.add("gossip_batch", "three", batch(&all[2..5]));
    seeds.add("gossip_batch", "empty", batch(&[]));
}

/// Blocks over the fixture: empty, one transaction, and as many of the
/// fixture's transactions as go together. Returns the fullest.
fn blocks(seeds: &mut Seeds) -> Block {
    let fx = fixture();
    let w = &fx.world;
    let build = |txs: Vec<DecodedTx>| {
        build_block(
            &w.state,
            &w.tip,
            &test_chain(),
            w.time,
            test_proposer(),
            txs,
            NONE_CHECKED,
        )
        .unwrap_or_else(|e| panic!("in memory: {e}"))
        .applied
        .block
    };
    let txs = fx.transactions();
    let empty = build(Vec::new());
    let one = build(txs[2..3].to_vec());
    let full = build(txs);
    assert!(
        full.txs.len() > 4,
        "most of the fixture's transactions go together"
    );
    for (name, block) in [("empty", &empty), ("one", &one), ("full", &full)] {
        seeds.add("block", name, borsh::to_vec(block).expect("borsh"));
    }
    full
}

fn encode<T>(message: &T) -> Vec<u8>
where
    BorshCodec: Codec<T>,
    <BorshCodec as Codec<T>>::Error: std::fmt::Debug,
{
    BorshCodec
        .encode(message)
        .expect("the codec encodes")
        .to_vec()
}

/// The fullest block streamed by its proposer (BW's validator), in order and
/// backwards; and a stream at round 2 with a proof-of-lock round.
fn proposal_parts(seeds: &mut Seeds, block: &Block) {
    let key = key_named("validator BW");
    let height = Height(block.header.height);
    let id = block_id(&block.header);
    for (name, round, pol_round) in [
        ("round-0", Round::new(0), Round::Nil),
        ("round-2-pol-1", Round::new(2), Round::new(1)),
    ] {
        let messages = block_stream(&SignedProposal {
            height,
            round,
            pol_round,
            proposer: Address(key.public()),
            block: block.clone(),
            signature: key.sign(&block_stream_signing_bytes(height, round, &id.0)),
        });
        let encoded: Vec<Vec<u8>> = messages.iter().map(encode).collect();
        let frames = crate::framed(encoded.iter().map(Vec::as_slice));
        seeds.add("proposal_parts", name, frames);
        let backwards = crate::framed(encoded.iter().rev().map(Vec::as_slice));
        seeds.add("proposal_parts", format!("{name}-backwards"), backwards);
    }
}

pub fn peer_id(seed: u8) -> PeerId {
    let key = libp2p::identity::Keypair::ed25519_from_bytes([seed; 32]).expect("32 bytes");
    PeerId::from_bytes(&key.public().to_peer_id().to_bytes()).expect("a peer id")
}

/// What the engine's network carries besides proposal parts, each as the
/// codec encodes it, after a byte naming the type (see the
/// `consensus_msg` target).
fn consensus_messages(seeds: &mut Seeds, block: &Block) {
    let keys: Vec<Arc<SecretKey>> = ["BW", "EU", "ZA", "IN"]
        .iter()
        .map(|c| Arc::new(key_named(&format!("validator {c}"))))
        .collect();
    let genesis = test_chain().genesis;
    let signer = ValidatorSigner::new(keys[0].clone(), genesis);
    let height = Height(block.header.height);
    let round = Round::new(0);
    let value = block_id(&block.header);
    let ctx = KpContext;
    let vote = |kind: u8, key: &Arc<SecretKey>| {
        let address = Address(key.public());
        let message = match kind {
            0 => ctx.new_prevote(height, round, NilOrVal::Val(value), address),
            1 => ctx.new_precommit(height, round, NilOrVal::Val(value), address),
            _ => ctx.new_prevote(height, round, NilOrVal::Nil, address),
        };
        block_on(ValidatorSigner::new(key.clone(), genesis).sign_vote(message)).expect("signs")
    };
    let proposal = block_on(signer.sign_proposal(ctx.new_proposal(
        height,
        round,
        value,
        Round::Nil,
        Address(keys[0].public()),
    )))
    .expect("signs");

    let target = "consensus_msg";
    let prevote = vote(0, &keys[0]);
    let msgs: [(&str, SignedConsensusMsg<KpContext>); 3] = [
        ("prevote", SignedConsensusMsg::Vote(prevote.clone())),
        ("precommit", SignedConsensusMsg::Vote(vote(1, &keys[1]))),
        ("proposal", SignedConsensusMsg::Proposal(proposal)),
    ];
    for (name, msg) in msgs {
        seeds.selected(target, format!("signed-{name}"), 0, &encode(&msg));
    }
    let polka = PolkaCertificate::<KpContext> {
        height,
        round,
        value_id: value,
        polka_signatures: keys[..3]
            .iter()
            .map(|k| PolkaSignature::new(Address(k.public()), vote(0, k).signature))
            .collect(),
    };
    let skip = RoundCertificate::<KpContext> {
        height,
        round: Round::new(3),
        cert_type: RoundCertificateType::Skip,
        round_signatures: keys[..2]
            .iter()
            .map(|k| {
                let v = vote(2, k);
                RoundSignature {
                    vote_type: v.message.kind,
                    value_id: v.message.value,
                    address: Address(k.public()),
                    signature: v.signature,
                }
            })
            .collect(),
    };
    let liveness: [(&str, LivenessMsg<KpContext>); 3] = [
        ("vote", LivenessMsg::Vote(prevote)),
        ("polka", LivenessMsg::PolkaCertificate(polka.clone())),
        ("skip-round", LivenessMsg::SkipRoundCertificate(skip)),
    ];
    for (name, msg) in liveness {
        seeds.selected(target, format!("liveness-{name}"), 1, &encode(&msg));
    }
    let proposed = ProposedValue::<KpContext> {
        height,
        round,
        valid_round: Round::Nil,
        proposer: Address(keys[0].public()),
        value,
        validity: Validity::Valid,
    };
    seeds.selected(target, "proposed-value", 2, &encode(&proposed));
    seeds.selected(target, "polka-certificate", 3, &encode(&polka));
    let status = Status::<KpContext> {
        peer_id: peer_id(1),
        tip_height: Height(41),
        history_min_height: Height(1),
    };
    seeds.selected(target, "status", 4, &encode(&status));
    let request = Request::<KpContext>::ValueRequest(ValueRequest::new(Height(3)..=Height(9)));
    seeds.selected(target, "value-request", 5, &encode(&request));
    let libp2p_key = libp2p::identity::Keypair::ed25519_from_bytes(keys[0].seed()).expect("seed");
    let proof = block_on(signer.sign_validator_proof(
        keys[0].public().0.to_vec(),
        libp2p_key.public().to_peer_id().to_bytes(),
    ))
    .expect("signs");
    seeds.selected(target, "validator-proof", 6, &encode(&proof));
    let part = StreamMessage::new(
        malachitebft_engine::util::streaming::StreamId::new(Bytes::from_static(b"stream")),
        1,
        malachitebft_engine::util::streaming::StreamContent::Data(BlockPart::Txs(
            block.txs.clone(),
        )),
    );
    seeds.selected(target, "stream-message", 7, &encode(&part));
}

/// The engine's certificate for a commit proof the test chain stored.
pub fn engine_certificate(proof: &CommitProof) -> CommitCertificate<KpContext> {
    CommitCertificate {
        height: Height(proof.height),
        round: Round::from(proof.round),
        value_id: BlockId(proof.block),
        commit_signatures: proof
            .precommits
            .iter()
            .map(|(key, signature)| CommitSignature::new(Address(*key), *signature))
            .collect(),
    }
}

/// Bundles, their files, commit certificates and sync responses, from the
/// certified chain.
fn certified(seeds: &mut Seeds, chain: &Chain) {
    let snapshot = chain.chain.snapshot();
    for (i, parcel) in chain.parcels.iter().enumerate() {
        let bundle = chain.chain.bundle(parcel);
        bundle
            .verify(&test_genesis())
            .unwrap_or_else(|e| panic!("a seed bundle verifies: {e}"));
        seeds.add(
            "bundle",
            format!("parcel-{i}"),
            borsh::to_vec(&bundle).expect("borsh"),
        );
        seeds.add(
            "bundle_file",
            format!("parcel-{i}"),
            to_file(&bundle).into_bytes(),
        );
    }
    let tip = snapshot.tip().expect("tip").height;
    let mut values = Vec::new();
    for height in 1..=tip {
        let block = snapshot.block(height).expect("read").expect("a block");
        let stored = snapshot
            .commit_certificate(height)
            .expect("read")
            .expect("a certificate");
        let proof = snapshot
            .commit_proof(height)
            .expect("the chain's certificate decodes")
            .expect("a certificate");
        let engine = encode_certificate(&engine_certificate(&proof), VoteExtensions::default());
        if [1, 2, tip].contains(&height) {
            seeds.selected("commit_certificate", format!("engine-{height}"), 0, &engine);
            seeds.selected("commit_certificate", format!("proof-{height}"), 1, &stored);
        }
        let certificate = decode_certificate(&engine).expect("decodes");
        values.push(RawDecidedValue::new(
            Bytes::from(borsh::to_vec(&block).expect("borsh")),
            certificate,
        ));
    }
    let response = |start: u64, values: &[RawDecidedValue<KpContext>]| {
        let response = Response::<KpContext>::ValueResponse(ValueResponse::new(
            Height(start),
            values.to_vec(),
        ));
        encode(&response)
    };
    // Short responses: every certificate's signatures are checked on every
    // run. The last value is after the validator set changed.
    let last = values.len() - 1;
    seeds.add("sync_response", "height-1", response(1, &values[..1]));
    seeds.add("sync_response", "heights-1-to-3", response(1, &values[..3]));
    seeds.add("sync_response", "tip", response(tip, &values[last..]));
    seeds.add("sync_response", "empty", response(1, &[]));
}

/// Queries and answers of the nodes' query protocol (`/kp/query/1`), as
/// its CBOR codec writes them: byte 0 says request (0) or answer (1).
fn queries(seeds: &mut Seeds) {
    let mut codec = query_codec();
    let write_query = |codec: &mut _, query: Query| {
        let mut out = Cursor::new(Vec::new());
        block_on(libp2p::request_response::Codec::write_request(
            codec,
            &QUERY_PROTOCOL,
            &mut out,
            query,
        ))
        .expect("writes");
        out.into_inner()
    };
    seeds.selected(
        "query",
        "status",
        0,
        &write_query(&mut codec, Query::Status),
    );
    let pending = Query::Pending { max: 20_000 };
    seeds.selected("query", "pending", 0, &write_query(&mut codec, pending));
    let mut write_answer = |answer: Answer| {
        let mut out = Cursor::new(Vec::new());
        block_on(codec.write_response(&QUERY_PROTOCOL, &mut out, answer)).expect("writes");
        out.into_inner()
    };
    let status = Answer::Status {
        genesis: test_chain().genesis,
        height: 42,
    };
    let txs = fixture()
        .transactions()
        .into_iter()
        .take(2)
        .map(|tx| tx.bytes)
        .collect();
    seeds.selected("query", "answer-status", 1, &write_answer(status));
    seeds.selected(
        "query",
        "answer-pending",
        1,
        &write_answer(Answer::Pending(txs)),
    );
}

fn genesis(seeds: &mut Seeds) {
    let genesis = test_genesis();
    seeds.add("genesis", "test", genesis.to_json().into_bytes());
    let mut lean = genesis.clone();
    lean.participants.truncate(2);
    lean.participants[1].validator = None;
    lean.participants[1].status = ParticipantStatus::Restricted {
        zones: vec!["Nola".to_owned()],
    };
    seeds.add("genesis", "lean", lean.to_json().into_bytes());
    let one = Genesis {
        chain_id: "kp-dev".to_owned(),
        genesis_time: START_TIME,
        participants: genesis.participants[..1].to_vec(),
    };
    seeds.add("genesis", "one", one.to_json().into_bytes());
}

/// Byte 0: an age key file (0) or a validator key's hex text (1).
fn key_files(seeds: &mut Seeds) {
    let key = key_named("fuzz key file");
    for work_factor in [1, 2, 4] {
        let bytes = encrypt_key(&key, KEY_FILE_PASSPHRASE, Some(work_factor)).expect("encrypts");
        seeds.selected("key_file", format!("age-work-{work_factor}"), 0, &bytes);
    }
    let other = encrypt_key(&key, "another passphrase", Some(1)).expect("encrypts");
    seeds.selected("key_file", "age-other-passphrase", 0, &other);
    let text = format!("{}\n", hex::encode(key.seed()));
    seeds.selected("key_file", "validator-key", 1, text.as_bytes());
}

/// Byte 0: `node.json` (0) or `node/participant.json` (1).
fn node_files(seeds: &mut Seeds) {
    let settings = NodeSettings {
        participant: "BW".parse().expect("a code"),
        listen: "/ip4/0.0.0.0/tcp/27000".to_owned(),
        api: "127.0.0.1:8780".parse().expect("an address"),
        peers: vec![
            "/ip4/203.0.113.7/tcp/27000".to_owned(),
            "/dns4/kp.example.org/tcp/27010".to_owned(),
            "/ip6/::1/tcp/27020".to_owned(),
        ],
        timeouts: Timeouts::WideArea,
        idle_block_ms: 1000,
        api_limits: ApiLimits::default(),
    };
    let json = serde_json::to_vec_pretty(&settings).expect("JSON");
    seeds.selected("node_json", "node", 0, &json);
    let local = NodeSettings {
        peers: Vec::new(),
        timeouts: Timeouts::Local,
        ..settings
    };
    let json = serde_json::to_vec_pretty(&local).expect("JSON");
    seeds.selected("node_json", "node-local", 0, &json);
    let card = ParticipantCard {
        code: "AO".parse().expect("a code"),
        name: "Angola".to_owned(),
        authority: key_named("authority AO").public(),
        validator: key_named("validator AO").public(),
    };
    let json = serde_json::to_vec_pretty(&card).expect("JSON");
    seeds.selected("node_json", "participant", 1, &json);
}

/// Byte 0 names the endpoint (see the `api_query` target); the rest is the
/// query string (events: then a newline and a `Last-Event-ID`) or the path
/// segment.
fn api_queries(seeds: &mut Seeds, chain: &Chain) {
    let q = |seeds: &mut Seeds, name: &str, endpoint: u8, text: &str| {
        seeds.selected("api_query", name, endpoint, text.as_bytes());
    };
    q(
        seeds,
        "stats-quarter",
        0,
        "participant=BW&year=2026&quarter=1",
    );
    q(seeds, "stats-half", 0, "participant=eu&year=2026&half=2");
    q(seeds, "stats-year", 0, "participant=BW&year=2026");
    q(seeds, "stats-all", 1, "year=2026&quarter=1");
    q(
        seeds,
        "anomalies",
        2,
        "participant=BW&since=2026-01-01&band=50&period_change=100&markup=20",
    );
    q(seeds, "anomalies-none", 2, "");
    q(seeds, "events-from", 3, "from=1");
    q(seeds, "events-resume", 3, "from=2\n3:0");
    let parcel = chain.parcels[0].to_hex();
    q(seeds, "parcel-prefix", 4, &parcel[..8]);
    q(seeds, "parcel-full", 4, &parcel);
    q(seeds, "certificate", 5, "BW-2026-000001");
    q(seeds, "block-latest", 6, "latest");
    q(seeds, "block-3", 6, "3");
}
