//! `kpnode init` and `kpnode genesis`: two founders' homes make one genesis
//! that names both, with their keys; nothing is ever overwritten.

use std::path::Path;
use std::process::{Command, Output};

use kp_ledger::genesis::Genesis;

fn kpnode(args: &[&str], home_args: &[&Path]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kpnode"));
    command.args(args).env("KP_PASSPHRASE", "founders");
    for home in home_args {
        command.arg("--home").arg(home);
    }
    command.output().expect("kpnode runs")
}

fn card_key(home: &Path, field: &str) -> String {
    let text = std::fs::read_to_string(home.join("node").join("participant.json"))
        .expect("participant.json");
    let card: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    card[field].as_str().expect("a key").to_owned()
}

#[test]
fn init_homes_make_one_genesis_and_nothing_is_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bw, za) = (dir.path().join("bw"), dir.path().join("za"));
    for (home, code) in [(&bw, "BW"), (&za, "ZA")] {
        let out = kpnode(&["init", "--participant", code], &[home.as_path()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(&card_key(home, "validator")), "{said}");
    }
    let again = kpnode(&["init", "--participant", "BW"], &[bw.as_path()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwritten"));

    let out_file = dir.path().join("genesis.json");
    let out_arg = out_file.to_string_lossy().into_owned();
    let args = ["genesis", "--out", &out_arg, "--chain-id", "kp-founders"];
    let made = kpnode(&args, &[bw.as_path(), za.as_path()]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let genesis = Genesis::from_json(&std::fs::read_to_string(&out_file).expect("written"))
        .expect("a genesis");
    assert_eq!(genesis.chain_id, "kp-founders");
    let codes: Vec<&str> = genesis
        .participants
        .iter()
        .map(|p| p.code.as_str())
        .collect();
    assert_eq!(codes, ["BW", "ZA"]);
    for (participant, home) in genesis.participants.iter().zip([&bw, &za]) {
        assert_eq!(participant.authority.to_hex(), card_key(home, "authority"));
        let validator = participant.validator.expect("a validator");
        assert_eq!(validator.to_hex(), card_key(home, "validator"));
    }

    let twice = kpnode(&args, &[bw.as_path(), za.as_path()]);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("never overwritten"));
}

#[test]
fn a_node_whose_consensus_port_is_taken_stops_at_once_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Held for the whole test: the consensus port the node will find taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let api_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let made = Command::new(env!("CARGO_BIN_EXE_kpnode"))
        .args(["testnet", "--validators", "1", "--dir"])
        .arg(dir.path())
        .args(["--base-port", &port.to_string()])
        .args(["--api-port", &api_port.to_string()])
        .env("KP_PASSPHRASE", "founders")
        .output()
        .expect("kpnode testnet runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let mut node = Command::new(env!("CARGO_BIN_EXE_kpnode"))
        .arg("run")
        .arg("--home")
        .arg(dir.path().join("node0"))
        .arg("--genesis")
        .arg(dir.path().join("genesis.json"))
        .env("KP_PASSPHRASE", "founders")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kpnode run starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = node.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = node.kill();
            let _ = node.wait();
            panic!("kpnode kept running with its consensus port taken");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = node.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("stderr");
    }
    assert!(!status.success());
    assert!(
        stderr.contains(&format!(
            "cannot listen for consensus on /ip4/127.0.0.1/tcp/{port}"
        )),
        "{stderr}"
    );
    drop(taken);
}
