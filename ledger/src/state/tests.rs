//! Storage faults (`StorageFault`): a state whose reads fail at any
//! moment fails the whole block, applied or built, never a transaction.

use std::cell::Cell;

use kp_crypto::PublicKey;

use crate::block::{apply_block, build_block, BlockError, NONE_CHECKED};
use crate::commitment::{ParcelCommitment, ParcelTree};
use crate::mem_state::MemState;
use crate::model::{
    Certificate, Member, Parcel, ParcelId, Participant, ParticipantCode, Proposal, ProposalId,
    Role, Transfer, TransferId,
};
use crate::state::{Read, StateRead, StorageFault};
use crate::testkit::{code, test_chain, test_proposer, World};

/// A state that fails on its `fail_at`-th read: a disk error at any
/// moment of applying a block.
struct Faulty<'a> {
    inner: &'a MemState,
    reads: Cell<u64>,
    fail_at: u64,
}

impl Faulty<'_> {
    fn tick(&self) -> Result<(), StorageFault> {
        let n = self.reads.get() + 1;
        self.reads.set(n);
        if n == self.fail_at {
            Err(StorageFault(format!("injected fault at read {n}")))
        } else {
            Ok(())
        }
    }
}

impl ParcelCommitment for Faulty<'_> {
    fn parcels_in_bucket(&self, bucket: u16) -> Result<Vec<(ParcelId, Parcel)>, StorageFault> {
        self.tick()?;
        self.inner.parcels_in_bucket(bucket)
    }
    fn parcel_tree(&self) -> &ParcelTree {
        self.inner.parcel_tree()
    }
}

impl StateRead for Faulty<'_> {
    fn participant(&self, code: ParticipantCode) -> Read<Participant> {
        self.tick()?;
        self.inner.participant(code)
    }
    fn participants(&self) -> Result<Vec<Participant>, StorageFault> {
        self.tick()?;
        self.inner.participants()
    }
    fn participant_by_authority(&self, key: &PublicKey) -> Read<ParticipantCode> {
        self.tick()?;
        self.inner.participant_by_authority(key)
    }
    fn member(&self, key: &PublicKey) -> Read<Member> {
        self.tick()?;
        self.inner.member(key)
    }
    fn nonce(&self, signer: &PublicKey) -> Result<u64, StorageFault> {
        self.tick()?;
        self.inner.nonce(signer)
    }
    fn parcel(&self, id: &ParcelId) -> Read<Parcel> {
        self.tick()?;
        self.inner.parcel(id)
    }
    fn transfer(&self, id: &TransferId) -> Read<Transfer> {
        self.tick()?;
        self.inner.transfer(id)
    }
    fn certificate(&self, number: &str) -> Read<Certificate> {
        self.tick()?;
        self.inner.certificate(number)
    }
    fn proposal(&self, id: &ProposalId) -> Read<Proposal> {
        self.tick()?;
        self.inner.proposal(id)
    }
}

/// Whatever read fails, applying the block fails with a storage error
/// (never a verdict on a transaction, never a different state), and
/// building one fails too rather than leaving transactions out.
#[test]
fn a_fault_at_any_read_fails_the_whole_block() {
    let mut w = World::new();
    let miner = w.enrol("BW", "miner", Role::Miner, None);
    let trader = w.enrol("BW", "trader", Role::Trader, None);
    let p = w.register(&miner, "BW", 9_000);
    let txs = vec![
        w.sign(
            &miner,
            crate::tx::Body::OfferTransfer {
                parcel: p,
                to: trader,
                price_cents: None,
            },
        ),
        w.sign_with_nonce(&miner, 3, World::register_body("BW", 1_000)),
        // Governance reads the whole Participant set.
        w.sign(
            &w.authority("BW"),
            crate::tx::Body::ProposeParticipantChange {
                change: crate::model::ParticipantChange::Reinstate { code: code("VE") },
            },
        ),
    ];
    let proposer = test_proposer();
    let clean = build_block(
        &w.state,
        &w.tip,
        &test_chain(),
        w.time,
        proposer,
        txs.clone(),
        NONE_CHECKED,
    )
    .unwrap();
    assert!(clean.rejected.is_empty());
    let block = clean.applied.block.clone();

    let counting = Faulty {
        inner: &w.state,
        reads: Cell::new(0),
        fail_at: 0,
    };
    apply_block(
        &counting,
        &w.tip,
        &test_chain(),
        block.clone(),
        NONE_CHECKED,
    )
    .unwrap();
    let total_reads = counting.reads.get();
    assert!(
        total_reads > 5,
        "the block reads the state {total_reads} times"
    );

    for fail_at in 1..=total_reads {
        let faulty = Faulty {
            inner: &w.state,
            reads: Cell::new(0),
            fail_at,
        };
        match apply_block(&faulty, &w.tip, &test_chain(), block.clone(), NONE_CHECKED) {
            Err(BlockError::Storage(_)) => {}
            other => panic!("fault at read {fail_at}: expected a storage error, got {other:?}"),
        }
        let faulty = Faulty {
            inner: &w.state,
            reads: Cell::new(0),
            fail_at,
        };
        assert!(
            build_block(
                &faulty,
                &w.tip,
                &test_chain(),
                w.time,
                proposer,
                txs.clone(),
                NONE_CHECKED
            )
            .is_err(),
            "fault at read {fail_at}: building must fail, not drop transactions"
        );
    }
}
