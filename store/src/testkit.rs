//! A chain of stored blocks with commit certificates, for tests and
//! benchmarks of what is built from them (provenance bundles above all);
//! the world of keys and Participants is the ledger's own testkit.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kp_crypto::{PublicKey, SecretKey};
use kp_ledger::block::{build_block, AppliedBlock, SignaturesChecked, NONE_CHECKED};
use kp_ledger::bundle::Bundle;
use kp_ledger::canonical::canonical_bytes;
use kp_ledger::finality::CommitProof;
use kp_ledger::model::ParcelId;
use kp_ledger::rules::validator_set;
use kp_ledger::testkit::{key_named, signed, test_chain, test_genesis, test_proposer, START_TIME};
use kp_ledger::tx::{Body, DecodedTx};
use kp_ledger::votes::{vote_signing_bytes, VoteKind};

use crate::certificates::ProofCertificates;
use crate::database::Store;
use crate::snapshot::Snapshot;

/// A store whose blocks the test genesis's validators decide, at times the
/// test may choose: each block is stored with a commit certificate (a
/// [`CommitProof`] every validator of its height signed, in the
/// [`ProofCertificates`] format), as a node stores the engine's. What
/// provenance bundles are built from in tests and benchmarks.
pub struct CertifiedChain {
    pub store: Store,
    keys: BTreeMap<PublicKey, SecretKey>,
    nonces: BTreeMap<PublicKey, u64>,
}

impl CertifiedChain {
    pub fn open(path: &Path) -> Self {
        let store = match Store::open(path, &test_genesis(), Arc::new(ProofCertificates)) {
            Ok(store) => store,
            Err(e) => panic!("the test store must open: {e}"),
        };
        CertifiedChain {
            store,
            keys: BTreeMap::new(),
            nonces: BTreeMap::new(),
        }
    }

    /// A key by name, remembered so that transactions can be signed with it.
    pub fn key(&mut self, name: &str) -> PublicKey {
        let key = key_named(name);
        let public = key.public();
        self.keys.insert(public, key);
        public
    }

    pub fn authority(&mut self, c: &str) -> PublicKey {
        self.key(&format!("authority {c}"))
    }

    /// Signed with the signer's next nonce (counting those signed before).
    pub fn sign(&mut self, signer: &PublicKey, body: Body) -> DecodedTx {
        let nonce = self.nonces.entry(*signer).or_insert(0);
        *nonce += 1;
        match self.keys.get(signer) {
            Some(key) => signed(key, *nonce, body),
            None => panic!("the chain has no secret key for {signer}"),
        }
    }

    /// Builds a block of `txs`, every one of which must pass, one second
    /// after the tip, and commits it with the precommits of every validator
    /// of its height.
    pub fn block(&mut self, txs: Vec<(PublicKey, Body)>) -> AppliedBlock {
        let time = self.snapshot().tip().map_or(START_TIME, |tip| tip.time + 1);
        self.block_at(time, txs)
    }

    /// Like [`block`](Self::block), at block time `time` (not before the
    /// tip's).
    pub fn block_at(&mut self, time: u64, txs: Vec<(PublicKey, Body)>) -> AppliedBlock {
        let txs: Vec<DecodedTx> = txs
            .into_iter()
            .map(|(signer, body)| self.sign(&signer, body))
            .collect();
        self.signed_block_at(time, txs)
    }

    /// Like [`block`](Self::block), for transactions signed already.
    pub fn block_signed(&mut self, txs: Vec<DecodedTx>) -> AppliedBlock {
        let time = self.snapshot().tip().map_or(START_TIME, |tip| tip.time + 1);
        self.signed_block_at(time, txs)
    }

    /// Like [`block_signed`](Self::block_signed), with no signature
    /// checked: a block that validators lying together could decide, for
    /// tests of what a verifier that trusts no node finds in it.
    pub fn block_unchecked(&mut self, txs: Vec<DecodedTx>) -> AppliedBlock {
        let time = self.snapshot().tip().map_or(START_TIME, |tip| tip.time + 1);
        self.block_checking(time, txs, &|_| true)
    }

    fn signed_block_at(&mut self, time: u64, txs: Vec<DecodedTx>) -> AppliedBlock {
        self.block_checking(time, txs, NONE_CHECKED)
    }

    fn block_checking(
        &mut self,
        time: u64,
        txs: Vec<DecodedTx>,
        checked: SignaturesChecked<'_>,
    ) -> AppliedBlock {
        let snapshot = self.snapshot();
        let tip = snapshot.tip().unwrap_or_else(|e| panic!("tip: {e}"));
        let built = build_block(
            &snapshot,
            &tip,
            &test_chain(),
            time,
            test_proposer(),
            txs,
            checked,
        )
        .unwrap_or_else(|e| panic!("build: {e}"));
        if let Some((id, reason)) = built.rejected.first() {
            panic!(
                "test transaction {id} refused: {reason} ({})",
                reason.code()
            );
        }
        let validators = validator_set(&snapshot).unwrap_or_else(|e| panic!("set: {e}"));
        let applied = built.applied;
        let (height, block) = (applied.block.header.height, applied.hash);
        let precommits = validators
            .iter()
            .map(|(c, public)| {
                let key = key_named(&format!("validator {c}"));
                assert_eq!(key.public(), *public, "validator keys are named by code");
                let genesis = test_chain().genesis;
                let precommit = VoteKind::Precommit;
                let bytes =
                    vote_signing_bytes(&genesis, precommit, height, 0, Some(&block), public);
                (*public, key.sign(&bytes))
            })
            .collect();
        let commit = CommitProof {
            height,
            round: 0,
            block,
            precommits,
        };
        let certificate = canonical_bytes(&commit);
        if let Err(e) = self.store.commit(&applied, &certificate) {
            panic!("commit: {e}");
        }
        applied
    }

    pub fn snapshot(&self) -> Snapshot {
        self.store
            .snapshot()
            .unwrap_or_else(|e| panic!("snapshot: {e}"))
    }

    /// The parcel's provenance bundle at the tip; the parcel must exist.
    pub fn bundle(&self, id: &ParcelId) -> Bundle {
        match self.snapshot().bundle(id) {
            Ok(Some(bundle)) => bundle,
            Ok(None) => panic!("no parcel {id}"),
            Err(e) => panic!("bundle: {e}"),
        }
    }
}
