//! `kp` with no node: help, usage errors, key files, commands not there yet.

// A test: a failed step should stop it loudly (the workspace bans
// unwrap and panic in code that runs in a node or `kp`).
#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use common::{kp, kp_with, new_key, PASSPHRASE};

#[test]
fn help_lists_every_command_of_the_contract() {
    let run = kp(&["--help"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for command in [
        "key",
        "status",
        "member",
        "cert",
        "parcel",
        "transfer",
        "participant",
        "trace",
        "verify",
        "stats",
        "anomalies",
        "watch",
    ] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "`kp --help` does not list {command}:\n{}",
            run.stdout
        );
    }
    for (group, subcommands) in [
        ("key", &["new", "show"][..]),
        ("member", &["enroll", "revoke"][..]),
        ("cert", &["issue", "receive", "show"][..]),
        (
            "parcel",
            &["register", "split", "merge", "flag", "unflag", "show"][..],
        ),
        ("transfer", &["offer", "accept", "cancel"][..]),
        (
            "participant",
            &["list", "propose", "approve", "proposals", "proposal"][..],
        ),
    ] {
        let run = kp(&[group, "--help"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for sub in subcommands {
            assert!(
                run.stdout
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{sub} "))),
                "`kp {group} --help` does not list {sub}:\n{}",
                run.stdout
            );
        }
    }
}

#[test]
fn every_contract_flag_is_accepted_by_help() {
    // Each command's --help names the flags docs/commands.md promises.
    for (args, flags) in [
        (&["key", "new"][..], &["--out", "--work-factor"][..]),
        (
            &["member", "enroll"][..],
            &[
                "--key",
                "--member",
                "--role",
                "--name",
                "--licence",
                "--zone",
            ][..],
        ),
        (
            &["member", "enrol"][..],
            &["--key", "--member", "--role"][..],
        ),
        (&["member", "revoke"][..], &["--key", "--member"][..]),
        (
            &["cert", "issue"][..],
            &[
                "--key",
                "--number",
                "--exporter",
                "--importer",
                "--to",
                "--parcel",
                "--hs",
                "--expires",
            ][..],
        ),
        (
            &["cert", "receive"][..],
            &["--key", "--number", "--carats", "--parcels"][..],
        ),
        (
            &["parcel", "flag"][..],
            &["--key", "--parcel", "--reason"][..],
        ),
        (&["parcel", "unflag"][..], &["--key", "--parcel"][..]),
        (
            &["parcel", "register"][..],
            &[
                "--key",
                "--origin",
                "--zone",
                "--mine",
                "--carats",
                "--stones",
                "--value-usd",
                "--hs",
            ][..],
        ),
        (
            &["transfer", "offer"][..],
            &["--key", "--parcel", "--to", "--price-usd"][..],
        ),
        (&["transfer", "accept"][..], &["--key", "--transfer"][..]),
        (&["transfer", "cancel"][..], &["--key", "--transfer"][..]),
        (
            &["parcel", "split"][..],
            &["--key", "--parcel", "--carats", "--hs"][..],
        ),
        (&["parcel", "merge"][..], &["--key", "--parcel"][..]),
        (&["trace"][..], &["--verify", "--export"][..]),
        (&["verify"][..], &["--genesis"][..]),
        (
            &["stats"][..],
            &["--participant", "--year", "--quarter"][..],
        ),
        (
            &["anomalies"][..],
            &["--participant", "--since", "--band", "--period-change"][..],
        ),
        (&["watch"][..], &["--from"][..]),
        (
            &["participant", "propose"][..],
            &[
                "--key",
                "--admit",
                "--name",
                "--authority",
                "--validator",
                "--suspend",
                "--zones",
                "--reinstate",
            ][..],
        ),
        (
            &["participant", "approve"][..],
            &["--key", "--proposal"][..],
        ),
        (&["status"][..], &["--node", "--json", "--timeout"][..]),
    ] {
        let mut with_help = args.to_vec();
        with_help.push("--help");
        let run = kp(&with_help);
        assert_eq!(run.code, 0, "kp {args:?} --help: {}", run.stderr);
        assert!(
            run.stdout.contains("Example"),
            "kp {args:?} --help has no example"
        );
        for flag in flags {
            assert!(
                run.stdout.contains(flag),
                "kp {args:?} --help lacks {flag}:\n{}",
                run.stdout
            );
        }
    }
}

#[test]
fn bad_carats_are_one_clear_line_and_exit_2() {
    let run = kp(&[
        "parcel", "split", "--key", "k.key", "--parcel", "3f9a12cd", "--carats", "1.2345,2",
    ]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("1.2345") && run.stderr.contains("at most 3 decimals"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());

    let run = kp(&[
        "parcel",
        "register",
        "--key",
        "k.key",
        "--origin",
        "BW",
        "--mine",
        "J",
        "--carats",
        "ten",
        "--stones",
        "1",
        "--value-usd",
        "1",
        "--hs",
        "7102.10",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("`ten`"), "{}", run.stderr);
}

#[test]
fn usage_errors_are_one_line() {
    for args in [
        &["parcel", "split", "--parcel", "3f9a12cd"][..],
        &["parcel", "show", "3f9a"][..],
        &["stauts"][..],
        &[
            "cert",
            "issue",
            "--key",
            "k",
            "--number",
            "BW-1",
            "--exporter",
            "00",
            "--importer",
            "00",
        ][..],
        &["parcel", "register", "--key", "k", "--origin", "B1"][..],
    ] {
        let run = kp(args);
        assert_eq!(run.code, 2, "kp {args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.lines().count(),
            1,
            "kp {args:?}:\n{}",
            run.stderr
        );
        assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    }
}

#[test]
fn key_new_then_show_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("miner.key");
    let shown_path = path.to_str().unwrap();
    let public = new_key(&path);
    assert_eq!(public.len(), 64);
    assert!(public
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));

    let run = kp(&["key", "show", shown_path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("{public}\n"),
        "stdout must be exactly the key"
    );

    let run = kp(&["key", "show", shown_path, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["public_key"], public);

    // The file does not hold the key in the clear, and the wrong passphrase fails.
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    let run = kp_with(&["key", "show", shown_path], Some("not the passphrase"));
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("wrong passphrase"), "{}", run.stderr);
    assert!(run.stdout.is_empty());

    // Never overwritten.
    let run = kp(&["key", "new", "--out", shown_path, "--work-factor", "4"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    let run = kp(&["key", "show", shown_path]);
    assert_eq!(run.stdout.trim(), public);
}

#[test]
fn no_passphrase_and_no_terminal_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    let run = kp_with(
        &[
            "key",
            "new",
            "--out",
            path.to_str().unwrap(),
            "--work-factor",
            "4",
        ],
        None,
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("KP_PASSPHRASE"), "{}", run.stderr);
    assert!(!path.exists());

    let run = kp_with(
        &[
            "key",
            "new",
            "--out",
            path.to_str().unwrap(),
            "--work-factor",
            "4",
        ],
        Some(""),
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("must not be empty"), "{}", run.stderr);

    let run = kp_with(&["key", "show", "missing.key"], Some(PASSPHRASE));
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
}

#[test]
fn kp_verify_names_what_is_wrong_with_its_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    std::fs::write(path("not-a-bundle.json"), "{\"hello\": 1}").expect("write");
    std::fs::write(path("not-json"), "genesis?").expect("write");
    for (args, start) in [
        (
            vec![
                "verify".to_owned(),
                path("missing.json"),
                "--genesis".into(),
                path("not-json"),
            ],
            "error: genesis ",
        ),
        (
            vec![
                "verify".to_owned(),
                path("missing.json"),
                "--genesis".into(),
                path("none.json"),
            ],
            "error: reading genesis ",
        ),
    ] {
        let run = kp(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(run.code, 1, "kp {args:?}");
        assert!(run.stderr.starts_with(start), "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    // A well-formed genesis, and a file that is no bundle.
    let genesis = kp_ledger::genesis::Genesis {
        chain_id: "kp-offline".into(),
        genesis_time: 0,
        participants: vec![kp_ledger::model::Participant {
            code: "BW".parse().expect("code"),
            name: "Botswana".into(),
            authority: kp_crypto::SecretKey::from_seed([1; 32]).public(),
            validator: Some(kp_crypto::SecretKey::from_seed([2; 32]).public()),
            status: kp_ledger::model::ParticipantStatus::Active,
        }],
    };
    std::fs::write(path("genesis.json"), genesis.to_json()).expect("write");
    let run = kp(&[
        "verify",
        &path("not-a-bundle.json"),
        "--genesis",
        &path("genesis.json"),
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("verification failed: the bundle file is not readable")
            && run.stderr.trim_end().ends_with("(bundle_file)"),
        "{}",
        run.stderr
    );
    // --genesis belongs to --verify.
    let run = kp(&["trace", "3f9a12cd", "--genesis", "g.json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn an_unreachable_node_is_named() {
    // Port 1 on loopback: nothing listens there.
    let run = kp(&["--node", "http://127.0.0.1:1", "status"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: cannot reach the node at http://127.0.0.1:1: "),
        "{}",
        run.stderr
    );

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kp"));
    let out = cmd
        .arg("participant")
        .arg("list")
        .env("KP_NODE", "127.0.0.1:1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the node at http://127.0.0.1:1"),
        "{stderr}"
    );
}
