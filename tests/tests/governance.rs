//! Governance of the Participant set through `kp`, against a real
//! `kpnode dev`: a suspension proposed and approved by enough authorities
//! changes `kp participant list` and stops the suspended Participant's
//! trade; a reinstatement restores both.

use kp_ledger::model::{Participant, ParticipantStatus, ProposalStatus};
use kp_tests::{ok_stdout, register_args, DevNode};
use kp_wire::api::ProposalView;

fn participants(node: &DevNode) -> Vec<Participant> {
    let out = node.kp(&["participant", "list", "--json"]);
    serde_json::from_str(&ok_stdout(&out, "participant list")).unwrap()
}

fn standing(node: &DevNode, code: &str) -> ParticipantStatus {
    participants(node)
        .into_iter()
        .find(|p| p.code.as_str() == code)
        .map(|p| p.status)
        .unwrap_or_else(|| panic!("{code} is listed"))
}

#[test]
fn a_suspension_takes_more_than_two_thirds_and_stops_trade() {
    let dir = tempfile::tempdir().unwrap();
    // Four active Participants: three approvals pass, two do not.
    let node = DevNode::start(&dir.path().join("node"), "BW,ZA,EU,IN").unwrap();
    let key = |code: &str| node.key_path(code).to_string_lossy().into_owned();

    // The dev chain's one validator is the first Participant's.
    let list = participants(&node);
    assert!(list.iter().all(|p| p.status == ParticipantStatus::Active));
    let with_validator: Vec<&str> = list
        .iter()
        .filter(|p| p.validator.is_some())
        .map(|p| p.code.as_str())
        .collect();
    assert_eq!(with_validator, ["BW"]);
    let human = ok_stdout(&node.kp(&["participant", "list"]), "participant list");
    assert!(
        human.contains("no validator") && human.contains("active"),
        "{human}"
    );

    // A South African miner, enrolled while South Africa is active.
    let (miner_key, miner) = node.new_key(dir.path(), "za-miner");
    ok_stdout(
        &node.kp(&[
            "member",
            "enroll",
            "--key",
            &key("ZA"),
            "--member",
            &miner,
            "--role",
            "miner",
            "--name",
            "Venetia",
            "--licence",
            "ZA-M-1",
        ]),
        "enrol",
    );
    let za_parcel = register_args(&miner_key, "ZA", None, "1.500", "7102.10");
    ok_stdout(&node.kp(&za_parcel), "register while active");

    // Botswana proposes; stdout is the proposal id alone.
    let proposal = ok_stdout(
        &node.kp(&[
            "participant",
            "propose",
            "--key",
            &key("BW"),
            "--suspend",
            "ZA",
        ]),
        "propose",
    );
    assert_eq!(proposal.len(), 64, "{proposal}");
    let open = ok_stdout(&node.kp(&["participant", "proposals"]), "proposals");
    assert!(
        open.contains(&proposal[..12])
            && open.contains("1 of 4 active Participants approve, 3 needed"),
        "{open}"
    );

    // The EU approves by a prefix: two of four is not enough.
    let approve = |code: &str| {
        node.kp(&[
            "participant",
            "approve",
            "--key",
            &key(code),
            "--proposal",
            &proposal[..10],
        ])
    };
    let said = ok_stdout(&approve("EU"), "EU approves");
    assert!(said.contains("not applied yet: 2 of 4"), "{said}");
    assert_eq!(standing(&node, "ZA"), ParticipantStatus::Active);
    node.kp_refused(
        &[
            "participant",
            "approve",
            "--key",
            &key("EU"),
            "--proposal",
            &proposal,
        ],
        "already_approved",
    );

    // India's approval is the third: the suspension applies.
    let said = ok_stdout(&approve("IN"), "IN approves");
    assert!(said.contains("it applied at height"), "{said}");
    assert_eq!(standing(&node, "ZA"), ParticipantStatus::Suspended);
    let human = ok_stdout(&node.kp(&["participant", "list"]), "participant list");
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("ZA ") && l.ends_with("suspended")),
        "{human}"
    );

    // Suspended: its miner registers nothing, its authority no longer votes.
    node.kp_refused(&za_parcel, "participant_suspended");
    node.kp_refused(
        &[
            "participant",
            "propose",
            "--key",
            &key("ZA"),
            "--reinstate",
            "ZA",
        ],
        "participant_not_active",
    );
    // The one validator cannot be suspended: no block could follow.
    node.kp_refused(
        &[
            "participant",
            "propose",
            "--key",
            &key("EU"),
            "--suspend",
            "BW",
        ],
        "no_validators_left",
    );

    // Three active now: all three reinstate South Africa.
    let reinstate = ok_stdout(
        &node.kp(&[
            "participant",
            "propose",
            "--key",
            &key("EU"),
            "--reinstate",
            "ZA",
        ]),
        "propose reinstatement",
    );
    for code in ["BW", "IN"] {
        ok_stdout(
            &node.kp(&[
                "participant",
                "approve",
                "--key",
                &key(code),
                "--proposal",
                &reinstate,
            ]),
            "approve reinstatement",
        );
    }
    assert_eq!(standing(&node, "ZA"), ParticipantStatus::Active);
    ok_stdout(&node.kp(&za_parcel), "register once reinstated");

    // Both proposals are kept, executed; none is open.
    let done: ProposalView = serde_json::from_str(&ok_stdout(
        &node.kp(&["participant", "proposal", &proposal[..8], "--json"]),
        "proposal",
    ))
    .unwrap();
    assert!(matches!(
        done.status,
        ProposalStatus::Executed {
            approvals: 3,
            active: 4,
            ..
        }
    ));
    let open: Vec<ProposalView> = serde_json::from_str(&ok_stdout(
        &node.kp(&["participant", "proposals", "--json"]),
        "proposals",
    ))
    .unwrap();
    assert!(open.is_empty(), "{open:?}");
    node.kp_refused(&["participant", "proposal", "00000000"], "not_found");
}
