//! Governance of the Participant set: each change needs approvals from more
//! than two thirds of the active Participants, only active Participants
//! vote, moot changes are refused, and the validator set and the trade
//! rules follow the Participant set.
//!
//! The test world starts with BW, EU, ZA and IN active (four voters: three
//! approvals pass, two do not), CF restricted and VE suspended.

use super::*;
use crate::model::{ParticipantChange, Proposal, ProposalId, ProposalStatus};
use crate::rules::{proposal_id, proposal_standing, validator_set};
use kp_crypto::Hash32;

use crate::testkit::key_named;

fn propose(w: &mut World, by: &str, change: ParticipantChange) -> Result<ProposalId, Rejection> {
    let authority = w.authority(by);
    let effects = w.apply(&authority, Body::ProposeParticipantChange { change })?;
    Ok(effects.created[0])
}

fn approve(
    w: &mut World,
    by: &str,
    proposal: ProposalId,
) -> Result<super::super::TxEffects, Rejection> {
    let authority = w.authority(by);
    w.apply(&authority, Body::ApproveParticipantChange { proposal })
}

fn proposal(w: &World, id: &ProposalId) -> Proposal {
    w.state.proposal(id).unwrap().unwrap()
}

fn standing(w: &World, c: &str) -> ParticipantStatus {
    w.state.participant(code(c)).unwrap().unwrap().status
}

fn suspend(c: &str, zones: &[&str]) -> ParticipantChange {
    ParticipantChange::Suspend {
        code: code(c),
        zones: zones.iter().map(|z| z.to_string()).collect(),
    }
}

fn reinstate(c: &str) -> ParticipantChange {
    ParticipantChange::Reinstate { code: code(c) }
}

fn admit(c: &str, with_validator: bool) -> ParticipantChange {
    ParticipantChange::Admit {
        code: code(c),
        name: format!("Participant {c}"),
        authority: key_named(&format!("authority {c}")).public(),
        validator: with_validator.then(|| key_named(&format!("validator {c}")).public()),
    }
}

/// Proposed by the first voter, approved by the others in turn: every step
/// must be accepted, and the change must apply at the last one.
fn decide(w: &mut World, change: ParticipantChange, voters: &[&str]) -> ProposalId {
    let id = propose(w, voters[0], change).unwrap();
    for voter in &voters[1..] {
        assert!(
            matches!(proposal(w, &id).status, ProposalStatus::Open),
            "applied before {voter} approved"
        );
        if let Err(r) = approve(w, voter, id) {
            panic!("{voter}'s approval refused: {r} ({})", r.code());
        }
    }
    assert!(
        matches!(proposal(w, &id).status, ProposalStatus::Executed { .. }),
        "not applied after {voters:?}"
    );
    id
}

/// The codes of the validator set, sorted by code for reading.
fn validators(w: &World) -> Vec<String> {
    let mut codes: Vec<String> = validator_set(&w.state)
        .unwrap()
        .into_iter()
        .map(|(c, _)| c.to_string())
        .collect();
    codes.sort_unstable();
    codes
}

#[test]
fn a_suspension_needs_more_than_two_thirds_of_the_active_participants() {
    let mut w = World::new();
    assert_eq!(validators(&w), ["BW", "EU", "IN", "ZA"]);
    let id = propose(&mut w, "BW", suspend("ZA", &[])).unwrap();
    let p = proposal(&w, &id);
    assert_eq!(
        (p.proposer, p.approvals.clone()),
        (code("BW"), vec![code("BW")])
    );
    assert_eq!(p.status, ProposalStatus::Open);

    approve(&mut w, "EU", id).unwrap();
    // Two of four is not more than two thirds.
    assert_eq!(proposal(&w, &id).status, ProposalStatus::Open);
    assert_eq!(standing(&w, "ZA"), ParticipantStatus::Active);
    let now = proposal_standing(&w.state, &proposal(&w, &id)).unwrap();
    let tally = now.tally;
    assert_eq!((tally.approvals, tally.active, tally.needed()), (2, 4, 3));
    assert_eq!(now.blocked, None);

    let effects = approve(&mut w, "IN", id).unwrap();
    assert!(effects.delta.changes_participants());
    assert_eq!(standing(&w, "ZA"), ParticipantStatus::Suspended);
    assert_eq!(
        proposal(&w, &id).status,
        ProposalStatus::Executed {
            height: w.tip.height,
            approvals: 3,
            active: 4
        }
    );
    assert_eq!(validators(&w), ["BW", "EU", "IN"]);
    assert_eq!(
        rejected(approve(&mut w, "ZA", id)),
        "participant_not_active"
    );
}

#[test]
fn the_proposal_id_is_derived_from_the_transaction() {
    let mut w = World::new();
    let bw = w.authority("BW");
    let tx = w.sign(
        &bw,
        Body::ProposeParticipantChange {
            change: suspend("ZA", &[]),
        },
    );
    let effects = w.apply_signed(&tx).unwrap();
    assert_eq!(effects.created, vec![proposal_id(&tx.id)]);
    assert!(
        !effects.delta.changes_participants(),
        "only a proposal so far"
    );
}

#[test]
fn a_suspension_with_zones_restricts_the_participant() {
    let mut w = World::new();
    decide(
        &mut w,
        suspend("IN", &[" Surat ", "surat", "Mumbai"]),
        &["EU", "ZA", "BW"],
    );
    assert_eq!(
        standing(&w, "IN"),
        ParticipantStatus::Restricted {
            zones: vec!["Surat".into(), "Mumbai".into()]
        }
    );
    // Restricted is partly suspended: it no longer votes, its validator stops.
    assert_eq!(validators(&w), ["BW", "EU", "ZA"]);
    assert_eq!(
        rejected(propose(&mut w, "IN", reinstate("CF"))),
        "participant_not_active"
    );
}

#[test]
fn reinstating_and_admitting_grow_the_voters_and_the_validators() {
    let mut w = World::new();
    decide(&mut w, reinstate("VE"), &["BW", "EU", "ZA"]);
    assert_eq!(standing(&w, "VE"), ParticipantStatus::Active);
    assert_eq!(validators(&w), ["BW", "EU", "IN", "VE", "ZA"]);

    // Five voters now: 3 × 3 is not more than 2 × 5, so four approvals are needed.
    let id = propose(&mut w, "VE", admit("AO", true)).unwrap();
    for voter in ["BW", "EU"] {
        approve(&mut w, voter, id).unwrap();
    }
    assert_eq!(proposal(&w, &id).status, ProposalStatus::Open);
    approve(&mut w, "ZA", id).unwrap();
    assert!(matches!(
        proposal(&w, &id).status,
        ProposalStatus::Executed {
            approvals: 4,
            active: 5,
            ..
        }
    ));
    let ao = w.state.participant(code("AO")).unwrap().unwrap();
    assert_eq!(ao.status, ParticipantStatus::Active);
    assert_eq!(ao.name, "Participant AO");
    assert_eq!(validators(&w), ["AO", "BW", "EU", "IN", "VE", "ZA"]);

    // The new authority acts at once: it enrols members and votes.
    w.key("authority AO");
    w.enrol("AO", "ao-miner", Role::Miner, None);
    let id = propose(&mut w, "AO", admit("NA", false)).unwrap();
    for voter in ["BW", "EU", "ZA"] {
        approve(&mut w, voter, id).unwrap();
    }
    assert_eq!(proposal(&w, &id).status, ProposalStatus::Open, "4 of 6");
    approve(&mut w, "IN", id).unwrap();
    assert_eq!(standing(&w, "NA"), ParticipantStatus::Active);
    // Without a validator it votes but does not validate.
    assert_eq!(validators(&w).len(), 6);
}

#[test]
fn the_validator_set_is_ordered_by_key() {
    let mut w = World::new();
    decide(&mut w, reinstate("VE"), &["BW", "EU", "ZA"]);
    let set = validator_set(&w.state).unwrap();
    assert_eq!(set.len(), 5);
    assert!(set.windows(2).all(|pair| pair[0].1 < pair[1].1));
    for (c, key) in &set {
        let p = w.state.participant(*c).unwrap().unwrap();
        assert_eq!(p.validator, Some(*key));
    }
}

#[test]
fn only_active_participants_authorities_propose_and_approve() {
    let mut w = World::new();
    let miner = w.enrol("BW", "miner", Role::Miner, None);
    assert_eq!(
        rejected(w.apply(
            &miner,
            Body::ProposeParticipantChange {
                change: suspend("ZA", &[])
            }
        )),
        "not_authority"
    );
    // CF is restricted (partly suspended) and VE suspended: neither votes.
    for c in ["CF", "VE"] {
        assert_eq!(
            rejected(propose(&mut w, c, suspend("ZA", &[]))),
            "participant_not_active"
        );
    }
    let id = propose(&mut w, "BW", suspend("ZA", &[])).unwrap();
    assert_eq!(
        rejected(approve(&mut w, "CF", id)),
        "participant_not_active"
    );
    assert_eq!(
        rejected(w.apply(&miner, Body::ApproveParticipantChange { proposal: id })),
        "not_authority"
    );
}

#[test]
fn one_approval_per_participant_and_none_after_execution() {
    let mut w = World::new();
    let id = propose(&mut w, "BW", suspend("ZA", &[])).unwrap();
    assert_eq!(rejected(approve(&mut w, "BW", id)), "already_approved");
    approve(&mut w, "EU", id).unwrap();
    assert_eq!(rejected(approve(&mut w, "EU", id)), "already_approved");
    approve(&mut w, "IN", id).unwrap();
    assert_eq!(rejected(approve(&mut w, "BW", id)), "proposal_executed");
    let unknown = proposal_id(&Hash32([9; 32]));
    assert_eq!(rejected(approve(&mut w, "BW", unknown)), "unknown_proposal");
}

#[test]
fn moot_and_malformed_changes_are_refused_when_proposed() {
    let mut w = World::new();
    let member = w.enrol("BW", "trader", Role::Trader, None);
    let fresh = key_named("authority AO").public();
    let admit_with =
        |authority: PublicKey, validator: Option<PublicKey>| ParticipantChange::Admit {
            code: code("AO"),
            name: "Angola".into(),
            authority,
            validator,
        };
    let bw = w.state.participant(code("BW")).unwrap().unwrap();
    let too_many_zones: Vec<String> = (0..=crate::rules::COMPLIANT_ZONES_MAX)
        .map(|i| format!("zone {i}"))
        .collect();
    let cases = [
        (admit("BW", true), "participant_exists"),
        (admit_with(bw.authority, None), "key_in_use"),
        (admit_with(fresh, bw.validator), "key_in_use"),
        (admit_with(member, None), "key_in_use"),
        (admit_with(fresh, Some(member)), "key_in_use"),
        (admit_with(fresh, Some(fresh)), "key_in_use"),
        (
            ParticipantChange::Admit {
                code: crate::model::ParticipantCode(*b"a1"),
                name: "x".into(),
                authority: fresh,
                validator: None,
            },
            "participant_code_malformed",
        ),
        (
            ParticipantChange::Admit {
                code: code("AO"),
                name: " ".into(),
                authority: fresh,
                validator: None,
            },
            "field_empty",
        ),
        (suspend("VE", &[]), "change_moot"),
        // CF is restricted to these zones already (in another order and case).
        (
            suspend("CF", &["nola", "Carnot", "Boda", "Berbérati"]),
            "change_moot",
        ),
        (reinstate("BW"), "change_moot"),
        (suspend("XK", &[]), "unknown_participant"),
        (reinstate("XK"), "unknown_participant"),
        (suspend("IN", &[&"z".repeat(300)]), "field_too_long"),
        (suspend("IN", &[""]), "field_empty"),
        (
            ParticipantChange::Suspend {
                code: code("IN"),
                zones: too_many_zones,
            },
            "too_large",
        ),
    ];
    for (change, expected) in cases {
        assert_eq!(
            rejected(propose(&mut w, "EU", change.clone())),
            expected,
            "{change:?}"
        );
    }
    // Other zones, or none, do change a restricted Participant's standing.
    assert!(propose(&mut w, "EU", suspend("CF", &["Nola"])).is_ok());
    assert!(propose(&mut w, "EU", suspend("CF", &[])).is_ok());
}

#[test]
fn a_change_that_became_moot_gathers_no_approvals_and_stays_open() {
    let mut w = World::new();
    let second = propose(&mut w, "EU", suspend("ZA", &[])).unwrap();
    decide(&mut w, suspend("ZA", &[]), &["BW", "EU", "IN"]);
    assert_eq!(rejected(approve(&mut w, "BW", second)), "change_moot");
    let open = proposal(&w, &second);
    assert_eq!(open.approvals, vec![code("EU")]);
    assert_eq!(open.status, ProposalStatus::Open);
    let now = proposal_standing(&w.state, &open).unwrap();
    assert_eq!(now.blocked.map(|r| r.code()), Some("change_moot"));

    // Once ZA is reinstated, the open proposal means something again.
    decide(&mut w, reinstate("ZA"), &["BW", "EU", "IN"]);
    let now = proposal_standing(&w.state, &proposal(&w, &second)).unwrap();
    assert_eq!(now.blocked, None);
    approve(&mut w, "BW", second).unwrap();
    approve(&mut w, "IN", second).unwrap();
    assert_eq!(standing(&w, "ZA"), ParticipantStatus::Suspended);
}

#[test]
fn with_one_active_participant_a_proposal_applies_at_once() {
    let mut w = World::new();
    decide(&mut w, suspend("IN", &[]), &["BW", "EU", "ZA"]);
    // Three voters: all three are needed (2 × 3 is not less than 3 × 2).
    decide(&mut w, suspend("ZA", &[]), &["BW", "EU", "ZA"]);
    // Two voters: both are needed.
    decide(&mut w, suspend("EU", &[]), &["BW", "EU"]);
    assert_eq!(validators(&w), ["BW"]);
    // Botswana alone decides, in the proposing transaction itself.
    let id = propose(&mut w, "BW", reinstate("ZA")).unwrap();
    assert!(matches!(
        proposal(&w, &id).status,
        ProposalStatus::Executed {
            approvals: 1,
            active: 1,
            ..
        }
    ));
    assert_eq!(standing(&w, "ZA"), ParticipantStatus::Active);
    // The last validator cannot be suspended, wholly or in part: no block
    // could follow.
    decide(&mut w, suspend("ZA", &[]), &["BW", "ZA"]);
    assert_eq!(
        rejected(propose(&mut w, "BW", suspend("BW", &[]))),
        "no_validators_left"
    );
    assert_eq!(
        rejected(propose(&mut w, "BW", suspend("BW", &["Orapa"]))),
        "no_validators_left"
    );
}

#[test]
fn a_second_approval_applies_a_proposal_that_passes_after_suspensions() {
    let mut w = World::new();
    let id = propose(&mut w, "BW", reinstate("CF")).unwrap();
    approve(&mut w, "EU", id).unwrap();
    // Suspending the two that have not approved leaves BW and EU: 2 of 2.
    decide(&mut w, suspend("IN", &[]), &["BW", "EU", "ZA"]);
    assert_eq!(rejected(approve(&mut w, "EU", id)), "already_approved");
    decide(&mut w, suspend("ZA", &[]), &["BW", "EU", "ZA"]);
    assert_eq!(proposal(&w, &id).status, ProposalStatus::Open);
    approve(&mut w, "EU", id).unwrap();
    assert_eq!(standing(&w, "CF"), ParticipantStatus::Active);
    assert_eq!(proposal(&w, &id).approvals, vec![code("BW"), code("EU")]);
}

#[test]
fn a_proposal_and_its_approvals_apply_in_one_block() {
    let mut w = World::new();
    let propose_tx = w.sign(
        &w.authority("EU"),
        Body::ProposeParticipantChange {
            change: suspend("IN", &[]),
        },
    );
    let id = proposal_id(&propose_tx.id);
    let approvals: Vec<_> = ["BW", "ZA", "IN"]
        .iter()
        .map(|c| {
            w.sign(
                &w.authority(c),
                Body::ApproveParticipantChange { proposal: id },
            )
        })
        .collect();
    let mut txs = vec![propose_tx];
    txs.extend(approvals);
    let (block, refused) = w.commit_block(txs);
    // IN's own approval comes after its suspension applied: it votes no more.
    assert_eq!(block.txs.len(), 3);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].1.code(), "participant_not_active");
    assert!(block.delta.changes_participants());
    assert_eq!(standing(&w, "IN"), ParticipantStatus::Suspended);

    let (quiet, _) = w.commit_block(vec![]);
    assert!(!quiet.delta.changes_participants());

    // The suspending block, decided by the set that still held IN, names
    // the set without IN as the next; the block after is decided by it.
    let before = &block.block.header;
    assert_ne!(before.next_validators_hash, before.validators_hash);
    let after = &quiet.block.header;
    assert_eq!(after.validators_hash, before.next_validators_hash);
    assert_eq!(after.next_validators_hash, after.validators_hash);
    assert_eq!(
        after.validators_hash,
        crate::block::validators_hash(&validator_set(&w.state).unwrap())
    );
}

mod trade_follows_the_participant_set {
    use super::*;

    #[test]
    fn a_suspended_issuer_certifies_nothing_until_reinstated() {
        let mut c = chain();
        let p = exportable(&mut c, 2_000);
        decide(&mut c.w, suspend("BW", &[]), &["EU", "ZA", "IN"]);
        let bw = c.w.authority("BW");
        let body = issue_body("BW-G1", &c, vec![p], 30);
        assert_eq!(
            rejected(c.w.apply(&bw, body.clone())),
            "participant_suspended"
        );
        decide(&mut c.w, reinstate("BW"), &["EU", "ZA", "IN"]);
        c.w.ok(&bw, body);
    }

    #[test]
    fn a_suspended_destination_neither_is_shipped_to_nor_receives() {
        let mut c = chain();
        let first = exportable(&mut c, 2_000);
        let second = exportable(&mut c, 3_000);
        let bw = c.w.authority("BW");
        let eu = c.w.authority("EU");
        c.w.ok(&bw, issue_body("BW-G2", &c, vec![first], 30));
        decide(&mut c.w, suspend("EU", &[]), &["BW", "ZA", "IN"]);
        let to_eu = issue_body("BW-G3", &c, vec![second], 30);
        assert_eq!(
            rejected(c.w.apply(&bw, to_eu.clone())),
            "participant_suspended"
        );
        // The shipment already under way waits at the border.
        let receipt = Body::ReceiveCertificate {
            number: "BW-G2".into(),
            milli_carats: 2_000,
            parcel_count: 1,
        };
        assert_eq!(
            rejected(c.w.apply(&eu, receipt.clone())),
            "participant_suspended"
        );
        decide(&mut c.w, reinstate("EU"), &["BW", "ZA", "IN"]);
        c.w.ok(&eu, receipt);
        c.w.ok(&bw, to_eu);
    }

    #[test]
    fn a_participant_restricted_by_governance_exports_only_from_its_zones() {
        let mut c = chain();
        let from_zone = |c: &mut Chain, zone: &str| {
            let mut body = World::register_body("BW", 1_000);
            if let Body::RegisterParcel { zone: z, .. } = &mut body {
                *z = Some(zone.to_owned());
            }
            let miner =
                c.w.enrol("BW", &format!("miner of {zone}"), Role::Miner, Some(zone));
            let parcel = c.w.ok(&miner, body).created[0];
            let exporter = c.exporter;
            c.w.hand_over(&miner, parcel, &exporter);
            parcel
        };
        let orapa = from_zone(&mut c, "Orapa");
        let jwaneng = from_zone(&mut c, "Jwaneng");
        decide(&mut c.w, suspend("BW", &["Orapa"]), &["EU", "ZA", "IN"]);
        let bw = c.w.authority("BW");
        assert_eq!(
            rejected(c.w.apply(&bw, issue_body("BW-G4", &c, vec![jwaneng], 30))),
            "zone_not_allowed"
        );
        c.w.ok(&bw, issue_body("BW-G5", &c, vec![orapa], 30));
    }
}
