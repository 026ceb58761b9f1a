//! The validator set changes by vote: an admitted Participant joins and
//! votes, a suspended one cannot export, and a node outside the set
//! follows the chain as an observer.

use super::*;

/// An authority approves a proposal through node `node`; `kp` prints the
/// transaction's status and the proposal's.
fn approve(cluster: &Cluster, node: usize, key: &str, proposal: &str) -> TxStatus {
    let out = cluster.kp(
        node,
        &[
            "--json",
            "participant",
            "approve",
            "--key",
            key,
            "--proposal",
            proposal,
        ],
    );
    let printed: serde_json::Value =
        serde_json::from_str(&ok_stdout(&out, "kp participant approve")).expect("JSON");
    let status: TxStatus =
        serde_json::from_value(printed["transaction"].clone()).expect("a TxStatus");
    assert_eq!(status.state, TxState::Committed);
    status
}

#[test]
fn an_admitted_participant_joins_and_votes_and_a_suspended_one_cannot_export() {
    let mut cluster = start_cluster();
    let code = |i: usize| cluster.participant(i).to_owned();
    let (am, ao) = (code(1), code(0));

    // A shipment AM's exporter could send to AO's importer.
    let (miner, _) = enrol(&cluster, 1, 1, "am-miner", "miner");
    let (exporter, _) = enrol(&cluster, 1, 1, "am-exporter", "exporter");
    let (importer, _) = enrol(&cluster, 0, 0, "ao-importer", "importer");
    let (parcel, _) = register(&cluster, 1, &miner, &am);
    let offered = offer(&cluster, 1, &miner, &parcel, &exporter);
    accept(&cluster, 1, &exporter, &offered.created[0].to_string());

    // BW is admitted: three of four active Participants approve.
    let joiner = cluster.init_joiner("BW").expect("kpnode init");
    let ao_key = cluster.authority_key(0).to_string_lossy().into_owned();
    let proposal = ok_stdout(
        &cluster.kp(
            0,
            &[
                "participant",
                "propose",
                "--key",
                &ao_key,
                "--admit",
                "BW",
                "--name",
                "Botswana",
                "--authority",
                &joiner.authority,
                "--validator",
                &joiner.validator,
            ],
        ),
        "kp participant propose --admit",
    );
    for approver in [1, 2] {
        let key = cluster
            .authority_key(approver)
            .to_string_lossy()
            .into_owned();
        let approved = approve(&cluster, approver, &key, &proposal);
        committed_on(&cluster, &cluster.all(), &approved.id);
    }
    let admitted_at = cluster.status(0).expect("status").height;
    assert_eq!(cluster.status(0).expect("status").validators.len(), 5);

    // Its node catches up from height 1 and agrees.
    let bw = cluster.start_joiner(&joiner).expect("the joiner starts");
    cluster
        .wait_at_least(&[bw], admitted_at, CATCH_UP_LIMIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    cluster
        .same_chain_through(&[0, bw], admitted_at)
        .unwrap_or_else(|e| panic!("{e:#}"));

    // With BD's node down, four of five validators are up: a block needs
    // four votes, so BW's counts.
    cluster.kill9(3);
    let (_, id) = enrol(&cluster, 0, 0, "after-bw-joined", "trader");
    let with_bw = committed_on(&cluster, &[0, 1, 2, bw], &id);
    let block = cluster
        .block(0, with_bw.height.expect("committed at a height"))
        .expect("the block");
    assert!(block.header.height > admitted_at);

    // AM is suspended (four of five approve: BD's authority signs through
    // another node); its authority can no longer export.
    let bw_key = cluster.joiner_key(&joiner).to_string_lossy().into_owned();
    let bd_key = cluster.authority_key(3).to_string_lossy().into_owned();
    let suspension = ok_stdout(
        &cluster.kp(
            0,
            &["participant", "propose", "--key", &ao_key, "--suspend", &am],
        ),
        "kp participant propose --suspend",
    );
    let au_key = cluster.authority_key(2).to_string_lossy().into_owned();
    for key in [&au_key, &bw_key, &bd_key] {
        let approved = approve(&cluster, 2, key, &suspension);
        committed_on(&cluster, &[0, 1, 2, bw], &approved.id);
    }
    let validators = cluster.status(0).expect("status").validators;
    assert!(
        validators.iter().all(|v| v.participant.as_str() != am),
        "a suspended Participant's validator no longer counts"
    );
    let am_key = cluster.authority_key(1).to_string_lossy().into_owned();
    let number = format!("{am}-2026-0001");
    let parcel = parcel.to_string();
    cluster.node(0).kp_refused(
        &cert_issue_args(&Shipment {
            authority_key: &am_key,
            number: &number,
            exporter: &exporter.public,
            importer: &importer.public,
            to: &ao,
            parcels: &[&parcel],
            hs: "7102.10",
            expires: "2030-01-01",
            value_usd: None,
        }),
        "participant_suspended",
    );

    // The parcel's provenance, proven at a height after both changes of the
    // validator set, checks against the genesis file through both, on the
    // engine's own commit certificates.
    let genesis = cluster.dir().join("genesis.json");
    let genesis = genesis.to_string_lossy().into_owned();
    let verified: Verified = serde_json::from_str(&ok_stdout(
        &cluster.kp(
            0,
            &[
                "trace",
                &parcel,
                "--verify",
                "--genesis",
                &genesis,
                "--json",
            ],
        ),
        "kp trace --verify",
    ))
    .expect("kp trace --verify --json");
    let sizes: Vec<usize> = verified.set_changes.iter().map(|(_, n)| *n).collect();
    assert_eq!(sizes, [5, 4], "BW admitted, then AM suspended");
    assert_eq!(verified.genesis_validators, 4);
    // Registered, offered, accepted.
    assert_eq!(verified.trace.events.len(), 3);
}

#[test]
fn a_node_outside_the_validator_set_follows_the_chain_as_an_observer() {
    let mut cluster = start_cluster();
    let origin = cluster.participant(0).to_owned();
    let (miner, _) = enrol(&cluster, 0, 0, "observed-miner", "miner");
    let (parcel, _) = register(&cluster, 0, &miner, &origin);

    // A Participant the ledger does not know runs a node: it fetches the
    // chain from the validators and agrees with them.
    let observer = cluster.init_joiner("ZW").expect("kpnode init");
    let watching = cluster
        .start_joiner(&observer)
        .expect("the observer starts");
    let height = cluster.status(0).expect("status").height;
    cluster
        .wait_at_least(&[watching], height, CATCH_UP_LIMIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    cluster
        .same_chain_through(&[0, watching], height)
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        cluster.status(watching).expect("status").validators.len(),
        usize::from(VALIDATORS),
        "the observer is not counted"
    );

    // Auditors can ask it, and check what it says against the genesis.
    let genesis = cluster.dir().join("genesis.json");
    let verified: Verified = serde_json::from_str(&ok_stdout(
        &cluster.kp(
            watching,
            &[
                "trace",
                &parcel.to_string(),
                "--verify",
                "--genesis",
                &genesis.to_string_lossy(),
                "--json",
            ],
        ),
        "kp trace --verify on the observer",
    ))
    .expect("kp trace --verify --json");
    assert_eq!(verified.trace.events.len(), 1);

    // It takes no transactions: none it took could reach a block.
    assert!(cluster.status(watching).expect("status").read_only);
    assert!(!cluster.status(0).expect("status").read_only);
    let authority = cluster.authority_key(0).to_string_lossy().into_owned();
    cluster.node(watching).kp_refused(
        &enroll_args(&authority, &miner.public, "trader", "Refused", "LIC-X"),
        "read_only_node",
    );
    let human = ok_stdout(&cluster.kp(watching, &["status"]), "kp status");
    assert!(human.contains("observer      read-only"), "{human}");
}
