//! `scripts/testnet.sh`, as the README tells people to use it: the homes
//! `kpnode testnet` wrote are started one process each, agree on their
//! blocks, report through `status`, and `stop` ends every one.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kp_tests::{binary, client, write_testnet, PortBlock};

const VALIDATORS: u16 = 4;
/// Every wait in this test is bounded by this.
const WAIT_MAX: Duration = Duration::from_secs(60);

fn testnet_sh(command: &str, dir: &Path) -> Output {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/testnet.sh"))
        .arg(command)
        .arg(dir)
        .env("KPNODE", binary("kpnode"))
        .env("KP_PASSPHRASE", kp_tests::DEV_PASSPHRASE)
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/testnet.sh: {e}"))
}

/// Stops the testnet however the test ends.
struct Running<'a>(&'a Path);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = testnet_sh("stop", self.0);
    }
}

fn api(ports: &PortBlock, node: u16) -> String {
    format!("http://127.0.0.1:{}", ports.api(node))
}

#[test]
fn testnet_sh_starts_agreeing_nodes_reports_them_and_stops_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let ports = write_testnet(root, VALIDATORS).expect("kpnode testnet");

    let started = testnet_sh("start", root);
    let running = Running(root);
    let said = String::from_utf8_lossy(&started.stdout);
    assert!(
        started.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&started.stderr)
    );
    assert_eq!(
        said.matches(" started (pid ").count(),
        usize::from(VALIDATORS),
        "{said}"
    );

    // Every node reaches height 3 and they hold the same blocks.
    let deadline = Instant::now() + WAIT_MAX;
    for node in 0..VALIDATORS {
        loop {
            let height = client(&api(&ports, node))
                .status()
                .map(|s| s.height)
                .unwrap_or(0);
            if height >= 3 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node{node} stuck at height {height}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    for height in 1..=3 {
        let hashes: Vec<_> = (0..VALIDATORS)
            .map(|node| {
                client(&api(&ports, node))
                    .block(height)
                    .expect("block")
                    .hash
            })
            .collect();
        assert!(
            hashes.windows(2).all(|w| w[0] == w[1]),
            "height {height}: {hashes:?}"
        );
    }

    // A second start leaves the running nodes be; status reports each.
    let again = String::from_utf8_lossy(&testnet_sh("start", root).stdout).into_owned();
    assert_eq!(
        again.matches("already running").count(),
        usize::from(VALIDATORS),
        "{again}"
    );
    let status = String::from_utf8_lossy(&testnet_sh("status", root).stdout).into_owned();
    assert_eq!(
        status.matches("  height ").count(),
        usize::from(VALIDATORS),
        "{status}"
    );

    let stopped = testnet_sh("stop", root);
    assert!(stopped.status.success());
    let said = String::from_utf8_lossy(&stopped.stdout);
    assert_eq!(
        said.matches(" stopped").count(),
        usize::from(VALIDATORS),
        "{said}"
    );
    assert!(!said.contains("killed"), "SIGTERM was enough: {said}");
    let status = String::from_utf8_lossy(&testnet_sh("status", root).stdout).into_owned();
    assert_eq!(
        status.matches("  stopped").count(),
        usize::from(VALIDATORS),
        "{status}"
    );
    drop(running);
}
