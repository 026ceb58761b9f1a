//! Provenance bundles built from a store whose blocks carry real commit
//! certificates, verified against the genesis alone; and every kind of byte
//! a forger could change, each caught at its own step.

// A test: a failed step should stop it loudly (the workspace bans
// unwrap and panic in code that runs in a node or `kp`).
#![allow(clippy::panic, clippy::unwrap_used)]

use kp_crypto::{Hash32, PublicKey};
use kp_ledger::bundle::{Bundle, BundleError, Verified};
use kp_ledger::model::{ParcelId, ParticipantChange, Role, TxId};
use kp_ledger::rules::{parcel_id, transfer_id};
use kp_ledger::testkit::{code, key_named, test_genesis, World};
use kp_ledger::trace::Event;
use kp_ledger::tx::{tx_id, Body, DecodedTx, SplitOutput};
use kp_store::testkit::CertifiedChain;
use kp_wire::bundle_file::{to_file, ReadBundle};
use tempfile::TempDir;

struct Scene {
    chain: CertifiedChain,
    miner: PublicKey,
    trader: PublicKey,
    _dir: TempDir,
}

/// A chain with a miner and a trader licensed by Botswana (block 1).
fn scene() -> Scene {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = CertifiedChain::open(&dir.path().join("ledger.redb"));
    let authority = chain.authority("BW");
    let miner = chain.key("bundle miner");
    let trader = chain.key("bundle trader");
    let enrol = |member, role, name: &str| Body::EnrolMember {
        member,
        role,
        name: name.to_owned(),
        licence: format!("LIC-{name}"),
        zone: None,
    };
    chain.block(vec![
        (authority, enrol(miner, Role::Miner, "Miner")),
        (authority, enrol(trader, Role::Trader, "Trader")),
    ]);
    Scene {
        chain,
        miner,
        trader,
        _dir: dir,
    }
}

impl Scene {
    fn register(&mut self, milli_carats: u64) -> ParcelId {
        let body = World::register_body("BW", milli_carats);
        self.chain.block(vec![(self.miner, body)]).txs[0].created[0]
    }

    fn split(&mut self, holder: PublicKey, parcel: ParcelId, masses: &[u64]) -> Vec<ParcelId> {
        let outputs = masses
            .iter()
            .map(|&milli_carats| SplitOutput {
                milli_carats,
                hs_code: None,
            })
            .collect();
        let body = Body::SplitParcel { parcel, outputs };
        self.chain.block(vec![(holder, body)]).txs[0]
            .created
            .clone()
    }

    fn merge(&mut self, holder: PublicKey, parcels: Vec<ParcelId>) -> ParcelId {
        let body = Body::MergeParcels { parcels };
        self.chain.block(vec![(holder, body)]).txs[0].created[0]
    }

    /// Offered and accepted in one block.
    fn hand_over(&mut self, from: PublicKey, parcel: ParcelId, to: PublicKey) {
        let offer = self.chain.sign(
            &from,
            Body::OfferTransfer {
                parcel,
                to,
                price_cents: None,
            },
        );
        let transfer = transfer_id(&offer.id);
        let accept = self.chain.sign(&to, Body::AcceptTransfer { transfer });
        self.chain.block_signed(vec![offer, accept]);
    }

    /// Proposed by the first voter in one block, approved by the others in
    /// the next, where it executes.
    fn decide(&mut self, change: ParticipantChange, voters: &[&str]) {
        let proposer = self.chain.authority(voters[0]);
        let proposed = self
            .chain
            .block(vec![(proposer, Body::ProposeParticipantChange { change })]);
        let proposal = proposed.txs[0].created[0];
        let approvals = voters[1..]
            .iter()
            .map(|voter| {
                let authority = self.chain.authority(voter);
                (authority, Body::ApproveParticipantChange { proposal })
            })
            .collect();
        let decided = self.chain.block(approvals);
        assert!(decided.next_validators.is_some(), "the set changed");
    }

    fn verify(&self, id: &ParcelId) -> Verified {
        let bundle = self.chain.bundle(id);
        match bundle.verify(&test_genesis()) {
            Ok(verified) => verified,
            Err(e) => panic!("bundle of {id} refused: {e} ({})", e.code()),
        }
    }

    /// The verified trace is the node's own trace of the parcel, event for
    /// event and record for record.
    fn assert_verified_trace(&self, id: &ParcelId) -> Verified {
        let verified = self.verify(id);
        let trace = self
            .chain
            .snapshot()
            .trace(id)
            .expect("trace")
            .expect("parcel");
        assert_eq!(verified.trace.parcels, trace.parcels);
        let places = |events: &[Event]| -> Vec<(TxId, u64, u32)> {
            events.iter().map(|e| (e.tx, e.height, e.index)).collect()
        };
        assert_eq!(places(&verified.trace.events), places(&trace.events));
        verified
    }
}

fn admit_with_validator(c: &str) -> ParticipantChange {
    ParticipantChange::Admit {
        code: code(c),
        name: format!("Participant {c}"),
        authority: key_named(&format!("authority {c}")).public(),
        validator: Some(key_named(&format!("validator {c}")).public()),
    }
}

#[test]
fn a_deep_history_of_splits_merges_and_transfers_verifies() {
    let mut s = scene();
    let mut current = s.register(100_000);
    let mut holder = s.miner;
    // Each round: a carat split off, a new carat from the mine merged in,
    // and the parcel handed to the other party.
    for _ in 0..12 {
        let parts = s.split(holder, current, &[1_000, 99_000]);
        let fresh = s.register(1_000);
        if holder != s.miner {
            s.hand_over(s.miner, fresh, holder);
        }
        current = s.merge(holder, vec![parts[1], fresh]);
        let next = if holder == s.miner { s.trader } else { s.miner };
        s.hand_over(holder, current, next);
        holder = next;
    }
    let verified = s.assert_verified_trace(&current);
    // The first registration, then per round the kept part, the fresh
    // parcel and the merged one.
    assert_eq!(verified.trace.parcels.len(), 1 + 3 * 12);
    // The first registration; per round the split, the registration, the
    // merge and the hand-over's offer and acceptance, and every other round
    // the fresh parcel's hand-over to the trader holding the parcel.
    assert_eq!(verified.trace.events.len(), 1 + 12 * 5 + 6 * 2);
    assert_eq!(
        verified.height,
        s.chain.snapshot().tip().expect("tip").height
    );
}

#[test]
fn a_wide_history_of_many_mines_merged_verifies() {
    let mut s = scene();
    let registrations = (1..=40)
        .map(|i| (s.miner, World::register_body("BW", i * 1_000)))
        .collect();
    let block = s.chain.block(registrations);
    let parcels: Vec<ParcelId> = block.txs.iter().map(|t| t.created[0]).collect();
    let merged = s.merge(s.miner, parcels);
    let total: u64 = (1..=40).map(|i| i * 1_000).sum();
    let parts = s.split(s.miner, merged, &[total / 10; 10]);
    let regrouped = s.merge(s.miner, parts[..5].to_vec());
    let verified = s.assert_verified_trace(&regrouped);
    // The regrouped parcel, five parts, the merged parcel and 40 at mines.
    assert_eq!(verified.trace.parcels.len(), 1 + 5 + 1 + 40);
    // 40 registrations, the merge, the split and the regrouping.
    assert_eq!(verified.trace.events.len(), 43);
    // Each record once: the merged parcel, a parent of all five parts,
    // listed between them and then again, is refused.
    let bundle = s.chain.bundle(&regrouped);
    let at = |b: &Bundle, id: &ParcelId| b.parcels.iter().position(|p| p.record.id == *id);
    let (code, err) = refused(&bundle, |b| {
        let merged_at = at(b, &merged).expect("listed");
        let merged_record = b.parcels.remove(merged_at);
        b.parcels.insert(2, merged_record.clone());
        b.parcels.insert(4, merged_record);
    });
    assert_eq!(code, "bundle_unrelated", "{err}");
}

/// Registered before two changes of the validator set, handed over between
/// them, split after both.
fn history_across_two_set_changes() -> (Scene, ParcelId) {
    let mut s = scene();
    let registered = s.register(10_000);
    s.decide(admit_with_validator("AO"), &["BW", "EU", "ZA"]);
    s.hand_over(s.miner, registered, s.trader);
    let suspend = ParticipantChange::Suspend {
        code: code("ZA"),
        zones: Vec::new(),
    };
    s.decide(suspend, &["BW", "EU", "IN", "AO"]);
    let parts = s.split(s.trader, registered, &[3_000, 7_000]);
    (s, parts[0])
}

#[test]
fn a_bundle_verifies_after_the_validator_set_changed_twice() {
    let (s, part) = history_across_two_set_changes();
    let verified = s.assert_verified_trace(&part);
    assert_eq!(verified.genesis_validators, 4);
    let sizes: Vec<usize> = verified.set_changes.iter().map(|(_, n)| *n).collect();
    assert_eq!(sizes, [5, 4], "AO admitted, then ZA suspended");
    // Register, hand over (offer and accept), split.
    assert_eq!(verified.trace.events.len(), 4);
    // The governance decisions are proven but are not the parcel's events.
    assert_eq!(verified.txs, 4 + 2 + 3);
}

#[test]
fn the_bundle_file_round_trips_and_refuses_an_edited_view() {
    let (s, part) = history_across_two_set_changes();
    let bundle = s.chain.bundle(&part);
    let text = to_file(&bundle);
    let read = ReadBundle::parse(&text).expect("reads");
    assert_eq!(read.bundle, bundle);
    assert!(read.verify(&test_genesis()).is_ok());

    let edited = text.replacen("\"milli_carats\": 3000", "\"milli_carats\": 3500", 1);
    assert_ne!(edited, text, "the view shows the record");
    let read = ReadBundle::parse(&edited).expect("reads");
    assert_eq!(
        read.verify(&test_genesis()).map_err(|e| e.code()),
        Err("bundle_view_mismatch")
    );
    assert_eq!(
        ReadBundle::parse("{}").map_err(|e| e.code()).err(),
        Some("bundle_file")
    );
}

type Alteration = Box<dyn Fn(&mut Bundle)>;

/// Changes one thing in a good bundle and expects verification to fail
/// with `code` (and, for a commit, the commit's own code).
fn refused(bundle: &Bundle, change: impl FnOnce(&mut Bundle)) -> (String, BundleError) {
    let mut altered = bundle.clone();
    change(&mut altered);
    let err = altered
        .verify(&test_genesis())
        .expect_err("an altered bundle must fail");
    let code = match &err {
        BundleError::Commit { source, .. } => format!("{}/{}", err.code(), source.code()),
        other => other.code().to_owned(),
    };
    (code, err)
}

#[test]
fn each_kind_of_altered_byte_fails_at_its_own_step() {
    let (s, part) = history_across_two_set_changes();
    let bundle = s.chain.bundle(&part);
    assert!(bundle.verify(&test_genesis()).is_ok());
    let with_siblings = bundle
        .txs
        .iter()
        .position(|tx| !tx.proof.siblings.is_empty())
        .expect("a block of several transactions");
    let newest = bundle.headers.len() - 1;

    let cases: Vec<(&str, Alteration)> = vec![
        (
            "bundle_tx_inclusion",
            Box::new(|b| {
                let bytes = &mut b.txs[0].bytes;
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
            }),
        ),
        (
            "bundle_tx_inclusion",
            Box::new(move |b| b.txs[with_siblings].proof.siblings[0].0[0] ^= 1),
        ),
        (
            "bundle_tx_place",
            Box::new(move |b| b.txs[with_siblings].proof.leaf_count += 1),
        ),
        (
            "bundle_commit/commit_other_block",
            Box::new(|b| b.headers[0].header.time += 1),
        ),
        (
            "bundle_commit/commit_other_block",
            Box::new(move |b| b.headers[newest].header.parcels_root.0[0] ^= 1),
        ),
        (
            "bundle_commit/commit_bad_signature",
            Box::new(|b| b.headers[1].commit.precommits[0].1 .0[0] ^= 1),
        ),
        (
            "bundle_commit/commit_too_few_votes",
            Box::new(|b| b.headers[1].commit.precommits.truncate(2)),
        ),
        (
            "bundle_set_change",
            Box::new(|b| b.set_changes[0].validators[0].1 = key_named("intruder").public()),
        ),
        (
            "bundle_set_change_missing",
            Box::new(|b| {
                b.set_changes.remove(1);
            }),
        ),
        (
            "bundle_history",
            Box::new(|b| {
                b.parcels[1].events.remove(1);
            }),
        ),
        (
            "bundle_parcel_proof",
            Box::new(|b| b.parcels[0].record.holder = key_named("someone else").public()),
        ),
        (
            "bundle_ancestor_missing",
            Box::new(|b| {
                b.parcels.pop();
            }),
        ),
        (
            "bundle_other_genesis",
            Box::new(|b| b.genesis = Hash32([1; 32])),
        ),
        ("bundle_no_headers", Box::new(|b| b.headers.clear())),
        ("bundle_tx_order", Box::new(|b| b.txs.swap(0, 1))),
        (
            "bundle_event_order",
            Box::new(|b| b.parcels[1].events.reverse()),
        ),
        (
            "bundle_decision",
            Box::new(|b| b.set_changes[0].decisions[0] = b.parcels[0].events[0]),
        ),
        (
            "bundle_subject",
            Box::new(|b| b.parcel = b.parcels[1].record.id),
        ),
    ];
    for (expected, change) in cases {
        let (code, err) = refused(&bundle, change);
        assert_eq!(code, expected, "{err}");
    }
}

#[test]
fn a_transaction_whose_signature_does_not_verify_is_named() {
    // A transfer no miner signed, in a block validators lying together
    // decided: everything but its signature checks.
    let mut s = scene();
    let parcel = s.register(1_000);
    let mut forged = s
        .chain
        .sign(
            &s.miner,
            Body::OfferTransfer {
                parcel,
                to: s.trader,
                price_cents: None,
            },
        )
        .tx;
    forged.signature.0[0] ^= 1;
    let forged = DecodedTx::decode(forged.to_bytes()).expect("decodes");
    let height = s
        .chain
        .block_unchecked(vec![forged.clone()])
        .block
        .header
        .height;

    let err = s
        .chain
        .bundle(&parcel)
        .verify(&test_genesis())
        .expect_err("a bad signature");
    assert_eq!(err.code(), "bundle_tx_signature", "{err}");
    assert_eq!(
        err,
        BundleError::TxSignature {
            tx: forged.id,
            height
        }
    );
}

#[test]
fn a_bundle_that_skips_a_validator_set_change_is_refused() {
    let (s, part) = history_across_two_set_changes();
    let bundle = s.chain.bundle(&part);
    let (first_change, second_change) =
        (bundle.set_changes[0].height, bundle.set_changes[1].height);
    // Leave out the second change's header with the change itself (and
    // its decisions): the next header names a set the verifier never met.
    let (code, err) = refused(&bundle, |b| {
        b.headers.retain(|h| h.header.height != second_change);
        b.set_changes.pop();
    });
    assert_eq!(code, "bundle_validator_set", "{err}");
    // A change shown without the header that vouches for it.
    let (code, err) = refused(&bundle, |b| {
        b.headers.retain(|h| h.header.height != first_change);
    });
    assert_eq!(code, "bundle_set_change_unvouched", "{err}");
}

#[test]
fn a_bundle_is_checked_against_the_genesis_it_is_given() {
    let (s, part) = history_across_two_set_changes();
    let bundle = s.chain.bundle(&part);
    let mut other = test_genesis();
    other.chain_id = "kp-elsewhere".into();
    assert_eq!(
        bundle.verify(&other).map_err(|e| e.code()),
        Err("bundle_other_chain")
    );
    let mut other = test_genesis();
    other.genesis_time += 1;
    assert_eq!(
        bundle.verify(&other).map_err(|e| e.code()),
        Err("bundle_other_genesis")
    );
}

#[test]
fn a_split_sibling_is_not_part_of_the_bundle() {
    let (s, part) = history_across_two_set_changes();
    let bundle = s.chain.bundle(&part);
    let split = bundle.txs.last().expect("the split");
    let sibling = parcel_id(&tx_id(&split.bytes), 1);
    assert!(bundle.parcels.iter().all(|p| p.record.id != sibling));
}

#[test]
fn no_single_byte_of_a_bundle_can_change_and_still_verify() {
    let (s, part) = history_across_two_set_changes();
    let bytes = borsh::to_vec(&s.chain.bundle(&part)).expect("encode");
    let genesis = test_genesis();
    // Fault injection over every byte: headers, commits, validator sets,
    // transactions, proofs and records are each covered by some check, so
    // a change either breaks the encoding or fails verification.
    let mut changed = 0;
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut forged = bytes.clone();
            forged[at] ^= flip;
            if let Ok(bundle) = borsh::from_slice::<Bundle>(&forged) {
                changed += 1;
                assert!(
                    bundle.verify(&genesis).is_err(),
                    "byte {at} of {} changed by {flip:#04x} and the bundle still verifies",
                    bytes.len()
                );
            }
        }
    }
    assert!(
        changed > 100,
        "most changes still decode, and are caught by the checks"
    );
}
