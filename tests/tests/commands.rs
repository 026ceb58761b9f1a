//! The `kp` commands the README walkthrough does not run, end to end against
//! a real `kpnode dev`: key show, participant list, merge (mixed origin),
//! transfer cancel, parcel flag and unflag, member revoke, and `--json`.

use std::path::Path;

use kp_ledger::model::{Participant, ParticipantStatus, TransferStatus};
use kp_tests::{ok_stdout, register_args, DevNode};

struct Member {
    key_file: String,
    public: String,
}

fn member(node: &DevNode, dir: &Path, name: &str, authority: &str, role: &str) -> Member {
    let authority = node.key_path(authority).to_string_lossy().into_owned();
    let (key_file, public) = node.member(dir, &authority, name, role);
    assert_eq!(
        ok_stdout(&node.kp(&["key", "show", &key_file]), "key show"),
        public
    );
    Member { key_file, public }
}

#[test]
fn the_other_commands_work_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("node"), "BW,ZA,CF,EU").unwrap();
    let d = dir.path();

    // The Participants, with the Central African Republic restricted to its zones.
    let out = node.kp(&["participant", "list", "--json"]);
    let participants: Vec<Participant> =
        serde_json::from_str(&ok_stdout(&out, "participant list")).unwrap();
    assert_eq!(participants.len(), 4);
    let car = participants
        .iter()
        .find(|p| p.code.as_str() == "CF")
        .unwrap();
    assert!(matches!(&car.status, ParticipantStatus::Restricted { zones } if zones.len() == 4));
    let human = ok_stdout(&node.kp(&["participant", "list"]), "participant list");
    assert!(
        human.contains("Botswana") && human.contains("Carnot"),
        "{human}"
    );

    let bw_miner = member(&node, d, "bw-miner", "BW", "miner");
    let sorter = member(&node, d, "bw-sorter", "BW", "sorter");
    let trader = member(&node, d, "bw-trader", "BW", "trader");
    let register = |m: &Member, carats: &str| {
        let args = register_args(&m.key_file, "BW", None, carats, "7102.10");
        ok_stdout(&node.kp(&args), "register")
    };
    let give = |from: &Member, parcel: &str, to: &Member| {
        let offer = ok_stdout(
            &node.kp(&[
                "transfer",
                "offer",
                "--key",
                &from.key_file,
                "--parcel",
                parcel,
                "--to",
                &to.public,
            ]),
            "offer",
        );
        ok_stdout(
            &node.kp(&[
                "transfer",
                "accept",
                "--key",
                &to.key_file,
                "--transfer",
                &offer,
            ]),
            "accept",
        );
    };

    // Merge two parcels at the sorting house, using short id prefixes.
    let a = register(&bw_miner, "3.000");
    let b = register(&bw_miner, "4.500");
    give(&bw_miner, &a[..10], &sorter);
    give(&bw_miner, &b[..10], &sorter);
    let merged = ok_stdout(
        &node.kp(&[
            "parcel",
            "merge",
            "--key",
            &sorter.key_file,
            "--parcel",
            &a,
            "--parcel",
            &b,
        ]),
        "merge",
    );
    let view = node.parcel(&merged);
    assert_eq!(view.parcel.milli_carats, 7_500);
    assert_eq!(view.parcel.parents.len(), 2);
    node.kp_refused(
        &[
            "parcel",
            "merge",
            "--key",
            &sorter.key_file,
            "--parcel",
            &a,
            "--parcel",
            &b,
        ],
        "parcel_consumed",
    );

    // Offer, then cancel: only the offerer may.
    let offer = ok_stdout(
        &node.kp(&[
            "transfer",
            "offer",
            "--key",
            &sorter.key_file,
            "--parcel",
            &merged,
            "--to",
            &trader.public,
        ]),
        "offer",
    );
    node.kp_refused(
        &[
            "transfer",
            "cancel",
            "--key",
            &trader.key_file,
            "--transfer",
            &offer,
        ],
        "not_offerer",
    );
    ok_stdout(
        &node.kp(&[
            "transfer",
            "cancel",
            "--key",
            &sorter.key_file,
            "--transfer",
            &offer,
        ]),
        "cancel",
    );
    let transfer: serde_json::Value = serde_json::from_str(&ok_stdout(
        &node.kp(&["transfer", "show", &offer, "--json"]),
        "transfer show",
    ))
    .unwrap();
    assert_eq!(
        transfer["status"],
        serde_json::to_value(TransferStatus::Cancelled).unwrap()
    );
    node.kp_refused(
        &[
            "transfer",
            "accept",
            "--key",
            &trader.key_file,
            "--transfer",
            &offer,
        ],
        "transfer_closed",
    );

    // Botswana flags the parcel: it cannot move until the flag is cleared.
    let bw = node.key_path("BW").to_string_lossy().into_owned();
    let za = node.key_path("ZA").to_string_lossy().into_owned();
    node.kp_refused(
        &[
            "parcel",
            "flag",
            "--key",
            &za,
            "--parcel",
            &merged,
            "--reason",
            "not mine to flag",
        ],
        "other_participants_member",
    );
    ok_stdout(
        &node.kp(&[
            "parcel",
            "flag",
            "--key",
            &bw,
            "--parcel",
            &merged,
            "--reason",
            "footprint under review",
        ]),
        "flag",
    );
    let shown = ok_stdout(&node.kp(&["parcel", "show", &merged]), "show");
    assert!(shown.contains("footprint under review"), "{shown}");
    node.kp_refused(
        &[
            "transfer",
            "offer",
            "--key",
            &sorter.key_file,
            "--parcel",
            &merged,
            "--to",
            &trader.public,
        ],
        "parcel_flagged",
    );
    ok_stdout(
        &node.kp(&["parcel", "unflag", "--key", &bw, "--parcel", &merged]),
        "unflag",
    );
    give(&sorter, &merged, &trader);

    // A revoked member can do nothing.
    ok_stdout(
        &node.kp(&[
            "member",
            "revoke",
            "--key",
            &bw,
            "--member",
            &bw_miner.public,
        ]),
        "revoke",
    );
    let revoked = register_args(&bw_miner.key_file, "BW", None, "1.000", "7102.10");
    node.kp_refused(&revoked, "member_revoked");

    // A CAR miner registers only from the compliant zones, and only from
    // the zone it is enrolled for (tests/tests/compliant_zones.rs).
    let cf_miner = member(&node, d, "cf-miner", "CF", "miner");
    let cf = |zone| register_args(&cf_miner.key_file, "CF", zone, "2.000", "7102.10");
    node.kp_refused(&cf(None), "zone_required");
    node.kp_refused(&cf(Some("Carnot")), "zone_mismatch");

    // Status in both views.
    let status: serde_json::Value =
        serde_json::from_str(&ok_stdout(&node.kp(&["status", "--json"]), "status")).unwrap();
    assert_eq!(status["chain_id"], "kp-dev");
    assert!(ok_stdout(&node.kp(&["status"]), "status").contains("kp-dev"));
}
