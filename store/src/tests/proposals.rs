//! Proposals (`proposals.rs`): stored open and executed, with the changes
//! they make to the Participant set and the validator set.

use super::*;

/// Proposals persist, open and executed; a Participant admitted by one is
/// found by its authority key; the validator set reads the same from the
/// store as from memory.
#[test]
fn proposals_and_their_changes_are_stored() {
    use kp_ledger::model::{ParticipantChange, ParticipantStatus, ProposalStatus};
    use kp_ledger::rules::validator_set;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("ledger.redb"));
    let authority = |c: &str| key_named(&format!("authority {c}"));
    let angola = key_named("authority AO").public();
    let admit = Body::ProposeParticipantChange {
        change: ParticipantChange::Admit {
            code: "AO".parse().expect("code"),
            name: "Angola".into(),
            authority: angola,
            validator: None,
        },
    };
    let suspend = Body::ProposeParticipantChange {
        change: ParticipantChange::Suspend {
            code: "ZA".parse().expect("code"),
            zones: vec![],
        },
    };
    let block = commit(
        &store,
        vec![
            signed(&authority("BW"), 1, admit),
            signed(&authority("BW"), 2, suspend),
        ],
    );
    assert!(!block.delta.changes_participants());
    let (admission, suspension) = (block.txs[0].created[0], block.txs[1].created[0]);
    let approve = |proposal| Body::ApproveParticipantChange { proposal };
    let block = commit(
        &store,
        vec![
            signed(&authority("EU"), 1, approve(admission)),
            signed(&authority("IN"), 1, approve(admission)),
            signed(&authority("EU"), 2, approve(suspension)),
        ],
    );
    assert!(block.delta.changes_participants());

    let snapshot = store.snapshot().expect("snapshot");
    let open: Vec<_> = snapshot
        .open_proposals()
        .expect("open proposals")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(open, vec![suspension]);
    let executed = snapshot
        .proposal_by_prefix(&admission.to_string()[..8])
        .expect("by prefix");
    assert!(matches!(
        executed.status,
        ProposalStatus::Executed { height: 2, .. }
    ));
    assert_eq!(
        snapshot
            .proposal(&suspension)
            .expect("read")
            .map(|p| p.approvals.len()),
        Some(2)
    );
    let code = "AO".parse().expect("code");
    assert_eq!(
        snapshot.participant_by_authority(&angola).expect("read"),
        Some(code)
    );
    assert_eq!(
        snapshot.participant(code).expect("read").map(|p| p.status),
        Some(ParticipantStatus::Active)
    );
    let mut memory = kp_ledger::mem_state::MemState::default();
    memory.apply(test_genesis().initial_delta());
    assert_eq!(
        validator_set(&snapshot).expect("from the store"),
        validator_set(&memory).expect("from memory"),
        "AO runs no validator, and ZA is still active"
    );
    assert!(matches!(
        snapshot.proposal_by_prefix("00000000"),
        Err(StoreError::NotFound {
            what: "proposal",
            ..
        })
    ));
}
