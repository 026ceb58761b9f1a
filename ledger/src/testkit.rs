//! A small world for tests and benchmarks: a genesis of a few Participants
//! (one restricted to compliant zones, one suspended), deterministic keys by
//! name, and one-call helpers that sign, apply and commit transactions on an
//! in-memory state exactly as a block would.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use kp_crypto::{hash_domain, Hash32, PublicKey, SecretKey};

use crate::block::{apply_block, build_block, AppliedBlock, Block, BlockHeader, NONE_CHECKED};
use crate::chain::{ChainIdentity, ChainTip};
use crate::genesis::Genesis;
use crate::mem_state::MemState;
use crate::model::{
    HsCode, ParcelId, Participant, ParticipantCode, ParticipantStatus, Role, TransferId,
};
use crate::rejection::Rejection;
use crate::rules::{apply_tx, ApplyError, BlockContext, TxEffects};
use crate::state::StateRead;
use crate::tx::{Body, DecodedTx, SplitOutput, Transaction};

pub const CHAIN_ID: &str = "kp-test";
/// 2026-01-01T00:00:00Z.
pub const START_TIME: u64 = 1_767_225_600;
pub const CAR_ZONES: [&str; 4] = ["Berbérati", "Boda", "Carnot", "Nola"];

pub fn code(s: &str) -> ParticipantCode {
    s.parse().unwrap_or(ParticipantCode(*b"??"))
}

/// The same name always gives the same key.
pub fn key_named(name: &str) -> SecretKey {
    SecretKey::from_seed(hash_domain("kp-ledger testkit key", &[name.as_bytes()]).0)
}

/// The test chain: [`test_genesis`]'s id and hash.
pub fn test_chain() -> ChainIdentity {
    static CHAIN: OnceLock<ChainIdentity> = OnceLock::new();
    CHAIN.get_or_init(|| test_genesis().identity()).clone()
}

/// `body` signed by `key` with `nonce`, for the test chain.
pub fn signed(key: &SecretKey, nonce: u64, body: Body) -> DecodedTx {
    let tx = Transaction::signed(key, nonce, test_chain().genesis, body);
    match DecodedTx::decode(tx.to_bytes()) {
        Ok(decoded) => decoded,
        Err(e) => panic!("a test transaction must decode: {e}"),
    }
}

/// The validator that proposes the test world's blocks: Botswana's.
pub fn test_proposer() -> PublicKey {
    key_named("validator BW").public()
}

/// A block of `txs` at `height` whose header fields are placeholders: for
/// tests of how blocks travel and are kept, not of whether they apply.
pub fn placeholder_block(height: u64, txs: Vec<Vec<u8>>) -> Block {
    Block {
        header: BlockHeader {
            chain_id: "test".into(),
            height,
            prev_hash: Hash32([1; 32]),
            tx_count: txs.len() as u32,
            tx_root: Hash32([2; 32]),
            state_hash: Hash32([3; 32]),
            parcels_root: Hash32([4; 32]),
            validators_hash: Hash32([5; 32]),
            next_validators_hash: Hash32([5; 32]),
            time: 10,
            proposer: test_proposer(),
        },
        txs,
    }
}

/// BW, EU, ZA, IN active; CF restricted to its 2016 compliant zones; VE suspended.
pub fn test_genesis() -> Genesis {
    let participant = |c: &str, name: &str, status: ParticipantStatus| Participant {
        code: code(c),
        name: name.to_owned(),
        authority: key_named(&format!("authority {c}")).public(),
        validator: Some(key_named(&format!("validator {c}")).public()),
        status,
    };
    Genesis {
        chain_id: CHAIN_ID.to_owned(),
        genesis_time: START_TIME,
        participants: vec![
            participant("BW", "Botswana", ParticipantStatus::Active),
            participant("EU", "European Union", ParticipantStatus::Active),
            participant("ZA", "South Africa", ParticipantStatus::Active),
            participant("IN", "India", ParticipantStatus::Active),
            participant(
                "CF",
                "Central African Republic",
                ParticipantStatus::Restricted {
                    zones: CAR_ZONES.iter().map(|z| z.to_string()).collect(),
                },
            ),
            participant("VE", "Venezuela", ParticipantStatus::Suspended),
        ],
    }
}

pub struct World {
    pub genesis: Genesis,
    pub state: MemState,
    pub tip: ChainTip,
    /// Block time of the next transaction.
    pub time: u64,
    keys: BTreeMap<PublicKey, SecretKey>,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> Self {
        let genesis = test_genesis();
        let mut state = MemState::default();
        state.apply(genesis.initial_delta());
        let mut keys = BTreeMap::new();
        for p in &genesis.participants {
            let key = key_named(&format!("authority {}", p.code));
            keys.insert(key.public(), key);
        }
        World {
            tip: genesis.tip(),
            time: START_TIME,
            genesis,
            state,
            keys,
        }
    }

    pub fn authority(&self, c: &str) -> PublicKey {
        key_named(&format!("authority {c}")).public()
    }

    /// A key by name, remembered so that `apply` can sign with it.
    pub fn key(&mut self, name: &str) -> PublicKey {
        let key = key_named(name);
        let public = key.public();
        self.keys.insert(public, key);
        public
    }

    /// A signed transaction from `signer` with its next nonce on the ledger.
    pub fn sign(&self, signer: &PublicKey, body: Body) -> DecodedTx {
        let nonce = self.state.nonce(signer).unwrap_or(0) + 1;
        self.sign_with_nonce(signer, nonce, body)
    }

    pub fn sign_with_nonce(&self, signer: &PublicKey, nonce: u64, body: Body) -> DecodedTx {
        match self.keys.get(signer) {
            Some(key) => signed(key, nonce, body),
            None => panic!("the test world has no secret key for {signer}"),
        }
    }

    /// Applies one transaction through the rules; on success its writes are
    /// committed to the state, on rejection the state must be untouched.
    pub fn apply_signed(&mut self, tx: &DecodedTx) -> Result<TxEffects, Rejection> {
        let ctx = BlockContext {
            chain: test_chain(),
            height: self.tip.height + 1,
            time: self.time,
        };
        let before = self.state.clone();
        match apply_tx(&self.state, &ctx, tx) {
            Ok(effects) => {
                self.state.apply(effects.delta.clone());
                self.tip.height += 1;
                Ok(effects)
            }
            Err(ApplyError::Rejected(r)) => {
                assert_eq!(self.state, before, "a rejected transaction changes nothing");
                Err(r)
            }
            Err(ApplyError::Storage(f)) => panic!("in-memory state cannot fail: {f}"),
        }
    }

    pub fn apply(&mut self, signer: &PublicKey, body: Body) -> Result<TxEffects, Rejection> {
        let tx = self.sign(signer, body);
        self.apply_signed(&tx)
    }

    /// Like `apply`, for set-up steps that must succeed.
    pub fn ok(&mut self, signer: &PublicKey, body: Body) -> TxEffects {
        match self.apply(signer, body) {
            Ok(effects) => effects,
            Err(r) => panic!("set-up step refused: {r} ({})", r.code()),
        }
    }

    /// Builds a block from `txs`, applies it as a follower would and commits it.
    pub fn commit_block(
        &mut self,
        txs: Vec<DecodedTx>,
    ) -> (AppliedBlock, Vec<(crate::model::TxId, Rejection)>) {
        let built = match build_block(
            &self.state,
            &self.tip,
            &test_chain(),
            self.time,
            test_proposer(),
            txs,
            NONE_CHECKED,
        ) {
            Ok(b) => b,
            Err(f) => panic!("in-memory state cannot fail: {f}"),
        };
        let checked = match apply_block(
            &self.state,
            &self.tip,
            &test_chain(),
            built.applied.block.clone(),
            NONE_CHECKED,
        ) {
            Ok(a) => a,
            Err(e) => panic!("a built block must apply: {e}"),
        };
        assert_eq!(checked.delta, built.applied.delta);
        self.state.apply(checked.delta.clone());
        self.tip = checked.tip();
        (checked, built.rejected)
    }

    pub fn enrol(
        &mut self,
        authority_of: &str,
        name: &str,
        role: Role,
        zone: Option<&str>,
    ) -> PublicKey {
        let member = self.key(name);
        let authority = self.authority(authority_of);
        self.ok(
            &authority,
            Body::EnrolMember {
                member,
                role,
                name: name.to_owned(),
                licence: format!("LIC-{name}"),
                zone: zone.map(str::to_owned),
            },
        );
        member
    }

    pub fn register_body(origin: &str, milli_carats: u64) -> Body {
        Body::RegisterParcel {
            origin: code(origin),
            zone: None,
            mine: "Jwaneng".to_owned(),
            milli_carats,
            stones: 100,
            value_cents: milli_carats * 14, // about US$140 per carat
            hs_code: HsCode::UNSORTED,
        }
    }

    pub fn register(&mut self, miner: &PublicKey, origin: &str, milli_carats: u64) -> ParcelId {
        self.ok(miner, Self::register_body(origin, milli_carats))
            .created[0]
    }

    pub fn offer(&mut self, from: &PublicKey, parcel: ParcelId, to: &PublicKey) -> TransferId {
        self.ok(
            from,
            Body::OfferTransfer {
                parcel,
                to: *to,
                price_cents: None,
            },
        )
        .created[0]
    }

    /// Offers and accepts: `parcel` moves from `from` to `to`.
    pub fn hand_over(&mut self, from: &PublicKey, parcel: ParcelId, to: &PublicKey) {
        let transfer = self.offer(from, parcel, to);
        self.ok(to, Body::AcceptTransfer { transfer });
    }

    pub fn split(&mut self, holder: &PublicKey, parcel: ParcelId, masses: &[u64]) -> Vec<ParcelId> {
        let outputs = masses
            .iter()
            .map(|m| SplitOutput {
                milli_carats: *m,
                hs_code: None,
            })
            .collect();
        self.ok(holder, Body::SplitParcel { parcel, outputs })
            .created
    }

    pub fn parcel(&self, id: &ParcelId) -> crate::model::Parcel {
        match self.state.parcel(id) {
            Ok(Some(p)) => p,
            _ => panic!("parcel {id} must exist"),
        }
    }
}
